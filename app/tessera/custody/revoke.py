"""Revoke a custodian: a reshare without them, and the record flagged *rotation required*.

Taking a custodian out of the share set stops their *new* share from existing, but
it cannot take back what they already hold: their old share (an envelope their
token opens, or their sheet) together with any old copy of the version — an export,
a backup of the vault, a sheet's QR codes, which carry the ciphertext — and enough
other old shares still rebuild the old DEK and decrypt the old ciphertext, which
holds the same secret. Only rotating the credential itself (changing it at the
system it unlocks, then :func:`tessera.custody.rotate.rotate_record`) closes that
path, so the record says so until it is rotated.
"""

from __future__ import annotations

from tessera.core.errors import InputError
from tessera.custody.drivers import TokenDrivers
from tessera.custody.lifecycle import plan_without
from tessera.custody.reshare import ReshareCeremony
from tessera.vault import Record, RecordState, Vault


def rotation_reason(name: str, version: int) -> str:
    """The sentence the record shows until the secret is rotated."""
    return (f"{name} was revoked at version {version}. Their old share plus an old copy of "
            "the ciphertext (an export, a backup, a sheet) still reveals the old secret "
            "together with enough other old shares; only rotating the credential itself "
            "closes that path.")


class RevokeCeremony(ReshareCeremony):
    """A reshare whose new plan leaves one custodian out."""

    operation = "revoke"

    def __init__(self, vault: Vault, drivers: TokenDrivers, record: str, custodian: str, *,
                 reason: str, ticket: str, requested_by: str) -> None:
        rec = vault.get_record(record)
        person = vault.get_custodian(custodian)
        manifest = vault.get_version(rec.id).manifest
        if not manifest.shares_of(person.id):
            raise InputError(f"{person.name} holds no share of {rec.label}")
        self.revoked_id = person.id
        self.revoked_name = person.name
        super().__init__(vault, drivers, rec.id, reason=reason, ticket=ticket,
                         requested_by=requested_by, plan=plan_without(manifest, person.id))

    def _version_reason(self) -> str:
        return f"revoke {self.revoked_name}: {self.reason}"

    def _after_version(self) -> Record | None:
        return self.vault.set_record_state(
            self.record.id, RecordState.ROTATION_REQUIRED,
            rotation_reason(self.revoked_name, self.manifest.version + 1), self.actor)

    def _audit_extra(self) -> dict[str, object]:
        return {"revoked_custodian_id": self.revoked_id, "revoked_custodian": self.revoked_name}


def start_revoke(vault: Vault, drivers: TokenDrivers, record: str, custodian: str, *,
                 reason: str, ticket: str, requested_by: str) -> RevokeCeremony:
    """Open the quorum that reshares ``record`` without ``custodian``.

    The revoked custodian may still approve with their current share: the quorum is
    of the version being replaced. Contribute, then :meth:`RevokeCeremony.finish`.
    """
    return RevokeCeremony(vault, drivers, record, custodian, reason=reason, ticket=ticket,
                          requested_by=requested_by)
