"""PIV failures in Tessera's terms: yubikit and pyscard exceptions mapped to token errors.

One context manager, :func:`piv_errors`, turns what a YubiKey or its reader does —
a status word, an ``InvalidPinError``, a pyscard exception for a pulled-out key —
into the :mod:`tessera.core.errors` a front end knows how to word. Messages name the
device and the remedy, never a PIN or a key.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from smartcard.Exceptions import SmartcardException
from yubikit.core import (
    ApplicationNotAvailableError,
    BadResponseError,
    InvalidPinError,
    NotSupportedError,
)
from yubikit.core.smartcard import SW, ApduError

from tessera.core.errors import (
    DeviceRemoved,
    PinBlocked,
    PinInvalid,
    TesseraError,
    TokenError,
    TouchTimeout,
    UserCancelled,
)

PUK_HINT = "the PUK can unblock it (ykman piv access unblock-pin)"


class KeyInUse(TokenError):
    """A YubiKey is plugged in but another program holds it (a PC/SC sharing violation):
    it cannot be opened, so it cannot even be told whose it is."""

    def __init__(self, wanted: str, readers: list[str]) -> None:
        self.readers = readers
        held = ", ".join(readers)
        super().__init__(
            f"A YubiKey is in use by another program ({held}), so Tessera cannot open it to "
            f"look for {wanted}. Close the program that holds it — gpg-agent or scdaemon, a "
            "browser, another Tessera — or remove the key and insert it again, then try "
            "again. Nothing was changed.")


class PcscUnavailable(TokenError):
    """The PC/SC service is not reachable, so no smart card (CCID) YubiKey can be seen."""

    def __init__(self) -> None:
        super().__init__(
            "The smart card service (PC/SC) is not running, so YubiKeys cannot be used for "
            "PIV. On Linux start it with 'sudo systemctl start pcscd' (install it first with "
            "'sudo apt install pcscd' if it is missing); on Windows and macOS it is part of "
            "the system."
        )


class PivNotSupported(TokenError):
    """The YubiKey (firmware, or a disabled PIV application) cannot do what Tessera needs."""


class PivRefused(TokenError):
    """The card answered a command with an error status Tessera does not expect."""

    def __init__(self, label: str, sw: int) -> None:
        self.sw = sw
        super().__init__(f"{label} refused the operation (status 0x{sw:04X})")


class ManagementKeyUnavailable(TokenError):
    """The card has a custom management key that Tessera cannot open with the PIN."""

    def __init__(self, label: str) -> None:
        super().__init__(
            f"{label} has a custom PIV management key that is not stored PIN-protected on "
            "the key. Run 'ykman piv access change-management-key --generate --protect' "
            "(it asks for the current management key), then enrol again."
        )


class NoFreeSlot(TokenError):
    def __init__(self, label: str) -> None:
        super().__init__(
            f"All 20 retired PIV slots (82-95) of {label} hold a key or a certificate; "
            "free one with ykman before enrolling."
        )


def pin_error(error: InvalidPinError) -> TokenError:
    """A wrong PIN, or a PIN that just got blocked."""
    if error.attempts_remaining == 0:
        return PinBlocked(PUK_HINT)
    return PinInvalid(error.attempts_remaining)


@contextmanager
def piv_errors(label: str, cancel: threading.Event, *, touch: bool = False) -> Iterator[None]:
    """Translate card and reader failures inside the block into Tessera token errors.

    ``touch`` says the block uses a key that may wait for a touch: a YubiKey answers a
    touch timeout with "security status not satisfied" (0x6982).
    """
    try:
        yield
    except TesseraError:
        raise
    except InvalidPinError as e:
        raise pin_error(e) from None
    except ApduError as e:
        if cancel.is_set():
            raise UserCancelled() from None
        if e.sw == SW.AUTH_METHOD_BLOCKED:
            raise PinBlocked(PUK_HINT) from None
        if e.sw == SW.SECURITY_CONDITION_NOT_SATISFIED and touch:
            raise TouchTimeout() from None
        raise PivRefused(label, e.sw) from None
    except SmartcardException:
        raise DeviceRemoved(label) from None
    except ApplicationNotAvailableError:
        raise PivNotSupported(f"The PIV application of {label} is disabled or missing") from None
    except NotSupportedError as e:
        raise PivNotSupported(f"{label}: {e}") from None
    except BadResponseError:
        raise TokenError(f"{label} gave an unexpected answer; remove it and try again") from None
