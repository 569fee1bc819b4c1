"""RFC 9180 HPKE pieces the tagged recipient types need, where the private key is on a card.

``cryptography``'s HPKE wants the private key as an object, but a YubiKey only gives
back an ECDH result. So the tagged types (c2sp.org/age, p256tag and mlkem768p256tag)
run the KEM themselves and use this module for what follows: DHKEM(P-256)'s
ExtractAndExpand, and the base-mode key schedule with HKDF-SHA256 and
ChaCha20-Poly1305, sealing or opening one message (sequence number 0).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

KEM_DHKEM_P256 = 0x0010
KEM_MLKEM768_P256 = 0x0050
_KDF_HKDF_SHA256 = 0x0001
_AEAD_CHACHA20_POLY1305 = 0x0003
_VERSION = b"HPKE-v1"


def extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract-SHA-256 (an empty salt is 32 zero bytes, RFC 5869)."""
    mac = hmac.HMAC(salt or bytes(32), hashes.SHA256())
    mac.update(ikm)
    return mac.finalize()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return extract(salt, _VERSION + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return _expand(prk, length.to_bytes(2, "big") + _VERSION + suite + label + info, length)


def dhkem_p256_shared_secret(dh: bytes, enc: bytes, recipient_uncompressed: bytes) -> bytes:
    """DHKEM(P-256, HKDF-SHA256) ExtractAndExpand of an ECDH x coordinate (RFC 9180 §4.1)."""
    suite = b"KEM" + KEM_DHKEM_P256.to_bytes(2, "big")
    prk = _labeled_extract(suite, b"", b"eae_prk", dh)
    return _labeled_expand(suite, prk, b"shared_secret", enc + recipient_uncompressed, 32)


def _key_and_nonce(kem_id: int, shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    suite = (b"HPKE" + kem_id.to_bytes(2, "big") + _KDF_HKDF_SHA256.to_bytes(2, "big")
             + _AEAD_CHACHA20_POLY1305.to_bytes(2, "big"))
    psk_id_hash = _labeled_extract(suite, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(suite, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash  # mode_base
    secret = _labeled_extract(suite, shared_secret, b"secret", b"")
    return (_labeled_expand(suite, secret, b"key", context, 32),
            _labeled_expand(suite, secret, b"base_nonce", context, 12))


def seal(kem_id: int, shared_secret: bytes, info: bytes, plaintext: bytes) -> bytes:
    """Base-mode HPKE Seal of one message, empty AAD."""
    key, nonce = _key_and_nonce(kem_id, shared_secret, info)
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, b"")


def open_sealed(kem_id: int, shared_secret: bytes, info: bytes, ciphertext: bytes) -> bytes | None:
    """Base-mode HPKE Open of one message; None when it does not authenticate."""
    key, nonce = _key_and_nonce(kem_id, shared_secret, info)
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, b"")
    except InvalidTag:
        return None
