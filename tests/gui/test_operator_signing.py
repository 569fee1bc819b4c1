"""People act through their tokens in the GUI (#9 item 2): in a signed vault every
write is signed by the session's operator, through the token worker's prompts; an
unsigned vault offers to sign its genesis."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QWizard

from tessera.custody.signing import verify_vault
from tessera.gui import genesis_dialog
from tessera.gui.create_wizard import CreateRecordWizard
from tessera.gui.enrol_wizard import PAGE_ENROL, PAGE_RESULT, EnrolWizard, KeyChoice
from tessera.gui.genesis_dialog import GenesisDialog
from tessera.gui.main_window import MainWindow
from tessera.gui.operator import OperatorDialog
from tessera.gui.organisation_dialog import OrganisationDialog
from tessera.gui.policy_dialog import PolicyDialog
from tessera.gui.prompts import NewPinDialog, PinDialog, TouchPrompt

pytestmark = pytest.mark.usefixtures("no_qt_warnings")

DEMO_PIN = "314159"


@pytest.fixture
def pins(monkeypatch):
    """Answer every PIN question with the demo PIN; record who was asked."""
    asked: list[str] = []

    def ask(_parent, token, _extra, done):
        asked.append(token)
        done(DEMO_PIN)

    monkeypatch.setattr(PinDialog, "ask", ask)
    monkeypatch.setattr(NewPinDialog, "ask", ask)
    return asked


def last_statement(path: Path) -> dict:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        body, = conn.execute("SELECT body FROM statements ORDER BY seq DESC LIMIT 1").fetchone()
    return json.loads(body)


def token_id(vault, custodian: str) -> str:
    return next(t.id for t in vault.list_tokens() if t.custodian_name == custodian)


def assert_verifies(vault) -> None:
    state = verify_vault(vault, full=True)
    assert state.ok, state.problem


def test_a_demo_window_operates_as_alice_and_her_key_signs_a_change(signed_window,
                                                                    signed_context, qtbot):
    control = signed_window.operator_control
    assert "Operating as: <b>Alice" in control.label.text()
    assert control.genesis.text().startswith("Genesis ")  # the fingerprint, in the window
    dialog = OrganisationDialog(signed_context, signed_window)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.name, "Example Corp")
    assert dialog.save() is not None
    vault = signed_context.vault
    assert vault.organisation.name == "Example Corp"
    assert vault.audit_entries()[-1].actor == "Alice"  # who signed, not a login name
    assert last_statement(signed_context.vault_path)["signers"] == [token_id(vault, "Alice")]
    assert_verifies(vault)


def test_changing_the_operator_changes_who_signs(signed_window, signed_context, qtbot,
                                                 monkeypatch):
    vault = signed_context.vault
    bob = next(t for t in vault.list_tokens() if t.custodian_name == "Bob")
    monkeypatch.setattr(OperatorDialog, "ask", classmethod(lambda _c, _p, _v, _cur: bob))
    signed_window.operator_control.button.click()
    assert "Bob" in signed_window.operator_control.label.text()
    dialog = PolicyDialog(signed_context, parent=signed_window)
    qtbot.addWidget(dialog)
    dialog.rows["rotation_days"].editor.setValue(180)
    dialog.save()
    assert vault.policy.rotation_days == 180
    assert last_statement(signed_context.vault_path)["signers"] == [bob.id]
    assert_verifies(vault)


def test_a_change_by_nobody_asks_who_operates_and_declining_changes_nothing(
        signed_window, signed_context, qtbot, shown_errors, monkeypatch):
    signed_window.operator.choose(None)
    assert "Only looking" in signed_window.operator_control.label.text()
    asked: list[object] = []
    monkeypatch.setattr(OperatorDialog, "ask",
                        classmethod(lambda _c, parent, _v, _cur, **_kw: asked.append(parent)))
    dialog = PolicyDialog(signed_context, parent=signed_window)
    qtbot.addWidget(dialog)
    dialog.rows["rotation_days"].editor.setValue(180)
    before = signed_context.vault.audit_head()
    dialog.save()
    assert asked == [dialog]  # asked right then, over the dialog making the change
    assert signed_context.vault.policy.rotation_days != 180
    assert signed_context.vault.audit_head() == before
    assert dialog.rows["rotation_days"].editor.value() == 180  # what was typed stays
    (title, text), = shown_errors.messages
    assert title == "Nothing was changed" and "nothing was changed" in text
    assert "still there" in text


def fill_record(wizard: CreateRecordWizard, qtbot, label: str) -> None:
    """Type a record's facts, take every custodian and a secret: on to the review page."""
    qtbot.keyClicks(wizard.facts_page.label, label)
    qtbot.keyClicks(wizard.facts_page.system, "AWS")
    qtbot.keyClicks(wizard.facts_page.account, "1234")
    qtbot.keyClicks(wizard.facts_page.owner, "Platform")
    wizard.next()
    people = wizard.custodians_page.people
    for i in range(people.count()):
        people.item(i).setCheckState(Qt.CheckState.Checked)
    wizard.next()
    qtbot.keyClicks(wizard.secret_page.typed, "s3cret-value")
    qtbot.keyClicks(wizard.secret_page.confirm, "s3cret-value")
    wizard.next()


