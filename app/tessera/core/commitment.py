"""Share commitments: check one share the moment it arrives, reveal nothing.

commitment = SHA-256("tessera/share-commit/v1" ‖ record id (UTF-8) ‖ mnemonic (UTF-8))
where the mnemonic is in normal form: lowercase words separated by single spaces.
Binding the record id means a share of another record never matches, even if it
were split from the same DEK.
"""

from __future__ import annotations

import hashlib
import hmac

COMMIT_PREFIX = b"tessera/share-commit/v1"


def normalize_mnemonic(words: str) -> str:
    return " ".join(words.lower().split())


def share_commitment(record_id: str, mnemonic: str) -> str:
    digest = hashlib.sha256()
    digest.update(COMMIT_PREFIX)
    digest.update(record_id.encode("utf-8"))
    digest.update(normalize_mnemonic(mnemonic).encode("utf-8"))
    return digest.hexdigest()


def matches_commitment(record_id: str, mnemonic: str, commitment: str) -> bool:
    return hmac.compare_digest(share_commitment(record_id, mnemonic), commitment)
