"""Gather the access review from a vault (the findings themselves are in core.review).

Reads only public rows: records, current versions (following re-wraps), tokens,
drills, releases, sheets and the audit log's record of rotations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tessera.core import age
from tessera.core.attestation import AttestationResult
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
from tessera.core.token_types import TokenInfo
from tessera.custody.acknowledge import acknowledged_at
from tessera.vault import Custodian, Drill, Record, TokenRecord, Vault
from tessera.vault.outline import ShareOutline, VersionOutline, current_outlines
from tessera.vault.sheet_registry import SheetRecord, SheetRegistry, SheetState


@dataclass(frozen=True)
class _Snapshot:
    """Everything the review reads, fetched in a handful of queries (not per record)."""

    records: list[Record]
    versions: dict[str, VersionOutline]
    policy: Policy
    drills: dict[str, list[Drill]]
    custodians: dict[str, Custodian]
    tokens: dict[str, TokenRecord]  # by recipient
    sealed_at: dict[str, str]
    sheets: dict[str, list[SheetRecord]]
    acknowledged: Mapping[str, str]
    demo: bool = False  # demo vaults trust the demo attestation CA
    # Thousands of records share a few custodians and tokens: what depends only on them
    # is worked out once per review (an attestation chain, a token's or a holder's view).
    _proofs: dict[str, AttestationResult] = field(default_factory=dict)
    _tokens: dict[object, tuple[TokenView, ...]] = field(default_factory=dict)
    _holders: dict[object, HolderView] = field(default_factory=dict)

    @classmethod
    def read(cls, vault: Vault, record_id: str | None = None) -> _Snapshot:
        """The whole vault, or what the review of one record reads (``record_id``)."""
        with vault.reading():
            records = ([vault.get_record(record_id)] if record_id is not None
                       else vault.list_records())
            drills: dict[str, list[Drill]] = {}
            for drill in vault.list_drills(record_id):
                drills.setdefault(drill.record_id, []).append(drill)
            sheets: dict[str, list[SheetRecord]] = {}
            for sheet in SheetRegistry(vault).sheets():
                sheets.setdefault(sheet.record_id, []).append(sheet)
            return cls(records, current_outlines(vault, record_id), vault.policy, drills,
                       {c.id: c for c in vault.list_custodians(include_retired=True)},
                       _tokens_by_recipient(vault),
                       vault.secrets_sealed_at(record_id), sheets, acknowledged_at(vault),
                       vault.is_demo)

    def proof(self, info: TokenInfo) -> AttestationResult:
        """The token's attestation, verified once per review (not once per record)."""
        found = self._proofs.get(info.id)
        if found is None:
            found = self._proofs[info.id] = info.attestation(demo_vault=self.demo)
        return found

    def token_views(self, recipients: tuple[str, ...],
                    drilled: Mapping[str, str]) -> tuple[TokenView, ...]:
        """The tokens that open an envelope wrapped to ``recipients`` (each once, in the
        order of its first recipient), with their last passed drill of this version."""
        key = (recipients, tuple(sorted(drilled.items())))
        found = self._tokens.get(key)
        if found is None:
            tokens: list[TokenView] = []
            for recipient in recipients:
                row = self.tokens.get(recipient)
                if row is None or any(t.token_id == row.info.id for t in tokens):
                    continue
                info = row.info
                proof = self.proof(info)
                tokens.append(TokenView(info.id, visible(info.label), info.kind.value,
                                        info.state.value, row.enrolled_at, row.last_drill_at,
                                        drilled.get(info.id),
                                        post_quantum=age.is_post_quantum(recipient),
                                        hybrid_capable=info.pq_recipient is not None,
                                        unproven="" if proof.proven else proof.problem,
                                        touch_policy=str(info.facts.get("touch_policy", ""))
                                        if info.kind.value == "piv" else ""))
            found = self._tokens[key] = tuple(tokens)
        return found

    def holder_view(self, custodian_id: str, shares: list[ShareOutline],
                    drilled: Mapping[str, str]) -> HolderView:
        # Thousands of records repeat a few (custodian, shares, drills) shapes: the view
        # is keyed by what it is made of, so a repeated shape costs one lookup.
        shape = (custodian_id, tuple(shares), tuple(sorted(drilled.items())) if drilled else ())
        found = self._holders.get(shape)
        if found is None:
            recipients = tuple(dict.fromkeys(r for s in shares for r in s.recipients))
            tokens = self.token_views(recipients, drilled)
            custodian = self.custodians[custodian_id]
            found = self._holders[shape] = HolderView(
                custodian_id, visible(custodian.name), visible(custodian.contact),
                visible(custodian.role), tuple(s.key for s in shares),
                tuple(s.group for s in shares), tokens, self.acknowledged.get(custodian_id))
        return found


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
    return _record_view(_Snapshot.read(vault, record.id), record)


def _record_view(snap: _Snapshot, record: Record) -> RecordView:
    """Text people typed is spelled out (:func:`~tessera.core.text.visible`): a vault
    written before typed text was checked cannot reorder or hide parts of the report,
    the PDF or the GUI's review page."""
    outline = snap.versions[record.id]
    try:
        policy = (snap.policy.with_overrides(record.policy_overrides)
                  if record.policy_overrides else snap.policy)
    except FormatError as exc:
        raise IntegrityError(f"record {record.label!r}: its policy is damaged: {exc}") from None
    drilled: dict[str, str] = {}
    for drill in snap.drills.get(record.id, ()):
        if drill.ok and drill.version == outline.version and drill.token_id is not None:
            drilled[drill.token_id] = max(drilled.get(drill.token_id, ""), drill.at)
    by_custodian: dict[str, list[ShareOutline]] = {}
    for share in outline.shares:
        by_custodian.setdefault(share.custodian_id, []).append(share)
    holders = tuple(snap.holder_view(cid, shares, drilled)
                    for cid, shares in by_custodian.items())
    outstanding = tuple(s.serial for s in snap.sheets.get(record.id, ())
                        if s.version != record.current_version
                        and s.state is not SheetState.DESTROYED)
    return RecordView(
        record_id=record.id, label=visible(record.label), owner=visible(record.owner),
        system=visible(record.system), environment=visible(record.environment),
        state=record.state.value, state_display=record.state.display,
        state_reason=visible(record.state_reason),
        state_since=record.state_since, version=outline.version, epoch=outline.epoch,
        fingerprint=outline.fingerprint, quorum=outline.quorum,
        group_threshold=outline.group_threshold, groups=outline.groups,
        holders=holders,
        hardware_only=policy.hardware_only and not record.allow_software,
        drill_days=policy.drill_days, rotation_days=policy.rotation_days,
        envelopes_policy=policy.envelopes,
        version_created_at=outline.created_at,
        secret_since=snap.sealed_at.get(record.id, record.created_at),
        last_release_at=record.last_release_at,
        outstanding_sheets=outstanding)
