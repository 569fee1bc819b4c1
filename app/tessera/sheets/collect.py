"""Gathering scanned sheet codes into shares and recovery data, in any order.

A :class:`SheetReader` takes decoded QR texts one by one (several pages, several
images, duplicates, any order), keeps one copy of each share and chunk, and refuses —
by name — a code of another record, version or epoch, or a chunk that contradicts one
already read. :func:`recover_secret` then rebuilds the secret from the sheets alone,
with no vault: the manifest and ciphertext come from the ``M`` codes, each share is
checked against the manifest's commitment as it is offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tessera.core.errors import FormatError, IntegrityError, QuorumNotMet, ShareMismatch
from tessera.core.manifest import Manifest
from tessera.core.payload import TAG_SIZE
from tessera.core.quorum import Contribution, QuorumSession
from tessera.sheets.errors import (
    ChunkConflict,
    ChunkMissing,
    ForeignSheet,
    NoRecoveryData,
    SheetCodeInvalid,
)
from tessera.sheets.qr_format import (
    DataChunk,
    SetId,
    ShareCode,
    blob_digest,
    parse_code,
    unpack_blob,
)


@dataclass(frozen=True)
class RecoveryData:
    """The manifest and payload ciphertext reassembled from the ``M`` codes."""

    manifest: Manifest
    manifest_bytes: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class Recovered:
    """A secret rebuilt from sheets. ``secret`` is a ``bytearray``: wipe it after use."""

    manifest: Manifest
    secret: bytearray
    contributions: tuple[Contribution, ...]


def describe_set(found: SetId, expected: SetId) -> str:
    """How a foreign code differs from the set being read, in a custodian's words."""
    if found.record_id != expected.record_id:
        return f"another record ({found.record_id})"
    if found.epoch < expected.epoch:
        return (f"epoch {found.epoch} of this record, an old share set replaced by epoch "
                f"{expected.epoch} — that sheet should have been destroyed")
    if found.epoch > expected.epoch:
        return f"epoch {found.epoch} of this record, newer than epoch {expected.epoch}"
    return f"version {found.version} of this record, not version {expected.version}"


