"""Hardware is proven, not claimed: attestation of virtual PIV cards (ATTEST + F9) and
virtual FIDO2 keys (packed, x5c), checked against the trust store — tried as an attacker
would: the demo CA outside a demo vault, a chain from an untrusted CA, an attestation of
another key, forged evidence."""

from __future__ import annotations

import base64
import datetime
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from yubikit.core.smartcard import ApduError
from yubikit.piv import SLOT, PivSession

from helpers.attestation import PIN, PinPrompts, enrolled_virtual_yubikey
from tessera.core.attestation import (
    ATTESTATION_FACT,
    TrustStore,
    counts_as_hardware,
    resource_dir,
    token_attestation,
    verify_piv,
)
from tessera.tokens.fido2 import Fido2Driver
from tessera.tokens.virtual.ctap import VirtualAuthenticator
from tessera.tokens.virtual.hid import hid_device

# SHA-256 of the shipped roots, as a second source lists them (resources/attestation/README.md).
YUBICO_ROOTS = {
    "yubico-piv-root-ca-263751.pem":
        "63ECE914E54DD87915F34033C85AF4C0696BA1512F8ADD66CED738331207B546",
    "yubico-u2f-root-ca-457200631.pem":
        "0FA1386F80EB8713263AE5C1D84DEB455BDF08AEA50AB05503CEFEE82B092D42",
    "yubico-attestation-root-1.pem":
        "62760C6A6EF91679F454C8902B80FD009825B3F25DA90F1FBACE2EC6586CD5A8",
}
YUBICO_INTERMEDIATES = {
    "4698A1D3389C3EC60016C216250F1D0439922832D65142327436376DC2942B55",
    "D4CC3F456FDAF4E7812A21AAB1DFE9D8E27D24E2FD2D6F21C9940109F0DAA754",
    "6DE693F05376F5D8CA29069261E1C8626C75D503BD2EDBFD75354CAD1F722870",
    "2D55B7998F4E42569D6D8FA382B6DC77D1DACF07358B19701163892922B17052",
}


def piv_enrolled(serial: int = 5550001):
    return enrolled_virtual_yubikey(serial, "Alice")


def fido_enrolled():
    device = VirtualAuthenticator(pin=PIN)
    driver = Fido2Driver(lambda: [hid_device(device)], platform_client=None)
    return driver.enroll(hid_device(device), "Alice", PinPrompts(), threading.Event())


def test_the_shipped_roots_are_the_published_ones() -> None:
    folder = resource_dir() / "attestation"
    for name, fingerprint in YUBICO_ROOTS.items():
        cert = x509.load_pem_x509_certificate((folder / name).read_bytes())
        assert cert.fingerprint(hashes.SHA256()).hex().upper() == fingerprint, name
    store = TrustStore.load()
    assert len(store.roots) == len(YUBICO_ROOTS) and store.demo_root is not None
    assert {c.fingerprint(hashes.SHA256()).hex().upper()
            for c in store.intermediates} == YUBICO_INTERMEDIATES
    assert store.demo_root not in store.roots  # the demo CA is never an ordinary root


def test_a_virtual_yubikey_attests_its_slot_key_under_the_demo_ca() -> None:
    card, enrolled = piv_enrolled()
    evidence = enrolled.facts[ATTESTATION_FACT]
    assert evidence["format"] == "piv" and len(evidence["chain"]) == 2
    demo = token_attestation("piv", enrolled.facts, demo_vault=True)
    assert demo.proven and demo.verdict == "demo" and demo.serial == 5550001
    real = token_attestation("piv", enrolled.facts, demo_vault=False)
    assert not real.proven and "demo CA" in real.problem
    assert counts_as_hardware("piv", enrolled.facts, demo_vault=True)
    assert not counts_as_hardware("piv", enrolled.facts, demo_vault=False)
    # only a key generated on the card is attested (an imported key is refused)
    with pytest.raises(ApduError):
        PivSession(card).attest_key(SLOT.SIGNATURE)


def test_a_virtual_fido2_key_attests_with_packed_x5c() -> None:
    enrolled = fido_enrolled()
    evidence = enrolled.facts[ATTESTATION_FACT]
    assert evidence["format"] == "packed" and len(evidence["chain"]) == 1
    assert token_attestation("fido2", enrolled.facts, demo_vault=True).proven
    refused = token_attestation("fido2", enrolled.facts, demo_vault=False)
    assert not refused.proven and "demo CA" in refused.problem


def _attacker_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Yubico PIV Root CA Serial 263751")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(263751)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _cert(subject: str, issuer: x509.Certificate, issuer_key, public_key, ca: bool):
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer.subject).public_key(public_key).serial_number(7)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def test_a_chain_from_an_untrusted_ca_named_like_yubico_is_refused() -> None:
    software_key = ec.generate_private_key(ec.SECP256R1())   # a key made on a laptop
    point = software_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    ca_key, ca = _attacker_ca()
    f9_key = ec.generate_private_key(ec.SECP256R1())
    f9 = _cert("Yubico PIV Attestation", ca, ca_key, f9_key.public_key(), True)
    slot = _cert("YubiKey PIV Attestation 82", f9, f9_key, software_key.public_key(), False)
    der = [c.public_bytes(serialization.Encoding.DER) for c in (slot, f9)]
    for demo in (False, True):
        verdict = verify_piv(der, point, demo_vault=demo)
        assert not verdict.proven and "trusted root" in verdict.problem


def test_an_attestation_of_another_key_or_forged_evidence_is_refused() -> None:
    _, enrolled = piv_enrolled()
    _, other = piv_enrolled(5550002)
    facts = dict(enrolled.facts)
    facts[ATTESTATION_FACT] = other.facts[ATTESTATION_FACT]      # a real card's proof...
    verdict = token_attestation("piv", facts, demo_vault=True)   # ...for another key
    assert not verdict.proven and "another key" in verdict.problem
    forged = dict(enrolled.facts)
    forged[ATTESTATION_FACT] = {**enrolled.facts[ATTESTATION_FACT], "verdict": "verified",
                                "chain": [base64.b64encode(b"not a cert").decode()] * 2}
    assert not token_attestation("piv", forged, demo_vault=True).proven
    # a software key's facts claiming to be fido2 prove nothing without evidence
    assert not counts_as_hardware("fido2", {"credential_public_key": "AAAA"}, demo_vault=True)
    assert not counts_as_hardware("software", enrolled.facts, demo_vault=True)


def test_the_demo_ca_private_key_matches_the_committed_certificate() -> None:
    from tessera.tokens.virtual import demo_attestation

    cert = x509.load_pem_x509_certificate(
        (resource_dir() / "attestation" / "tessera-demo-attestation-ca.pem").read_bytes())
    key = serialization.load_pem_private_key(demo_attestation.DEMO_CA_PRIVATE_KEY_PEM, None)
    assert cert.public_key() == key.public_key()
    assert "DEMO" in cert.subject.rfc4514_string()
