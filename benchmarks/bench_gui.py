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
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bytecode import as_installed  # noqa: E402

as_installed()  # bytecode cached, as an installed copy runs

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
if "--no-verify" in sys.argv:  # the open-time signed-log check excluded (another part)
    from types import SimpleNamespace
    from tessera.custody import signing
    signing.verify_vault = lambda vault, **kw: SimpleNamespace(ok=True, problem="")
from tessera.gui.app import configure_app
from tessera.gui.context import AppContext
from tessera.gui.main_window import MainWindow
app = QApplication(sys.argv[:1])
configure_app(app)
context = AppContext.open(Path(sys.argv[1]))
w = MainWindow(context, poll_devices=False); w.show()

def listed():  # older code (no loader) lists the records before the window shows
    loader = getattr(context, "loader", None)
    if (loader is None or loader.idle) and not getattr(w.records, "loading", False):
        print("listed", w.records.model.rowCount(), flush=True)
        app.quit()
    else:
        QTimer.singleShot(5, listed)

QTimer.singleShot(0, lambda: (print("shown", flush=True), listed()))
app.exec()
context.close()
"""


def time_to_window(script: str, *args: str, repeat: int = 3,
                   env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median seconds from process start to the window shown (the event loop turning)
    and, for Tessera, to the records listed (nan for the bare window)."""
    env = env or dict(os.environ, PYTHONPATH=str(APP), QT_QPA_PLATFORM="offscreen")
    shown, listed = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "shown":
                shown.append(time.perf_counter() - start)
            elif line.startswith("listed"):
                listed.append(time.perf_counter() - start)
                break
        proc.wait(600)
    return (statistics.median(shown) if shown else float("nan"),
            statistics.median(listed) if listed else float("nan"))


def bench_startup(vault_path: Path) -> None:
    bare, _ = time_to_window(BARE)
    full, _ = time_to_window(TESSERA, str(vault_path))
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
    from PySide6.QtCore import Qt
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

    def open_vault() -> None:
        holder["context"] = AppContext.open(vault_path, touch="delay:0.3")

    def start() -> None:
        window = MainWindow(holder["context"], poll_devices=False)  # type: ignore[arg-type]
        window.show()
        holder["window"] = window

    def settled() -> bool:
        """Every read the pages asked for is on screen (lists filled)."""
        win = holder.get("window")
        if win is None or not holder["context"].loader.idle:  # type: ignore[attr-defined]
            return False
        review = win._built.get(PAGES.index("Review"))  # type: ignore[attr-defined]
        return review is None or not review.filling

    # Opening the vault (its signed-log check, verify_vault: another part of issue 14)
    # and building the window are measured apart, so each part's stall is visible.
    result["open vault (checks)"] = ticks.during(open_vault)
    result["start-up"] = ticks.during(start, until=settled)
    window: MainWindow = holder["window"]  # type: ignore[assignment]
    context: AppContext = holder["context"]  # type: ignore[assignment]
    for row, name in enumerate(PAGES):
        result[f"page {name}"] = ticks.during(lambda row=row: window.sidebar.setCurrentRow(row),
                                              until=settled)
    window.sidebar.setCurrentRow(0)
    ticks.during(lambda: None, until=settled)
    records = window.records
    typed = "Service account 0042"

    def type_search() -> None:
        for n in range(1, len(typed) + 1):
            records.search.setText(typed[:n])
            QApplication.processEvents()

    result["search (typing)"] = ticks.during(type_search)
    result["search cleared"] = ticks.during(records.search.clear)
    result["sort by Next due"] = ticks.during(
        lambda: records.table.sortByColumn(records.model.column_titles().index("Next due"),
                                           Qt.SortOrder.DescendingOrder))
    ticks.during(lambda: records.table.sortByColumn(0, Qt.SortOrder.AscendingOrder))
    result["filter records"] = ticks.during(lambda: records.state_filter.setCurrentIndex(1))
    ticks.during(lambda: records.state_filter.setCurrentIndex(0))
    window.sidebar.setCurrentRow(PAGES.index("Audit"))
    ticks.during(lambda: None, until=settled)
    result["filter audit"] = ticks.during(lambda: window.audit.action_filter.setCurrentIndex(1),
                                          until=settled)
    window.sidebar.setCurrentRow(0)
    ticks.during(lambda: None, until=settled)
    result["vault change"] = ticks.during(context.notify_changed, until=settled)
    window.sidebar.setCurrentRow(PAGES.index("Review"))
    ticks.during(lambda: None, until=settled)
    result["vault change (Review shown)"] = ticks.during(context.notify_changed, until=settled)
    window.sidebar.setCurrentRow(0)
    ticks.during(lambda: None, until=settled)

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
    stalls.append(ticks.during(lambda: None, until=lambda: win.reveal_dialog is not None
                               and settled()))
    result["release start → reveal"] = max(stalls)
    if win.reveal_dialog is not None:
        win.reveal_dialog.reject()
    win.close()
    window.close()
    context.close()
    app.processEvents()
    return result


