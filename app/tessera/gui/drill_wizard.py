"""A custodian's drill: prove their key still opens their share, reconstructing nothing.

Two pages: choose the record and the key (preselected when opened from a record or a
token), then run the drill on the token worker (PIN, touch) and see the result. The
drill is recorded in the vault and its audit log either way.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from tessera.core.errors import TesseraError, UserCancelled
from tessera.core.wording import share_label
from tessera.custody.release import DrillResult, drill
from tessera.gui.context import AppContext
from tessera.gui.errors import message_for, show_error
from tessera.gui.key_prompts import run_with_key
from tessera.gui.prompts import PromptState, ask_again_on_wrong_pin
from tessera.gui.theme import Tone, set_tone
from tessera.gui.widgets import SearchableChoice, focus_when_shown
from tessera.gui.worker import Job
from tessera.tokens.base import Prompts, TokenInfo, TokenState
from tessera.vault import RecordState

_DRILLABLE = (RecordState.SEALED, RecordState.RELEASED, RecordState.ROTATION_REQUIRED)
_STATE_TEXT = {PromptState.PIN: "Enter the PIN of your key…",
               PromptState.TOUCH: "Touch your key now.",
               PromptState.INSERT: "Plug in your key…",
               PromptState.WORKING: "Checking your share…"}


class ChoosePage(QWizardPage):
    """Which record, and which of the record's keys."""

    def __init__(self, context: AppContext, record_id: str | None, token_id: str | None) -> None:
        super().__init__()
        self.context = context
        self.setTitle("Drill: prove your key still opens your share")
        self.setSubTitle("Nothing is reconstructed and no other custodian is needed. Your key "
                         "opens only your own share, which is checked against the record.")
        form = QFormLayout(self)
        self.record_box = SearchableChoice("Record")  # thousands of records: type to find
        self.token_box = QComboBox()
        self.token_box.setAccessibleName("Key")
        form.addRow("&Record:", self.record_box)
        form.addRow("&Key:", self.token_box)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        form.addRow(self.note)
        for record in context.vault.list_records():
            if record.state in _DRILLABLE:
                self.record_box.addItem(record.label, record.id)
        self.record_box.changed.connect(self._fill_tokens)
        self.token_box.currentIndexChanged.connect(lambda _i: self.completeChanged.emit())
        if record_id is not None:
            self.record_box.setCurrentIndex(max(0, self.record_box.findData(record_id)))
        self._fill_tokens()
        if token_id is not None:
            self.token_box.setCurrentIndex(max(0, self.token_box.findData(token_id)))

    def tokens_of(self, record_id: str) -> list[TokenInfo]:
        """Active keys that one of the record's envelopes is wrapped to."""
        data = self.context.vault.get_version(record_id)  # current recipients (re-wraps)
        recipients = {r for e in data.manifest.shares for r in data.recipients_of(e.key)}
        return [t for t in self.context.vault.list_tokens()
                if t.state is TokenState.ACTIVE and t.named_in(recipients)
                and not t.remote]

    def _fill_tokens(self) -> None:
        self.token_box.clear()
        record_id = self.record_id
        if record_id is not None:
            for token in self.tokens_of(record_id):
                self.token_box.addItem(f"{token.custodian_name} — {token.label}", token.id)
        self.note.setText("" if self.token_box.count() else
                          "No key on this computer's list holds a share of this record.")
        self.completeChanged.emit()

    @property
    def record_id(self) -> str | None:
        data = self.record_box.value()
        return data if isinstance(data, str) else None

    @property
    def token_id(self) -> str | None:
        data = self.token_box.currentData()
        return data if isinstance(data, str) else None

    def isComplete(self) -> bool:
        return self.record_id is not None and self.token_id is not None


