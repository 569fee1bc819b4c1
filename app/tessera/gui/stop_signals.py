"""SIGTERM, SIGHUP and Ctrl-C end the desktop app the way closing it would, minus the
questions: every unfinished quorum is aborted and logged first.

Python runs a signal handler only between bytecodes, and Qt's event loop runs in C++,
so the signal number is written to a pipe (``signal.set_wakeup_fd``) that a
:class:`QSocketNotifier` watches; the stop then runs on the GUI thread like any event.
(POSIX only: Windows has no SIGHUP, and its wakeup descriptor must be a socket, which
Tessera never opens.)
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from PySide6.QtCore import QObject, QSocketNotifier

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT")
                     if hasattr(signal, name))


class StopSignals(QObject):
    """While alive, the stop signals call ``on_stop(signum)`` on the GUI thread."""

    def __init__(self, on_stop: Callable[[int], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_stop = on_stop
        self._stopping = False
        self._active = os.name == "posix"
        if not self._active:
            return
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._saved_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._saved = {sig: signal.signal(sig, self._noted) for sig in STOP_SIGNALS}
        self._notifier = QSocketNotifier(self._read, QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._woken)

    @staticmethod
    def _noted(_signum: int, _frame: object) -> None:
        """The wakeup socket carries the signal; this only replaces the default action."""

    def _woken(self, *_ignored: object) -> None:
        try:
            data = os.read(self._read, 64)
        except BlockingIOError:
            return
        for signum in data:
            if signum in STOP_SIGNALS and not self._stopping:
                self._stopping = True
                self._on_stop(signum)

    def restore(self) -> None:
        """Put back the previous handlers (the app is done)."""
        if not self._active:
            return
        self._active = False
        self._notifier.setEnabled(False)
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._saved_fd)
        os.close(self._read)
        os.close(self._write)
