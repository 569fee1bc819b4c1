"""Names people can trust, on the command line: hostile text is refused with its
position, look-alikes need --allow-lookalike, and nothing from the vault reaches the
terminal as a raw escape or direction override."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from helpers.cli import run

RAW = ("\x1b", "\x9b", "\u202e", "\x07", "\u200b")


@pytest.fixture()
def vault_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vault.sqlite3"
    monkeypatch.setenv("TESSERA_VAULT", str(path))
    monkeypatch.setenv("TESSERA_ACTOR", "operator")
    assert run("init", "--demo").code == 0
    return path


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.mark.parametrize(("args", "what", "position"), [
    (("custodian", "add", "Al\u202eice"), "custodian name", 3),
    (("custodian", "add", "Alice\x1b]0;owned\x07"), "custodian name", 6),
    (("custodian", "add", "Alice", "--contact", "a@x\u200b"), "contact", 4),
    (("custodian", "add", "Alice", "--role", "SRE\x9b2J"), "role", 4),
    (("--actor", "ops\u2066", "custodian", "add", "Alice"), "actor", 4),
])
def test_hostile_names_are_refused_with_their_position(vault_path: Path, args: tuple[str, ...],
                                                       what: str, position: int) -> None:
    before = dump(vault_path)
    r = run(*args)
    assert r.code == 65, r.text
    assert what in r.err and f"position {position}" in r.err
    assert not any(ch in r.text for ch in RAW)
    assert dump(vault_path) == before


def test_a_lookalike_custodian_needs_allow_lookalike(vault_path: Path) -> None:
    assert run("custodian", "add", "Alice").code == 0
    before = dump(vault_path)
    r = run("custodian", "add", "\u0410lice")  # Cyrillic А
    assert r.code == 66, r.text
    assert "looks like" in r.err and "'Alice'" in r.err and "--allow-lookalike" in r.err
    assert dump(vault_path) == before
    r = run("custodian", "add", "\u0410lice", "--allow-lookalike")
    assert r.code == 0, r.text
    assert "warning" in r.err and "looks like" in r.err
    listed = run("custodian", "list").out
    assert "Alice" in listed and "\u0410lice" in listed


def test_old_hostile_rows_come_out_escaped_on_the_terminal(vault_path: Path) -> None:
    """A vault written before these checks cannot drive the terminal (nor can the
    message that refuses a vault edited by hand)."""
    from tessera.vault import audit, schema

    assert run("custodian", "add", "Mallory").code == 0
    conn = sqlite3.connect(vault_path)
    conn.execute("UPDATE custodians SET name = ?, role = ? WHERE name = 'Mallory'",
                 ("Mal\x1b[2J\x1b]0;pwned\x07lory\u202e", "SRE\x9b31m"))
    conn.commit()
    refused = run("custodian", "list")  # edited by hand: refused, the row named, escaped
    assert refused.code == 78 and "custodians row" in refused.err
    assert not any(ch in refused.text for ch in RAW)
    # What an old vault holds: those rows, and a hostile actor in an intact chain, from
    # before the statement log (the migration to it lists the rows as they are).
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    prev = audit.ZERO_HASH
    rows = conn.execute("SELECT seq, at, actor, action, subject, details FROM audit"
                        " ORDER BY seq").fetchall()
    for seq, at, actor, action, subject, details in rows:
        actor = "=op\x1b[8m" if seq == 1 else actor
        digest = audit.link(prev, audit.entry_bytes(seq, at, actor, action, subject, details))
        conn.execute("UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (actor, prev, digest, seq))
        prev = digest
    conn.execute("DROP TABLE statements")
    conn.execute(f"PRAGMA user_version = {schema.STATEMENTS_SCHEMA - 1}")
    conn.commit()
    conn.close()
    listed = run("custodian", "list")
    assert listed.code == 0
    assert not any(ch in listed.text for ch in RAW)
    # (click itself drops CSI colour sequences when output is not a terminal; the
    # window-title sequence and the override are spelled out by Tessera.)
    assert "\\u001b]0;pwned\\u0007lory\\u202e" in listed.out
    for fmt in ("jsonl", "csv"):
        exported = run("audit", "export", "--format", fmt)
        assert exported.code == 0
        assert not any(ch in exported.text for ch in RAW)
    # An unknown name typed back in an error is escaped too.
    r = run("token", "enroll", "Eve\x1b[2J", "--kind", "software")
    assert r.code != 0 and "\x1b" not in r.text


def test_on_a_real_terminal_escapes_are_spelled_out_and_only_our_colour_is_raw(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    import click

    from tessera.cli.terminal import secho, visible_output

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, err = Tty(), Tty()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    with visible_output():
        click.echo("Mallory\x1b[2J\u202e")
        secho("error: Eve\x1b[8m", fg="red", err=True)
    assert out.getvalue() == "Mallory\\u001b[2J\\u202e\n"
    assert err.getvalue() == "\x1b[31merror: Eve\\u001b[8m\x1b[0m\n"
