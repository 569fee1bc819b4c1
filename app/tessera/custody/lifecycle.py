"""What rotate, reshare, revoke and re-wrap share: the outcome of a new version, the
sheets it leaves to destroy, the current split as a plan, and opening a share with
the recipients an envelope is wrapped to *now* (after any re-wrap).

Every operation here is a plain function or a small ceremony object taking
``prompts`` and a ``cancel`` event, so the GUI runs it on its token worker exactly
like :class:`~tessera.custody.release.ReleaseCeremony`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tessera.core.errors import InputError
from tessera.core.manifest import Manifest
from tessera.core.policy import PolicyWarning, SplitPlan
from tessera.core.sealing import SealedVersion
from tessera.tokens.base import TokenInfo, TokenState
from tessera.vault import RecordState, Vault
from tessera.vault.sheet_registry import SheetRecord, SheetRegistry, SheetState


@dataclass(frozen=True)
class NewVersion:
    """The outcome of a rotate, reshare or revoke: the record's new current version.

    ``sheets_to_destroy`` are the sheets of earlier versions still on paper; each one
    is a share of a superseded set and should be shredded before a witness
    (``tessera sheet-destroy``). ``sealed`` is public data only, for printing sheets.
    """

    operation: str  # "rotate", "reshare" or "revoke"
    record_id: str
    label: str
    old_version: int
    version: int
    epoch: int
    fingerprint: str
    quorum: str
    state: RecordState
    state_reason: str
    sheets_to_destroy: tuple[SheetRecord, ...]
    warnings: tuple[PolicyWarning, ...]
    sealed: SealedVersion


def sheets_to_destroy(vault: Vault, record_id: str) -> list[SheetRecord]:
    """Sheets of the record's superseded versions that are not destroyed yet."""
    record = vault.get_record(record_id)
    return [s for s in SheetRegistry(vault).sheets(record.id)
            if s.version != record.current_version and s.state is not SheetState.DESTROYED]


def outstanding_sheets(vault: Vault) -> list[SheetRecord]:
    """Every superseded sheet, across records, still waiting to be destroyed."""
    current = {r.id: r.current_version for r in vault.list_records()}
    return [s for s in SheetRegistry(vault).sheets()
            if s.state is not SheetState.DESTROYED and current.get(s.record_id) != s.version]


def destroy_sheet(vault: Vault, serial: str, *, destroyed_by: str, witness: str,
                  actor: str) -> SheetRecord:
    """Record that a sheet was shredded by ``destroyed_by`` before ``witness``."""
    return SheetRegistry(vault).mark_destroyed(serial, destroyed_by=destroyed_by,
                                               witness=witness, actor=actor)


def current_plan(manifest: Manifest) -> SplitPlan:
    """The split of ``manifest`` as a plan: same groups, thresholds and custodians."""
    groups = []
    for index, spec in enumerate(manifest.groups):
        members = tuple(s.custodian_id for s in manifest.shares if s.group == index)
        groups.append((spec.threshold, members))
    return SplitPlan(manifest.group_threshold, tuple(groups))


def plan_without(manifest: Manifest, custodian_id: str) -> SplitPlan:
    """The current split with every share of one custodian taken out.

    A group's threshold is kept unless fewer members than that remain; the policy
    check then refuses a plan that no longer protects the secret.
    """
    groups = []
    for threshold, members in current_plan(manifest).groups:
        kept = tuple(m for m in members if m != custodian_id)
        if kept:
            groups.append((min(threshold, len(kept)), kept))
    if not groups:
        raise InputError("no custodian would be left to hold a share")
    return SplitPlan(min(manifest.group_threshold, len(groups)), tuple(groups))


def active_tokens_of(vault: Vault, custodian_id: str) -> list[TokenInfo]:
    return [t for t in vault.list_tokens(custodian_id) if t.state is TokenState.ACTIVE]


