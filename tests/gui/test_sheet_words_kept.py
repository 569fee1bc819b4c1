"""Share words shown once are not lost by a keystroke, and each custodian confirms their sheet.

The sealed page of the create wizard (and the result page of a reshare or revoke)
closes freely only once every share is on paper; otherwise the operator must choose
"discard, we will reprint", which the audit log records. Each custodian then confirms
their sheet by typing three of its words; the record says who has not.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from gui.test_wizards_create import (
    check_people,
    fill_facts,
    open_create,
    previews,
    seal,
    type_secret,
)
from tessera.custody.sheet_backup import backup_status
from tessera.gui.rows import record_rows
from tessera.gui.sheet_handoff import SheetHandoff

pytestmark = pytest.mark.usefixtures("no_qt_warnings")
__all__ = ["previews"]


@pytest.fixture
def keep_open(monkeypatch):
    """The operator answers "Keep the window open"; records who was named."""
    asked: list[list[str]] = []

    def ask(_parent, names):
        asked.append(list(names))
        return False

    monkeypatch.setattr(SheetHandoff, "ask_discard", staticmethod(ask))
    return asked


def sealed_wizard(window, qtbot):
    wizard = open_create(window, qtbot)
    fill_facts(wizard, qtbot, "Prod AWS root")
    check_people(wizard, ["Alice", "Bob", "Carol"])
    wizard.next()
    type_secret(wizard, qtbot, "correct horse battery staple")
    seal(wizard, qtbot)
    return wizard


def test_enter_on_the_sealed_page_does_not_throw_the_words_away(window, context, qtbot,
                                                                 keep_open):
    wizard = sealed_wizard(window, qtbot)
    qtbot.keyClick(wizard, Qt.Key.Key_Return)
    qtbot.keyClick(wizard, Qt.Key.Key_Escape)
    wizard.close()
    assert wizard.isVisible() and len(wizard.mnemonics) == 3  # nothing was lost
    assert keep_open == [["Alice", "Bob", "Carol"]] * 3  # each time, it asked and named them


def test_discarding_unprinted_words_is_a_stated_and_audited_choice(window, context, qtbot,
                                                                   discard_unprinted_words):
    wizard = sealed_wizard(window, qtbot)
    record = context.vault.get_record("Prod AWS root")
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
    assert not wizard.isVisible() and wizard.mnemonics == {}
    assert discard_unprinted_words == [["Alice", "Bob", "Carol"]]
    entry = context.vault.audit_entries(action="sheet.discard")[-1]
    assert entry.subject == record.id and entry.details["custodians"] == ["Alice", "Bob", "Carol"]


def test_after_printing_finish_closes_without_a_question(window, context, qtbot, previews,
                                                         keep_open):
    wizard = sealed_wizard(window, qtbot)
    qtbot.mouseClick(wizard.done_page.print_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
    assert not wizard.isVisible() and keep_open == []


def test_each_custodian_confirms_their_sheet_by_three_words(window, context, qtbot, previews,
                                                           keep_open):
    wizard = sealed_wizard(window, qtbot)
    record = context.vault.get_record("Prod AWS root")
    confirm = wizard.done_page.handoff.confirmations
    assert not backup_status(context.vault, record.id).confirmed
    assert "0 of 3 sheets confirmed" in confirm.summary.text()
    share_of = {e.custodian: e.key for e in context.vault.get_version(record.id).manifest.shares}
    assert not confirm.rows[share_of["Bob"]][2].isEnabled()  # nothing printed yet
    qtbot.mouseClick(wizard.done_page.print_button, Qt.MouseButton.LeftButton)

    words = wizard.mnemonics[share_of["Bob"]].split()
    button = confirm.rows[share_of["Bob"]][2]
    wizard.done_page.scroller.ensureWidgetVisible(button)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = confirm.dialog
    assert dialog is not None and "Bob" in dialog.windowTitle()
    first, *rest = dialog.positions
    # A wrong word (Alice's sheet picked up by mistake) is named; nothing is recorded
    wrong = wizard.mnemonics[share_of["Alice"]].split()
    for position, field in dialog.fields.items():
        source = wrong if position == first and wrong[first - 1] != words[first - 1] else words
        qtbot.keyClicks(field, source[position - 1][:4])
    qtbot.keyClick(dialog.fields[rest[-1]], Qt.Key.Key_Return)
    if wrong[first - 1] != words[first - 1]:
        assert dialog.isVisible() and f"word {first}" in dialog.status.text().lower()
        assert context.vault.audit_entries(action="sheet.confirm") == []
        field = dialog.fields[first]
        field.clear()
        qtbot.keyClicks(field, words[first - 1][:4])
        qtbot.keyClick(field, Qt.Key.Key_Return)
    assert not dialog.isVisible()
    state = confirm.rows[share_of["Bob"]][1]
    assert state.text() == "✓ confirmed" and not button.isVisible()
    assert "1 of 3 sheets confirmed; waiting for Alice, Carol" in confirm.summary.text()
    entry = context.vault.audit_entries(action="sheet.confirm")[-1]
    assert entry.details["custodian_id"] == context.vault.get_custodian("Bob").id
    assert all(w not in str(entry.details) for w in words)  # positions only, never words
    window.records.select_record(record.id)
    assert window.records.detail.backups.text().startswith("⚠ Sheets not confirmed by "
                                                           "Alice, Carol")
    row = next(r for r in record_rows(context.vault) if r.record.id == record.id)
    assert row.next_due_text.startswith("sheets to confirm: Alice, Carol · ")

    # Sealing envelopes before a witness confirms the others' sheets
    envelopes = wizard.done_page.envelopes
    for row in range(3):
        envelopes.set_envelope(row, f"TE-{2000 + row}")
    qtbot.keyClicks(envelopes.witness, "Grace")
    qtbot.mouseClick(envelopes.save, Qt.MouseButton.LeftButton)
    assert "all 3 sheets confirmed" in confirm.summary.text().lower()
    assert backup_status(context.vault, record.id).confirmed
    window.records.select_record(record.id)
    assert window.records.detail.backups.text() == "✓ Every custodian confirmed their sheet."
    row = next(r for r in record_rows(context.vault) if r.record.id == record.id)
    assert "sheets to confirm" not in row.next_due_text
