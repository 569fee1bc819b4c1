"""Verifying a signed vault: 1,000 records and 100,000 log entries, every statement
signed (Ed25519 software keys), next to the plain hash-chain verify of the same log.

Usage: bench_signed_state.py [RECORDS] [ENTRIES]  (defaults 1000 100000). Building
the vault takes a while; the figures printed are the verify times only.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tessera.core.manifest import new_record_id
from tessera.core.sealing import RecordFacts, ShareHolder, seal_version
from tessera.custody.drivers import TokenDrivers
from tessera.custody.enroll import enroll_device
from tessera.custody.signing import adopt, verify_vault
from tessera.tokens.base import Evidence, TokenInfo, TokenKind
from tessera.tokens.software import SoftwareDriver
from tessera.vault import Vault
from tessera.vault.codec import evidence_json

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY-----" + b"x" * 400


class Quiet:
    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        return "bench"

    def request_new_pin(self, token: str, reason: str) -> str | None:
        return "bench"

    def touch_needed(self, token: str) -> None:
        pass

    def touch_done(self, token: str) -> None:
        pass

    def notice(self, message: str) -> None:
        pass


class LoadedSigner:
    """The software driver's signature with the key loaded once (the driver reloads
    it per signature; the statement and evidence format are the same)."""

    def __init__(self, driver: SoftwareDriver, token: TokenInfo) -> None:
        self.token_id = token.id
        self._keys = driver._load(token, Quiet())

    def sign(self, challenge: bytes) -> Mapping[str, Any]:
        evidence = Evidence(method=TokenKind.SOFTWARE.value,  # type: ignore[arg-type]
                            token_id=self.token_id, algorithm="Ed25519",
                            signature=self._keys.signer.sign(challenge))
        result: dict[str, Any] = json.loads(evidence_json(evidence))
        return result


def build(path: Path, records: int, entries: int) -> Vault:
    vault = Vault.open(path, create=True, demo=True)
    vault._conn.execute("PRAGMA synchronous = OFF")
    drivers = TokenDrivers.for_vault(path, demo=True)
    tokens = []
    for name in ("Alice", "Bob", "Carol"):
        person = vault.add_custodian(name, contact="", role="", actor="bench")
        tokens.append(enroll_device(vault, drivers, person.id, TokenKind.SOFTWARE, Quiet(),
                                    threading.Event(), actor="bench"))
    adopt(vault, drivers, [t.id for t in tokens], Quiet(), actor="bench")
    driver = drivers.driver(TokenKind.SOFTWARE)
    assert isinstance(driver, SoftwareDriver)
    signer = LoadedSigner(driver, tokens[0])
    holders = [ShareHolder(t.custodian_id, t.custodian_name, (t.recipient,)) for t in tokens]
    with vault.signed_by(signer):
        for i in range(records):
            sealed = seal_version(SECRET, RecordFacts(f"record {i}", {}), 1,
                                  [(2, holders)], record_id=new_record_id(), version=1,
                                  epoch=1, created_by="bench")
            vault.create_record(sealed, system="", account="", owner="", environment="",
                                policy_overrides={}, allow_software=True, actor="Alice")
        written = len(vault.audit_entries())
        for i in range(written, entries):
            vault.append_audit("Alice", "bench.entry", f"item-{i}", {"n": i})
    return vault


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
    entries = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        vault = build(Path(tmp) / "bench.sqlite3", records, entries)
        built = time.perf_counter() - start
        print(f"signed vault: {records} records, {entries} audit entries "
              f"(built in {built:.0f} s)")
        start = time.perf_counter()
        chain = vault.verify_audit()
        plain = time.perf_counter() - start
        start = time.perf_counter()
        unsigned = vault.verify_state(None)
        projection = time.perf_counter() - start
        start = time.perf_counter()
        full = verify_vault(vault)
        signed = time.perf_counter() - start
        assert chain.ok and unsigned.ok and full.ok, (chain.problem, full.problem)
        print(f"{'check':<52} {'seconds':>8} {'x chain':>8}")
        print(f"{'yardstick: plain audit hash-chain verify':<52} {plain:>8.2f} {1:>8.1f}")
        print(f"{'statements replayed + tables compared (no signatures)':<52} "
              f"{projection:>8.2f} {projection / plain:>8.1f}")
        print(f"{'audit verify: replay + every signature + tables':<52} "
              f"{signed:>8.2f} {signed / plain:>8.1f}")
        print(f"({full.statements} statements)")
        vault.close()


if __name__ == "__main__":
    main()
