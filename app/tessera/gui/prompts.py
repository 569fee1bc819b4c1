"""The GUI side of :class:`~tessera.tokens.base.Prompts`: PIN dialogs and "Touch your key".

Drivers call these methods on the token worker's thread. Each call is handed to the
GUI thread by a queued signal; ``request_pin`` then blocks *the worker* (never the GUI)
until the person answers, and gives up when the job is cancelled. As in ykman, the
"Touch your key" prompt appears only when the key has been waiting 0.5 s, so a key
that answers at once never flashes a window.

Dialogs open window-modal with ``open()`` (no nested event loop) and report through a
callback. Each has an ``ask()`` classmethod, the one seam tests replace (qutebrowser
style) when they do not want to drive the real dialog.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from tessera.core.errors import PinInvalid
from tessera.gui.key_prompts import InsertKeyPrompt, KeyWaitDialog
from tessera.gui.theme import Tone, set_tone

T = TypeVar("T")

TOUCH_PROMPT_DELAY_MS = 500  # ykman's prompt_timeout: no prompt for a key that answers at once
_POLL_SECONDS = 0.05


class PromptState(enum.StrEnum):
    """What a running token operation waits for, as a custodian row shows it."""

    PIN = "pin"
    TOUCH = "touch"
    INSERT = "insert"  # the key is not plugged in
    WORKING = "working"


PinAnswer = Callable[[str | None], None]


def _live(widget: QWidget | None) -> QWidget | None:
    return widget if widget is not None and shiboken6.isValid(widget) else None


def attempts_text(attempts_left: int | None) -> str:
    if attempts_left is None:
        return ""
    if attempts_left == 1:
        return "1 attempt left — one more wrong PIN blocks the key"
    return f"{attempts_left} attempts left"


def attempts_to_show(attempts_left: int | None, after_wrong_pin: bool) -> int | None:
    """What the PIN prompt says about attempts: nothing on a first ask (a fresh key's
    "3 attempts left" in red only alarms), unless a single attempt is left; after a wrong
    PIN, always."""
    if after_wrong_pin or attempts_left == 1:
        return attempts_left
    return None


def ask_again_on_wrong_pin(fn: Callable[[Any, threading.Event], T]
                           ) -> Callable[[Any, threading.Event], T]:
    """Wrap a token operation so that a wrong PIN asks for the PIN again, in place.

    The step does not end in an error box and a "Try again" button: the same PIN
    dialog comes back saying "Wrong PIN" and how many attempts are left. A wrong PIN
    changes nothing (the key refused before anything was opened), so the operation
    simply runs again. It ends when the PIN is right, the person cancels, or the key
    blocks (:class:`~tessera.core.errors.PinBlocked`).
    """
    def run(prompts: Any, cancel: threading.Event) -> T:
        while True:
            try:
                return fn(prompts, cancel)
            except PinInvalid as exc:
                note = getattr(prompts, "pin_was_wrong", None)
                if cancel.is_set() or note is None or exc.attempts_left == 0:
                    raise
                note(exc.attempts_left)
    return run


class PinDialog(QDialog):
    """Ask for a token's PIN; shows how many attempts are left."""

    def __init__(self, token: str, attempts_left: int | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PIN")
        self.setObjectName("pinDialog")
        layout = QVBoxLayout(self)
        heading = QLabel(f"Enter the PIN of <b>{_escape(token)}</b>")
        heading.setWordWrap(True)
        layout.addWidget(heading)
        self.pin_edit = QLineEdit()
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin_edit.setAccessibleName("PIN")
        self.pin_edit.setMinimumWidth(260)
        layout.addWidget(self.pin_edit)
        self.attempts_label = QLabel(attempts_text(attempts_left))
        self.attempts_label.setObjectName("attemptsLeft")
        self.attempts_label.setWordWrap(True)
        self.attempts_label.setVisible(attempts_left is not None)
        if attempts_left == 1:
            set_tone(self.attempts_label, Tone.BAD, bold=True)
        layout.addWidget(self.attempts_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        self.pin_edit.textChanged.connect(lambda text: ok.setEnabled(bool(text)))

    def show_wrong(self, attempts_left: int | None) -> None:
        """This is a second ask: the PIN typed before was wrong."""
        left = attempts_text(attempts_left)
        self.attempts_label.setText("Wrong PIN — try again." + (f" {left}." if left else ""))
        set_tone(self.attempts_label, Tone.BAD, bold=True)
        self.attempts_label.setVisible(True)
        self.adjustSize()

    def take_pin(self) -> str | None:
        """The PIN typed (once); the field is emptied so the widget keeps no copy."""
        if self.result() != QDialog.DialogCode.Accepted:
            return None
        pin = self.pin_edit.text()
        self.pin_edit.clear()
        return pin or None

    @classmethod
    def ask(cls, parent: QWidget | None, token: str, attempts_left: int | None,
            done: PinAnswer) -> QDialog | None:
        """Open the dialog window-modal; ``done`` gets the PIN or ``None`` (cancel)."""
        dialog = cls(token, attempts_left, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _code: done(dialog.take_pin()))
        dialog.open()
        return dialog


class NewPinDialog(QDialog):
    """Choose a new PIN (typed twice), with the driver's reason shown above."""

    def __init__(self, token: str, reason: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a PIN")
        self.setObjectName("newPinDialog")
        layout = QVBoxLayout(self)
        heading = QLabel(f"<b>{_escape(token)}</b>")
        layout.addWidget(heading)
        why = QLabel(reason)
        why.setWordWrap(True)
        why.setMinimumWidth(340)
        layout.addWidget(why)
        form = QFormLayout()
        self.pin_edit = QLineEdit()
        self.confirm_edit = QLineEdit()
        for edit, name in ((self.pin_edit, "New PIN"), (self.confirm_edit, "New PIN again")):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setAccessibleName(name)
            form.addRow(f"{name}:", edit)
        layout.addLayout(form)
        self.mismatch = QLabel("The two PINs differ")
        set_tone(self.mismatch, Tone.BAD)
        self.mismatch.setVisible(False)
        layout.addWidget(self.mismatch)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.pin_edit.textChanged.connect(self._check)
        self.confirm_edit.textChanged.connect(self._check)
        self._check()

    def _check(self) -> None:
        first, second = self.pin_edit.text(), self.confirm_edit.text()
        differ = bool(second) and first != second
        if differ != self.mismatch.isVisibleTo(self):
            self.mismatch.setVisible(differ)
            self._fit()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(first) and first == second)

    def _fit(self) -> None:
        """Grow (or shrink back) so a shown or hidden line never squeezes the others."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        height = max(layout.totalHeightForWidth(self.width()), layout.totalMinimumSize().height())
        if height != self.height():
            self.resize(self.width(), height)

    def take_pin(self) -> str | None:
        if self.result() != QDialog.DialogCode.Accepted:
            return None
        pin = self.pin_edit.text()
        self.pin_edit.clear()
        self.confirm_edit.clear()
        return pin or None

    @classmethod
    def ask(cls, parent: QWidget | None, token: str, reason: str,
            done: PinAnswer) -> QDialog | None:
        dialog = cls(token, reason, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _code: done(dialog.take_pin()))
        dialog.open()
        return dialog


class TouchPrompt(KeyWaitDialog):
    """ "Touch your key", with a Cancel that stops the operation (not just the window)."""

    def __init__(self, token: str, cancel: Callable[[], None],
                 parent: QWidget | None = None) -> None:
        super().__init__("Touch your key", f"{token} is waiting for a touch. Touch its gold "
                         "contact or button now.", cancel, parent, blinking=True,
                         title_scale=1.5, busy_name="Waiting for touch")
        self.setWindowTitle("Touch your key")
        self.setObjectName("touchPrompt")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class _Question:
    """A question from the worker thread, answered on the GUI thread."""

    kind: str  # "pin" or "new_pin"
    token: str
    attempts_left: int | None = None
    reason: str = ""
    answered: threading.Event = field(default_factory=threading.Event)
    answer: str | None = None


class _Bridge(QObject):
    """Lives on the GUI thread; the worker thread reaches it only through these signals."""

    ask = Signal(object)  # _Question
    touch = Signal(str, bool)  # token, waiting
    insert = Signal(str, bool)  # which key, missing
    notice = Signal(str)
    close = Signal()


class GuiPrompts:
    """:class:`~tessera.tokens.base.Prompts` for one token job, made on the GUI thread."""

    touch_delay_ms = TOUCH_PROMPT_DELAY_MS

    def __init__(self, parent: QWidget | None, cancel: threading.Event | None = None, *,
                 on_state: Callable[[PromptState], None] | None = None,
                 title: str = "") -> None:
        self.parent = parent
        self.cancel = cancel or threading.Event()
        self.on_state = on_state
        self.title = title
        self.pin_dialog: QDialog | None = None
        self.touch_prompt: TouchPrompt | None = None
        self.insert_prompt: InsertKeyPrompt | None = None
        self.notices: list[QMessageBox] = []
        self._bridge = _Bridge()
        queued = Qt.ConnectionType.QueuedConnection
        self._bridge.ask.connect(self._ask, queued)
        self._bridge.touch.connect(self._touch, queued)
        self._bridge.insert.connect(self._insert, queued)
        self._bridge.notice.connect(self._notice, queued)
        self._bridge.close.connect(self._close, queued)
        self._touch_timer = QTimer(self._bridge)
        self._touch_timer.setSingleShot(True)
        self._touch_timer.timeout.connect(self._show_touch_prompt)
        self._touch_token = ""
        self._wrong_pin = False  # the PIN typed last was wrong: the next ask says so

    # -- Prompts (any thread) ------------------------------------------------------------
    def pin_was_wrong(self, attempts_left: int | None) -> None:
        """Called (on the worker) by :func:`ask_again_on_wrong_pin` before asking again."""
        self._wrong_pin = True
    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        return self._wait_for(_Question("pin", token, attempts_left=attempts_left))

    def request_new_pin(self, token: str, reason: str) -> str | None:
        return self._wait_for(_Question("new_pin", token, reason=reason))

    def touch_needed(self, token: str) -> None:
        self._emit("touch", token, True)

    def touch_done(self, token: str) -> None:
        self._emit("touch", token, False)

    def notice(self, message: str) -> None:
        self._emit("notice", message)

    def key_missing(self, which: str) -> None:
        """ "Insert Carol's key" until :meth:`key_arrived` (see ``wait_for_key``)."""
        self._emit("insert", which, True)

    def key_arrived(self) -> None:
        self._emit("insert", "", False)

    def close(self) -> None:
        """Hide every prompt this job opened (the worker calls it when the job ends)."""
        self._emit("close")

    # -- plumbing ----------------------------------------------------------------------
    def _on_gui_thread(self) -> bool:
        app = QApplication.instance()
        return app is not None and QThread.currentThread() is app.thread()

    def _emit(self, name: str, *args: object) -> None:
        """Run the GUI half of ``name`` on the GUI thread (queued from any other thread)."""
        if not shiboken6.isValid(self._bridge):
            return
        if self._on_gui_thread():
            getattr(self, f"_{name}")(*args)
        else:
            getattr(self._bridge, name).emit(*args)

    def _wait_for(self, question: _Question) -> str | None:
        if self._on_gui_thread():
            raise RuntimeError("a PIN is asked on the token worker, never on the GUI thread")
        if self.cancel.is_set():
            return None
        self._bridge.ask.emit(question)
        while not question.answered.wait(_POLL_SECONDS):
            if self.cancel.is_set():
                self._bridge.close.emit()
                return None
        return question.answer

    def _state(self, state: PromptState) -> None:
        if self.on_state is not None:
            self.on_state(state)

    # -- GUI thread --------------------------------------------------------------------
    def _ask(self, question: _Question) -> None:
        def done(answer: str | None) -> None:
            self.pin_dialog = None
            question.answer = answer
            question.answered.set()
            if answer is not None:
                self._state(PromptState.WORKING)

        if self.cancel.is_set():
            done(None)
            return
        self._state(PromptState.PIN)
        parent = _live(self.parent)
        if question.kind == "pin":
            wrong, self._wrong_pin = self._wrong_pin, False
            attempts = attempts_to_show(question.attempts_left, wrong)
            self.pin_dialog = PinDialog.ask(parent, question.token, attempts, done)
            if wrong and isinstance(self.pin_dialog, PinDialog):
                self.pin_dialog.show_wrong(attempts)
        else:
            self.pin_dialog = NewPinDialog.ask(parent, question.token, question.reason, done)

    def _touch(self, token: str, waiting: bool) -> None:
        if waiting:
            self._touch_token = token
            self._touch_timer.start(self.touch_delay_ms)
            return
        self._touch_timer.stop()
        self._hide_touch_prompt()
        self._state(PromptState.WORKING)

    def _insert(self, which: str, missing: bool) -> None:
        prompt, self.insert_prompt = self.insert_prompt, None
        if prompt is not None and shiboken6.isValid(prompt):
            prompt.dismiss()
        if not missing:
            self._state(PromptState.WORKING)
            return
        if self.cancel.is_set():
            return
        self._state(PromptState.INSERT)
        self.insert_prompt = InsertKeyPrompt(which, self.cancel.set, _live(self.parent))
        self.insert_prompt.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.insert_prompt.show()

    def _show_touch_prompt(self) -> None:
        if self.cancel.is_set():
            return
        self._state(PromptState.TOUCH)
        self.touch_prompt = TouchPrompt(self._touch_token, self.cancel.set, _live(self.parent))
        self.touch_prompt.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.touch_prompt.show()

    def _hide_touch_prompt(self) -> None:
        prompt, self.touch_prompt = self.touch_prompt, None
        if prompt is not None and shiboken6.isValid(prompt):
            prompt.dismiss()

    def _notice(self, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Tessera", message,
                          QMessageBox.StandardButton.Ok, _live(self.parent))
        box.setObjectName("tokenNotice")
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self.notices.append(box)

    def _close(self) -> None:
        self._touch_timer.stop()
        self._hide_touch_prompt()
        prompt, self.insert_prompt = self.insert_prompt, None
        if prompt is not None and shiboken6.isValid(prompt):
            prompt.dismiss()
        dialog, self.pin_dialog = self.pin_dialog, None
        if dialog is not None and shiboken6.isValid(dialog):
            dialog.reject()
