"""The ``piv-p256`` recipient type of age-plugin-yubikey (c2sp.org/age-piv-p256).

The stanza carries a 4-byte tag of the recipient, so an identity can skip stanzas
for other keys without asking the card (and the custodian's touch) for anything.
The identity's ECDH runs wherever the key lives: a PIV card's GENERAL AUTHENTICATE,
or a software key in tests.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import bech32
from .b64 import decode_raw, encode_raw
from .errors import AgeHeaderError, AgeKeyError
from .primitives import check_wrapped_size, hkdf_sha256, open_file_key, seal_file_key
from .stanza import Rng, Stanza

STANZA_TYPE = "piv-p256"
RECIPIENT_HRP = "age1yubikey"
_INFO = b"piv-p256"
_TAG_SIZE = 4
_COMPRESSED_SIZE = 33
_UNCOMPRESSED_SIZE = 65
_SECRET_SIZE = 32
_CURVE_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

Ecdh = Callable[[bytes], bytes]
"""Given a 65-byte uncompressed SEC1 point, return the 32-byte ECDH x coordinate."""


def _load_point(encoded: bytes) -> ec.EllipticCurvePublicKey:
    if len(encoded) not in (_COMPRESSED_SIZE, _UNCOMPRESSED_SIZE):
        raise ValueError("wrong length for a P-256 point")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), encoded)


def compress_point(encoded: bytes) -> bytes:
    """Normalize a SEC1 P-256 point (33 or 65 bytes) to its 33-byte compressed form."""
    try:
        point = _load_point(bytes(encoded))
    except ValueError:
        raise AgeKeyError("not a valid P-256 public key") from None
    return point.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


def recipient_tag(compressed: bytes) -> bytes:
    """The stanza tag: the first 4 bytes of SHA-256 of the compressed public key."""
    return hashlib.sha256(compressed).digest()[:_TAG_SIZE]


def _wrap_key(shared_x: bytes, epk: bytes, public_key: bytes) -> bytes:
    return hkdf_sha256(shared_x, epk + public_key, _INFO)


def ephemeral_key(rng: Rng) -> ec.EllipticCurvePrivateKey:
    # Rejection sampling keeps the scalar uniform in [1, n-1] for any byte source.
    while True:
        scalar = int.from_bytes(rng(32), "big")
        if 0 < scalar < _CURVE_ORDER:
            return ec.derive_private_key(scalar, ec.SECP256R1())


@dataclass(frozen=True)
class PivP256Recipient:
    """A YubiKey PIV P-256 key (``age1yubikey1…``) files can be encrypted to."""

    public_key: bytes
    rng: Rng = field(default=os.urandom, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (
            len(self.public_key) != _COMPRESSED_SIZE
            or compress_point(self.public_key) != self.public_key
        ):
            raise AgeKeyError("a piv-p256 recipient is a 33-byte compressed P-256 point")

    @classmethod
    def from_public_key(cls, sec1_point: bytes, *, rng: Rng = os.urandom) -> PivP256Recipient:
        """From a SEC1 point: 33-byte compressed, or 65-byte uncompressed as a card returns it."""
        return cls(compress_point(sec1_point), rng)

    @classmethod
    def from_string(cls, text: str, *, rng: Rng = os.urandom) -> PivP256Recipient:
        hrp, data = bech32.decode(text)
        if hrp != RECIPIENT_HRP:
            raise AgeKeyError("not an age-plugin-yubikey recipient (expected age1yubikey1…)")
        return cls(data, rng)

    def to_string(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self.public_key)

    @property
    def tag(self) -> bytes:
        return recipient_tag(self.public_key)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        ephemeral = ephemeral_key(self.rng)
        epk = ephemeral.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        shared = ephemeral.exchange(ec.ECDH(), _load_point(self.public_key))
        body = seal_file_key(_wrap_key(shared, epk, self.public_key), file_key)
        return [Stanza(STANZA_TYPE, (encode_raw(self.tag), encode_raw(epk)), body)]


class PivP256Identity:
    """A P-256 key held elsewhere (a PIV slot), reached through an ``ecdh`` callback.

    ``ecdh`` is called only for a well-formed piv-p256 stanza whose tag matches this
    key; exceptions it raises (wrong PIN, no touch, card removed) propagate unchanged.
    """

    __slots__ = ("_ecdh", "_public_key")

    def __init__(self, public_key: bytes, ecdh: Ecdh) -> None:
        self._public_key = compress_point(public_key)
        self._ecdh = ecdh

    @property
    def public_key(self) -> bytes:
        return self._public_key

    @property
    def tag(self) -> bytes:
        return recipient_tag(self._public_key)

    @property
    def recipient(self) -> PivP256Recipient:
        return PivP256Recipient(self._public_key)

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            tag, epk, epk_point = _parse_stanza(stanza)
            if tag != self.tag:
                continue
            shared = self._ecdh(
                epk_point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
            )
            if len(shared) != _SECRET_SIZE:
                raise ValueError("the ECDH callback must return the 32-byte shared x coordinate")
            file_key = open_file_key(_wrap_key(bytes(shared), epk, self._public_key), stanza.body)
            if file_key is not None:
                return file_key
        return None

    def __repr__(self) -> str:
        return f"PivP256Identity(recipient={self.recipient.to_string()!r})"


def _parse_stanza(stanza: Stanza) -> tuple[bytes, bytes, ec.EllipticCurvePublicKey]:
    if len(stanza.args) != 2:
        raise AgeHeaderError("piv-p256 stanza must have exactly two arguments")
    tag = decode_raw(stanza.args[0], "piv-p256 tag")
    if len(tag) != _TAG_SIZE:
        raise AgeHeaderError("piv-p256 tag must be 4 bytes")
    epk = decode_raw(stanza.args[1], "piv-p256 ephemeral key")
    if len(epk) != _COMPRESSED_SIZE:
        raise AgeHeaderError("piv-p256 ephemeral key must be a 33-byte compressed point")
    try:
        point = _load_point(epk)
    except ValueError:
        raise AgeHeaderError("piv-p256 ephemeral key is not a valid P-256 point") from None
    check_wrapped_size(stanza.body, STANZA_TYPE)
    return tag, epk, point
