"""No core dump and no ptrace of a running Tessera: a core taken during a release would
hold a custodian's share and the passphrase.

Checked from outside, on real processes started the way a person starts them: the
limits a running ``tessera`` command has (``/proc/<pid>/limits``), and what ``prctl``
reports inside the CLI and the GUI once the launcher has handed over to them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers.ceremony import Ceremony, build

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="RLIMIT_CORE and PR_SET_DUMPABLE are checked on Linux")

# Replaces the front end the launcher hands over to, and reports the process state.
PROBE = """
import ctypes, resource, sys
import tessera.cli, tessera.gui.app
def report(*_a, **_k):
    libc = ctypes.CDLL(None)
    print("dumpable", libc.prctl(3, 0, 0, 0, 0), "core", resource.getrlimit(resource.RLIMIT_CORE))
    sys.exit(0)
sys.modules['tessera.cli'].main = report
tessera.gui.app.run = report
from tessera.launcher import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("args", [["record", "list"], ["gui"]], ids=["cli", "gui"])
def test_the_cli_and_the_gui_start_undumpable_without_core_files(args: list[str]) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                          text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["dumpable", "0", "core", "(0,", "0)"]


def test_a_waiting_release_has_a_core_limit_of_zero(tmp_path: Path) -> None:
    c: Ceremony = build(tmp_path)
    c.vault.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tessera", "--vault", str(c.path), "--virtual-touch",
         "immediate", "release", "Deploy key", "--reason", "r", "--ticket", "T", "--out",
         str(tmp_path / "s")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(120, proc.kill)
    guard.start()
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "Next custodian" in line:
                break
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        core = next(line for line in limits.splitlines() if line.startswith("Max core"))
        assert core.split()[4:6] == ["0", "0"]
        status = Path(f"/proc/{proc.pid}/status").read_text()
        assert "Name:" in status
    finally:
        guard.cancel()
        proc.kill()
        proc.communicate()
