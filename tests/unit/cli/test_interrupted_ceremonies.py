"""A release interrupted while it waits for the second custodian never blocks the record.

Real ``tessera`` processes are started and killed: SIGTERM and SIGHUP (a service stop,
a closed terminal) abort the quorum and log it, like Ctrl-C; SIGKILL cannot be caught,
so the next release finds the owner gone and expires the stale quorum, audited. One
that cannot be expired automatically (another machine) is aborted by an operator with
``tessera release abort``, which refuses to pull a quorum from under a live process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers.ceremony import PIN, Ceremony, build
from helpers.cli import run
from tessera.core.process import ProcessStamp
from tessera.vault import ReleaseState, Vault

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
HANG_GUARD_S = 120  # only so that a broken build cannot hang the suite


@pytest.fixture()
def c(tmp_path: Path) -> Ceremony:
    ceremony = build(tmp_path)
    ceremony.vault.close()
    return ceremony


def _vault_args(c: Ceremony) -> list[str]:
    return ["--vault", str(c.path), "--virtual-touch", "immediate"]


class Waiting:
    """A ``tessera release`` process that has Alice's approval and waits for the next
    custodian at its prompt."""

    def __init__(self, c: Ceremony, tmp_path: Path, command: tuple[str, ...] = ()) -> None:
        command = command or ("release", "Deploy key", "--out", str(tmp_path / "secret"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tessera", *_vault_args(c), *command,
             "--reason", "restore", "--ticket", "INC-9"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True)
        self.seen: list[str] = []
        self._expect("Next custodian")
        self._send("Alice")
        self._expect("PIN for")
        self._send(PIN)
        self._expect("Next custodian")  # Alice approved; waiting for the second

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def _expect(self, text: str) -> None:
        assert self.proc.stderr is not None
        timer = threading.Timer(HANG_GUARD_S, self.proc.kill)
        timer.start()
        try:
            for line in self.proc.stderr:
                self.seen.append(line)
                if text in line:
                    return
        finally:
            timer.cancel()
        raise AssertionError(f"{text!r} never came: {''.join(self.seen)}")

    def stop(self, sig: signal.Signals) -> tuple[int, str]:
        self.proc.send_signal(sig)
        _out, err = self.proc.communicate(timeout=HANG_GUARD_S)
        return self.proc.returncode, err


def _releases(c: Ceremony) -> list[tuple[str, ReleaseState]]:
    with Vault.open(c.path) as vault:
        return [(r.id, r.state) for r in vault.list_releases(c.record_id)]


def _actions(c: Ceremony, action: str) -> list[str]:
    with Vault.open(c.path) as vault:
        return [e.subject for e in vault.audit_entries(action=action)]


def _release_now(c: Ceremony, tmp_path: Path) -> tuple[int, str]:
    r = run(*_vault_args(c), "release", "Deploy key", "--reason", "again", "--ticket", "INC-10",
            "--approve", "Alice", "--approve", "Bob", "--out", str(tmp_path / "secret2"),
            input=f"{PIN}\n{PIN}\n")
    return r.code, r.text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_while_waiting_aborts_the_release_and_logs_it(
        c: Ceremony, tmp_path: Path, sig: signal.Signals) -> None:
    waiting = Waiting(c, tmp_path)
    [(release_id, state)] = _releases(c)
    assert state is ReleaseState.OPEN
    code, err = waiting.stop(sig)
    assert code != 0
    assert "Traceback" not in err
    assert _releases(c) == [(release_id, ReleaseState.ABORTED)]
    assert _actions(c, "release.abort") == [release_id]
    assert not (tmp_path / "secret").exists()
    code, text = _release_now(c, tmp_path)
    assert code == 0, text
    assert _actions(c, "release.expire") == []


def test_sigterm_says_what_happened(c: Ceremony, tmp_path: Path) -> None:
    code, err = Waiting(c, tmp_path).stop(signal.SIGTERM)
    assert code == 128 + signal.SIGTERM
    assert "Stopped by SIGTERM; an unfinished ceremony was aborted and logged." in err


def test_a_killed_release_is_expired_by_the_next_one(c: Ceremony, tmp_path: Path) -> None:
    waiting = Waiting(c, tmp_path)
    [(killed, _)] = _releases(c)
    waiting.stop(signal.SIGKILL)
    assert _releases(c) == [(killed, ReleaseState.OPEN)]  # nothing could run
    code, text = _release_now(c, tmp_path)
    assert code == 0, text
    states = dict(_releases(c))
    assert states[killed] is ReleaseState.ABORTED
    assert _actions(c, "release.expire") == [killed]
    assert (tmp_path / "secret2").exists()
    r = run(*_vault_args(c), "audit", "verify")
    assert r.code == 0, r.text


def test_abort_refuses_a_live_release_unless_forced(c: Ceremony, tmp_path: Path) -> None:
    waiting = Waiting(c, tmp_path)
    try:
        [(live, _)] = _releases(c)
        code, text = _release_now(c, tmp_path)
        assert code != 0
        assert f"tessera release abort {live}" in text
        r = run(*_vault_args(c), "release", "abort", live)
        assert r.code != 0 and f"still being run by process {waiting.proc.pid}" in r.err
        assert _releases(c) == [(live, ReleaseState.OPEN)]
        r = run(*_vault_args(c), "release", "abort", live, "--force")
        assert r.code == 0, r.text
        assert _releases(c) == [(live, ReleaseState.ABORTED)]
    finally:
        waiting.stop(signal.SIGKILL)


def test_abort_clears_a_release_left_open_on_another_machine(c: Ceremony,
                                                              tmp_path: Path) -> None:
    from tessera.core.request import new_request

    with Vault.open(c.path) as vault:
        manifest = vault.get_version(c.record_id).manifest
        request = new_request("release", manifest, reason="restore", ticket="INC-1",
                              requested_by="op")
        vault.start_release(c.record_id, request.to_bytes(), request.request_id, "restore",
                            "INC-1", "op", owner_stamp=ProcessStamp("laptop-2", "", 77, "9"))
    code, text = _release_now(c, tmp_path)
    assert code != 0 and "process 77 on laptop-2" in text
    r = run(*_vault_args(c), "--actor", "Olivia", "release", "abort", "Deploy key")
    assert r.code == 0, r.text
    assert "Aborted release" in r.out
    with Vault.open(c.path) as vault:
        entry = vault.audit_entries(action="release.abort")[-1]
    assert (entry.subject, entry.actor) == (request.request_id, "Olivia")
    assert entry.details["owner"] == "process 77 on laptop-2"
    code, text = _release_now(c, tmp_path)
    assert code == 0, text
    r = run(*_vault_args(c), "release", "list", "Deploy key")
    assert r.code == 0 and r.out.count("aborted") == 1 and r.out.count("released") == 1


@pytest.mark.parametrize("command", [("reshare", "Deploy key"),
                                     ("revoke", "Deploy key", "Carol")],
                         ids=["reshare", "revoke"])
def test_sighup_during_a_reshare_or_revoke_aborts_its_quorum(
        c: Ceremony, tmp_path: Path, command: tuple[str, ...]) -> None:
    waiting = Waiting(c, tmp_path, command)
    [(quorum_id, state)] = _releases(c)
    assert state is ReleaseState.OPEN
    code, err = waiting.stop(signal.SIGHUP)
    assert code == 128 + signal.SIGHUP, err
    assert _releases(c) == [(quorum_id, ReleaseState.ABORTED)]
    assert _actions(c, "reshare.abort") == [quorum_id]
    with Vault.open(c.path) as vault:
        assert vault.get_version(c.record_id).version == 1  # no new share set
