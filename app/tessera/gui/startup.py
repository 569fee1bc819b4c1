"""The start path of ``tessera gui``: the main window first, then the vault.

:func:`tessera.gui.app.run` shows the main window's frame (title, sidebar, menus, the
page area saying "Opening …") as soon as the QApplication exists, having imported
little more than PySide6. :class:`Startup` then opens the vault on a background
thread — the imports of the vault, crypto and token layers, ``Vault.open``, this
computer's pins and the signed-log check — and gets the result back by a queued
signal, so the window keeps painting and answering meanwhile. Everything the opening
asks or raises is asked or shown over that window, on the GUI thread: the first-run
offer of the demo, accepting a vault that is not as this computer last saw it, an
error that leaves the vault closed. Then it fills the window in, one slice per turn of
the event loop (:meth:`MainWindow.attach_steps`).

The opening thread imports every module the filling-in needs (``FILL_MODULES``)
before it hands the vault over: a Python import holds a lock per module, so the GUI
thread must find them loaded rather than wait for the opener's imports to finish.
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from tessera.gui.main_window import FILL_MODULES, MainWindow

if TYPE_CHECKING:
    from tessera.gui.context import AppContext, OpenedVault

log = logging.getLogger(__name__)

SWITCH_INTERVAL = 0.001  # the GUI thread gets the GIL within 1 ms of the opener's work
JOIN_SECONDS = 60.0  # how long quitting waits for an opening under way to end


@dataclass(frozen=True)
class _Open:
    """What to open (decided on the opening thread, or by the first-run question)."""

    path: Path
    demo: bool
    create: bool


@dataclass(frozen=True)
class _FirstRun:
    """The vault is missing or empty: the person is offered the demo first."""

    path: Path
    exists: bool


@dataclass(frozen=True)
class _Outcome:
    then: Callable[[Any], None]
    value: Any
    error: BaseException | None


class Startup(QObject):
    """Opens a vault for a main window already shown, and fills the window in.

    ``ended(code)`` is emitted when start-up ends the application instead (the person
    quit at the first-run offer or refused a changed vault: 0; the vault could not be
    opened: 1, after the error was shown). ``opened`` when the window is complete.
    """

    ended = Signal(int)
    opened = Signal()
    _delivered = Signal(object)  # an _Outcome, emitted on the opening thread
    _progress = Signal(str)  # a line for the opening panel, emitted on the opening thread

    def __init__(self, window: MainWindow, vault_path: Path | None, demo: bool, *,
                 touch: str = "manual", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.vault_path = vault_path
        self.demo = demo
        self.touch = touch
        self.context: AppContext | None = None
        self.exit_code: int | None = None
        self._opening: _Open | None = None  # what the opening thread opens (or opened)
        self._lock = threading.Lock()
        self._stopped = False
        self._pending: _Outcome | None = None
        self._thread: threading.Thread | None = None
        self._delivered.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._progress.connect(self._say, Qt.ConnectionType.QueuedConnection)

    # -- GUI thread --------------------------------------------------------------------
    def start(self) -> None:
        """Begin opening (call once the window is shown; not after :meth:`finish`)."""
        if self._stopped or self._thread is not None:
            return
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._in_background(self._choose, self._chosen)

    @property
    def running(self) -> bool:
        """An opening step is under way on the opening thread."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def finish(self) -> None:
        """After the event loop: stop, wait for an opening under way, close what it opened
        and the context (whether or not the window was filled in with it)."""
        with self._lock:
            self._stopped = True
        thread = self._thread
        if thread is not None:
            thread.join(JOIN_SECONDS)
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            _discard(pending.value)
        if self.context is not None:
            context, self.context = self.context, None
            context.close()

    def _window_gone(self) -> bool:
        return self._stopped or not self.window.isVisible()

    def _say(self, text: str) -> None:
        if not self.window.attached:
            self.window.opening_panel.say(text)

    def _in_background(self, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        def run() -> None:
            from tessera.core.collector import collector_paused
            from tessera.core.turns import sharing

            try:
                # The window gets its turns while the layers are imported and the vault
                # is checked, and no full garbage collection holds the interpreter.
                with collector_paused(), sharing():
                    outcome = _Outcome(then, work(), None)
            except BaseException as exc:  # delivered to the GUI thread, shown there
                outcome = _Outcome(then, None, exc)
            with self._lock:
                if self._stopped:
                    _discard(outcome.value)
                    return
                self._pending = outcome
            self._delivered.emit(outcome)

        self._thread = threading.Thread(target=run, name="tessera-vault-opener", daemon=True)
        self._thread.start()

    def _deliver(self, outcome: _Outcome) -> None:
        with self._lock:
            if self._pending is not outcome:
                return  # already discarded by finish()
            self._pending = None
        if self._window_gone():  # closed while the vault opened: nobody to show it to
            _discard(outcome.value)
            return
        if outcome.error is not None:
            self._failed(outcome.error)
            return
        outcome.then(outcome.value)

    def _chosen(self, choice: _Open | _FirstRun) -> None:
        from tessera.gui import app as gui_app

        if isinstance(choice, _Open):
            self._open(choice)
            return
        answer = gui_app.FirstRunDialog.ask(self.window, choice.path, choice.exists)
        if answer is gui_app.FirstRunChoice.QUIT:
            self._end(0)
        elif answer is gui_app.FirstRunChoice.DEMO:
            self.window.opening_name(gui_app.demo_vault_path().name + " (demo)")
            self._in_background(lambda: self._demo(None), self._open)
        else:
            self._open(_Open(choice.path, demo=False, create=True))

    def _open(self, what: _Open) -> None:
        self.window.opening_name(what.path.name + (" (demo)" if what.demo else ""))
        self._opening = what
        self._say("Reading the vault and checking its signed log…")
        self._in_background(lambda: self._open_vault(what), self._fill)

    def _failed(self, exc: BaseException) -> None:
        from tessera.gui import app as gui_app
        from tessera.gui.context import local_actor
        from tessera.gui.errors import show_error
        from tessera.vault.errors import VaultNotAsPinned

        what = self._opening
        if not isinstance(exc, VaultNotAsPinned) or what is None:
            show_error(self.window, exc)
            self._end(1)
            return
        reason = gui_app.AcceptVaultDialog.ask(self.window, exc)
        if reason is None:
            self._end(0)
            return
        try:
            accepted = gui_app.accept_vault(what.path, reason, local_actor(), self.window)
        except Exception as error:
            show_error(self.window, error)
            self._end(1)
            return
        if not accepted:
            self._end(0)
            return
        self._open(_Open(what.path, what.demo, create=False))

    def _fill(self, opened: OpenedVault) -> None:
        from tessera.gui.context import AppContext
        from tessera.gui.errors import install_excepthook

        install_excepthook()  # loaded now: the real handler replaces the frame's stand-in
        self.context = AppContext.from_opened(opened)
        self._step(self.window.attach_steps(self.context))

    def _step(self, steps: Iterator[str]) -> None:
        if self._window_gone():
            return  # finish() closes the context
        if next(steps, None) is None:
            freeze_startup_objects()
            self.opened.emit()
            return
        QTimer.singleShot(0, self, lambda: self._step(steps))

    def _end(self, code: int) -> None:
        # The window is left to whoever ends the application (run() closes it after the
        # event loop): closing it here would post a second quit, left over after exit().
        self.exit_code = code
        self.ended.emit(code)

    # -- opening thread ----------------------------------------------------------------
    def _choose(self) -> _Open | _FirstRun:
        """Which vault to open: the one given, the default one, the demo; or ask."""
        for name in FILL_MODULES:
            importlib.import_module(name)
        from tessera.gui import app as gui_app
        from tessera.vault import Vault

        if self.demo:
            return self._demo(self.vault_path)
        path = self.vault_path or Vault.default_path()
        self._progress.emit("Reading the vault…")
        if gui_app.vault_is_empty(path):
            return _FirstRun(path, path.exists())
        return _Open(path, demo=False, create=False)

    def _demo(self, path: Path | None) -> _Open:
        from tessera.gui import app as gui_app

        path = path or gui_app.demo_vault_path()
        if not (path.exists() and path.stat().st_size > 0):
            self._progress.emit("Building the demo vault: three custodians on virtual keys…")
        return _Open(gui_app.ensure_demo_vault(path), demo=True, create=False)

    def _open_vault(self, what: _Open) -> OpenedVault:
        from tessera.gui.context import open_vault

        opened = open_vault(what.path, demo=what.demo, create=what.create, touch=self.touch)
        later = ["tessera.gui.virtual_keys"] if opened.demo else []
        if self.window.poll_devices:
            from tessera.gui.device_poller import LISTING_MODULES

            later += LISTING_MODULES
        for name in later:
            importlib.import_module(name)
        return opened


def freeze_startup_objects() -> None:
    """Leave what start-up built — modules, classes, the window's widgets, about 100,000
    objects — out of every later full garbage collection (``gc.freeze``).

    A full collection walks every object the collector tracks, holding the GIL, so the
    GUI thread waits for it: at 5,000 records one took 80–190 ms, collecting nothing;
    with the start-up objects frozen, 55–107 ms (PERFORMANCE.md). They live as long as
    the app; one that later becomes garbage only through a reference cycle stays in
    memory (objects made after start-up are collected as before)."""
    gc.freeze()


def _discard(value: object) -> None:
    """Close a vault opened for a window that is gone."""
    close = getattr(value, "close", None)
    if callable(close):
        close()
