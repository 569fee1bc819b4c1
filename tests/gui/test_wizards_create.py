"""The create-record wizard driven like a person would, end to end with enrolment."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from gui.test_wizards_enrol import click_next, enrol_device, fill_person, open_wizard, pins
from tessera.core import age
from tessera.gui import create_wizard, print_sheets
from tessera.gui.create_wizard import (
    PAGE_CUSTODIANS,
    PAGE_DONE,
    PAGE_REVIEW,
    PAGE_SECRET,
    CreateRecordWizard,
    SecretSource,
)
from tessera.gui.enrol_wizard import PAGE_RECIPIENT, PAGE_RESULT, KeyChoice

pytestmark = pytest.mark.usefixtures("no_qt_warnings")

__all__ = ["pins"]  # the fixture, imported for its side effect on this module's tests


@pytest.fixture
def previews(monkeypatch):
    """Record what would be shown in the print preview instead of opening it."""
    shown: list[tuple[int, str]] = []

    def preview(_parent, sheets, paper):
        shown.append((len(sheets), paper.value))
        return True

    monkeypatch.setattr(print_sheets, "preview_sheets", preview)
    return shown


def open_create(window, qtbot) -> CreateRecordWizard:
    qtbot.mouseClick(window.toolbar.widgetForAction(window.actions_["new-record"]),
                     Qt.MouseButton.LeftButton)
    wizard = [w for w in window.open_windows if isinstance(w, CreateRecordWizard)][-1]
    qtbot.waitExposed(wizard)
    return wizard


def check_people(wizard, names: list[str]) -> None:
    page = wizard.custodians_page
    for i in range(page.people.count()):
        item = page.people.item(i)
        if item.text().split(" — ")[0] in names:
            item.setCheckState(Qt.CheckState.Checked)


def fill_facts(wizard, qtbot, label: str) -> None:
    page = wizard.facts_page
    qtbot.keyClicks(page.label, label)
    qtbot.keyClicks(page.system, "AWS")
    qtbot.keyClicks(page.account, "1234-5678-9012")
    qtbot.keyClicks(page.owner, "Platform")
    click_next(wizard, qtbot)
    assert wizard.currentId() == PAGE_CUSTODIANS


def type_secret(wizard, qtbot, secret: str) -> None:
    page = wizard.secret_page
    qtbot.keyClicks(page.typed, secret)
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    qtbot.keyClicks(page.confirm, secret)
    assert page.status.text().startswith("✓ Ready")
    click_next(wizard, qtbot)
    assert wizard.currentId() == PAGE_REVIEW


def seal(wizard, qtbot) -> None:
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.CommitButton), Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PAGE_DONE


def test_threshold_feedback_is_live_and_names_the_rule(window, qtbot):
    wizard = open_create(window, qtbot)
    fill_facts(wizard, qtbot, "Staging database root")
    page = wizard.custodians_page
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    assert page.feedback.text() == "✗ Choose the custodians who will hold a share."
    check_people(wizard, ["Alice", "Bob", "Carol"])
    assert page.feedback.text().startswith("⚠ 3 custodians for a threshold of 2")
    assert next_button.isEnabled()
    page.threshold.setValue(1)
    assert "any one of them alone" in page.feedback.text()
    assert not next_button.isEnabled()
    page.threshold.setValue(3)
    assert page.feedback.text().startswith("⚠ 3 custodians for a threshold of 3")
    assert page.of_n.text() == "of 3 custodians can release the secret"
    page.threshold.setValue(4)
    assert "between 1 and 3" in page.feedback.text()


def test_enrol_three_then_create_a_2_of_3_record_with_sheets_and_envelopes(
        window, context, qtbot, pins, previews, shown_errors):
    # Three new custodians through the enrol wizard: FIDO2, YubiKey PIV, a sent recipient
    for name, choice in (("Dana", KeyChoice.FIDO2), ("Erin", KeyChoice.PIV)):
        wizard = open_wizard(context, qtbot)
        fill_person(wizard, qtbot, name, "Custodian")
        enrol_device(wizard, qtbot, choice)
        wizard.accept()
    wizard = open_wizard(context, qtbot)
    fill_person(wizard, qtbot, "Frank", "Custodian")
    wizard.kind_page.buttons[KeyChoice.REMOTE].click()
    click_next(wizard, qtbot)
    assert wizard.currentId() == PAGE_RECIPIENT
    qtbot.keyClicks(wizard.recipient_page.recipient,
                    age.X25519Identity.generate().recipient.to_string())
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.CommitButton), Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PAGE_RESULT
    wizard.accept()

    # A 2-of-3 record for them
    wizard = open_create(window, qtbot)
    fill_facts(wizard, qtbot, "Prod AWS root")
    check_people(wizard, ["Dana", "Erin", "Frank"])
    wizard.custodians_page.threshold.setValue(2)
    click_next(wizard, qtbot)
    assert wizard.currentId() == PAGE_SECRET
    type_secret(wizard, qtbot, "correct horse battery staple")
    review = wizard.review_page.summary.text()
    assert "any 2 of 3" in review and "Dana, Erin, Frank" in review
    assert "correct horse" not in review
    seal(wizard, qtbot)
    assert wizard.secret_page.typed.text() == ""  # the typed secret left the field
    record = context.vault.get_record("Prod AWS root")
    fingerprint = context.vault.get_version(record.id).fingerprint
    assert wizard.done_page.fingerprint.text() == fingerprint
    assert {s.custodian for s in context.vault.get_version(record.id).manifest.shares} == \
        {"Dana", "Erin", "Frank"}

    # Sheets: preview once (the sheets are logged as printed), then the envelope numbers
    qtbot.mouseClick(wizard.done_page.print_button, Qt.MouseButton.LeftButton)
    assert previews == [(3, wizard.paper().value)]
    envelopes = wizard.done_page.envelopes
    assert envelopes.table.rowCount() == 3
    for row in range(3):
        envelopes.set_envelope(row, f"TE-{1000 + row}")
    qtbot.keyClicks(envelopes.witness, "Grace")
    qtbot.mouseClick(envelopes.save, Qt.MouseButton.LeftButton)
    assert envelopes.status.text() == "✓ Every sheet is sealed in its envelope."
    assert shown_errors.messages == [] and shown_errors.reports == []
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
    assert wizard.mnemonics == {}

    # The main window shows it; the audit log holds every step
    assert window.records.detail.title.text() == "Prod AWS root"
    assert "any 2 of 3" in window.records.detail.quorum.text()
    actions = [e.action for e in context.vault.audit_entries()]
    assert actions[-13:] == (["custodian.add", "token.enrol"] * 3 + ["record.create"]
                             + ["sheet.print"] * 3 + ["sheet.seal"] * 3)
    audit_rows = [window.audit.proxy.row_at(r).action
                  for r in range(window.audit.proxy.rowCount())]
    assert audit_rows == actions[::-1]  # the newest first


def test_secret_from_a_file_and_a_generated_one(window, context, qtbot, tmp_path, monkeypatch):
    secret_file = tmp_path / "key.bin"
    secret_file.write_bytes(bytes(range(200)))
    monkeypatch.setattr(create_wizard.SecretPage, "ask_file", staticmethod(lambda _p: secret_file))
    wizard = open_create(window, qtbot)
    fill_facts(wizard, qtbot, "Backup signing key")
    check_people(wizard, ["Alice", "Bob", "Carol"])
    click_next(wizard, qtbot)
    page = wizard.secret_page
    qtbot.mouseClick(page.file_button, Qt.MouseButton.LeftButton)
    assert page.source() is SecretSource.FILE
    assert page.file_label.text() == "key.bin — 200 bytes (contents not shown)"
    click_next(wizard, qtbot)
    seal(wizard, qtbot)
    manifest = context.vault.get_version("Backup signing key").manifest
    assert manifest.payload_size == 200 and manifest.payload_encoding == "binary"

    wizard = open_create(window, qtbot)
    fill_facts(wizard, qtbot, "Generated API key")
    check_people(wizard, ["Alice", "Carol"])
    click_next(wizard, qtbot)
    wizard.secret_page.radios[SecretSource.GENERATED].click()
    wizard.secret_page.length.setValue(48)
    click_next(wizard, qtbot)
    seal(wizard, qtbot)
    manifest = context.vault.get_version("Generated API key").manifest
    assert manifest.payload_size == 48 and manifest.describe_quorum() == "any 2 of 2"


def test_a_taken_label_is_refused_on_the_first_page(window, qtbot):
    wizard = open_create(window, qtbot)
    qtbot.keyClicks(wizard.facts_page.label, "demo: ci deploy key")
    click_next(wizard, qtbot)
    assert wizard.currentId() != PAGE_CUSTODIANS
    assert "already a record labelled" in wizard.facts_page.problem.text()


def test_groups_two_level_split_with_live_feedback(window, context, qtbot, previews):
    wizard = open_create(window, qtbot)
    fill_facts(wizard, qtbot, "Grouped root key")
    check_people(wizard, ["Alice", "Bob", "Carol"])
    editor = wizard.custodians_page.editor
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    editor.use_groups.setChecked(True)
    assert editor.group_panel.isVisible() and not editor.simple_row.isVisible()
    ids = editor.chosen()
    names = dict(zip(editor.chosen_names(), ids, strict=True))
    # Group 1: Alice alone; group 2: Bob and Carol, both needed; both groups needed
    editor.set_group(names["Alice"], 0)
    editor.set_group(names["Bob"], 1)
    editor.set_group(names["Carol"], 1)
    editor.group_spins[1].setValue(1)
    assert "any one of them alone" in editor.feedback.text()
    assert not next_button.isEnabled()
    editor.group_spins[1].setValue(2)
    editor.group_threshold.setValue(2)
    assert editor.feedback.text().startswith("✓ Any 2 of 2 groups")
    assert editor.groups.item(1, 1).text() == "Bob, Carol"
    assert next_button.isEnabled()
    editor.set_group(names["Alice"], 1)  # group 1 left empty
    assert editor.feedback.text() == "✗ No custodians in group 1."
    assert not next_button.isEnabled()
    editor.set_group(names["Alice"], 0)
    click_next(wizard, qtbot)
    type_secret(wizard, qtbot, "grouped secret")
    assert "any 2 of 2 groups" in wizard.review_page.summary.text()
    seal(wizard, qtbot)
    manifest = context.vault.get_version("Grouped root key").manifest
    assert manifest.group_threshold == 2
    assert [(g.threshold, g.count) for g in manifest.groups] == [(1, 1), (2, 2)]
    assert {s.custodian: s.group for s in manifest.shares} == {"Alice": 0, "Bob": 1, "Carol": 1}
