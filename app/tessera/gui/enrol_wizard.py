"""Enrol a custodian, or add a token for one: a QWizard of four short steps.

1. Who: a new custodian (name, contact, role) or one already in the vault.
2. Which key: a FIDO2 security key, a YubiKey (PIV), a recipient string the
   custodian sent from their own machine, or — in demo vaults — a software key.
3. Enrol: the key is enrolled on the token worker (PIN set-up and touch prompts come
   from :mod:`tessera.gui.prompts`), or the pasted recipient is checked and stored.
4. Result: the recipient, and a test unwrap: a throw-away envelope is wrapped to the
   new recipient and the key opens it, so a custodian leaves knowing their key works.

The custodian row is written only when the enrolment starts, so backing out of the
wizard early leaves the vault untouched.
"""

from __future__ import annotations

import enum
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from tessera.core import age
from tessera.core.acknowledgement import statement_text
from tessera.core.errors import InputError, NotFound, TesseraError, TokenError
from tessera.custody.acknowledge import (
    acknowledged_at,
    record_witnessed_acknowledgement,
    sign_acknowledgement,
)
from tessera.custody.enroll import enroll_device, enroll_remote
from tessera.gui.context import AppContext
from tessera.gui.errors import message_for, show_error
from tessera.gui.key_prompts import run_with_key
from tessera.gui.operator import Purposed
from tessera.gui.prompts import ask_again_on_wrong_pin
from tessera.gui.theme import Tone, set_tone
from tessera.gui.typed_text import lookalike_problem, rich, typed_text_problem
from tessera.gui.widgets import focus_when_shown, mono_font, muted
from tessera.gui.worker import Job
from tessera.tokens.base import Prompts, TokenInfo, TokenKind

TEST_CONTEXT = b"tessera/enrol-test/v1"  # the test challenge can never equal a release's
PAGE_PERSON, PAGE_KIND, PAGE_RECIPIENT, PAGE_ENROL, PAGE_RESULT = range(5)


class KeyChoice(enum.StrEnum):
    FIDO2 = "fido2"
    PIV = "piv"
    REMOTE = "remote"
    SOFTWARE = "software"

    @property
    def kind(self) -> TokenKind | None:
        return {"fido2": TokenKind.FIDO2, "piv": TokenKind.PIV,
                "software": TokenKind.SOFTWARE}.get(self.value)


CHOICE_TEXT = {
    KeyChoice.FIDO2: ("FIDO2 security key",
                      "A key with a PIN that you touch (YubiKey, SoloKey, Nitrokey, Token2…)."),
    KeyChoice.PIV: ("YubiKey (PIV smart card)",
                    "A YubiKey's PIV application: a key made on the card, PIN and touch."),
    KeyChoice.REMOTE: ("A public key the custodian sent",
                       "They enrolled on their own machine and sent you a line starting "
                       "age1pq1…, age1…, age1yubikey1…, age1tag1… or age1tagpq1…; no key "
                       "needs to be here."),
    KeyChoice.SOFTWARE: ("Software key (demo only)",
                         "A key stored on this computer. Lower assurance: only demo vaults, "
                         "and records that allow software keys, accept it."),
}



def describe_recipient(text: str) -> tuple[bool, str]:
    """(valid, what it is) for a pasted recipient, checked as strictly as enrolment."""
    text = text.strip()
    if not text:
        return False, "Paste the line the custodian sent you."
    try:
        parsed = age.parse_recipient(text)
    except age.AgeError as exc:
        return False, f"Not a public key (age recipient): {exc}"
    if parsed.to_string() != text:  # type: ignore[attr-defined]
        return False, "The public key is not in canonical form (check its letter case)."
    if isinstance(parsed, age.PivP256Recipient):
        return True, "✓ A YubiKey public key (PIV, age-plugin-yubikey)."
    if isinstance(parsed, age.P256TagRecipient):
        return True, ("✓ A hardware P-256 public key (age1tag1…, the age spec's p256tag), "
                      "enrolled as a remote YubiKey PIV key. Classical: not post-quantum.")
    if isinstance(parsed, age.MlKem768P256TagRecipient):
        return True, ("✓ A post-quantum hardware public key (age1tagpq1…, ML-KEM-768 + P-256), "
                      "enrolled as a remote YubiKey PIV key.")
    if isinstance(parsed, age.MlKem768X25519Recipient):
        return True, ("✓ A post-quantum hybrid public key (age1pq1…). Tessera cannot tell which "
                      "device holds it, so it is enrolled as a remote software key.")
    if isinstance(parsed, age.X25519Recipient):
        return True, ("✓ An age public key (X25519). Tessera cannot tell which device holds it, so it "
                      "is recorded as a remote software key (lower assurance).")
    return False, ("Only public keys starting age1pq1…, age1…, age1yubikey1…, age1tag1… or "
                   "age1tagpq1… can be enrolled.")


