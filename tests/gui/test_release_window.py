"""The release window, driven like a ceremony operator and custodians would drive it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from gui.ceremony_fixtures import (  # noqa: F401  (fixtures)
    DEMO_PIN,
    answer_pin,
    demo_fixture,
    fail_on_qt_warnings_fixture,
    worker_fixture,
)
from tessera.core import slip39
from tessera.gui.paper_entry import PaperEntryDialog, WordState
from tessera.gui.prompts import GuiPrompts, PinDialog, TouchPrompt
from tessera.gui.release_rows import RowState
from tessera.gui.release_window import ReleaseWindow
from tessera.vault import RecordState, ReleaseState

pytestmark = pytest.mark.usefixtures("fail_on_qt_warnings")


@pytest.fixture(autouse=True)
def quick_touch_prompt(monkeypatch):
    monkeypatch.setattr(GuiPrompts, "touch_delay_ms", 100)


@pytest.fixture
def window(qtbot, demo, monkeypatch):
    # Closing an open release asks first; at teardown the answer is "abort".
    monkeypatch.setattr(ReleaseWindow, "confirm_abort", staticmethod(lambda parent: True))
    w = ReleaseWindow(demo.context, demo.record_id, clipboard_clear_ms=300)
    qtbot.addWidget(w)
    w.show()
    return w


def start(qtbot, window, reason="database credentials lost", ticket="INC-1042"):
    assert not window.start_button.isEnabled()
    qtbot.keyClicks(window.reason_edit, reason)
    assert not window.start_button.isEnabled()  # the ticket is required too
    qtbot.keyClicks(window.ticket_edit, ticket)
    assert window.start_button.isEnabled()
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.pages.currentIndex() == 1, timeout=5000)


def row(window, demo, name):
    return window.rows[demo.custodian_ids[name]]


def type_words(qtbot, dialog: PaperEntryDialog, words: list[str]) -> None:
    for field, word in zip(dialog.entry.fields, words, strict=True):
        qtbot.keyClicks(field, word[:4])  # four letters pick the word


def open_paper(qtbot, window, demo, name) -> PaperEntryDialog:
    qtbot.mouseClick(row(window, demo, name).paper_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.paper_dialog is not None and window.paper_dialog.isVisible(),
                    timeout=5000)
    return window.paper_dialog


def test_release_with_one_key_and_one_sheet_then_reveal(qtbot, demo, window, monkeypatch):
    monkeypatch.setattr(PinDialog, "ask", answer_pin())
    fingerprint = demo.vault.get_version(demo.record_id).manifest.fingerprint
    assert fingerprint in [w.text() for w in window.findChildren(type(window.request_status))]
    start(qtbot, window)
    assert window.progress_label.text() == "0 of 2 approvals"

    alice = row(window, demo, "Alice")
    qtbot.mouseClick(alice.key_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: alice.state is RowState.APPROVED, timeout=5000)
    assert alice.state_label.text() == "✓ approved"
    assert window.progress_label.text() == "1 of 2 approvals"
    assert window.reveal_dialog is None  # not yet: one more is needed

    dialog = open_paper(qtbot, window, demo, "Carol")
    type_words(qtbot, dialog, demo.words["Carol"].split())
    assert dialog.submit_button.isEnabled()
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)

    # The quorum is met: the release completes by itself and the reveal opens.
    qtbot.waitUntil(lambda: window.reveal_dialog is not None, timeout=5000)
    reveal = window.reveal_dialog
    assert row(window, demo, "Carol").state is RowState.APPROVED
    assert row(window, demo, "Bob").state is RowState.NOT_NEEDED
    assert window.progress_label.text() == "2 of 2 approvals"
    assert not reveal.shown
    qtbot.mouseClick(reveal.show_button, Qt.MouseButton.LeftButton)
    assert reveal.view.toPlainText().startswith("ghp_demo_")

    # Copy, then the clipboard is cleared after the (test-short) interval.
    qtbot.mouseClick(reveal.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text().startswith("ghp_demo_")
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().text() == "", timeout=3000)

    record = demo.vault.get_record(demo.record_id)
    assert record.state is RecordState.RELEASED
    assert record.state.display == "released — rotation due"
    release = demo.vault.list_releases(demo.record_id)[-1]
    entries = demo.vault.audit_entries(subject=release.id)
    assert [e.action for e in entries] == ["release.start", "release.approve",
                                           "release.approve", "release.complete"]
    assert [e.details["custodian"] for e in entries[1:3]] == ["Alice", "Carol"]
    assert [e.details["method"] for e in entries[1:3]] == ["fido2", "paper"]
    assert all(e.actor == demo.context.actor for e in entries)
    assert release.state is ReleaseState.RELEASED
    assert release.reason == "database credentials lost" and release.ticket == "INC-1042"
    assert {a.custodian_id for a in release.approvals} == {demo.custodian_ids["Alice"],
                                                          demo.custodian_ids["Carol"]}
    assert demo.vault.verify_audit().ok

    secret = reveal._secret
    qtbot.mouseClick(reveal.close_button, Qt.MouseButton.LeftButton)
    assert not any(secret) and len(secret) > 0  # wiped on close


def test_a_wrong_word_is_flagged_and_the_likely_word_highlighted(qtbot, demo, window):
    start(qtbot, window)
    dialog = open_paper(qtbot, window, demo, "Carol")
    words = demo.words["Carol"].split()

    qtbot.keyClicks(dialog.entry.fields[0], "zzzq")
    assert dialog.entry.fields[0].state is WordState.BAD
    assert "word 1" in dialog.status.text()
    dialog.entry.fields[0].clear()

    typo = list(words)
    typo[13] = slip39.WORDLIST[(slip39.WORD_INDEX_MAP[typo[13]] + 1) % 1024]
    type_words(qtbot, dialog, typo)
    assert dialog.status.text() == "Carol's share does not match this record — check word 14"
    assert dialog.entry.fields[13].state is WordState.SUSPECT
    assert not dialog.submit_button.isEnabled()

    # Fixing word 14 clears the flag.
    field = dialog.entry.fields[13]
    field.clear()
    qtbot.keyClicks(field, words[13])
    assert field.state is WordState.OK
    assert dialog.submit_button.isEnabled()


def test_someone_elses_sheet_is_refused_by_name_and_changes_nothing(qtbot, demo, window):
    start(qtbot, window)
    dialog = open_paper(qtbot, window, demo, "Carol")
    type_words(qtbot, dialog, demo.words["Bob"].split())  # valid words, wrong custodian
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Bob's words" in dialog.status.text(), timeout=5000)
    assert dialog.status.text().startswith("Carol's share does not match this record")
    assert dialog.isVisible()  # stays open to fix
    carol = row(window, demo, "Carol")
    assert carol.state is RowState.FAILED and "Bob's words" in carol.state_label.text()
    assert window.progress_label.text() == "0 of 2 approvals"
    assert demo.vault.list_releases(demo.record_id)[-1].approvals == ()


def test_a_wrong_pin_is_asked_again_in_place_with_attempts_left(qtbot, demo, window,
                                                                 monkeypatch):
    answers = iter(["000000", DEMO_PIN])
    asked: list[int | None] = []

    def ask(_parent, _token, attempts_left, done):
        asked.append(attempts_left)
        done(next(answers))

    monkeypatch.setattr(PinDialog, "ask", ask)
    start(qtbot, window)
    alice = row(window, demo, "Alice")
    qtbot.mouseClick(alice.key_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: alice.state is RowState.APPROVED, timeout=5000)
    # first ask: no attempts shown; after the wrong PIN: the count, one fewer than before
    assert asked[0] is None and isinstance(asked[1], int) and len(asked) == 2


def test_cancel_while_the_key_waits_for_touch(qtbot, demo, window, monkeypatch):
    monkeypatch.setattr(PinDialog, "ask", answer_pin())
    key = demo.key("Alice")
    key.touch.set_mode("manual")
    start(qtbot, window)
    alice = row(window, demo, "Alice")
    qtbot.mouseClick(alice.key_button, Qt.MouseButton.LeftButton)

    def prompt():
        found = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, TouchPrompt) and w.isVisible()]
        return found[0] if found else None

    qtbot.waitUntil(lambda: prompt() is not None, timeout=5000)
    assert alice.state is RowState.TOUCH
    assert alice.state_label.text() == "touch your key"
    assert not row(window, demo, "Carol").key_button.isEnabled()  # one at a time
    qtbot.mouseClick(prompt().cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: alice.state is RowState.WAITING, timeout=5000)
    assert prompt() is None
    assert alice.state_label.text() == "cancelled — waiting"
    assert alice.key_button.isEnabled()
    assert window.progress_label.text() == "0 of 2 approvals"
    assert not key.touch.waiting.is_set()


def test_closing_an_open_release_asks_and_records_it_aborted(qtbot, demo, window, monkeypatch):
    asked = []
    monkeypatch.setattr(ReleaseWindow, "confirm_abort",
                        staticmethod(lambda parent: asked.append(1) or len(asked) > 1))
    start(qtbot, window)
    window.close()
    assert window.isVisible() and asked == [1]  # declined: still open
    window.close()
    assert not window.isVisible()
    qtbot.waitUntil(lambda: demo.vault.list_releases(demo.record_id)[-1].state
                    is ReleaseState.ABORTED, timeout=5000)
    assert demo.vault.get_record(demo.record_id).state is RecordState.SEALED


def sheet_scan(tmp_path, demo, owner: str):
    """A PNG of ``owner``'s share QR code, as the sheet printer encodes it."""
    from tessera.gui.reveal import qr_image
    from tessera.sheets.qr_format import SetId, encode_share

    manifest = demo.vault.get_version(demo.record_id).manifest
    entry = next(e for e in manifest.shares if e.custodian == owner)
    text = encode_share(SetId(manifest.record_id, manifest.version, manifest.epoch), entry.key,
                        "SH-ABCD-EFGH", demo.words[owner])
    path = tmp_path / f"{owner}-sheet.png"
    assert qr_image(text, scale=4).save(str(path))
    return path


