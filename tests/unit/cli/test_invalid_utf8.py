"""Bytes that are not UTF-8 in any argument of any command give a clear message.

The commands are generated from the click command tree, so a command added later is
tested too. Python hands such bytes over as lone surrogates (``surrogateescape``);
one test passes real bytes through ``execve`` to prove that is what arrives.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from helpers.cli import run
from tessera.cli import cli

BAD = "caf\udce9"  # b"caf\xe9": Latin-1, not UTF-8


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()
                  ) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += leaf_commands(command, (*prefix, name))
        else:
            found.append(((*prefix, name), command))
    return found


def hostile_args(path: tuple[str, ...], command: click.Command) -> list[list[str]]:
    """The command with the bad text as each argument, and as each option's value."""
    cases = []
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    for i in range(len(arguments)):
        values = ["x"] * len(arguments)
        values[i] = BAD
        cases.append([*path, *values])
    for option in command.params:
        if isinstance(option, click.Option) and not option.is_flag and option.opts:
            cases.append([*path, *(["x"] * len(arguments)), option.opts[0], BAD])
    return cases or [[*path, BAD]]


CASES = [args for path, command in leaf_commands(cli) for args in hostile_args(path, command)]
CASES += [["--actor", BAD, "record", "list"], ["--vault", BAD, "record", "list"]]


def test_the_tree_is_walked() -> None:
    names = {" ".join(path) for path, _ in leaf_commands(cli)}
    assert {"release run", "release abort", "sheet scan", "audit export", "hook set",
            "custodian add"} <= names
    assert len(CASES) > 60


@pytest.mark.parametrize("args", CASES, ids=[" ".join(a).replace(BAD, "BAD") for a in CASES])
def test_invalid_utf8_is_a_clear_message(tmp_path: Path, args: list[str]) -> None:
    r = run("--vault", str(tmp_path / "v.sqlite3"), *args)
    assert r.code == 65, r.text
    assert "is not valid UTF-8 (byte 0xe9" in r.err
    assert "internal error" not in r.text


def test_invalid_utf8_in_a_tessera_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_ACTOR", BAD)
    r = run("record", "list")
    assert r.code == 65 and "TESSERA_ACTOR is not valid UTF-8" in r.err


def test_real_bytes_from_the_command_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable.encode(), b"-m", b"tessera", b"--vault",
                           os.fsencode(tmp_path / "v.sqlite3"), b"custodian", b"add",
                           b"Ren\xe9"], capture_output=True, check=False)
    assert done.returncode == 65, done.stderr
    assert b"argument 5 is not valid UTF-8 (byte 0xe9 at character 4)" in done.stderr
