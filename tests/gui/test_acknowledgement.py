"""PCI DSS 3.7.8 in the GUI: the enrol wizard shows the custodian responsibilities and
records the acknowledgement — signed by the new key, or a witnessed paper form for a
remote key — and the Review page flags custodians who have none."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from gui.test_review_page import risky_record
from gui.test_wizards_enrol import click_next, enrol_device, fill_person, open_wizard, pins
from tessera.core import age
from tessera.custody.acknowledge import acknowledged_at, acknowledgements
from tessera.custody.evidence import verify_approvals
from tessera.gui.enrol_wizard import PAGE_RESULT, KeyChoice
from tessera.gui.main_window import PAGES

pytestmark = pytest.mark.usefixtures("no_qt_warnings")
__all__ = ["pins"]


def test_a_new_fido2_key_signs_the_acknowledgement(context, qtbot, pins):
    wizard = open_wizard(context, qtbot)
    fill_person(wizard, qtbot, "Dana", "SRE")
    enrol_device(wizard, qtbot, KeyChoice.FIDO2)
    page = wizard.result_page
    assert page.ack_sign.isVisible() and not page.paper_form.isVisible()
    person = wizard.token.custodian_id
    assert person not in acknowledged_at(context.vault)
    qtbot.mouseClick(page.ack_sign, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.ack_result.text().startswith(("✓", "✗")), timeout=15000)
    assert page.ack_result.text().startswith("✓"), page.ack_result.text()
    record = acknowledgements(context.vault)[person]
    assert (record.method, record.token_id, record.current) == ("fido2", wizard.token.id, True)
    assert verify_approvals(context.vault, context.drivers) == []
    wizard.accept()


def test_a_remote_key_records_a_witnessed_paper_form(context, qtbot):
    wizard = open_wizard(context, qtbot)
    fill_person(wizard, qtbot, "Frank", "On-call lead")
    wizard.kind_page.buttons[KeyChoice.REMOTE].click()
    click_next(wizard, qtbot)
    qtbot.keyClicks(wizard.recipient_page.recipient,
                    age.X25519Identity.generate().recipient.to_string())
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.CommitButton), Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PAGE_RESULT
    page = wizard.result_page
    assert not page.ack_sign.isVisible() and page.paper_form.isVisible()
    page.ack_witness.setText("Olivia")
    qtbot.mouseClick(page.ack_record, Qt.MouseButton.LeftButton)
    assert "form reference" in page.ack_result.text()
    assert wizard.token.custodian_id not in acknowledged_at(context.vault)
    page.ack_reference.setText("HR-2026-17")
    qtbot.mouseClick(page.ack_record, Qt.MouseButton.LeftButton)
    assert page.ack_result.text().startswith("✓")
    assert acknowledgements(context.vault)[wizard.token.custodian_id].method == "witnessed"
    wizard.accept()


def test_the_review_page_flags_missing_acknowledgements(window, context, qtbot):
    risky_record(context)
    window.show_page(PAGES.index("Review"))
    page = window.review
    assert "not_acknowledged" in page.finding_kinds("Risky")
    shown = [page.findings.model().index(i, 1).data()
             for i in range(page.findings.model().rowCount())]
    assert "Responsibilities not acknowledged" in shown
