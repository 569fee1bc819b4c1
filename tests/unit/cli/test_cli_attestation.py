"""`tessera token enroll/list` and attestation: what a custodian and an attacker see."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from helpers.attestation import PIN, enrolled_virtual_yubikey, ykman_attestation_pem
from helpers.cli import run
from tessera.core import age


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vault.sqlite3"
    monkeypatch.setenv("TESSERA_VAULT", str(path))
    assert run("init").code == 0
    assert run("custodian", "add", "Alice").code == 0
    assert run("custodian", "add", "Bob").code == 0
    return path


def _ykman_export(tmp_path: Path) -> tuple[str, Path]:
    """A YubiKey custodian's recipient and attestation file (F9 certificate first this
    time: either order is accepted)."""
    card, enrolled = enrolled_virtual_yubikey(5550042)
    certs = ykman_attestation_pem(card, enrolled).split(b"-----END CERTIFICATE-----\n")
    out = tmp_path / "bob-attestation.pem"
    out.write_bytes(certs[1] + b"-----END CERTIFICATE-----\n" + certs[0]
                    + b"-----END CERTIFICATE-----\n")
    return enrolled.recipient, out


def test_a_remote_yubikey_without_attestation_is_enrolled_but_counts_as_software(vault: Path):
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    recipient = age.PivP256Recipient.from_public_key(point).to_string()
    r = run("token", "enroll", "Alice", "--recipient", recipient)
    assert r.code == 0 and "attestation: not proven: no attestation was given" in r.out
    listing = run("token", "list")
    assert "not proven: no attestation was given" in listing.out


def test_a_remote_yubikey_with_its_attestation_file(vault: Path, tmp_path: Path,
                                                    trust_demo_ca: Path) -> None:
    recipient, pem = _ykman_export(tmp_path)
    r = run("token", "enroll", "Bob", "--recipient", recipient, "--attestation", str(pem))
    assert r.code == 0, r.text
    assert "attestation: proven hardware (Tessera DEMO attestation CA" in r.out


def test_a_virtual_key_is_refused_in_a_real_vault_with_the_shipped_trust_store(vault: Path):
    r = run("--virtual", "--virtual-touch", "immediate", "token", "enroll", "Alice",
            "--kind", "piv", input=f"{PIN}\n{PIN}\n")
    assert r.code != 0 and "demo CA" in r.err and "Nothing was enrolled" in r.err
    assert "Alice" not in run("token", "list").out.split("Connected now:")[0]


def test_attestation_goes_with_a_recipient_only(vault: Path, tmp_path: Path) -> None:
    pem = tmp_path / "a.pem"
    pem.write_text("not a certificate")
    r = run("token", "enroll", "Alice", "--kind", "piv", "--attestation", str(pem))
    assert r.code != 0 and "--attestation goes with --recipient" in r.err
    key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    r = run("token", "enroll", "Alice", "--recipient",
            age.PivP256Recipient.from_public_key(key).to_string(), "--attestation", str(pem))
    assert r.code != 0 and "two PEM certificates" in r.err