class RunPage(QWizardPage):
    """Run the drill on the worker and show its result."""

    def __init__(self, context: AppContext, choose: ChoosePage) -> None:
        super().__init__()
        self.context = context
        self.choose = choose
        self.result: DrillResult | None = None
        self.ran = False  # a drill ran to an outcome (a pass, or a recorded failure)
        self.job: Job[DrillResult] | None = None
        self.setTitle("Run the drill")
        layout = QVBoxLayout(self)
        self.what = QLabel("")
        self.what.setWordWrap(True)
        layout.addWidget(self.what)
        self.start_button = QPushButton("Start drill")
        self.start_button.clicked.connect(self.start)
        layout.addWidget(self.start_button, alignment=Qt.AlignmentFlag.AlignLeft)
        self.state = QLabel("")
        self.state.setObjectName("drillResult")
        self.state.setWordWrap(True)
        font = QFont(self.state.font())
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.state.setFont(font)
        layout.addWidget(self.state)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.result = None
        self.ran = False
        self.state.setText("")
        self.state.setStyleSheet("")
        self.start_button.setEnabled(True)
        self.start_button.setText("Start drill")
        focus_when_shown(self.start_button)
        self.what.setText(f"Record: <b>{_escape(self.choose.record_box.currentText())}</b><br>"
                          f"Key: <b>{_escape(self.choose.token_box.currentText())}</b><br><br>"
                          "Plug in the key, press Start, enter its PIN and touch it when "
                          "asked.")

    def start(self) -> None:
        record_id, token_id = self.choose.record_id, self.choose.token_id
        if record_id is None or token_id is None or self.job is not None:
            return
        ctx = self.context
        if not ctx.ready_to_change(self):  # a drill's result is written to the log
            return
        token = ctx.vault.get_token(token_id)
        self.start_button.setEnabled(False)
        self.state.setStyleSheet("")
        self.state.setText("Starting…")

        def run_drill(prompts: Prompts, cancel: threading.Event) -> DrillResult:
            return run_with_key(  # a missing key: "Insert Carol's key", then on
                ctx.drivers, token, prompts, cancel,
                lambda: drill(ctx.vault, ctx.drivers, record_id, token_id, prompts, cancel,
                              actor=ctx.actor))

        self.job = ctx.worker.submit(
            ask_again_on_wrong_pin(run_drill),
            on_success=self._passed, on_failure=self._failed, parent=self,
            title="Drill", on_state=lambda s: self.state.setText(_STATE_TEXT[s]))
        self.completeChanged.emit()

    def _passed(self, result: DrillResult) -> None:
        self.job = None
        self.result = result
        self.ran = True
        self.state.setText(f"✓ {result.token_label} opens {result.custodian}'s share "
                           f"({share_label(result.share_key)}); it matches the record.")
        set_tone(self.state, Tone.GOOD)
        self.start_button.setText("Run again")
        self.start_button.setEnabled(True)
        self.context.notify_changed()
        self.completeChanged.emit()

    def _failed(self, exc: BaseException) -> None:
        self.job = None
        self.start_button.setText("Try again")
        self.start_button.setEnabled(True)
        if isinstance(exc, UserCancelled):
            self.state.setText("Cancelled.")
        elif isinstance(exc, TesseraError):
            self.ran = True
            self.state.setText(f"✗ {message_for(exc)}")
            set_tone(self.state, Tone.BAD)
            self.context.notify_changed()  # a failed drill is recorded too
        else:
            self.state.setText("✗ An unexpected problem stopped the drill.")
            show_error(self, exc)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        """Finish once a drill ran (passed or recorded as failed); Cancel leaves before."""
        return self.job is None and self.ran

    def cancel_running(self) -> None:
        if self.job is not None:
            self.job.cancel()


class DrillWizard(QWizard):
    """Open from a record (``record_id``) or a token (``token_id``), or with neither."""

    def __init__(self, context: AppContext, record_id: str | None = None,
                 token_id: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("drillWizard")
        self.setWindowTitle("Drill")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.choose_page = ChoosePage(context, record_id, token_id)
        self.run_page = RunPage(context, self.choose_page)
        self.addPage(self.choose_page)
        self.addPage(self.run_page)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, False)
        self.resize(560, 360)

    def done(self, result: int) -> None:
        self.run_page.cancel_running()
        super().done(result)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
