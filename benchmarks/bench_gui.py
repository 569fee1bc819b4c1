"""GUI responsiveness figures.

1. Start-up: wall time from process start to the main window shown (a demo vault),
   next to a bare PySide6 window measured in the same run.
2. The longest GUI-thread stall during a quorum release on virtual keys (two keys with
   PIN and a 0.3 s touch each, then combine and reveal): a 5 ms QTimer records the gaps
   between its ticks; a gap far above 5 ms is time the event loop could not turn.
3. With ``--actions VAULT`` (what bench_scale.py runs for each vault size): the longest
   stall of each action by the same tick-gap method — start-up, every page switch,
   search, filters, a vault change and a release from start to reveal — as one JSON
   line.

Prints figures; asserts nothing. Run: QT_QPA_PLATFORM=offscreen .venv/bin/python
benchmarks/bench_gui.py [--actions VAULT]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
sys.path.insert(0, str(APP))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BARE = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
w = QMainWindow(); w.resize(1000, 700); w.show()
QTimer.singleShot(0, lambda: (print("shown", flush=True), app.quit()))
app.exec()
"""

TESSERA = """
import sys
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from tessera.gui.app import configure_app
from tessera.gui.context import AppContext
from tessera.gui.main_window import MainWindow
app = QApplication(sys.argv[:1])
configure_app(app)
context = AppContext.open(Path(sys.argv[1]))
w = MainWindow(context, poll_devices=False); w.show()
QTimer.singleShot(0, lambda: (print("shown", flush=True), app.quit()))
app.exec()
context.close()
"""


def time_to_window(script: str, *args: str, repeat: int = 3) -> float:
    env = dict(os.environ, PYTHONPATH=str(APP), QT_QPA_PLATFORM="offscreen")
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "shown":
                samples.append(time.perf_counter() - start)
                break
        proc.wait(60)
    return statistics.median(samples) if samples else float("nan")


def bench_startup(vault_path: Path) -> None:
    bare = time_to_window(BARE)
    full = time_to_window(TESSERA, str(vault_path))
    print("start-up, process start → window shown (median of 3):")
    print(f"  bare PySide6 window   {bare * 1000:8.0f} ms")
    print(f"  Tessera main window   {full * 1000:8.0f} ms   (+{(full - bare) * 1000:.0f} ms)")


def bench_release_stall(vault_path: Path) -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from tessera.custody.demo import DEMO_PIN, DEMO_RECORD
    from tessera.gui.context import AppContext
    from tessera.gui.prompts import PinDialog
    from tessera.gui.release_window import ReleaseWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    context = AppContext.open(vault_path, touch="delay:0.3")

    def answer(cls: object, parent: object, token: str, left: int | None, done) -> None:
        done(DEMO_PIN)

    PinDialog.ask = classmethod(answer)  # type: ignore[assignment,method-assign]
    ReleaseWindow.confirm_abort = staticmethod(lambda parent: True)  # type: ignore[method-assign]
    window = ReleaseWindow(context, context.vault.get_record(DEMO_RECORD).id)
    window.show()

    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)

    def run_until(condition, limit: float = 30.0) -> None:
        deadline = time.perf_counter() + limit
        while not condition() and time.perf_counter() < deadline:
            loop = QEventLoop()
            QTimer.singleShot(5, loop.quit)
            loop.exec()

    started = time.perf_counter()
    timer.start()
    window.reason_edit.setText("benchmark")
    window.ticket_edit.setText("BENCH-1")
    window.start()
    run_until(lambda: window.ceremony is not None)
    for name in ("Alice", "Bob"):
        row = next(r for r in window.rows.values() if r.slot.name == name)
        row.key_button.click()
        run_until(lambda row=row: row.approvals == 1)
    run_until(lambda: window.reveal_dialog is not None)
    timer.stop()
    total = time.perf_counter() - started
    if window.reveal_dialog is not None:
        window.reveal_dialog.reject()
    window.close()
    context.close()
    app.processEvents()
    ordered = sorted(gaps)
    print("release on virtual keys (FIDO2 + PIV, PIN, 0.3 s touch each, combine, reveal):")
    print(f"  ceremony wall time     {total * 1000:8.0f} ms, {len(gaps)} timer ticks at 5 ms")
    print(f"  median tick gap        {statistics.median(ordered) * 1000:8.1f} ms")
    print(f"  99th percentile gap    {ordered[int(len(ordered) * 0.99)] * 1000:8.1f} ms")
    print(f"  longest GUI stall      {ordered[-1] * 1000:8.1f} ms")


