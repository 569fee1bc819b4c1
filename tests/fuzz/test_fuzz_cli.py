"""Command-line arguments from outside: every command, with its own options and odd
values, ends in a result or a clean message and exit code — never "internal error",
never a traceback — and a refused command leaves the vault exactly as it was.

Two commands are left out on purpose: ``gui`` (opens a window) and ``hook set``
(would let the fuzzer choose a program that a later release runs); ``demo`` runs a
whole scripted ceremony and is covered by its own tests.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from fuzzing import fuzz
from hypothesis import given
from hypothesis import strategies as st

from helpers.cli import run
from tessera.cli.main import EXIT_INTERNAL, cli

SKIPPED = {("gui",), ("demo",), ("hook", "set")}


def _commands(command: click.Command, path: tuple[str, ...] = ()
              ) -> Iterator[tuple[tuple[str, ...], list[str]]]:
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))
    elif path not in SKIPPED:
        yield path, [opt for p in command.params for opt in p.opts if opt.startswith("-")]


COMMANDS = list(_commands(cli))
# Values a person might type, values that are wrong in interesting ways, and noise.
VALUES = st.one_of(
    st.sampled_from(["Alice", "Bob", "alice", "AWS root", "aws ROOT", "2", "1", "0", "-1", "17",
                     "99999999999999999999", "", " ", "yes", "no", "fido2", "piv", "software",
                     "csv", "jsonl", "a4", "letter", "g0m0", "SH-AAAA-BBBB", "out.pdf",
                     "missing.tessera", ".", "--", "-", "=1+1", "Al\u202eice", "Bob\x1b[2J",
                     "\u0410lice", "hardware_only", "drill_days", "TSR-AAAA"]),
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/\\~"),
            max_size=20))


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [line for line in conn.iterdump()]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("fuzz-cli")
    path = folder / "vault.sqlite3"
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    os.environ.update({"TESSERA_VAULT": str(path), "TESSERA_ACTOR": "operator",
                       "TESSERA_PASSPHRASE": "correct horse battery staple"})
    os.chdir(folder)  # any file a command writes lands here
    try:
        assert run("init", "--demo").code == 0
        for name in ("Alice", "Bob", "Carol"):
            assert run("custodian", "add", name).code == 0
            assert run("token", "enroll", name, "--kind", "software").code == 0
        assert run("record", "create", "--label", "AWS root", "--custodian", "Alice",
                   "--custodian", "Bob", "--custodian", "Carol", "-k", "2",
                   input="s3cret\n").code == 0
        yield path
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


# Exit codes of a refusal before anything is done: usage, bad input, policy, not found.
REFUSED = {2, 65, 66, 67}


@fuzz(quick=80, long=3000)
@given(st.data())
def test_any_command_with_odd_arguments_ends_cleanly(vault: Path, data: st.DataObject) -> None:
    path, options = data.draw(st.sampled_from(COMMANDS))
    args: list[str] = list(path)
    for _ in range(data.draw(st.integers(0, 6))):
        if options and data.draw(st.booleans()):
            args.append(data.draw(st.sampled_from(options)))
        args.append(data.draw(VALUES))
    before = _dump(vault)
    result = run(*args, input="")
    assert result.code != EXIT_INTERNAL, (args, result.text)
    assert "internal error" not in result.text and "Traceback" not in result.text, args
    if result.code in REFUSED:
        assert _dump(vault) == before, (args, result.text)
