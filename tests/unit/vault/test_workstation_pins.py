"""Rollback and replacement of the vault file are noticed on open (item 5 of #9).

The attacker can write the vault file (a shared drive, a backup) but not this
computer's config directory, where the pins live.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tessera.vault import Vault
from tessera.vault.errors import VaultReplaced, VaultRolledBack
from tessera.vault.genesis import vault_identity
from tessera.vault.workstation_pins import PinsDamaged, WorkstationPins


def _copy(src: Path, dst: Path) -> None:
    with Vault.open(src) as v:
        v.checkpoint()
    shutil.copyfile(src, dst)


@pytest.fixture
def pins(tmp_path: Path) -> WorkstationPins:
    return WorkstationPins(tmp_path / "config" / "vaults")


def _opened(path: Path, pins: WorkstationPins) -> Vault:
    vault = Vault.open(path)
    try:
        pins.check(vault)
        pins.remember(vault)
    except BaseException:
        vault.close()
        raise
    return vault


def _old_copy_then_newer(tmp_path: Path, pins: WorkstationPins) -> tuple[Path, Path, tuple[int, str]]:
    """A vault this computer has seen grow past an old copy the attacker kept."""
    path, old = tmp_path / "vault.sqlite3", tmp_path / "old.sqlite3"
    with Vault.open(path, create=True) as v:
        pins.remember(v)
    _copy(path, old)
    with _opened(path, pins) as v:
        v.add_custodian("Alice", "", "", actor="op")
        pins.remember(v)
        head = v.audit_head()
    return path, old, head


def _put_back(copy: Path, path: Path) -> None:
    """``copy`` in place of the vault file at ``path`` (and none of its old side files)."""
    if copy != path:
        shutil.copyfile(copy, path)
    for side in ("-wal", "-shm"):
        Path(str(path) + side).unlink(missing_ok=True)


def test_identity_is_the_same_for_a_copy_and_differs_for_another_vault(tmp_path: Path) -> None:
    a, b = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    with Vault.open(a, create=True) as v:
        identity = vault_identity(v)
        v.add_custodian("Alice", "", "", actor="op")
        assert vault_identity(v) == identity  # later writes do not change it
    _copy(a, tmp_path / "copy.sqlite3")
    with Vault.open(tmp_path / "copy.sqlite3") as v:
        assert vault_identity(v) == identity
    with Vault.open(b, create=True) as v:
        assert vault_identity(v) != identity


def test_rollback_to_an_older_copy_is_refused_on_open(tmp_path: Path,
                                                      pins: WorkstationPins) -> None:
    path, old, (seen, _) = _old_copy_then_newer(tmp_path, pins)  # the attacker's old copy
    _put_back(old, path)                                           # ... put back later
    with pytest.raises(VaultRolledBack) as err:
        _opened(path, pins)
    assert err.value.pinned_seq == seen and err.value.found_seq == seen - 1
    assert "older copy" in str(err.value) and "tessera vault accept" in str(err.value)


def test_a_rewritten_log_of_the_same_length_is_refused(tmp_path: Path,
                                                       pins: WorkstationPins) -> None:
    path, old, _ = _old_copy_then_newer(tmp_path, pins)
    _put_back(old, path)
    with Vault.open(path) as v:                   # the old copy, grown another way
        v.add_custodian("Mallory", "", "", actor="attacker")
    with pytest.raises(VaultRolledBack) as err:
        _opened(path, pins)
    assert err.value.forked and "rewritten" in str(err.value)


def test_replacement_by_another_vault_is_refused(tmp_path: Path, pins: WorkstationPins) -> None:
    path, other = tmp_path / "vault.sqlite3", tmp_path / "other.sqlite3"
    with Vault.open(path, create=True) as v:
        pins.remember(v)
        mine = v.vault_id
    with Vault.open(other, create=True) as v:
        v.add_custodian("Mallory", "", "", actor="attacker")
        theirs = v.vault_id
    _copy(other, path)
    _put_back(path, path)
    with pytest.raises(VaultReplaced) as err:
        _opened(path, pins)
    assert mine in err.value.pinned and theirs in err.value.found
    assert mine in str(err.value) and theirs in str(err.value)
    assert "not signed yet" in str(err.value)


def test_a_demo_vault_put_in_place_of_a_real_one_is_refused(tmp_path: Path,
                                                            pins: WorkstationPins) -> None:
    path, demo = tmp_path / "vault.sqlite3", tmp_path / "demo.sqlite3"
    with Vault.open(path, create=True) as v:
        pins.remember(v)
    with Vault.open(demo, create=True, demo=True) as v:
        pins.remember(v)  # demo vaults are not pinned...
        assert pins.pin_for(v.vault_id) is None
    _copy(demo, path)
    _put_back(path, path)
    with pytest.raises(VaultReplaced):            # ...but are refused where a real one was
        _opened(path, pins)


def test_the_same_vault_moving_forward_opens(tmp_path: Path, pins: WorkstationPins) -> None:
    path, moved = tmp_path / "vault.sqlite3", tmp_path / "moved.sqlite3"
    with Vault.open(path, create=True) as v:
        pins.remember(v)
    for name in ("Alice", "Bob"):
        with _opened(path, pins) as v:
            v.add_custodian(name, "", "", actor="op")
            pins.remember(v)
    _copy(path, moved)                              # the same vault under another name
    with _opened(moved, pins) as v:
        assert len(v.list_custodians()) == 2


def test_accepting_a_rollback_is_audited_and_moves_the_pins(tmp_path: Path,
                                                             pins: WorkstationPins) -> None:
    path, old, pinned = _old_copy_then_newer(tmp_path, pins)
    _put_back(old, path)
    with Vault.open(path) as v:
        with pytest.raises(Exception, match="say why"):
            pins.accept(v, actor="carol", reason="  ")
        pins.accept(v, actor="carol", reason="restored the 1 December backup")
        entry = v.audit_entries(action="vault.accept")[-1]
    assert entry.actor == "carol"
    assert entry.details["reason"] == "restored the 1 December backup"
    assert entry.details["pinned"]["seq"] == pinned[0]
    assert entry.details["pinned"]["hash"] == pinned[1]
    with _opened(path, pins) as v:                  # opens now, and the log says why
        assert v.verify_audit().ok


def test_a_damaged_store_is_reported_not_ignored(tmp_path: Path,
                                                 pins: WorkstationPins) -> None:
    path = tmp_path / "vault.sqlite3"
    with Vault.open(path, create=True) as v:
        pins.remember(v)
        store = pins.path_for(v.vault_id)
    assert store.stat().st_mode & 0o077 == 0
    conn = sqlite3.connect(store)
    conn.execute("UPDATE pin SET identity = 'nope'")
    conn.commit()
    conn.close()
    with Vault.open(path) as v, pytest.raises(PinsDamaged, match="damaged"):
        pins.check(v)