STALL_GOAL_MS = 50.0
START_GOAL = 2.0  # × the bare window
QUICK_SIZES = "r10,r1000,r5000,r100-l100000"


def bench_env(work: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(APP), QT_QPA_PLATFORM="offscreen",
                XDG_CONFIG_HOME=str(work / "config"), TESSERA_ACTOR="bench",
                PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")


def actions_in_process(vault: Path, env: dict[str, str]) -> dict[str, float]:
    import json

    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--actions",
                           str(vault)], capture_output=True, text=True, env=env, timeout=900)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return {k: float(v) for k, v in json.loads(line).items()}
    print(done.stderr[-2000:])
    return {}


def bench_scale(sizes: str, repeat: int) -> None:
    """Start-up and the longest stall of every action on the cached scale vaults."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_scale import parse_sizes
    from scale_vaults import copy_vault, vault_path

    chosen = parse_sizes(sizes)
    for size in chosen:
        vault_path(size)
    print(f"GUI at scale; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        bare, _ = time_to_window(BARE, repeat=max(3, repeat), env=bench_env(Path(tmp)))
    print(f"yardstick: bare PySide6 window shown in {bare * 1000:.0f} ms "
          f"(goals: window within ×{START_GOAL:.0f} of it, no stall over "
          f"{STALL_GOAL_MS:.0f} ms)")
    for size in chosen:
        with tempfile.TemporaryDirectory(prefix="tessera-bench-gui-") as tmp:
            work = Path(tmp)
            env = bench_env(work)
            vault = copy_vault(vault_path(size), work / "v")
            shown, listed = time_to_window(TESSERA, str(vault), repeat=repeat, env=env)
            shown_nv, listed_nv = time_to_window(TESSERA, str(vault), "--no-verify",
                                                 repeat=repeat, env=env)
            stalls = actions_in_process(copy_vault(vault_path(size), work / "a"),
                                        bench_env(work / "a"))
        print(f"\n{size.label}:")
        ok = shown_nv <= START_GOAL * bare
        print(f"  window shown      {shown * 1000:7.0f} ms (×{shown / bare:.1f} bare); "
              f"signed-log check excluded {shown_nv * 1000:.0f} ms (×{shown_nv / bare:.1f})"
              f" → {'met' if ok else 'NOT met'} (check excluded)"
              f"{'' if shown <= START_GOAL * bare else '; with the check: NOT met'}")
        print(f"  records listed    {listed * 1000:7.0f} ms; check excluded "
              f"{listed_nv * 1000:.0f} ms (loaded off the GUI thread, after the window)")
        if not stalls:
            print("  actions: failed (see above)")
            continue
        mine = {k: v for k, v in stalls.items() if k != "open vault (checks)"}
        worst = max(mine, key=lambda k: mine[k])
        for name, gap in stalls.items():
            print(f"  {name:30} {gap:7.0f} ms")
        print(f"  longest stall {mine[worst]:.0f} ms ({worst}) → "
              f"{'met' if mine[worst] <= STALL_GOAL_MS else 'NOT met'}; opening the vault "
              f"(signed-log check, not this part) {stalls.get('open vault (checks)', 0):.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        again, _ = time_to_window(BARE, repeat=max(3, repeat), env=bench_env(Path(tmp)))
    print(f"\nyardstick again at the end: bare window {again * 1000:.0f} ms "
          f"(load average {os.getloadavg()[0]:.1f})")


def main() -> None:
    if sys.argv[1:2] == ["--actions"]:
        import json

        print(json.dumps(measure_actions(Path(sys.argv[2]))), flush=True)
        return
    if sys.argv[1:2] != ["--demo"]:
        import argparse

        parser = argparse.ArgumentParser(description="GUI start-up and stalls at scale")
        parser.add_argument("--sizes", default=QUICK_SIZES,
                            help=f"comma-separated scale vaults (default {QUICK_SIZES})")
        parser.add_argument("--repeat", type=int, default=3)
        args = parser.parse_args()
        bench_scale(args.sizes, args.repeat)
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
