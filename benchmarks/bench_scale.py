"""How Tessera scales: vaults of 10 to 5,000 records and logs of 10³ to 10⁶ entries.

For each size (vaults built once through the product's own API and cached, see
scale_vaults.py) it prints, measured on a fresh copy:

- GUI start: process start → main window shown by the real start path (`tessera gui
  --vault`, bench_gui.TESSERA: the window shows before the vault is opened), and × a
  bare PySide6 window (yardstick, measured in the same run);
- the longest GUI-thread stall of any action (start-up, page switches, search, sort,
  filters, a vault change, a release from start to reveal) by the tick-gap method
  (bench_gui.py), opening the vault (its signed-log check) listed apart;
- ``first open``: the first command on a workstation that has not verified the vault
  yet (``record list``: the whole signed log replayed, the store of what it verified
  written); every later command resumes from that store;
- whole-process wall time of ``record list``, ``review``, ``audit verify --full``,
  ``audit verify`` (incremental: only what is new since this computer verified it),
  ``audit export`` and one release (two virtual keys, PINs, no touch delay);
- in-process ``audit verify`` × a read-and-SHA-256 loop over the same rows (yardstick):
  a computer's first full verify of the log (``verify ×hash``) and a full verify on a
  computer that verified it before (``again ×hash``: every hash recomputed, the details'
  canonical form not judged again for entries up to the head verified then); and the
  in-process access review (no interpreter start-up in it);
- ``review again``: a second ``review``, which finds the outlines of the manifests the
  first one parsed kept on this workstation (what every review but a workstation's first
  does);
- ``review −check``: the whole ``review`` process with the signed-log check every
  command runs on open (``custody.log_check.check_vault``) replaced by one that passes,
  so the review's own cost shows apart from that check's (its outlines kept, but read
  from the vault again: nothing is reused from a check that did not run);
- peak memory (largest resident set of any of those commands), and per command for
  ``review``, ``record list`` and ``export``.

Then one verdict per column and series: constant, linear or worse, from how the figure
grew between the two largest sizes. Prints figures; asserts nothing.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_scale.py [--full]
[--sizes r10,r1000,r100-l100000] [--no-gui]. Quick mode (the default) measures 10, 100
and 1,000 records and a 10,000-entry log; --full all sizes (building the cache the first
time takes about ten minutes; the 10⁶ vault is ~330 MB).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_gui import BARE, TESSERA  # noqa: E402  (compiles app/ as installed: bytecode.py)
from scale_vaults import APP, LOG_RECORDS, LOG_STEPS, PIN, RECORD_STEPS, Size, copy_vault  # noqa: E402
from scale_vaults import vault_path as cached_vault  # noqa: E402

QUICK = [Size(10), Size(100), Size(1_000), Size(LOG_RECORDS, 10_000)]
FULL = [*(Size(n) for n in RECORD_STEPS), *(Size(LOG_RECORDS, n) for n in LOG_STEPS)]
RELEASE_RECORD = "Demo: CI deploy key"


@dataclass
class Row:
    size: Size
    figures: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    peak_mb: float = 0.0
    peak_by: str = ""
    peaks: dict[str, float] = field(default_factory=dict)  # MB, per command


def env_for(work: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(APP), QT_QPA_PLATFORM="offscreen",
                XDG_CONFIG_HOME=str(work / "config"), TESSERA_ACTOR="bench",
                PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")


def run_measured(argv: list[str], env: dict[str, str], stdin: str = "",
                 timeout: float = 600.0) -> tuple[float, float, int]:
    """Wall seconds, peak resident MB and exit code of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, text=True)
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return float("inf"), usage.ru_maxrss / 1024, -9
        time.sleep(0.005)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, proc.returncode


# `tessera` with the signed-log check on open (custody.signing.verify_vault) replaced by
# one that passes: what a command costs beside that check, which every command runs.
UNCHECKED = ("import sys, tessera.custody.log_check as log_check; "
             "from tessera.vault.statements import Replay; "
             "log_check.check_vault = lambda vault, pins, **_: Replay(ok=True); "
             "from tessera.launcher import main; main(sys.argv[1:])")


