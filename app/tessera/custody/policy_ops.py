"""Policy changes as the CLI and the GUI make them: one setting at a time, typed from
text, for the vault or as a record's override; each change is audited by the vault."""

from __future__ import annotations

from dataclasses import fields

from tessera.core.errors import InputError
from tessera.core.policy import Policy, parse_setting
from tessera.vault import Vault

SETTINGS = tuple(f.name for f in fields(Policy))


def _check_key(key: str) -> str:
    if key not in SETTINGS:
        raise InputError(f"unknown policy setting {key!r}; the settings are "
                         f"{', '.join(SETTINGS)}")
    return key


def set_vault_setting(vault: Vault, key: str, text: str, actor: str) -> Policy:
    """Change one setting of the vault policy (records without an override follow it)."""
    key = _check_key(key)
    data = vault.policy.to_json()
    data[key] = parse_setting(key, text)
    return vault.set_policy(Policy.from_json(data), actor)


def set_record_setting(vault: Vault, record: str, key: str, text: str | None,
                       actor: str) -> Policy:
    """Override one setting for one record; ``text`` ``None`` removes the override.

    Returns the record's effective policy.
    """
    key = _check_key(key)
    rec = vault.get_record(record)
    overrides = dict(rec.policy_overrides)
    if text is None:
        if key not in overrides:
            raise InputError(f"{rec.label} has no override of {key}")
        del overrides[key]
    else:
        value = parse_setting(key, text)
        overrides[key] = list(value) if isinstance(value, tuple) else value
    return vault.set_record_policy(rec.id, overrides, actor)


def effective_policy(vault: Vault, record: str | None = None) -> Policy:
    """The vault policy, or a record's policy with its overrides applied."""
    return vault.policy if record is None else vault.record_policy(record)
