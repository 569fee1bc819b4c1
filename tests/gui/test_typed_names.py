"""Names people can trust, in the GUI: a refused character is named inline next to
the form before anything is stored, a look-alike needs a second, deliberate Next, and
names already in the vault are shown spelled out rather than obeyed."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui.test_wizards_create import open_create
from gui.test_wizards_enrol import click_next, open_wizard
from tessera.gui.create_wizard import PAGE_CUSTODIANS
from tessera.gui.enrol_wizard import PAGE_KIND

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


def test_a_hidden_direction_override_is_named_inline_and_nothing_is_written(context, qtbot):
    before = len(context.vault.audit_entries())
    wizard = open_wizard(context, qtbot)
    page = wizard.person_page
    page.name.setText("Mall\u202eyro")
    assert "position 5" in page.problem.text() and "U+202E" in page.problem.text()
    assert "\u202e" not in page.problem.text()
    assert not page.isComplete()
    page.name.setText("Mallory")
    page.role.setText("SRE\x1b[2J")
    assert "role" in page.problem.text() and "position 4" in page.problem.text()
    assert not page.isComplete()
    page.role.setText("SRE")
    assert page.problem.text() == "" and page.isComplete()
    assert len(context.vault.audit_entries()) == before


def test_a_lookalike_custodian_needs_a_second_next_and_is_audited(context, qtbot):
    existing = context.vault.list_custodians()[0].name
    impostor = existing.replace("a", "\u0430", 1) if "a" in existing else "\u0410" + existing[1:]
    assert impostor != existing
    wizard = open_wizard(context, qtbot)
    wizard.person_page.name.setText(impostor)
    click_next(wizard, qtbot)
    assert wizard.currentId() != PAGE_KIND
    assert "looks like" in wizard.person_page.problem.text()
    assert existing in wizard.person_page.problem.text()
    click_next(wizard, qtbot)
    assert wizard.currentId() == PAGE_KIND
    wizard.ensure_custodian()
    entry = context.vault.audit_entries()[-1]
    assert entry.action == "custodian.add" and entry.details["looks_like"] == existing


def test_a_record_label_with_a_zero_width_space_cannot_go_on(window, qtbot):
    wizard = open_create(window, qtbot)
    page = wizard.facts_page
    page.label.setText("Prod\u200b root")
    assert "zero-width" in page.problem.text() and "position 5" in page.problem.text()
    assert not page.isComplete()
    page.label.setText("Prod root")
    page.owner.setText("=HYPERLINK(x)\x07")
    assert "owner" in page.problem.text()
    assert not page.isComplete()


def test_a_lookalike_label_is_flagged_before_the_split(window, context, qtbot):
    label = context.vault.list_records()[0].label
    impostor = label.replace("o", "\u03bf", 1)  # Greek omicron
    assert impostor != label
    wizard = open_create(window, qtbot)
    wizard.facts_page.label.setText(impostor)
    click_next(wizard, qtbot)
    assert wizard.currentId() != PAGE_CUSTODIANS
    assert "looks like" in wizard.facts_page.problem.text()
    click_next(wizard, qtbot)
    assert wizard.currentId() == PAGE_CUSTODIANS


def test_names_already_in_the_vault_are_shown_spelled_out(window, context, qtbot):
    import sqlite3
    person = context.vault.list_custodians()[0]
    conn = sqlite3.connect(context.vault.path)
    conn.execute("UPDATE custodians SET name = ? WHERE id = ?",
                 (person.name + "\u202e\x1b[2J", person.id))
    conn.commit()
    conn.close()
    context.notify_changed()
    from PySide6.QtWidgets import QWidget

    from tessera.gui.table_model import RowTableModel
    for page in (window.custodians, window.tokens, window.audit):  # built when first used
        page.ensure_fresh()
    models = [w.model for w in window.findChildren(QWidget)
              if isinstance(getattr(w, "model", None), RowTableModel)]
    assert models
    shown = []
    for model in models:
        for row in range(model.rowCount()):
            for column in range(model.columnCount()):
                value = model.data(model.index(row, column), Qt.ItemDataRole.DisplayRole)
                if isinstance(value, str):
                    shown.append(value)
    assert any("\\u202e\\u001b[2J" in s for s in shown)
    assert not any("\u202e" in s or "\x1b" in s for s in shown)


def test_a_token_label_with_an_escape_is_named_on_the_kind_page(context, qtbot):
    from gui.test_wizards_enrol import fill_person
    wizard = open_wizard(context, qtbot)
    fill_person(wizard, qtbot, "Dana", "SRE")
    page = wizard.kind_page
    page.label.setText("blue key\x9b2J")
    assert "token label" in page.problem.text() and "position 9" in page.problem.text()
    assert not page.isComplete()
    page.label.setText("blue key")
    assert page.problem.text() == "" and page.isComplete()


def test_a_release_reason_with_a_direction_override_cannot_start(window, context, qtbot):
    from tessera.gui.release_window import ReleaseWindow
    record = context.vault.list_records()[0]
    release = ReleaseWindow(context, record.id)
    qtbot.addWidget(release)
    release.reason_edit.setText("drill \u202erof")
    release.ticket_edit.setText("INC-7")
    assert "reason" in release.request_status.text()
    assert "position 7" in release.request_status.text()
    assert not release.start_button.isEnabled()
    release.reason_edit.setText("drill")
    assert release.request_status.text() == "" and release.start_button.isEnabled()


def test_a_name_with_markup_is_shown_not_rendered_after_enrolment(context, qtbot,
                                                                  shown_errors):
    from PySide6.QtWidgets import QWizard

    from gui.test_wizards_enrol import fill_person
    from tessera.core import age
    from tessera.gui.enrol_wizard import PAGE_RESULT, KeyChoice
    wizard = open_wizard(context, qtbot)
    fill_person(wizard, qtbot, "<i>Eve</i>", "SRE")
    wizard.kind_page.buttons[KeyChoice.REMOTE].click()
    click_next(wizard, qtbot)
    wizard.recipient_page.recipient.setText(age.X25519Identity.generate().recipient.to_string())
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.CommitButton), Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PAGE_RESULT, shown_errors.messages
    summary = wizard.result_page.summary.text()
    assert "&lt;i&gt;Eve&lt;/i&gt;" in summary and "<i>Eve" not in summary
