"""What checking typed text costs: loading Unicode's confusables table, a look-alike
check of a new name against a vault's names, and the escaping stream every CLI write
goes through — each next to a yardstick measured in the same run.

Prints figures; asserts nothing. Run: .venv/bin/python benchmarks/bench_text.py
"""

from __future__ import annotations

import io
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from tessera.core import text

NAMES = [f"Custodian {i} Müller-Łukasz" for i in range(1000)]
LINES = [f"  {n:<30} SRE lead        blue YubiKey [piv]\n" for n in NAMES]


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    start = time.perf_counter()
    text._prototypes()
    load = time.perf_counter() - start
    print(f"load confusables.txt (once per process)      {load * 1000:8.1f} ms")

    nfc = timed(lambda: [unicodedata.normalize("NFC", n).casefold() for n in NAMES])
    print(f"yardstick: NFC + casefold of 1,000 names     {nfc * 1000:8.2f} ms")
    check = timed(lambda: [text.clean(n, "name", 200) for n in NAMES])
    print(f"clean() of 1,000 names                       {check * 1000:8.2f} ms")
    look = timed(lambda: text.lookalike("\u0410lice", NAMES))
    print(f"lookalike() of one name against 1,000        {look * 1000:8.2f} ms")

    raw = io.StringIO()
    plain = timed(lambda: [raw.write(line) for line in LINES])
    print(f"yardstick: 1,000 lines to a plain stream     {plain * 1000:8.2f} ms")
    from tessera.cli.terminal import VisibleStream
    wrapped = VisibleStream(io.StringIO())
    safe = timed(lambda: [wrapped.write(line) for line in LINES])
    print(f"1,000 lines through the escaping stream      {safe * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
