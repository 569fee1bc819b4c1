"""Audit chain verification rate at 1 000, 10 000 and 100 000 entries.

Appends entries to a temporary vault in batches (one transaction per batch) and
prints how many entries per second :meth:`Vault.verify_audit` checks. Figures only.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tessera.vault import Vault

BATCH = 1000
CHECKPOINTS = (1_000, 10_000, 100_000)


def append_until(vault: Vault, have: int, target: int) -> int:
    while have < target:
        with vault.transaction():
            for i in range(min(BATCH, target - have)):
                seq = have + i
                vault.append_audit("bench", "sheet.print", f"sheet-{seq}",
                                   {"serial": seq, "envelope_no": f"TE-{seq:08d}",
                                    "witness": "Walter Witness"})
        have = min(target, have + BATCH)
    return have


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        vault = Vault.open(Path(folder) / "bench.sqlite3", create=True, actor="bench")
        have = vault.audit_head()[0]
        for target in CHECKPOINTS:
            started = time.perf_counter()
            added = target - have
            have = append_until(vault, have, target)
            appended = time.perf_counter() - started
            started = time.perf_counter()
            verdict = vault.verify_audit(expected_head=vault.audit_head())
            elapsed = time.perf_counter() - started
            if not verdict.ok:
                print(f"verification failed: {verdict.problem}", file=sys.stderr)
                return 1
            print(f"{verdict.entries:>7} entries: verified in {elapsed:6.2f} s "
                  f"({verdict.entries / elapsed:,.0f} entries/s); "
                  f"appending ran at {added / appended:,.0f} entries/s")
        vault.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
