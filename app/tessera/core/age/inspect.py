"""Check an age file completely without a key: what an importer can know.

:func:`check_envelope` parses the header and every stanza as its recipient type
requires (argument count and sizes, P-256 points on the curve, X25519 shares that are
not low-order points, the wrapped file key's size), matches each tagged stanza
(``piv-p256``, ``p256tag``, ``mlkem768p256tag``) to a recipient by its tag, checks that
the stanza types are exactly those of the recipients, and that the payload has the
shape of one STREAM chunk of a share-sized plaintext. Only the header MAC and the
payload's tags need the file key; everything else is refused here, at import, instead
of at the next drill or release.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from . import mlkem768x25519, piv_p256, tagged, x25519
from .b64 import decode_raw
from .errors import AgeHeaderError, AgePayloadError
from .header import parse_header
from .primitives import TAG_SIZE, check_wrapped_size
from .recipients import parse_recipient, stanza_type
from .stanza import Stanza
from .stream import CHUNK_SIZE, NONCE_SIZE

_X25519_SIZE = 32


def _not_low_order(share: bytes, what: str) -> None:
    # A low-order point gives the same all-zero secret for every key: the spec says
    # such a file must be refused, and no key could ever open it. Any key shows it.
    try:
        x25519._shared_secret(X25519PrivateKey.generate(), share)
    except AgeHeaderError:
        raise AgeHeaderError(f"{what} is a low-order point") from None


def _one_arg(stanza: Stanza, size: int, what: str) -> bytes:
    if len(stanza.args) != 1:
        raise AgeHeaderError(f"{stanza.type} stanza must have exactly one argument")
    value = decode_raw(stanza.args[0], what)
    if len(value) != size:
        raise AgeHeaderError(f"{what} must be {size} bytes")
    check_wrapped_size(stanza.body, stanza.type)
    return value


def _check_stanza(stanza: Stanza) -> bytes:
    """Parse one stanza as its type requires; returns what must differ between stanzas."""
    kind = stanza.type
    if kind == x25519.STANZA_TYPE:
        share = _one_arg(stanza, _X25519_SIZE, "X25519 share")
        _not_low_order(share, "X25519 share")
        return share
    if kind == mlkem768x25519.STANZA_TYPE:
        enc = _one_arg(stanza, mlkem768x25519.ENC_SIZE, "mlkem768x25519 encapsulated key")
        _not_low_order(enc[-_X25519_SIZE:], "mlkem768x25519 share's X25519 point")
        return enc
    if kind == piv_p256.STANZA_TYPE:
        return piv_p256._parse_stanza(stanza)[1]  # the type's own parser (tag, epk, point)
    if kind == tagged.P256TAG_STANZA:
        _tag, enc = tagged._parse(stanza, tagged._POINT)
        tagged._point(enc, "p256tag ephemeral key")
        return enc
    if kind == tagged.PQTAG_STANZA:
        _tag, enc = tagged._parse(stanza, tagged.PQTAG_ENC_SIZE)
        tagged._point(enc[-tagged._POINT:], "mlkem768p256tag ephemeral key")
        return enc
    raise AgeHeaderError(f"a {kind!r} stanza: Tessera does not wrap shares to that type")


def _no_key(*_args: object) -> bytes:
    raise AgeHeaderError("checking an envelope uses no key")


def _no_mlkem_key() -> mlkem.MLKEM768PrivateKey:
    raise AgeHeaderError("checking an envelope uses no key")


def _matcher(text: str) -> Callable[[Stanza], bool] | None:
    """How to recognise a tagged recipient's stanza (None: the type carries no tag)."""
    recipient = parse_recipient(text)
    if isinstance(recipient, piv_p256.PivP256Recipient):
        tag = recipient.tag
        return lambda s: (s.type == piv_p256.STANZA_TYPE
                          and piv_p256._parse_stanza(s)[0] == tag)
    if isinstance(recipient, tagged.P256TagRecipient):
        return tagged.P256TagIdentity(recipient.public_key, _no_key).matches
    if isinstance(recipient, tagged.MlKem768P256TagRecipient):
        point = recipient.public_key[-tagged._POINT:]
        return tagged.MlKem768P256TagIdentity(point, _no_key, _no_mlkem_key).matches
    return None


def check_envelope(data: bytes, recipients: Sequence[str], *,
                   max_plaintext: int = CHUNK_SIZE) -> None:
    """Refuse ``data`` unless it is a binary age file wrapped to exactly ``recipients``
    (one well-formed stanza each) with a payload of at most ``max_plaintext`` bytes."""
    header = parse_header(bytes(data))
    unique = [_check_stanza(stanza) for stanza in header.stanzas]
    if len(set(unique)) != len(unique):
        raise AgeHeaderError("two stanzas carry the same ephemeral key")
    have = sorted(s.type for s in header.stanzas)
    want = sorted(stanza_type(r) for r in recipients)
    if have != want:
        raise AgeHeaderError(f"it is wrapped to {len(have)} key(s) of type(s) "
                             f"{', '.join(have)}; its share's keys are {len(want)} "
                             f"({', '.join(want)})")
    for text in recipients:
        matches = _matcher(text)
        if matches is not None and not any(matches(s) for s in header.stanzas):
            raise AgeHeaderError(f"no stanza is tagged for the key {text[:16]}…")
    payload = len(data) - header.payload_offset
    if payload < NONCE_SIZE + TAG_SIZE + 1:
        raise AgePayloadError("the payload is missing or truncated")
    if payload > NONCE_SIZE + TAG_SIZE + max_plaintext:
        raise AgePayloadError(f"the payload is larger than the {max_plaintext} bytes a share "
                              "can take")
