"""The CLI's YubiKey helpers: choosing one of several keys by serial, and printing the
identity file age-plugin-yubikey would print (so stock age opens the share)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import run
from tessera.core.age.bech32 import decode

PIN = "31415926"

# Virtual keys in a real (hardware-only) vault: this workstation trusts their CA.
pytestmark = pytest.mark.usefixtures("trust_demo_ca")


@pytest.fixture()
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vault.sqlite3"
    monkeypatch.setenv("TESSERA_VAULT", str(path))
    monkeypatch.setenv("TESSERA_ACTOR", "operator")
    assert run("init").code == 0
    assert run("custodian", "add", "Alice").code == 0
    return path


def test_serial_of_a_key_that_is_not_plugged_in_is_refused(vault: Path) -> None:
    r = run("--virtual", "token", "enroll", "Alice", "--kind", "piv", "--serial", "999")
    assert r.code != 0 and "no YubiKey with serial 999 is plugged in" in r.err
    r = run("--virtual", "token", "enroll", "Alice", "--kind", "fido2", "--serial", "999")
    assert r.code != 0 and "--serial chooses a YubiKey for --kind piv" in r.err


def test_export_identity_of_a_yubikey_token_is_the_plugins_identity_file(vault: Path) -> None:
    r = run("--virtual", "--virtual-touch", "immediate", "token", "enroll", "Alice", "--kind",
            "piv", input=f"{PIN}\n{PIN}\n")
    assert r.code == 0, r.text
    recipient = r.out.split("recipient: ")[1].split()[0]
    token_id = run("token", "list").out.split("Enrolled tokens:")[1].split()[0]
    r = run("token", "export-identity", token_id)
    assert r.code == 0, r.text
    lines = r.out.splitlines()
    assert lines[0].startswith("#       Serial: ") and lines[0].endswith(", Slot: 1")
    assert f"#    Recipient: {recipient}" in lines
    hrp, data = decode(lines[-1])
    assert hrp == "AGE-PLUGIN-YUBIKEY-" and data[4] == 0x82
    assert "private key" not in r.err  # nothing secret in it, and no such warning
