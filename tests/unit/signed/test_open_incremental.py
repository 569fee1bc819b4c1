"""Opening a vault resumes from what this workstation verified: only newer statements
(with their signatures) and audit entries are read, the tables are compared in full.

The attacker can write the vault file but not this computer's config directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from helpers.attacker import raw
from helpers.signed import pin_as_real, signer
from tessera.core import canonical
from tessera.custody.log_check import check_vault
from tessera.vault import Vault, statements
from tessera.vault.workstation_pins import WorkstationPins


@pytest.fixture
def pins(tmp_path: Path) -> WorkstationPins:
    return WorkstationPins(tmp_path / "workstation")


def _checked(c: Any, pins: WorkstationPins) -> statements.Replay:
    """This workstation verifies the vault and keeps it pinned (as it does a real one)."""
    result = check_vault(c.vault, pins)
    pin_as_real(pins, c.vault)
    return result


def _reopen(c: Any) -> Vault:
    c.vault.close()
    c.vault = Vault.open(c.path)
    return c.vault


def _grow(c: Any, *names: str) -> None:
    with c.vault.signed_by(signer(c, "Alice")):
        for name in names:
            c.vault.add_custodian(name, contact="", role="", actor="op")


def test_opening_again_replays_only_the_new_statements(signed: Any, pins: WorkstationPins,
                                                       statements_read: list[int]) -> None:
    c = signed
    first = _checked(c, pins)
    assert first.ok and first.resumed_from == 0
    _grow(c, "Dave", "Erin")
    read = statements_read
    read.clear()
    again = check_vault(_reopen(c), pins)
    assert again.ok, again.problem
    assert read == [first.head[0] + 1, first.head[0] + 2]
    assert again.resumed_from == first.head[0]
    assert again.audit is not None and again.audit.from_seq == first.audit_head[0]
    full = check_vault(c.vault, pins, full=True)
    assert (full.head, full.tables, full.trusted, full.genesis) == (
        again.head, again.tables, again.trusted, again.genesis)


def test_a_row_no_new_statement_touches_is_still_compared(signed: Any,
                                                          pins: WorkstationPins) -> None:
    c = signed
    assert _checked(c, pins).ok
    _grow(c, "Dave")
    c.vault.close()
    conn = raw(c.path)
    conn.execute("UPDATE tokens SET recipient = 'age1attacker' WHERE label LIKE 'Bob%'")
    conn.close()
    c.vault = Vault.open(c.path)
    result = check_vault(c.vault, pins)
    assert not result.ok and result.resumed_from
    assert result.difference is not None
    assert (result.difference.table, result.difference.column) == ("tokens", "recipient")


def test_a_rolled_back_statement_log_is_refused(signed: Any, pins: WorkstationPins) -> None:
    c = signed
    _grow(c, "Dave")
    assert _checked(c, pins).ok
    head = c.vault.statement_head()[0]
    c.vault.close()
    conn = raw(c.path)
    conn.execute("DELETE FROM statements WHERE seq = ?", (head,))
    conn.close()
    c.vault = Vault.open(c.path)
    result = check_vault(c.vault, pins)
    assert not result.ok and "older copy" in result.problem, result.problem
    assert not check_vault(c.vault, pins, full=True).ok
    kept = pins.verified(c.vault)
    assert kept is not None and kept.head[0] == head  # the witness never moves back


def test_an_older_copy_grown_another_way_is_refused(signed: Any, pins: WorkstationPins,
                                                    tmp_path: Path) -> None:
    c = signed
    c.vault.checkpoint()
    shutil.copyfile(c.path, tmp_path / "old.sqlite3")
    _grow(c, "Dave")
    assert _checked(c, pins).ok
    c.vault.close()
    shutil.copyfile(tmp_path / "old.sqlite3", c.path)
    for side in ("-wal", "-shm"):
        Path(str(c.path) + side).unlink(missing_ok=True)
    c.vault = Vault.open(c.path)
    _grow(c, "Mallory")  # signed by a genuine token: a fork, not a forgery
    result = check_vault(c.vault, pins)
    assert not result.ok and "rewritten" in result.problem, result.problem


def test_a_changed_old_statement_with_the_chain_recomputed_is_refused(
        signed: Any, pins: WorkstationPins) -> None:
    c = signed
    assert _checked(c, pins).ok
    c.vault.close()
    conn = raw(c.path)
    prev = statements.ZERO
    for seq, body_text in conn.execute("SELECT seq, body FROM statements ORDER BY seq"
                                       ).fetchall():
        body = json.loads(body_text)
        body["prev"] = prev
        if seq == 2:
            body["at"] = "2000-01-01T00:00:00Z"
        data = canonical.dumps(body)
        prev = statements.statement_hash(prev, data)
        conn.execute("UPDATE statements SET body = ?, hash = ? WHERE seq = ?",
                     (data.decode(), prev, seq))
    conn.close()
    c.vault = Vault.open(c.path)
    result = check_vault(c.vault, pins)
    assert not result.ok and "rewritten" in result.problem, result.problem


def test_a_failed_check_keeps_the_verified_state(signed: Any, pins: WorkstationPins) -> None:
    c = signed
    first = _checked(c, pins)
    _grow(c, "Dave")
    c.vault.close()
    conn = raw(c.path)
    conn.execute("UPDATE custodians SET name = 'Mallory' WHERE name = 'Dave'")
    conn.close()
    c.vault = Vault.open(c.path)
    assert not _checked(c, pins).ok
    kept = pins.verified(c.vault)
    assert kept is not None and kept.head == first.head
