"""The primitives shared by the native stanza types: HKDF-SHA-256 and file-key AEAD."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import AgeHeaderError

FILE_KEY_SIZE = 16
TAG_SIZE = 16
WRAPPED_FILE_KEY_SIZE = FILE_KEY_SIZE + TAG_SIZE
_ZERO_NONCE = bytes(12)


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA-256 with a 32-byte output, as every age key derivation uses."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def seal_file_key(wrap_key: bytes, file_key: bytes) -> bytes:
    """Encrypt the file key under ``wrap_key`` with ChaCha20-Poly1305 and a zero nonce."""
    return ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)


def check_wrapped_size(body: bytes, stanza_type: str) -> None:
    """Reject a stanza body that is not exactly a wrapped 16-byte file key.

    The spec requires this before decryption, to close partitioning-oracle attacks.
    """
    if len(body) != WRAPPED_FILE_KEY_SIZE:
        raise AgeHeaderError(f"{stanza_type} stanza body must be {WRAPPED_FILE_KEY_SIZE} bytes")


def open_file_key(wrap_key: bytes, body: bytes) -> bytes | None:
    """Decrypt a wrapped file key; None when the tag does not verify (not our stanza)."""
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None