class SheetReader:
    """Collects codes for one record version. ``expected`` fixes the set (from the
    vault); without it, the first code read fixes it."""

    def __init__(self, expected: SetId | None = None) -> None:
        self.expected = expected
        self._shares: dict[str, ShareCode] = {}
        self._serials: dict[str, str] = {}  # serial -> share key
        self._chunks: dict[int, DataChunk] = {}
        self._total: int | None = None
        self._digest: str | None = None
        self.notes: list[str] = []

    # -- adding ----------------------------------------------------------------------
    def add_text(self, text: str, source: str = "") -> ShareCode | DataChunk:
        """Parse and keep one code. Raises, changing nothing, for a bad or foreign one."""
        code = parse_code(text, source)
        what = (f"sheet {code.serial} (share {code.share_key})" if isinstance(code, ShareCode)
                else f"recovery-data chunk {code.seq} of {code.total}")
        if self.expected is None:
            self.expected = code.set_id
        elif code.set_id != self.expected:
            raise ForeignSheet(what, f"the sheets being read ({self.expected.describe()})",
                               describe_set(code.set_id, self.expected), source)
        if isinstance(code, ShareCode):
            self._add_share(code, source)
        else:
            self._add_chunk(code)
        return code

    def add_texts(self, texts: Iterable[str], source: str = "") -> None:
        for text in texts:
            self.add_text(text, source)

    def _add_share(self, code: ShareCode, source: str) -> None:
        where = f"{source}: " if source else ""
        known = self._shares.get(code.share_key)
        if known is not None:
            if known.words != code.words:
                raise SheetCodeInvalid(f"sheet {code.serial} and sheet {known.serial} both "
                                       f"claim share {code.share_key} with different words",
                                       source)
            if known.serial == code.serial:
                self.notes.append(f"{where}sheet {code.serial} was read twice; it counts once")
            else:
                self.notes.append(f"{where}sheet {code.serial} holds the same share as sheet "
                                  f"{known.serial} (a reprint); it counts once")
            return
        self._shares[code.share_key] = code
        self._serials[code.serial] = code.share_key

    def _add_chunk(self, chunk: DataChunk) -> None:
        if self._total is None or self._digest is None:
            self._total, self._digest = chunk.total, chunk.digest
        elif (chunk.total, chunk.digest) != (self._total, self._digest):
            raise ChunkConflict(chunk.seq, chunk.total)
        known = self._chunks.get(chunk.seq)
        if known is not None and known.data != chunk.data:
            raise ChunkConflict(chunk.seq, chunk.total)
        self._chunks[chunk.seq] = chunk

    # -- reading out -----------------------------------------------------------------
    @property
    def shares(self) -> Mapping[str, ShareCode]:
        """Share key → share code (one per share, however often it was scanned)."""
        return dict(self._shares)

    @property
    def chunk_progress(self) -> tuple[int, int | None]:
        """(chunks read, total) — total is None until a chunk has been read."""
        return len(self._chunks), self._total

    def missing_chunks(self) -> tuple[int, ...]:
        if self._total is None:
            return ()
        return tuple(n for n in range(1, self._total + 1) if n not in self._chunks)

    def recovery_data(self) -> RecoveryData:
        """Reassemble and check the manifest and ciphertext; names missing chunks."""
        if self._total is None or self.expected is None:
            raise NoRecoveryData()
        missing = self.missing_chunks()
        if missing:
            raise ChunkMissing(missing, self._total)
        blob = b"".join(self._chunks[n].data for n in range(1, self._total + 1))
        if blob_digest(blob) != self._digest:
            raise IntegrityError("the reassembled recovery data does not match its checksum; "
                                 "a chunk was altered")
        manifest_bytes, ciphertext = unpack_blob(blob)
        manifest = Manifest.from_bytes(manifest_bytes)
        found = SetId(manifest.record_id, manifest.version, manifest.epoch)
        if found != self.expected:
            raise IntegrityError("the recovery data's manifest describes "
                                 f"{found.describe()}, but its codes say "
                                 f"{self.expected.describe()}")
        if len(ciphertext) != manifest.payload_size + TAG_SIZE:
            raise IntegrityError("the recovery data's ciphertext has the wrong length for "
                                 "its manifest")
        return RecoveryData(manifest, manifest_bytes, ciphertext)


def offer_shares(session: QuorumSession, shares: Iterable[ShareCode]) -> list[Contribution]:
    """Offer each scanned share as its custodian's paper share (checked at once)."""
    manifest = session.manifest
    accepted = []
    for code in shares:
        try:
            entry = manifest.share(code.share_key)
        except FormatError:
            raise ShareMismatch(f"sheet {code.serial}", "its share number is not in this "
                                "record") from None
        try:
            accepted.append(session.offer(entry.custodian_id, code.mnemonic, method="paper"))
        except ShareMismatch as exc:
            raise ShareMismatch(f"{exc.custodian} (sheet {code.serial})", exc.reason,
                                exc.word_index) from None
    return accepted


def recover_secret(reader: SheetReader, data: RecoveryData | None = None) -> Recovered:
    """Rebuild the secret from the scanned sheets alone (no vault).

    ``data`` defaults to the reader's own reassembled recovery data. Raises
    :class:`QuorumNotMet` (with the reader's notes about duplicates in mind) when too
    few distinct shares were read.
    """
    data = data or reader.recovery_data()
    session = QuorumSession(data.manifest)
    try:
        offer_shares(session, reader.shares.values())
        if not session.complete:
            progress = session.progress()
            have = sum(min(g.have, g.need) for g in progress.groups)
            need = sum(sorted(g.need for g in progress.groups)[: progress.group_threshold])
            raise QuorumNotMet(have, need)
        secret = session.release(data.ciphertext)
        return Recovered(data.manifest, secret, session.contributions)
    finally:
        session.wipe()
