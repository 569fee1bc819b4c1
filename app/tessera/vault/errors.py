"""Errors the vault raises besides the shared ones in :mod:`tessera.core.errors`.

They carry what a front end needs to word them; none holds secret material (the
vault never sees any).
"""

from __future__ import annotations

from tessera.core.errors import FormatError, InputError, TesseraError


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
