"""The revocation hook after a completed release: success, failure and timeout are all
in the audit log and shown; nothing secret reaches the hook's environment."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

import pytest

from helpers.ceremony import Ceremony, ScriptedPrompts
from helpers.cli import run
from tessera.core.errors import InputError
from tessera.custody.hooks import hook_environment, run_revocation_hook
from tessera.custody.release import ReleaseCeremony


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(0o700)
    return str(path)


def released(c: Ceremony) -> str:
    ceremony = ReleaseCeremony(c.vault, c.drivers, c.record_id, reason="restore",
                               ticket="INC-5", requested_by="op")
    for name in ("Alice", "Bob"):
        ceremony.contribute_token(c.tokens[name].id, ScriptedPrompts(), threading.Event())
    secret = ceremony.finish()
    secret[:] = b"\0" * len(secret)
    return ceremony.release_id


def test_hook_gets_the_ids_and_nothing_secret(c: Ceremony, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    ok = script(tmp_path, "disable.sh",
                'echo "disable $1 $2 ${AWS_SECRET_ACCESS_KEY:-clean} $TESSERA_RELEASE_ID"')
    c.vault.set_revocation_hook(c.record_id, [ok], 10, "op")
    release_id = released(c)
    outcome = run_revocation_hook(c.vault, c.record_id, release_id, actor="op")
    assert outcome is not None and outcome.ok
    assert outcome.stdout.split() == ["disable", c.record_id, release_id, "clean", release_id]
    entry = c.vault.audit_entries(action="hook.run")[-1]
    assert entry.details["exit_status"] == 0
    assert "do-not-leak" not in c.vault.export_audit()


def test_hook_environment_is_an_allow_list() -> None:
    env = hook_environment({"PATH": "/usr/bin", "TESSERA_PASSPHRASE": "x", "GITHUB_TOKEN": "y",
                            "LANG": "C"}, record_id="r", release_id="q")
    assert env == {"PATH": "/usr/bin", "LANG": "C", "TESSERA_RECORD_ID": "r",
                   "TESSERA_RELEASE_ID": "q"}


def test_failing_hook_is_recorded_and_described(c: Ceremony, tmp_path: Path) -> None:
    bad = script(tmp_path, "disable.sh", 'echo "API unreachable" >&2; exit 3')
    c.vault.set_revocation_hook(c.record_id, [bad], 10, "op")
    outcome = run_revocation_hook(c.vault, c.record_id, released(c), actor="op")
    assert outcome is not None and not outcome.ok
    assert outcome.describe() == ("the revocation hook disable.sh failed with exit status 3: "
                                  "API unreachable")
    entry = c.vault.audit_entries(action="hook.fail")[-1]
    assert (entry.details["exit_status"], entry.details["stderr"]) == (3, "API unreachable\n")


def test_hook_that_hangs_is_stopped_at_its_timeout(c: Ceremony, tmp_path: Path) -> None:
    slow = script(tmp_path, "slow.sh", "sleep 30")
    c.vault.set_revocation_hook(c.record_id, [slow], 1, "op")
    outcome = run_revocation_hook(c.vault, c.record_id, released(c), actor="op")
    assert outcome is not None and outcome.timed_out and not outcome.ok
    assert "did not finish in time" in outcome.describe()
    assert c.vault.audit_entries(action="hook.fail")[-1].details["timed_out"] is True


def test_hook_that_closes_its_output_and_hangs_is_still_stopped(c: Ceremony,
                                                                tmp_path: Path) -> None:
    quiet = script(tmp_path, "quiet.sh", "exec >/dev/null 2>&1; sleep 600")
    c.vault.set_revocation_hook(c.record_id, [quiet], 1, "op")
    outcome = run_revocation_hook(c.vault, c.record_id, released(c), actor="op")
    assert outcome is not None and outcome.timed_out


def test_missing_program_is_a_failure_not_a_crash(c: Ceremony, tmp_path: Path) -> None:
    c.vault.set_revocation_hook(c.record_id, [str(tmp_path / "nowhere")], 5, "op")
    outcome = run_revocation_hook(c.vault, c.record_id, released(c), actor="op")
    assert outcome is not None and not outcome.ok and "could not run" in outcome.describe()


def test_no_hook_means_nothing_runs(c: Ceremony) -> None:
    assert run_revocation_hook(c.vault, c.record_id, released(c), actor="op") is None
    with pytest.raises(InputError):
        c.vault.set_revocation_hook(c.record_id, [], 5, "op")


def test_cli_release_shows_the_hooks_result(c: Ceremony, tmp_path: Path) -> None:
    c.vault.close()
    vault = ["--vault", str(c.path), "--virtual-touch", "immediate"]
    ok = script(tmp_path, "ok.sh", "exit 0")
    r = run(*vault, "hook", "set", "Deploy key", "--timeout", "5", "--", ok, "--flag")
    assert r.code == 0, r.text
    assert "--flag RECORD_ID RELEASE_ID" in r.out
    release = [*vault, "release", "Deploy key", "--reason", "r", "--ticket", "T", "--approve",
               "Alice", "--approve", "Bob", "--out"]
    r = run(*release, str(tmp_path / "s1"), input="314159\n314159\n")
    assert r.code == 0, r.text
    assert "✓ the revocation hook ok.sh succeeded" in r.out
    bad = script(tmp_path, "bad.sh", "echo 'no such key' >&2; exit 2")
    assert run(*vault, "hook", "set", "Deploy key", "--", bad).code == 0
    r = run(*release, str(tmp_path / "s2"), input="314159\n314159\n")
    assert r.code == 4
    assert "bad.sh failed with exit status 2: no such key" in r.err
    assert "Disable the released credential by hand" in r.err
    assert (tmp_path / "s2").exists()  # the release itself went through
    assert run(*vault, "hook", "clear", "Deploy key").code == 0
    assert "No revocation hook" in run(*vault, "hook", "show", "Deploy key").out


# -- hostile hooks and hostile output (issue #12) ---------------------------------------

def test_an_empty_argument_is_refused_before_the_hook_is_saved(c: Ceremony,
                                                               tmp_path: Path) -> None:
    ok = script(tmp_path, "ok.sh", "exit 0")
    with pytest.raises(InputError, match="argument 1 is empty"):
        c.vault.set_revocation_hook(c.record_id, [ok, "", "--flag"], 5, "op")
    assert c.vault.revocation_hook(c.record_id) is None
    assert c.vault.audit_entries(action="hook.set") == []
    # and a release afterwards runs normally (it used to exit 65 for ever)
    assert run_revocation_hook(c.vault, c.record_id, released(c), actor="op") is None


@pytest.mark.parametrize("printed", [
    "printf '€%.0s' $(seq 2000)",                       # 6,000 bytes of UTF-8
    "printf '\\001%.0s' $(seq 2000); printf '\\033[31mred\\033[0m'",  # controls + escapes
    "head -c 3000 /dev/urandom",                          # arbitrary bytes
])
def test_any_hook_output_is_logged_safely(c: Ceremony, tmp_path: Path, printed: str) -> None:
    noisy = script(tmp_path, "noisy.sh", f"{printed}; exit 1")
    c.vault.set_revocation_hook(c.record_id, [noisy], 10, "op")
    outcome = run_revocation_hook(c.vault, c.record_id, released(c), actor="op")
    assert outcome is not None and outcome.exit_status == 1
    entry = c.vault.audit_entries(action="hook.fail")[-1]
    logged = entry.details["stdout"]
    assert logged  # the tail is there, not dropped
    assert not any(ch in logged for ch in "\x01\x1b\x9b")
    if "€" in printed:
        assert logged.endswith("€€€")
    if "033" in printed:
        assert logged.endswith("\\x1b[31mred\\x1b[0m")
    assert c.vault.verify_audit().ok


def test_a_flood_of_output_is_not_held_in_memory(c: Ceremony, tmp_path: Path) -> None:
    import tracemalloc

    flood = script(tmp_path, "flood.sh", "head -c 60000000 /dev/zero | tr '\\0' a; echo end")
    c.vault.set_revocation_hook(c.record_id, [flood], 60, "op")
    release_id = released(c)
    tracemalloc.start()
    try:
        outcome = run_revocation_hook(c.vault, c.record_id, release_id, actor="op")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome is not None and outcome.ok
    assert outcome.stdout.endswith("aaaaend\n")
    assert peak < 4_000_000  # 60 MB went through; a few tail buffers stayed


def test_a_hook_whose_child_leaves_the_group_does_not_keep_us_waiting(
        c: Ceremony, tmp_path: Path) -> None:
    pidfile, done = tmp_path / "escaped.pid", tmp_path / "escaped.done"
    # The child starts its own session (out of the hook's process group) and keeps the
    # output pipes open until it has slept; the hook itself hangs past its timeout.
    hook = script(tmp_path, "escape.sh",
                  f"setsid sh -c 'echo $$ > {pidfile}; sleep 120; touch {done}' & sleep 600")
    c.vault.set_revocation_hook(c.record_id, [hook], 1, "op")
    try:
        outcome = run_revocation_hook(c.vault, c.record_id, released(c), actor="op")
        assert outcome is not None and outcome.timed_out
        assert c.vault.audit_entries(action="hook.fail")[-1].details["timed_out"] is True
        # We came back while the escaped child still held the pipes; the old code
        # waited until it let go of them (after its sleep, when it had marked "done").
        assert not done.exists()
    finally:
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pidfile.read_text()), signal.SIGKILL)
