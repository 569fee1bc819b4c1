"""The post-quantum hybrid recipient type ``mlkem768x25519`` (``age1pq1…`` / ``AGE-SECRET-KEY-PQ-1…``).

c2sp.org/age: the identity is a 32-byte seed; the file key is sealed with HPKE
(RFC 9180) SealBase using the MLKEM768-X25519 KEM (X-Wing, draft-ietf-hpke-pq),
HKDF-SHA256 and ChaCha20-Poly1305, ``info = "age-encryption.org/mlkem768x25519"``.
Anyone holding a copy of the envelope needs to break both ML-KEM-768 and X25519 to
open it without the identity, so a future quantum computer alone is not enough.

The HPKE and ML-KEM code is ``cryptography``'s (OpenSSL); this module expands the
seed as the KEM specifies, checks the stanza as the age spec requires, and refuses a
low-order X25519 share before HPKE sees it. HPKE draws the encapsulation randomness
itself (``cryptography`` has no deterministic encapsulation), so ``rng`` only
reaches key generation and the file key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import bech32
from .b64 import decode_raw, encode_raw
from .errors import AgeHeaderError, AgeKeyError
from .primitives import FILE_KEY_SIZE, check_wrapped_size
from .stanza import Rng, Stanza

STANZA_TYPE = "mlkem768x25519"
RECIPIENT_HRP = "age1pq"
IDENTITY_HRP = "AGE-SECRET-KEY-PQ-"
INFO = b"age-encryption.org/mlkem768x25519"
SEED_SIZE = 32
_MLKEM_PUBLIC_SIZE = 1184
_MLKEM_CIPHERTEXT_SIZE = 1088
_X25519_SIZE = 32
PUBLIC_KEY_SIZE = _MLKEM_PUBLIC_SIZE + _X25519_SIZE  # 1216
ENC_SIZE = _MLKEM_CIPHERTEXT_SIZE + _X25519_SIZE  # 1120
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def _expand_seed(seed: bytes) -> tuple[mlkem.MLKEM768PrivateKey, X25519PrivateKey]:
    # X-Wing's expandDecapsulationKey: SHAKE256(seed, 96) = ML-KEM (d ‖ z) ‖ X25519 key.
    expanded = hashlib.shake_256(seed).digest(96)
    ml_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    x_key = X25519PrivateKey.from_private_bytes(expanded[64:])
    return ml_key, x_key


def _split_public(public_key: bytes) -> hpke.MLKEM768X25519PublicKey:
    try:
        ml_public = mlkem.MLKEM768PublicKey.from_public_bytes(public_key[:_MLKEM_PUBLIC_SIZE])
        x_public = X25519PublicKey.from_public_bytes(public_key[_MLKEM_PUBLIC_SIZE:])
    except ValueError:
        raise AgeKeyError("not a valid ML-KEM-768 + X25519 public key") from None
    return hpke.MLKEM768X25519PublicKey(ml_public, x_public)


@dataclass(frozen=True)
class MlKem768X25519Recipient:
    """A hybrid public key (1216 bytes: ML-KEM-768 key ‖ X25519 key) files can be encrypted to."""

    public_key: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_key", bytes(self.public_key))
        if len(self.public_key) != PUBLIC_KEY_SIZE:
            raise AgeKeyError(f"an mlkem768x25519 recipient is {PUBLIC_KEY_SIZE} bytes")
        _split_public(self.public_key)

    @classmethod
    def from_string(cls, text: str) -> MlKem768X25519Recipient:
        """Parse an ``age1pq1…`` recipient (lowercase, as age-keygen -pq prints it)."""
        hrp, data = bech32.decode(text)
        if hrp != RECIPIENT_HRP:
            raise AgeKeyError("not an age post-quantum recipient (expected age1pq1…)")
        return cls(data)

    def to_string(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self.public_key)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        sealed = _SUITE.encrypt(bytes(file_key), _split_public(self.public_key), info=INFO)
        enc, body = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
        return [Stanza(STANZA_TYPE, (encode_raw(enc),), body)]


class MlKem768X25519Identity:
    """A hybrid identity: the 32-byte seed both key halves expand from; its repr hides it."""

    __slots__ = ("_private", "_recipient", "_seed", "_x_key")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise AgeKeyError(f"an mlkem768x25519 identity is a {SEED_SIZE}-byte seed")
        self._seed = bytes(seed)
        ml_key, x_key = _expand_seed(self._seed)
        self._x_key = x_key
        self._private = hpke.MLKEM768X25519PrivateKey(ml_key, x_key)
        public = ml_key.public_key().public_bytes_raw() + x_key.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw
        )
        self._recipient = MlKem768X25519Recipient(public)

    @classmethod
    def generate(cls, rng: Rng) -> MlKem768X25519Identity:
        seed = rng(SEED_SIZE)
        if len(seed) != SEED_SIZE:
            raise ValueError(f"the random source returned {len(seed)} bytes, expected 32")
        return cls(seed)

    @classmethod
    def from_string(cls, text: str) -> MlKem768X25519Identity:
        """Parse an ``AGE-SECRET-KEY-PQ-1…`` identity (uppercase, as age-keygen -pq prints it)."""
        hrp, data = bech32.decode(text)
        if hrp != IDENTITY_HRP:
            raise AgeKeyError("not an age post-quantum secret key (expected AGE-SECRET-KEY-PQ-1…)")
        return cls(data)

    def to_string(self) -> str:
        return bech32.encode(IDENTITY_HRP, self._seed)

    def seed_bytes(self) -> bytes:
        return self._seed

    @property
    def recipient(self) -> MlKem768X25519Recipient:
        return self._recipient

    def _check_x25519_share(self, share: bytes) -> None:
        # The spec's rule for X25519 holds for the hybrid's X25519 half too (testkit
        # hybrid_low_order, hybrid_identity): an all-zero shared secret is refused.
        try:
            shared = self._x_key.exchange(X25519PublicKey.from_public_bytes(share))
        except ValueError:
            shared = bytes(_X25519_SIZE)
        if shared == bytes(_X25519_SIZE):
            raise AgeHeaderError("mlkem768x25519 share has a low-order X25519 point")

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 1:
                raise AgeHeaderError("mlkem768x25519 stanza must have exactly two arguments")
            enc = decode_raw(stanza.args[0], "mlkem768x25519 encapsulated key")
            if len(enc) != ENC_SIZE:
                raise AgeHeaderError(f"mlkem768x25519 encapsulated key must be {ENC_SIZE} bytes")
            check_wrapped_size(stanza.body, STANZA_TYPE)
            self._check_x25519_share(enc[_MLKEM_CIPHERTEXT_SIZE:])
            try:
                file_key = _SUITE.decrypt(enc + stanza.body, self._private, info=INFO)
            except InvalidTag:
                continue
            if len(file_key) != FILE_KEY_SIZE:
                raise AgeHeaderError("the unwrapped file key must be 16 bytes")
            return file_key
        return None

    def __repr__(self) -> str:
        return f"MlKem768X25519Identity(recipient={self._recipient.to_string()[:24]!r}…)"
