"""Create a custody record: facts, custodians and threshold, the secret, review, sealed.

The threshold page checks the plan with :func:`tessera.core.policy.check_split` on
every change, so the operator sees at once why a plan is refused (K ≥ 2, a custodian
without a key, software keys on a hardware-only record) and what to think about
(fewer than 2K custodians). The secret is held in a ``bytearray`` that is overwritten
as soon as the record is sealed or the wizard closes; typed text is cleared from the
field when it is taken. The last page shows the fingerprint and hands the sealed
version to sheet printing while the share words still exist (they are never stored).
"""

from __future__ import annotations

import enum
import secrets
import string
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from tessera.core.errors import InputError, NotFound, TesseraError
from tessera.core.memory import wipe
from tessera.core.policy import PolicyWarning, SplitPlan
from tessera.custody.create import Created, create_record
from tessera.gui.context import AppContext
from tessera.gui.envelopes import EnvelopeForm
from tessera.gui.errors import show_error
from tessera.gui.sheet_handoff import SheetHandoff
from tessera.gui.split_editor import SplitEditor
from tessera.gui.theme import Tone, set_tone
from tessera.gui.typed_text import lookalike_problem, typed_text_problem
from tessera.gui.widgets import fingerprint_label, focus_when_shown, muted
from tessera.sheets.model import Paper

MAX_SECRET_BYTES = 64 * 1024
GENERATED_ALPHABET = string.ascii_letters + string.digits
PAGE_FACTS, PAGE_CUSTODIANS, PAGE_SECRET, PAGE_REVIEW, PAGE_DONE = range(5)
ENVIRONMENTS = ("production", "staging", "development", "demo")




class SecretSource(enum.StrEnum):
    TYPED = "typed"
    FILE = "file"
    GENERATED = "generated"


class FactsPage(QWizardPage):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.setTitle("What is the secret for?")
        self.setSubTitle("Name the non-human identity this recovery secret belongs to, so "
                         "custodians and auditors recognise it years from now.")
        self.label = QLineEdit()
        self.label.setAccessibleName("Record label")
        self.label.setPlaceholderText("e.g. Production AWS root — break-glass")
        self.system = QLineEdit()
        self.system.setAccessibleName("System")
        self.system.setPlaceholderText("e.g. AWS, GitHub Actions, Vault")
        self.account = QLineEdit()
        self.account.setAccessibleName("Account")
        self.account.setPlaceholderText("e.g. 1234-5678-9012, deploy-bot")
        self.owner = QLineEdit()
        self.owner.setAccessibleName("Owner")
        self.owner.setPlaceholderText("the team answerable for it")
        self.environment = QComboBox()
        self.environment.setEditable(True)
        self.environment.setAccessibleName("Environment")
        self.environment.addItems(["", *ENVIRONMENTS])
        form = QFormLayout(self)
        form.addRow("&Label:", self.label)
        form.addRow("&System:", self.system)
        form.addRow("&Account:", self.account)
        form.addRow("&Owner:", self.owner)
        form.addRow("&Environment:", self.environment)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        set_tone(self.problem, Tone.BAD)
        form.addRow(self.problem)
        self.lookalike_confirmed = ""  # the look-alike label the operator confirmed
        for edit in (self.label, self.system, self.account, self.owner):
            edit.textChanged.connect(self._changed)
        self.environment.currentTextChanged.connect(self._changed)

    def _typed_problem(self) -> str | None:
        return typed_text_problem([("record label", self.label.text()),
                                   ("system", self.system.text()),
                                   ("account", self.account.text()),
                                   ("owner", self.owner.text()),
                                   ("environment", self.environment.currentText())])

    def _changed(self) -> None:
        self.problem.setText(self._typed_problem() or "")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return bool(self.label.text().strip()) and self._typed_problem() is None

    def validatePage(self) -> bool:
        label = self.label.text().strip()
        try:
            clash = self.context.vault.get_record(label)
        except NotFound:
            similar = self.context.vault.label_lookalike(label)
            if similar is None or self.lookalike_confirmed == label:
                return True
            self.lookalike_confirmed = label
            self.problem.setText(lookalike_problem("record label", label, similar) or "")
            return False
        self.problem.setText(f"There is already a record labelled “{clash.label}”.")
        return False

    def nhi(self) -> dict[str, str]:
        facts = {"system": self.system.text(), "account": self.account.text(),
                 "owner": self.owner.text(), "environment": self.environment.currentText()}
        return {k: v.strip() for k, v in facts.items() if v.strip()}