def align_labels(*forms: QFormLayout) -> None:
    """Give the labels of stacked forms one width, so their fields line up."""
    labels: list[QWidget] = []
    for form in forms:
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            widget = item.widget() if item is not None else None
            if widget is not None:
                labels.append(widget)
    width = max((label.sizeHint().width() for label in labels), default=0)
    for label in labels:
        label.setMinimumWidth(width)


@dataclass(frozen=True)
class TestUnwrap:
    """The outcome of opening a throw-away envelope with the new key."""

    ok: bool
    detail: str


def test_unwrap(context: AppContext, token: TokenInfo, prompts: Prompts,
                cancel: threading.Event) -> TestUnwrap:
    """Wrap 32 random bytes to the token's recipient and have the token open them.

    The post-quantum recipient where the token has one (what new records use), else
    the classical one. Runs on the token worker. Nothing is stored: the envelope is
    thrown away.
    """
    probe = os.urandom(32)
    envelope = age.encrypt(probe, [age.parse_recipient(token.recipients[0])])
    driver = context.drivers.for_token(token)
    challenge = hashlib.sha256(TEST_CONTEXT + os.urandom(32)).digest()
    unlocked = driver.unlock(token, envelope, challenge, prompts, cancel)
    try:
        opened = bytes(unlocked.share) == probe
        signed = driver.verify(token, challenge, unlocked.evidence)
    finally:
        unlocked.wipe()
    if not opened:
        return TestUnwrap(False, "the key opened the envelope but returned different bytes")
    if not signed:
        return TestUnwrap(False, "the key's approval signature does not verify")
    return TestUnwrap(True, f"{token.label} opened a test envelope wrapped to its recipient "
                            "and signed the request.")


