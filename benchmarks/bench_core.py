"""Core speed figures: create (split + wrap), release (unwrap + combine + decrypt),
audit verification, and how each grows with N and with the number of entries.

Prints figures; asserts nothing. Run: .venv/bin/python benchmarks/bench_core.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from tessera.core import age
from tessera.core.manifest import new_record_id
from tessera.core.quorum import QuorumSession
from tessera.core.sealing import (
    RecordFacts,
    SealedVersion,
    ShareHolder,
    seal_version,
)

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY-----" + b"x" * 400


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def holders(n: int) -> tuple[list[ShareHolder], dict[str, age.X25519Identity]]:
    ids = {f"c{i}": age.X25519Identity.generate() for i in range(n)}
    return ([ShareHolder(cid, cid, (ident.recipient.to_string(),)) for cid, ident in ids.items()],
            ids)


def bench_create_release() -> None:
    print("create = split a fresh DEK + commitments + payload AEAD + one age envelope per share")
    print("release = unwrap K envelopes + check commitments + combine + decrypt")
    print(f"{'N':>4} {'K':>4} {'create ms':>10} {'release ms':>11}")
    for n, k in [(3, 2), (5, 3), (8, 4), (12, 6), (16, 8)]:
        people, ids = holders(n)

        def create() -> SealedVersion:
            return seal_version(SECRET, RecordFacts("bench", {}), 1, [(k, people)],
                                record_id=new_record_id(), version=1, epoch=1,
                                created_by="bench")

        sealed = create()

        def release() -> None:
            session = QuorumSession(sealed.manifest)
            for entry in sealed.manifest.shares[:k]:
                words = age.decrypt(sealed.envelopes[entry.key],
                                    [ids[entry.custodian_id]]).decode()
                session.offer(entry.custodian_id, words, method="software")
            secret = session.release(sealed.ciphertext)
            assert bytes(secret) == SECRET

        print(f"{n:>4} {k:>4} {timed(create) * 1000:>10.1f} {timed(release) * 1000:>11.1f}")


def bench_audit() -> None:
    from tessera.vault import Vault

    print()
    print("audit verify (recompute every hash, check the chain)")
    print(f"{'entries':>9} {'seconds':>8} {'entries/s':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        vault = Vault.open(Path(tmp) / "bench.sqlite3", create=True, demo=True)
        written = 0
        for target in (1_000, 10_000, 100_000):
            with vault.transaction():
                for i in range(written, target):
                    vault.append_audit("bench", "bench.entry", f"item-{i}", {"n": i})
            written = target
            start = time.perf_counter()
            verdict = vault.verify_audit()
            seconds = time.perf_counter() - start
            assert verdict.ok
            print(f"{verdict.entries:>9} {seconds:>8.2f} {verdict.entries / seconds:>11,.0f}")
        vault.close()


if __name__ == "__main__":
    bench_create_release()
    bench_audit()
