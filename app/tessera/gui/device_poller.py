"""Which keys are plugged in, for the status bar: polled on a thread of its own.

Listing USB and smart-card devices can block (PC/SC, HID enumeration), so it never
runs on the GUI thread; and it is not a token operation, so it does not queue behind
one on the token worker. Listings and token jobs share one lock (the worker's
``device_lock``): a listing opens each smart card exclusively, so a job starting
during a listing would not find its card and report the wrong key, and a listing
during a job could disturb it. The poller never waits for the lock: while a job
holds it, the poller skips its turn; a job that starts during a listing waits for
the listing (a few milliseconds) to finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from tessera.core.turns import sharing
from tessera.custody.drivers import TokenDrivers
from tessera.custody.enroll import ConnectedDevice, connected_devices

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
# What the first look imports (connected_devices loads the drivers when first called):
# the start path imports them on its opening thread, before the window fills in, so
# that the poller's first look is not 100 ms of imports competing with the GUI thread
# for the interpreter while the first records are painted.
LISTING_MODULES = ("tessera.tokens.fido2", "tessera.tokens.piv",
                   "tessera.tokens.virtual.hid")


def describe_devices(devices: list[ConnectedDevice]) -> str:
    """The status bar text: the keys by name when there are one or two, else a count
    (the tooltip lists them all)."""
    if not devices:
        return "No keys plugged in"
    if len(devices) > 2:
        return f"{len(devices)} keys plugged in"
    names = ", ".join(d.label for d in devices)
    return f"{len(devices)} key{'s' if len(devices) != 1 else ''}: {names}"


class DevicePoller(QObject):
    """Lists connected keys every ``interval`` seconds; ``devices_changed`` on change."""

    devices_changed = Signal(list)  # list[ConnectedDevice], delivered on the GUI thread

    def __init__(self, drivers: TokenDrivers, *, busy: Callable[[], bool] = lambda: False,
                 lock: threading.Lock | None = None, interval: float = POLL_SECONDS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._drivers = drivers
        self._busy = busy
        self._lock = lock if lock is not None else threading.Lock()
        self._interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._last: list[ConnectedDevice] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="tessera-device-poller",
                                        daemon=True)
        self._thread.start()

    def poll_now(self) -> None:
        """Look again at once (after an enrolment, or a virtual key was plugged in)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(3.0)
            self._thread = None

    @property
    def last(self) -> list[ConnectedDevice]:
        return list(self._last or [])

    def _run(self) -> None:
        with sharing():
            self._poll()

    def _poll(self) -> None:
        while not self._stop.is_set():
            found = self._list() if not self._busy() else None
            if found is not None and found != self._last and not self._stop.is_set():
                self._last = found
                try:
                    self.devices_changed.emit(list(found))
                except RuntimeError:  # the window closed while we were listing
                    return
            self._wake.wait(self._interval)
            self._wake.clear()

    def _list(self) -> list[ConnectedDevice] | None:
        """The keys plugged in, or None when a token job holds the devices."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return connected_devices(self._drivers)
        except Exception:
            log.warning("Listing connected keys failed", exc_info=False)
            return self._last or []
        finally:
            self._lock.release()