def test_a_record_is_created_with_the_operators_touch(signed_window, signed_context, qtbot,
                                                      monkeypatch):
    from tessera.gui import print_sheets

    monkeypatch.setattr(print_sheets, "preview_sheets", lambda *_a: True)
    qtbot.mouseClick(signed_window.toolbar.widgetForAction(signed_window.actions_["new-record"]),
                     Qt.MouseButton.LeftButton)
    wizard = [w for w in signed_window.open_windows if isinstance(w, CreateRecordWizard)][-1]
    qtbot.waitExposed(wizard)
    fill_record(wizard, qtbot, "Signed record")
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.CommitButton), Qt.MouseButton.LeftButton)
    vault = signed_context.vault
    assert wizard.created is not None
    assert vault.get_record("Signed record").label == "Signed record"
    assert token_id(vault, "Alice") in last_statement(signed_context.vault_path)["signers"]
    assert_verifies(vault)
    wizard.forget_words()


def test_sealing_a_record_with_nobody_operating_asks_and_keeps_the_wizard_as_typed(
        signed_window, signed_context, qtbot, monkeypatch, shown_errors):
    from tessera.gui import print_sheets
    from tessera.gui.create_wizard import PAGE_REVIEW

    monkeypatch.setattr(print_sheets, "preview_sheets", lambda *_a: True)
    signed_window.operator.choose(None)  # only looking
    vault = signed_context.vault
    carol = next(t for t in vault.list_tokens() if t.custodian_name == "Carol")
    answers: list[object] = [None, carol]  # declined first, then Carol
    monkeypatch.setattr(OperatorDialog, "ask",
                        classmethod(lambda _c, _p, _v, _cur, **_kw: answers.pop(0)))
    wizard = CreateRecordWizard(signed_context, parent=signed_window)
    qtbot.addWidget(wizard)
    wizard.show()
    fill_record(wizard, qtbot, "Asked record")
    before = vault.audit_head()
    commit = wizard.button(QWizard.WizardButton.CommitButton)
    qtbot.mouseClick(commit, Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PAGE_REVIEW and wizard.created is None
    assert vault.audit_head() == before
    assert [t for t, _ in shown_errors.messages] == ["Nothing was changed"]
    # nothing typed is lost: the secret is still in its fields, so sealing needs no retyping
    assert wizard.secret_page.typed.text() == "s3cret-value"
    assert wizard.facts_page.label.text() == "Asked record"
    qtbot.mouseClick(commit, Qt.MouseButton.LeftButton)
    assert wizard.created is not None
    assert token_id(vault, "Carol") in last_statement(signed_context.vault_path)["signers"]
    assert "Operating as: <b>Carol" in signed_window.operator_control.label.text()
    assert_verifies(vault)
    wizard.forget_words()


def test_enrolment_is_signed_by_the_new_key_and_countersigned_by_the_operator(
        signed_window, signed_context, qtbot, pins, shown_errors):
    wizard = EnrolWizard(signed_context, parent=signed_window)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    page = wizard.person_page
    qtbot.keyClicks(page.name, "Dave")
    qtbot.keyClicks(page.contact, "dave@example.invalid")
    qtbot.keyClicks(page.role, "On call")
    wizard.next()
    wizard.kind_page.buttons[KeyChoice.FIDO2].click()
    wizard.next()
    assert wizard.currentId() == PAGE_ENROL
    steps = wizard.enrol_page.instructions.text()
    assert "countersign" in steps and "Alice" in steps and "its own enrolment" in steps
    qtbot.mouseClick(wizard.enrol_page.start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=20000)
    assert not shown_errors.messages
    vault = signed_context.vault
    dave = next(t for t in vault.list_tokens() if t.custodian_name == "Dave")
    assert set(last_statement(signed_context.vault_path)["signers"]) == {
        token_id(vault, "Alice"), dave.id}
    state = verify_vault(vault, full=True)
    assert state.ok and dave.id in state.trusted
    assert "demo attestation" in wizard.result_page.summary.text()
    # the new key's PIN is asked saying why (its own signature), the operator's is not
    # asked at all in a demo vault (its virtual key's PIN is given for the person)
    assert any("signs its own enrolment" in asked for asked in pins)
    assert not any("operator" in asked for asked in pins)


def test_a_remote_key_without_attestation_is_enrolled_as_not_proven_hardware(
        signed_window, signed_context, qtbot, tmp_path, shown_errors):
    from tessera.core import age

    wizard = EnrolWizard(signed_context, parent=signed_window)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.keyClicks(wizard.person_page.name, "Erin")
    qtbot.keyClicks(wizard.person_page.contact, "erin@example.invalid")
    qtbot.keyClicks(wizard.person_page.role, "Remote")
    wizard.next()
    wizard.kind_page.buttons[KeyChoice.REMOTE].click()
    wizard.next()
    page = wizard.recipient_page
    recipient = age.P256TagRecipient  # a P-256 key anyone can make in software
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.X962, PublicFormat.CompressedPoint)
    text = recipient(point).to_string()
    qtbot.keyClicks(page.recipient, text)
    bad = tmp_path / "attest.pem"
    bad.write_text("not a certificate")
    page.attestation.setText(str(bad))
    wizard.next()  # a file that is not two certificates is refused, nothing enrolled
    assert wizard.currentId() != PAGE_RESULT
    assert "two PEM certificates" in shown_errors.messages[-1][1]
    assert all(t.custodian_name != "Erin" or t.state.value != "active"
               for t in signed_context.vault.list_tokens())
    page.attestation.clear()
    wizard.next()
    assert wizard.currentId() == PAGE_RESULT
    assert "Not proven hardware" in wizard.result_page.summary.text()
    assert_verifies(signed_context.vault)


