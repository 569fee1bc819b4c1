"""The access review: who can hold each recovery secret, when that was last proven,
and what an auditor should look at — computed from plain data, no I/O.

:func:`build_review` turns :class:`RecordView` rows (gathered from a vault by
``tessera.custody.review``) into findings; :func:`review_csv` writes the same
review as spreadsheet-safe CSV. The GUI's Review page and the PDF report read the
:class:`Review` object directly.
"""

from __future__ import annotations

import csv
import enum
import functools
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from tessera.core.text import csv_cell, fold

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z", re.ASCII)


@functools.lru_cache(maxsize=65536)  # the same few times recur across thousands of records
def parse_time(text: str) -> datetime:
    """A vault time (``2026-01-31T12:00:00Z``) as an aware UTC datetime.

    Read by a pattern rather than strptime, which costs more than the rest of a record's
    review; a malformed time raises ValueError as strptime would."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"time data {text!r} does not match format {TIME_FORMAT!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@functools.lru_cache(maxsize=65536)
def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


class Severity(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FindingKind(enum.StrEnum):
    LOSS_BELOW_THRESHOLD = "loss_below_threshold"
    MULTIPLE_SHARES = "multiple_shares"
    SOFTWARE_ON_HARDWARE_ONLY = "software_on_hardware_only"
    DRILL_OVERDUE = "drill_overdue"
    NEVER_DRILLED = "never_drilled"
    ROTATION_DUE = "rotation_due"  # released, or a custodian revoked: rotate now
    ROTATION_OVERDUE = "rotation_overdue"  # older than the policy's rotation period
    CUSTODIAN_IS_OWNER = "custodian_is_owner"
    SHEETS_OUTSTANDING = "sheets_outstanding"
    PAPER_ONLY = "paper_only"  # a share no active token opens
    NOT_POST_QUANTUM = "not_post_quantum"  # a share envelope with a classical stanza
    NOT_ACKNOWLEDGED = "not_acknowledged"  # PCI DSS 3.7.8: no recorded acknowledgement
    NOT_PROVEN_HARDWARE = "not_proven_hardware"  # a FIDO2/PIV token without valid attestation
    TWO_TOUCHES = "two_touches"  # a PIV key with touch policy ALWAYS: two touches a release

    @property
    def heading(self) -> str:
        return _HEADINGS[self.value]


# Read once per finding printed (30,000 in a review of 5,000 records): one dict, built once.
_HEADINGS = {
    "loss_below_threshold": "Single point of loss",
    "multiple_shares": "One person, several shares",
    "software_on_hardware_only": "Software key on a hardware-only record",
    "drill_overdue": "Drill overdue",
    "never_drilled": "Key never drilled",
    "rotation_due": "Rotation due",
    "rotation_overdue": "Rotation overdue",
    "custodian_is_owner": "Custodian is the owner",
    "sheets_outstanding": "Superseded sheets not destroyed",
    "paper_only": "Share on paper only",
    "not_post_quantum": "Share envelopes not post-quantum",
    "not_acknowledged": "Responsibilities not acknowledged",
    "not_proven_hardware": "Token not proven hardware",
    "two_touches": "Two touches per release",
}


_SEVERITY = {
    FindingKind.LOSS_BELOW_THRESHOLD: Severity.HIGH,
    FindingKind.MULTIPLE_SHARES: Severity.MEDIUM,
    FindingKind.SOFTWARE_ON_HARDWARE_ONLY: Severity.HIGH,
    FindingKind.DRILL_OVERDUE: Severity.MEDIUM,
    FindingKind.NEVER_DRILLED: Severity.LOW,
    FindingKind.ROTATION_DUE: Severity.HIGH,
    FindingKind.ROTATION_OVERDUE: Severity.MEDIUM,
    FindingKind.CUSTODIAN_IS_OWNER: Severity.MEDIUM,
    FindingKind.SHEETS_OUTSTANDING: Severity.MEDIUM,
    FindingKind.PAPER_ONLY: Severity.LOW,
    FindingKind.NOT_POST_QUANTUM: Severity.MEDIUM,
    FindingKind.NOT_ACKNOWLEDGED: Severity.MEDIUM,
    FindingKind.NOT_PROVEN_HARDWARE: Severity.HIGH,
    FindingKind.TWO_TOUCHES: Severity.LOW,
}
CLOSED_STATES = ("superseded", "retired")
ROTATE_NOW_STATES = ("released", "rotation_required")  # rotate at once, not at an age


@dataclass(frozen=True)
class TokenView:
    """A token that opens a custodian's share of the record's current version."""

    token_id: str
    label: str
    kind: str  # "fido2", "piv", "software"
    state: str  # "active", "retired", "lost"
    enrolled_at: str
    last_drill_at: str | None  # the token's last passed drill, any record
    last_record_drill_at: str | None  # its last passed drill of this record's version
    post_quantum: bool = True  # the envelope names it by a hybrid (age1pq1…) recipient
    hybrid_capable: bool = True  # it has a hybrid recipient a re-wrap could use
    unproven: str = ""  # why a FIDO2/PIV token is not proven hardware ("" when it is)
    touch_policy: str = ""  # a PIV key's touch policy ("always", "cached"); "" otherwise


@dataclass(frozen=True)
class HolderView:
    """A custodian of the record's current version and the tokens that open their share."""

    custodian_id: str
    name: str
    contact: str
    role: str
    share_keys: tuple[str, ...]
    groups: tuple[int, ...]
    tokens: tuple[TokenView, ...]
    # When they acknowledged the custodian responsibilities in force now (PCI DSS
    # 3.7.8); None when there is no such acknowledgement.
    acknowledged_at: str | None = None


