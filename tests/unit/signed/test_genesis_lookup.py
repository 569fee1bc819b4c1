"""The genesis fingerprint is looked up once while the statement log does not move.

Looking for the genesis statement scans the statement log (no index on its kind): 7 ms
at 5,000 records on an unsigned vault, asked on the GUI thread a dozen times a session
(the status bar, the operator control, the enrolment wizard). The log is append-only
and hash-chained, so while its head (seq and hash) is the same, so is its genesis;
a head that moved, forward or back (a rolled-back transaction), looks again."""

from __future__ import annotations

from pathlib import Path

from helpers.ceremony import Ceremony, build
from helpers.signed import populated, sign_genesis


def scans(c: Ceremony) -> list[str]:
    seen: list[str] = []
    c.vault._conn.set_trace_callback(  # counting what reaches SQLite
        lambda sql: seen.append(sql) if "kind = 'genesis'" in sql else None)
    return seen


def test_the_genesis_is_looked_up_again_only_when_the_log_moves(tmp_path: Path) -> None:
    c = populated(tmp_path)
    seen = scans(c)
    assert c.vault.genesis_fingerprint() is None
    assert c.vault.genesis_fingerprint() is None
    assert len(seen) == 1
    fingerprint = sign_genesis(c)  # a statement appended: the head moved
    assert c.vault.genesis_fingerprint() == fingerprint
    assert c.vault.genesis_fingerprint() == fingerprint
    assert len([s for s in seen if s.startswith("SELECT")]) == 2
    c.vault.close()


def test_a_genesis_rolled_back_is_not_remembered(tmp_path: Path) -> None:
    c = build(tmp_path)
    vault = c.vault
    assert vault.genesis_fingerprint() is None
    seq = vault.statement_head()[0] + 1
    try:
        with vault.transaction():
            vault._conn.execute(  # a statement the transaction then drops
                "INSERT INTO statements (seq, kind, body, hash, signatures)"
                " VALUES (?, 'genesis', '{}', ?, '[]')", (seq, "ab" * 32))
            assert vault.genesis_fingerprint() == "ab" * 32  # seen inside
            raise RuntimeError("abandoned")
    except RuntimeError:
        pass
    assert vault.statement_head()[0] == seq - 1
    assert vault.genesis_fingerprint() is None
    vault.close()
