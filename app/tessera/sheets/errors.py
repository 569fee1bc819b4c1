"""Errors of reading sheets back; each carries the facts a front end words for a person.

None of them holds share words: a damaged or foreign code is named by where it came
from (file, page, sheet serial, chunk number), never by its content.
"""

from __future__ import annotations

from tessera.core.errors import FormatError, InputError, TesseraError


class SheetCodeInvalid(FormatError):
    """A QR code that is not a Tessera sheet code, or is one with a malformed field."""

    def __init__(self, reason: str, source: str = "") -> None:
        self.reason = reason
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{reason}")


class ForeignSheet(InputError):
    """A code of another record, another version or an older epoch than expected."""

    def __init__(self, what: str, expected: str, found: str, source: str = "") -> None:
        self.what = what
        self.expected = expected
        self.found = found
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{what} belongs to {found}, not to {expected}")


class ChunkMissing(InputError):
    """The recovery data is incomplete: names every missing chunk ("chunk 3 of 5")."""

    def __init__(self, missing: tuple[int, ...], total: int) -> None:
        self.missing = missing
        self.total = total
        names = ", ".join(str(n) for n in missing)
        noun = "chunk" if len(missing) == 1 else "chunks"
        verb = "is" if len(missing) == 1 else "are"
        super().__init__(f"recovery data {noun} {names} of {total} {verb} missing — scan the "
                         "remaining codes of any sheet's recovery-data pages")


class ChunkConflict(InputError):
    """Two different codes claim the same chunk number of the same data."""

    def __init__(self, seq: int, total: int) -> None:
        self.seq = seq
        self.total = total
        super().__init__(f"two different codes claim to be chunk {seq} of {total}; one of "
                         "the sheets was altered or belongs to another copy")


class DamagedCode(InputError):
    """A QR code was found but could not be decoded (torn, stained, creased)."""

    def __init__(self, source: str, count: int = 1) -> None:
        self.source = source
        self.count = count
        codes = "a QR code" if count == 1 else f"{count} QR codes"
        super().__init__(f"{source}: {codes} could not be read (damaged or blurred) — "
                         "rescan at a higher resolution, or type the words")


class ScannerMissing(TesseraError):
    """A helper program (``pdftoppm``) needed to read a PDF is not installed."""

    exit_code = 69

    def __init__(self, program: str, hint: str) -> None:
        self.program = program
        super().__init__(f"{program} is not installed; {hint}")


class NoRecoveryData(InputError):
    """No recovery-data (``M``) code was read at all."""

    def __init__(self) -> None:
        super().__init__("no recovery-data code was read — scan the recovery-data pages of "
                         "any one sheet")
