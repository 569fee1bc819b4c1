"""The payload: the recovery secret, encrypted under a key derived from the DEK.

key = HKDF-SHA256(ikm = DEK, salt = record id (UTF-8), info = "tessera/payload/v1", 32)
ciphertext = AES-256-GCM(key, nonce = manifest.payload.nonce, plaintext,
                         aad = SHA-256(canonical manifest))
A changed manifest (or record id, or nonce) makes decryption fail.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tessera.core.errors import IntegrityError
from tessera.core.manifest import Manifest

PAYLOAD_INFO = b"tessera/payload/v1"
DEK_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16


def payload_key(dek: bytes | bytearray, record_id: str) -> bytes:
    if len(dek) != DEK_SIZE:
        raise ValueError("the data key must be 32 bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=record_id.encode("utf-8"),
                info=PAYLOAD_INFO)
    return hkdf.derive(bytes(dek))


def encrypt_payload(dek: bytes | bytearray, manifest: Manifest, plaintext: bytes | bytearray) -> bytes:
    if len(plaintext) != manifest.payload_size:
        raise ValueError("the manifest's payload size does not match the secret")
    key = payload_key(dek, manifest.record_id)
    return AESGCM(key).encrypt(manifest.payload_nonce, bytes(plaintext), manifest.digest)


def decrypt_payload(dek: bytes | bytearray, manifest: Manifest, ciphertext: bytes) -> bytearray:
    """Decrypt into a ``bytearray`` the caller wipes after use."""
    if len(ciphertext) != manifest.payload_size + TAG_SIZE:
        raise IntegrityError("the payload ciphertext has the wrong length for this manifest")
    key = payload_key(dek, manifest.record_id)
    try:
        return bytearray(AESGCM(key).decrypt(manifest.payload_nonce, ciphertext, manifest.digest))
    except InvalidTag:
        raise IntegrityError(
            "the payload does not decrypt: the ciphertext or the manifest was changed, "
            "or the shares belong to another version") from None
