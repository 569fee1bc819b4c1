"""Verifying from a given head: only the newer statements are read and checked."""

from __future__ import annotations

from typing import Any

from helpers.attacker import raw
from helpers.signed import signer
from tessera.custody.signing import verify_vault
from tessera.vault import Vault


def test_resuming_from_a_verified_head_gives_the_full_result(signed: Any) -> None:
    c = signed
    earlier = verify_vault(c.vault)
    with c.vault.signed_by(signer(c, "Alice")):
        c.vault.add_custodian("Dave", contact="", role="", actor="op")
    full = verify_vault(c.vault)
    resumed = verify_vault(c.vault, start=earlier)
    assert full.ok and resumed.ok
    assert (resumed.head, resumed.statements, resumed.genesis) == (
        full.head, full.statements, full.genesis)
    assert resumed.tables == full.tables


def test_a_prefix_replay_resumed_still_names_a_tampered_newer_statement(signed: Any) -> None:
    c = signed
    with c.vault.signed_by(signer(c, "Alice")):
        c.vault.add_custodian("Dave", contact="", role="", actor="op")
    head = c.vault.statement_head()[0]
    prefix = verify_vault(c.vault, until=head - 1)
    assert prefix.ok and prefix.head[0] == head - 1
    c.vault.close()
    conn = raw(c.path)
    conn.execute("UPDATE statements SET body = replace(body, 'Dave', 'Mall') WHERE seq = ?",
                 (head,))
    conn.close()
    c.vault = Vault.open(c.path)
    result = verify_vault(c.vault, start=prefix)
    assert not result.ok and result.bad_statement == head
    assert "changed after it was written" in result.problem


def test_a_rolled_back_log_is_named_against_the_verified_head(signed: Any) -> None:
    c = signed
    with c.vault.signed_by(signer(c, "Alice")):
        c.vault.add_custodian("Dave", contact="", role="", actor="op")
    seen = verify_vault(c.vault)
    c.vault.close()
    conn = raw(c.path)
    conn.execute("DELETE FROM statements WHERE seq = ?", (seen.head[0],))
    conn.close()
    c.vault = Vault.open(c.path)
    result = verify_vault(c.vault, start=seen)
    assert not result.ok and "older copy" in result.problem


def test_checks_in_one_process_resume_and_audit_verify_replays_in_full(
        signed: Any, statements_read: list[int]) -> None:
    c = signed
    first = verify_vault(c.vault)
    assert c.vault.verified_state is first
    with c.vault.signed_by(signer(c, "Alice")):
        c.vault.add_custodian("Dave", contact="", role="", actor="op")
    read = statements_read
    read.clear()
    resumed = verify_vault(c.vault)
    assert resumed.ok and read == [first.head[0] + 1]
    read.clear()
    full = verify_vault(c.vault, full=True)
    assert full.ok and read[0] == 1 and len(read) == full.statements
    assert (full.head, full.tables) == (resumed.head, resumed.tables)
