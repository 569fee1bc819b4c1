"""The rows the inventory tables show, computed from the vault (no Qt here).

Each row is a frozen dataclass holding display-ready facts plus the sort keys the
tables need, so the models stay thin and the arithmetic (when is the next drill
due?) is tested without a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tessera.core.errors import TesseraError
from tessera.core.policy import Policy
from tessera.core.wording import detail_lines
from tessera.custody.sheet_backup import backup_status
from tessera.tokens.base import TokenKind, TokenState
from tessera.vault import (
    AuditEntry,
    Custodian,
    Record,
    RecordState,
    TokenRecord,
    Vault,
    VersionData,
)


def parse_time(text: str | None) -> datetime | None:
    """A vault timestamp (``2026-01-31T12:00:00Z``) as an aware datetime."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def short_time(text: str | None) -> str:
    """A timestamp as a table shows it: local date and minutes, or an em dash."""
    moment = parse_time(text)
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def short_date(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone().strftime("%Y-%m-%d")


@dataclass(frozen=True)
class RecordRow:
    record: Record
    quorum: str  # "2 of 3"
    quorum_text: str  # "any 2 of 3"
    version: int
    epoch: int
    fingerprint: str
    custodians: tuple[str, ...]
    next_drill: datetime | None
    next_rotation: datetime | None
    damaged: str = ""  # why the current version could not be read, if it could not
    unconfirmed: tuple[str, ...] = ()  # custodians whose sheet of this version is unconfirmed
    sheets_printed: bool = True  # any sheet of this version was printed

    @property
    def drill_overdue(self) -> bool:
        return self.next_drill is not None and self.next_drill <= datetime.now(UTC)

    @property
    def rotation_overdue(self) -> bool:
        if self.record.state in (RecordState.RELEASED, RecordState.ROTATION_REQUIRED):
            return True
        return self.next_rotation is not None and self.next_rotation <= datetime.now(UTC)

    @property
    def next_due_text(self) -> str:
        """"drill 2026-03-01 · rotate 2027-01-01", with what is overdue said first."""
        if self.record.state in (RecordState.SUPERSEDED, RecordState.RETIRED):
            return "—"
        if self.record.state in (RecordState.RELEASED, RecordState.ROTATION_REQUIRED):
            rotate = "rotate now"
        elif self.rotation_overdue:
            rotate = f"rotation overdue since {short_date(self.next_rotation)}"
        else:
            rotate = f"rotate {short_date(self.next_rotation)}"
        drill = f"drill {short_date(self.next_drill)}"
        if self.drill_overdue:
            drill = f"drill overdue since {short_date(self.next_drill)}"
        due = f"{drill} · {rotate}"
        if not self.sheets_printed:
            due = f"no sheets printed · {due}"
        elif self.unconfirmed:  # the paper backups are not proven yet: said first
            due = f"sheets to confirm: {', '.join(self.unconfirmed)} · {due}"
        return due

    @property
    def rotation_text(self) -> str:
        """When to rotate, in the same words as the access review: "now (released
        2026-12-02)", "now (required since …)", "overdue since …" or a date."""
        since = short_date(parse_time(self.record.state_since))
        if self.record.state is RecordState.RELEASED:
            return f"now (released {since})"
        if self.record.state is RecordState.ROTATION_REQUIRED:
            return f"now (required since {since})"
        if self.rotation_overdue:
            return f"overdue since {short_date(self.next_rotation)}"
        return short_date(self.next_rotation)


def record_rows(vault: Vault) -> list[RecordRow]:
    """One row per record, with its current version's quorum and the due dates.

    Every current version is read in one go; if any is damaged, each record is read on
    its own so the damaged ones are named in their rows and the rest still show."""
    try:
        with vault.reading():
            records = vault.list_records()
            versions: dict[str, VersionData] | None = vault.current_versions()
            default_policy: Policy | None = vault.policy
            sealed = vault.secrets_sealed_at()
    except TesseraError:
        records, versions, default_policy = vault.list_records(), None, None
        sealed = vault.secrets_sealed_at()
    rows: list[RecordRow] = []
    for record in records:
        try:
            if versions is not None and default_policy is not None:
                data = versions.get(record.id) or vault.get_version(record.id)
                policy = (default_policy.with_overrides(record.policy_overrides)
                          if record.policy_overrides else default_policy)
            else:
                policy = vault.record_policy(record.id)
                data = vault.get_version(record.id)
        except TesseraError as exc:
            rows.append(RecordRow(record, "?", "?", record.current_version, 0, "", (),
                                  None, None, damaged=str(exc)))
            continue
        manifest = data.manifest
        if len(manifest.groups) == 1:
            quorum = f"{manifest.groups[0].threshold} of {manifest.groups[0].count}"
        else:
            quorum = f"{manifest.group_threshold} of {len(manifest.groups)} groups"
        created = parse_time(data.created_at)
        last_drill = parse_time(record.last_drill_at)
        drill_base = max(d for d in (created, last_drill) if d is not None) if created else None
        next_drill = drill_base + timedelta(days=policy.drill_days) if drill_base else None
        # From when the secret was sealed (a reshare keeps the secret, a rotation not).
        secret_from = parse_time(sealed.get(record.id, record.created_at))
        next_rotation = (secret_from + timedelta(days=policy.rotation_days)
                         if secret_from else None)
        names = tuple(dict.fromkeys(s.custodian for s in manifest.shares))
        backups = backup_status(vault, record.id)
        rows.append(RecordRow(record, quorum, manifest.describe_quorum(), data.version,
                              data.epoch, data.fingerprint, names, next_drill, next_rotation,
                              unconfirmed=tuple(backups.unconfirmed_names()),
                              sheets_printed=any(s.printed for s in backups.shares)))
    return rows


@dataclass(frozen=True)
class CustodianRow:
    custodian: Custodian
    tokens: tuple[TokenRecord, ...]
    records: tuple[str, ...]  # labels of records where they hold a share

    @property
    def token_summary(self) -> str:
        if not self.tokens:
            return "no token"
        return ", ".join(t.info.label for t in self.tokens)

    @property
    def hardware(self) -> bool:
        return any(t.info.kind.is_hardware for t in self.tokens)

    @property
    def last_drill(self) -> str | None:
        dates = [t.last_drill_at for t in self.tokens if t.last_drill_at]
        return max(dates) if dates else None


def custodian_rows(vault: Vault, include_retired: bool = False) -> list[CustodianRow]:
    tokens = vault.list_token_records()
    rows = []
    for custodian in vault.list_custodians(include_retired=include_retired):
        mine = tuple(t for t in tokens if t.info.custodian_id == custodian.id)
        records = tuple(r.label for r in vault.records_of_custodian(custodian.id))
        rows.append(CustodianRow(custodian, mine, records))
    return rows


@dataclass(frozen=True)
class TokenRow:
    token: TokenRecord
    attestation: str = ""  # "proven hardware (…)", "not proven: …", "" for software keys
    unproven: bool = False  # a FIDO2/PIV key whose attestation does not verify: counts as software

    @property
    def kind_text(self) -> str:
        info = self.token.info
        text = info.kind.display_name
        if info.remote:
            text += " (remote)"
        return text

    @property
    def lower_assurance(self) -> bool:
        return self.token.info.kind is TokenKind.SOFTWARE

    @property
    def state_text(self) -> str:
        state = self.token.info.state
        if state is TokenState.ACTIVE:
            return "active"
        reason = self.token.state_reason
        return f"{state.value} — {reason}" if reason else state.value


def token_rows(vault: Vault, include_inactive: bool = True) -> list[TokenRow]:
    demo = vault.is_demo
    rows: list[TokenRow] = []
    for t in vault.list_token_records(include_inactive=include_inactive):
        if not t.info.kind.is_hardware:
            rows.append(TokenRow(t))
            continue
        proof = t.info.attestation(demo_vault=demo)
        rows.append(TokenRow(t, proof.describe(), not proof.proven))
    return rows


def audit_summary(entry: AuditEntry) -> str:
    """The entry's telling details in one line of words: "Record: …, Custodian: …"."""
    parts = [f"{line.title}: {line.text}" for line in detail_lines(entry.details, entry.action)
             if not line.technical and line.text not in ("—", "no")]
    text = ", ".join(parts)
    return text if len(text) <= 160 else text[:159] + "…"
