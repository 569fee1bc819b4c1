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

from PySide6.QtCore import QLocale, Qt, Signal
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
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from tessera.core.errors import InputError, NotFound, PolicyError, TesseraError
from tessera.core.policy import PolicyWarning, SplitPlan, check_split
from tessera.custody.create import Created, create_record, token_kinds
from tessera.custody.sheets import sheets_at_creation
from tessera.gui import print_sheets
from tessera.gui.context import AppContext
from tessera.gui.envelopes import EnvelopeForm
from tessera.gui.errors import show_error
from tessera.gui.table_model import Tone, tone_color
from tessera.gui.widgets import fingerprint_label, muted
from tessera.sheets.model import Paper, Sheet
from tessera.sheets.render import write_pdf
from tessera.tokens.base import TokenState

MAX_SECRET_BYTES = 64 * 1024
GENERATED_ALPHABET = string.ascii_letters + string.digits
PAGE_FACTS, PAGE_CUSTODIANS, PAGE_SECRET, PAGE_REVIEW, PAGE_DONE = range(5)
ENVIRONMENTS = ("production", "staging", "development", "demo")


def wipe(buffer: bytearray) -> None:
    for i in range(len(buffer)):
        buffer[i] = 0


def set_tone(label: QLabel, tone: str, bold: bool = False) -> None:
    color = tone_color(tone)
    style = f"color: {color.name()};" if color else ""
    label.setStyleSheet(style + (" font-weight: bold;" if bold else ""))


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
        self.label.textChanged.connect(self._changed)

    def _changed(self) -> None:
        self.problem.clear()
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return bool(self.label.text().strip())

    def validatePage(self) -> bool:
        try:
            clash = self.context.vault.get_record(self.label.text().strip())
        except NotFound:
            return True
        self.problem.setText(f"There is already a record labelled “{clash.label}”.")
        return False

    def nhi(self) -> dict[str, str]:
        facts = {"system": self.system.text(), "account": self.account.text(),
                 "owner": self.owner.text(), "environment": self.environment.currentText()}
        return {k: v.strip() for k, v in facts.items() if v.strip()}


