"""Reads for the pages, off the GUI thread: one loader thread with its own vault connection.

A page asks :meth:`VaultLoader.load` for a read (a function of a :class:`Vault`) and
gets the result later, on the GUI thread, by a queued signal — so reading 5,000 records
or the access review of a large vault never freezes the window. The loader opens its
own connection to the vault file (SQLite connections do not cross threads; the vault
is in WAL mode, so it reads the last committed state while the GUI's connection
writes). It is separate from the token worker: a page loading never delays a key
operation, and a key operation never waits for a page.

Requests are keyed by their page: a newer request for the same page replaces one not yet
started, and a result older than the page's newest request is dropped, so a burst of
vault changes costs one read per page, not one per change.

While the loader has work, Python's cyclic garbage collector is paused (``gc.disable``;
``core/collector.py``, shared with every other pause), and when the last result is
delivered every object alive then is frozen out of later collections (``gc.freeze``)
before the collector resumes. A read of 5,000 records makes
hundreds of thousands of objects; each allocation burst used to start full collections
that walk every tracked object holding the GIL — 50–130 ms in which the window could not
paint (PERFORMANCE.md). The price is bounded and stated: an object that becomes garbage
*only* through a reference cycle while the loader is busy is never freed (objects freed by
their reference count — nearly all, the results the pages replace included — are freed as
before). Over a whole bench_gui run at 5,000 records that was a few hundred objects.

``inline`` (tests of other behaviour set it) runs every read at once on the calling
thread with the GUI's own vault, as before the loader existed.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from tessera.core.collector import Collector
from tessera.core.turns import Stopped, sharing
from tessera.vault import Vault

logger = logging.getLogger(__name__)

Read = Callable[[Vault], Any]
SWITCH_INTERVAL = 0.001  # seconds a thread holds the GIL before another may take it


@dataclass(frozen=True)
class _Request:
    key: object
    generation: int
    read: Read
    on_done: Callable[[Any], None]
    on_error: Callable[[BaseException], None] | None


@dataclass(frozen=True)
class _Result:
    request: _Request
    value: Any
    error: BaseException | None
    threaded: bool = False  # counted in ``_running`` until delivered


class VaultLoader(QObject):
    """One background thread reading the vault for the pages, newest request per page."""

    inline = False  # tests: read at once on the GUI thread, with the GUI's vault
    idle_changed = Signal(bool)
    _delivered = Signal(object)  # _Result, emitted on the loader thread

    def __init__(self, vault_path: Path, gui_vault: Vault, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._path = vault_path
        self._gui_vault = gui_vault
        self._lock = threading.Condition()
        self._waiting: OrderedDict[object, _Request] = OrderedDict()
        self._generation: dict[object, int] = {}
        self._running = 0
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._paused_gc = False  # this loader counts among those pausing the collector
        self._stopping = threading.Event()  # a running read stops at its next turn
        self._delivered.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    # -- GUI thread ----------------------------------------------------------------------
    def load(self, key: object, read: Read, on_done: Callable[[Any], None],
             on_error: Callable[[BaseException], None] | None = None, *,
             urgent: bool = False) -> None:
        """Run ``read(vault)`` on the loader thread; ``on_done(result)`` runs later on the
        GUI thread unless a newer request for ``key`` was made meanwhile. An ``urgent``
        read (a small one the person is waiting for: the selected record's details) goes
        before the reads already waiting, not after them."""
        if self._stopped:
            return  # the window is closing: nothing is read or shown any more
        generation = self._generation.get(key, 0) + 1
        self._generation[key] = generation
        request = _Request(key, generation, read, on_done, on_error)
        if self.inline:
            self._deliver(self._run_one(request, self._gui_vault))
            return
        with self._lock:
            was_idle = not self._waiting and not self._running
            if was_idle:
                # Before the loader thread can see the request: woken first, it could
                # read (and collect) while the GUI thread waited for the interpreter.
                self._pause_collector()
            self._waiting.pop(key, None)
            self._waiting[key] = request
            if urgent:
                self._waiting.move_to_end(key, last=False)
            self._lock.notify()
        if self._thread is None:
            # While the loader computes, the GUI thread needs the GIL for every Python
            # call Qt makes (a cell's text, a timer): hand it over within 1 ms, not 5.
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
            self._thread = threading.Thread(target=self._run, name="tessera-page-loader",
                                            daemon=True)
            self._thread.start()
        if was_idle:
            self.idle_changed.emit(False)

    @property
    def idle(self) -> bool:
        """Nothing waiting, running or not yet delivered."""
        with self._lock:
            return not self._waiting and not self._running

    def shutdown(self) -> None:
        """Drop what waits, stop a running read at its next turn (it gives way several
        times a second), close the loader's connection; later requests are dropped too
        (the window is closing)."""
        with self._lock:
            self._stopped = True
            self._stopping.set()
            self._waiting.clear()
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(10.0)
        self._resume_collector()

    def _pause_collector(self) -> None:
        """No cyclic collection while the loader works (see the module's docstring)."""
        if not self._paused_gc:
            self._paused_gc = True
            Collector.pause()

    def _resume_collector(self) -> None:
        if self._paused_gc:
            self._paused_gc = False
            Collector.resume()

    def _deliver(self, result: _Result) -> None:
        request = result.request
        with self._lock:
            if result.threaded:
                self._running -= 1
            now_idle = result.threaded and not self._waiting and not self._running
        try:
            if self._stopped and result.threaded:
                return  # the window is closing: its pages may be gone
            if self._generation.get(request.key) != request.generation:
                return  # a newer read of this page is on its way
            if result.error is None:
                request.on_done(result.value)
            elif request.on_error is not None:
                request.on_error(result.error)
            else:
                logger.warning("A page could not read the vault: %s", result.error)
        finally:
            if now_idle and self.idle:  # ``on_done`` may have asked for another read
                self._resume_collector()
                self.idle_changed.emit(True)

    # -- loader thread -------------------------------------------------------------------
    @staticmethod
    def _run_one(request: _Request, vault: Vault) -> _Result:
        try:
            return _Result(request, request.read(vault), None)
        except Exception as exc:  # delivered to the page, on the GUI thread
            return _Result(request, None, exc)

    def _run(self) -> None:
        # The window gets its turns while pages are read, and a read still running when
        # the window closes (a full verify of a million entries) stops at its next turn
        # (core/turns.py) instead of holding the closing app.
        try:
            with sharing(self._stopping):
                self._read_requests()
        except Stopped:
            logger.info("a page's read was stopped: the window is closing")

    def _read_requests(self) -> None:
        vault: Vault | None = None
        try:
            while True:
                with self._lock:
                    while not self._waiting and not self._stopped:
                        self._lock.wait()
                    if self._stopped:
                        return
                    _key, request = self._waiting.popitem(last=False)
                    self._running += 1
                if vault is None:
                    try:
                        vault = Vault.open(self._path)
                    except Exception as exc:
                        self._delivered.emit(_Result(request, None, exc, threaded=True))
                        continue
                result = self._run_one(request, vault)
                self._delivered.emit(_Result(request, result.value, result.error,
                                             threaded=True))
        finally:
            if vault is not None:
                vault.close()
