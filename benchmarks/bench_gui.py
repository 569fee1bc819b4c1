"""GUI responsiveness figures.

1. Start-up: wall time from process start to the main window shown with its event loop
   turning, and to the vault's records listed in it, by the real start path
   (``tessera gui --vault``), next to a bare PySide6 window measured in the same run;
   with the longest GUI-thread stall from the window shown to the records listed.
2. The longest GUI-thread stall during a quorum release on virtual keys (two keys with
   PIN and a 0.3 s touch each, then combine and reveal): a 5 ms QTimer records the gaps
   between its ticks; a gap far above 5 ms is time the event loop could not turn.
3. With ``--actions VAULT`` (what bench_scale.py runs for each vault size): the longest
   stall of each action by the same tick-gap method — start-up, every page switch,
   search, filters, a vault change, Verify chain (a full check), Export of the log and a
   release from start to reveal — as one JSON line.

Prints figures; asserts nothing. Run: QT_QPA_PLATFORM=offscreen .venv/bin/python
benchmarks/bench_gui.py [--actions VAULT]
"""

from __future__ import annotations

import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
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

# The real start path, ``tessera gui --vault VAULT``, watched from inside: the first turn
# of the event loop after the main window's show() prints "shown"; a 5 ms timer then
# measures the gaps between its ticks (GUI-thread stalls) until the records are listed
# (the vault open, the window filled in, the loader idle), prints "listed N STALL_MS"
# and closes the window as a person would. It watches show() rather than a function of
# Tessera's, so it times any version of the start path (--baseline).
TESSERA = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow

original_show = QMainWindow.show

def listed(window):
    if not getattr(window, "attached", True):  # a window shown before its vault opened
        return False
    records, loader = getattr(window, "records", None), window.context.loader
    return records is not None and loader.idle and not getattr(records, "loading", False)

def show(window):
    original_show(window)
    if type(window).__name__ != "MainWindow" or getattr(show, "seen", False):
        return
    show.seen = True
    gaps, last = [], [0.0]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
        if listed(window):
            timer.stop()
            print("listed", window.records.model.rowCount(),
                  round(max(gaps) * 1000, 1), flush=True)
            window.close()

    timer = QTimer(window)
    timer.setInterval(5)
    timer.timeout.connect(tick)

    def first_turn():
        print("shown", flush=True)
        last[0] = time.perf_counter()
        timer.start()

    QTimer.singleShot(0, first_turn)

