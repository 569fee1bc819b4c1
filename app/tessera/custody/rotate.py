"""Rotate: a new secret becomes the record's next version, no quorum needed.

Rotation is what closes a used or exposed credential: the secret itself is replaced
(at the system it unlocks) and the new one sealed for the record's current
custodians, under a fresh DEK and a fresh SLIP-39 set (a new epoch). Nobody needs to
open the old version, so no quorum is asked; the old version becomes *superseded*
and its sheets are listed for destruction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tessera.core.errors import InputError
from tessera.core.policy import check_split
from tessera.core.sealing import RecordFacts, seal_version
from tessera.custody.create import holders_for, token_kinds
from tessera.custody.lifecycle import NewVersion, current_plan, sheets_to_destroy
from tessera.vault import RecordState, Vault


def rotate_record(vault: Vault, record: str, secret: bytes | bytearray, *, actor: str,
                  reason: str, encoding: str | None = None,
                  on_mnemonics: Callable[[Mapping[str, str]], None] | None = None
                  ) -> NewVersion:
    """Seal ``secret`` (the replacement credential) as the record's next version.

    The split (groups, thresholds, custodians) stays as it is; each custodian's share
    is wrapped to their tokens that are active now. ``encoding`` defaults to the
    current version's. The record returns to *sealed*.
    """
    rec = vault.get_record(record)
    if rec.state in (RecordState.RETIRED, RecordState.SUPERSEDED):
        raise InputError(f"record {rec.label!r} is {rec.state.display}; it cannot be rotated")
    current = vault.get_version(rec.id)
    manifest = current.manifest
    plan = current_plan(manifest)
    ids = list(dict.fromkeys(c for _, members in plan.groups for c in members))
    policy = vault.record_policy(rec.id)
    warnings = check_split(plan, policy, demo=vault.is_demo,
                           token_kinds=token_kinds(vault, ids),
                           allow_software=rec.allow_software)
    holders = holders_for(vault, ids, policy.envelopes)
    sealed = seal_version(
        secret, RecordFacts(rec.label, rec.nhi), plan.group_threshold,
        [(t, [holders[c] for c in members]) for t, members in plan.groups],
        record_id=rec.id, version=current.version + 1, epoch=current.epoch + 1,
        created_by=actor, previous=manifest.digest.hex(),
        encoding=encoding or manifest.payload_encoding, on_mnemonics=on_mnemonics)
    with vault.transaction():
        updated = vault.add_version(sealed, actor, reason, new_secret=True)
        old_sheets = sheets_to_destroy(vault, rec.id)
        vault.append_audit(actor, "record.rotate", rec.id, {
            "label": rec.label, "from_version": current.version,
            "version": sealed.manifest.version, "epoch": sealed.manifest.epoch,
            "fingerprint": sealed.fingerprint, "reason": reason,
            "sheets_to_destroy": [s.serial for s in old_sheets]})
    return NewVersion("rotate", rec.id, updated.label, current.version,
                      sealed.manifest.version, sealed.manifest.epoch, sealed.fingerprint,
                      sealed.manifest.describe_quorum(), updated.state, updated.state_reason,
                      tuple(old_sheets), tuple(warnings), sealed)
