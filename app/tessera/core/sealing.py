"""Sealing a secret into a record version: split, commit, encrypt, wrap.

:func:`seal_version` is the whole "create" step of a ceremony as a pure function:
random DEK → SLIP-39 split → commitments → manifest → payload AEAD → one age envelope
per share. The :class:`SealedVersion` it returns holds public data and ciphertext
only; that is what the vault stores and a ``.tessera`` export carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tessera.core.manifest import Manifest


@dataclass(frozen=True)
class SealedVersion:
    manifest: Manifest
    manifest_bytes: bytes
    ciphertext: bytes
    envelopes: Mapping[str, bytes]  # share key ("g0m1") -> age file (binary)

    @property
    def record_id(self) -> str:
        return self.manifest.record_id

    @property
    def fingerprint(self) -> str:
        return self.manifest.fingerprint