QMainWindow.show = show
from tessera.launcher import main
main(["gui", "--vault", sys.argv[1]])
"""


@dataclass(frozen=True)
class StartTimes:
    """Medians: seconds to the window shown and to the records listed (nan for the bare
    window), and the longest GUI-thread stall between the two (ms)."""

    shown: float
    listed: float = float("nan")
    stall_ms: float = float("nan")


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def time_to_window(script: str, *args: str, repeat: int = 3,
                   env: dict[str, str] | None = None) -> StartTimes:
    """Process start → window shown (the event loop turning) and, for Tessera, → records
    listed, over ``repeat`` processes."""
    env = env or dict(os.environ, PYTHONPATH=str(APP), QT_QPA_PLATFORM="offscreen")
    shown, listed, stalls = [], [], []
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
                stalls.append(float(line.split()[2]))
                break
        proc.wait(600)
    return StartTimes(_median(shown), _median(listed), _median(stalls))


def bench_startup(vault_path: Path) -> None:
    bare = time_to_window(BARE).shown
    full = time_to_window(TESSERA, str(vault_path))
    print("start-up, process start → window shown (median of 3):")
    print(f"  bare PySide6 window   {bare * 1000:8.0f} ms")
    print(f"  Tessera main window   {full.shown * 1000:8.0f} ms   (×{full.shown / bare:.1f}); "
          f"records listed {full.listed * 1000:.0f} ms, longest stall meanwhile "
          f"{full.stall_ms:.0f} ms")


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
    from tessera.gui.main_window import FILL_MODULES, PAGES, MainWindow
    from tessera.gui.prompts import PinDialog
    from tessera.gui.release_window import ReleaseWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_app(app)  # type: ignore[arg-type]
    ticks = TickGaps()
    result: dict[str, float] = {}
    holder: dict[str, object] = {}

    def open_vault() -> None:
        # The app's opening thread imports what filling the window needs before it
        # hands the vault over (startup.py): those imports are not the GUI's to wait for.
        for name in FILL_MODULES:
            importlib.import_module(name)
        holder["context"] = context = AppContext.open(vault_path, touch="delay:0.3")
        if context.vault.is_demo:  # and, for a demo vault, its virtual keys' panel
            importlib.import_module("tessera.gui.virtual_keys")

    def start() -> None:
        """As the app's start path does (gui/startup.py): the frame, shown before the
        vault is opened (the "window shown" figure, not a stall), filled in one step
        per turn of the event loop."""
        from PySide6.QtCore import QTimer

        window = holder["frame"]
        steps = window.attach_steps(holder["context"])  # type: ignore[attr-defined]

        def step() -> None:
            if next(steps, None) is None:
                holder["window"] = window
            else:
                QTimer.singleShot(0, step)

        QTimer.singleShot(0, step)

    def settled() -> bool:
        """Every read the pages asked for is on screen (lists filled)."""
        return holder.get("window") is not None and holder["context"].loader.idle  # type: ignore[attr-defined]

    # Opening the vault (its signed-log check, verify_vault: another part of issue 14)
    # and building the window are measured apart, so each part's stall is visible.
    result["open vault (checks)"] = ticks.during(open_vault)
    frame = MainWindow(poll_devices=False, opening=vault_path.name)
    frame.show()
    holder["frame"] = frame
    ticks.during(lambda: None)  # the frame painted
    result["start-up"] = ticks.during(start, until=settled)
    if os.environ.get("TESSERA_BENCH_NO_FREEZE") is None:
        from tessera.gui.startup import freeze_startup_objects

        freeze_startup_objects()  # as the app's start path does once the window is filled
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

    # Verify chain (the signed log replayed, every audit entry recomputed) and Export
    # read the whole log on the loader thread.
    def log_read() -> bool:
        return settled() and not window.audit.working

    result["verify chain (full)"] = ticks.during(window.verify_audit, until=log_read)
    from tessera.gui import audit_page

    exported = vault_path.with_name("bench-export.jsonl")
    audit_page.ask_export_path = lambda _parent: (exported, "jsonl")  # type: ignore[assignment]
    result["export log"] = ticks.during(window.export_audit, until=log_read)
    exported.unlink(missing_ok=True)
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


def bench_scale(sizes: str, repeat: int, baseline: Path | None = None, *,
                actions: bool = True) -> None:
    """Start-up and the longest stall of every action on the cached scale vaults;
    ``baseline``: another source tree's ``app/`` timed by the same start path (before
    and after a change, in one run)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_scale import parse_sizes
    from scale_vaults import copy_vault, vault_path

    chosen = parse_sizes(sizes)
    for size in chosen:
        vault_path(size)
    if baseline is not None:
        import compileall

        compileall.compile_dir(baseline, quiet=1)  # as installed, like app/ (bytecode.py)
    print(f"GUI at scale; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        bare = time_to_window(BARE, repeat=max(3, repeat), env=bench_env(Path(tmp))).shown
    print(f"yardstick: bare PySide6 window shown in {bare * 1000:.0f} ms "
          f"(goals: window within ×{START_GOAL:.0f} of it, no stall over "
          f"{STALL_GOAL_MS:.0f} ms)")
    for size in chosen:
        with tempfile.TemporaryDirectory(prefix="tessera-bench-gui-") as tmp:
            work = Path(tmp)
            env = bench_env(work)
            vault = copy_vault(vault_path(size), work / "v")
            times = time_to_window(TESSERA, str(vault), repeat=repeat, env=env)
            before = None
            if baseline is not None:
                old = copy_vault(vault_path(size), work / "b")
                before = time_to_window(TESSERA, str(old), repeat=repeat,
                                        env=dict(bench_env(work / "b"),
                                                 PYTHONPATH=str(baseline)))
            stalls = actions_in_process(copy_vault(vault_path(size), work / "a"),
                                        bench_env(work / "a")) if actions else None
        print(f"\n{size.label}:")
        ok = times.shown <= START_GOAL * bare
        print(f"  window shown      {times.shown * 1000:7.0f} ms (×{times.shown / bare:.1f} bare)"
              f" → {'met' if ok else 'NOT met'}")
        print(f"  records listed    {times.listed * 1000:7.0f} ms (the vault opened and "
              f"checked off the GUI thread, after the window); longest stall from shown to "
              f"listed {times.stall_ms:.0f} ms")
        if before is not None:
            print(f"  baseline ({baseline}): shown {before.shown * 1000:.0f} ms "
                  f"(×{before.shown / bare:.1f}), listed {before.listed * 1000:.0f} ms, "
                  f"longest stall {before.stall_ms:.0f} ms")
        if stalls is None:
            continue
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
        again = time_to_window(BARE, repeat=max(3, repeat), env=bench_env(Path(tmp))).shown
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
        parser.add_argument("--baseline", type=Path, default=None,
                            help="another checkout's app/ folder, timed the same way "
                                 "(before and after, in one run)")
        parser.add_argument("--no-actions", action="store_true",
                            help="start-up only (no stall of each action)")
        args = parser.parse_args()
        bench_scale(args.sizes, args.repeat, args.baseline, actions=not args.no_actions)
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