def test_cancelling_the_touch_changes_nothing(signed_manual_context, settings, qtbot, shown_errors):
    manual_context = signed_manual_context
    window = MainWindow(manual_context, settings=settings, poll_devices=False)
    qtbot.addWidget(window)
    window.show()
    vault = manual_context.vault
    before = (vault.audit_head(), vault.organisation.name)
    dialog = OrganisationDialog(manual_context, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.name, "Never saved")
    seen: list[str] = []

    def cancel_when_asked() -> None:
        prompts = [w for w in QApplication.topLevelWidgets()
                   if isinstance(w, TouchPrompt) and w.isVisible()]
        if prompts:
            seen.append(prompts[0].text.text())
            prompts[0].cancel_button.click()
        else:
            QTimer.singleShot(50, cancel_when_asked)

    QTimer.singleShot(50, cancel_when_asked)
    assert dialog.save() is None  # the save waited for the touch, then was cancelled
    assert seen and "Alice" in seen[0] and "operator" in seen[0]
    assert (vault.audit_head(), vault.organisation.name) == before
    assert not shown_errors.messages  # a cancel is shown to nobody
    assert dialog.isVisible()  # the dialog stays, its fields as typed
    assert_verifies(vault)
    window.close()


def test_an_unsigned_vault_offers_to_sign_its_genesis(window, context, qtbot, monkeypatch,
                                                      tmp_path, pins):
    control = window.operator_control
    assert "Not signed yet" in control.label.text()
    assert control.button.text() == "Sign the vault…"
    control.button.click()
    dialog = next(w for w in QApplication.topLevelWidgets()
                  if isinstance(w, GenesisDialog) and w.isVisible())
    assert "2 of 3" in dialog.intro.text()
    assert dialog.windowModality() == Qt.WindowModality.NonModal  # Touch stays usable
    assert dialog.sign_button.isEnabled()
    qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.adopted is not None, timeout=20000)
    fingerprint = context.vault.genesis_fingerprint()
    assert fingerprint is not None
    assert dialog.fingerprint.text().replace(" ", "").replace("\n", "") == fingerprint
    assert "Operating as: <b>Alice" in control.label.text()
    sheet = tmp_path / "genesis.pdf"
    monkeypatch.setattr(genesis_dialog, "ask_sheet_path", lambda _parent: sheet)
    dialog.save_sheet()
    assert sheet.read_bytes().startswith(b"%PDF")
    assert_verifies(context.vault)


def test_too_few_custodians_cannot_sign_the_genesis(window, context, qtbot):
    dialog = GenesisDialog(context, window.operator, window)
    qtbot.addWidget(dialog)
    for i in range(1, dialog.choice.count()):
        dialog.choice.item(i).setCheckState(Qt.CheckState.Unchecked)
    assert not dialog.sign_button.isEnabled()
    assert "2 are needed" in dialog.status.text()