class PersonPage(QWizardPage):
    def __init__(self, context: AppContext, existing: bool, custodian_id: str | None) -> None:
        super().__init__()
        self.context = context
        self.setTitle("Who is the custodian?")
        self.setSubTitle("A custodian is a person who holds one share of a recovery secret on "
                         "their own key.")
        self.new = QRadioButton("A &new custodian")
        self.old = QRadioButton("Someone already in this vault — add another &key")
        group = QButtonGroup(self)
        group.addButton(self.new)
        group.addButton(self.old)
        self.name = QLineEdit()
        self.name.setAccessibleName("Custodian name")
        self.name.setPlaceholderText("Full name, as custodians know each other")
        self.contact = QLineEdit()
        self.contact.setAccessibleName("Contact")
        self.contact.setPlaceholderText("e-mail or phone, to reach them for a release")
        self.role = QLineEdit()
        self.role.setAccessibleName("Role")
        self.role.setPlaceholderText("e.g. SRE lead")
        self.people = QComboBox()
        self.people.setAccessibleName("Existing custodian")
        for person in context.vault.list_custodians():
            self.people.addItem(person.name, person.id)
        form = QFormLayout()
        form.addRow("&Name:", self.name)
        form.addRow("&Contact:", self.contact)
        form.addRow("&Role:", self.role)
        self.new_form = QWidget()
        self.new_form.setLayout(form)
        form.setContentsMargins(24, 0, 0, 0)
        existing_row = QFormLayout()
        existing_row.setContentsMargins(24, 0, 0, 0)
        existing_row.addRow("C&ustodian:", self.people)
        self.old_form = QWidget()
        self.old_form.setLayout(existing_row)
        align_labels(form, existing_row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.new)
        layout.addWidget(self.new_form)
        layout.addSpacing(8)
        layout.addWidget(self.old)
        layout.addWidget(self.old_form)
        layout.addStretch(1)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        set_tone(self.problem, Tone.BAD)
        layout.addWidget(self.problem)
        self.old.setEnabled(self.people.count() > 0)
        (self.old if existing and self.people.count() else self.new).setChecked(True)
        if custodian_id is not None:
            index = self.people.findData(custodian_id)
            if index >= 0:
                self.people.setCurrentIndex(index)
        self.lookalike_confirmed = ""  # the look-alike name the operator confirmed
        for signal in (self.new.toggled, self.name.textChanged, self.contact.textChanged,
                       self.role.textChanged):
            signal.connect(self._changed)
        self._changed()

    def _typed_problem(self) -> str | None:
        return typed_text_problem([("custodian name", self.name.text()),
                                   ("contact", self.contact.text()),
                                   ("role", self.role.text())])

    def initializePage(self) -> None:
        focus_when_shown(self.name if self.new.isChecked() else self.people)

    def _changed(self) -> None:
        self.new_form.setEnabled(self.new.isChecked())
        self.old_form.setEnabled(self.old.isChecked())
        problem = self._typed_problem() if self.new.isChecked() else None
        self.problem.setText(problem or "")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        if self.old.isChecked():
            return self.people.currentIndex() >= 0
        return bool(self.name.text().strip()) and self._typed_problem() is None

    def validatePage(self) -> bool:
        if self.old.isChecked():
            return True
        name = self.name.text().strip()
        try:
            clash = self.context.vault.get_custodian(name)
        except NotFound:
            similar = self.context.vault.custodian_lookalike(name)
            if similar is None or self.lookalike_confirmed == name:
                return True
            self.lookalike_confirmed = name
            self.problem.setText(lookalike_problem("custodian name", name, similar) or "")
            return False
        self.problem.setText(f"There is already a custodian named {clash.name}. Choose "
                             "“Someone already in this vault” to add a key for them.")
        return False

    def custodian_name(self) -> str:
        return self.name.text().strip() if self.new.isChecked() else self.people.currentText()


class KindPage(QWizardPage):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.setTitle("Which key will hold their shares?")
        self.setSubTitle("Hardware keys keep the share's key inside the device; nobody can "
                         "copy it.")
        layout = QVBoxLayout(self)
        self.group = QButtonGroup(self)
        self.buttons: dict[KeyChoice, QRadioButton] = {}
        for choice in KeyChoice:
            title, hint = CHOICE_TEXT[choice]
            button = QRadioButton(title)
            button.setAccessibleName(title)
            self.group.addButton(button)
            self.buttons[choice] = button
            layout.addWidget(button)
            note = muted(hint)
            note.setContentsMargins(24, 0, 0, 6)
            layout.addWidget(note)
        self.buttons[KeyChoice.SOFTWARE].setEnabled(context.demo)
        if not context.demo:
            self.buttons[KeyChoice.SOFTWARE].setToolTip("Software keys are for demo vaults")
        self.buttons[KeyChoice.FIDO2].setChecked(True)
        form = QFormLayout()
        self.label = QLineEdit()
        self.label.setAccessibleName("Key label")
        self.label.setPlaceholderText("e.g. Alice's blue YubiKey (optional)")
        form.addRow("Key &label:", self.label)
        layout.addLayout(form)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        set_tone(self.problem, Tone.BAD)
        layout.addWidget(self.problem)
        self.label.textChanged.connect(self._label_changed)
        self.new_virtual = QCheckBox("Plug in a new &virtual key for this custodian")
        self.new_virtual.setToolTip("Demo vaults use virtual keys; each custodian needs their own")
        self.new_virtual.setChecked(context.virtual is not None)
        self.new_virtual.setVisible(context.virtual is not None)
        layout.addWidget(self.new_virtual)
        layout.addStretch(1)
        self.group.buttonToggled.connect(self._changed)
        self._changed()

    def _label_changed(self) -> None:
        self.problem.setText(typed_text_problem([("token label", self.label.text())]) or "")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return typed_text_problem([("token label", self.label.text())]) is None

    def _changed(self, *_args: object) -> None:
        kind = self.choice().kind
        self.new_virtual.setEnabled(kind in (TokenKind.FIDO2, TokenKind.PIV))

    def choice(self) -> KeyChoice:
        for choice, button in self.buttons.items():
            if button.isChecked():
                return choice
        return KeyChoice.FIDO2

    def nextId(self) -> int:
        return PAGE_RECIPIENT if self.choice() is KeyChoice.REMOTE else PAGE_ENROL


