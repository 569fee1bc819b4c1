"""Verifying only what is new since this computer last verified the vault, and the store
that makes it safe: a rolled-back or rewritten log is reported, never accepted."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from vault_fixtures import add_entries, open_vault, raw

from tessera.core import canonical
from tessera.core.errors import FormatError
from tessera.custody.log_check import check_vault
from tessera.vault import Vault
from tessera.vault.audit import _canonical_details, entry_bytes, link
from tessera.vault.models import AuditVerdict
from tessera.vault.workstation_pins import PinsDamaged, WorkstationPins


def check_log(vault: Vault, pins: WorkstationPins, *, full: bool = False) -> AuditVerdict:
    """The audit chain's verdict of a check (what `audit verify` prints)."""
    state = check_vault(vault, pins, full=full)
    if state.audit is not None and not state.audit.ok:
        return state.audit
    if not state.ok:
        return AuditVerdict(False, 0, 0, "", state.bad_statement, state.problem)
    assert state.audit is not None
    return state.audit


def test_second_check_recomputes_only_the_new_entries(vault: Vault, pins: WorkstationPins) -> None:
    first = check_log(vault, pins)
    assert (first.ok, first.entries, first.from_seq) == (True, 10, 0)
    add_entries(vault, 5, start=100)
    second = check_log(vault, pins)
    assert (second.ok, second.entries, second.from_seq, second.head_seq) == (True, 5, 10, 15)
    assert second.head_hash == vault.audit_head()[1]
    full = check_log(vault, pins, full=True)
    assert (full.ok, full.entries, full.from_seq) == (True, 15, 0)


def test_an_edit_to_an_old_row_is_found_by_the_full_check(vault: Vault,
                                                          pins: WorkstationPins) -> None:
    assert check_log(vault, pins).ok
    raw(vault).execute("UPDATE audit SET details = '{\"serial\":77}' WHERE seq = 4")
    # The incremental check trusts what was verified before (that is its point) …
    assert check_log(vault, pins).ok
    # … and the full check finds the edit.
    full = check_log(vault, pins, full=True)
    assert (full.ok, full.first_bad_seq) == (False, 4)
    assert "entry 4 was changed" in full.problem


def test_an_older_copy_of_the_vault_is_reported_and_the_pin_stays(tmp_path: Path,
                                                                   vault: Vault,
                                                                   pins: WorkstationPins) -> None:
    assert check_log(vault, pins).ok
    vault.checkpoint()
    shutil.copy(vault.path, tmp_path / "old.sqlite3")
    add_entries(vault, 3, start=50)
    assert check_log(vault, pins).head_seq == 13
    vault.close()
    shutil.copy(tmp_path / "old.sqlite3", vault.path)
    old = Vault.open(vault.path)
    for full in (False, True):
        verdict = check_log(old, pins, full=full)
        assert not verdict.ok
        assert "rolled back" in verdict.problem
    kept = pins.verified(old)
    assert kept is not None and kept.audit_head[0] == 13


def test_a_rewritten_chain_is_reported(vault: Vault, pins: WorkstationPins) -> None:
    assert check_log(vault, pins).ok
    conn = raw(vault)
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    prev = conn.execute("SELECT hash FROM audit WHERE seq = 5").fetchone()[0]
    for seq, at, actor, action, subject in conn.execute(
            "SELECT seq, at, actor, action, subject FROM audit WHERE seq > 5 ORDER BY seq"
    ).fetchall():
        details = canonical.dumps({"serial": 1000 + seq}).decode()
        digest = link(prev, entry_bytes(seq, at, actor, action, subject, details))
        conn.execute("UPDATE audit SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (details, prev, digest, seq))
        prev = digest
    assert vault.verify_audit().ok  # a consistent chain on its own …
    verdict = check_log(vault, pins)
    assert not verdict.ok  # … but not the one seen before
    assert "rewritten" in verdict.problem


def test_another_log_under_the_same_vault_id_is_verified_in_full(tmp_path: Path,
                                                                  vault: Vault,
                                                                  pins: WorkstationPins) -> None:
    assert check_log(vault, pins).ok
    other = open_vault(tmp_path / "other.sqlite3")
    raw(other).execute("UPDATE meta SET value = ? WHERE key = 'vault_id'", (vault.vault_id,))
    # Not resumed from the other log's verified state (opening it is refused as a
    # replacement by the pins, tests/unit/vault/test_workstation_pins.py).
    assert pins.verified(other) is None


def test_a_damaged_store_is_named_not_ignored(vault: Vault, pins: WorkstationPins) -> None:
    assert check_log(vault, pins).ok
    path = pins.path_for(vault.vault_id)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE verified SET statement_hash = 'ten'")
    conn.commit()
    conn.close()
    with pytest.raises(PinsDamaged, match="Move it aside"):
        check_log(vault, pins)
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(PinsDamaged, match="damaged"):
        check_log(vault, pins)


def test_the_store_is_private_and_names_the_log(vault: Vault, pins: WorkstationPins) -> None:
    check_log(vault, pins)
    kept = pins.verified(vault)
    assert kept is not None
    assert kept.audit_head == (10, vault.audit_head()[1])
    assert kept.head == vault.statement_head()
    assert pins.path_for(vault.vault_id).stat().st_mode & 0o077 == 0
    assert pins.directory.stat().st_mode & 0o077 == 0
    with pytest.raises(FormatError):
        pins.path_for("../elsewhere")


def test_a_broken_log_does_not_move_the_verified_head(vault: Vault,
                                                      pins: WorkstationPins) -> None:
    assert check_log(vault, pins).ok
    add_entries(vault, 2, start=30)
    raw(vault).execute("UPDATE audit SET actor = 'mallory' WHERE seq = 12")
    verdict = check_log(vault, pins)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 12)
    kept = pins.verified(vault)
    assert kept is not None and kept.audit_head[0] == 10


@pytest.mark.parametrize("text", [
    '{"a":1,"b":"x"}', '{"b":1,"a":2}', '{"a": 1}', ' {"a":1}', '{"a":1} ', '{"a":1.5}',
    '{"a":9007199254740992}', '{"a":9007199254740991}', '{"a":-0}', '{"a":1,"a":1}',
    '{"a":"\\u00e9"}', '{"a":"é"}', '{"a":"\\/"}', '[1]', '"x"', '{"a":NaN}',
    '{"a":[1,{"c":null,"b":true}]}', '{"a":"\\ud800"}', '{}', '', '{"a":1}{"b":2}',
])
def test_the_fast_details_check_agrees_with_canonical_loads(text: str) -> None:
    try:
        strict = isinstance(canonical.loads(text.encode("utf-8"), what="details"), dict)
    except (FormatError, UnicodeEncodeError):  # a lone surrogate cannot be UTF-8
        strict = False
    assert _canonical_details(text) is strict
