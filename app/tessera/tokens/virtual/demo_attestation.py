"""Attestation for the virtual keys (PIV ATTEST, FIDO2 packed), under Tessera's DEMO CA.

DEMO ONLY. The private key below is public (it is in the source); it exists so that
virtual YubiKeys can answer ATTEST (INS 0xF9) and hold an F9 certificate exactly as a
real card does, so the attestation code path is exercised end to end. Its certificate
(``resources/attestation/tessera-demo-attestation-ca.pem``) is trusted only by demo
vaults: anyone can sign with this key, so a chain ending here proves nothing.

Each virtual card's attestation (F9) key is derived from the demo CA key and the
card's serial, so a card keeps the same F9 key and certificate across sessions. The
virtual FIDO2 keys share one batch attestation key per AAGUID, as real keys of one
model do.
"""

from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEMO_CA_PRIVATE_KEY_PEM = b"""-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRLVbxcsqUwH9R2qL
0MAKno9gH9LQOLMt90J2aOFOEw+hRANCAASPcYhaolXznM6Ur1RJmSLrYmoif8DA
6TmnkVL1iX+ZynWS8iLybEizJWiC8lSHJW2sbuvygmxGgIyazCHwPLwG
-----END PRIVATE KEY-----
"""  # DEMO ONLY: public on purpose (see the module docstring)
DEMO_CA_NAME = "Tessera DEMO attestation CA - virtual keys only, never trust"
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
_START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
_END = datetime.datetime(2099, 12, 31, tzinfo=datetime.UTC)


def _demo_ca_key() -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(DEMO_CA_PRIVATE_KEY_PEM, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # noqa: S101 (a constant above)
    return key


def _f9_key(serial: int) -> ec.EllipticCurvePrivateKey:
    seed = hashlib.sha256(b"tessera/virtual-piv-f9/v1" + DEMO_CA_PRIVATE_KEY_PEM
                          + serial.to_bytes(8, "big")).digest()
    return ec.derive_private_key(1 + int.from_bytes(seed, "big") % (_P256_ORDER - 1),
                                 ec.SECP256R1())


def _f9_name(serial: int) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         f"Virtual YubiKey PIV Attestation {serial} (DEMO)")])


def f9_certificate(serial: int) -> bytes:
    """DER of the card's attestation certificate (slot F9), signed by the demo CA."""
    key = _f9_key(serial)
    ca = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEMO_CA_NAME)])
    cert = (x509.CertificateBuilder().subject_name(_f9_name(serial)).issuer_name(ca)
            .public_key(key.public_key()).serial_number(serial or 1)
            .not_valid_before(_START).not_valid_after(_END)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(_demo_ca_key(), hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def attest_slot(serial: int, version: tuple[int, int, int], slot: int, public_point: bytes,
                pin_policy: int, touch_policy: int) -> bytes:
    """DER of the slot's attestation certificate, as a YubiKey's ATTEST returns it."""
    public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_point)
    serial_der = serial.to_bytes(max(1, (serial.bit_length() + 8) // 8), "big")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         f"YubiKey PIV Attestation {slot:02x}")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(_f9_name(serial))
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(_START).not_valid_after(_END)
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.3"), bytes(version)), critical=False)
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.7"),
                bytes([0x02, len(serial_der)]) + serial_der), critical=False)
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.8"),
                bytes([pin_policy, touch_policy])), critical=False)
            .sign(_f9_key(serial), hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def fido_attestation(aaguid: bytes) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """The batch attestation key of virtual FIDO2 keys with ``aaguid`` and its certificate
    (DER), shaped as WebAuthn §8.2.1 asks of a packed attestation certificate."""
    seed = hashlib.sha256(b"tessera/virtual-fido2-attestation/v1" + DEMO_CA_PRIVATE_KEY_PEM
                          + aaguid).digest()
    key = ec.derive_private_key(1 + int.from_bytes(seed, "big") % (_P256_ORDER - 1),
                                ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tessera DEMO"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Tessera virtual FIDO2 key (DEMO)"),
    ])
    ca = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEMO_CA_NAME)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca)
            .public_key(key.public_key()).serial_number(int.from_bytes(aaguid[:8], "big") or 1)
            .not_valid_before(_START).not_valid_after(_END)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4"), b"\x04\x10" + aaguid),
                critical=False)
            .sign(_demo_ca_key(), hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.DER)
