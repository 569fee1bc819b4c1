"""The reveal dialog: masked, shown only on demand, copied briefly, wiped on close."""

from __future__ import annotations

import stat

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from gui.ceremony_fixtures import fail_on_qt_warnings_fixture  # noqa: F401  (fixture)
from tessera.gui.reveal import MASK, ClipboardGuard, RevealDialog

pytestmark = pytest.mark.usefixtures("fail_on_qt_warnings")

SECRET = "s3cr3t-Deploy-Key/with spaces"


@pytest.fixture
def secret() -> bytearray:
    return bytearray(SECRET.encode())


@pytest.fixture
def dialog(qtbot, secret):
    d = RevealDialog(secret, record_label="Deploy key", fingerprint="TSR-AAAA",
                     close_after_s=60, clipboard_clear_ms=200)
    qtbot.addWidget(d)
    d.show()
    return d


def test_masked_until_held_or_toggled(qtbot, dialog):
    assert dialog.view.toPlainText() == MASK
    qtbot.mousePress(dialog.hold_button, Qt.MouseButton.LeftButton)
    assert dialog.view.toPlainText() == SECRET
    qtbot.mouseRelease(dialog.hold_button, Qt.MouseButton.LeftButton)
    assert dialog.view.toPlainText() == MASK
    qtbot.mouseClick(dialog.show_button, Qt.MouseButton.LeftButton)
    assert dialog.view.toPlainText() == SECRET and dialog.show_button.text() == "Hide"
    qtbot.mouseClick(dialog.show_button, Qt.MouseButton.LeftButton)
    assert dialog.view.toPlainText() == MASK


def test_copy_clears_the_clipboard_after_the_interval(qtbot, dialog):
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    clipboard = QGuiApplication.clipboard()
    assert clipboard.text() == SECRET
    assert clipboard.mimeData().data("x-kde-passwordManagerHint").data() == b"secret"
    assert "cleared in" in dialog.status.text()
    with qtbot.waitSignal(ClipboardGuard.instance().cleared, timeout=3000):
        pass
    assert clipboard.text() == ""


def test_the_clipboard_is_left_alone_if_something_else_was_copied_since(qtbot, dialog):
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("a URL the person copied afterwards")
    guard = ClipboardGuard.instance()
    qtbot.waitUntil(lambda: not guard.pending, timeout=3000)
    assert clipboard.text() == "a URL the person copied afterwards"


def test_the_clipboard_is_still_cleared_after_the_dialog_closed(qtbot, dialog, secret):
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    dialog.close()
    assert not any(secret)
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().text() == "", timeout=3000)


def test_qr_shows_a_code_and_hides_again(qtbot, dialog):
    qtbot.mouseClick(dialog.qr_button, Qt.MouseButton.LeftButton)
    assert dialog.qr_label.isVisible()
    pixmap = dialog.qr_label.pixmap()
    assert not pixmap.isNull() and pixmap.width() >= 21 * 6
    qtbot.mouseClick(dialog.qr_button, Qt.MouseButton.LeftButton)
    assert not dialog.qr_label.isVisible()


def test_save_warns_first_and_writes_a_private_file(qtbot, dialog, tmp_path):
    asked = []
    target = tmp_path / "secret.txt"
    dialog.ask_save = lambda parent, suggested: (asked.append(suggested), None)[1]
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert asked == ["Deploy-key.txt"] and not target.exists()  # backed out at the warning

    dialog.ask_save = lambda parent, suggested: target
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert target.read_text() == SECRET
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert str(target) in dialog.status.text()


def test_closes_itself_after_the_countdown_and_wipes(qtbot, secret):
    d = RevealDialog(secret, record_label="Deploy key", fingerprint="TSR-AAAA",
                     close_after_s=1)
    qtbot.addWidget(d)
    d.show()
    assert d.countdown.text() == "Closes in 0:01"
    qtbot.mouseClick(d.show_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not d.isVisible(), timeout=3000)
    assert not any(secret) and d.view.toPlainText() == ""


def test_binary_secrets_are_shown_as_hex(qtbot):
    raw = bytearray(b"\x00\xffkey")
    d = RevealDialog(raw, record_label="HSM key", fingerprint="TSR-B", binary=True)
    qtbot.addWidget(d)
    qtbot.mouseClick(d.show_button, Qt.MouseButton.LeftButton)
    assert d.view.toPlainText() == "00ff6b6579"
    d.reject()
    assert not any(raw)
