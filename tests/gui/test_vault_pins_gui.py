"""The desktop app refuses an older copy of the vault and offers to accept it on the
record (the same pins as the CLI, outside the vault file)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tessera.gui.app import AcceptVaultDialog, open_window
from tessera.vault import Vault
from tessera.vault.errors import VaultRolledBack
from tessera.vault.workstation_pins import WorkstationPins, _path_key

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


@pytest.fixture
def rolled_back(tmp_path: Path) -> Path:
    path, old = tmp_path / "vault.sqlite3", tmp_path / "old.sqlite3"
    with Vault.open(path, create=True) as v:
        v.add_custodian("Alice", "", "", actor="op")
        v.checkpoint()
        WorkstationPins().remember(v)
    shutil.copyfile(path, old)
    with Vault.open(path) as v:
        v.add_custodian("Bob", "", "", actor="op")
        WorkstationPins().remember(v)
    shutil.copyfile(old, path)
    for side in ("-wal", "-shm"):
        Path(str(path) + side).unlink(missing_ok=True)
    return path


def test_the_app_refuses_a_rollback_unless_accepted_with_a_reason(rolled_back, monkeypatch,
                                                                   qtbot):
    asked: list[VaultRolledBack] = []
    answer: dict[str, str | None] = {"reason": None}

    def ask(_parent, problem):
        asked.append(problem)
        return answer["reason"]

    monkeypatch.setattr(AcceptVaultDialog, "ask", classmethod(lambda cls, *a: ask(*a)))
    assert open_window(rolled_back, demo=False) is None       # cancelled: stays closed
    assert isinstance(asked[0], VaultRolledBack)
    with Vault.open(rolled_back) as v:
        assert v.audit_entries(action="vault.accept") == []

    answer["reason"] = "restored yesterday's backup after the disk failed"
    window = open_window(rolled_back, demo=False)
    assert window is not None
    qtbot.addWidget(window)
    try:
        entries = window.context.vault.audit_entries(action="vault.accept")
        assert [e.details["reason"] for e in entries] == [answer["reason"]]
    finally:
        window.close()
        window.context.close()


def test_a_signed_vault_is_accepted_with_a_custodians_signature(tmp_path, signed_vault_path,
                                                                 monkeypatch, qtbot):
    """Another vault (here the signed demo) found where this computer pinned one: the
    acceptance is a signed change, so a custodian of *that* vault signs it with their key."""
    from tessera.custody.signing import verify_vault
    from tessera.gui.operator import AcceptSignerDialog

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the demo's id stays unpinned
    path = signed_vault_path
    pins = WorkstationPins()
    _another_vault_was_here(pins, path, tmp_path)
    chosen: list[str] = []

    def choose(_cls, _parent, vault, _current):
        token = next(t for t in vault.list_tokens() if t.custodian_name == "Bob")
        chosen.append(token.label)
        return token

    monkeypatch.setattr(AcceptSignerDialog, "ask", classmethod(choose))
    monkeypatch.setattr(AcceptVaultDialog, "ask", classmethod(lambda cls, *a: "moved disks"))
    window = open_window(path, demo=False)
    assert window is not None and chosen == ["Bob's YubiKey"]
    qtbot.addWidget(window)
    try:
        vault = window.context.vault
        entry, = vault.audit_entries(action="vault.accept")
        assert entry.actor == "Bob" and entry.details["reason"] == "moved disks"
        assert verify_vault(vault, full=True).ok
    finally:
        window.close()
        window.context.close()


def test_a_signed_vault_stays_closed_when_nobody_signs_the_acceptance(
        tmp_path, signed_vault_path, monkeypatch):
    from tessera.gui.operator import AcceptSignerDialog

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the demo's id stays unpinned
    path = signed_vault_path
    pins = WorkstationPins()
    _another_vault_was_here(pins, path, tmp_path)
    monkeypatch.setattr(AcceptSignerDialog, "ask", classmethod(lambda *_a: None))
    monkeypatch.setattr(AcceptVaultDialog, "ask", classmethod(lambda cls, *a: "moved disks"))
    assert open_window(path, demo=False) is None
    with Vault.open(path) as v:
        assert v.audit_entries(action="vault.accept") == []


def _another_vault_was_here(pins: WorkstationPins, path, tmp_path) -> None:
    """This computer's store says another (real) vault was opened from ``path``."""
    import sqlite3

    with Vault.open(tmp_path / "elsewhere.sqlite3", create=True) as other:
        pins.remember(other)
        store = pins.path_for(other.vault_id)
    conn = sqlite3.connect(store)
    conn.execute("INSERT INTO paths (path) VALUES (?)", (_path_key(path),))
    conn.commit()
    conn.close()
