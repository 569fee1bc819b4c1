"""A quorum session: collect shares one at a time, check each at once, combine.

Each share is checked against its custodian's commitment the moment it arrives, so a
wrong or foreign share is named ("Bob's share does not match this record — check
word 14") and never poisons the combine. A refused share changes nothing in the
session: the next custodian simply goes on.

Python strings cannot be wiped, so the session keeps each accepted mnemonic only
until :meth:`QuorumSession.wipe` drops it; the rebuilt DEK and secret are
``bytearray`` objects the caller overwrites after use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tessera.core import slip39
from tessera.core.commitment import matches_commitment, normalize_mnemonic
from tessera.core.dumps import pages_locked
from tessera.core.errors import InvalidMnemonic, QuorumNotMet, ShareMismatch, TesseraError
from tessera.core.manifest import Manifest, ShareEntry
from tessera.core.memory import wipe
from tessera.core.payload import decrypt_payload


@dataclass(frozen=True)
class Contribution:
    custodian_id: str
    custodian: str
    share_key: str
    group: int
    method: str


@dataclass(frozen=True)
class GroupProgress:
    index: int
    have: int
    need: int
    count: int

    @property
    def complete(self) -> bool:
        return self.have >= self.need


@dataclass(frozen=True)
class Progress:
    groups: tuple[GroupProgress, ...]
    group_threshold: int

    @property
    def groups_complete(self) -> int:
        return sum(1 for g in self.groups if g.complete)

    @property
    def complete(self) -> bool:
        return self.groups_complete >= self.group_threshold

    def describe(self) -> str:
        """"2 of 3" for one group; per-group counts when there are several."""
        if len(self.groups) == 1:
            g = self.groups[0]
            return f"{min(g.have, g.need)} of {g.need}"
        parts = ", ".join(f"group {g.index + 1}: {min(g.have, g.need)} of {g.need}"
                          for g in self.groups)
        return f"{self.groups_complete} of {self.group_threshold} groups ({parts})"


class QuorumSession:
    """Collects shares for one manifest. ``known_sets`` maps the SLIP-39 identifiers
    of this record's earlier epochs to a description, so an old share is named."""

    def __init__(self, manifest: Manifest, known_sets: Mapping[int, str] | None = None) -> None:
        self.manifest = manifest
        self._known_sets = dict(known_sets or {})
        self._mnemonics: dict[str, str] = {}
        self._contributions: list[Contribution] = []
        self._closed = False

    # -- state --------------------------------------------------------------------
    @property
    def contributions(self) -> tuple[Contribution, ...]:
        return tuple(self._contributions)

    def has_contributed(self, custodian_id: str) -> bool:
        return any(c.custodian_id == custodian_id for c in self._contributions)

    def progress(self) -> Progress:
        groups = []
        for index, spec in enumerate(self.manifest.groups):
            have = sum(1 for c in self._contributions if c.group == index)
            groups.append(GroupProgress(index, have, spec.threshold, spec.count))
        return Progress(tuple(groups), self.manifest.group_threshold)

    @property
    def complete(self) -> bool:
        return self.progress().complete

    # -- offering shares ------------------------------------------------------------
    def offer(self, custodian_id: str, mnemonic: str, *, method: str) -> Contribution:
        """Check ``mnemonic`` as ``custodian_id``'s share and keep it if it matches.

        Raises :class:`ShareMismatch` naming the custodian (and, for typed words, the
        likely wrong word); the session is unchanged in that case.
        """
        self._check_open()
        entries = self.manifest.shares_of(custodian_id)
        if not entries:
            raise ShareMismatch(custodian_id, "not a custodian of this record")
        name = entries[0].custodian
        try:
            words = slip39.normalize_words(mnemonic)
            info = slip39.share_info(" ".join(words))
        except InvalidMnemonic as exc:
            # The word position goes in the headline; keep only the cause as the reason.
            reason = str(exc).split(" — ")[0] if exc.word_index else str(exc)
            raise ShareMismatch(name, _lower_first(reason), exc.word_index) from None
        self._check_set(name, info)
        normal = normalize_mnemonic(" ".join(words))
        entry = self._matching_entry(entries, normal)
        if entry is None:
            owner = next((e for e in self.manifest.shares
                          if matches_commitment(self.manifest.record_id, normal, e.commitment)),
                         None)
            if owner is not None:
                raise ShareMismatch(name, f"these are {owner.custodian}'s words, not {name}'s")
            raise ShareMismatch(name, "the words are a valid SLIP-39 share but not the one "
                                      "recorded for this custodian")
        if entry.key in self._mnemonics:
            raise ShareMismatch(name, "this share has already been counted")
        contribution = Contribution(custodian_id, name, entry.key, entry.group, method)
        self._mnemonics[entry.key] = normal
        self._contributions.append(contribution)
        return contribution

    def _check_set(self, name: str, info: slip39.ShareInfo) -> None:
        m = self.manifest
        if info.identifier != m.slip39_identifier:
            earlier = self._known_sets.get(info.identifier)
            if earlier:
                raise ShareMismatch(name, f"this share is from {earlier}, which is no longer "
                                          f"valid; the current set is epoch {m.epoch}")
            raise ShareMismatch(name, "this share belongs to another record or another epoch")
        same_shape = (info.group_threshold == m.group_threshold
                      and info.group_count == len(m.groups)
                      and info.group_index < len(m.groups)
                      and info.member_threshold == m.groups[info.group_index].threshold
                      and info.iteration_exponent == m.slip39_iteration_exponent
                      and info.extendable == m.slip39_extendable)
        if not same_shape:
            raise ShareMismatch(name, "this share's parameters differ from the record's")

    def _matching_entry(self, entries: list[ShareEntry], normal: str) -> ShareEntry | None:
        for entry in entries:
            if matches_commitment(self.manifest.record_id, normal, entry.commitment):
                return entry
        return None

    # -- combining ------------------------------------------------------------------
    def recover_dek(self) -> bytearray:
        """The DEK, once the quorum is met (a ``bytearray`` to wipe)."""
        self._check_open()
        progress = self.progress()
        if not progress.complete:
            have = sum(min(g.have, g.need) for g in progress.groups)
            need = sum(sorted(g.need for g in progress.groups)[: progress.group_threshold])
            raise QuorumNotMet(have, need)
        chosen: list[str] = []
        groups_used = 0
        for g in progress.groups:
            if not g.complete or groups_used == progress.group_threshold:
                continue
            keys = [c.share_key for c in self._contributions if c.group == g.index][: g.need]
            chosen.extend(self._mnemonics[k] for k in keys)
            groups_used += 1
        return slip39.combine(chosen)

    def release(self, ciphertext: bytes) -> bytearray:
        """Combine the shares and decrypt the payload; wipe the result after use."""
        dek = self.recover_dek()
        with pages_locked(dek):
            try:
                return decrypt_payload(dek, self.manifest, ciphertext)
            finally:
                wipe(dek)

    def wipe(self) -> None:
        """Drop the collected shares; the session keeps only who contributed."""
        self._mnemonics.clear()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise TesseraError("this release session is closed; its shares were wiped")



def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