class RecipientPage(QWizardPage):
    def __init__(self, wizard: EnrolWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Paste the custodian's public key")
        self.setSubTitle("The line starting age1… they sent you. Shares are sealed to it; only the custodian's own key can open "
                         "them. Check it with the custodian by phone or in person.")
        self.recipient = QLineEdit()
        self.recipient.setAccessibleName("Public key")
        self.recipient.setFont(mono_font())
        self.recipient.setPlaceholderText("age1pq1…, age1…, age1yubikey1… or age1tag(pq)1…")
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setAccessibleName("Public key check")
        # A YubiKey recipient proves hardware only with its attestation (#9 item 4): the
        # slot and F9 certificates `ykman piv keys attest` / `certificates export f9` write.
        self.attestation = QLineEdit()
        self.attestation.setAccessibleName("Attestation file")
        self.attestation.setPlaceholderText("optional: the YubiKey's slot + F9 certificates "
                                            "(PEM, one file)")
        self.browse = QPushButton("&Browse…")
        self.browse.setAccessibleName("Choose the attestation file")
        self.browse.clicked.connect(self._browse)
        attest_row = QHBoxLayout()
        attest_row.addWidget(self.attestation, 1)
        attest_row.addWidget(self.browse)
        attest_help = muted("For a YubiKey, ask the custodian for its attestation: without "
                            "it the key is enrolled but shown as not proven hardware, and "
                            "hardware-only records will not use it.")
        attest_help.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.recipient)
        layout.addWidget(self.verdict)
        layout.addSpacing(8)
        layout.addWidget(QLabel("Attestation (YubiKey):"))
        layout.addLayout(attest_row)
        layout.addWidget(attest_help)
        layout.addStretch(1)
        self.recipient.textChanged.connect(self._changed)
        self._changed()

    def _browse(self) -> None:
        path = ask_attestation_file(self)
        if path is not None:
            self.attestation.setText(str(path))

    def attestation_bytes(self) -> bytes | None:
        """The attestation file's contents, or ``None`` when none was given."""
        name = self.attestation.text().strip()
        if not name:
            return None
        try:
            data = Path(name).expanduser().read_bytes()
        except OSError as exc:
            raise InputError(f"the attestation file cannot be read: {exc.strerror}") from None
        if len(data) > MAX_ATTESTATION_BYTES:
            raise InputError("the attestation file is too large to be two certificates")
        return data

    def _changed(self) -> None:
        ok, text = describe_recipient(self.recipient.text())
        self.verdict.setText(text)
        set_tone(self.verdict, Tone.GOOD if ok else
                 (Tone.MUTED if not self.recipient.text().strip() else Tone.BAD))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return describe_recipient(self.recipient.text())[0] and self.wiz.token is None

    def validatePage(self) -> bool:
        if not self.wiz.context.ready_to_change(self):
            return False
        try:
            attestation = self.attestation_bytes()
            custodian_id = self.wiz.ensure_custodian()
            token = enroll_remote(self.wiz.context.vault, custodian_id,
                                  self.recipient.text().strip(),
                                  label=self.wiz.kind_page.label.text().strip() or None,
                                  actor=self.wiz.context.actor, attestation=attestation)
        except TesseraError as exc:
            show_error(self, exc)
            return False
        self.wiz.enrolled(token)
        return True

    def nextId(self) -> int:
        return PAGE_RESULT


