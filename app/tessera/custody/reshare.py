"""Reshare (regenerate): a quorum makes a new share set for the same secret.

The quorum is collected exactly like a release — a request of purpose "reshare"
signed by each approving token, paper shares if the policy allows them, every share
checked against its commitment at once — but the DEK and the secret are only used
inside :meth:`ReshareCeremony.finish`: the secret is sealed again under a *new* DEK
and a *new* SLIP-39 set with the next epoch, for the same or other custodians, and
wiped. Nothing is shown. The old version becomes superseded; its sheets are listed
for destruction; a share of the old epoch is refused by name from then on.

A reshare *without* a custodian is a revocation (:mod:`tessera.custody.revoke`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tessera.core.errors import PolicyError
from tessera.core.memory import wipe
from tessera.core.payload import decrypt_payload
from tessera.core.policy import PolicyWarning, SplitPlan, check_split
from tessera.core.sealing import RecordFacts, SealedVersion, seal_version
from tessera.custody.create import holders_for, resolve_plan, token_kinds
from tessera.custody.drivers import TokenDrivers
from tessera.custody.lifecycle import (
    NewVersion,
    current_plan,
    sheets_to_destroy,
)
from tessera.custody.release import QuorumCeremony
from tessera.vault import Record, RecordState, Vault


class ReshareCeremony(QuorumCeremony):
    """One quorum reshare of a record's current version.

    ``plan`` is the new split (custodian names or ids; default: the current split).
    The plan is checked against the record's policy before the quorum is opened, so
    a refused plan costs nobody a touch. ``revoked`` / ``revoke_reason`` are set by
    :func:`tessera.custody.revoke.start_revoke`.
    """

    purpose = "reshare"
    operation = "reshare"

    def __init__(self, vault: Vault, drivers: TokenDrivers, record: str, *, reason: str,
                 ticket: str, requested_by: str, plan: SplitPlan | None = None) -> None:
        self._requested_plan = plan
        self.reason = reason
        super().__init__(vault, drivers, record, reason=reason, ticket=ticket,
                         requested_by=requested_by)

    def _refuse_state(self) -> None:
        if self.record.state in (RecordState.RETIRED, RecordState.SUPERSEDED):
            raise PolicyError(f"record {self.record.label!r} is {self.record.state.display}; "
                              "it cannot be reshared")

    def _prepare(self) -> None:
        plan = self._requested_plan
        self.plan = resolve_plan(self.vault, plan) if plan is not None \
            else current_plan(self.manifest)
        self.warnings: tuple[PolicyWarning, ...] = tuple(check_split(
            self.plan, self.policy, demo=self.vault.is_demo,
            token_kinds=token_kinds(self.vault, self._plan_ids()),
            allow_software=self.record.allow_software))

    def _plan_ids(self) -> list[str]:
        return list(dict.fromkeys(c for _, members in self.plan.groups for c in members))

    # -- the new set -------------------------------------------------------------------
    def finish(self, on_mnemonics: Callable[[Mapping[str, str]], None] | None = None
               ) -> NewVersion:
        """Seal the same secret under a new DEK and share set; store it atomically.

        The quorum's completion, the new version and (for a revocation) the record's
        *rotation required* flag are one transaction: a failure anywhere leaves the
        old version current and intact, and the quorum can be aborted and run again.
        """
        secret = bytearray()
        dek = self.session.recover_dek()
        try:
            secret = decrypt_payload(dek, self.manifest, self.data.ciphertext)
            wipe(dek)
            self.session.wipe()
            sealed = self._seal(secret, on_mnemonics)
        finally:
            wipe(dek)
            wipe(secret)
        # The new share set is signed by the operator's token, not the ceremony key:
        # a new version under a key that never needed the quorum's shares could seal a
        # different secret for other recipients (docs/TOKENS.md, "One touch per quorum").
        with self.vault.transaction():
            self.vault.finish_release(self.request_id, "released", self.actor)
            updated = self.vault.add_version(sealed, self.actor, self._version_reason())
            updated = self._after_version() or updated
            old_sheets = sheets_to_destroy(self.vault, self.record.id)
            self.vault.append_audit(self.actor, f"record.{self.operation}", self.record.id, {
                "label": self.record.label, "request_id": self.request_id,
                "from_version": self.manifest.version, "from_epoch": self.manifest.epoch,
                "version": sealed.manifest.version, "epoch": sealed.manifest.epoch,
                "fingerprint": sealed.fingerprint, "quorum": sealed.manifest.describe_quorum(),
                "custodians": self._plan_ids(), "reason": self.reason,
                **self._audit_extra(),
                "sheets_to_destroy": [s.serial for s in old_sheets]})
        self.close()
        self.finished = True
        return NewVersion(self.operation, self.record.id, updated.label, self.manifest.version,
                          sealed.manifest.version, sealed.manifest.epoch, sealed.fingerprint,
                          sealed.manifest.describe_quorum(), updated.state,
                          updated.state_reason, tuple(old_sheets), self.warnings, sealed)

    def _seal(self, secret: bytearray,
              on_mnemonics: Callable[[Mapping[str, str]], None] | None) -> SealedVersion:
        holders = holders_for(self.vault, self._plan_ids(),
                              self.vault.record_policy(self.record.id).envelopes)
        return seal_version(
            secret, RecordFacts(self.record.label, self.record.nhi), self.plan.group_threshold,
            [(t, [holders[c] for c in members]) for t, members in self.plan.groups],
            record_id=self.record.id, version=self.manifest.version + 1,
            epoch=self.manifest.epoch + 1, created_by=self.actor,
            previous=self.manifest.digest.hex(), encoding=self.manifest.payload_encoding,
            on_mnemonics=on_mnemonics)

    # -- what a revocation changes ---------------------------------------------------------
    def _version_reason(self) -> str:
        return f"reshare: {self.reason}"

    def _after_version(self) -> Record | None:
        """Further writes inside the reshare's transaction (none for a plain reshare)."""
        return None

    def _audit_extra(self) -> dict[str, object]:
        return {}