# RecordView, DrillDue and Finding are named tuples, not frozen dataclasses: a review
# of 5,000 records makes 5,000, 15,000 and 30,000 of them, and a frozen dataclass's
# __init__ (one object.__setattr__ per field) was a fifth of the review's own time.
# They stay immutable and are read by attribute only.
class RecordView(NamedTuple):
    """One record as the review sees it."""

    record_id: str
    label: str
    owner: str
    system: str
    environment: str
    state: str  # RecordState value
    state_display: str
    state_reason: str
    state_since: str
    version: int
    epoch: int
    fingerprint: str
    quorum: str  # "any 2 of 3"
    group_threshold: int
    groups: tuple[tuple[int, int], ...]  # (threshold, count) per SLIP-39 group
    holders: tuple[HolderView, ...]
    hardware_only: bool  # the effective rule: policy says so and no exception recorded
    drill_days: int
    rotation_days: int
    version_created_at: str
    secret_since: str  # when the current secret was sealed (creation or last rotation)
    last_release_at: str | None
    outstanding_sheets: tuple[str, ...]  # serials of superseded sheets not destroyed
    envelopes_policy: str = "hybrid"  # the effective policy: "hybrid" or "classical"

    @property
    def threshold(self) -> int:
        """K: the shares a minimal quorum brings."""
        return sum(sorted(t for t, _ in self.groups)[: self.group_threshold])

    @property
    def share_count(self) -> int:
        return sum(c for _, c in self.groups)

    @property
    def k_of_n(self) -> str:
        return f"{self.threshold} of {self.share_count}"

    @property
    def closed(self) -> bool:
        return self.state in CLOSED_STATES


class DrillDue(NamedTuple):
    """When a token must next prove it opens its share of a record."""

    record_id: str
    label: str
    custodian_id: str
    custodian: str
    token_id: str
    token_label: str
    last_drill_at: str | None  # for this record's current version
    due_at: str
    overdue: bool


class Finding(NamedTuple):
    kind: FindingKind
    severity: Severity
    record_id: str
    label: str
    text: str
    custodian: str = ""
    token: str = ""


