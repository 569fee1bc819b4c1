"""Background threads that share the interpreter with the window give it a turn.

CPython runs one thread at a time (the GIL). A thread waiting for it asks the running
one to let go after the switch interval (1 ms in the GUI) — but only if nobody took the
GIL meanwhile. A thread that lets go and takes it back thousands of times a second, as
a read of the vault does (SQLite releases it for every row it steps to; SHA-256 for
every input over 2 KB), takes it back before the waiting thread has woken up, each
time counting as a switch: the waiting thread asks nothing and waits again. Measured on
this machine with 5,000 records: reading every current version beside a thread that
wants the GIL every millisecond kept that thread waiting 40–300 ms at a time (the
window frozen as long), however short the switch interval.

So a background thread that reads in bulk runs inside :func:`sharing`, and its loops
call :func:`give_way` once per item: past a slice of :data:`SLICE` seconds, the call
sleeps :data:`PAUSE` seconds with the GIL released — long enough for a waiting thread
to wake and take it. Elsewhere (the command line, the GUI thread, tests) ``give_way``
returns at once. The reads cost a few percent more; the window waits at most about a
slice for its turn.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

SLICE = 0.004  # seconds a sharing thread runs before it gives way
PAUSE = 0.0003  # seconds it then sleeps, the GIL released

_sharing: dict[int, float] = {}  # thread id → when it last gave way
_stops: dict[int, threading.Event] = {}  # thread id → set when its work is no longer wanted


class Stopped(BaseException):
    """Raised by :func:`give_way` in a thread whose stop was set: the window is closing and
    the read's result is wanted by nobody. A ``BaseException``, so that no ``except
    Exception`` on the way turns it into a result; context managers unwind as it passes
    (a read transaction ends, nothing half-written is kept)."""


@contextlib.contextmanager
def sharing(stop: threading.Event | None = None) -> Iterator[None]:
    """Run the block as a background thread that gives way (see the module); with
    ``stop``, once it is set, the next turn given raises :class:`Stopped`."""
    ident = threading.get_ident()
    outer = ident in _sharing
    _sharing[ident] = time.perf_counter()
    if stop is not None:
        _stops[ident] = stop
    try:
        yield
    finally:
        if stop is not None:
            _stops.pop(ident, None)
        if not outer:
            _sharing.pop(ident, None)


def is_sharing() -> bool:
    """Whether the calling thread gives way."""
    return threading.get_ident() in _sharing


def give_way() -> None:
    """In a sharing thread past its slice: sleep briefly so a waiting thread runs."""
    ident = threading.get_ident()
    since = _sharing.get(ident)
    if since is None:
        return
    now = time.perf_counter()
    if now - since >= SLICE:
        stop = _stops.get(ident)
        if stop is not None and stop.is_set():
            raise Stopped
        time.sleep(PAUSE)
        _sharing[ident] = time.perf_counter()
