"""Gather the access review from a vault (the findings themselves are in core.review).

Reads only public rows: records, current versions (following re-wraps), tokens,
drills, releases, sheets and the audit log's record of rotations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from tessera.core import age
from tessera.core.errors import FormatError, IntegrityError
from tessera.core.policy import Policy
from tessera.core.review import (
    DrillDue,
    HolderView,
    RecordView,
    Review,
    TokenView,
    build_review,
    drill_schedule,
)
from tessera.core.text import visible
from tessera.custody.acknowledge import acknowledged_at
from tessera.vault import Custodian, Drill, Record, TokenRecord, Vault, VersionData
from tessera.vault.sheet_registry import SheetRecord, SheetRegistry, SheetState


@dataclass(frozen=True)
class _Snapshot:
    """Everything the review reads, fetched in a handful of queries (not per record)."""

    records: list[Record]
    versions: dict[str, VersionData]
    policy: Policy
    drills: dict[str, list[Drill]]
    custodians: dict[str, Custodian]
    tokens: dict[str, TokenRecord]  # by recipient
    sealed_at: dict[str, str]
    sheets: dict[str, list[SheetRecord]]
    acknowledged: Mapping[str, str]
    demo: bool = False  # demo vaults trust the demo attestation CA

    @classmethod
    def read(cls, vault: Vault) -> _Snapshot:
        with vault.reading():
            records = vault.list_records()
            drills: dict[str, list[Drill]] = {}
            for drill in vault.list_drills():
                drills.setdefault(drill.record_id, []).append(drill)
            sheets: dict[str, list[SheetRecord]] = {}
            for sheet in SheetRegistry(vault).sheets():
                sheets.setdefault(sheet.record_id, []).append(sheet)
            return cls(records, vault.current_versions(), vault.policy, drills,
                       {c.id: c for c in vault.list_custodians(include_retired=True)},
                       _tokens_by_recipient(vault),
                       vault.secrets_sealed_at(), sheets, acknowledged_at(vault),
                       vault.is_demo)


def _tokens_by_recipient(vault: Vault) -> dict[str, TokenRecord]:
    """Every token by its recipient and by its post-quantum recipient (what
    ``Vault.token_for_recipient`` answers one at a time)."""
    found: dict[str, TokenRecord] = {}
    for token in vault.list_token_records(include_inactive=True):
        found.setdefault(token.info.recipient, token)
        if token.info.pq_recipient is not None:
            found.setdefault(token.info.pq_recipient, token)
    return found


def gather_review(vault: Vault, now: datetime | None = None) -> Review:
    """The review of every record in the vault, as of ``now`` (default: the clock)."""
    moment = now or datetime.now(UTC)
    snapshot = _Snapshot.read(vault)
    return build_review([_record_view(snapshot, r) for r in snapshot.records], moment)


def overdue_drills(vault: Vault, now: datetime | None = None,
                   include_due: bool = False) -> list[DrillDue]:
    """Token drills past their due date (with ``include_due``, every scheduled one)."""
    moment = now or datetime.now(UTC)
    snapshot = _Snapshot.read(vault)
    found: list[DrillDue] = []
    for record in snapshot.records:
        view = _record_view(snapshot, record)
        if view.closed:
            continue
        found.extend(d for d in drill_schedule(view, moment) if include_due or d.overdue)
    return sorted(found, key=lambda d: (d.due_at, d.label.casefold(), d.custodian))


def secret_since(vault: Vault, record: Record) -> str:
    """When the current secret was sealed: creation, or the newest rotation."""
    return vault.secrets_sealed_at(record.id).get(record.id, record.created_at)


def record_view(vault: Vault, record: Record) -> RecordView:
    """The review's view of one record."""
    return _record_view(_Snapshot.read(vault), record)


def _record_view(snap: _Snapshot, record: Record) -> RecordView:
    """Text people typed is spelled out (:func:`~tessera.core.text.visible`): a vault
    written before typed text was checked cannot reorder or hide parts of the report,
    the PDF or the GUI's review page."""
    data = snap.versions[record.id]
    manifest = data.manifest
    try:
        policy = (snap.policy.with_overrides(record.policy_overrides)
                  if record.policy_overrides else snap.policy)
    except FormatError as exc:
        raise IntegrityError(f"record {record.label!r}: its policy is damaged: {exc}") from None
    drilled: dict[str, str] = {}
    for drill in snap.drills.get(record.id, ()):
        if drill.ok and drill.version == data.version and drill.token_id is not None:
            drilled[drill.token_id] = max(drilled.get(drill.token_id, ""), drill.at)
    holders: list[HolderView] = []
    for cid in dict.fromkeys(s.custodian_id for s in manifest.shares):
        entries = manifest.shares_of(cid)
        custodian = snap.custodians[cid]
        recipients = list(dict.fromkeys(r for e in entries for r in data.recipients_of(e.key)))
        tokens: list[TokenView] = []
        for recipient in recipients:
            row = snap.tokens.get(recipient)
            if row is None or any(t.token_id == row.info.id for t in tokens):
                continue
            info = row.info
            proof = info.attestation(demo_vault=snap.demo)
            tokens.append(TokenView(info.id, visible(info.label), info.kind.value,
                                    info.state.value, row.enrolled_at, row.last_drill_at,
                                    drilled.get(info.id),
                                    post_quantum=age.is_post_quantum(recipient),
                                    hybrid_capable=info.pq_recipient is not None,
                                    unproven="" if proof.proven else proof.problem,
                                    touch_policy=str(info.facts.get("touch_policy", ""))
                                    if info.kind.value == "piv" else ""))
        holders.append(HolderView(cid, visible(custodian.name), visible(custodian.contact),
                                  visible(custodian.role),
                                  tuple(e.key for e in entries), tuple(e.group for e in entries),
                                  tuple(tokens), snap.acknowledged.get(cid)))
    outstanding = tuple(s.serial for s in snap.sheets.get(record.id, ())
                        if s.version != record.current_version
                        and s.state is not SheetState.DESTROYED)
    return RecordView(
        record_id=record.id, label=visible(record.label), owner=visible(record.owner),
        system=visible(record.system), environment=visible(record.environment),
        state=record.state.value, state_display=record.state.display,
        state_reason=visible(record.state_reason),
        state_since=record.state_since, version=data.version, epoch=data.epoch,
        fingerprint=data.fingerprint, quorum=manifest.describe_quorum(),
        group_threshold=manifest.group_threshold,
        groups=tuple((g.threshold, g.count) for g in manifest.groups),
        holders=tuple(holders),
        hardware_only=policy.hardware_only and not record.allow_software,
        drill_days=policy.drill_days, rotation_days=policy.rotation_days,
        envelopes_policy=policy.envelopes,
        version_created_at=data.created_at,
        secret_since=snap.sealed_at.get(record.id, record.created_at),
        last_release_at=record.last_release_at,
        outstanding_sheets=outstanding)