def cli(row: Row, column: str, vault: Path, env: dict[str, str], *args: str,
        stdin: str = "", timeout: float = 600.0, checked: bool = True) -> None:
    start = ["-m", "tessera"] if checked else ["-c", UNCHECKED]
    argv = [sys.executable, *start, "--vault", str(vault), *args]
    wall, peak, code = run_measured(argv, env, stdin, timeout)
    row.figures[column] = wall
    row.peaks[column] = peak
    if code != 0:
        row.notes[column] = f"exit {code}"
    if peak > row.peak_mb:
        row.peak_mb, row.peak_by = peak, column


def read_and_hash(path: Path) -> tuple[float, int]:
    """The yardstick: read every audit row and chain SHA-256 over its fields."""
    conn = sqlite3.connect(path)
    start = time.perf_counter()
    prev = b"\0" * 32
    count = 0
    for row in conn.execute("SELECT seq, at, actor, action, subject, details, prev_hash, hash"
                            " FROM audit ORDER BY seq"):
        prev = hashlib.sha256(prev + "|".join(map(str, row)).encode()).digest()
        count += 1
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, count


def verify_in_process(path: Path, *, again: bool = False) -> float:
    """A full verify of the audit chain; ``again``: on a computer that verified the log
    before (`audit verify --full` then: every hash recomputed, the details' form judged
    only for entries newer than the head verified then — here, none)."""
    from tessera.core import canonical
    from tessera.vault import Vault

    vault = Vault.open(path)
    try:
        checked = vault.audit_head() if again else None
        # msgspec, which judges the details of a long log, is loaded once per process
        # (~13 ms) by the first loop over many texts: in every command the replay of the
        # signed log, before the chain. Loaded here before the clock starts, likewise.
        canonical.expect(vault.audit_head()[0])
        start = time.perf_counter()
        verdict = vault.verify_audit(forms_checked=checked)
        elapsed = time.perf_counter() - start
    finally:
        vault.close()
    if not verdict.ok:
        raise SystemExit(f"{path}: {verdict.problem}")
    return elapsed


def review_in_process(path: Path) -> float:
    from tessera.core import attestation, manifest, review
    from tessera.custody.review import gather_review
    from tessera.vault import Vault

    for cached in (manifest._parsed_manifest, attestation._cached, review._losses,
                   review._folded, review.parse_time, review.format_time):
        cached.cache_clear()  # as cold as a fresh `tessera review`
    vault = Vault.open(path)
    try:
        start = time.perf_counter()
        gather_review(vault)
        return time.perf_counter() - start
    finally:
        vault.close()


