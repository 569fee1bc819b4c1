"""The native X25519 recipient type (``age1…`` / ``AGE-SECRET-KEY-1…``).

Also the recipient type of Tessera's FIDO2 tokens, whose X25519 identity is derived
from the PRF output.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from . import bech32
from .b64 import decode_raw, encode_raw
from .errors import AgeHeaderError, AgeKeyError
from .primitives import check_wrapped_size, hkdf_sha256, open_file_key, seal_file_key
from .stanza import Rng, Stanza

STANZA_TYPE = "X25519"
RECIPIENT_HRP = "age"
IDENTITY_HRP = "AGE-SECRET-KEY-"
_KEY_SIZE = 32
_INFO = b"age-encryption.org/v1/X25519"


def _shared_secret(private: X25519PrivateKey, public: bytes) -> bytes:
    # A low-order share gives an all-zero secret; the spec says abort, since the
    # "encryption" would then be to a key anyone knows.
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:
        shared = bytes(_KEY_SIZE)
    if shared == bytes(_KEY_SIZE):
        raise AgeHeaderError("X25519 share is a low-order point")
    return shared


@dataclass(frozen=True)
class X25519Recipient:
    """An X25519 public key files can be encrypted to."""

    public_bytes: bytes
    rng: Rng = field(default=os.urandom, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.public_bytes) != _KEY_SIZE:
            raise AgeKeyError("an X25519 public key is 32 bytes")

    @classmethod
    def from_public_bytes(cls, public_bytes: bytes, *, rng: Rng = os.urandom) -> X25519Recipient:
        return cls(bytes(public_bytes), rng)

    @classmethod
    def from_string(cls, text: str, *, rng: Rng = os.urandom) -> X25519Recipient:
        """Parse an ``age1…`` recipient (lowercase, as age-keygen prints it)."""
        hrp, data = bech32.decode(text)
        if hrp != RECIPIENT_HRP:
            raise AgeKeyError("not an age X25519 recipient (expected age1…)")
        return cls(data, rng)

    def to_string(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self.public_bytes)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        ephemeral = X25519PrivateKey.from_private_bytes(self.rng(_KEY_SIZE))
        share = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        shared = _shared_secret(ephemeral, self.public_bytes)
        wrap_key = hkdf_sha256(shared, share + self.public_bytes, _INFO)
        return [Stanza(STANZA_TYPE, (encode_raw(share),), seal_file_key(wrap_key, file_key))]


class X25519Identity:
    """An X25519 secret key; its repr never shows the key."""

    __slots__ = ("_key", "_recipient")

    def __init__(self, key: X25519PrivateKey) -> None:
        self._key = key
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._recipient = X25519Recipient(public)

    @classmethod
    def generate(cls, rng: Rng = os.urandom) -> X25519Identity:
        return cls.from_private_bytes(rng(_KEY_SIZE))

    @classmethod
    def from_private_bytes(cls, private_bytes: bytes) -> X25519Identity:
        if len(private_bytes) != _KEY_SIZE:
            raise AgeKeyError("an X25519 secret key is 32 bytes")
        return cls(X25519PrivateKey.from_private_bytes(bytes(private_bytes)))

    @classmethod
    def from_string(cls, text: str) -> X25519Identity:
        """Parse an ``AGE-SECRET-KEY-1…`` identity (uppercase, as age-keygen prints it)."""
        hrp, data = bech32.decode(text)
        if hrp != IDENTITY_HRP:
            raise AgeKeyError("not an age secret key (expected AGE-SECRET-KEY-1…)")
        return cls.from_private_bytes(data)

    def to_string(self) -> str:
        return bech32.encode(IDENTITY_HRP, self.private_bytes())

    def private_bytes(self) -> bytes:
        return self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    @property
    def recipient(self) -> X25519Recipient:
        return self._recipient

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        own_public = self._recipient.public_bytes
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 1:
                raise AgeHeaderError("X25519 stanza must have exactly one argument")
            share = decode_raw(stanza.args[0], "X25519 share")
            if len(share) != _KEY_SIZE:
                raise AgeHeaderError("X25519 share must be 32 bytes")
            check_wrapped_size(stanza.body, STANZA_TYPE)
            shared = _shared_secret(self._key, share)
            wrap_key = hkdf_sha256(shared, share + own_public, _INFO)
            file_key = open_file_key(wrap_key, stanza.body)
            if file_key is not None:
                return file_key
        return None

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={self._recipient.to_string()!r})"