class EnrolPage(QWizardPage):
    """Runs the enrolment on the token worker; Next unlocks when the key is enrolled."""

    def __init__(self, wizard: EnrolWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Enrol the key")
        self.instructions = QLabel()
        self.instructions.setWordWrap(True)
        self.start = QPushButton("&Start enrolment")
        self.start.setAccessibleName("Start enrolment")
        self.start.clicked.connect(self.begin)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Enrolment status")
        row = QHBoxLayout()
        row.addWidget(self.start)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.instructions)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.running = False
        self.job: Job[TokenInfo] | None = None

    def initializePage(self) -> None:
        choice = self.wiz.kind_page.choice()
        name = self.wiz.person_page.custodian_name()
        steps = {
            KeyChoice.FIDO2: f"Plug in {name}'s security key. If it has no PIN yet you will "
                             "choose one. Then touch the key when it blinks — twice: once to "
                             "register it with Tessera, once to make its public key.",
            KeyChoice.PIV: f"Plug in {name}'s YubiKey. Tessera makes a new key in a free "
                           "PIV slot; a YubiKey still on its factory PIN is given a new PIN "
                           "first. Touch the key when it blinks.",
            KeyChoice.SOFTWARE: "A new key is made and stored on this computer (demo only).",
        }
        self.instructions.setText(steps.get(choice, "") + signing_steps(self.wiz.context, name))
        self.setSubTitle(f"{CHOICE_TEXT[choice][0]} for {name}")

    def isComplete(self) -> bool:
        return self.wiz.token is not None and not self.running

    def begin(self) -> None:
        """Create the custodian (if new) and enrol the key on the token worker."""
        if self.running or self.wiz.token is not None:
            return
        wiz = self.wiz
        if not wiz.context.ready_to_change(self):
            return
        try:
            custodian_id = wiz.ensure_custodian()
        except TesseraError as exc:
            show_error(self, exc)
            return
        kind = wiz.kind_page.choice().kind
        if kind is None:  # the recipient path never reaches this page
            return
        label = wiz.kind_page.label.text().strip() or None
        virtual_name = None
        if (wiz.context.virtual is not None and wiz.kind_page.new_virtual.isChecked()
                and kind in (TokenKind.FIDO2, TokenKind.PIV)):
            virtual_name = label or (f"{wiz.person_page.custodian_name()}'s "
                                     f"{'YubiKey' if kind is TokenKind.PIV else 'security key'}")
            label = virtual_name
        context = wiz.context

        signed = context.vault.genesis_fingerprint() is not None

        def work(prompts: Prompts, cancel: threading.Event) -> TokenInfo:
            device = None
            if virtual_name is not None and context.virtual is not None:
                device = plug_in_virtual_key(context, kind, virtual_name)
            # In a signed vault the new key's prompts say why it is touched again after
            # the operator's countersignature: it signs its own enrolment.
            asked: Prompts = Purposed(prompts, "being enrolled: it also signs its own "
                                      "enrolment") if signed else prompts
            return enroll_device(context.vault, context.drivers, custodian_id, kind, asked,
                                 cancel, label=label, actor=context.actor, device=device)

        self.running = True
        self.start.setEnabled(False)
        self.status.setText("Waiting for the key… follow the prompts.")
        set_tone(self.status, Tone.NORMAL)
        self.job = wiz.context.worker.submit(ask_again_on_wrong_pin(work), on_success=self._done,
                                             on_failure=self._failed, parent=self.wiz,
                                             title="Enrolling a key")

    def _take_notices(self) -> list[str]:
        """Close the key's notices ("A PIN is now set…"); their text, to show here."""
        texts: list[str] = []
        if self.job is not None:
            for box in self.job.prompts.notices:
                if shiboken6.isValid(box):
                    texts.append(box.text())
                    box.close()
        return texts

    def _done(self, token: TokenInfo) -> None:
        self.running = False
        notes = self._take_notices()  # kept with the result, not as boxes left behind
        self.wiz.notes = notes
        self.status.setText(f"✓ {token.label} is enrolled for {token.custodian_name}.")
        set_tone(self.status, Tone.GOOD)
        self.wiz.enrolled(token)
        self.completeChanged.emit()
        self.wiz.next()

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        self._take_notices()  # "A PIN is now set…" belongs to an enrolment that ended
        self.start.setEnabled(True)
        self.start.setText("&Try again")
        self.status.setText("The key was not enrolled. Check the key and try again."
                            if not isinstance(exc, TesseraError) or isinstance(exc, TokenError)
                            else f"The key was not enrolled: {exc}")
        set_tone(self.status, Tone.BAD)
        self.completeChanged.emit()
        show_error(self.wiz, exc)

    def nextId(self) -> int:
        return PAGE_RESULT


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plug_in_virtual_key(context: AppContext, kind: TokenKind, name: str) -> object:
    """A virtual key for a demo custodian: reuse the one of that name or plug in a new one.

    Returns what :func:`enroll_device` takes as ``device``. Runs on the token worker
    (finding a YubiKey lists smart cards, which may block).
    """
    virtual = context.virtual
    if virtual is None:
        raise TokenError("this vault has no virtual keys")
    try:
        key = virtual.get(name)
    except TesseraError:
        key = virtual.add(kind, name)
        context.virtual_key_added.emit()  # queued to the GUI thread: its Touch button
    if kind is TokenKind.PIV:
        from tessera.tokens.piv import PivDriver
        from tessera.tokens.virtual.piv_device import VirtualYubiKey

        piv = context.drivers.driver(TokenKind.PIV)
        if not isinstance(piv, PivDriver) or not isinstance(key.device, VirtualYubiKey):
            raise TokenError(f"{name} is not a virtual YubiKey")
        found = piv.find_device(key.device.card.serial)
        if found is None:
            raise TokenError(f"the virtual YubiKey {name} is not plugged in")
        return found
    return key.device


