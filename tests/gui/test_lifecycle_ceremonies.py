"""Rotate, reshare, revoke and sheet destruction, end to end on virtual keys."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from gui.ceremony_fixtures import (  # noqa: F401  (fixtures)
    answer_pin,
    demo_fixture,
    fail_on_qt_warnings_fixture,
    worker_fixture,
)
from gui.test_release_window import open_paper, row, start, type_words
from tessera.gui.policy_dialog import PolicyDialog
from tessera.gui.prompts import GuiPrompts, PinDialog
from tessera.gui.release_rows import RowState
from tessera.gui.release_window import ReleaseWindow
from tessera.gui.reshare_window import ReshareWindow, RevokeWindow
from tessera.gui.rotate_wizard import RotateWizard
from tessera.gui.sheet_destroy import DestroySheetsDialog
from tessera.sheets.model import new_serial
from tessera.vault import RecordState
from tessera.vault.sheet_registry import SheetRegistry, SheetState

pytestmark = pytest.mark.usefixtures("fail_on_qt_warnings")


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(GuiPrompts, "touch_delay_ms", 100)
    monkeypatch.setattr(PinDialog, "ask", answer_pin())
    monkeypatch.setattr(ReleaseWindow, "confirm_abort", staticmethod(lambda parent: True))


def print_current_sheets(demo) -> list[str]:
    """Log a sheet per share of the current version (as if printed at creation)."""
    data = demo.vault.get_version(demo.record_id)
    registry = SheetRegistry(demo.vault)
    serials = []
    for entry in data.manifest.shares:
        serial = new_serial()
        registry.record_printed(serial, demo.record_id, data.version, entry.key, actor="t")
        serials.append(serial)
    return serials


def approve_by_key(qtbot, window, demo, name):
    r = row(window, demo, name)
    qtbot.mouseClick(r.key_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: r.state is RowState.APPROVED, timeout=10000)


def test_reshare_to_a_new_threshold_old_share_named_by_epoch(qtbot, demo):
    old = demo.vault.get_version(demo.record_id)
    window = ReshareWindow(demo.context, demo.record_id)
    qtbot.addWidget(window)
    window.show()
    assert window.windowTitle().startswith("Reshare — ")
    assert window.editor.chosen_names() == ["Alice", "Bob", "Carol"]
    window.editor.threshold.setValue(1)
    qtbot.keyClicks(window.reason_edit, "new team member policy")
    qtbot.keyClicks(window.ticket_edit, "CHG-7")
    assert not window.start_button.isEnabled()  # a refused plan costs nobody a touch
    window.editor.threshold.setValue(3)
    assert window.start_button.isEnabled()
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.pages.currentIndex() == 1, timeout=5000)
    assert window.progress_label.text() == "0 of 2 approvals"  # the old quorum approves
    approve_by_key(qtbot, window, demo, "Alice")
    dialog = open_paper(qtbot, window, demo, "Bob")
    type_words(qtbot, dialog, demo.words["Bob"].split())
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.outcome is not None, timeout=10000)
    page = window.result_page
    assert window.pages.currentWidget().isAncestorOf(page)
    new = demo.vault.get_version(demo.record_id)
    assert (new.version, new.epoch) == (old.version + 1, old.epoch + 1)
    assert new.manifest.describe_quorum() == "any 3 of 3"
    assert page.fingerprint.text() == new.fingerprint != old.fingerprint
    assert page.handoff.print_button.isEnabled()  # the new words are there to print
    assert window.reveal_dialog is None  # nothing is revealed
    window.close()
    assert window.words == {} and page.handoff.words == {}

    # An old sheet no longer combines: it is named by its epoch
    release = ReleaseWindow(demo.context, demo.record_id)
    qtbot.addWidget(release)
    release.show()
    start(qtbot, release)
    dialog = open_paper(qtbot, release, demo, "Carol")
    type_words(qtbot, dialog, demo.words["Carol"].split())
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row(release, demo, "Carol").state is RowState.FAILED, timeout=10000)
    assert f"epoch {old.epoch}" in dialog.status.text()
    release.close()


def test_revoke_leaves_carol_out_and_requires_rotation(qtbot, demo):
    carol = demo.custodian_ids["Carol"]
    window = RevokeWindow(demo.context, demo.record_id, carol)
    qtbot.addWidget(window)
    window.show()
    assert window.custodian_box.currentText() == "Carol"
    assert "ROTATION REQUIRED" in window.consequence.text()
    assert "only rotating the credential itself" in window.consequence.text()
    start(qtbot, window, reason="Carol left the company", ticket="HR-12")
    approve_by_key(qtbot, window, demo, "Alice")
    approve_by_key(qtbot, window, demo, "Bob")
    qtbot.waitUntil(lambda: window.outcome is not None, timeout=10000)
    record = demo.vault.get_record(demo.record_id)
    assert record.state is RecordState.ROTATION_REQUIRED
    assert "Carol was revoked" in record.state_reason
    assert "rotation required" in window.result_page.state.text()
    manifest = demo.vault.get_version(demo.record_id).manifest
    assert carol not in {s.custodian_id for s in manifest.shares}
    window.close()


def test_rotate_supersedes_and_old_sheets_are_destroyed_with_a_witness(qtbot, demo):
    serials = print_current_sheets(demo)
    old = demo.vault.get_version(demo.record_id)
    wizard = RotateWizard(demo.context, demo.record_id)
    qtbot.addWidget(wizard)
    wizard.show()
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    assert not next_button.isEnabled()  # a reason is required
    qtbot.keyClicks(wizard.reason_page.reason, "yearly rotation")
    qtbot.mouseClick(next_button, Qt.MouseButton.LeftButton)
    secret = wizard.secret_page
    qtbot.keyClicks(secret.typed, "the new credential")
    qtbot.keyClicks(secret.confirm, "the new credential")
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.CommitButton), Qt.MouseButton.LeftButton)
    assert wizard.outcome is not None and secret.typed.text() == ""
    result = wizard.done_page.result
    assert all(s in result.to_destroy.text() for s in serials)
    versions = demo.vault.list_versions(demo.record_id)
    assert [v.superseded_at is not None for v in versions] == [True, False]
    assert demo.vault.get_record(demo.record_id).state is RecordState.SEALED
    new = demo.vault.get_version(demo.record_id)
    assert new.epoch == old.epoch + 1
    wizard.accept()
    assert wizard.words == {}

    dialog = DestroySheetsDialog(demo.context, demo.record_id)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 3
    dialog.check_row(0)
    dialog.check_row(1)
    assert not dialog.record_button.isEnabled()  # the witness is required
    qtbot.keyClicks(dialog.witness, "Grace")
    qtbot.mouseClick(dialog.record_button, Qt.MouseButton.LeftButton)
    assert dialog.table.rowCount() == 1
    states = {s.serial: s for s in SheetRegistry(demo.vault).sheets(demo.record_id)}
    destroyed = [s for s in states.values() if s.state is SheetState.DESTROYED]
    assert len(destroyed) == 2
    assert {(s.destroyed_by, s.destroyed_witness) for s in destroyed} == {("ceremony test",
                                                                          "Grace")}


def test_policy_dialog_overrides_one_setting_of_a_record(qtbot, demo):
    dialog = PolicyDialog(demo.context, demo.record_id)
    qtbot.addWidget(dialog)
    drill = dialog.rows["drill_days"]
    assert not drill.editor.isEnabled()
    drill.override.setChecked(True)
    drill.editor.setValue(30)
    dialog.save()
    assert demo.vault.record_policy(demo.record_id).drill_days == 30
    assert demo.vault.policy.drill_days != 30
    vault_dialog = PolicyDialog(demo.context)
    qtbot.addWidget(vault_dialog)
    vault_dialog.rows["rotation_days"].editor.setValue(180)
    vault_dialog.save()
    assert demo.vault.policy.rotation_days == 180
    assert [e.action for e in demo.vault.audit_entries()][-2:] == ["record.policy",
                                                                   "vault.policy"]


def test_revoke_names_no_one_by_default_and_the_revoked_cannot_approve(qtbot, demo,
                                                                      monkeypatch):
    from tessera.gui.sheet_handoff import SheetHandoff

    window = RevokeWindow(demo.context, demo.record_id)
    qtbot.addWidget(window)
    window.show()
    assert window.custodian_box.currentIndex() == -1  # nobody chosen for the operator
    assert window.reason_edit.placeholderText() != "Why is the secret needed now?"
    qtbot.keyClicks(window.reason_edit, "Bob changed team")
    qtbot.keyClicks(window.ticket_edit, "HR-7")
    assert not window.start_button.isEnabled()
    window.custodian_box.setCurrentIndex(window.custodian_box.findText("Bob"))
    assert window.start_button.isEnabled() and "Bob" in window.consequence.text()
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.pages.currentIndex() == 1, timeout=5000)

    # The ceremony page still says who is being revoked, and Bob has nothing to press
    banner = window.findChild(type(window.consequence), "revokeBanner")
    assert banner is not None and "Revoking <b>Bob</b>" in banner.text()
    assert "Bob" in window.windowTitle()
    bob = row(window, demo, "Bob")
    assert not bob.key_button.isVisibleTo(window) and not bob.paper_button.isVisibleTo(window)
    assert "being revoked" in bob.state_label.text()

    approve_by_key(qtbot, window, demo, "Alice")
    approve_by_key(qtbot, window, demo, "Carol")
    qtbot.waitUntil(lambda: window.outcome is not None, timeout=10000)

    # The new words are on screen: Enter on Close (or closing) must not throw them away
    kept: list[list[str]] = []
    monkeypatch.setattr(SheetHandoff, "ask_discard",
                        staticmethod(lambda _p, names: kept.append(list(names)) or False))
    close = next(b for b in window.pages.currentWidget().findChildren(type(window.start_button))
             if b.text() == "Close")
    close.setFocus()
    qtbot.keyClick(close, Qt.Key.Key_Return)
    qtbot.keyClick(close, Qt.Key.Key_Space)
    window.close()
    assert window.isVisible() and kept == [["Alice", "Carol"]] * 2
    assert window.result_page.handoff.words  # still there to print
    monkeypatch.setattr(SheetHandoff, "ask_discard", staticmethod(lambda _p, _n: True))
    window.close()
    assert demo.vault.audit_entries(action="sheet.discard")
