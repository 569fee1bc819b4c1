"""The vault's genesis fingerprint: which vault this is, independent of its file name.

Until the signed statement log lands, the genesis is the vault's creation facts: its id
and the hash of its first audit entry (``vault.create``, which names the id and the
demo flag). A copy of the same vault has the same genesis; another vault, or this vault
with its whole history rewritten, has another. :func:`genesis_fingerprint` is the one
place that says how the genesis is computed, so a signed genesis statement can replace
the creation facts without touching its callers.
"""

from __future__ import annotations

import hashlib

from tessera.core.manifest import format_fingerprint

from .connection import VaultConnection

GENESIS_DOMAIN = b"tessera/genesis/v1\x00"


def genesis_digest(vault_id: str, first_entry_hash: str) -> str:
    """Hex SHA-256 of the domain, the vault id and the first audit entry's hash."""
    return hashlib.sha256(GENESIS_DOMAIN + vault_id.encode("utf-8") + b"\x00"
                          + first_entry_hash.encode("ascii")).hexdigest()


def genesis_fingerprint(vault: VaultConnection) -> str:
    """The vault's genesis as 64 hex digits (what a workstation pins)."""
    with vault.reading() as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'vault_id'").fetchone()
        first = conn.execute("SELECT hash FROM audit WHERE seq = 1").fetchone()
    vault_id = "" if row is None else str(row[0])
    first_hash = "" if first is None else str(first[0])
    return genesis_digest(vault_id, first_hash)


def display_genesis(digest_hex: str) -> str:
    """``TSR-XXXX-XXXX-XXXX-XXXX`` for people to compare (screens, sheets, transcripts)."""
    return format_fingerprint(bytes.fromhex(digest_hex))
