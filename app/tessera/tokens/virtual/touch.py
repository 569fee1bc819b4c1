"""Touch on a virtual device: an event the test, the demo or the CLI controls.

A :class:`TouchControl` answers "did the person touch the key?" for one virtual
device. Modes: ``immediate`` (touch happens at once), ``delay:S`` (after S seconds),
``never`` (the device waits until its timeout or until cancelled) and ``manual``
(a Touch button or a test calls :meth:`press`).

:attr:`touches` counts the touches the device consumed (one per operation that waited
for presence, whatever the mode): what a person would have had to do, which the
one-touch-per-release tests count.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TouchControl:
    def __init__(self, mode: str = "immediate") -> None:
        self._pressed = threading.Event()
        self._lock = threading.Lock()
        self.waiting = threading.Event()  # set while the device waits for a touch
        self.on_waiting: Callable[[bool], None] | None = None
        self.mode = "immediate"
        self.delay = 0.0
        self.touches = 0
        self.set_mode(mode)

    def set_mode(self, mode: str) -> None:
        """``immediate``, ``never``, ``manual`` or ``delay:SECONDS``."""
        if mode in ("immediate", "never", "manual"):
            self.mode, self.delay = mode, 0.0
        elif mode.startswith("delay:"):
            try:
                delay = float(mode.split(":", 1)[1])
            except ValueError:
                raise ValueError(f"not a touch mode: {mode!r}") from None
            if not 0 <= delay <= 3600:
                raise ValueError(f"touch delay out of range: {mode!r}")
            self.mode, self.delay = "delay", delay
        else:
            raise ValueError(f"not a touch mode: {mode!r} (immediate, never, manual, delay:S)")

    def press(self) -> None:
        """A person touched the key (the demo's Touch button, or a test)."""
        self._pressed.set()

    def wait(self, timeout: float, cancel: threading.Event | None = None) -> bool:
        """Block until touched; False on timeout or cancel. Called by the device."""
        if self.mode == "immediate":
            if cancel is not None and cancel.is_set():
                return False
            self._count()
            return True
        self._set_waiting(True)
        try:
            deadline = time.monotonic() + timeout
            touch_at = time.monotonic() + self.delay if self.mode == "delay" else float("inf")
            while True:
                now = time.monotonic()
                if cancel is not None and cancel.is_set():
                    return False
                if self._pressed.is_set() or now >= touch_at:
                    self._pressed.clear()
                    self._count()
                    return True
                if now >= deadline:
                    return False
                self._pressed.wait(min(0.02, max(0.0, deadline - now)))
        finally:
            self._set_waiting(False)

    def _count(self) -> None:
        with self._lock:
            self.touches += 1

    def _set_waiting(self, waiting: bool) -> None:
        with self._lock:
            if waiting:
                self._pressed.clear()  # a press before the device asked does not count
                self.waiting.set()
            else:
                self.waiting.clear()
        if self.on_waiting is not None:
            self.on_waiting(waiting)
