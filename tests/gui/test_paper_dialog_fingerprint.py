"""The sheet-word dialog shows the fingerprint it asks the custodian to compare, and
speaks of the ceremony it is part of (a release, or a revoke)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from gui.ceremony_fixtures import (  # noqa: F401  (fixtures)
    demo_fixture,
    fail_on_qt_warnings_fixture,
    worker_fixture,
)
from tessera.gui.release_window import ReleaseWindow
from tessera.gui.reshare_window import RevokeWindow

pytestmark = pytest.mark.usefixtures("fail_on_qt_warnings")


@pytest.fixture(autouse=True)
def abort_on_close(monkeypatch):
    monkeypatch.setattr(ReleaseWindow, "confirm_abort", staticmethod(lambda parent: True))


def open_sheet_dialog(qtbot, window, demo, name):
    qtbot.keyClicks(window.reason_edit, "Bob's key is lost")
    qtbot.keyClicks(window.ticket_edit, "INC-9")
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.pages.currentIndex() == 1, timeout=5000)
    row = window.rows[demo.custodian_ids[name]]
    qtbot.mouseClick(row.paper_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.paper_dialog is not None and window.paper_dialog.isVisible(),
                    timeout=5000)
    return window.paper_dialog


def dialog_text(dialog) -> str:
    return " ".join(label.text() for label in dialog.findChildren(QLabel) if label.isVisible())


@pytest.mark.parametrize("kind", ["release", "revoke"])
def test_sheet_dialog_shows_the_fingerprint_and_names_its_ceremony(qtbot, demo, kind):
    if kind == "release":
        window = ReleaseWindow(demo.context, demo.record_id)
    else:
        window = RevokeWindow(demo.context, demo.record_id, demo.custodian_ids["Carol"])
    qtbot.addWidget(window)
    window.show()
    dialog = open_sheet_dialog(qtbot, window, demo, "Bob")
    fingerprint = demo.vault.get_version(demo.record_id).manifest.fingerprint
    assert dialog.fingerprint.text() == fingerprint
    assert dialog.fingerprint.isVisible()
    text = dialog_text(dialog)
    assert "release window" not in text  # it no longer points at what it covers
    assert f"approve the {kind}" in text
    if kind == "revoke":
        assert "release" not in text.lower()
    dialog.reject()  # the window closes (and aborts) at teardown
