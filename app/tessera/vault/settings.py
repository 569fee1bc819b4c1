"""Vault-wide settings kept in the ``meta`` table: identity, demo flag, default policy."""

from __future__ import annotations

from tessera.core import canonical
from tessera.core.errors import FormatError, InputError, IntegrityError
from tessera.core.organisation import Organisation
from tessera.core.policy import Policy

from .connection import VaultConnection

META_VAULT_ID = "vault_id"
META_DEMO = "demo"
META_POLICY = "policy"
META_CREATED_AT = "created_at"
META_ORGANISATION = "organisation"


class SettingsMixin(VaultConnection):
    """Read and change the vault's own settings."""

    def _meta(self, key: str) -> str:
        with self.reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None or not isinstance(row[0], str):
            raise IntegrityError(f"the vault is damaged: its {key} setting is missing")
        return str(row[0])

    @property
    def vault_id(self) -> str:
        return self._meta(META_VAULT_ID)

    @property
    def is_demo(self) -> bool:
        """Demo vaults allow software keys and low thresholds (with warnings)."""
        value = self._meta(META_DEMO)
        if value not in ("0", "1"):
            raise IntegrityError("the vault is damaged: its demo flag is unreadable")
        return value == "1"

    @property
    def created_at(self) -> str:
        return self._meta(META_CREATED_AT)

    @property
    def policy(self) -> Policy:
        """The vault's default policy (records may override parts of it)."""
        try:
            data = canonical.loads(self._meta(META_POLICY).encode("utf-8"), what="vault policy")
            if not isinstance(data, dict):
                raise FormatError("the vault policy is not an object")
            return Policy.from_json(data)
        except FormatError as exc:
            raise IntegrityError(f"the vault is damaged: {exc}") from None

    def set_policy(self, policy: Policy, actor: str) -> Policy:
        """Replace the default policy; the audit entry lists each changed setting."""
        new = Policy.from_json(policy.to_json())  # re-validates every value
        with self.transaction() as conn:
            old = self.policy.to_json()
            changes = {k: {"from": old.get(k), "to": v}
                       for k, v in new.to_json().items() if old.get(k) != v}
            if not changes:
                return new
            conn.execute("UPDATE meta SET value = ? WHERE key = ?",
                         (canonical.dumps(new.to_json()).decode("utf-8"), META_POLICY))
            self._audit(actor, "vault.policy", self.vault_id, {"changes": changes})
        return new

    @property
    def organisation(self) -> Organisation:
        """Who to call and where the instructions are (empty until the operator sets it)."""
        with self.reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?",
                               (META_ORGANISATION,)).fetchone()
        if row is None:
            return Organisation()
        try:
            return Organisation.from_json(canonical.loads(str(row[0]).encode("utf-8"),
                                                          what="organisation"))
        except (FormatError, InputError) as exc:
            raise IntegrityError(f"the vault is damaged: {exc}") from None

    def set_organisation(self, organisation: Organisation, actor: str) -> Organisation:
        """Set the name, contact and instructions URL printed on every sheet (audited)."""
        new = Organisation.checked(organisation.name, organisation.contact,
                                   organisation.instructions_url)
        with self.transaction() as conn:
            old = self.organisation
            if new == old:
                return new
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO "
                         "UPDATE SET value = excluded.value",
                         (META_ORGANISATION, canonical.dumps(new.to_json()).decode("utf-8")))
            self._audit(actor, "vault.organisation", self.vault_id, {
                "organisation": new.name, "contact": new.contact,
                "instructions_url": new.instructions_url,
                "changes": {k: {"from": v, "to": new.to_json()[k]}
                            for k, v in old.to_json().items() if v != new.to_json()[k]}})
        return new