class OperatorToucher:
    """Presses the operator's virtual key when a "Touch your key" prompt asks it to sign
    a change (the person at the keyboard, in a vault whose keys wait for Touch)."""

    def __init__(self, context) -> None:
        self.context = context
        self.touched = 0
        self.timer = QTimer()
        self.timer.timeout.connect(self._tick)
        self.timer.start(50)

    def _tick(self) -> None:
        for prompt in QApplication.topLevelWidgets():
            if isinstance(prompt, TouchPrompt) and prompt.isVisible() \
                    and "as the operator" in prompt.text.text():
                for key in self.context.virtual.keys:
                    if key.name in prompt.text.text() and key.touch.waiting.is_set():
                        key.touch.press()
                        self.touched += 1

    def stop(self) -> None:
        self.timer.stop()


def start_release(qtbot, ctx, record_id: str):
    """Open the release window and start a quorum (the request is a signed change)."""
    from tessera.gui.release_window import ReleaseWindow

    release = ReleaseWindow(ctx, record_id, clipboard_clear_ms=300)
    qtbot.addWidget(release)
    release.show()
    qtbot.keyClicks(release.reason_edit, "rotate the key")
    qtbot.keyClicks(release.ticket_edit, "INC-7")
    qtbot.mouseClick(release.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: release.ceremony is not None, timeout=10000)
    return release


def test_a_release_in_a_signed_vault_with_keys_that_wait_for_touch(
        signed_manual_context, settings, qtbot, monkeypatch, pins, shown_errors):
    from tessera.gui.prompts import GuiPrompts
    from tessera.gui.release_window import ReleaseWindow
    from tessera.vault import ReleaseState

    monkeypatch.setattr(GuiPrompts, "touch_delay_ms", 100)
    monkeypatch.setattr(ReleaseWindow, "confirm_abort", staticmethod(lambda parent: True))
    ctx = signed_manual_context
    window = MainWindow(ctx, settings=settings, poll_devices=False)
    qtbot.addWidget(window)
    window.show()
    toucher = OperatorToucher(ctx)
    record = ctx.vault.get_record("Demo: CI deploy key")
    release = start_release(qtbot, ctx, record.id)
    assert toucher.touched >= 1  # the request is a signed change
    release.close()  # abort the open quorum: a signed change too
    qtbot.waitUntil(lambda: ctx.vault.list_releases(record.id)[-1].state
                    is ReleaseState.ABORTED, timeout=20000)
    assert not shown_errors.messages
    assert_verifies(ctx.vault)
    toucher.stop()
    window.close()


def when_shown(kind, then) -> None:
    """Call ``then(widget)`` once a visible top-level ``kind`` appears."""
    def look() -> None:
        shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]
        if shown:
            then(shown[0])
        else:
            QTimer.singleShot(50, look)

    QTimer.singleShot(50, look)


def test_the_operators_key_pulled_out_is_asked_for_and_cancel_changes_nothing(
        signed_window, signed_context, qtbot, shown_errors):
    from tessera.gui.key_prompts import InsertKeyPrompt

    vault = signed_context.vault
    alice = next(k for k in signed_context.virtual.keys if k.name.startswith("Alice"))
    alice.pull_out()
    before = vault.audit_head()
    dialog = OrganisationDialog(signed_context, signed_window)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.name, "Never saved")
    asked: list[str] = []
    when_shown(InsertKeyPrompt, lambda p: (asked.append(p.title.text()), p.cancel_button.click()))
    assert dialog.save() is None
    assert asked and "Alice" in asked[0]  # "Insert Alice's security key"
    assert vault.audit_head() == before and vault.organisation.name != "Never saved"
    assert not shown_errors.messages

    # Plugged back in while asked for: the change carries on by itself.
    when_shown(InsertKeyPrompt, lambda _p: alice.plug_in())
    assert dialog.save() is not None
    assert vault.organisation.name == "Never saved"
    assert_verifies(vault)


def test_a_wrong_operator_pin_is_asked_again_and_the_change_goes_through(
        signed_window, signed_context, qtbot, monkeypatch, pins):
    from tessera.gui import operator

    monkeypatch.setattr(operator, "DEMO_PIN", "000000")  # the first PIN given is wrong
    dialog = OrganisationDialog(signed_context, signed_window)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.name, "Example Corp")
    assert dialog.save() is not None
    assert len(pins) == 1 and "Alice" in pins[0]  # asked again, naming the key
    assert signed_context.vault.organisation.name == "Example Corp"
    assert_verifies(signed_context.vault)


