"""What rotate, reshare, revoke and re-wrap share: the outcome of a new version, the
sheets it leaves to destroy, the current split as a plan, and opening a share with
the recipients an envelope is wrapped to *now* (after any re-wrap).

Every operation here is a plain function or a small ceremony object taking
``prompts`` and a ``cancel`` event, so the GUI runs it on its token worker exactly
like :class:`~tessera.custody.release.ReleaseCeremony`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from tessera.core.errors import InputError, TokenError, WrongToken
from tessera.core.manifest import Manifest, ShareEntry
from tessera.core.policy import PolicyWarning, SplitPlan
from tessera.core.sealing import SealedVersion
from tessera.custody.drivers import TokenDrivers
from tessera.tokens.base import Prompts, TokenInfo, TokenState, Unlocked
from tessera.vault import RecordState, Vault, VersionData
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


def open_own_share(drivers: TokenDrivers, token: TokenInfo, data: VersionData,
                   challenge: bytes, prompts: Prompts, cancel: threading.Event,
                   skip: Sequence[str] = ()) -> tuple[Unlocked, ShareEntry]:
    """Open the first of the token's custodian's envelopes wrapped to this token now.

    Unlike the manifest's recipient list, this follows re-wraps, so a custodian's new
    token opens their share and the old one is refused.
    """
    manifest = data.manifest
    entries = [e for e in manifest.shares_of(token.custodian_id) if e.key not in skip]
    candidates = [e for e in entries if token.recipient in data.recipients_of(e.key)]
    if not candidates:
        owner = next((e.custodian for e in manifest.shares
                      if token.recipient in data.recipients_of(e.key)), None)
        detail = (f"it is {owner}'s key" if owner and owner != token.custodian_name
                  else "it does not open any share of this record's current version")
        raise WrongToken(entries[0].custodian if entries else token.custodian_name, detail)
    entry = candidates[0]
    driver = drivers.for_token(token)
    unlocked = driver.unlock(token, data.envelopes[entry.key].age, challenge, prompts, cancel)
    if not driver.verify(token, challenge, unlocked.evidence):
        unlocked.wipe()
        raise TokenError(f"{token.label} returned an approval signature that does not verify")
    return unlocked, entry


def wipe(buffer: bytearray) -> None:
    for i in range(len(buffer)):
        buffer[i] = 0
