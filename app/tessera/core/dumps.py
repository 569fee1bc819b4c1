"""Keep secrets out of core dumps, debuggers' reach and swap.

During a release the process holds a custodian's share, the DEK, the secret and,
with ``TESSERA_PASSPHRASE``, a passphrase. A core file written at that moment (a
crash, ``gcore``, a ``kill -QUIT``) would hold them all. :func:`harden_process`
runs first thing in the CLI and the GUI: core size limit 0, and on Linux the
process is made non-dumpable (``PR_SET_DUMPABLE`` 0), which also stops other
processes of the same user from attaching with ptrace or reading its memory
through ``/proc/<pid>/mem``. :func:`lock_pages` keeps one buffer (a DEK, a share)
out of swap with ``mlock`` where the limits allow it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3


@dataclass(frozen=True)
class Hardening:
    """What :func:`harden_process` managed to do on this platform."""

    core_limit_zero: bool
    not_dumpable: bool


def _libc() -> ctypes.CDLL | None:
    if os.name != "posix":
        return None
    if sys.platform.startswith("linux"):
        # glibc's soname, loaded at once: find_library runs ldconfig (or a compiler) in a
        # subprocess, tens of milliseconds of every start, the GUI's first window's too.
        with contextlib.suppress(OSError):
            return ctypes.CDLL("libc.so.6", use_errno=True)
    from ctypes.util import find_library

    name = find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def harden_process() -> Hardening:
    """Disable core dumps (and, on Linux, ptrace-dumpability) for this process."""
    core = False
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        core = True
    dumpable = False
    if sys.platform.startswith("linux") and _LIBC is not None:
        prctl = _LIBC.prctl
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                          ctypes.c_ulong]
        prctl.restype = ctypes.c_int
        dumpable = prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    return Hardening(core_limit_zero=core, not_dumpable=dumpable)


def _span(buffer: bytearray) -> tuple[int, int] | None:
    if not buffer:
        return None
    address = ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))
    return address, len(buffer)


def lock_pages(buffer: bytearray) -> bool:
    """Keep ``buffer``'s pages out of swap (``mlock``); False where not permitted.

    The buffer must not be resized while locked. Call :func:`unlock_pages` after
    wiping it.
    """
    span = _span(buffer)
    if span is None or _LIBC is None:
        return False
    return bool(_LIBC.mlock(ctypes.c_void_p(span[0]), ctypes.c_size_t(span[1])) == 0)


def unlock_pages(buffer: bytearray) -> None:
    span = _span(buffer)
    if span is not None and _LIBC is not None:
        _LIBC.munlock(ctypes.c_void_p(span[0]), ctypes.c_size_t(span[1]))


@contextlib.contextmanager
def pages_locked(buffer: bytearray) -> Iterator[bool]:
    """Hold ``buffer`` out of swap while the block runs (yields whether it could be);
    the caller wipes it inside the block, the pages are unlocked after."""
    locked = lock_pages(buffer)
    try:
        yield locked
    finally:
        if locked:
            unlock_pages(buffer)
