"""A full verify on a computer that verified the log before: every hash and link is
recomputed, and the canonical form of each entry's details is judged once per computer —
the entries up to the head verified then are proven the same by the recomputed chain.
Tried as an attacker would: planting details that are not canonical JSON, with the chain
recomputed around them, before and after that head."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

import pytest
from vault_fixtures import add_entries, raw

from tessera.custody.log_check import check_vault
from tessera.vault import Vault, audit
from tessera.vault.audit import entry_bytes, link
from tessera.vault.models import AuditVerdict
from tessera.vault.workstation_pins import WorkstationPins

# Parses as JSON, but not canonical: the space and the key order.
NOT_CANONICAL = '{"serial": 3, "extra": 1}'


def rewrite(conn: sqlite3.Connection, seq: int, details: str, *, rechain: bool = True) -> None:
    """Put ``details`` into entry ``seq`` with a hash that matches it and, with
    ``rechain``, every later entry re-linked and re-hashed: a consistent chain."""
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    rows = conn.execute("SELECT seq, at, actor, action, subject, details, prev_hash FROM audit"
                        " WHERE seq >= ? ORDER BY seq", (seq,)).fetchall()
    prev = rows[0][6]
    for number, at, actor, action, subject, text, _ in rows:
        if number == seq:
            text = details
        digest = link(prev, entry_bytes(number, at, actor, action, subject, text))
        conn.execute("UPDATE audit SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (text, prev, digest, number))
        prev = digest
        if not rechain:
            break


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The details texts whose form a verify judges, in order."""
    seen: list[str] = []
    real: Callable[[object], bool] = audit._canonical_details

    def counting(text: object) -> bool:
        seen.append(str(text))
        return real(text)

    monkeypatch.setattr(audit, "_canonical_details", counting)
    yield seen


def full_check(vault: Vault, pins: WorkstationPins) -> AuditVerdict:
    state = check_vault(vault, pins, full=True)
    assert state.audit is not None, state.problem
    return state.audit


def test_a_full_check_judges_only_the_forms_not_judged_here_before(
        vault: Vault, pins: WorkstationPins, judged: list[str]) -> None:
    assert check_vault(vault, pins).ok
    judged.clear()
    add_entries(vault, 3, start=100)
    verdict = full_check(vault, pins)
    assert (verdict.ok, verdict.entries, verdict.from_seq) == (True, 13, 0)
    # Entries 11-13 are new here: their details are judged, the first ten are not.
    assert judged == ['{"serial":100}', '{"serial":101}', '{"serial":102}']


def test_without_a_verified_head_a_full_check_judges_every_form(
        vault: Vault, judged: list[str]) -> None:
    state = check_vault(vault, None, full=True)
    assert state.ok and state.audit is not None and state.audit.entries == 10
    assert len(judged) == 10  # every entry's (entry 1 is the vault's creation)


def test_details_planted_after_the_verified_head_are_found(vault: Vault,
                                                           pins: WorkstationPins) -> None:
    assert check_vault(vault, pins).ok
    add_entries(vault, 3, start=100)
    rewrite(raw(vault), 12, NOT_CANONICAL)  # a consistent chain around them
    verdict = full_check(vault, pins)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 12)
    assert "not canonical JSON" in verdict.problem


def test_details_planted_before_it_with_the_chain_recomputed_are_found(
        vault: Vault, pins: WorkstationPins) -> None:
    assert check_vault(vault, pins).ok
    rewrite(raw(vault), 3, NOT_CANONICAL)
    state = check_vault(vault, pins, full=True)
    assert not state.ok
    # The chain no longer reaches the head verified here: the whole log is judged again,
    # and the planted entry is named as the plain verify names it.
    assert state.audit is not None and not state.audit.ok
    assert state.audit.first_bad_seq == 3
    assert "not canonical JSON" in state.audit.problem


def test_an_edit_that_breaks_the_chain_is_named_as_before(vault: Vault,
                                                          pins: WorkstationPins) -> None:
    assert check_vault(vault, pins).ok
    rewrite(raw(vault), 3, NOT_CANONICAL, rechain=False)  # entry 4 no longer follows
    verdict = full_check(vault, pins)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 3)
    assert "not canonical JSON" in verdict.problem
    assert verdict == vault.verify_audit()  # as the plain verify names it


def test_the_verify_trusts_exactly_the_entry_and_hash_it_is_given(vault: Vault) -> None:
    conn = raw(vault)
    before = conn.execute("SELECT hash FROM audit WHERE seq = 6").fetchone()[0]
    rewrite(conn, 3, NOT_CANONICAL)
    after = conn.execute("SELECT hash FROM audit WHERE seq = 6").fetchone()[0]
    plain = vault.verify_audit()
    assert (plain.ok, plain.first_bad_seq) == (False, 3)
    # A head whose hash is not the log's: nothing is taken on trust.
    assert vault.verify_audit(forms_checked=(6, before)) == plain
    # A head past the log's end (a rolled-back copy): likewise.
    assert vault.verify_audit(forms_checked=(60, after)) == plain
    # The log's own entry 6 with its own hash: the computer says it judged entries 1-6
    # (and a store that says so falsely is outside what the verify can know; the chain
    # itself still verifies, every hash recomputed).
    trusted = vault.verify_audit(forms_checked=(6, after))
    assert (trusted.ok, trusted.entries) == (True, 10)
    # An entry after it is judged again.
    assert not vault.verify_audit(forms_checked=(2, conn.execute(
        "SELECT hash FROM audit WHERE seq = 2").fetchone()[0])).ok


def test_the_cli_full_verify_on_a_computer_that_verified_before(vault: Vault,
                                                                pins: WorkstationPins,
                                                                judged: list[str]) -> None:
    assert check_vault(vault, pins).ok
    assert check_vault(vault, pins, full=True).ok
    judged.clear()
    assert check_vault(vault, pins, full=True).ok
    assert judged == []  # nothing new since: every form was judged here before