def test_scan_sheet_image_fills_the_words_and_a_foreign_sheet_is_named(
        qtbot, demo, window, tmp_path, monkeypatch):
    start(qtbot, window)
    dialog = open_paper(qtbot, window, demo, "Carol")
    assert dialog.scan_button.isVisible()

    monkeypatch.setattr(ReleaseWindow, "ask_scan_path",
                        staticmethod(lambda parent: sheet_scan(tmp_path, demo, "Bob")))
    qtbot.mouseClick(dialog.scan_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Bob's sheet" in dialog.status.text(), timeout=10000)
    assert dialog.status.text().startswith("This is Bob's sheet")
    assert not dialog.entry.complete

    monkeypatch.setattr(ReleaseWindow, "ask_scan_path",
                        staticmethod(lambda parent: sheet_scan(tmp_path, demo, "Carol")))
    qtbot.mouseClick(dialog.scan_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.entry.complete, timeout=10000)
    assert " ".join(w or "" for w in dialog.entry.words()) == demo.words["Carol"]
    assert dialog.submit_button.isEnabled()
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    carol = row(window, demo, "Carol")
    qtbot.waitUntil(lambda: carol.state is RowState.APPROVED, timeout=5000)
    assert window.progress_label.text() == "1 of 2 approvals"


def test_space_completes_a_unique_prefix_and_spaces_never_enter_a_word(qtbot, demo, window):
    start(qtbot, window)
    dialog = open_paper(qtbot, window, demo, "Carol")
    first, second = dialog.entry.fields[0], dialog.entry.fields[1]
    qtbot.keyClicks(first, "acad")
    qtbot.keyClick(first, Qt.Key.Key_Space)
    assert first.text() == "academic" and first.state is WordState.OK
    qtbot.keyClicks(second, "ac")
    qtbot.keyClick(second, Qt.Key.Key_Space)  # "ac" is not yet one word: nothing happens
    assert second.text() == "ac"
    dialog.reject()
    assert first.text() == ""  # the words are emptied when the dialog closes