MAX_ATTESTATION_BYTES = 64 * 1024


def ask_attestation_file(parent: QWidget) -> Path | None:
    """The attestation file the custodian sent (tests replace this seam)."""
    name, _ = QFileDialog.getOpenFileName(parent, "The YubiKey's attestation certificates", "",
                                          "PEM certificates (*.pem *.crt *.cer);;All files (*)")
    return Path(name) if name else None


def signing_steps(context: AppContext, name: str) -> str:
    """What the signed enrolment adds, in order, and why (FORMAT §7.1 enrolment chain)."""
    if context.vault.genesis_fingerprint() is None:
        return ""
    operator = next((t for t in context.vault.list_tokens()
                     if t.id in context.vault.signer_ids), None)
    who = f"{operator.custodian_name} ({operator.label})" if operator else "the operator"
    return (f"<br><br>This vault is signed, so the enrolment is signed twice: first "
            f"<b>{rich(who)}</b> touches their key to countersign it as the operator, then "
            f"<b>{rich(name)}'s new key</b> is touched once more to sign its own enrolment — "
            "proof that it holds the key whose public key is enrolled.")


class ResultPage(QWizardPage):
    def __init__(self, wizard: EnrolWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Enrolled")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Enrolment summary")
        self.recipient = QLineEdit()
        self.recipient.setReadOnly(True)
        self.recipient.setFont(mono_font())
        self.recipient.setAccessibleName("Public key")
        self.copy = QPushButton("&Copy")
        self.copy.setAccessibleName("Copy public key")
        self.copy.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.recipient.text()))
        self.test = QPushButton("&Test the key")
        self.test.setAccessibleName("Test unwrap")
        self.test.setToolTip("Seal a throw-away test envelope to the new key and open it with "
                             "the key")
        self.test.clicked.connect(self.run_test)
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setAccessibleName("Test result")
        row = QHBoxLayout()
        row.addWidget(self.recipient, 1)
        row.addWidget(self.copy)
        form = QFormLayout()
        form.addRow("Public key:", row)
        self.recipient.setToolTip("The key's age recipient: shares are sealed to it")
        test_row = QHBoxLayout()
        test_row.addWidget(self.test)
        test_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addSpacing(8)
        layout.addLayout(test_row)
        layout.addWidget(self.test_result)
        layout.addSpacing(8)
        layout.addWidget(self._acknowledgement_box())
        layout.addStretch(1)

    def _acknowledgement_box(self) -> QGroupBox:
        """PCI DSS 3.7.8: the custodian accepts their responsibilities, signed by the new
        key where it can sign here, or on a witnessed paper form for a remote key."""
        box = QGroupBox("Custodian responsibilities")
        box.setAccessibleName("Custodian responsibilities")
        statement = QPlainTextEdit(statement_text())
        statement.setReadOnly(True)
        statement.setAccessibleName("Statement")
        statement.setMinimumHeight(96)
        self.ack_sign = QPushButton("&Sign the acknowledgement with the key")
        self.ack_sign.setAccessibleName("Sign acknowledgement")
        self.ack_sign.clicked.connect(self.sign_acknowledgement)
        self.ack_witness = QLineEdit()
        self.ack_witness.setAccessibleName("Witness")
        self.ack_witness.setPlaceholderText("who saw the custodian sign the paper form")
        self.ack_reference = QLineEdit()
        self.ack_reference.setAccessibleName("Form reference")
        self.ack_reference.setPlaceholderText("where the signed form is kept")
        self.ack_record = QPushButton("&Record the signed paper form")
        self.ack_record.setAccessibleName("Record paper acknowledgement")
        self.ack_record.clicked.connect(self.record_paper_acknowledgement)
        self.paper_form = QWidget()
        paper = QFormLayout(self.paper_form)
        paper.setContentsMargins(0, 0, 0, 0)
        paper.addRow("&Witness:", self.ack_witness)
        paper.addRow("&Form:", self.ack_reference)
        paper.addRow(self.ack_record)
        self.ack_result = QLabel()
        self.ack_result.setWordWrap(True)
        self.ack_result.setAccessibleName("Acknowledgement result")
        inner = QVBoxLayout(box)
        inner.addWidget(statement)
        inner.addWidget(self.ack_sign)
        inner.addWidget(self.paper_form)
        inner.addWidget(self.ack_result)
        return box

    def sign_acknowledgement(self) -> None:
        token = self.wiz.token
        context = self.wiz.context
        if token is None or not context.ready_to_change(self):
            return
        self.ack_sign.setEnabled(False)
        self.ack_result.setText("Signing… touch the key when it blinks.")
        set_tone(self.ack_result, Tone.NORMAL)
        context.worker.submit(
            lambda prompts, cancel: sign_acknowledgement(context.vault, context.drivers, token,
                                                         prompts, cancel, actor=context.actor),
            on_success=self._acknowledged, on_failure=self._acknowledge_failed,
            parent=self.wiz, title="Signing the acknowledgement")

    def record_paper_acknowledgement(self) -> None:
        token = self.wiz.token
        if token is None or not self.wiz.context.ready_to_change(self):
            return
        try:
            record_witnessed_acknowledgement(
                self.wiz.context.vault, token.custodian_id, witness=self.ack_witness.text(),
                reference=self.ack_reference.text(), actor=self.wiz.context.actor)
        except TesseraError as exc:
            self.ack_result.setText(message_for(exc))
            set_tone(self.ack_result, Tone.BAD)
            return
        self._acknowledged(None)

    def _acknowledged(self, _record: object) -> None:
        token = self.wiz.token
        name = token.custodian_name if token else "The custodian"
        self.ack_sign.setEnabled(False)
        self.paper_form.setEnabled(False)
        self.ack_result.setText(f"✓ {name}'s acknowledgement is recorded in the audit log.")
        set_tone(self.ack_result, Tone.GOOD)
        self.wiz.context.notify_changed()

    def _acknowledge_failed(self, exc: BaseException) -> None:
        self.ack_sign.setEnabled(True)
        self.ack_result.setText("✗ The acknowledgement was not signed.")
        set_tone(self.ack_result, Tone.BAD)
        show_error(self.wiz, exc)

    def initializePage(self) -> None:
        token = self.wiz.token
        if token is None:
            return
        self.recipient.setText(token.recipient)
        self.recipient.setCursorPosition(0)
        where = "sent by the custodian" if token.remote else "made on the key"
        pq = (" It also has a post-quantum public key, which new records use by default."
              if token.pq_recipient and token.pq_recipient != token.recipient else "")
        notes = "".join(f"<p>{_html(n)}</p>" for n in self.wiz.notes)
        proof = ""
        if token.kind.is_hardware:
            result = token.attestation(demo_vault=self.wiz.context.vault.is_demo)
            proof = (f" Attestation: {_html(result.describe())}." if result.proven else
                     " <b>Not proven hardware</b>: it gave no attestation that verifies, so "
                     "hardware-only records count it as a software key.")
        self.summary.setText(f"<b>{rich(token.label)}</b> ({token.kind.display_name}) is "
                             f"enrolled for <b>{rich(token.custodian_name)}</b>. New records "
                             f"can wrap shares to this public key ({where}); it is safe to "
                             f"share.{pq}{proof}" + notes)
        self.ack_sign.setVisible(not token.remote)
        self.paper_form.setVisible(token.remote)
        if token.custodian_id in acknowledged_at(self.wiz.context.vault):
            self._acknowledged(None)
            self.ack_result.setText(f"✓ {token.custodian_name} has already acknowledged the "
                                    "custodian responsibilities.")
        if token.remote:
            self.test.setEnabled(False)
            self.test_result.setText("The key is not here, so it cannot be tested now. Ask "
                                     f"{token.custodian_name} to run a drill at their key once "
                                     "a record holds their share.")
            set_tone(self.test_result, Tone.MUTED)

    def run_test(self) -> None:
        token = self.wiz.token
        if token is None:
            return
        context = self.wiz.context
        self.test.setEnabled(False)
        self.test_result.setText("Testing… touch the key when it blinks.")
        set_tone(self.test_result, Tone.NORMAL)

        def test(prompts: Prompts, cancel: threading.Event) -> TestUnwrap:
            return run_with_key(context.drivers, token, prompts, cancel,
                                lambda: test_unwrap(context, token, prompts, cancel))

        context.worker.submit(ask_again_on_wrong_pin(test),
                              on_success=self._tested, on_failure=self._test_failed,
                              parent=self.wiz, title="Testing the new key")

    def _tested(self, result: TestUnwrap) -> None:
        self.test.setEnabled(True)
        self.test_result.setText(("✓ " if result.ok else "✗ ") + result.detail)
        set_tone(self.test_result, Tone.GOOD if result.ok else Tone.BAD)
        self.wiz.test_outcome = result

    def _test_failed(self, exc: BaseException) -> None:
        self.test.setEnabled(True)
        self.test_result.setText("✗ The test did not finish.")
        set_tone(self.test_result, Tone.BAD)
        show_error(self.wiz, exc)