class CustodiansPage(QWizardPage):
    """Who holds a share, and how many of them must meet."""

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.setTitle("Who holds the shares?")
        self.setSubTitle("Each chosen custodian gets one share, locked to their keys. Any "
                         "K of them together can release the secret; fewer learn nothing.")
        self.people = QListWidget()
        self.people.setAccessibleName("Custodians")
        self.threshold = QSpinBox()
        self.threshold.setAccessibleName("Threshold")
        self.threshold.setRange(1, 16)
        self.threshold.setValue(max(2, context.vault.policy.min_threshold))
        self.of_n = QLabel()
        self.allow_software = QCheckBox("Allow &software keys on this record")
        self.allow_software.setToolTip("A software key is stored on a computer, not in a "
                                       "hardware token; the audit log records this choice")
        policy = context.vault.policy
        self.allow_software.setVisible(policy.hardware_only and not context.demo)
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        self.feedback.setAccessibleName("Policy check")
        self.feedback.setTextFormat(Qt.TextFormat.PlainText)
        row = QHBoxLayout()
        row.addWidget(QLabel("Any"))
        row.addWidget(self.threshold)
        row.addWidget(self.of_n)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.people, 1)
        layout.addLayout(row)
        layout.addWidget(self.allow_software)
        layout.addWidget(self.feedback)
        self.problem: str | None = None
        self.warnings: list[PolicyWarning] = []
        self.people.itemChanged.connect(self.update_feedback)
        self.threshold.valueChanged.connect(self.update_feedback)
        self.allow_software.toggled.connect(self.update_feedback)

    def initializePage(self) -> None:
        self.people.blockSignals(True)
        self.people.clear()
        vault = self.context.vault
        for person in vault.list_custodians():
            tokens = [t for t in vault.list_tokens(person.id) if t.state is TokenState.ACTIVE]
            kinds = ", ".join(sorted({t.kind.display_name + (" (remote)" if t.remote else "")
                                      for t in tokens})) or "no key enrolled"
            item = QListWidgetItem(f"{person.name} — {kinds}")
            item.setData(Qt.ItemDataRole.UserRole, person.id)
            flags = Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable
            if tokens:
                flags |= Qt.ItemFlag.ItemIsEnabled
            else:
                item.setToolTip("Enrol a key for this custodian first")
            item.setFlags(flags)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.people.addItem(item)
        self.people.blockSignals(False)
        self.update_feedback()

    def chosen(self) -> list[str]:
        ids = []
        for i in range(self.people.count()):
            item = self.people.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                ids.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return ids

    def chosen_names(self) -> list[str]:
        return [self.people.item(i).text().split(" — ")[0] for i in range(self.people.count())
                if self.people.item(i).checkState() == Qt.CheckState.Checked]

    def plan(self) -> SplitPlan:
        return SplitPlan.simple(self.threshold.value(), self.chosen())

    def update_feedback(self) -> None:
        ids = self.chosen()
        n = len(ids)
        self.of_n.setText(f"of {n} custodian{'s' if n != 1 else ''} can release the secret")
        self.problem = None
        self.warnings = []
        if n == 0:
            self.problem = "Choose the custodians who will hold a share."
        else:
            vault = self.context.vault
            try:
                self.warnings = check_split(self.plan(), vault.policy, demo=vault.is_demo,
                                            token_kinds=token_kinds(vault, ids),
                                            allow_software=self.allow_software.isChecked())
            except PolicyError as exc:
                text = str(exc)
                self.problem = text[0].upper() + text[1:] + "."
        if self.problem is not None:
            self.feedback.setText(f"✗ {self.problem}")
            set_tone(self.feedback, Tone.BAD if n else Tone.MUTED)
        elif self.warnings:
            self.feedback.setText("\n".join(f"⚠ {w.text}" for w in self.warnings))
            set_tone(self.feedback, Tone.WARN)
        else:
            self.feedback.setText(f"✓ Any {self.threshold.value()} of these {n} custodians "
                                  "together can release this secret.")
            set_tone(self.feedback, Tone.GOOD)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.problem is None


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
                ("Quorum", f"any {people.threshold.value()} of {len(people.chosen())}"),
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
        self.paper = QComboBox()
        self.paper.setAccessibleName("Paper size")
        for paper in Paper:
            self.paper.addItem(paper.display, paper.value)
        if QLocale().measurementSystem() == QLocale.MeasurementSystem.ImperialUSSystem:
            self.paper.setCurrentIndex(self.paper.findData(Paper.LETTER.value))
        self.print_button = QPushButton("&Print sheets…")
        self.print_button.setAccessibleName("Print recovery sheets")
        self.print_button.setToolTip("Print preview of one sheet per custodian; print from it")
        self.print_button.clicked.connect(self.wiz.preview_sheets)
        self.pdf_button = QPushButton("Save as P&DF…")
        self.pdf_button.setAccessibleName("Save sheets as PDF")
        self.pdf_button.clicked.connect(self.wiz.save_pdf)
        row = QHBoxLayout()
        row.addWidget(QLabel("Paper:"))
        row.addWidget(self.paper)
        row.addWidget(self.print_button)
        row.addWidget(self.pdf_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addSpacing(6)
        layout.addWidget(self.fingerprint)
        layout.addSpacing(6)
        layout.addWidget(self.sheets_note)
        layout.addLayout(row)
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
        if self.envelopes is None:
            self.envelopes = EnvelopeForm(self.wiz.context, created.record_id,
                                          created.sealed.manifest.version)
            self._layout.addWidget(self.envelopes, 1)
            self.wiz.context.vault_changed.connect(self.envelopes.refresh)
        self.sheets_note.setText(
            "Print one sealed recovery sheet per custodian now, and seal each in a "
            "tamper-evident envelope: the share words exist only until this window closes. "
            "Sheets let a custodian release without their key.")


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
        self._sheets: list[Sheet] | None = None
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
        people = self.custodians_page
        try:
            secret, encoding = self.secret_page.take_secret()
        except TesseraError as exc:
            show_error(self, exc)
            return False
        try:
            self.created = create_record(
                self.context.vault, secret, label=self.facts_page.label.text().strip(),
                plan=people.plan(), nhi=self.facts_page.nhi(), actor=self.context.actor,
                allow_software=people.allow_software.isChecked(), encoding=encoding,
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
        return Paper(str(self.done_page.paper.currentData()))

    def sheets(self) -> list[Sheet]:
        """The sheets of the new version, built (and logged as printed) once."""
        if self._sheets is None:
            if self.created is None or not self.mnemonics:
                raise InputError("the share words are gone; sheets can only be printed "
                                 "while the wizard that sealed the record is open")
            self._sheets = sheets_at_creation(self.context.vault, self.created.sealed,
                                              self.mnemonics, actor=self.context.actor)
            self.context.notify_changed()
        return self._sheets

    def preview_sheets(self) -> None:
        """Print preview of every custodian's sheet; the person prints from it."""
        try:
            print_sheets.preview_sheets(self, self.sheets(), self.paper())
        except Exception as exc:
            show_error(self, exc)

    @staticmethod
    def ask_pdf_path(parent: QWidget) -> Path | None:
        """Warn that a PDF holds the words, then ask where (tests replace this seam)."""
        answer = QMessageBox.warning(
            parent, "A PDF holds the share words",
            "The PDF will contain every custodian's share words in clear. Anyone who copies "
            "the file holds the shares. Save it only to removable media you will destroy, "
            "print it, then delete it.",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Save:
            return None
        name, _ = QFileDialog.getSaveFileName(parent, "Save recovery sheets",
                                              "recovery-sheets.pdf", "PDF (*.pdf)")
        return Path(name) if name else None

    def save_pdf(self) -> Path | None:
        target = self.ask_pdf_path(self)
        if target is None:
            return None
        try:
            write_pdf(self.sheets(), target, self.paper())
        except Exception as exc:
            show_error(self, exc)
            return None
        return target

    def forget_words(self) -> None:
        self.mnemonics.clear()
        self._sheets = None

    def done(self, result: int) -> None:
        self.forget_words()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.forget_words()
        super().closeEvent(event)
