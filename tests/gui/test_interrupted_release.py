"""The desktop app stopped by a signal mid-release, and a release left open elsewhere.

SIGTERM, SIGHUP and Ctrl-C are really sent to this process: the open quorum is
aborted and logged without a question (nobody is there to answer). A quorum left open
by a process that is gone, or on another machine, is shown on the record with a way
out: "Abort open release…", audited with the operator's name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from gui.ceremony_fixtures import (  # noqa: F401  (fixtures)
    answer_pin,
    demo_fixture,
    worker_fixture,
)
from tessera.core import process
from tessera.core.process import ProcessStamp
from tessera.core.request import new_request
from tessera.gui.app import stop_for_signal
from tessera.gui.main_window import MainWindow
from tessera.gui.prompts import PinDialog
from tessera.gui.release_rows import RowState
from tessera.gui.release_window import ReleaseWindow
from tessera.gui.stop_signals import StopSignals
from tessera.vault import ReleaseState

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


@pytest.fixture
def main_window(qtbot, demo, tmp_path):
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(demo.context, settings=settings, poll_devices=False)
    qtbot.addWidget(win)
    win.show()
    return win


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_aborts_the_open_release_without_asking(qtbot, demo, main_window,
                                                         monkeypatch, sig):
    asked: list[bool] = []
    monkeypatch.setattr(ReleaseWindow, "confirm_abort",
                        staticmethod(lambda _p: asked.append(True) or False))
    monkeypatch.setattr(PinDialog, "ask", answer_pin())
    window = ReleaseWindow(demo.context, demo.record_id)
    qtbot.addWidget(window)
    main_window._keep(window)
    qtbot.keyClicks(window.reason_edit, "restore")
    qtbot.keyClicks(window.ticket_edit, "INC-1")
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.pages.currentIndex() == 1, timeout=5000)
    alice = window.rows[demo.custodian_ids["Alice"]]
    qtbot.mouseClick(alice.key_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: alice.state is RowState.APPROVED, timeout=5000)
    [release] = demo.context.vault.list_releases(demo.record_id)
    assert release.state is ReleaseState.OPEN

    app = QApplication.instance()
    exits: list[int] = []
    monkeypatch.setattr(app, "exit", exits.append)
    stops = StopSignals(lambda signum: stop_for_signal(app, main_window, signum))
    try:
        os.kill(os.getpid(), sig)
        qtbot.waitUntil(lambda: bool(exits), timeout=5000)
    finally:
        stops.restore()
    assert exits == [128 + sig]
    assert asked == []
    assert demo.context.vault.get_release(release.id).state is ReleaseState.ABORTED
    entry = demo.context.vault.audit_entries(action="release.abort")[-1]
    assert entry.subject == release.id
    assert not window.isVisible()


def _left_open(demo, stamp: ProcessStamp) -> str:
    vault = demo.context.vault
    manifest = vault.get_version(demo.record_id).manifest
    request = new_request("release", manifest, reason="restore", ticket="INC-7",
                          requested_by="Operator on laptop")
    vault.start_release(demo.record_id, request.to_bytes(), request.request_id, "restore",
                        "INC-7", "Operator on laptop", owner_stamp=stamp)
    return request.request_id


def _dead_stamp() -> ProcessStamp:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    here = process.current()
    stamp = ProcessStamp(here.host, here.boot_id, child.pid,
                         process._start_ticks(process.PROC, child.pid) or "")
    child.kill()
    child.wait()
    return stamp


@pytest.mark.parametrize("where", ["another machine", "a killed process"])
def test_a_release_left_open_can_be_aborted_from_the_record(qtbot, demo, main_window,
                                                            monkeypatch, where):
    stamp = (ProcessStamp("ceremony-laptop", "", 4242, "1") if where == "another machine"
             else _dead_stamp())
    release_id = _left_open(demo, stamp)
    demo.context.notify_changed()
    detail = main_window.records.detail
    main_window.records.table.selectRow(0)
    qtbot.waitUntil(lambda: detail.record_id == demo.record_id, timeout=5000)
    detail.show_row(main_window.records.selected_row())
    assert detail.abort_button.isVisibleTo(main_window)
    assert stamp.describe() in detail.open_quorum.text()

    asked: list[str] = []
    monkeypatch.setattr(MainWindow, "confirm_stale_abort",
                        staticmethod(lambda _p, text: asked.append(text) or True))
    qtbot.mouseClick(detail.abort_button, Qt.MouseButton.LeftButton)
    assert asked and stamp.describe() in asked[0]
    assert ("has ended" in asked[0]) == (where == "a killed process")
    assert demo.context.vault.get_release(release_id).state is ReleaseState.ABORTED
    entry = demo.context.vault.audit_entries(action="release.abort")[-1]
    assert (entry.subject, entry.actor) == (release_id, demo.context.actor)
    detail.show_row(main_window.records.selected_row())
    assert not detail.abort_button.isVisibleTo(main_window)


def test_no_abort_button_without_an_open_release(qtbot, demo, main_window):
    main_window.records.table.selectRow(0)
    detail = main_window.records.detail
    detail.show_row(main_window.records.selected_row())
    assert not detail.abort_button.isVisibleTo(main_window)


LAUNCH = """
import sys
from PySide6.QtWidgets import QApplication
real_exec = QApplication.exec
def exec_and_say(*_args):
    print("READY", flush=True)
    return real_exec()
QApplication.exec = exec_and_say
from tessera.launcher import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_the_running_app_ends_on_a_signal_with_its_code(tmp_path, sig):
    from tessera.custody.demo import build_demo_vault

    path = tmp_path / "vault.sqlite3"
    build_demo_vault(path, touch="immediate")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "gui", "--vault", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig, err
    assert f"stopping on signal {int(sig)}" in err