class EnrolWizard(QWizard):
    """Enrol custodian / add token."""

    token_enrolled = Signal(object)  # TokenInfo

    def __init__(self, context: AppContext, parent: QWidget | None = None, *,
                 custodian_id: str | None = None, existing: bool = False) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("Add a key for a custodian" if existing else "Enrol a custodian")
        self.setAccessibleName("Enrol custodian wizard")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setMinimumSize(620, 460)
        self.token: TokenInfo | None = None
        self.test_outcome: TestUnwrap | None = None
        self.notes: list[str] = []  # what the key said on the way ("A PIN is now set…")
        self.custodian_id: str | None = None
        self.person_page = PersonPage(context, existing, custodian_id)
        self.kind_page = KindPage(context)
        self.recipient_page = RecipientPage(self)
        self.enrol_page = EnrolPage(self)
        self.result_page = ResultPage(self)
        for page_id, page in ((PAGE_PERSON, self.person_page), (PAGE_KIND, self.kind_page),
                              (PAGE_RECIPIENT, self.recipient_page),
                              (PAGE_ENROL, self.enrol_page), (PAGE_RESULT, self.result_page)):
            self.setPage(page_id, page)
        self.enrol_page.setCommitPage(True)
        self.recipient_page.setCommitPage(True)
        for page in (self.enrol_page, self.recipient_page):
            page.setButtonText(QWizard.WizardButton.CommitButton, "&Enrol")
        self.setStartId(PAGE_PERSON)

    def ensure_custodian(self) -> str:
        """The custodian's id, adding them to the vault now if they are new."""
        if self.custodian_id is not None:
            return self.custodian_id
        page = self.person_page
        if page.old.isChecked():
            self.custodian_id = str(page.people.currentData())
        else:
            name = page.name.text().strip()
            person = self.context.vault.add_custodian(
                name, contact=page.contact.text().strip(),
                role=page.role.text().strip(), actor=self.context.actor,
                allow_lookalike=page.lookalike_confirmed == name)
            self.custodian_id = person.id
            self.context.notify_changed()
        return self.custodian_id

    def enrolled(self, token: TokenInfo) -> None:
        self.token = token
        self.context.notify_changed()
        self.token_enrolled.emit(token)

    def reject(self) -> None:
        if self.enrol_page.running:
            job = self.context.worker.current
            if job is not None:
                job.cancel()
        super().reject()