@dataclass(frozen=True)
class Review:
    generated_at: str
    records: tuple[RecordView, ...]
    findings: tuple[Finding, ...]
    drills: tuple[DrillDue, ...]

    def findings_for(self, record_id: str, custodian: str | None = None) -> list[Finding]:
        found = self._findings_by_record.get(record_id, [])
        return list(found) if custodian is None else [f for f in found
                                                      if f.custodian == custodian]

    def drill_for(self, record_id: str, token_id: str) -> DrillDue | None:
        return self._drills_by_token.get((record_id, token_id))

    # Indexes built once: the review page asks per record and per holder, which was a
    # scan of every finding each time (quadratic in the number of records).
    @functools.cached_property
    def _findings_by_record(self) -> dict[str, list[Finding]]:
        index: dict[str, list[Finding]] = {}
        for finding in self.findings:
            index.setdefault(finding.record_id, []).append(finding)
        return index

    @functools.cached_property
    def _drills_by_token(self) -> dict[tuple[str, str], DrillDue]:
        index: dict[tuple[str, str], DrillDue] = {}
        for drill in self.drills:
            index.setdefault((drill.record_id, drill.token_id), drill)
        return index

    def rotation_due_at(self, record: RecordView) -> str:
        """When the secret is to be rotated: at once — since the release or revocation —
        for a record released or flagged, else when it reaches the policy's age."""
        if record.state in ROTATE_NOW_STATES:
            return record.state_since
        return format_time(parse_time(record.secret_since)
                           + timedelta(days=record.rotation_days))

    def rotation_due_text(self, record: RecordView) -> str:
        """The rotation column in words, agreeing with the findings: "now (released
        2026-12-02)", "overdue since 2027-12-02" or "2027-12-02"."""
        due = self.rotation_due_at(record)
        if record.state == "released":
            return f"now (released {due[:10]})"
        if record.state in ROTATE_NOW_STATES:
            return f"now (required since {due[:10]})"
        if parse_time(due) < parse_time(self.generated_at):
            return f"overdue since {due[:10]}"
        return due[:10]

    def counts(self) -> dict[Severity, int]:
        return {s: sum(1 for f in self.findings if f.severity is s) for s in Severity}


# -- schedule --------------------------------------------------------------------------

def drill_schedule(record: RecordView, now: datetime) -> list[DrillDue]:
    """Each active token of each holder: the last drill of this version and the next due.

    A token never drilled on this version is due ``drill_days`` after the version was
    sealed or the token enrolled, whichever is later.
    """
    due: list[DrillDue] = []
    period = timedelta(days=record.drill_days)
    for holder in record.holders:
        for token in holder.tokens:
            if token.state != "active":
                continue
            base = token.last_record_drill_at or max(record.version_created_at,
                                                     token.enrolled_at)
            when = parse_time(base) + period
            due.append(DrillDue(record.record_id, record.label, holder.custodian_id,
                                holder.name, token.token_id, token.label,
                                token.last_record_drill_at, format_time(when), when < now))
    return due


# -- findings --------------------------------------------------------------------------

def _single_points_of_loss(record: RecordView) -> frozenset[str]:
    """The custodians without whom the remaining shares can no longer meet the quorum."""
    return _losses(record.groups, record.group_threshold,
                   tuple((h.custodian_id, h.groups) for h in record.holders))


@functools.lru_cache(maxsize=4096)  # thousands of records share a few quorum shapes
def _losses(groups: tuple[tuple[int, int], ...], group_threshold: int,
            holders: tuple[tuple[str, tuple[int, ...]], ...]) -> frozenset[str]:
    lost = set()
    for custodian_id, _ in holders:
        left = [0] * len(groups)
        for other, held in holders:
            if other != custodian_id:
                for group in held:
                    left[group] += 1
        met = sum(1 for (threshold, _), n in zip(groups, left, strict=True) if n >= threshold)
        if met < group_threshold:
            lost.add(custodian_id)
    return frozenset(lost)


def _post_quantum_finding(record: RecordView, holder: HolderView,
                          add: Callable[[FindingKind, str, str, str], None]) -> None:
    """A share wrapped classically (X25519, piv-p256) opens to whoever kept a copy of the
    vault once a quantum computer exists; name what keeps it classical and the fix."""
    classical = [t for t in holder.tokens if t.state == "active" and not t.post_quantum]
    if not classical:
        return
    names = ", ".join(t.label for t in classical)
    stuck = [t for t in holder.tokens if t.state == "active" and not t.hybrid_capable]
    if record.envelopes_policy == "classical":
        why = "the record's policy asks for classical envelopes (envelopes = classical)"
    elif stuck:
        why = (f"{', '.join(t.label for t in stuck)} has no post-quantum key (enrolled "
               "before post-quantum envelopes, or remotely from a classical recipient: "
               "re-enrol it), and an envelope never mixes kinds (docs/FORMAT.md §5)")
    else:
        why = f"{holder.name} can re-wrap it to post-quantum: tessera rewrap --upgrade"
    add(FindingKind.NOT_POST_QUANTUM,
        f"{holder.name}'s share of {record.label} is wrapped classically to {names}: a copy "
        f"of the vault kept today opens with a future quantum computer. Why: {why}.",
        holder.name, names)


