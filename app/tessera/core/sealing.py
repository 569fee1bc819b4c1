"""Sealing a secret into a record version: split, commit, encrypt, wrap.

:func:`seal_version` is the whole "create" step of a ceremony as a pure function:
random DEK → SLIP-39 split → commitments → manifest → payload AEAD → one age envelope
per share. The :class:`SealedVersion` it returns holds public data and ciphertext
only; that is what the vault stores and a ``.tessera`` export carries.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tessera.core import age, slip39
from tessera.core.commitment import share_commitment
from tessera.core.dumps import lock_pages, unlock_pages
from tessera.core.manifest import MAX_PAYLOAD, GroupSpec, Manifest, ShareEntry
from tessera.core.memory import wipe
from tessera.core.payload import DEK_SIZE, NONCE_SIZE, encrypt_payload
from tessera.core.slip39 import RandomSource


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


@dataclass(frozen=True)
class ShareHolder:
    """A custodian who receives one share, with the recipients of their active tokens."""

    custodian_id: str
    name: str
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class RecordFacts:
    label: str
    nhi: Mapping[str, str]


def seal_version(
    secret: bytes | bytearray,
    facts: RecordFacts,
    group_threshold: int,
    groups: Sequence[tuple[int, Sequence[ShareHolder]]],
    *,
    record_id: str,
    version: int,
    epoch: int,
    created_by: str,
    previous: str | None = None,
    encoding: str = "utf-8",
    now: datetime | None = None,
    rng: RandomSource = os.urandom,
    on_mnemonics: Callable[[Mapping[str, str]], None] | None = None,
) -> SealedVersion:
    """Split a fresh DEK among ``groups`` and seal ``secret`` under it.

    ``on_mnemonics`` (share key → words) is called once, before this returns, for the
    sheet printer; the words are not kept anywhere else. The DEK is wiped on return.
    """
    if not 0 < len(secret) <= MAX_PAYLOAD:
        raise ValueError("the secret must be 1 byte to 1 MiB")
    for _, holders in groups:
        for holder in holders:
            if not holder.recipients:
                raise ValueError(f"{holder.name} has no token to wrap a share to")
    dek = bytearray(DEK_SIZE)
    locked = lock_pages(dek)  # before the key is in it: it never reaches swap
    dek[:] = rng(DEK_SIZE)
    try:
        split = slip39.split_secret(dek, group_threshold,
                                    [(t, len(h)) for t, h in groups], rng=rng)
        entries: list[ShareEntry] = []
        words: dict[str, str] = {}
        for gi, ((_, holders), mnemonics) in enumerate(zip(groups, split.mnemonics, strict=True)):
            for mi, (holder, mnemonic) in enumerate(zip(holders, mnemonics, strict=True)):
                entry = ShareEntry(holder.custodian_id, holder.name, gi, mi,
                                   share_commitment(record_id, mnemonic), holder.recipients)
                entries.append(entry)
                words[entry.key] = mnemonic
        created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        manifest = Manifest(
            record_id=record_id, label=facts.label, version=version, epoch=epoch,
            slip39_identifier=split.identifier,
            slip39_iteration_exponent=split.iteration_exponent,
            slip39_extendable=split.extendable, group_threshold=group_threshold,
            groups=tuple(GroupSpec(t, len(h)) for t, h in groups), shares=tuple(entries),
            payload_nonce=rng(NONCE_SIZE), payload_size=len(secret), payload_encoding=encoding,
            created_at=created, created_by=created_by, previous=previous,
            nhi={k: v for k, v in facts.nhi.items() if v})
        manifest_bytes = manifest.to_bytes()
        Manifest.from_bytes(manifest_bytes)  # what we write, we can read back
        ciphertext = encrypt_payload(dek, manifest, secret)
        envelopes = {
            e.key: age.encrypt(words[e.key].encode("utf-8"),
                               [age.parse_recipient(r) for r in e.recipients], rng=rng)
            for e in entries
        }
        if on_mnemonics is not None:
            on_mnemonics(words)
        return SealedVersion(manifest, manifest_bytes, ciphertext, envelopes)
    finally:
        wipe(dek)
        if locked:
            unlock_pages(dek)
