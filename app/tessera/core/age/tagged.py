"""The tagged recipient types for hardware keys (c2sp.org/age): ``p256tag`` and ``mlkem768p256tag``.

``age1tag1…`` is a P-256 key (33-byte compressed point), wrapped with HPKE
DHKEM(P-256); ``age1tagpq1…`` is an ML-KEM-768 encapsulation key ‖ an uncompressed
P-256 point (1249 bytes), wrapped with the MLKEM768-P256 hybrid KEM of
draft-ietf-hpke-pq. Either way HKDF-SHA256 and ChaCha20-Poly1305, and a 4-byte tag in
the stanza so a card is only asked for stanzas addressed to its key.

MLKEM768-P256 (as the age authors' implementation computes it): enc = ML-KEM
ciphertext ‖ ephemeral uncompressed P-256 point (1153 bytes), shared secret =
SHA3-256(ML-KEM secret ‖ ECDH x ‖ ephemeral point ‖ recipient point ‖ "MLKEM768-P256").

The identities take the P-256 ECDH as a callback (a PIV card's GENERAL AUTHENTICATE)
and, for the hybrid, the ML-KEM decapsulation key as a callback too: Tessera keeps it
in a PIN-protected data object on the same YubiKey (docs/TOKENS.md), read only when a
stanza with this key's tag is there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec, mlkem
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import bech32, hpke
from .b64 import decode_raw, encode_raw
from .errors import AgeHeaderError, AgeKeyError
from .piv_p256 import Ecdh, compress_point, ephemeral_key
from .primitives import FILE_KEY_SIZE, check_wrapped_size
from .stanza import Rng, Stanza

P256TAG_STANZA = "p256tag"
P256TAG_HRP = "age1tag"
PQTAG_STANZA = "mlkem768p256tag"
PQTAG_HRP = "age1tagpq"
_P256TAG_INFO = b"age-encryption.org/p256tag"
_PQTAG_INFO = b"age-encryption.org/mlkem768p256tag"
_HYBRID_LABEL = b"MLKEM768-P256"
_TAG_SIZE = 4
_POINT = 65
_MLKEM_PUBLIC = 1184
_MLKEM_CT = 1088
PQTAG_RECIPIENT_SIZE = _MLKEM_PUBLIC + _POINT  # 1249
PQTAG_ENC_SIZE = _MLKEM_CT + _POINT  # 1153

MlKemKey = Callable[[], mlkem.MLKEM768PrivateKey]
"""Return the ML-KEM-768 decapsulation key (may ask for a PIN); called only when needed."""


def _uncompressed(point: ec.EllipticCurvePublicKey) -> bytes:
    return point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _point(encoded: bytes, what: str) -> ec.EllipticCurvePublicKey:
    if len(encoded) != _POINT or encoded[0] != 4:
        raise AgeHeaderError(f"{what} must be an uncompressed P-256 point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), encoded)
    except ValueError:
        raise AgeHeaderError(f"{what} is not a valid P-256 point") from None


def _tag(enc: bytes, key_hash: bytes, info: bytes) -> bytes:
    return hpke.extract(info, enc + key_hash[:_TAG_SIZE])[:_TAG_SIZE]


def _hybrid_secret(ml_secret: bytes, dh: bytes, epk: bytes, pk: bytes) -> bytes:
    return hashlib.sha3_256(ml_secret + dh + epk + pk + _HYBRID_LABEL).digest()


def _ecdh(private: ec.EllipticCurvePrivateKey, public: bytes) -> bytes:
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    return private.exchange(ec.ECDH(), peer)


@dataclass(frozen=True)
class P256TagRecipient:
    """A P-256 hardware key (``age1tag1…``, 33-byte compressed point)."""

    public_key: bytes
    rng: Rng = field(default=os.urandom, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.public_key) != 33 or compress_point(self.public_key) != self.public_key:
            raise AgeKeyError("a p256tag recipient is a 33-byte compressed P-256 point")

    @classmethod
    def from_string(cls, text: str, *, rng: Rng = os.urandom) -> P256TagRecipient:
        hrp, data = bech32.decode(text)
        if hrp != P256TAG_HRP:
            raise AgeKeyError("not a tagged P-256 recipient (expected age1tag1…)")
        return cls(data, rng)

    def to_string(self) -> str:
        return bech32.encode(P256TAG_HRP, self.public_key)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        ephemeral = ephemeral_key(self.rng)
        enc = _uncompressed(ephemeral.public_key())
        pk = _uncompressed(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                                       self.public_key))
        secret = hpke.dhkem_p256_shared_secret(_ecdh(ephemeral, pk), enc, pk)
        body = hpke.seal(hpke.KEM_DHKEM_P256, secret, _P256TAG_INFO, bytes(file_key))
        tag = _tag(enc, hashlib.sha256(self.public_key).digest(), _P256TAG_INFO)
        return [Stanza(P256TAG_STANZA, (encode_raw(tag), encode_raw(enc)), body)]


@dataclass(frozen=True)
class MlKem768P256TagRecipient:
    """A post-quantum hybrid hardware key (``age1tagpq1…``: ML-KEM-768 key ‖ P-256 point)."""

    public_key: bytes
    rng: Rng = field(default=os.urandom, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_key", bytes(self.public_key))
        if len(self.public_key) != PQTAG_RECIPIENT_SIZE:
            raise AgeKeyError(f"an mlkem768p256tag recipient is {PQTAG_RECIPIENT_SIZE} bytes")
        try:
            mlkem.MLKEM768PublicKey.from_public_bytes(self.public_key[:_MLKEM_PUBLIC])
            _point(self.public_key[_MLKEM_PUBLIC:], "the recipient's P-256 key")
        except (ValueError, AgeHeaderError):
            raise AgeKeyError("not a valid ML-KEM-768 + P-256 public key") from None

    @classmethod
    def from_parts(cls, ml_public: bytes, p256_point: bytes,
                   *, rng: Rng = os.urandom) -> MlKem768P256TagRecipient:
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256_point)
        return cls(bytes(ml_public) + _uncompressed(point), rng)

    @classmethod
    def from_string(cls, text: str, *, rng: Rng = os.urandom) -> MlKem768P256TagRecipient:
        hrp, data = bech32.decode(text)
        if hrp != PQTAG_HRP:
            raise AgeKeyError("not a tagged post-quantum recipient (expected age1tagpq1…)")
        return cls(data, rng)

    def to_string(self) -> str:
        return bech32.encode(PQTAG_HRP, self.public_key)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        ml_public = mlkem.MLKEM768PublicKey.from_public_bytes(self.public_key[:_MLKEM_PUBLIC])
        ml_secret, ml_ct = ml_public.encapsulate()
        pk = self.public_key[_MLKEM_PUBLIC:]
        ephemeral = ephemeral_key(self.rng)
        epk = _uncompressed(ephemeral.public_key())
        secret = _hybrid_secret(ml_secret, _ecdh(ephemeral, pk), epk, pk)
        enc = ml_ct + epk
        body = hpke.seal(hpke.KEM_MLKEM768_P256, secret, _PQTAG_INFO, bytes(file_key))
        tag = _tag(enc, hashlib.sha256(pk).digest(), _PQTAG_INFO)
        return [Stanza(PQTAG_STANZA, (encode_raw(tag), encode_raw(enc)), body)]


def _parse(stanza: Stanza, enc_size: int) -> tuple[bytes, bytes]:
    if len(stanza.args) != 2:
        raise AgeHeaderError(f"{stanza.type} stanza must have exactly three arguments")
    tag = decode_raw(stanza.args[0], f"{stanza.type} tag")
    if len(tag) != _TAG_SIZE:
        raise AgeHeaderError(f"{stanza.type} tag must be 4 bytes")
    enc = decode_raw(stanza.args[1], f"{stanza.type} encapsulated key")
    if len(enc) != enc_size:
        raise AgeHeaderError(f"{stanza.type} encapsulated key must be {enc_size} bytes")
    check_wrapped_size(stanza.body, stanza.type)
    return tag, enc


def _file_key(opened: bytes | None) -> bytes | None:
    if opened is not None and len(opened) != FILE_KEY_SIZE:
        raise AgeHeaderError("the unwrapped file key must be 16 bytes")
    return opened


class P256TagIdentity:
    """A P-256 key held on a card; opens ``p256tag`` stanzas through ``ecdh``."""

    __slots__ = ("_ecdh", "_public_key")

    def __init__(self, public_key: bytes, ecdh: Ecdh) -> None:
        self._public_key = compress_point(public_key)
        self._ecdh = ecdh

    @property
    def recipient(self) -> P256TagRecipient:
        return P256TagRecipient(self._public_key)

    def matches(self, stanza: Stanza) -> bool:
        """True for a well-formed p256tag stanza with this key's tag (no card needed)."""
        if stanza.type != P256TAG_STANZA:
            return False
        tag, enc = _parse(stanza, _POINT)
        return tag == _tag(enc, hashlib.sha256(self._public_key).digest(), _P256TAG_INFO)

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        pk = _uncompressed(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                                       self._public_key))
        for stanza in stanzas:
            if not self.matches(stanza):
                continue
            enc = decode_raw(stanza.args[1], "p256tag encapsulated key")
            _point(enc, "p256tag encapsulated key")
            secret = hpke.dhkem_p256_shared_secret(bytes(self._ecdh(enc)), enc, pk)
            opened = _file_key(hpke.open_sealed(hpke.KEM_DHKEM_P256, secret, _P256TAG_INFO,
                                                stanza.body))
            if opened is not None:
                return opened
        return None


