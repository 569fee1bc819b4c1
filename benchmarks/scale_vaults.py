"""Build (and cache) the large vaults the scale benchmark measures.

Every vault is a demo vault (three custodians on virtual keys, PIN 314159) grown
through the product's own write paths: records through ``create_record`` (the real
split and seal), log entries through ``Vault.append_audit`` (the real hash chain),
many to a transaction so a million entries take minutes, not hours. A size is built
from the next smaller cached one, so the whole set is built once; the cache lives in
``benchmarks/.cache/`` (git-ignored) and is keyed by ``BUILD_TAG``; a cached vault
is brought up to the current schema by the product's own migration when it is used.

Sizes: ``r<records>`` (the log holds what creating them wrote) and
``r100-l<entries>`` (100 records and a log of that many entries).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
sys.path.insert(0, str(APP))

CACHE = Path(__file__).resolve().parent / ".cache"
VAULT_NAME = "vault.sqlite3"
BUILD_TAG = "1"
PIN = "314159"
BATCH = 5_000  # log entries per write transaction


@dataclass(frozen=True)
class Size:
    records: int
    log: int = 0  # 0: whatever creating the records wrote

    @property
    def name(self) -> str:
        return f"r{self.records}" + (f"-l{self.log}" if self.log else "")

    @property
    def label(self) -> str:
        text = f"{self.records:,} records"
        return text + (f" + {self.log:,} log" if self.log else "")

    def parent(self) -> Size | None:
        """The cached size this one is grown from (None: built from scratch)."""
        if self.log:
            smaller = [n for n in LOG_STEPS if n < self.log]
            return Size(self.records, smaller[-1]) if smaller else Size(self.records)
        smaller = [n for n in RECORD_STEPS if n < self.records]
        return Size(smaller[-1]) if smaller else None


RECORD_STEPS = (10, 100, 1_000, 5_000)
LOG_STEPS = (1_000, 10_000, 100_000, 1_000_000)
LOG_RECORDS = 100


def cache_dir(size: Size) -> Path:
    return CACHE / f"b{BUILD_TAG}" / size.name


def vault_path(size: Size, say: Callable[[str], None] = print) -> Path:
    """The cached vault of ``size``, built first if missing."""
    folder = cache_dir(size)
    path = folder / VAULT_NAME
    if (folder / "complete").exists():
        from tessera.vault import Vault

        Vault.open(path).close()  # migrates a vault cached by older code
        return path
    parent = size.parent()
    if folder.exists():
        shutil.rmtree(folder)
    if parent is None:
        folder.mkdir(parents=True)
        _new_demo(path)
    else:
        copy_vault(vault_path(parent, say), folder)
    start = time.perf_counter()
    _grow(path, size)
    (folder / "complete").write_text("ok\n")
    say(f"  built {size.label} in {time.perf_counter() - start:.0f} s → {folder}")
    return path


def copy_vault(path: Path, folder: Path) -> Path:
    """Copy a vault and its virtual keys into ``folder`` (same file name)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / VAULT_NAME
    shutil.copy2(path, target)
    virtual = path.with_name(path.name + ".virtual")
    if virtual.exists():
        shutil.copytree(virtual, target.with_name(target.name + ".virtual"), dirs_exist_ok=True)
    return target


def _new_demo(path: Path) -> None:
    from tessera.custody.demo import build_demo_vault

    build_demo_vault(path)


def _grow(path: Path, size: Size) -> None:
    from tessera.core.policy import SplitPlan
    from tessera.custody.create import create_record
    from tessera.custody.demo import ACTOR, DEMO_CUSTODIANS
    from tessera.vault import Vault

    vault = Vault.open(path)
    try:
        have = len(vault.list_records())
        plan = SplitPlan.simple(2, [name for name, *_ in DEMO_CUSTODIANS])
        for n in range(have, size.records):
            create_record(vault, f"bench-secret-{n:06d}-{'x' * 24}".encode(),
                          label=f"Service account {n:05d}", plan=plan,
                          nhi={"system": f"system-{n % 37}", "account": f"svc-{n}",
                               "owner": f"Team {n % 11}", "environment": ("prod", "staging",
                                                                         "dev")[n % 3]},
                          actor=ACTOR)
        if size.log:
            ids = [r.id for r in vault.list_records()]
            seq, _ = vault.audit_head()
            while seq < size.log:
                count = min(BATCH, size.log - seq)
                with vault.transaction():
                    for k in range(count):
                        n = seq + k
                        vault.append_audit(ACTOR, "version.export", ids[n % len(ids)],
                                           {"version": 1, "format": "tessera",
                                            "bytes": 2_000 + n % 997})
                seq += count
        vault.checkpoint()
    finally:
        vault.close()


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["r10"]:
        records, _, log = arg.lstrip("r").partition("-l")
        print(vault_path(Size(int(records), int(log or 0))))
