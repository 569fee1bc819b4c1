"""What keeping secrets out of swap and core dumps costs.

- mlock + munlock of a DEK-sized buffer, next to the yardstick of wiping the same
  buffer (which every secret buffer gets anyway) and of one whole release
  (unwrap 2 envelopes, check, combine, decrypt) measured in the same run;
- harden_process() (RLIMIT_CORE 0 + PR_SET_DUMPABLE 0), next to one os.getpid() call
  and to starting `tessera --version` in a fresh interpreter.

Prints figures; asserts nothing. Run: .venv/bin/python benchmarks/bench_memory.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from tessera.core import age, dumps
from tessera.core.manifest import new_record_id
from tessera.core.memory import wipe
from tessera.core.quorum import QuorumSession
from tessera.core.sealing import RecordFacts, ShareHolder, seal_version


def per_call(fn: Callable[[], object], calls: int) -> float:
    """Median seconds per call over five runs of ``calls`` calls."""
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def bench_mlock() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    limit = "unlimited" if soft == resource.RLIM_INFINITY else f"{soft // 1024} KiB"
    buffer = bytearray(32)
    permitted = dumps.lock_pages(buffer)
    if permitted:
        dumps.unlock_pages(buffer)
    print(f"mlock permitted here: {permitted} (RLIMIT_MEMLOCK {limit})")

    def lock_unlock() -> None:
        if dumps.lock_pages(buffer):
            dumps.unlock_pages(buffer)

    ids = {f"c{i}": age.X25519Identity.generate() for i in range(3)}
    holders = [ShareHolder(c, c, (i.recipient.to_string(),)) for c, i in ids.items()]
    sealed = seal_version(b"x" * 400, RecordFacts("bench", {}), 1, [(2, holders)],
                          record_id=new_record_id(), version=1, epoch=1, created_by="bench")

    def release() -> None:
        session = QuorumSession(sealed.manifest)
        for entry in sealed.manifest.shares[:2]:
            words = age.decrypt(sealed.envelopes[entry.key], [ids[entry.custodian_id]])
            session.offer(entry.custodian_id, words.decode(), method="software")
        wipe(session.release(sealed.ciphertext))

    lock_s = per_call(lock_unlock, 20_000)
    wipe_s = per_call(lambda: wipe(buffer), 20_000)
    release_s = per_call(release, 5)
    print(f"{'operation':<44} {'µs':>10}")
    print(f"{'mlock + munlock, 32-byte DEK':<44} {lock_s * 1e6:>10.2f}")
    print(f"{'yardstick: wipe the same buffer':<44} {wipe_s * 1e6:>10.2f}")
    print(f"{'yardstick: one 2-of-3 release (software)':<44} {release_s * 1e6:>10.0f}")
    print(f"mlock adds {lock_s / release_s * 100:.4f} % to a release")


def bench_harden() -> None:
    harden_s = per_call(dumps.harden_process, 2_000)
    pid_s = per_call(os.getpid, 20_000)
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tessera", "--version"], check=True,
                       capture_output=True)
        samples.append(time.perf_counter() - start)
    start_s = statistics.median(samples)
    print()
    print(f"{'operation':<44} {'µs':>10}")
    print(f"{'harden_process() (core limit 0, not dumpable)':<44} {harden_s * 1e6:>10.2f}")
    print(f"{'yardstick: os.getpid()':<44} {pid_s * 1e6:>10.2f}")
    print(f"{'yardstick: start `tessera --version`':<44} {start_s * 1e6:>10.0f}")


if __name__ == "__main__":
    bench_mlock()
    bench_harden()
