"""Backups that must be confirmed: is each custodian's share of a version on paper?

Printing is not proof: a sheet can jam, a hand copy can miss a word. So a new version's
sheets count only once each custodian has **confirmed** theirs — by re-entering a few
words of it while the words still exist on screen (as Electrum and Trezor ask after a
seed backup), or by the sheet being sealed in its envelope before a witness. Until then
the record says which custodians have not confirmed.

Closing the window that holds the words without any sheet made is a choice the
operator states ("discard, I will reprint"): it is logged (``sheet.discard``) so the
gap is on the record, and each custodian can print a new sheet later with their key.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tessera.core import slip39
from tessera.core.errors import InputError, ShareMismatch
from tessera.core.manifest import Manifest
from tessera.vault import Vault
from tessera.vault.sheet_registry import SheetRecord, SheetRegistry, SheetState

CONFIRM_WORDS = 3  # enough to catch a wrong or half-copied sheet, few enough to type


@dataclass(frozen=True)
class ShareBackup:
    """One share of a version and the sheets that carry it."""

    custodian_id: str
    custodian: str
    share_key: str
    sheets: tuple[SheetRecord, ...]  # not destroyed

    @property
    def printed(self) -> bool:
        return bool(self.sheets)

    @property
    def confirmed(self) -> bool:
        return any(s.confirmed for s in self.sheets)

    def sheet_to_confirm(self) -> SheetRecord | None:
        """The newest sheet of this share that can still be confirmed."""
        for sheet in reversed(self.sheets):
            if sheet.state in (SheetState.PRINTED, SheetState.SEALED):
                return sheet
        return None


@dataclass(frozen=True)
class BackupStatus:
    """Every share of one version: printed, confirmed or neither."""

    record_id: str
    version: int
    shares: tuple[ShareBackup, ...]

    @property
    def confirmed(self) -> bool:
        return all(s.confirmed for s in self.shares)

    def unconfirmed_names(self) -> list[str]:
        return list(dict.fromkeys(s.custodian for s in self.shares if not s.confirmed))

    def describe(self) -> str:
        done = sum(1 for s in self.shares if s.confirmed)
        if self.confirmed:
            return f"all {len(self.shares)} sheets confirmed by their custodians"
        waiting = ", ".join(self.unconfirmed_names())
        return f"{done} of {len(self.shares)} sheets confirmed; waiting for {waiting}"


def backup_status(vault: Vault, record_id: str, version: int | None = None) -> BackupStatus:
    """Which custodians of ``record_id`` (current version by default) confirmed a sheet."""
    data = vault.get_version(record_id, version)
    manifest = data.manifest
    sheets = [s for s in SheetRegistry(vault).sheets(manifest.record_id, manifest.version)
              if s.state is not SheetState.DESTROYED]
    shares = tuple(
        ShareBackup(e.custodian_id, e.custodian, e.key,
                    tuple(s for s in sheets if s.share_key == e.key))
        for e in manifest.shares)
    return BackupStatus(manifest.record_id, manifest.version, shares)


def confirm_positions(count: int = CONFIRM_WORDS) -> tuple[int, ...]:
    """``count`` distinct word numbers (1-based, ascending) to ask a custodian for."""
    pool = list(range(1, slip39.WORDS_PER_SHARE + 1))
    chosen = []
    for _ in range(count):
        chosen.append(pool.pop(secrets.randbelow(len(pool))))
    return tuple(sorted(chosen))


def confirm_sheet_words(vault: Vault, manifest: Manifest, share_key: str, words: str,
                        answers: Mapping[int, str], *, actor: str) -> SheetRecord:
    """Check the words a custodian read back from their sheet; on a match, log it.

    ``words`` are the share's words, still held by the window that sealed the version;
    ``answers`` maps word numbers (1-based) to what the custodian typed (four letters
    are enough). A wrong word is named and nothing is written.
    """
    entry = manifest.share(share_key)
    expected = words.split()
    if len(answers) < CONFIRM_WORDS:
        raise InputError(f"type {CONFIRM_WORDS} words of the sheet to confirm it")
    for position in sorted(answers):
        if not 1 <= position <= len(expected):
            raise InputError(f"there is no word {position} on a sheet")
        typed = slip39.resolve_word(answers[position])
        if typed != expected[position - 1]:
            raise ShareMismatch(entry.custodian, f"word {position} is not the word on the "
                                "sheet printed for them — check the sheet (is it theirs, "
                                "and the newest?)", position)
    status = backup_status(vault, manifest.record_id, manifest.version)
    share = next(s for s in status.shares if s.share_key == share_key)
    sheet = share.sheet_to_confirm()
    if sheet is None:
        raise InputError(f"no sheet of {entry.custodian}'s share has been printed yet; "
                         "print the sheets first")
    how = "words " + ", ".join(str(p) for p in sorted(answers)) + " re-entered"
    return SheetRegistry(vault).mark_confirmed(sheet.serial, how=how, actor=actor)


def confirm_sheet_checked(vault: Vault, record: str, custodian: str, words: str, *,
                          actor: str) -> SheetRecord:
    """Confirm a custodian's sheet later, when the words on screen are long gone: all
    33 typed words are checked against the record's commitment (nothing is rebuilt)."""
    from tessera.custody.sheets import verify_words

    check = verify_words(vault, record, custodian, words)
    status = backup_status(vault, record)
    share = next(s for s in status.shares if s.share_key == check.share_key)
    sheet = share.sheet_to_confirm()
    if sheet is None:
        raise InputError(f"no printed sheet of {check.custodian}'s share is on record; print "
                         "one with `tessera sheet print`")
    return SheetRegistry(vault).mark_confirmed(
        sheet.serial, how="all 33 words checked against the record", actor=actor)


def log_discarded(vault: Vault, manifest: Manifest, share_keys: Iterable[str], *,
                  actor: str) -> None:
    """The operator closed the words' window with these shares on no sheet."""
    keys: Sequence[str] = sorted(share_keys)
    if not keys:
        return
    names = [manifest.share(k).custodian for k in keys]
    with vault.transaction():
        vault.append_audit(actor, "sheet.discard", manifest.record_id, {
            "record_id": manifest.record_id, "label": manifest.label,
            "version": manifest.version, "epoch": manifest.epoch, "share_keys": list(keys),
            "custodians": names,
            "note": "closed without a sheet; each custodian prints a new one with their key"})
