"""The drill wizard: a custodian proves their key, nothing is reconstructed."""

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
from tessera.custody.demo import DEMO_PIN
from tessera.gui.drill_wizard import DrillWizard
from tessera.gui.prompts import PinDialog
from tessera.vault import RecordState

pytestmark = pytest.mark.usefixtures("fail_on_qt_warnings")


def open_wizard(qtbot, demo, **kwargs) -> DrillWizard:
    wizard = DrillWizard(demo.context, **kwargs)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def test_drill_from_a_record_passes_and_is_recorded(qtbot, demo, monkeypatch):
    monkeypatch.setattr(PinDialog, "ask", answer_pin())
    bob = demo.tokens["Bob"]
    wizard = open_wizard(qtbot, demo, record_id=demo.record_id, token_id=bob.id)
    page = wizard.choose_page
    assert page.record_id == demo.record_id and page.token_id == bob.id
    assert page.token_box.count() == 3  # Alice, Bob and Carol hold shares
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    run = wizard.run_page
    assert "Bob" in run.what.text()
    changed = []
    demo.context.vault_changed.connect(lambda: changed.append(1))
    qtbot.mouseClick(run.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: run.result is not None, timeout=5000)
    assert run.state.text().startswith("✓ Bob's YubiKey opens Bob's share")
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    drills = demo.vault.list_drills(demo.record_id)
    assert drills[-1].ok and drills[-1].custodian_id == demo.custodian_ids["Bob"]
    assert changed
    assert demo.vault.get_record(demo.record_id).state is RecordState.SEALED


def test_a_wrong_pin_is_asked_again_and_the_drill_passes(qtbot, demo, monkeypatch):
    answers = iter(["000000", DEMO_PIN])
    asked: list[int | None] = []

    def ask(_parent, _token, attempts_left, done):
        asked.append(attempts_left)
        done(next(answers))

    monkeypatch.setattr(PinDialog, "ask", ask)
    wizard = open_wizard(qtbot, demo, record_id=demo.record_id,
                         token_id=demo.tokens["Carol"].id)
    wizard.next()
    run = wizard.run_page
    qtbot.mouseClick(run.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: run.result is not None, timeout=5000)
    assert run.state.text().startswith("✓")
    assert asked[0] is None and isinstance(asked[1], int)  # attempts shown after the slip
