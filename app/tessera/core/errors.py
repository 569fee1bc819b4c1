"""Errors that carry data; each front end (CLI, GUI) words them for a person.

Nothing in an error may hold secret material: no share words, no DEK, no PIN.
A mistyped word is named by its position, never repeated back.
"""

from __future__ import annotations


class TesseraError(Exception):
    """Base of every error Tessera expects and explains."""

    exit_code = 1


class UserCancelled(TesseraError):
    """The person chose to stop. Shown to nobody."""

    exit_code = 130


class InputError(TesseraError):
    """Something from outside (a file, a QR code, typed words) is not acceptable."""

    exit_code = 65


class FormatError(InputError):
    """A stored or exchanged object does not parse or does not verify."""


class IntegrityError(FormatError):
    """Authenticated data was changed: a MAC, tag, commitment or hash does not match."""


class PolicyError(TesseraError):
    """The requested operation breaks the vault's or record's policy."""

    exit_code = 66


class NotFound(TesseraError):
    """A record, custodian, token or release that does not exist."""

    exit_code = 67


class ShareMismatch(InputError):
    """A share does not match the commitment of the custodian who offered it.

    ``word_index`` (1-based) is the most likely mistyped word when the share was typed.
    """

    def __init__(self, custodian: str, reason: str, word_index: int | None = None) -> None:
        self.custodian = custodian
        self.reason = reason
        self.word_index = word_index
        super().__init__(self.describe())

    def describe(self) -> str:
        text = f"{self.custodian}'s share does not match this record"
        if self.word_index is not None:
            text += f" — check word {self.word_index}"
        if self.reason:
            text += f" ({self.reason})"
        return text


class InvalidMnemonic(InputError):
    """Typed words that are not a valid SLIP-39 share; names the likely bad word."""

    def __init__(self, message: str, word_index: int | None = None) -> None:
        self.word_index = word_index
        super().__init__(message)


class QuorumNotMet(TesseraError):
    """Not enough shares yet."""

    def __init__(self, have: int, need: int) -> None:
        self.have = have
        self.need = need
        super().__init__(f"{have} of {need} shares collected; {need - have} more needed")


class TokenError(TesseraError):
    """A hardware or software token could not do what was asked."""

    exit_code = 69


class PinInvalid(TokenError):
    def __init__(self, attempts_left: int | None) -> None:
        self.attempts_left = attempts_left
        left = "" if attempts_left is None else f" — {attempts_left} attempt{'s' if attempts_left != 1 else ''} left"
        super().__init__(f"Wrong PIN{left}")


class PinBlocked(TokenError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("The PIN is blocked" + (f": {detail}" if detail else ""))


class PinRequired(TokenError):
    """The token has no PIN set yet and the operation needs one."""


class TouchTimeout(TokenError):
    def __init__(self) -> None:
        super().__init__("No touch was detected in time")


class DeviceRemoved(TokenError):
    def __init__(self, label: str = "The token") -> None:
        super().__init__(f"{label} was removed during the operation")


class WrongToken(TokenError):
    """A token that does not hold the share it was asked to open."""

    def __init__(self, expected_custodian: str, detail: str = "") -> None:
        self.expected_custodian = expected_custodian
        super().__init__(f"This is not {expected_custodian}'s key" + (f" ({detail})" if detail else ""))


class NoKeyFound(TokenError):
    """No FIDO2 key is plugged in (or none answers).

    Here rather than beside the FIDO2 driver's other errors: waiting for a key
    (custody/key_wait.py) needs it, and importing python-fido2 for it would cost every
    window's start-up its client stack."""

    def __init__(self) -> None:
        super().__init__("No FIDO2 security key was found — plug in your key and try again")
