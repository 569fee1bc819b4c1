"""`tessera audit verify`: only what is new since this computer last verified the log,
`--full` for everything, and an older copy of the vault reported as such."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers.cli import run
from tessera.vault import Vault


@pytest.fixture()
def vault_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vault.sqlite3"
    monkeypatch.setenv("TESSERA_VAULT", str(path))
    monkeypatch.setenv("TESSERA_ACTOR", "operator")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert run("init", "--demo").code == 0
    return path


def test_verify_checks_what_is_new_and_full_checks_all(vault_path: Path) -> None:
    first = run("audit", "verify")
    assert first.code == 0, first.text
    assert "Audit chain intact: 1 entries" in first.out
    assert run("custodian", "add", "Alice", "--role", "SRE").code == 0
    second = run("audit", "verify")
    assert "1 new entries after entry 1, which this computer verified before" in second.out
    full = run("audit", "verify", "--full")
    assert "Audit chain intact: 2 entries" in full.out


def test_an_older_copy_of_the_vault_fails_verification(vault_path: Path, tmp_path: Path) -> None:
    assert run("audit", "verify").code == 0
    shutil.copy(vault_path, tmp_path / "old.sqlite3")
    assert run("custodian", "add", "Alice", "--role", "SRE").code == 0
    assert run("audit", "verify").code == 0
    vault = Vault.open(vault_path)
    vault.checkpoint()
    vault.close()
    shutil.copy(tmp_path / "old.sqlite3", vault_path)
    stale = run("audit", "verify")
    assert stale.code == 3
    assert "does NOT verify" in stale.err and "older copy of the vault" in stale.err
