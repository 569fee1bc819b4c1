"""Verifying a signed vault: 1,000 records and 100,000 log entries, every statement
signed (Ed25519 software keys), next to the plain hash-chain verify of the same log.

Usage: bench_signed_state.py [RECORDS] [ENTRIES] [--vault=CACHE]  (defaults 1000
100000). Building the vault takes a few minutes; with --vault it is kept in CACHE and
reused. Printed next to the yardstick (reading and SHA-256-chaining every statement and
audit row in the same run): the plain audit chain, the replay without and with
signatures (`audit verify --full`), the first open on a workstation (full, store
written) and opening again with one new statement (incremental), and what one
signature verification costs (Ed25519, ECDSA P-256).
"""

from __future__ import annotations

import hashlib
import json
import shutil
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


def read_and_hash(vault: Vault) -> float:
    """Yardstick: read every statement and audit row and chain SHA-256 over them."""
    start = time.perf_counter()
    with vault.reading() as conn:
        prev = b""
        for table in ("statements", "audit"):
            cursor = conn.cursor()
            cursor.row_factory = None
            for row in cursor.execute(f"SELECT * FROM {table} ORDER BY seq"):
                prev = hashlib.sha256(prev + "|".join(map(str, row)).encode()).digest()
    return time.perf_counter() - start


def signature_costs(rounds: int = 2000) -> tuple[float, float]:
    """Seconds per verification: Ed25519 (software keys), ECDSA P-256 (FIDO2, PIV)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    message = b"x" * 32
    ed = ed25519.Ed25519PrivateKey.generate()
    ed_sig, ed_pub = ed.sign(message), ed.public_key()
    p256 = ec.generate_private_key(ec.SECP256R1())
    p_sig, p_pub = p256.sign(message, ec.ECDSA(hashes.SHA256())), p256.public_key()
    start = time.perf_counter()
    for _ in range(rounds):
        ed_pub.verify(ed_sig, message)
    ed_cost = (time.perf_counter() - start) / rounds
    start = time.perf_counter()
    for _ in range(rounds):
        p_pub.verify(p_sig, message, ec.ECDSA(hashes.SHA256()))
    return ed_cost, (time.perf_counter() - start) / rounds


def timed(what: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = what()
    return time.perf_counter() - start, result


def main() -> None:
    from tessera.custody.log_check import check_vault
    from tessera.vault.workstation_pins import WorkstationPins

    args = [a for a in sys.argv[1:] if not a.startswith("--vault=")]
    cached = next((Path(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--vault=")),
                  None)
    records = int(args[0]) if args else 1_000
    entries = int(args[1]) if len(args) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        start = time.perf_counter()
        if cached is not None and cached.exists():
            shutil.copyfile(cached, path)
            shutil.copytree(str(cached) + ".keys", str(path) + ".keys")
            vault = Vault.open(path)
        else:
            vault = build(path, records, entries)
            if cached is not None:
                vault.checkpoint()
                shutil.copyfile(path, cached)
                shutil.copytree(str(path) + ".keys", str(cached) + ".keys")
        built = time.perf_counter() - start
        print(f"signed vault: {len(vault.list_records())} records, {vault.audit_head()[0]} "
              f"audit entries, {vault.statement_head()[0]} statements (ready in {built:.0f} s)")
        yard = min(read_and_hash(vault) for _ in range(2))
        plain = min(timed(vault.verify_audit)[0] for _ in range(2))
        projection, unsigned = timed(lambda: vault.verify_state(None))
        signed, full = timed(lambda: verify_vault(vault, full=True))
        assert unsigned.ok and full.ok, (unsigned.problem, full.problem)
        pins = WorkstationPins(Path(tmp) / "workstation")
        first, kept = timed(lambda: check_vault(vault, pins))  # no store yet: full + saved
        assert kept.ok
        driver = TokenDrivers.for_vault(path, demo=True).driver(TokenKind.SOFTWARE)
        assert isinstance(driver, SoftwareDriver)
        alice = next(t for t in vault.list_tokens() if t.custodian_name == "Alice")
        with vault.signed_by(LoadedSigner(driver, alice)):  # one new statement
            vault.append_audit("Alice", "bench.entry", "one-more", {"n": -1})
        vault.close()
        vault = Vault.open(path)
        opened, state = timed(lambda: check_vault(vault, pins))
        assert state.ok and state.resumed_from, state.problem
        ed_cost, p256_cost = signature_costs()
        n = full.statements
        print(f"{'check':<58} {'seconds':>8} {'x yard':>7} {'us/stmt':>8}")
        rows = [("yardstick: read + SHA-256 every statement and audit row", yard),
                ("plain audit hash-chain verify", plain),
                ("statements replayed + tables compared (no signatures)", projection),
                ("audit verify --full: replay + every signature + tables", signed),
                ("first open on this workstation (full, store written)", first),
                ("open again, 1 new statement (incremental)", opened)]
        for name, seconds in rows:
            print(f"{name:<58} {seconds:>8.3f} {seconds / yard:>7.2f} "
                  f"{seconds / n * 1e6:>8.1f}")
        print(f"({n} statements; the signature check adds "
              f"{(signed - projection) / n * 1e6:.1f} us per statement here)")
        print(f"one signature verification: Ed25519 {ed_cost * 1e6:.0f} us, ECDSA P-256 "
              f"{p256_cost * 1e6:.0f} us (cryptography {cryptography_version()})")
        verdict = "met" if signed <= 2 * yard else "not met"
        print(f"verdict: full signed verify x{signed / yard:.1f} the yardstick "
              f"(goal x2: {verdict}); open x{opened / yard:.2f} the yardstick")
        vault.close()


def cryptography_version() -> str:
    import cryptography

    return str(cryptography.__version__)


if __name__ == "__main__":
    main()
