"""Which vault this is: its identity (from creation) and its genesis fingerprint (once
its state is signed).

The **genesis fingerprint** is the one fingerprint people compare: the hash of the
vault's signed genesis statement (FORMAT §7.1), written by `tessera audit adopt` and
printed on the genesis sheet, every recovery sheet and transcript. A vault that has
no genesis yet is *not signed yet* and has no genesis fingerprint.

The **identity** is what a workstation pins from a vault's creation on (before and
after it is signed): SHA-256 of a domain, the vault id and the hash of its first audit
entry (``vault.create``). A copy of the vault has the same identity; another vault, or
this vault with its whole history rewritten, has another. Signing the vault does not
change it, so adopting is not mistaken for a replacement. It is never shown as a
fingerprint.
"""

from __future__ import annotations

import hashlib

from .connection import VaultConnection

IDENTITY_DOMAIN = b"tessera/genesis/v1\x00"  # the name it had before the signed genesis


def identity_digest(vault_id: str, first_entry_hash: str) -> str:
    """Hex SHA-256 of the domain, the vault id and the first audit entry's hash."""
    return hashlib.sha256(IDENTITY_DOMAIN + vault_id.encode("utf-8") + b"\x00"
                          + first_entry_hash.encode("ascii")).hexdigest()


def vault_identity(vault: VaultConnection) -> str:
    """The vault's identity as 64 hex digits (what a workstation pins from creation on)."""
    with vault.reading() as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'vault_id'").fetchone()
        first = conn.execute("SELECT hash FROM audit WHERE seq = 1").fetchone()
    vault_id = "" if row is None else str(row[0])
    first_hash = "" if first is None else str(first[0])
    return identity_digest(vault_id, first_hash)


def format_fingerprint(fingerprint: str) -> str:
    """A genesis fingerprint as people read it aloud: 16 groups of 4 hex digits."""
    return " ".join(fingerprint[i:i + 4] for i in range(0, len(fingerprint), 4))


def describe_genesis(fingerprint: str | None) -> str:
    """The genesis line every front end shows."""
    if fingerprint is None:
        return ("Not signed yet: this vault has no genesis fingerprint "
                "(sign it with `tessera audit adopt`)")
    return f"Genesis fingerprint: {format_fingerprint(fingerprint)}"