class MlKem768P256TagIdentity:
    """A hybrid key: P-256 on a card (``ecdh``), ML-KEM-768 from ``mlkem_key`` (e.g. a
    PIN-protected object on the same card); opens ``mlkem768p256tag`` stanzas."""

    __slots__ = ("_ecdh", "_mlkem_key", "_point")

    def __init__(self, public_key: bytes, ecdh: Ecdh, mlkem_key: MlKemKey) -> None:
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                             compress_point(public_key))
        self._point = _uncompressed(point)
        self._ecdh = ecdh
        self._mlkem_key = mlkem_key

    def matches(self, stanza: Stanza) -> bool:
        """True for a well-formed mlkem768p256tag stanza with this key's tag."""
        if stanza.type != PQTAG_STANZA:
            return False
        tag, enc = _parse(stanza, PQTAG_ENC_SIZE)
        return tag == _tag(enc, hashlib.sha256(self._point).digest(), _PQTAG_INFO)

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if not self.matches(stanza):
                continue
            enc = decode_raw(stanza.args[1], "mlkem768p256tag encapsulated key")
            epk = enc[_MLKEM_CT:]
            _point(epk, "mlkem768p256tag ephemeral key")
            ml_secret = self._mlkem_key().decapsulate(enc[:_MLKEM_CT])
            secret = _hybrid_secret(ml_secret, bytes(self._ecdh(epk)), epk, self._point)
            opened = _file_key(hpke.open_sealed(hpke.KEM_MLKEM768_P256, secret, _PQTAG_INFO,
                                                stanza.body))
            if opened is not None:
                return opened
        return None
