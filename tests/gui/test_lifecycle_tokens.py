"""Tokens page (retire / report lost, with what the key still opens) and Re-wrap my share."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from gui.test_wizards_enrol import pins
from tessera.core import age
from tessera.custody.demo import DEMO_RECORD
from tessera.custody.enroll import enroll_remote
from tessera.gui.main_window import PAGES
from tessera.gui.rewrap_wizard import RewrapWizard
from tessera.gui.token_state import StateChange, TokenStateDialog
from tessera.tokens.base import TokenState

pytestmark = pytest.mark.usefixtures("no_qt_warnings")
__all__ = ["pins"]


def select_token(window, label: str) -> None:
    window.show_page(PAGES.index("Tokens"))
    assert window.tokens.select_where(lambda r: r.token.info.label == label)


def token_named(context, label: str):
    return next(t for t in context.vault.list_tokens(include_inactive=True) if t.label == label)


def answer_state(monkeypatch, reason: str | None):
    shown: list[str] = []

    def ask(parent, vault, token, state):
        dialog = TokenStateDialog(vault, token, state, parent)
        shown.append(dialog.warning.text())
        dialog.deleteLater()
        return None if reason is None else StateChange(state, reason)

    monkeypatch.setattr(TokenStateDialog, "ask", classmethod(lambda cls, *a: ask(*a)))
    return shown


def test_report_lost_warns_which_records_the_key_still_opens(window, context, monkeypatch):
    bob = next(t for t in context.vault.list_tokens() if t.custodian_name == "Bob")
    select_token(window, bob.label)
    shown = answer_state(monkeypatch, None)
    qtbot_click = window.tokens.lost_button.click
    qtbot_click()
    assert DEMO_RECORD in shown[0] and "Whoever finds the key" in shown[0]
    assert token_named(context, bob.label).state is TokenState.ACTIVE  # cancelled
    shown = answer_state(monkeypatch, "left on a train")
    qtbot_click()
    assert token_named(context, bob.label).state is TokenState.LOST
    entry = [e for e in context.vault.audit_entries() if e.action == "token.state"][-1]
    assert entry.details["to"] == "lost" and entry.details["reason"] == "left on a train"
    assert not window.tokens.lost_button.isEnabled()
    assert not window.tokens.retire_button.isEnabled()


def test_rewrap_with_old_key_then_retire_it_safely(window, context, qtbot, pins, monkeypatch):
    alice_old = next(t for t in context.vault.list_tokens() if t.custodian_name == "Alice")
    new_recipient = age.X25519Identity.generate().recipient.to_string()
    new = enroll_remote(context.vault, alice_old.custodian_id, new_recipient,
                        label="Alice's new key", actor="test")
    context.notify_changed()
    select_token(window, alice_old.label)
    qtbot.mouseClick(window.tokens.rewrap_button, Qt.MouseButton.LeftButton)
    wizard = [w for w in window.open_windows if isinstance(w, RewrapWizard)][-1]
    assert wizard.whose_page.custodian_box.currentText() == "Alice"
    assert wizard.whose_page.record_box.currentText() == DEMO_RECORD
    wizard.next()
    page = wizard.prove_page
    assert page.by_token.isChecked() and page.old_token.currentData() == alice_old.id
    assert page.chosen_new() == [new.id]
    assert not wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.result is not None, timeout=10000)
    assert page.state.text().startswith("✓ Alice's share of") and "Alice's new key" in \
        page.state.text() and alice_old.label in page.state.text()
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    record = context.vault.get_record(DEMO_RECORD)
    data = context.vault.get_version(record.id)
    key = data.manifest.shares_of(alice_old.custodian_id)[0].key
    assert data.recipients_of(key) == (new_recipient,)
    wizard.accept()

    # The old key now opens nothing: retiring it says so
    select_token(window, alice_old.label)
    shown = answer_state(monkeypatch, "replaced")
    window.tokens.retire_button.click()
    assert "opens no share" in shown[0]
    assert token_named(context, alice_old.label).state is TokenState.RETIRED


def test_rewrap_from_the_sheet_flags_a_wrong_word(window, context, qtbot, monkeypatch):
    carol = next(t for t in context.vault.list_tokens() if t.custodian_name == "Carol")
    new_recipient = age.X25519Identity.generate().recipient.to_string()
    enroll_remote(context.vault, carol.custodian_id, new_recipient, label="Carol's new key",
                  actor="test")
    record = context.vault.get_record(DEMO_RECORD)
    wizard = RewrapWizard(context, record.id, carol.custodian_id)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    page = wizard.prove_page
    page.by_paper.setChecked(True)
    assert page.paper.isVisible() and not page.run_button.isEnabled()
    # Words of a valid share that is not Carol's: checksum passes, commitment does not
    from shamir_mnemonic import generate_mnemonics

    other = generate_mnemonics(1, [(2, 3)], bytes(32))[0][0]
    page.paper.set_words(other.split())
    assert page.run_button.isEnabled()
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.job is None, timeout=10000)
    assert page.state.text().startswith("✗") and page.result is None
    data = context.vault.get_version(record.id)
    key = data.manifest.shares_of(carol.custodian_id)[0].key
    assert data.recipients_of(key) != (new_recipient,)
    wizard.reject()
    assert all(f.text() == "" for f in page.paper.fields)


def run_rewrap(wizard, qtbot, keep_old: bool) -> str:
    wizard.next()
    page = wizard.prove_page
    for i in range(page.new_tokens.count()):
        item = page.new_tokens.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == page.old_token.currentData():
            assert item.checkState() == Qt.CheckState.Unchecked  # offered, not ticked
            if keep_old:
                item.setCheckState(Qt.CheckState.Checked)
    note = page.envelope_note.text()
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.result is not None, timeout=15000)
    text = page.state.text()
    wizard.accept()
    return note + "\n" + text


def test_the_rewrap_wizard_upgrades_a_classical_envelope_and_the_record_pane_shows_it(
        window, context, qtbot, pins):
    from tessera.custody.policy_ops import set_record_setting

    record = context.vault.get_record(DEMO_RECORD)
    alice = next(t for t in context.vault.list_tokens() if t.custodian_name == "Alice")
    # The record's override makes a re-wrap classical: Alice's share is then not
    # post-quantum, and the record pane says so by name.
    set_record_setting(context.vault, record.id, "envelopes", "classical", actor="test")
    wizard = RewrapWizard(context, record.id, alice.custodian_id)
    qtbot.addWidget(wizard)
    wizard.show()
    assert "(classical envelope)" in run_rewrap(wizard, qtbot, keep_old=True)
    context.notify_changed()
    window.show_page(PAGES.index("Records"))
    detail = window.records.detail
    assert window.records.select_where(lambda r: r.record.id == record.id)
    assert detail.envelopes_note.isVisibleTo(window)
    assert "not post-quantum" in detail.envelopes_note.text()
    assert "Alice" in detail.envelopes_note.text() and DEMO_RECORD in detail.envelopes_note.text()

    # Back to the vault's hybrid policy: the wizard says the envelope is classical and,
    # with her own key ticked, makes it post-quantum.
    set_record_setting(context.vault, record.id, "envelopes", None, actor="test")
    wizard = RewrapWizard(context, record.id, alice.custodian_id)
    qtbot.addWidget(wizard)
    wizard.show()
    text = run_rewrap(wizard, qtbot, keep_old=True)
    assert "envelope is classical" in text and "(post-quantum envelope)" in text
    data = context.vault.get_version(record.id)
    key = data.manifest.shares_of(alice.custodian_id)[0].key
    assert data.recipients_of(key) == (alice.pq_recipient,)
    context.notify_changed()
    assert window.records.select_where(lambda r: r.record.id == record.id)
    assert not detail.envelopes_note.isVisibleTo(window)
