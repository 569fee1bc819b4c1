"""Prompts that wait for the key: "Insert Carol's key", and a key that blinks on screen.

As Yubico Authenticator and Trezor Suite do, a step that needs a custodian's key which
is not plugged in does not fail with "this is not Carol's key": it says which key to
insert and carries on by itself once the key is there (or stops when cancelled).
:func:`~tessera.custody.key_wait.run_with_key` runs on the token worker around the
device call; the prompt is shown on the GUI thread through
:class:`~tessera.gui.prompts.GuiPrompts`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QDialog, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from tessera.custody.key_wait import key_name, run_with_key, wait_for_key

__all__ = ["BlinkingKey", "InsertKeyPrompt", "key_name", "run_with_key", "wait_for_key"]

BLINK_MS = 500


class BlinkingKey(QWidget):
    """A drawing of a security key whose contact blinks, as the real one does."""

    def __init__(self, parent: QWidget | None = None, *, blinking: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("blinkingKey")
        self.setAccessibleName("A security key, its touch contact blinking")
        self.setFixedSize(150, 56)
        self.lit = blinking  # a key that is not asking for a touch shows a dark contact
        self.timer = QTimer(self)
        self.timer.setInterval(BLINK_MS)
        self.timer.timeout.connect(self._blink)
        if blinking:
            self.timer.start()

    def _blink(self) -> None:
        self.lit = not self.lit
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        ink = self.palette().color(self.foregroundRole())
        body = QRectF(34, 8, 108, 40)
        plug = QRectF(6, 18, 30, 20)
        painter.setPen(QPen(ink, 2))
        painter.setBrush(self.palette().color(self.backgroundRole()).darker(115))
        painter.drawRoundedRect(plug, 3, 3)
        painter.drawRoundedRect(body, 12, 12)
        contact = QRectF(96, 14, 28, 28)
        gold = QColor("#e0a400")
        painter.setBrush(gold if self.lit else QColor(gold).darker(260))
        painter.setPen(QPen(gold.darker(140), 2))
        painter.drawEllipse(contact)
        if self.lit:  # the glow of a key asking for a touch
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(224, 164, 0, 110), 4))
            painter.drawEllipse(contact.adjusted(-5, -5, 5, 5))
        painter.end()


class KeyWaitDialog(QDialog):
    """A key is being waited for (plugged in, touched): a title, the key's picture, a
    line of text, a busy bar, and a Cancel that stops the operation, not just the
    window; the dialog stays ("Cancelling…") until the job ends."""

    def __init__(self, title: str, text: str, cancel: Callable[[], None],
                 parent: QWidget | None = None, *, blinking: bool, title_scale: float,
                 busy_name: str) -> None:
        super().__init__(parent)
        self._cancel = cancel
        self._dismissed = False
        layout = QVBoxLayout(self)
        self.title = QLabel(title)
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * title_scale)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.picture = BlinkingKey(self, blinking=blinking)
        layout.addWidget(self.picture, alignment=Qt.AlignmentFlag.AlignLeft)
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        self.text.setMinimumWidth(320)
        layout.addWidget(self.text)
        busy = QProgressBar()
        busy.setRange(0, 0)
        busy.setTextVisible(False)
        busy.setAccessibleName(busy_name)
        layout.addWidget(busy)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._on_cancel)
        layout.addWidget(self.cancel_button, alignment=Qt.AlignmentFlag.AlignRight)

    def dismiss(self) -> None:
        """Close because the wait is over or the job ended (not a cancel)."""
        self._dismissed = True
        self.close()

    def _on_cancel(self) -> None:
        if self._dismissed:
            return
        self.cancel_button.setEnabled(False)
        self.text.setText("Cancelling…")
        self._cancel()

    def reject(self) -> None:
        """Escape and the window's close button cancel the operation."""
        if self._dismissed:
            super().reject()
        else:
            self._on_cancel()


class InsertKeyPrompt(KeyWaitDialog):
    """ "Insert Carol's key" — closes by itself when the key is plugged in."""

    def __init__(self, who: str, cancel: Callable[[], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(f"Insert {who}", "It is not plugged in. Plug it in: Tessera "
                         "carries on by itself as soon as it is there.", cancel, parent,
                         blinking=False, title_scale=1.4, busy_name="Waiting for the key")
        self.setObjectName("insertKeyPrompt")
        self.setWindowTitle("Insert the key")
        self.title.setObjectName("insertKeyTitle")