class CustodiansPage(QWizardPage):
    """Who holds a share, and how many of them (or of their groups) must meet."""

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.setTitle("Who holds the shares?")
        self.setSubTitle("Each chosen custodian gets one share, locked to their keys. Any "
                         "K of them together can release the secret; fewer learn nothing.")
        self.editor = SplitEditor(context)
        self.people = self.editor.people
        self.threshold = self.editor.threshold
        self.of_n = self.editor.of_n
        self.allow_software = self.editor.allow_software
        self.feedback = self.editor.feedback
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor)
        self.editor.changed.connect(self.completeChanged)

    def initializePage(self) -> None:
        self.editor.load(self.editor.chosen())

    @property
    def problem(self) -> str | None:
        return self.editor.problem

    @property
    def warnings(self) -> list[PolicyWarning]:
        return self.editor.warnings

    def chosen(self) -> list[str]:
        return self.editor.chosen()

    def chosen_names(self) -> list[str]:
        return self.editor.chosen_names()

    def plan(self) -> SplitPlan:
        return self.editor.plan()

    def update_feedback(self) -> None:
        self.editor.update_feedback()

    def isComplete(self) -> bool:
        return self.editor.problem is None


class SecretPage(QWizardPage):
    """The secret: typed (masked), read from a file, or generated."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("The secret")
        self.setSubTitle("It is encrypted at once and never stored in clear. Nobody — you "
                         "included — can read it again without a quorum of custodians.")
        self.radios: dict[SecretSource, QRadioButton] = {}
        group = QButtonGroup(self)
        layout = QVBoxLayout(self)
        for source, text in ((SecretSource.TYPED, "&Type or paste it"),
                             (SecretSource.FILE, "Read it from a &file"),
                             (SecretSource.GENERATED, "&Generate a new random secret")):
            button = QRadioButton(text)
            group.addButton(button)
            self.radios[source] = button
        self.typed = QLineEdit()
        self.typed.setEchoMode(QLineEdit.EchoMode.Password)
        self.typed.setAccessibleName("Secret")
        self.confirm = QLineEdit()
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm.setAccessibleName("Secret again")
        self.show_typed = QCheckBox("Show")
        self.show_typed.setAccessibleName("Show the secret")
        typed_form = QFormLayout()
        typed_form.setContentsMargins(24, 0, 0, 0)
        typed_form.addRow("Secret:", self.typed)
        typed_form.addRow("Again:", self.confirm)
        typed_form.addRow("", self.show_typed)
        self.file_button = QPushButton("Choose &file…")
        self.file_label = muted("No file chosen.")
        file_row = QHBoxLayout()
        file_row.setContentsMargins(24, 0, 0, 0)
        file_row.addWidget(self.file_button)
        file_row.addWidget(self.file_label, 1)
        self.length = QSpinBox()
        self.length.setRange(16, 128)
        self.length.setValue(40)
        self.length.setAccessibleName("Generated length")
        self.length.setSuffix(" characters")
        gen_row = QHBoxLayout()
        gen_row.setContentsMargins(24, 0, 0, 0)
        gen_row.addWidget(QLabel("Length:"))
        gen_row.addWidget(self.length)
        gen_row.addWidget(muted("letters and digits, from the operating system's random source"),
                          1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Secret check")
        layout.addWidget(self.radios[SecretSource.TYPED])
        layout.addLayout(typed_form)
        layout.addWidget(self.radios[SecretSource.FILE])
        layout.addLayout(file_row)
        layout.addWidget(self.radios[SecretSource.GENERATED])
        layout.addLayout(gen_row)
        layout.addStretch(1)
        layout.addWidget(self.status)
        self.radios[SecretSource.TYPED].setChecked(True)
        self.file_path: Path | None = None
        self.file_size = 0
        for signal in (self.typed.textChanged, self.confirm.textChanged):
            signal.connect(self._changed)
        group.buttonToggled.connect(self._changed)
        self.show_typed.toggled.connect(self._show_toggled)
        self.file_button.clicked.connect(self.choose_file)
        self._changed()

    def initializePage(self) -> None:
        if self.source() is SecretSource.TYPED:
            focus_when_shown(self.typed)

    def source(self) -> SecretSource:
        return next(s for s, b in self.radios.items() if b.isChecked())

    def _show_toggled(self, on: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
        self.typed.setEchoMode(mode)
        self.confirm.setEchoMode(mode)

    @staticmethod
    def ask_file(parent: QWidget) -> Path | None:
        """The file holding the secret (tests replace this seam)."""
        name, _ = QFileDialog.getOpenFileName(parent, "Read the secret from a file")
        return Path(name) if name else None

    def choose_file(self) -> None:
        path = self.ask_file(self)
        if path is None:
            return
        try:
            size = path.stat().st_size
        except OSError as exc:
            show_error(self, InputError(f"cannot read {path.name}: {exc.strerror or exc}"))
            return
        self.file_path = path
        self.file_size = size
        self.file_label.setText(f"{path.name} — {size} bytes (contents not shown)")
        self.radios[SecretSource.FILE].setChecked(True)
        self._changed()

    def problem(self) -> str | None:
        source = self.source()
        if source is SecretSource.TYPED:
            if not self.typed.text():
                return "Type the secret, twice."
            if self.typed.text() != self.confirm.text():
                return "The two entries differ." if self.confirm.text() else \
                    "Type the secret again to confirm it."
        elif source is SecretSource.FILE:
            if self.file_path is None:
                return "Choose the file that holds the secret."
            if not 0 < self.file_size <= MAX_SECRET_BYTES:
                return f"The file must hold 1 to {MAX_SECRET_BYTES} bytes."
        return None

    def _changed(self, *_args: object) -> None:
        source = self.source()
        for widget in (self.typed, self.confirm, self.show_typed):
            widget.setEnabled(source is SecretSource.TYPED)
        self.length.setEnabled(source is SecretSource.GENERATED)
        problem = self.problem()
        if problem:
            self.status.setText(problem)
            set_tone(self.status, Tone.MUTED if "Type the secret" in problem or "Choose" in
                     problem else Tone.BAD)
        else:
            what = {SecretSource.TYPED: f"{len(self.typed.text().encode())} bytes typed",
                    SecretSource.FILE: f"{self.file_size} bytes from {self.file_path}",
                    SecretSource.GENERATED: f"a new random secret of {self.length.value()} "
                                            "characters"}[source]
            self.status.setText(f"✓ Ready: {what}.")
            set_tone(self.status, Tone.GOOD)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.problem() is None

    def take_secret(self) -> tuple[bytearray, str]:
        """The secret and its encoding (utf-8 or binary); clears the typed fields."""
        source = self.source()
        if source is SecretSource.TYPED:
            secret = bytearray(self.typed.text().encode("utf-8"))
            self.typed.clear()
            self.confirm.clear()
            return secret, "utf-8"
        if source is SecretSource.FILE and self.file_path is not None:
            try:
                data = bytearray(self.file_path.read_bytes())
            except OSError as exc:
                raise InputError(f"cannot read {self.file_path.name}: "
                                 f"{exc.strerror or exc}") from None
            if not 0 < len(data) <= MAX_SECRET_BYTES:
                wipe(data)
                raise InputError(f"the file must hold 1 to {MAX_SECRET_BYTES} bytes")
            try:
                bytes(data).decode("utf-8")
                encoding = "utf-8"
            except UnicodeDecodeError:
                encoding = "binary"
            return data, encoding
        secret = bytearray(ord(secrets.choice(GENERATED_ALPHABET))
                           for _ in range(self.length.value()))
        return secret, "utf-8"

    def describe(self) -> str:
        source = self.source()
        if source is SecretSource.TYPED:
            return f"typed, {len(self.typed.text().encode())} bytes"
        if source is SecretSource.FILE:
            return f"from the file {self.file_path}, {self.file_size} bytes"
        return (f"generated now, {self.length.value()} random letters and digits (reveal it "
                "through a release to install it)")


class ReviewPage(QWizardPage):
    """Everything at a glance before sealing; the Seal button creates the record."""

    def __init__(self, wizard: CreateRecordWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Review and seal")
        self.setSubTitle("Sealing splits the secret, wraps each share to its custodian's keys "
                         "and writes the record and its audit entry in one step.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAccessibleName("Review")
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addStretch(1)

    def initializePage(self) -> None:
        facts = self.wiz.facts_page
        people = self.wiz.custodians_page
        secret = self.wiz.secret_page
        nhi = facts.nhi()
        rows = [("Label", facts.label.text().strip()),
                *[(k.capitalize(), v) for k, v in nhi.items()],
                ("Quorum", people.editor.describe()),
                ("Custodians", ", ".join(people.chosen_names())),
                ("Secret", secret.describe())]
        if people.allow_software.isChecked():
            rows.append(("Software keys", "allowed on this record"))
        html = "<table cellspacing='6'>" + "".join(
            f"<tr><td><b>{_esc(k)}</b></td><td>{_esc(v)}</td></tr>" for k, v in rows) + "</table>"
        if people.warnings:
            html += "".join(f"<p>⚠ {_esc(w.text)}</p>" for w in people.warnings)
        html += ("<p>The <b>fingerprint</b> of the sealed record is shown on the next page and "
                 "on every sheet; custodians compare it before they release.</p>")
        self.summary.setText(html)

    def validatePage(self) -> bool:
        return self.wiz.seal()


class DonePage(QWizardPage):
    """The fingerprint, and the hand-off to sheet printing."""

    def __init__(self, wizard: CreateRecordWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Sealed")
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.fingerprint = fingerprint_label(large=True)
        self.fingerprint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sheets_note = QLabel()
        self.sheets_note.setWordWrap(True)
        self.handoff = SheetHandoff(wizard.context)
        self.print_button = self.handoff.print_button
        self.pdf_button = self.handoff.pdf_button
        # Fingerprint, sheets, confirmations and envelopes are more than a laptop screen
        # holds at once: the page scrolls rather than squeezing rows to nothing.
        content = QWidget()
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroller.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroller)
        layout = QVBoxLayout(content)
        layout.addWidget(self.intro)
        layout.addSpacing(6)
        layout.addWidget(self.fingerprint)
        layout.addSpacing(6)
        layout.addWidget(self.sheets_note)
        layout.addWidget(self.handoff)
        layout.addSpacing(6)
        self.envelope_title = QLabel("<b>Envelopes</b> — after sealing each sheet in its "
                                     "numbered tamper-evident bag, record the numbers:")
        self.envelope_title.setWordWrap(True)
        layout.addWidget(self.envelope_title)
        self.envelopes: EnvelopeForm | None = None
        self._layout = layout

    def initializePage(self) -> None:
        created = self.wiz.created
        if created is None:
            return
        self.intro.setText(f"<b>{_esc(created.label)}</b> is sealed: "
                           f"{_esc(created.sealed.manifest.describe_quorum())} custodians can "
                           "release it. Its fingerprint:")
        self.fingerprint.setText(created.fingerprint)
        self.handoff.set_version(created.sealed, self.wiz.mnemonics)
        if self.envelopes is None:
            self.envelopes = EnvelopeForm(self.wiz.context, created.record_id,
                                          created.sealed.manifest.version)
            self.envelopes.table.setMinimumHeight(
                self.envelopes.table.verticalHeader().defaultSectionSize() * 4)
            self._layout.addWidget(self.envelopes, 1)
            self.wiz.context.vault_changed.connect(self.envelopes.refresh)
        self.sheets_note.setText(
            "Print one sealed recovery sheet per custodian now, and seal each in a "
            "tamper-evident envelope: the share words exist only until this window closes. "
            "Sheets let a custodian release without their key. A sheet is logged once it "
            "is printed or saved.")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class CreateRecordWizard(QWizard):
    """New custody record."""

    record_created = Signal(str)  # record id

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("New custody record")
        self.setAccessibleName("Create record wizard")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setMinimumSize(660, 500)
        self.created: Created | None = None
        self.mnemonics: dict[str, str] = {}  # share key -> words; only until the wizard closes
        self.facts_page = FactsPage(context)
        self.custodians_page = CustodiansPage(context)
        self.secret_page = SecretPage()
        self.review_page = ReviewPage(self)
        self.done_page = DonePage(self)
        for page_id, page in ((PAGE_FACTS, self.facts_page),
                              (PAGE_CUSTODIANS, self.custodians_page),
                              (PAGE_SECRET, self.secret_page), (PAGE_REVIEW, self.review_page),
                              (PAGE_DONE, self.done_page)):
            self.setPage(page_id, page)
        self.review_page.setCommitPage(True)
        self.review_page.setButtonText(QWizard.WizardButton.CommitButton, "&Seal record")

    def _keep_mnemonics(self, words: Mapping[str, str]) -> None:
        self.mnemonics = dict(words)

    def seal(self) -> bool:
        """Create the record; on failure say why and stay on the review page."""
        if not self.context.ready_to_change(self):
            return False
        people = self.custodians_page
        try:
            secret, encoding = self.secret_page.take_secret()
        except TesseraError as exc:
            show_error(self, exc)
            return False
        label = self.facts_page.label.text().strip()
        try:
            self.created = create_record(
                self.context.vault, secret, label=label,
                plan=people.plan(), nhi=self.facts_page.nhi(), actor=self.context.actor,
                allow_software=people.allow_software.isChecked(),
                allow_lookalike=self.facts_page.lookalike_confirmed == label, encoding=encoding,
                on_mnemonics=self._keep_mnemonics)
        except Exception as exc:
            show_error(self, exc)
            return False
        finally:
            wipe(secret)
        self.context.notify_changed()
        self.record_created.emit(self.created.record_id)
        return True

    def paper(self) -> Paper:
        return self.done_page.handoff.paper()

    def preview_sheets(self) -> bool:
        """Print preview of every custodian's sheet; logged only when printed from it."""
        return self.done_page.handoff.print_preview()

    def save_pdf(self) -> Path | None:
        return self.done_page.handoff.save_pdf()

    def forget_words(self) -> None:
        self.mnemonics.clear()
        self.done_page.handoff.forget_words()

    def done(self, result: int) -> None:
        # Finish, Enter, Escape and the window's close button all end here: the words
        # stay until every share is on paper or the operator knowingly discards them.
        if self.created is not None and not self.done_page.handoff.confirm_leave(self):
            return
        self.forget_words()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.created is not None and not self.done_page.handoff.confirm_leave(self):
            event.ignore()
            return
        self.forget_words()
        super().closeEvent(event)
