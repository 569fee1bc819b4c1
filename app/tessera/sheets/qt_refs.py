"""A guard against PySide6 6.12's lost references to ``None`` on Python 3.11.

With the locked PySide6 (6.12.0) on CPython 3.11, every call of a Qt method that
returns nothing (``QPainter.drawRect``, ``setPen``, ``QPainterPath.addRect`` …) drops
one reference to ``None`` without taking it. CPython 3.12 made ``None`` immortal, so
there it is harmless; on 3.11 a few thousand calls bring the count to zero and the
interpreter aborts ("deallocating None"). A page of a sheet makes thousands of such
calls, so painting runs inside :func:`none_refs_guard`, which lends headroom for the
block and afterwards gives back exactly as many references as the block lost (the
count is restored in place, CPython-specific like the bug itself, so nothing is
released again when the interpreter shuts down).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator
from contextlib import contextmanager

HEADROOM = 200_000  # far above the calls one page makes (a few thousand)


@contextmanager
def none_refs_guard() -> Iterator[None]:
    """Run a block of Qt calls without letting ``None``'s reference count reach zero."""
    if sys.version_info >= (3, 12):
        yield
        return
    before = sys.getrefcount(None)
    loan: list[None] = [None] * HEADROOM
    try:
        yield
    finally:
        lost = before + HEADROOM - sys.getrefcount(None)
        if lost > 0:
            # ob_refcnt is the first field of every CPython object.
            ctypes.c_ssize_t.from_address(id(None)).value += lost
        del loan
