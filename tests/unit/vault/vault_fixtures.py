"""Helpers for the vault tests: a populated vault and sealed versions built directly.

Manifests are assembled by hand (commitments are just 64-hex strings to the vault)
and envelopes are real age files wrapped to X25519 keys, so the import checks see
exactly what the sealing code produces.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.attestation import attested_fido2_facts
from tessera.core import age
from tessera.core.manifest import GroupSpec, Manifest, ShareEntry, new_record_id
from tessera.core.request import new_request
from tessera.core.sealing import SealedVersion
from tessera.tokens.base import ApprovalMethod, Evidence, TokenInfo, TokenKind
from tessera.vault import Custodian, Record, Vault, VersionData

ACTOR = "Olivia Operator"
NAMES = ("Alice", "Bob", "Carol")


class StepClock:
    """A clock that advances one second per reading, from a fixed start."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def open_vault(path: Path, **kwargs: object) -> Vault:
    return Vault.open(path, create=True, clock=StepClock(), actor=ACTOR, **kwargs)  # type: ignore[arg-type]


@dataclass
class World:
    vault: Vault
    custodians: list[Custodian]
    tokens: list[TokenInfo]
    identities: dict[str, age.X25519Identity]  # token id -> identity


def populate(vault: Vault, names: tuple[str, ...] = NAMES) -> World:
    custodians, tokens, identities = [], [], {}
    for name in names:
        person = vault.add_custodian(name, f"{name.lower()}@example.org", "SRE", ACTOR)
        identity = age.X25519Identity.generate()
        token = vault.add_token(person.id, TokenKind.FIDO2, f"{name}'s key",
                                identity.recipient.to_string(),
                                {"aaguid": "00" * 16, "credential_id": "AAAA",
                                 **attested_fido2_facts()}, ACTOR)
        custodians.append(person)
        tokens.append(token)
        identities[token.id] = identity
    return World(vault, custodians, tokens, identities)


def build_sealed(world: World, *, record_id: str | None = None, version: int = 1,
                 epoch: int = 1, previous: str | None = None, label: str = "Root CA key",
                 payload_size: int = 32, threshold: int = 2) -> SealedVersion:
    shares = tuple(
        ShareEntry(custodian_id=c.id, custodian=c.name, group=0, member=i,
                   commitment=hashlib.sha256(f"{c.id}{version}".encode()).hexdigest(),
                   recipients=(t.recipient,))
        for i, (c, t) in enumerate(zip(world.custodians, world.tokens, strict=True)))
    manifest = Manifest(
        record_id=record_id or new_record_id(), label=label, version=version, epoch=epoch,
        slip39_identifier=1234, slip39_iteration_exponent=1, slip39_extendable=True,
        group_threshold=1, groups=(GroupSpec(threshold, len(shares)),), shares=shares,
        payload_nonce=os.urandom(12), payload_size=payload_size, payload_encoding="utf-8",
        created_at="2026-01-31T12:00:00Z", created_by=ACTOR, previous=previous,
        nhi={"system": "aws", "account": "root"})
    envelopes = {s.key: age.encrypt(b"not really a share",
                                    [age.parse_recipient(r) for r in s.recipients])
                 for s in shares}
    return SealedVersion(manifest, manifest.to_bytes(), os.urandom(payload_size + 16), envelopes)


def next_sealed(world: World, current: VersionData, *, epoch: int | None = None,
                label: str | None = None) -> SealedVersion:
    return build_sealed(world, record_id=current.record_id, version=current.version + 1,
                        epoch=epoch or current.epoch + 1, previous=current.manifest.digest.hex(),
                        label=label or current.manifest.label)


def create(world: World, **kwargs: object) -> Record:
    return world.vault.create_record(build_sealed(world, **kwargs), actor=ACTOR)  # type: ignore[arg-type]


def release_request(vault: Vault, record: Record) -> tuple[str, bytes]:
    manifest = vault.get_version(record.id).manifest
    request = new_request("release", manifest, reason="CA compromise drill",
                          ticket="INC-42", requested_by=ACTOR)
    return request.request_id, request.to_bytes()


def evidence(token: TokenInfo) -> Evidence:
    return Evidence(ApprovalMethod(token.kind.value), token.id, "ES256", b"\x30\x45sig",
                    {"client_data": "e30="})


def file_digest(vault: Vault) -> str:
    """SHA-256 of the vault file after folding the write-ahead log into it."""
    vault.checkpoint()
    return hashlib.sha256(vault.path.read_bytes()).hexdigest()


def dump(vault: Vault) -> list[str]:
    """Every row of every table, for before/after comparisons."""
    conn = sqlite3.connect(vault.path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def raw(vault: Vault) -> sqlite3.Connection:
    """A second connection to tamper with the file as an attacker would."""
    conn = sqlite3.connect(vault.path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    return conn


def add_entries(vault: Vault, n: int, start: int = 0) -> None:
    """``n`` audit entries, each with its own details ({"serial": i})."""
    for i in range(start, start + n):
        vault.append_audit(ACTOR, "sheet.print", f"sheet-{i}", {"serial": i})
