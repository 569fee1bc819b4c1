"""Vault-wide settings kept in the ``meta`` table: identity, demo flag, default policy."""

from __future__ import annotations

from tessera.core import canonical
from tessera.core.errors import FormatError, IntegrityError
from tessera.core.policy import Policy

from .connection import VaultConnection

META_VAULT_ID = "vault_id"
META_DEMO = "demo"
META_POLICY = "policy"
META_CREATED_AT = "created_at"


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