def test_giving_up_after_a_wrong_operator_pin_changes_nothing(
        signed_window, signed_context, qtbot, monkeypatch, shown_errors):
    from tessera.gui import operator

    monkeypatch.setattr(operator, "DEMO_PIN", "000000")
    monkeypatch.setattr(PinDialog, "ask", lambda _p, _t, _e, done: done(None))
    head = signed_context.vault.statement_head()
    dialog = OrganisationDialog(signed_context, signed_window)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.name, "Example Corp")
    assert dialog.save() is None
    assert signed_context.vault.organisation.name != "Example Corp"
    assert signed_context.vault.statement_head() == head
    assert dialog.name.text() == "Example Corp"  # what was typed is still there
    assert_verifies(signed_context.vault)


def test_a_release_costs_the_operator_one_touch_in_the_release_window(
        signed_window, signed_context, qtbot, monkeypatch, pins, shown_errors):
    """Alice operates; Bob and Carol approve with their keys in the release window (the
    token worker's path). Alice's key signs the request once; the ceremony key signs
    the approvals and the release."""
    from tessera.gui.release_rows import RowState
    from tessera.gui.release_window import ReleaseWindow
    from tessera.vault import ReleaseState

    monkeypatch.setattr(ReleaseWindow, "confirm_abort", staticmethod(lambda parent: True))
    ctx = signed_context
    vault = ctx.vault
    assert verify_vault(vault).ok  # later checks resume from here
    record = vault.get_record("Demo: CI deploy key")
    ids = {e.custodian: e.custodian_id for e in vault.get_version(record.id).manifest.shares}
    labels = {t.custodian_name: t.label for t in vault.list_tokens()}
    keys = {name: next(k for k in ctx.virtual.keys if k.name == labels[name])
            for name in ("Alice", "Bob", "Carol")}
    before = {name: key.touch.touches for name, key in keys.items()}
    release = start_release(qtbot, ctx, record.id)
    for name in ("Bob", "Carol"):
        row = release.rows[ids[name]]
        qtbot.mouseClick(row.key_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda row=row: row.state is RowState.APPROVED, timeout=10000)
    qtbot.waitUntil(lambda: release.reveal_dialog is not None, timeout=10000)
    assert vault.list_releases(record.id)[-1].state is ReleaseState.RELEASED
    made = {name: key.touch.touches - before[name] for name, key in keys.items()}
    assert made == {"Alice": 1, "Bob": 1, "Carol": 1}
    assert not shown_errors.messages
    incremental = verify_vault(vault)
    assert incremental.ok, incremental.problem
    assert_verifies(vault)
    release.reveal_dialog.close()
    release.close()


def test_reporting_a_key_lost_asks_who_operates_before_the_reason_is_typed(
        signed_window, signed_context, monkeypatch, shown_errors):
    from tessera.gui.main_window import PAGES
    from tessera.gui.token_state import StateChange, TokenStateDialog
    from tessera.tokens.base import TokenState

    vault = signed_context.vault
    bob = next(t for t in vault.list_tokens() if t.custodian_name == "Bob")
    carol = next(t for t in vault.list_tokens() if t.custodian_name == "Carol")
    signed_window.operator.choose(None)
    signed_window.show_page(PAGES.index("Tokens"))
    assert signed_window.tokens.select_where(lambda r: r.token.info.id == bob.id)
    steps: list[str] = []
    answers: list[object] = [None, carol]  # declined first, then Carol

    def operator(*_a, **_kw):
        steps.append("who operates")
        return answers.pop(0)

    def reason(_cls, _parent, _vault, _token, state):
        steps.append("reason")
        return StateChange(state, "left on a train")

    monkeypatch.setattr(OperatorDialog, "ask", classmethod(operator))
    monkeypatch.setattr(TokenStateDialog, "ask", classmethod(reason))
    before = vault.audit_head()
    signed_window.tokens.lost_button.click()
    assert steps == ["who operates"]  # declined: no reason was asked for, so none is lost
    assert vault.audit_head() == before and vault.get_token(bob.id).state is TokenState.ACTIVE
    assert [t for t, _ in shown_errors.messages] == ["Nothing was changed"]
    signed_window.tokens.lost_button.click()
    assert steps == ["who operates", "who operates", "reason"]
    assert vault.get_token(bob.id).state is TokenState.LOST
    assert last_statement(signed_context.vault_path)["signers"] == [carol.id]
    assert_verifies(vault)
