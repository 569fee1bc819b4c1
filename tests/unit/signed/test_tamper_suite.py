"""The tamper suite, generated from the schema: every table and column of a signed
vault, edited (with and without the chain recomputed), a row deleted, a row inserted —
each caught by the replay (what `tessera audit verify` runs) and named.

Each attack runs twice: against the full replay, and against what opening the vault
runs on a workstation that verified it before the attack (the replay resumed from the
verified state this computer keeps, the tables compared in full)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from helpers.attacker import raw
from helpers.signed import pin_as_real
from tessera.core import canonical
from tessera.custody.log_check import check_vault
from tessera.custody.signing import verify_vault
from tessera.vault import Vault, schema, statements
from tessera.vault.workstation_pins import WorkstationPins


def _schema_tables() -> list[statements.Table]:
    conn = sqlite3.connect(":memory:")
    for migration in schema.MIGRATIONS:
        migration(conn)
    return statements.projected_tables(conn)


TABLES = _schema_tables()
CELLS = [(t.name, c) for t in TABLES for c in t.columns]


def test_the_suite_covers_every_table_and_column_of_the_schema() -> None:
    names = {t.name for t in TABLES}
    assert {"tokens", "custodians", "meta", "record_hooks", "releases", "approvals",
            "sheets", "envelopes", "versions", "records", "drills", "rewraps"} <= names
    assert ("tokens", "recipient") in CELLS and ("meta", "value") in CELLS


def _other_value(conn: sqlite3.Connection, table: str, column: str, value: Any) -> Any:
    if isinstance(value, bytes):
        return value + b"\x00"
    if isinstance(value, int):
        return value + 1000
    if value is None:
        return "planted"
    return value + "x"


def _first_row(conn: sqlite3.Connection, table: str) -> sqlite3.Row:
    conn.row_factory = sqlite3.Row
    row = conn.execute(f'SELECT rowid AS _rid, * FROM "{table}" ORDER BY rowid LIMIT 1'
                       ).fetchone()
    assert row is not None, f"the populated vault has no {table} row: extend the fixture"
    return row


@pytest.fixture(params=["full", "on open"])
def signed(request: Any, signed: Any, tmp_path: Path) -> Any:
    """The signed vault, and how it is checked after the attack (``signed.verify``)."""
    if request.param == "full":
        def verify(path: Path) -> statements.Replay:
            with Vault.open(path) as vault:
                return verify_vault(vault)
        signed.resumed = False
    else:
        pins = WorkstationPins(tmp_path / "workstation")
        assert check_vault(signed.vault, pins).ok  # this computer verified it before
        pin_as_real(pins, signed.vault)

        def verify(path: Path) -> statements.Replay:
            with Vault.open(path) as vault:
                result = check_vault(vault, pins)
            assert result.resumed_from or not result.ok, "the check did not resume"
            return result
        signed.resumed = True
    signed.verify = verify
    return signed


@pytest.mark.parametrize(("table", "column"), CELLS, ids=[f"{t}.{c}" for t, c in CELLS])
def test_an_edited_cell_is_named(signed: Any, table: str, column: str) -> None:
    signed.vault.close()
    conn = raw(signed.path)
    row = _first_row(conn, table)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?',
                 (_other_value(conn, table, column, row[column]), row["_rid"]))
    conn.close()
    result = signed.verify(signed.path)
    assert not result.ok
    assert result.difference is not None, result.problem
    assert result.difference.table == table
    # A changed key reads as one row gone and another one planted; else the column.
    table_key = next(t.key for t in TABLES if t.name == table)
    if column in table_key:
        assert result.difference.column is None
    else:
        assert result.difference.column == column
        assert column in result.problem


def _rewrite_from(conn: sqlite3.Connection, seq: int, edit: Any) -> None:
    """Edit statement ``seq``'s body and recompute every hash after it (the attacker
    cannot re-make the signatures)."""
    rows = conn.execute("SELECT seq, body FROM statements WHERE seq >= ? ORDER BY seq",
                        (seq,)).fetchall()
    prev = conn.execute("SELECT hash FROM statements WHERE seq = ?", (seq - 1,)).fetchone()
    prev_hash = prev[0] if prev else statements.ZERO
    for n, body_text in rows:
        body = json.loads(body_text)
        body["prev"] = prev_hash
        if n == seq:
            edit(body)
        body_bytes = canonical.dumps(body)
        prev_hash = statements.statement_hash(prev_hash, body_bytes)
        conn.execute("UPDATE statements SET body = ?, hash = ? WHERE seq = ?",
                     (body_bytes.decode(), prev_hash, n))


@pytest.mark.parametrize(("table", "column"), CELLS, ids=[f"{t}.{c}" for t, c in CELLS])
def test_an_edit_with_the_chain_recomputed_is_caught(signed: Any, table: str,
                                                     column: str) -> None:
    signed.vault.close()
    conn = raw(signed.path)
    row = _first_row(conn, table)
    new_value = _other_value(conn, table, column, row[column])
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?',
                 (new_value, row["_rid"]))
    # Find the statement that set this row and make it say the new value.
    table_key = next(t.key for t in TABLES if t.name == table)
    key = [row[c] for c in table_key]
    target = None
    for seq, body_text in conn.execute("SELECT seq, body FROM statements ORDER BY seq"):
        body = json.loads(body_text)
        if any(ch["t"] == table and ch["k"] == key and ch["row"] for ch in body["changes"]):
            target = seq
    assert target is not None
    stored = (({"sha256": hashlib.sha256(new_value).hexdigest()})
              if isinstance(new_value, bytes) else new_value)

    def edit(body: dict[str, Any]) -> None:
        for ch in body["changes"]:
            if ch["t"] == table and ch["k"] == key and ch["row"]:
                ch["row"][column] = stored
                if column in table_key:
                    ch["k"] = [ch["row"][c] for c in table_key]

    _rewrite_from(conn, target, edit)
    conn.close()
    result = signed.verify(signed.path)
    assert not result.ok
    if signed.resumed and result.resumed_from:
        # The recomputed chain no longer holds the statement verified before. (An edit
        # of the vault's id finds no store: the full replay then names it.)
        assert "was rewritten" in result.problem, result.problem
    else:
        assert "signature" in result.problem and "does not verify" in result.problem, \
            result.problem
    assert result.bad_statement is not None


@pytest.mark.parametrize("table", [t.name for t in TABLES])
def test_a_deleted_row_is_named(signed: Any, table: str) -> None:
    signed.vault.close()
    conn = raw(signed.path)
    conn.execute("PRAGMA foreign_keys = OFF")
    row = _first_row(conn, table)
    conn.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (row["_rid"],))
    conn.close()
    result = signed.verify(signed.path)
    assert not result.ok and result.difference is not None
    assert result.difference.table == table and result.difference.column is None
    assert "deleted" in result.problem


@pytest.mark.parametrize("table", [t.name for t in TABLES])
def test_an_inserted_row_is_named(signed: Any, table: str) -> None:
    signed.vault.close()
    conn = raw(signed.path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA ignore_check_constraints = ON")
    row = _first_row(conn, table)
    info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    columns = [i[1] for i in info]
    values = [row[c] for c in columns]
    for i, spec in enumerate(info):
        if spec[5] or columns[i] in ("name_key", "label_key", "recipient"):
            values[i] = _other_value(conn, table, columns[i], values[i]) \
                if not isinstance(values[i], int) else values[i] + 1000
    placeholders = ", ".join("?" for _ in columns)
    conn.execute(f'INSERT INTO "{table}" VALUES ({placeholders})', values)
    conn.close()
    result = signed.verify(signed.path)
    assert not result.ok and result.difference is not None
    assert result.difference.table == table and result.difference.column is None
    assert "no signed statement" in result.problem


def test_an_untouched_signed_vault_verifies(signed: Any) -> None:
    result = verify_vault(signed.vault)
    assert result.ok, result.problem
    assert result.genesis is not None
    assert result.statements > 5
