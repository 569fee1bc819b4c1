"""Gather the access review from a vault (the findings themselves are in core.review).

Reads only public rows: records, current versions (following re-wraps), tokens,
drills, releases, sheets and the audit log's record of rotations.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from tessera.core import age
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
from tessera.custody.lifecycle import sheets_to_destroy
from tessera.vault import Record, Vault


def gather_review(vault: Vault, now: datetime | None = None) -> Review:
    """The review of every record in the vault, as of ``now`` (default: the clock)."""
    moment = now or datetime.now(UTC)
    acknowledged = acknowledged_at(vault)
    return build_review([record_view(vault, r, acknowledged) for r in vault.list_records()],
                        moment)


def overdue_drills(vault: Vault, now: datetime | None = None,
                   include_due: bool = False) -> list[DrillDue]:
    """Token drills past their due date (with ``include_due``, every scheduled one)."""
    moment = now or datetime.now(UTC)
    found: list[DrillDue] = []
    for record in vault.list_records():
        view = record_view(vault, record)
        if view.closed:
            continue
        found.extend(d for d in drill_schedule(view, moment) if include_due or d.overdue)
    return sorted(found, key=lambda d: (d.due_at, d.label.casefold(), d.custodian))


def secret_since(vault: Vault, record: Record) -> str:
    """When the current secret was sealed: creation, or the newest rotation."""
    since = record.created_at
    for entry in vault.audit_entries(subject=record.id):
        if entry.action == "record.create" or (
                entry.action == "record.version" and entry.details.get("rotation") is True):
            since = entry.at
    return since


def record_view(vault: Vault, record: Record,
                acknowledged: Mapping[str, str] | None = None) -> RecordView:
    """The review's view of one record. Text people typed is spelled out
    (:func:`~tessera.core.text.visible`): a vault written before typed text was checked
    cannot reorder or hide parts of the report, the PDF or the GUI's review page."""
    data = vault.get_version(record.id)
    manifest = data.manifest
    policy = vault.record_policy(record.id)
    drilled: dict[str, str] = {}
    for drill in vault.list_drills(record.id):
        if drill.ok and drill.version == data.version and drill.token_id is not None:
            drilled[drill.token_id] = max(drilled.get(drill.token_id, ""), drill.at)
    holders: list[HolderView] = []
    for cid in dict.fromkeys(s.custodian_id for s in manifest.shares):
        entries = manifest.shares_of(cid)
        custodian = vault.get_custodian(cid)
        recipients = list(dict.fromkeys(r for e in entries for r in data.recipients_of(e.key)))
        tokens: list[TokenView] = []
        for recipient in recipients:
            info = vault.token_for_recipient(recipient)
            if info is None or any(t.token_id == info.id for t in tokens):
                continue
            row = vault.get_token_record(info.id)
            tokens.append(TokenView(info.id, visible(info.label), info.kind.value,
                                    info.state.value, row.enrolled_at, row.last_drill_at,
                                    drilled.get(info.id),
                                    post_quantum=age.is_post_quantum(recipient),
                                    hybrid_capable=info.pq_recipient is not None))
        holders.append(HolderView(cid, visible(custodian.name), visible(custodian.contact),
                                  visible(custodian.role),
                                  tuple(e.key for e in entries), tuple(e.group for e in entries),
                                  tuple(tokens), (acknowledged or {}).get(cid)))
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
        version_created_at=data.created_at, secret_since=secret_since(vault, record),
        last_release_at=record.last_release_at,
        outstanding_sheets=tuple(s.serial for s in sheets_to_destroy(vault, record.id)))