def gui_start(script: str, env: dict[str, str], *args: str, timeout: float) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    shown = float("inf")
    try:
        for line in proc.stdout:
            if line.strip() == "shown":
                shown = time.perf_counter() - start
                break
            if time.perf_counter() - start > timeout:
                break
    finally:
        try:
            proc.wait(max(1.0, timeout - (time.perf_counter() - start)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return shown


def gui_actions(vault: Path, env: dict[str, str], timeout: float) -> dict[str, float]:
    try:
        done = subprocess.run([sys.executable, str(HERE / "bench_gui.py"), "--actions",
                               str(vault)], capture_output=True, text=True, env=env,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return {k: float(v) for k, v in json.loads(line).items()}
    return {}


def measure(size: Size, *, gui: bool, repeat: int, timeout: float) -> Row:
    row = Row(size)
    source = cached_vault(size)
    with tempfile.TemporaryDirectory(prefix="tessera-scale-") as tmp:
        work = Path(tmp)
        vault = copy_vault(source, work / "v")
        env = env_for(work)
        if gui:
            starts = [gui_start(TESSERA, env, str(vault), timeout=timeout) for _ in range(repeat)]
            row.figures["gui start"] = statistics.median(starts)
            stalls = gui_actions(copy_vault(source, work / "g"), env_for(work / "g"), timeout)
            if stalls:
                # Opening the vault (its signed-log check) is reported on its own line.
                mine = [k for k in stalls if k != "open vault (checks)"]
                worst = max(mine, key=lambda k: stalls[k])
                row.figures["longest stall"] = stalls[worst] / 1000
                row.notes["longest stall"] = worst
                row.notes["stalls"] = json.dumps({k: round(v) for k, v in stalls.items()},
                                                 ensure_ascii=False)
            else:
                row.figures["longest stall"] = float("inf")
        cli(row, "first open", vault, env, "record", "list", timeout=timeout)
        cli(row, "record list", vault, env, "record", "list", timeout=timeout)
        cli(row, "review", vault, env, "review", timeout=timeout)
        # The first review on this workstation parses every manifest and keeps what it
        # took (vault/outline_cache.py); every later one finds them kept.
        cli(row, "review again", vault, env, "review", timeout=timeout)
        cli(row, "review −check", vault, env, "review", timeout=timeout, checked=False)
        cli(row, "verify full", vault, env, "audit", "verify", "--full", timeout=timeout)
        cli(row, "export", vault, env, "audit", "export", "--out", str(work / "log.jsonl"),
            timeout=timeout)
        cli(row, "release", vault, env, "--virtual-touch", "immediate", "release",
            RELEASE_RECORD, "--reason", "scale benchmark", "--ticket", "BENCH-1",
            "--approve", "Alice", "--approve", "Bob", "--out", str(work / "secret.txt"),
            stdin=f"{PIN}\n{PIN}\n", timeout=timeout)
        cli(row, "verify incr", vault, env, "audit", "verify", timeout=timeout)
        yard, verify, again, review = [], [], [], []
        for _ in range(repeat):
            yard.append(read_and_hash(vault)[0])
            verify.append(verify_in_process(vault))
            again.append(verify_in_process(vault, again=True))
            review.append(review_in_process(vault))
        row.figures["hash loop"] = min(yard)
        row.figures["verify in-proc"] = min(verify)
        row.figures["verify again"] = min(again)
        row.figures["review in-proc"] = min(review)
    return row


def verdict(points: list[tuple[int, float]]) -> str:
    """constant / linear / worse from the growth between the two largest sizes."""
    usable = [(n, v) for n, v in points if math.isfinite(v) and v > 0]
    if len(usable) < 2:
        return "n/a"
    (n1, v1), (n2, v2) = usable[-2], usable[-1]
    exponent = math.log(v2 / v1) / math.log(n2 / n1)
    word = "constant" if exponent < 0.25 else "linear" if exponent < 1.25 else "worse"
    return f"{word} (×{v2 / v1:.1f} for ×{n2 / n1:.0f})"


COLUMNS = ("gui start", "longest stall", "first open", "record list", "review", "verify full",
           "verify incr", "export", "release")


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "timeout"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def report(rows: list[Row], bare: float | None) -> None:
    print()
    if bare is not None:
        print(f"yardstick: bare PySide6 window shown in {fmt(bare)}")
    head = ["size", *COLUMNS, "review in-proc", "verify ×hash", "again ×hash", "peak MB"]
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for row in rows:
        cells = [row.size.label]
        for column in COLUMNS:
            value = row.figures.get(column)
            text = fmt(value)
            if column == "gui start" and value is not None and bare and math.isfinite(value):
                text += f" (×{value / bare:.1f})"
            if column == "longest stall" and row.notes.get(column):
                text += f" ({row.notes[column]})"
            if row.notes.get(column, "").startswith("exit"):
                text += f" [{row.notes[column]}]"
            cells.append(text)
        cells.append(fmt(row.figures["review in-proc"]))
        ratio = row.figures["verify in-proc"] / row.figures["hash loop"]
        cells.append(f"×{ratio:.2f} ({fmt(row.figures['verify in-proc'])} vs "
                     f"{fmt(row.figures['hash loop'])})")
        cells.append(f"×{row.figures['verify again'] / row.figures['hash loop']:.2f}")
        cells.append(f"{row.peak_mb:.0f} ({row.peak_by})")
        print(" | ".join(cells))
    print()
    for name, series in (("records", [r for r in rows if not r.size.log]),
                         ("log entries", [r for r in rows if r.size.log])):
        if len(series) < 2:
            continue
        key = (lambda r: r.size.records) if name == "records" else (lambda r: r.size.log)
        print(f"growth with {name}:")
        for column in (*COLUMNS, "review in-proc", "verify in-proc", "verify again", "hash loop"):
            points = [(key(r), r.figures[column]) for r in series if column in r.figures]
            if points:
                print(f"  {column:15} {verdict(points)}")
        peaks = [(key(r), r.peak_mb) for r in series]
        print(f"  {'peak memory':15} {verdict(peaks)}")
    review_report(rows)
    for row in rows:
        if row.notes.get("stalls"):
            print(f"stalls (ms), {row.size.label}: {row.notes['stalls']}")


REVIEW_COLUMNS = ("review", "review again", "review −check", "review in-proc", "record list",
                  "export")


def review_report(rows: list[Row]) -> None:
    """The review, record list and export: time and peak memory per size, the review
    also again (its outlines kept from the first), without the signed-log check every
    command runs on open (−check) and without interpreter start-up (in-proc), then how
    each grows."""
    print()
    head = ["size", *REVIEW_COLUMNS, "peak MB review", "peak MB list", "peak MB export"]
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for row in rows:
        cells = [row.size.label, *(fmt(row.figures.get(c)) + (
            f" [{row.notes[c]}]" if row.notes.get(c, "").startswith("exit") else "")
            for c in REVIEW_COLUMNS)]
        cells += [f"{row.peaks[c]:.0f}" if c in row.peaks else "—"
                  for c in ("review", "record list", "export")]
        print(" | ".join(cells))
    for name, series in (("records", [r for r in rows if not r.size.log]),
                         ("log entries", [r for r in rows if r.size.log])):
        if len(series) < 2:
            continue
        key = (lambda r: r.size.records) if name == "records" else (lambda r: r.size.log)
        print(f"growth with {name}:")
        for column in REVIEW_COLUMNS:
            points = [(key(r), r.figures[column]) for r in series if column in r.figures]
            print(f"  {column:15} {verdict(points)}")
        for column in ("review", "record list", "export"):
            points = [(key(r), r.peaks[column]) for r in series if column in r.peaks]
            print(f"  {'peak MB ' + column:15} {verdict(points)}")


def parse_sizes(text: str) -> list[Size]:
    sizes = []
    for part in text.split(","):
        records, _, log = part.strip().lstrip("r").partition("-l")
        sizes.append(Size(int(records), int(log or 0)))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="every size, three repeats")
    parser.add_argument("--sizes", help="comma-separated, e.g. r10,r1000,r100-l100000")
    parser.add_argument("--no-gui", action="store_true", help="skip the GUI columns")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds before one measured process is given up")
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes) if args.sizes else FULL if args.full else QUICK
    repeat = 3 if args.full else 1
    print(f"Tessera scale benchmark, {'full' if args.full else 'quick'} mode; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for size in sizes:
        cached_vault(size)
    with tempfile.TemporaryDirectory() as tmp:
        cli_start = statistics.median(
            run_measured([sys.executable, "-m", "tessera", "--version"], env_for(Path(tmp)))[0]
            for _ in range(3))
    print(f"yardstick: `tessera --version` (interpreter and CLI start) {fmt(cli_start)}")
    bare = None
    if not args.no_gui:
        with tempfile.TemporaryDirectory() as tmp:
            bare = statistics.median(gui_start(BARE, env_for(Path(tmp)), timeout=60)
                                     for _ in range(max(3, repeat)))
    rows = []
    for size in sizes:
        started = time.perf_counter()
        rows.append(measure(size, gui=not args.no_gui, repeat=repeat, timeout=args.timeout))
        print(f"  measured {size.label} in {time.perf_counter() - started:.0f} s", flush=True)
    report(rows, bare)
    shutil.rmtree(HERE / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
