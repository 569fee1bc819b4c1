"""Showing a released secret: masked, briefly, and wiped afterwards.

The secret arrives as a ``bytearray`` and is overwritten when the dialog closes
(which it does by itself after the policy's ``max_reveal_seconds``). It is shown only
while "Hold to show" is pressed or "Show" is toggled on; text shown on screen is a
Python ``str`` that cannot be wiped, so it is made only then and dropped on hiding.
Copying marks the clipboard entry as a password for clipboard managers and clears it
after 30 s — only if it still holds our text, compared by digest so nothing secret is
kept for the comparison.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path

import segno
from PySide6.QtCore import QMimeData, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tessera.core.memory import wipe
from tessera.core.private_file import write_private

CLIPBOARD_CLEAR_MS = 30_000
MASK = "•" * 24
# Tells KDE Klipper and similar clipboard managers not to keep this entry in history.
CLIPBOARD_MANAGER_HINT = "x-kde-passwordManagerHint"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()



class ClipboardGuard(QObject):
    """Clears a copied secret from the clipboard after a delay if it is still ours.

    One guard per application, so a copy outlives the dialog it came from (a person
    copies, closes the window and pastes).
    """

    cleared = Signal()
    _instance: ClipboardGuard | None = None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._digest: bytes | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clear_if_ours)

    @classmethod
    def instance(cls) -> ClipboardGuard:
        if cls._instance is None:
            cls._instance = cls(QApplication.instance())
            cls._instance.destroyed.connect(cls._forget)
        return cls._instance

    @classmethod
    def _forget(cls) -> None:
        cls._instance = None

    def copy(self, text: str, clear_after_ms: int = CLIPBOARD_CLEAR_MS) -> None:
        clipboard = QGuiApplication.clipboard()
        data = QMimeData()
        data.setText(text)
        data.setData(CLIPBOARD_MANAGER_HINT, b"secret")
        clipboard.setMimeData(data)
        self._digest = _digest(text)
        self._timer.start(clear_after_ms)

    @property
    def holding(self) -> bool:
        """True while the clipboard still holds what we put there."""
        return self._digest is not None and hmac.compare_digest(
            _digest(QGuiApplication.clipboard().text()), self._digest)

    @property
    def pending(self) -> bool:
        return self._timer.isActive()

    def clear_if_ours(self) -> None:
        if self.holding:
            QGuiApplication.clipboard().clear()
            self.cleared.emit()
        self._digest = None
        self._timer.stop()


def qr_image(text: str, scale: int = 6) -> QImage:
    """The text as a QR code (raises ``segno.DataOverflowError`` when too long)."""
    code = segno.make(text, error="m", micro=False)
    border = 4
    width, height = code.symbol_size(scale=scale, border=border)
    image = QImage(int(width), int(height), QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("black"))
    for y, row in enumerate(code.matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.drawRect((x + border) * scale, (y + border) * scale, scale, scale)
    painter.end()
    return image


SaveAsker = Callable[[QWidget, str], Path | None]


def ask_save_path(parent: QWidget, suggested: str) -> Path | None:
    """Warn, then ask where to save; ``None`` if the person backs out."""
    answer = QMessageBox.warning(
        parent, "Save the secret to a file?",
        "The secret will be written to the file unencrypted. Anyone who can read the file "
        "(or a backup of it) has the secret. Save it only to an encrypted location and "
        "delete it when done.",
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel)
    if answer != QMessageBox.StandardButton.Save:
        return None
    path, _filter = QFileDialog.getSaveFileName(parent, "Save secret", suggested)
    return Path(path) if path else None


class RevealDialog(QDialog):
    """The released secret, masked, with copy / QR / save, closing itself."""

    def __init__(self, secret: bytearray, *, record_label: str, fingerprint: str,
                 binary: bool = False, close_after_s: int = 120,
                 clipboard_clear_ms: int = CLIPBOARD_CLEAR_MS,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("revealDialog")
        self.setWindowTitle(f"Released: {record_label}")
        self.setWindowFlag(Qt.WindowType.Window)
        self._secret = secret
        self._binary = binary
        self._label = record_label
        self._clear_ms = clipboard_clear_ms
        self.remaining = close_after_s
        self.ask_save: SaveAsker = ask_save_path

        layout = QVBoxLayout(self)
        heading = QLabel(f"<b>{_escape(record_label)}</b> is released")
        font = QFont(heading.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        heading.setFont(font)
        layout.addWidget(heading)
        state = QLabel("The record is now <b>released — rotation due</b>: change this "
                       "secret at its system once the emergency is over, then seal the new "
                       "one with Rotate.")
        state.setWordWrap(True)
        layout.addWidget(state)
        print_ = QLabel(f"Fingerprint {fingerprint}")
        print_.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(print_)

        self.view = QPlainTextEdit()
        self.view.setObjectName("secretView")
        self.view.setAccessibleName("Secret (masked)")
        self.view.setReadOnly(True)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.view.setMinimumSize(460, 110)
        layout.addWidget(self.view)

        self.qr_label = QLabel()
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_label.setVisible(False)
        layout.addWidget(self.qr_label)

        row = QHBoxLayout()
        self.show_button = QPushButton("Show")
        self.hold_button = QPushButton("Hold to show")
        self.hold_button.pressed.connect(lambda: self._set_shown(True))
        self.hold_button.released.connect(lambda: self._set_shown(self.show_button.isChecked()))
        self.show_button.setCheckable(True)
        self.show_button.toggled.connect(self._toggled)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy)
        self.qr_button = QPushButton("Show as QR")
        self.qr_button.setCheckable(True)
        self.qr_button.toggled.connect(self._toggle_qr)
        self.save_button = QPushButton("Save to file…")
        self.save_button.clicked.connect(self.save)
        for button in (self.hold_button, self.show_button, self.copy_button, self.qr_button,
                       self.save_button):
            row.addWidget(button)
        layout.addLayout(row)

        bottom = QHBoxLayout()
        self.status = QLabel("")
        self.status.setObjectName("revealStatus")
        self.status.setWordWrap(True)
        bottom.addWidget(self.status, 1)
        self.countdown = QLabel("")
        self.countdown.setObjectName("countdown")
        bottom.addWidget(self.countdown)
        self.close_button = QPushButton("Close and wipe")
        self.close_button.clicked.connect(self.accept)
        bottom.addWidget(self.close_button)
        layout.addLayout(bottom)

        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(1000)
        self._tick_timer.timeout.connect(self._tick)
        self._tick_timer.start()
        self._set_shown(False)
        self._show_remaining()

    # -- the secret as text -------------------------------------------------------------
    def _text(self) -> str:
        if self._binary:
            return self._secret.hex()
        return self._secret.decode("utf-8", errors="replace")

    @property
    def wiped(self) -> bool:
        return not any(self._secret)

    @property
    def shown(self) -> bool:
        return self.view.toPlainText() != MASK

    def _set_shown(self, shown: bool) -> None:
        self.view.setPlainText(self._text() if shown else MASK)
        self.view.setAccessibleName("Secret (shown)" if shown else "Secret (masked)")

    def _toggled(self, on: bool) -> None:
        self.show_button.setText("Hide" if on else "Show")
        self._set_shown(on)

    # -- actions -------------------------------------------------------------------------
    def copy(self) -> None:
        ClipboardGuard.instance().copy(self._text(), self._clear_ms)
        seconds = max(1, round(self._clear_ms / 1000))
        self.status.setText(f"Copied. The clipboard is cleared in {seconds} s "
                            "(if it still holds the secret).")

    def _toggle_qr(self, on: bool) -> None:
        self.qr_button.setText("Hide QR" if on else "Show as QR")
        if not on:
            self.qr_label.clear()
            self.qr_label.setVisible(False)
            self.adjustSize()
            return
        try:
            image = qr_image(self._text())
        except segno.DataOverflowError:
            self.status.setText("The secret is too long for a QR code.")
            self.qr_button.setChecked(False)
            return
        self.qr_label.setPixmap(QPixmap.fromImage(image))
        self.qr_label.setVisible(True)
        self.adjustSize()

    def save(self) -> None:
        suggested = "".join(c if c.isalnum() or c in "-_" else "-" for c in self._label)
        path = self.ask_save(self, f"{suggested or 'secret'}.txt")
        if path is None:
            return
        try:
            write_private(path, self._secret)
        except OSError as exc:
            self.status.setText(f"Could not save to {path}: {exc.strerror or exc}")
            return
        self.status.setText(f"Saved to {path} (readable by you only). Delete it when done.")

    # -- closing itself -------------------------------------------------------------------
    def _tick(self) -> None:
        self.remaining -= 1
        if self.remaining <= 0:
            self.accept()
            return
        self._show_remaining()

    def _show_remaining(self) -> None:
        minutes, seconds = divmod(max(self.remaining, 0), 60)
        self.countdown.setText(f"Closes in {minutes}:{seconds:02d}")

    def done(self, result: int) -> None:
        """Every way of closing ends here: stop the clock, blank the view, wipe."""
        self._tick_timer.stop()
        self.view.setPlainText("")
        self.qr_label.clear()
        wipe(self._secret)
        super().done(result)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
