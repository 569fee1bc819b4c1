"""The cryptography a virtual PIV card performs: management-key blocks and P-256 keys."""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from yubikit.piv import MANAGEMENT_KEY_TYPE


def _cipher(key_type: MANAGEMENT_KEY_TYPE, key: bytes) -> Cipher[modes.ECB]:
    algorithm = TripleDES(key) if key_type == MANAGEMENT_KEY_TYPE.TDES else algorithms.AES(key)
    # PIV mutual authentication encrypts exactly one block (SP 800-73-4 §A.1): ECB is the
    # protocol, not a choice, and nothing longer than a block is ever encrypted with it.
    return Cipher(algorithm, modes.ECB())  # noqa: S305


def encrypt_block(key_type: MANAGEMENT_KEY_TYPE, key: bytes, block: bytes) -> bytes:
    encryptor = _cipher(key_type, key).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def decrypt_block(key_type: MANAGEMENT_KEY_TYPE, key: bytes, block: bytes) -> bytes:
    decryptor = _cipher(key_type, key).decryptor()
    return decryptor.update(block) + decryptor.finalize()


def p256_private_key(private_value: int) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(private_value, ec.SECP256R1())


def p256_public_point(private_value: int) -> bytes:
    """The 65-byte uncompressed SEC1 point, as PIV returns it in tag 0x86."""
    return (
        p256_private_key(private_value)
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )


def p256_sign_digest(private_value: int, digest: bytes) -> bytes:
    """ECDSA over a 32-byte digest the host already computed; DER signature."""
    return p256_private_key(private_value).sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def p256_ecdh(private_value: int, peer_point: bytes) -> bytes:
    """ECDH with an uncompressed peer point; the shared secret is the x coordinate."""
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer_point)
    return p256_private_key(private_value).exchange(ec.ECDH(), peer)
