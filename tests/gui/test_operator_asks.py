"""A real signed vault asks who is operating (#9 item 2): once its window is shown, and
again when a change is made by nobody; "Only look" keeps the session read-only.

The vault is a real one (not a demo): Alice on a virtual FIDO2 key, Bob on a virtual
YubiKey (PIV), their genesis signed by both, the real fido2/yubikit stacks behind them.
Nothing answers a PIN for the person here: the PIN dialog is typed into."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel

from gui.test_operator_signing import last_statement, when_shown
from helpers.ceremony import PIN, ScriptedPrompts
from helpers.cli import run
from helpers.windows import shown_window
from tessera.custody.drivers import TokenDrivers
from tessera.custody.enroll import enroll_device
from tessera.custody.signing import adopt, verify_vault
from tessera.gui.context import AppContext
from tessera.gui.main_window import MainWindow
from tessera.gui.operator import OperatorDialog
from tessera.gui.organisation_dialog import OrganisationDialog
from tessera.gui.policy_dialog import PolicyDialog
from tessera.gui.prompts import PinDialog
from tessera.tokens.base import TokenInfo, TokenKind
from tessera.tokens.virtual.devices import VirtualDevices
from tessera.tokens.virtual.piv_device import VirtualYubiKey
from tessera.vault import Vault

pytestmark = pytest.mark.usefixtures("no_qt_warnings")

KEYS = {"Alice": TokenKind.FIDO2, "Bob": TokenKind.PIV}


def real_signed_vault(path: Path) -> tuple[Vault, VirtualDevices, TokenDrivers]:
    """A real (not demo) vault at ``path``: Alice and Bob on virtual keys, its genesis
    signed by both."""
    vault = Vault.open(path, create=True)
    devices = VirtualDevices.for_vault(path, touch="immediate")
    drivers = TokenDrivers.for_vault(path, demo=False, **devices.providers())
    prompts = ScriptedPrompts()
    tokens = []
    for name, kind in KEYS.items():
        person = vault.add_custodian(name, "", "Custodian", actor="setup")
        key = devices.add(kind, f"{name}'s key")
        device: object = key.device
        if isinstance(device, VirtualYubiKey):  # the PIV driver's own handle on the card
            device = drivers.driver(TokenKind.PIV).find_device(  # type: ignore[attr-defined]
                device.card.serial)
        tokens.append(enroll_device(vault, drivers, person.id, kind, prompts,
                                    threading.Event(), actor="setup", device=device))
    adopt(vault, drivers, [t.id for t in tokens], prompts, actor="setup")
    assert not vault.is_demo and vault.genesis_fingerprint() is not None
    return vault, devices, drivers


@pytest.fixture
def real_context(tmp_path: Path, trust_demo_ca: Path, qtbot) -> Iterator[AppContext]:
    path = tmp_path / "vault.sqlite3"
    vault, devices, drivers = real_signed_vault(path)
    ctx = AppContext(vault, path, drivers, actor="workstation-login", demo=False,
                     virtual=devices)
    yield ctx
    ctx.close()


@pytest.fixture
def real_window(real_context: AppContext, settings, qtbot) -> Iterator[MainWindow]:
    yield from shown_window(real_context, settings, qtbot)


def token_of(context: AppContext, name: str) -> TokenInfo:
    return next(t for t in context.vault.list_tokens() if t.custodian_name == name)


def offered(window: MainWindow, qtbot) -> OperatorDialog:
    control = window.operator_control
    qtbot.waitUntil(lambda: control.offered is not None and control.offered.isVisible())
    assert control.offered is not None
    return control.offered


def pick(dialog: OperatorDialog, name: str) -> None:
    row = next(i for i in range(dialog.tokens.count())
               if dialog.tokens.item(i).text().startswith(name))
    dialog.tokens.setCurrentRow(row)
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()


def assert_audit_verifies(context: AppContext) -> None:
    state = verify_vault(context.vault, full=True)
    assert state.ok, state.problem
    verified = run("--vault", str(context.vault_path), "audit", "verify")
    assert verified.code == 0, verified.text


class PinTyper:
    """Types into each PIN dialog that opens: the PINs given, in order, then Cancel.

    Records what each dialog said, as the person saw it."""

    def __init__(self, *pins: str) -> None:
        self.pins = list(pins)
        self.seen: list[tuple[str, str]] = []  # (heading, attempts line)
        self.timer = QTimer()
        self.timer.timeout.connect(self._tick)
        self.timer.start(20)

    def _tick(self) -> None:
        for dialog in QApplication.topLevelWidgets():
            if not isinstance(dialog, PinDialog) or not dialog.isVisible() \
                    or dialog.property("answered"):
                continue
            dialog.setProperty("answered", True)
            heading = dialog.findChild(type(dialog.attempts_label)).text()
            attempts = dialog.attempts_label.text() if dialog.attempts_label.isVisible() else ""
            self.seen.append((heading, attempts))
            if self.pins:
                dialog.pin_edit.setText(self.pins.pop(0))
                dialog.accept()
            else:
                dialog.reject()

    def stop(self) -> None:
        self.timer.stop()


def test_opening_a_real_signed_vault_asks_who_operates_once_the_window_is_up(
        real_window, qtbot):
    dialog = offered(real_window, qtbot)
    assert real_window.isVisible()  # asked after the window is shown, not instead of it
    assert dialog.windowTitle() == "Who is operating?"
    assert dialog.windowModality() == Qt.WindowModality.WindowModal  # start-up went on
    intro = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert OperatorDialog.LOOK_INTRO in intro and OperatorDialog.CHANGE_INTRO not in intro
    names = [dialog.tokens.item(i).text() for i in range(dialog.tokens.count())]
    assert [n.split(" (")[0] for n in names] == ["Alice", "Bob"]  # each with their key
    pick(dialog, "Bob")
    assert "Operating as: <b>Bob" in real_window.operator_control.label.text()
    assert real_window.context.actor == "Bob"


def test_only_looking_is_read_only_and_the_status_bar_offers_the_choice(real_window, qtbot):
    dialog = offered(real_window, qtbot)
    skip = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Cancel)
    assert "Only look (read-only)" in skip.text().replace("&", "")
    skip.click()
    control = real_window.operator_control
    assert real_window.operator.token is None
    assert "Only looking" in control.label.text()
    assert "read-only" in control.label.toolTip().lower()
    assert control.button.text() == "Choose…" and control.button.isVisible()


def test_a_change_by_nobody_asks_then_is_signed_by_the_chosen_key(
        real_window, real_context, qtbot, shown_errors):
    offered(real_window, qtbot).reject()  # only looking
    dialog = OrganisationDialog(real_context, real_window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.name, "Example Corp")
    asked: list[str] = []
    intros: list[str] = []

    def answer(d: OperatorDialog) -> None:
        asked.append(d.windowTitle())
        intros.extend(label.text() for label in d.findChildren(QLabel))
        pick(d, "Bob")

    when_shown(OperatorDialog, answer)
    typer = PinTyper(PIN)
    try:
        assert dialog.save() is not None
    finally:
        typer.stop()
    assert asked == ["Who is operating?"]
    assert any(OperatorDialog.CHANGE_INTRO in t for t in intros)  # says the change waits
    assert len(typer.seen) == 1 and "Bob" in typer.seen[0][0]  # Bob's key signs, with a PIN
    vault = real_context.vault
    assert vault.organisation.name == "Example Corp"
    assert last_statement(real_context.vault_path)["signers"] == [token_of(real_context, "Bob").id]
    assert vault.audit_entries()[-1].actor == "Bob"
    assert "Operating as: <b>Bob" in real_window.operator_control.label.text()
    assert not shown_errors.messages
    assert_audit_verifies(real_context)


def test_declining_the_question_changes_nothing_and_keeps_what_was_typed(
        real_window, real_context, qtbot, shown_errors):
    offered(real_window, qtbot).reject()
    dialog = PolicyDialog(real_context, parent=real_window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.rows["rotation_days"].editor.setValue(123)
    before = real_context.vault.audit_head()
    when_shown(OperatorDialog, lambda d: d.reject())
    dialog.save()
    assert real_context.vault.audit_head() == before
    assert real_context.vault.policy.rotation_days != 123
    assert dialog.isVisible() and dialog.rows["rotation_days"].editor.value() == 123
    (title, text), = shown_errors.messages
    assert "what you entered is still there" in text
    assert title == "Nothing was changed"
    assert real_window.operator.token is None  # still only looking
    assert_audit_verifies(real_context)


@pytest.mark.parametrize("operator", ["Alice", "Bob"])  # FIDO2, then PIV
def test_a_wrong_pin_for_the_operators_key_asks_again_and_giving_up_writes_nothing(
        real_window, real_context, qtbot, shown_errors, operator):
    dialog = offered(real_window, qtbot)
    pick(dialog, operator)
    organisation = OrganisationDialog(real_context, real_window)
    qtbot.addWidget(organisation)
    organisation.show()
    qtbot.keyClicks(organisation.name, "Never saved")
    vault = real_context.vault
    before = (vault.audit_head(), vault.statement_head(), vault.organisation.name)

    typer = PinTyper("000000")  # wrong, then Cancel at the second ask
    try:
        assert organisation.save() is None
    finally:
        typer.stop()
    (first, _), (heading, attempts) = typer.seen
    assert operator in first and operator in heading
    assert attempts.startswith("Wrong PIN — try again.") and "attempts left" in attempts
    assert (vault.audit_head(), vault.statement_head(), vault.organisation.name) == before
    assert not shown_errors.messages  # giving up is shown to nobody
    assert organisation.isVisible() and organisation.name.text() == "Never saved"

    typer = PinTyper("000000", PIN)  # wrong, then right: the same save goes through
    try:
        assert organisation.save() is not None
    finally:
        typer.stop()
    assert [bool(a) for _h, a in typer.seen] == [False, True]
    assert vault.organisation.name == "Never saved"
    assert last_statement(real_context.vault_path)["signers"] == [
        token_of(real_context, operator).id]
    assert not shown_errors.messages
    assert_audit_verifies(real_context)
