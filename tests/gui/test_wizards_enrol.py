"""The enrol wizard driven like a person would: three custodians, three kinds of key."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from tessera.core import age
from tessera.custody.demo import DEMO_PIN
from tessera.gui.enrol_wizard import (
    PAGE_ENROL,
    PAGE_KIND,
    PAGE_RECIPIENT,
    PAGE_RESULT,
    EnrolWizard,
    KeyChoice,
)
from tessera.gui.prompts import NewPinDialog, PinDialog
from tessera.tokens.base import TokenKind

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


@pytest.fixture
def pins(monkeypatch):
    """Answer every PIN question with the demo PIN; count the questions."""
    asked: list[str] = []

    def answer(kind):
        def ask(_parent, token, _extra, done):
            asked.append(f"{kind}:{token}")
            done(DEMO_PIN)
            return None
        return ask

    monkeypatch.setattr(PinDialog, "ask", answer("pin"))
    monkeypatch.setattr(NewPinDialog, "ask", answer("new"))
    return asked


def open_wizard(context, qtbot, **kwargs) -> EnrolWizard:
    wizard = EnrolWizard(context, **kwargs)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    return wizard


def click_next(wizard, qtbot) -> None:
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)


def fill_person(wizard, qtbot, name: str, role: str) -> None:
    page = wizard.person_page
    qtbot.keyClicks(page.name, name)
    qtbot.keyClicks(page.contact, f"{name.lower()}@example.invalid")
    qtbot.keyClicks(page.role, role)
    click_next(wizard, qtbot)
    assert wizard.currentId() == PAGE_KIND


def enrol_device(wizard, qtbot, choice: KeyChoice) -> None:
    wizard.kind_page.buttons[choice].click()
    click_next(wizard, qtbot)
    assert wizard.currentId() == PAGE_ENROL
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    qtbot.mouseClick(wizard.enrol_page.start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=15000)


def run_test_unwrap(wizard, qtbot) -> str:
    page = wizard.result_page
    qtbot.mouseClick(page.test, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.test_result.text().startswith(("✓", "✗")), timeout=15000)
    return page.test_result.text()


def test_enrol_three_custodians_fido2_piv_and_remote(window, context, qtbot, pins,
                                                     shown_errors):
    # Dana: a new virtual FIDO2 key, PIN set up on the way, then a test unwrap
    wizard = open_wizard(context, qtbot)
    fill_person(wizard, qtbot, "Dana", "Database owner")
    enrol_device(wizard, qtbot, KeyChoice.FIDO2)
    token = wizard.token
    assert token.kind is TokenKind.FIDO2 and token.custodian_name == "Dana"
    assert wizard.result_page.recipient.text() == token.recipient.strip()
    assert token.recipient.startswith("age1")
    assert any(a.startswith("new:") for a in pins)  # a key without a PIN is given one
    assert run_test_unwrap(wizard, qtbot).startswith("✓ Dana's security key opened")
    wizard.accept()

    # Erin: a new virtual YubiKey (PIV)
    wizard = open_wizard(context, qtbot)
    fill_person(wizard, qtbot, "Erin", "Security engineer")
    enrol_device(wizard, qtbot, KeyChoice.PIV)
    assert wizard.token.kind is TokenKind.PIV
    assert wizard.token.recipient.startswith("age1yubikey1")
    assert run_test_unwrap(wizard, qtbot).startswith("✓")
    wizard.accept()

    # Frank: sent his recipient; nothing to plug in, nothing to test here
    recipient = age.X25519Identity.generate().recipient.to_string()
    wizard = open_wizard(context, qtbot)
    fill_person(wizard, qtbot, "Frank", "On-call lead")
    wizard.kind_page.buttons[KeyChoice.REMOTE].click()
    click_next(wizard, qtbot)
    assert wizard.currentId() == PAGE_RECIPIENT
    page = wizard.recipient_page
    qtbot.keyClicks(page.recipient, recipient[:-3])
    assert not wizard.button(QWizard.WizardButton.CommitButton).isEnabled()
    assert page.verdict.text().startswith("Not a public key")
    qtbot.keyClicks(page.recipient, recipient[-3:])
    assert page.verdict.text().startswith("✓ An age public key (X25519)")
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.CommitButton), Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PAGE_RESULT
    assert wizard.token.remote and not wizard.result_page.test.isEnabled()
    wizard.accept()

    assert shown_errors.messages == [] and shown_errors.reports == []
    names = [window.custodians.proxy.index(r, 0).data()
             for r in range(window.custodians.proxy.rowCount())]
    assert {"Dana", "Erin", "Frank"} <= set(names)
    actions = [e.action for e in context.vault.audit_entries()]
    assert actions[-6:] == ["custodian.add", "token.enrol"] * 3
    assert {k.name for k in context.virtual.keys} >= {"Dana's security key", "Erin's YubiKey"}
    assert set(window.keys_panel.rows) >= {"Dana's security key", "Erin's YubiKey"}


def test_a_duplicate_name_is_refused_before_anything_is_written(context, qtbot):
    before = len(context.vault.audit_entries())
    wizard = open_wizard(context, qtbot)
    qtbot.keyClicks(wizard.person_page.name, "alice")
    click_next(wizard, qtbot)
    assert wizard.currentId() != PAGE_KIND
    assert "already a custodian named Alice" in wizard.person_page.problem.text()
    assert len(context.vault.audit_entries()) == before


def test_add_a_second_key_for_an_existing_custodian(context, qtbot, pins):
    bob = context.vault.get_custodian("Bob")
    wizard = open_wizard(context, qtbot, custodian_id=bob.id, existing=True)
    assert wizard.person_page.old.isChecked()
    assert wizard.person_page.people.currentText() == "Bob"
    click_next(wizard, qtbot)
    qtbot.keyClicks(wizard.kind_page.label, "Bob's spare key")
    enrol_device(wizard, qtbot, KeyChoice.FIDO2)
    assert [t.label for t in context.vault.list_tokens(bob.id)] == ["Bob's YubiKey",
                                                                    "Bob's spare key"]
