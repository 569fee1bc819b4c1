"""Pausing Python's cyclic garbage collector during bulk work (no Qt: the CLI and the GUI).

A read of 5,000 records makes hundreds of thousands of objects; each allocation burst
starts collections, and a full one walks every tracked object holding the GIL — 50–130
ms in which a window cannot paint, ~110 ms of a `review` that freed nothing
(docs/PERFORMANCE.md). While work runs under :func:`collector_paused` (or between
:meth:`Collector.pause` and :meth:`Collector.resume`) no collection starts; the pause is
shared by every thread of the process and ends when the last of them is done: what is
alive then is frozen out of later collections (``gc.freeze``) and the collector runs
again. The price: an object that becomes garbage only through a reference cycle while
the collector is paused is not freed.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Collector:
    """The pause of the cyclic collector, shared by every thread of the process: it
    resumes when the last pause ends (a window's loader finishing must not restart
    collections under another's read). Frozen, then enabled — unless it was disabled
    before the first pause, by someone else: then it stays disabled."""

    _lock = threading.Lock()
    _busy = 0
    _disabled_by_us = False

    @classmethod
    def pause(cls) -> None:
        with cls._lock:
            if cls._busy == 0 and gc.isenabled():
                gc.disable()
                cls._disabled_by_us = True
            cls._busy += 1

    @classmethod
    def resume(cls) -> None:
        with cls._lock:
            cls._busy -= 1
            if cls._busy == 0 and cls._disabled_by_us:
                cls._disabled_by_us = False
                gc.freeze()
                gc.enable()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector paused for the work inside (see the module's docstring)."""
    Collector.pause()
    try:
        yield
    finally:
        Collector.resume()
