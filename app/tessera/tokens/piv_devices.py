"""Finding YubiKeys for PIV: real ones through ykman and PC/SC, plus virtual ones.

Discovery yields :class:`PivDevice` records built from the ``(device, DeviceInfo)``
pairs of ``ykman.device.list_all_devices()``. Virtual keys
(:class:`~tessera.tokens.virtual.piv_device.VirtualYubiKey`) come from an injected
callable with the same shape, so the driver treats both alike.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from smartcard import scard
from smartcard.Exceptions import CardConnectionException
from smartcard.pcsc.PCSCExceptions import BaseSCardException
from ykman.base import YkmanDevice
from ykman.device import list_all_devices
from ykman.pcsc import list_readers
from yubikit.core.smartcard import SmartCardConnection
from yubikit.management import DeviceInfo

from tessera.tokens.piv_errors import KeyInUse, PcscUnavailable
from tessera.tokens.virtual.piv_device import VirtualYubiKey

logger = logging.getLogger(__name__)

DeviceListing = Sequence[tuple[YkmanDevice, DeviceInfo]]
DeviceLister = Callable[[], DeviceListing]


@dataclass(frozen=True)
class PivDevice:
    """One YubiKey that can be opened for PIV."""

    device: YkmanDevice
    serial: int | None
    version: str
    virtual: bool

    @property
    def label(self) -> str:
        kind = "virtual YubiKey" if self.virtual else "YubiKey"
        return f"{kind} {self.serial}" if self.serial is not None else kind

    def open(self) -> SmartCardConnection:
        """A smart-card connection to the key; close it when done.

        Another program that watches the keys (a second Tessera's status bar, a password
        manager) opens each card for a moment, over and over: a card found held is tried
        again for up to :data:`BUSY_WAIT` seconds, then reported in use (not removed)."""
        deadline = time.monotonic() + BUSY_WAIT
        while True:
            try:
                connection: SmartCardConnection = self.device.open_connection(
                    SmartCardConnection)
                return connection
            except CardConnectionException as e:
                if getattr(e, "hresult", None) != SHARING_VIOLATION:
                    raise
                if time.monotonic() >= deadline:
                    reader = getattr(getattr(self.device, "reader", None), "name", self.label)
                    raise KeyInUse(self.label, [str(reader)]) from None
            time.sleep(RETRY_SECONDS)


def list_real_devices() -> DeviceListing:
    """Attached YubiKeys with a smart-card interface.

    ykman logs and swallows a missing PC/SC service; Tessera asks PC/SC first so the
    person is told to start pcscd instead of seeing "no YubiKey found". ykman also
    skips a YubiKey it cannot open because another program holds it; pcscd releases a
    card a moment after the process that used it exits, so a key found held is looked
    for again for up to :data:`BUSY_WAIT` seconds (:func:`busy_readers` tells who is
    still held after that).
    """
    try:
        list_readers()  # type: ignore[no-untyped-call]
    except BaseSCardException as e:
        raise PcscUnavailable() from e
    deadline = time.monotonic() + BUSY_WAIT
    while True:
        found = list_all_devices([SmartCardConnection])
        # A reader whose card the listing could not open was held at that moment, even
        # if it is free by now (a program that watches the keys lets go at once): look
        # again, rather than report the key missing. (A YubiKey that cannot be opened at
        # all costs each listing this wait; such a key cannot be used either way.)
        if time.monotonic() >= deadline or not unopened_readers(d for d, _ in found):
            return found
        time.sleep(RETRY_SECONDS)


BUSY_WAIT = 1.5  # seconds a YubiKey held by another program is waited for
RETRY_SECONDS = 0.1
SHARING_VIOLATION = scard.SCARD_E_SHARING_VIOLATION


def unopened_readers(listed: Iterable[YkmanDevice] = ()) -> list[str]:
    """The names of YubiKey readers other than those of ``listed`` (keys a listing just
    opened)."""
    from ykman.pcsc import list_devices as yubikey_readers

    opened = {device.fingerprint for device in listed}
    try:
        return [d.reader.name for d in yubikey_readers()  # type: ignore[no-untyped-call]
                if d.fingerprint not in opened]
    except BaseSCardException:
        return []


def busy_readers(listed: Iterable[YkmanDevice] = ()) -> list[str]:
    """The names of YubiKey readers whose card another program holds (it refuses even a
    shared connection: a sharing violation). ``listed``: keys a listing just opened, so
    not held — their readers are not probed."""
    wanted = unopened_readers(listed)
    if not wanted:
        return []
    held: list[str] = []
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return []
    try:
        for name in wanted:
            hresult, card, _ = scard.SCardConnect(
                context, name, scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
            if hresult == scard.SCARD_S_SUCCESS:
                scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
            elif hresult == scard.SCARD_E_SHARING_VIOLATION:
                held.append(name)
    finally:
        scard.SCardReleaseContext(context)
    return held


def _record(device: YkmanDevice, info: DeviceInfo) -> PivDevice:
    virtual = isinstance(device, VirtualYubiKey)
    return PivDevice(device, info.serial, str(info.version), virtual=virtual)


def discover(real: DeviceLister | None, virtual: DeviceLister | None) -> list[PivDevice]:
    """Keys from ``real`` (normally PC/SC) then from ``virtual``.

    A missing PC/SC service is an error only when no virtual key can stand in:
    demo mode keeps working on a machine without pcscd.
    """
    found: list[PivDevice] = []
    problem: PcscUnavailable | None = None
    if real is not None:
        try:
            for device, info in real():
                found.append(_record(device, info))
        except PcscUnavailable as e:
            problem = e
    if virtual is not None:
        for device, info in virtual():
            found.append(_record(device, info))
    if problem is not None:
        if not found:
            raise problem
        logger.warning("PC/SC is not available; only virtual YubiKeys are listed")
    return found