@functools.lru_cache(maxsize=4096)  # the same few custodians hold thousands of records
def _folded(*texts: str) -> frozenset[str]:
    return frozenset(fold(t) for t in texts)


def record_findings(record: RecordView, now: datetime,
                    schedule: Sequence[DrillDue] | None = None) -> list[Finding]:
    """Everything worth an auditor's attention on one record (``schedule``: its
    :func:`drill_schedule` at ``now``, when the caller has it already)."""
    if record.closed:
        return []
    found: list[Finding] = []
    owner = fold(record.owner) if record.owner else ""
    losses = _single_points_of_loss(record)

    def add(kind: FindingKind, text: str, custodian: str = "", token: str = "") -> None:
        found.append(Finding(kind, _SEVERITY[kind], record.record_id, record.label, text,
                             custodian, token))

    for holder in record.holders:
        if holder.custodian_id in losses:
            add(FindingKind.LOSS_BELOW_THRESHOLD,
                f"Losing {holder.name} would leave {record.label} below its quorum "
                f"({record.quorum}): the secret could no longer be recovered.", holder.name)
        if len(holder.share_keys) > 1:
            add(FindingKind.MULTIPLE_SHARES,
                f"{holder.name} holds {len(holder.share_keys)} shares of {record.label} and "
                "counts more than once towards the quorum.", holder.name)
        if owner and owner in _folded(holder.name, holder.contact):
            add(FindingKind.CUSTODIAN_IS_OWNER,
                f"{holder.name} owns {record.label} and is also one of its custodians: the "
                "owner should not be able to count towards its own recovery.", holder.name)
        if holder.acknowledged_at is None:
            add(FindingKind.NOT_ACKNOWLEDGED,
                f"{holder.name} holds a share of {record.label} but has no recorded "
                "acknowledgement of the custodian responsibilities (PCI DSS 3.7.8); record "
                "it when enrolling a key, or with `tessera custodian acknowledge`.",
                holder.name)
        active = [t for t in holder.tokens if t.state == "active"]
        if not active:
            add(FindingKind.PAPER_ONLY,
                f"No active token opens {holder.name}'s share of {record.label}; only their "
                "sheet does.", holder.name)
        for token in active:
            if record.hardware_only and token.kind == "software":
                add(FindingKind.SOFTWARE_ON_HARDWARE_ONLY,
                    f"{holder.name}'s share of {record.label} opens with the software key "
                    f"{token.label}, but the record is hardware-only.", holder.name,
                    token.label)
            if token.kind != "software" and token.unproven:
                add(FindingKind.NOT_PROVEN_HARDWARE,
                    f"{holder.name}'s {token.label} claims to be a hardware key but is not "
                    f"proven: {token.unproven}. It counts as a software key"
                    + (" on this hardware-only record." if record.hardware_only else "."),
                    holder.name, token.label)
            if token.kind == "piv" and token.touch_policy == "always":
                add(FindingKind.TWO_TOUCHES,
                    f"{holder.name}'s {token.label} was enrolled with touch policy ALWAYS: "
                    "each release asks for two touches (the approval, then opening the "
                    "share). It keeps working; to need one touch, re-enrol the key (new "
                    "enrolments use touch policy CACHED) and re-wrap the share to it.",
                    holder.name, token.label)
            if token.last_drill_at is None:
                add(FindingKind.NEVER_DRILLED,
                    f"{token.label} ({holder.name}) has not been drilled since it was "
                    f"enrolled ({token.enrolled_at[:10]}).", holder.name, token.label)
        _post_quantum_finding(record, holder, add)
    for due in drill_schedule(record, now) if schedule is None else schedule:
        if due.overdue:
            last = due.last_drill_at[:10] if due.last_drill_at else "never on this version"
            add(FindingKind.DRILL_OVERDUE,
                f"{due.custodian}'s drill of {due.token_label} on {record.label} was due "
                f"{due.due_at[:10]} (last: {last}).", due.custodian, due.token_label)
    if record.state in ROTATE_NOW_STATES:
        reason = f": {record.state_reason}" if record.state_reason else ""
        add(FindingKind.ROTATION_DUE,
            f"{record.label} is {record.state_display} since {record.state_since[:10]}"
            f"{reason}")
    rotate_by = parse_time(record.secret_since) + timedelta(days=record.rotation_days)
    if rotate_by < now:
        add(FindingKind.ROTATION_OVERDUE,
            f"{record.label}'s secret dates from {record.secret_since[:10]}; the policy asks "
            f"for rotation every {record.rotation_days} days (due {format_time(rotate_by)[:10]}).")
    if record.outstanding_sheets:
        add(FindingKind.SHEETS_OUTSTANDING,
            f"{len(record.outstanding_sheets)} sheet(s) of superseded versions of "
            f"{record.label} are not recorded as destroyed: "
            f"{', '.join(record.outstanding_sheets)}.")
    return found


