"""The access review reads the vault in bulk (a few queries, manifests outlined, each
token's attestation checked once): it must say exactly what a plain reading of every
record through the vault's one-at-a-time API says, on a vault that has every finding."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from helpers.ceremony import SECRET, Ceremony, ScriptedPrompts
from tessera.core import age
from tessera.core.policy import SplitPlan
from tessera.core.review import (
    FindingKind,
    HolderView,
    RecordView,
    Review,
    TokenView,
    build_review,
)
from tessera.core.text import visible
from tessera.core.token_types import TokenState
from tessera.custody.acknowledge import acknowledged_at, record_witnessed_acknowledgement
from tessera.custody.create import create_record
from tessera.custody.enroll import enroll_device, enroll_remote
from tessera.custody.policy_ops import set_record_setting
from tessera.custody.release import ReleaseCeremony, drill
from tessera.custody.reshare import ReshareCeremony
from tessera.custody.review import gather_review, record_view, secret_since
from tessera.custody.rewrap import rewrap_with_token
from tessera.tokens.base import TokenKind
from tessera.vault import Record, Vault
from tessera.vault.sheet_registry import SheetRegistry, SheetState


def reference_view(vault: Vault, record: Record) -> RecordView:
    """One record read the straightforward way: its full version, every token looked up
    by recipient, each attestation verified where it is met."""
    data = vault.get_version(record.id)
    manifest = data.manifest
    policy = vault.record_policy(record.id)
    acknowledged = acknowledged_at(vault)
    drilled: dict[str, str] = {}
    for d in vault.list_drills(record.id):
        if d.ok and d.version == data.version and d.token_id is not None:
            drilled[d.token_id] = max(drilled.get(d.token_id, ""), d.at)
    holders = []
    for cid in dict.fromkeys(s.custodian_id for s in manifest.shares):
        entries = manifest.shares_of(cid)
        person = vault.get_custodian(cid)
        tokens: list[TokenView] = []
        for recipient in dict.fromkeys(r for e in entries for r in data.recipients_of(e.key)):
            info = vault.token_for_recipient(recipient)
            if info is None or any(t.token_id == info.id for t in tokens):
                continue
            row = vault.get_token_record(info.id)
            proof = info.attestation(demo_vault=vault.is_demo)
            tokens.append(TokenView(info.id, visible(info.label), info.kind.value,
                                    info.state.value, row.enrolled_at, row.last_drill_at,
                                    drilled.get(info.id),
                                    post_quantum=age.is_post_quantum(recipient),
                                    hybrid_capable=info.pq_recipient is not None,
                                    unproven="" if proof.proven else proof.problem,
                                    touch_policy=str(info.facts.get("touch_policy", ""))
                                    if info.kind.value == "piv" else ""))
        holders.append(HolderView(cid, visible(person.name), visible(person.contact),
                                  visible(person.role), tuple(e.key for e in entries),
                                  tuple(e.group for e in entries), tuple(tokens),
                                  acknowledged.get(cid)))
    outstanding = tuple(s.serial for s in SheetRegistry(vault).sheets()
                        if s.record_id == record.id and s.version != record.current_version
                        and s.state is not SheetState.DESTROYED)
    return RecordView(
        record_id=record.id, label=visible(record.label), owner=visible(record.owner),
        system=visible(record.system), environment=visible(record.environment),
        state=record.state.value, state_display=record.state.display,
        state_reason=visible(record.state_reason), state_since=record.state_since,
        version=data.version, epoch=data.epoch, fingerprint=data.fingerprint,
        quorum=manifest.describe_quorum(), group_threshold=manifest.group_threshold,
        groups=tuple((g.threshold, g.count) for g in manifest.groups),
        holders=tuple(holders), hardware_only=policy.hardware_only and not record.allow_software,
        drill_days=policy.drill_days, rotation_days=policy.rotation_days,
        envelopes_policy=policy.envelopes, version_created_at=data.created_at,
        secret_since=secret_since(vault, record), last_release_at=record.last_release_at,
        outstanding_sheets=outstanding)


def reference_review(vault: Vault, now: datetime) -> Review:
    return build_review([reference_view(vault, r) for r in vault.list_records()], now)


def every_finding(c: Ceremony) -> None:
    """Deploy key released, reshared with old sheets left and drilled by Alice; a record
    where Alice holds two shares and Bob owns it; one with a re-wrapped share, a lost
    token, a stricter drill period and Carol's acknowledgement; a classical record held
    partly by an unattested remote YubiKey; a retired record."""
    prompts, cancel = ScriptedPrompts(), threading.Event()
    release = ReleaseCeremony(c.vault, c.drivers, c.record_id, reason="restore",
                              ticket="INC-1", requested_by="op")
    for name in ("Alice", "Bob"):
        release.contribute_token(c.tokens[name].id, prompts, cancel)
    release.finish()
    registry = SheetRegistry(c.vault)
    for share in c.vault.get_version(c.record_id).manifest.shares:
        registry.record_printed(f"OLD-{share.key.upper()}", c.record_id, 1, share.key,
                                actor="op")
    reshare = ReshareCeremony(c.vault, c.drivers, c.record_id, reason="r", ticket="T",
                              requested_by="op")
    for name in ("Alice", "Bob"):
        reshare.contribute_token(c.tokens[name].id, prompts, cancel)
    reshare.finish()
    drill(c.vault, c.drivers, c.record_id, c.tokens["Alice"].id, prompts, cancel, actor="op")
    create_record(c.vault, b"signing key", label="Build signing",
                  plan=SplitPlan.simple(2, ["Alice", "Alice", "Bob"]),
                  nhi={"owner": "bob"}, actor="op")
    # Re-wrapped: Alice's share moves to a new key (the envelope's own recipient list).
    rewrapped = create_record(c.vault, SECRET, label="Backups", plan=SplitPlan.simple(
        2, ["Alice", "Bob", "Carol"]), nhi={"owner": "Ops"}, actor="op", encoding="binary")
    key = c.devices.add(TokenKind.FIDO2, "Alice's new key")
    enroll_device(c.vault, c.drivers, c.vault.get_custodian("Alice").id, TokenKind.FIDO2,
                  prompts, cancel, actor="op", device=key.device, label="Alice's new key")
    rewrap_with_token(c.vault, c.drivers, rewrapped.record_id, c.tokens["Alice"].id,
                      prompts, cancel, actor="Alice")
    set_record_setting(c.vault, "Backups", "drill_days", "30", actor="op")
    record_witnessed_acknowledgement(c.vault, c.vault.get_custodian("Carol").id,
                                     witness="Dana", reference="form 7", actor="op")
    # A YubiKey enrolled with touch policy ALWAYS (two touches per release).
    yubikey = c.devices.add(TokenKind.PIV, "Carol's old-style YubiKey")
    enroll_device(c.vault, c.drivers, c.vault.get_custodian("Carol").id, TokenKind.PIV,
                  prompts, cancel, actor="op",
                  device=c.drivers.driver(TokenKind.PIV).find_device(  # type: ignore[attr-defined]
                      yubikey.device.card.serial),
                  label="Carol's old-style YubiKey", piv_touch="always")
    # Classical envelopes, an unattested remote YubiKey, then Bob's key lost (paper only).
    spare = age.PivP256Recipient.from_public_key(
        ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            Encoding.X962, PublicFormat.CompressedPoint))
    enroll_remote(c.vault, c.vault.get_custodian("Carol").id, spare.to_string(),
                  label="Carol's spare YubiKey", actor="op")
    create_record(c.vault, SECRET, label="Legacy", plan=SplitPlan.simple(
        2, ["Alice", "Bob", "Carol"]), nhi={}, actor="op", encoding="binary")
    set_record_setting(c.vault, "Legacy", "envelopes", "classical", actor="op")
    retired = create_record(c.vault, SECRET, label="Old thing", plan=SplitPlan.simple(
        2, ["Alice", "Bob", "Carol"]), nhi={}, actor="op", encoding="binary")
    c.vault.set_record_state(retired.record_id, "retired", "decommissioned", "op")
    c.vault.set_token_state(c.tokens["Bob"].id, TokenState.LOST, "op", "left on a train")


def test_the_bulk_review_says_what_the_plain_reading_says(c: Ceremony) -> None:
    every_finding(c)
    seen: set[FindingKind] = set()
    for now in (datetime.now(UTC), datetime.now(UTC) + timedelta(days=400)):
        fast, plain = gather_review(c.vault, now), reference_review(c.vault, now)
        assert fast.records == plain.records
        assert fast.findings == plain.findings
        assert fast.drills == plain.drills
        assert fast == plain
        seen |= {f.kind for f in fast.findings}
    assert seen == set(FindingKind)  # the vault really has every kind of finding
    # The GUI's record detail reads one record the same way.
    for record in c.vault.list_records():
        assert record_view(c.vault, record) == reference_view(c.vault, record)


def test_one_records_view_reads_that_record_by_its_key(c: Ceremony) -> None:
    """The record pane reads one record's view whenever a row is selected: it must look
    the record up by key, not scan every record, version and envelope of the vault (at
    5,000 records a scan made each selection read tens of megabytes)."""
    for n in range(3):
        create_record(c.vault, SECRET, label=f"Service {n}", plan=SplitPlan.simple(
            2, ["Alice", "Bob", "Carol"]), nhi={}, actor="op", encoding="binary")
    record = c.vault.get_record(c.record_id)
    conn = c.vault._conn
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        view = record_view(c.vault, record)
    finally:
        conn.set_trace_callback(None)
    assert view == reference_view(c.vault, record)
    scans = []
    for sql in statements:
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        scans += [(sql, step[3]) for step in plan
                  if step[3].startswith("SCAN") and any(
                      f" {t}" in step[3] for t in ("records", "r", "versions", "v",
                                                   "envelopes", "e"))]
    assert scans == []
