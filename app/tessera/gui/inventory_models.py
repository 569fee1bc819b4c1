"""The column sets of the four main tables: records, custodians, tokens, audit."""

from __future__ import annotations

from PySide6.QtCore import QObject

from tessera.core.wording import action_title, listed, version_text
from tessera.gui.rows import (
    CustodianRow,
    RecordRow,
    TokenRow,
    audit_summary,
    short_time,
)
from tessera.gui.table_model import Column, RowTableModel, Tone
from tessera.vault import AuditEntry, RecordState


def _record_state_tone(row: RecordRow) -> str:
    if row.damaged:
        return Tone.BAD
    state = row.record.state
    if state in (RecordState.RELEASED, RecordState.ROTATION_REQUIRED):
        return Tone.WARN
    if state in (RecordState.SUPERSEDED, RecordState.RETIRED):
        return Tone.MUTED
    return Tone.NORMAL


def _due_tone(row: RecordRow) -> str:
    if row.record.state in (RecordState.SUPERSEDED, RecordState.RETIRED):
        return Tone.MUTED
    return Tone.WARN if row.drill_overdue or row.rotation_overdue else Tone.NORMAL


def _threshold(row: RecordRow) -> tuple[int, int]:
    try:
        k, n = row.quorum.split(" of ")[:2]
        return int(k), int(n.split()[0])
    except ValueError:
        return 0, 0


RECORD_COLUMNS: list[Column[RecordRow]] = [
    Column("Label", lambda r: r.record.label,
           tooltip=lambda r: r.damaged or f"Fingerprint {r.fingerprint}"),
    Column("System / account",
           lambda r: " / ".join(x for x in (r.record.system, r.record.account) if x) or "—"),
    Column("Owner", lambda r: r.record.owner or "—"),
    Column("Quorum", lambda r: r.quorum, sort_key=_threshold,
           tooltip=lambda r: f"Any {r.quorum_text.removeprefix('any ')} custodians together "
                             "can release it"),
    Column("State", lambda r: "damaged" if r.damaged else r.record.state.display,
           tone=_record_state_tone, tooltip=lambda r: r.damaged or r.record.state_reason),
    Column("Version", lambda r: version_text(r.version),
           sort_key=lambda r: (r.version, r.epoch),
           tooltip=lambda r: f"Version {r.version}, share set (epoch) {r.epoch}"),
    Column("Created", lambda r: short_time(r.record.created_at),
           sort_key=lambda r: r.record.created_at),
    Column("Last drill", lambda r: short_time(r.record.last_drill_at),
           sort_key=lambda r: r.record.last_drill_at or ""),
    Column("Next due", lambda r: r.next_due_text, tone=_due_tone,
           sort_key=lambda r: min((d for d in (r.next_drill, r.next_rotation) if d),
                                  default=None)),
]

CUSTODIAN_COLUMNS: list[Column[CustodianRow]] = [
    Column("Name", lambda r: r.custodian.name),
    Column("Role", lambda r: r.custodian.role or "—"),
    Column("Contact", lambda r: r.custodian.contact or "—"),
    Column("Tokens", lambda r: r.token_summary,
           tone=lambda r: Tone.BAD if not r.tokens else Tone.NORMAL,
           sort_key=lambda r: len(r.tokens)),
    Column("Shares held", lambda r: f"{len(r.records):,}", sort_key=lambda r: len(r.records),
           tooltip=lambda r: listed(r.records), align_right=True),
    Column("Last drill", lambda r: short_time(r.last_drill), sort_key=lambda r: r.last_drill),
    Column("State", lambda r: r.custodian.state.value,
           tone=lambda r: Tone.MUTED if r.custodian.state.value != "active" else Tone.NORMAL),
]

TOKEN_COLUMNS: list[Column[TokenRow]] = [
    Column("Custodian", lambda r: r.token.info.custodian_name),
    Column("Label", lambda r: r.token.info.label),
    Column("Kind", lambda r: r.kind_text,
           tone=lambda r: Tone.WARN if r.lower_assurance else Tone.NORMAL,
           tooltip=lambda r: "Lower assurance: the key is stored on a computer"
           if r.lower_assurance else ""),
    Column("Attestation", lambda r: r.attestation,
           tone=lambda r: Tone.WARN if r.unproven else Tone.NORMAL,
           tooltip=lambda r: "Not proven hardware: this key counts as a software key for "
           "hardware-only records" if r.unproven else r.attestation),
    Column("Public key", lambda r: r.token.info.recipient,
           tooltip=lambda r: f"age recipient — shares are sealed to it:\n{r.token.info.recipient}"),
    Column("Enrolled", lambda r: short_time(r.token.enrolled_at),
           sort_key=lambda r: r.token.enrolled_at),
    Column("Last drill", lambda r: short_time(r.token.last_drill_at),
           sort_key=lambda r: r.token.last_drill_at),
    Column("State", lambda r: r.state_text,
           tone=lambda r: Tone.NORMAL if r.state_text == "active" else Tone.MUTED),
]

AUDIT_COLUMNS: list[Column[AuditEntry]] = [
    Column("#", lambda e: str(e.seq), sort_key=lambda e: e.seq, align_right=True),
    Column("Time", lambda e: short_time(e.at), sort_key=lambda e: e.at,
           tooltip=lambda e: e.at),
    Column("Actor", lambda e: e.actor),
    Column("What happened", lambda e: action_title(e.action),
           tooltip=lambda e: f"Action code: {e.action}"),
    Column("Details", audit_summary,
           tooltip=lambda e: "Select the entry to read it in full below."),
]


def records_model(parent: QObject | None = None) -> RowTableModel[RecordRow]:
    return RowTableModel(RECORD_COLUMNS, parent)


def custodians_model(parent: QObject | None = None) -> RowTableModel[CustodianRow]:
    return RowTableModel(CUSTODIAN_COLUMNS, parent)


def tokens_model(parent: QObject | None = None) -> RowTableModel[TokenRow]:
    return RowTableModel(TOKEN_COLUMNS, parent)


def audit_model(parent: QObject | None = None) -> RowTableModel[AuditEntry]:
    return RowTableModel(AUDIT_COLUMNS, parent)
