"""Sheets of a new version: logged only when printed or saved; hand-copy from the screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui.test_wizards_create import check_people, fill_facts, open_create, seal, type_secret
from gui.test_wizards_enrol import click_next
from tessera.gui import print_sheets
from tessera.gui.create_wizard import PAGE_SECRET
from tessera.gui.sheet_handoff import SheetHandoff
from tessera.vault.sheet_registry import SheetRegistry

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


def sealed_wizard(window, qtbot, label: str):
    wizard = open_create(window, qtbot)
    fill_facts(wizard, qtbot, label)
    check_people(wizard, ["Alice", "Bob", "Carol"])
    click_next(wizard, qtbot)
    assert wizard.currentId() == PAGE_SECRET
    type_secret(wizard, qtbot, "hunter2 but longer")
    seal(wizard, qtbot)
    return wizard


def prints(context) -> list[str]:
    return [e.action for e in context.vault.audit_entries() if e.action == "sheet.print"]


def test_a_preview_closed_unprinted_logs_nothing_printing_logs_each_sheet(
        window, context, qtbot, monkeypatch):
    printed: list[bool] = []
    answer = {"print": False}

    def preview(_parent, sheets, _paper):
        printed.append(answer["print"])
        assert all(s.words is not None and len(s.words) == 33 for s in sheets)
        return answer["print"]

    monkeypatch.setattr(print_sheets, "preview_sheets", preview)
    wizard = sealed_wizard(window, qtbot, "Preview only")
    record = context.vault.get_record("Preview only")
    handoff = wizard.done_page.handoff
    qtbot.mouseClick(handoff.print_button, Qt.MouseButton.LeftButton)
    assert prints(context) == [] and SheetRegistry(context.vault).sheets(record.id) == []
    assert "nothing was printed" in handoff.status.text()
    assert wizard.done_page.envelopes.table.rowCount() == 0
    answer["print"] = True
    qtbot.mouseClick(handoff.print_button, Qt.MouseButton.LeftButton)
    assert prints(context) == ["sheet.print"] * 3
    assert wizard.done_page.envelopes.table.rowCount() == 3
    assert "3 sheets printed" in handoff.status.text()


def test_pdf_is_logged_once_written(window, context, qtbot, tmp_path, monkeypatch):
    target = tmp_path / "sheets.pdf"
    asked: list[bool] = []

    def ask(_parent, hand_copy):
        asked.append(hand_copy)
        return target

    monkeypatch.setattr(SheetHandoff, "ask_pdf_path", staticmethod(ask))
    wizard = sealed_wizard(window, qtbot, "PDF record")
    qtbot.mouseClick(wizard.done_page.handoff.pdf_button, Qt.MouseButton.LeftButton)
    assert target.read_bytes().startswith(b"%PDF") and asked == [False]
    assert prints(context) == ["sheet.print"] * 3


def test_hand_copy_shows_one_custodian_at_a_time_and_prints_boxes(
        window, context, qtbot, monkeypatch):
    seen: list[object] = []

    def preview(_parent, sheets, _paper):
        seen.extend(sheets)
        return True

    monkeypatch.setattr(print_sheets, "preview_sheets", preview)
    wizard = sealed_wizard(window, qtbot, "Hand copied")
    words = dict(wizard.mnemonics)
    manifest = context.vault.get_version("Hand copied").manifest
    handoff = wizard.done_page.handoff
    assert not handoff.words_button.isVisible()
    handoff.hand_copy.setChecked(True)
    assert handoff.words_button.isVisible()
    qtbot.mouseClick(handoff.print_button, Qt.MouseButton.LeftButton)
    assert len(seen) == 3 and all(s.words is None and s.share_code is None and s.hand_copy
                                  for s in seen)
    assert handoff.missing_names() == ["Alice", "Bob", "Carol"]  # boxes are not words
    details = [e.details for e in context.vault.audit_entries() if e.action == "sheet.print"]
    assert [d["hand_copy"] for d in details] == [True] * 3

    qtbot.mouseClick(handoff.words_button, Qt.MouseButton.LeftButton)
    dialog = handoff.hand_copy_dialog
    assert dialog is not None
    for i, entry in enumerate(manifest.shares):
        assert dialog.step.text() == f"Custodian {i + 1} of 3: {entry.custodian}"
        assert dialog.grid.labels == []  # nothing shown before the custodian asks
        qtbot.mouseClick(dialog.show_button, Qt.MouseButton.LeftButton)
        assert dialog.grid.words_shown() == words[entry.key].split()
        assert dialog.grid.labels[13].text().startswith("14. ")
        qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
        assert dialog.grid.labels == []  # cleared before the next custodian
    assert dialog.copied == [e.custodian for e in manifest.shares]
    assert "Alice" in handoff.status.text()
    # Empty boxes held no words; now that every custodian copied theirs, the words are
    # on paper and the window may close without asking
    assert handoff.words_safe and handoff.missing_names() == []