def build_review(records: Sequence[RecordView], now: datetime) -> Review:
    findings: list[Finding] = []
    drills: list[DrillDue] = []
    for record in records:
        if record.closed:
            continue
        schedule = drill_schedule(record, now)
        findings.extend(record_findings(record, now, schedule))
        drills.extend(schedule)
    rank = {severity: n for n, severity in enumerate(Severity)}
    # FindingKind is a StrEnum: kinds order as their values do.
    findings.sort(key=lambda f: (rank[f.severity], f.label.casefold(), f.kind))
    return Review(format_time(now), tuple(records), tuple(findings), tuple(drills))


# -- CSV ---------------------------------------------------------------------------------

CSV_COLUMNS = (
    "record", "record_id", "state", "k_of_n", "quorum", "version", "epoch", "fingerprint",
    "owner", "custodian", "role", "shares", "token", "token_kind", "token_state",
    "enrolled_at", "last_drill", "drill_due", "last_release", "rotation_due",
    "outstanding_sheets", "acknowledged", "findings",
)


def _cell(value: object) -> str:
    # Names and labels come from people (and from vaults written before typed text
    # was checked): no formulas, no raw controls.
    return csv_cell("" if value is None else value)


def _finding_texts(findings: Iterable[Finding]) -> str:
    return " | ".join(f"[{f.severity.value}] {f.kind.heading}: {f.text}" for f in findings)


def review_csv(review: Review) -> str:
    """One row per record × custodian × token (a record without holders: one row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in review.records:
        base = [record.label, record.record_id, record.state_display, record.k_of_n,
                record.quorum, record.version, record.epoch, record.fingerprint, record.owner]
        tail = [record.last_release_at or "", review.rotation_due_at(record),
                " ".join(record.outstanding_sheets)]
        record_level = [f for f in review.findings_for(record.record_id) if not f.custodian]
        rows = [(h, t) for h in record.holders for t in (h.tokens or (None,))]
        if not rows:
            writer.writerow([_cell(v) for v in [*base, "", "", "", "", "", "", "", "", "",
                                                *tail, "", _finding_texts(record_level)]])
        for holder, token in rows:
            mine = [f for f in review.findings_for(record.record_id, holder.name)
                    if not f.token or token is None or f.token == token.label]
            due = review.drill_for(record.record_id, token.token_id) if token else None
            writer.writerow([_cell(v) for v in [
                *base, holder.name, holder.role, " ".join(holder.share_keys),
                token.label if token else "", token.kind if token else "",
                token.state if token else "", token.enrolled_at if token else "",
                (token.last_record_drill_at or "") if token else "",
                due.due_at if due else "", *tail, holder.acknowledged_at or "no",
                _finding_texts([*record_level, *mine])]])
    return buffer.getvalue()