class TickGaps:
    """A 5 ms timer on the GUI thread; the longest gap between ticks is the stall."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.last = now

    def during(self, action: Callable[[], object], settle: float = 0.25,
               until: Callable[[], bool] | None = None, limit: float = 120.0) -> float:
        """Run ``action`` from the event loop, keep the loop turning until ``until`` holds
        (or ``settle`` seconds), and return the longest gap in ms."""
        from PySide6.QtCore import QEventLoop, QTimer

        self.gaps = []
        self.last = time.perf_counter()
        QTimer.singleShot(0, action)
        deadline = time.perf_counter() + limit
        quiet_from = time.perf_counter() + settle
        while time.perf_counter() < deadline:
            loop = QEventLoop()
            QTimer.singleShot(5, loop.quit)
            loop.exec()
            done = until() if until is not None else True
            if done and time.perf_counter() >= quiet_from:
                break
        self._tick()
        return max(self.gaps) * 1000 if self.gaps else float("nan")


def measure_actions(vault_path: Path) -> dict[str, float]:
    """The longest GUI-thread stall (ms) of each action on the vault at ``vault_path``
    (a demo vault: its virtual keys and DEMO_RECORD serve the release)."""
    from PySide6.QtWidgets import QApplication

    from tessera.custody.demo import DEMO_PIN, DEMO_RECORD
    from tessera.gui.app import configure_app
    from tessera.gui.context import AppContext
    from tessera.gui.main_window import PAGES, MainWindow
    from tessera.gui.prompts import PinDialog
    from tessera.gui.release_window import ReleaseWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_app(app)  # type: ignore[arg-type]
    ticks = TickGaps()
    result: dict[str, float] = {}
    holder: dict[str, object] = {}

    def start() -> None:
        context = AppContext.open(vault_path, touch="delay:0.3")
        window = MainWindow(context, poll_devices=False)
        window.show()
        holder.update(context=context, window=window)

    result["start-up"] = ticks.during(start)
    window: MainWindow = holder["window"]  # type: ignore[assignment]
    context: AppContext = holder["context"]  # type: ignore[assignment]
    for row, name in enumerate(PAGES):
        result[f"page {name}"] = ticks.during(lambda row=row: window.sidebar.setCurrentRow(row))
    window.sidebar.setCurrentRow(0)
    ticks.during(lambda: None)
    records = window.records
    typed = "Service account 0042"

    def type_search() -> None:
        for n in range(1, len(typed) + 1):
            records.search.setText(typed[:n])
            QApplication.processEvents()

    result["search (typing)"] = ticks.during(type_search)
    result["search cleared"] = ticks.during(records.search.clear)
    result["filter records"] = ticks.during(lambda: records.state_filter.setCurrentIndex(1))
    ticks.during(lambda: records.state_filter.setCurrentIndex(0))
    window.sidebar.setCurrentRow(PAGES.index("Audit"))
    ticks.during(lambda: None)
    result["filter audit"] = ticks.during(lambda: window.audit.action_filter.setCurrentIndex(1))
    window.sidebar.setCurrentRow(0)
    ticks.during(lambda: None)
    result["vault change"] = ticks.during(context.notify_changed)

    def answer(cls: object, parent: object, token: str, left: int | None, done) -> None:
        done(DEMO_PIN)

    PinDialog.ask = classmethod(answer)  # type: ignore[assignment,method-assign]
    ReleaseWindow.confirm_abort = staticmethod(lambda parent: True)  # type: ignore[method-assign]
    release: dict[str, ReleaseWindow] = {}

    def open_release() -> None:
        win = ReleaseWindow(context, context.vault.get_record(DEMO_RECORD).id)
        win.show()
        win.reason_edit.setText("benchmark")
        win.ticket_edit.setText("BENCH-1")
        win.start()
        release["w"] = win

    stalls = [ticks.during(open_release, until=lambda: "w" in release
                           and release["w"].ceremony is not None)]
    win = release["w"]
    for name in ("Alice", "Bob"):
        row = next(r for r in win.rows.values() if r.slot.name == name)
        stalls.append(ticks.during(row.key_button.click,
                                   until=lambda row=row: row.approvals == 1))
    stalls.append(ticks.during(lambda: None, until=lambda: win.reveal_dialog is not None))
    result["release start → reveal"] = max(stalls)
    if win.reveal_dialog is not None:
        win.reveal_dialog.reject()
    win.close()
    window.close()
    context.close()
    app.processEvents()
    return result


def main() -> None:
    if sys.argv[1:2] == ["--actions"]:
        import json

        print(json.dumps(measure_actions(Path(sys.argv[2]))), flush=True)
        return
    from tessera.custody.demo import build_demo_vault

    with tempfile.TemporaryDirectory(prefix="tessera-bench-gui-") as tmp:
        startup_vault = Path(tmp) / "startup" / "demo.sqlite3"
        startup_vault.parent.mkdir()
        build_demo_vault(startup_vault)
        bench_startup(startup_vault)
        release_vault = Path(tmp) / "release" / "demo.sqlite3"
        release_vault.parent.mkdir()
        build_demo_vault(release_vault)
        bench_release_stall(release_vault)


if __name__ == "__main__":
    main()
