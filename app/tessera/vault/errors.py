"""Errors the vault raises besides the shared ones in :mod:`tessera.core.errors`.

They carry what a front end needs to word them; none holds secret material (the
vault never sees any).
"""

from __future__ import annotations

from tessera.core.errors import FormatError, InputError, IntegrityError, TesseraError


class Conflict(InputError):
    """The write would duplicate something that must be unique (a name, a key, a label)."""


class NotAVault(FormatError):
    """The file exists but is not a Tessera vault (or is damaged beyond reading)."""


class VaultTooNew(FormatError):
    """The vault was written by a newer Tessera whose schema this version does not know."""

    def __init__(self, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            f"this vault uses schema version {found}, but this Tessera knows only up to "
            f"version {known}; open it with a newer Tessera (nothing was changed)")


class AuditDetailRefused(InputError):
    """An audit entry's details would hold something that may be secret, or is too large."""


class VaultBusy(TesseraError):
    """Another program (or window) holds the vault's write lock for too long."""

    exit_code = 75

    def __init__(self) -> None:
        super().__init__("the vault is busy: another Tessera window or command is writing "
                         "to it; try again in a moment")


class Unsigned(TesseraError):
    """A write to a vault whose state is signed, without a token to sign it."""

    exit_code = 77

    def __init__(self) -> None:
        super().__init__("this vault's state is signed by its custodians' tokens: choose whose "
                         "token signs this change (tessera --sign-with TOKEN …); nothing was changed")


class VaultNotAsPinned(IntegrityError):
    """The vault differs from what this workstation pinned of it (rollback or replacement).

    Nothing was changed; ``tessera vault accept`` (or the GUI's "Accept this vault")
    accepts it deliberately, with a reason, on the audit record.
    """

    exit_code = 76
    how_to_accept = ("If you know why (a restore from backup you chose, a vault you "
                     "replaced on purpose), accept it with `tessera vault accept --reason "
                     "TEXT`; the acceptance is written to the vault's audit log.")

    def __init__(self, path: str, what: str, pinned: str, found: str) -> None:
        self.path = path
        self.what = what  # "replaced" or "rolled back"
        self.pinned = pinned
        self.found = found
        super().__init__(self.summary())

    def summary(self) -> str:
        return (f"refusing to open {self.path}: it was {self.what} since this computer last "
                "saw it. Nothing was changed. " + self.how_to_accept)


class VaultReplaced(VaultNotAsPinned):
    """The file holds another vault than the one this workstation knew by that path or id."""

    def __init__(self, path: str, pinned: str, found: str) -> None:
        super().__init__(path, "replaced", pinned, found)

    def summary(self) -> str:
        return (f"refusing to open {self.path}: it is not the vault this computer knew here. "
                f"Its genesis is {self.found}, but this computer pinned {self.pinned}. "
                "Someone may have replaced the vault file with another vault. Nothing was "
                "changed. " + self.how_to_accept)


class VaultRolledBack(VaultNotAsPinned):
    """The vault's log is behind (or beside) the newest head this workstation saw."""

    def __init__(self, path: str, pinned_seq: int, found_seq: int, forked: bool) -> None:
        self.pinned_seq = pinned_seq
        self.found_seq = found_seq
        self.forked = forked
        super().__init__(path, "rolled back", str(pinned_seq), str(found_seq))

    def summary(self) -> str:
        if self.forked:
            why = (f"its audit entry {self.pinned_seq} differs from the one this computer saw: "
                   "the log was rewritten from there on")
        else:
            why = (f"its audit log ends at entry {self.found_seq}, but this computer has seen it "
                   f"up to entry {self.pinned_seq}: this is an older copy of the vault (a "
                   "rollback), or newer entries were removed")
        return (f"refusing to open {self.path}: {why}. Nothing was changed. "
                + self.how_to_accept)
