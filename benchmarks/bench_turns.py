"""How long a bulk read on a background thread keeps a waiting thread from running.

The GUI's loader reads the vault on a thread of its own; the window's thread needs the
GIL for every Python call Qt makes. SQLite and SHA-256 let the GIL go and take it back
for every row and blob, which starves a waiting thread (core/turns.py). For each read —
every current version (the Records page), every outline (the Review page), the tables'
digest (the check on open) — this prints the longest gap between the ticks of a thread
that wants the GIL every millisecond, with the reading thread plain and then giving
way (``turns.sharing``), and the read's time both ways (the yardstick: the plain read).

Run: .venv/bin/python benchmarks/bench_turns.py [--sizes r1000,r5000] [--repeat 3]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scale_vaults import APP, Size, copy_vault  # noqa: E402
from scale_vaults import vault_path as cached_vault  # noqa: E402

sys.path.insert(0, str(APP))

from tessera.core import turns  # noqa: E402
from tessera.vault import Vault  # noqa: E402
from tessera.vault.outline import current_outlines  # noqa: E402
from tessera.vault.statements import tables_digest  # noqa: E402

READS: dict[str, Callable[[Vault], object]] = {
    "every current version": lambda vault: vault.current_versions(),
    "every outline": current_outlines,
    "tables digest": lambda vault: tables_digest(vault._conn),
}


def measure(path: Path, read: Callable[[Vault], object], share: bool) -> tuple[float, float]:
    """(longest gap of the 1 ms ticker in ms, the read's wall time in ms)."""
    done = threading.Event()
    took: list[float] = []

    def reader() -> None:
        vault = Vault.open(path)
        try:
            start = time.perf_counter()
            if share:
                with turns.sharing():
                    read(vault)
            else:
                read(vault)
            took.append(time.perf_counter() - start)
        finally:
            vault.close()
            done.set()

    thread = threading.Thread(target=reader)
    thread.start()
    last, longest = time.perf_counter(), 0.0
    while not done.is_set():
        time.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    thread.join()
    return longest * 1000, took[0] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="r1000,r5000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.setswitchinterval(0.001)  # as the GUI sets it (gui/loader.py)
    gc.disable()  # as the loader does while it reads; the collector's pauses are apart
    for name in args.sizes.split(","):
        records = int(name.lstrip("r"))
        with tempfile.TemporaryDirectory() as work:
            path = copy_vault(cached_vault(Size(records)), Path(work))
            print(f"{records:,} records (longest wait of a thread ticking every 1 ms; "
                  f"median of {args.repeat}, plain and sharing taken in turn)")
            for label, read in READS.items():
                plain, shared = [], []
                for _ in range(args.repeat):
                    plain.append(measure(path, read, share=False))
                    shared.append(measure(path, read, share=True))
                gap_p = statistics.median(g for g, _ in plain)
                gap_s = statistics.median(g for g, _ in shared)
                t_p = statistics.median(t for _, t in plain)
                t_s = statistics.median(t for _, t in shared)
                print(f"  {label:22s} plain: longest wait {gap_p:6.1f} ms, read {t_p:6.0f} ms"
                      f" | sharing: {gap_s:6.1f} ms, read {t_s:6.0f} ms (×{t_s / t_p:.2f})")


if __name__ == "__main__":
    main()
