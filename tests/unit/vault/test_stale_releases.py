"""An open quorum left behind by a process that is gone no longer blocks the record.

Each release is stamped with the process running it (host, boot id, pid, start
time). A stamp whose process is provably gone is expired, audited, when the next
quorum is asked for; a live one, or one from another machine, is refused and can be
aborted by an operator with an audit entry. Real processes are started and killed
here: a reused pid must not pass for the original.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from vault_fixtures import ACTOR, World, create, open_vault, populate, release_request

from tessera.core import process
from tessera.core.errors import PolicyError
from tessera.core.process import Liveness, ProcessStamp
from tessera.vault import ReleaseState

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="process start times are read from /proc (Linux)")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return populate(open_vault(tmp_path / "vault.sqlite3"))


def _stamp_of(pid: int) -> ProcessStamp:
    here = process.current()
    ticks = process._start_ticks(process.PROC, pid)
    assert ticks
    return ProcessStamp(host=here.host, boot_id=here.boot_id, pid=pid, started=ticks)


def _dead_stamp() -> ProcessStamp:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stamp = _stamp_of(child.pid)
        assert process.liveness(stamp) is Liveness.RUNNING
    finally:
        child.kill()
        child.wait()
    return stamp


def _start(world: World, record_id: str, stamp: ProcessStamp | None = None) -> str:
    record = world.vault.get_record(record_id)
    release_id, request = release_request(world.vault, record)
    world.vault.start_release(record.id, request, release_id, "CA compromise drill", "INC-42",
                              ACTOR, owner_stamp=stamp)
    return release_id


def test_a_release_names_the_process_running_it(world: World) -> None:
    record = create(world)
    release_id = _start(world, record.id)
    owner = world.vault.release_owner(release_id)
    assert owner is not None
    assert owner.pid == os.getpid()
    assert process.liveness(owner) is Liveness.RUNNING


def test_a_release_whose_process_was_killed_is_expired_and_audited(world: World) -> None:
    record = create(world)
    stale = _start(world, record.id, _dead_stamp())
    fresh = _start(world, record.id)
    assert world.vault.get_release(stale).state is ReleaseState.ABORTED
    assert world.vault.get_release(fresh).state is ReleaseState.OPEN
    expired = world.vault.audit_entries(action="release.expire")
    assert [e.subject for e in expired] == [stale]
    assert expired[0].details["owner_state"] == "gone"
    assert world.vault.verify_audit().ok


def test_a_reused_pid_is_not_mistaken_for_the_owner(world: World) -> None:
    # This very process stands in for an unrelated process that got the dead owner's
    # pid: same pid, other start time.
    here = process.current()
    reused = ProcessStamp(here.host, here.boot_id, here.pid, str(int(here.started) - 1))
    assert process.liveness(reused) is Liveness.GONE
    record = create(world)
    stale = _start(world, record.id, reused)
    _start(world, record.id)
    assert world.vault.get_release(stale).state is ReleaseState.ABORTED


def test_a_release_after_a_restart_is_gone(world: World) -> None:
    here = process.current()
    before_reboot = ProcessStamp(here.host, "00000000-0000-4000-8000-000000000000", here.pid,
                                 here.started)
    assert process.liveness(before_reboot) is Liveness.GONE


def test_a_live_release_still_blocks_and_says_how_to_abort(world: World) -> None:
    record = create(world)
    live = _start(world, record.id)
    with pytest.raises(PolicyError, match=f"still open by process {os.getpid()} .*"
                                          f"tessera release abort {live}"):
        _start(world, record.id)
    with pytest.raises(PolicyError, match="still being run by process"):
        world.vault.abort_release(live, ACTOR)
    assert world.vault.get_release(live).state is ReleaseState.OPEN
    world.vault.abort_release(live, ACTOR, force=True)
    assert world.vault.get_release(live).state is ReleaseState.ABORTED


def test_a_release_from_another_machine_is_never_expired_but_can_be_aborted(
        world: World) -> None:
    record = create(world)
    elsewhere = ProcessStamp("ceremony-laptop-2", "", 4242, "1")
    assert process.liveness(elsewhere) is Liveness.UNKNOWN
    other = _start(world, record.id, elsewhere)
    with pytest.raises(PolicyError, match="process 4242 on ceremony-laptop-2"):
        _start(world, record.id)
    world.vault.abort_release(other, "Olivia Operator")
    entry = world.vault.audit_entries(action="release.abort")[-1]
    assert (entry.subject, entry.actor) == (other, "Olivia Operator")
    assert entry.details["owner"] == "process 4242 on ceremony-laptop-2"
    _start(world, record.id)


def test_a_finished_release_cannot_be_aborted(world: World) -> None:
    record = create(world)
    release_id = _start(world, record.id, _dead_stamp())
    world.vault.abort_release(release_id, ACTOR)
    with pytest.raises(PolicyError, match="already aborted"):
        world.vault.abort_release(release_id, ACTOR)
