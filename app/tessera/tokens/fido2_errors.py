"""FIDO2 failures turned into Tessera's errors, which the front ends word for a person.

python-fido2 reports a device problem three ways: a :class:`~fido2.ctap.CtapError`
(status from the key), a :class:`~fido2.client.ClientError` whose ``cause`` is usually
that CtapError, or a bare ``OSError`` when the USB device went away mid-transfer.
:func:`translate_error` maps all three; no message ever contains the PIN.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fido2.client import ClientError, PinRequiredError
from fido2.ctap import CtapError

from tessera.core.errors import (
    DeviceRemoved,
    PinBlocked,
    PinInvalid,
    PinRequired,
    TesseraError,
    TokenError,
    TouchTimeout,
    UserCancelled,
    WrongToken,
)

ERR = CtapError.ERR

# Windows WebAuthn API results that mean "the person closed the Windows dialog".
_WINDOWS_CANCELLED = {
    -2147023673,
    -2146893770,
}  # HRESULT_FROM_WIN32(ERROR_CANCELLED), NTE_USER_CANCELLED


PAPER_SHEET_WAY_BACK = (
    "open your share with your paper recovery sheet and re-wrap it to a key "
    "(or ask for a reshare)"
)
RESET_HINT = (
    "only a FIDO reset revives the key, and a reset erases Tessera's credential: "
    + PAPER_SHEET_WAY_BACK
)


class PinAuthBlocked(PinBlocked):
    """Three wrong PINs in a row: the key refuses PINs until it is unplugged and re-inserted.

    The remaining retries are not lost; this is the key's guard against fast guessing.
    """

    def __init__(self) -> None:
        super().__init__(
            "three wrong PINs in a row — unplug the key, plug it back in and try again"
        )


class U2fOnly(TokenError):
    """A CTAP1/U2F-only key (YubiKey 4/NEO, older FIDO U2F keys): it has no PIN and no PRF."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(
            f"{model} cannot be used: it is a U2F-only (CTAP1) key. Tessera needs a FIDO2 "
            "key with a PIN and the hmac-secret extension, such as a YubiKey 5"
        )


class AmbiguousKeys(TokenError):
    """Several keys are plugged in and none could be identified as the custodian's."""

    def __init__(self, custodian: str, count: int) -> None:
        self.custodian = custodian
        super().__init__(
            f"{count} security keys are plugged in and Tessera cannot tell which one is "
            f"{custodian}'s without a PIN. Unplug the others, leave only {custodian}'s key, "
            "and try again (no PIN was sent to any key)"
        )


class PrfUnsupported(TokenError):
    """The key cannot evaluate the PRF (hmac-secret) extension Tessera derives keys from."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(
            f"{model} cannot be used: it does not support the FIDO2 hmac-secret (PRF) "
            "extension that Tessera needs to derive its decryption key"
        )


class UserVerificationUnsupported(TokenError):
    """The key has neither a PIN nor built-in user verification to offer."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(f"{model} cannot be used: it supports neither a PIN nor user verification")


def ctap_error(
    code: int,
    *,
    cancel: threading.Event,
    read_retries: Callable[[], int | None],
    custodian: str,
) -> TesseraError:
    """The Tessera error for a CTAP status code from the key."""
    if code == ERR.PIN_INVALID:
        return PinInvalid(read_retries())
    if code == ERR.PIN_BLOCKED:
        return PinBlocked(RESET_HINT)
    if code == ERR.PIN_AUTH_BLOCKED:
        return PinAuthBlocked()
    if code == ERR.PIN_NOT_SET:
        return PinRequired("This key has no PIN yet; set one to use it with Tessera")
    if code == ERR.KEEPALIVE_CANCEL:
        return UserCancelled()
    if code in (ERR.USER_ACTION_TIMEOUT, ERR.ACTION_TIMEOUT):
        return UserCancelled() if cancel.is_set() else TouchTimeout()
    if code == ERR.NO_CREDENTIALS:
        return WrongToken(custodian)
    if code == ERR.OPERATION_DENIED:
        return UserCancelled()
    name = getattr(code, "name", f"0x{int(code):02X}")
    return TokenError(f"The security key refused the request (CTAP status {name})")


def translate_error(
    exc: BaseException,
    *,
    label: str,
    cancel: threading.Event,
    read_retries: Callable[[], int | None],
    custodian: str,
) -> TesseraError:
    """Map a python-fido2 or OS failure to the matching :mod:`tessera.core.errors` class."""
    if isinstance(exc, TesseraError):
        return exc
    if isinstance(exc, PinRequiredError):
        # Our UserInteraction returned no PIN: the person cancelled the PIN dialog.
        return UserCancelled()
    if isinstance(exc, CtapError):
        return ctap_error(exc.code, cancel=cancel, read_retries=read_retries, custodian=custodian)
    if isinstance(exc, ClientError):
        cause = exc.cause
        if isinstance(cause, CtapError):
            return ctap_error(
                cause.code, cancel=cancel, read_retries=read_retries, custodian=custodian
            )
        if isinstance(cause, OSError):
            # Only the Windows client wraps OS errors (its WebAuthn API results).
            if cancel.is_set() or getattr(cause, "winerror", None) in _WINDOWS_CANCELLED:
                return UserCancelled()
            return TokenError("Windows could not complete the security key operation")
        if exc.code == ClientError.ERR.TIMEOUT:
            return UserCancelled() if cancel.is_set() else TouchTimeout()
        if exc.code == ClientError.ERR.DEVICE_INELIGIBLE:
            return WrongToken(custodian)
        if exc.code == ClientError.ERR.CONFIGURATION_UNSUPPORTED:
            return TokenError(f"{label} does not support what Tessera needs (user verification)")
        return TokenError(f"The security key operation failed ({exc.code.name})")
    if isinstance(exc, OSError):
        return DeviceRemoved(label)
    return TokenError(f"The security key operation failed ({type(exc).__name__})")
