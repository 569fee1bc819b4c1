"""Re-wrap my share: a custodian moves their own share to a new key, without a quorum.

The custodian proves they hold the share — their old key opens the envelope, or they
type the words of their sheet — and the same words are wrapped to the keys they pick
(by default every other active key of theirs; ticking the old key too keeps it, which
is how a classical envelope becomes post-quantum); the old key's stanza is gone.
Nothing about the record changes: same fingerprint, same sheets. Runs on the token
worker.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from tessera.core.envelopes import EnvelopeKind, envelope_kind
from tessera.core.errors import ShareMismatch, TesseraError, UserCancelled
from tessera.custody.rewrap import RewrapResult, rewrap_with_paper, rewrap_with_token
from tessera.gui.context import AppContext
from tessera.gui.errors import message_for, show_error
from tessera.gui.paper_entry import PaperEntry
from tessera.gui.prompts import PromptState
from tessera.gui.theme import Tone, set_tone
from tessera.gui.widgets import SearchableChoice, muted
from tessera.gui.worker import Job
from tessera.tokens.base import Prompts, TokenInfo, TokenState
from tessera.vault import RecordState

_STATE_TEXT = {PromptState.PIN: "Enter the PIN of your old key…",
               PromptState.TOUCH: "Touch your old key…",
               PromptState.INSERT: "Plug in your old key…",
               PromptState.WORKING: "Opening your share…"}
OPEN_STATES = (RecordState.SEALED, RecordState.RELEASED, RecordState.ROTATION_REQUIRED)


class WhosePage(QWizardPage):
    """The record and the custodian whose share moves."""

    def __init__(self, context: AppContext, record_id: str | None,
                 custodian_id: str | None) -> None:
        super().__init__()
        self.context = context
        self.setTitle("Re-wrap my share")
        self.setSubTitle("Replacing a key? Move your share to your new key yourself: you "
                         "prove you hold it with your old key or your sheet. No quorum is "
                         "needed and the record, its fingerprint and its sheets stay as "
                         "they are.")
        self.record_box = SearchableChoice("Record")  # thousands of records: type to find
        self.custodian_box = QComboBox()
        self.custodian_box.setAccessibleName("Custodian")
        form = QFormLayout(self)
        form.addRow("&Record:", self.record_box)
        form.addRow("&Custodian:", self.custodian_box)
        self.note = muted("")
        self.note.setWordWrap(True)
        form.addRow(self.note)
        for record in context.vault.list_records():
            if record.state in OPEN_STATES:
                self.record_box.addItem(record.label, record.id)
        self.record_box.changed.connect(self._fill_custodians)
        self.custodian_box.currentIndexChanged.connect(lambda _i: self.completeChanged.emit())
        self._wanted_custodian = custodian_id
        if record_id is not None:
            self.record_box.setCurrentIndex(max(0, self.record_box.findData(record_id)))
        elif custodian_id is not None:
            for i in range(self.record_box.count()):
                if custodian_id in self._holders(str(self.record_box.itemData(i))):
                    self.record_box.setCurrentIndex(i)
                    break
        self._fill_custodians()

    def _holders(self, record_id: str) -> dict[str, str]:
        manifest = self.context.vault.get_version(record_id).manifest
        return {s.custodian_id: s.custodian for s in manifest.shares}

    def _fill_custodians(self) -> None:
        self.custodian_box.clear()
        if self.record_id is not None:
            for cid, name in self._holders(self.record_id).items():
                self.custodian_box.addItem(name, cid)
        if self._wanted_custodian is not None:
            index = self.custodian_box.findData(self._wanted_custodian)
            if index >= 0:
                self.custodian_box.setCurrentIndex(index)
        self.note.setText("" if self.record_box.count() else "No open record to re-wrap.")
        self.completeChanged.emit()

    @property
    def record_id(self) -> str | None:
        data = self.record_box.value()
        return data if isinstance(data, str) else None

    @property
    def custodian_id(self) -> str | None:
        data = self.custodian_box.currentData()
        return data if isinstance(data, str) else None

    def isComplete(self) -> bool:
        return self.record_id is not None and self.custodian_id is not None


class ProvePage(QWizardPage):
    """Old key or sheet words, the new keys, and the re-wrap itself."""

    def __init__(self, context: AppContext, whose: WhosePage) -> None:
        super().__init__()
        self.context = context
        self.whose = whose
        self.result: RewrapResult | None = None
        self.job: Job[RewrapResult] | None = None
        self.setTitle("Prove you hold the share, choose the new key")
        self.by_token = QRadioButton("With my &old key")
        self.by_paper = QRadioButton("With the words of my &sheet")
        group = QButtonGroup(self)
        group.addButton(self.by_token)
        group.addButton(self.by_paper)
        self.old_token = QComboBox()
        self.old_token.setAccessibleName("Old key")
        self.paper = PaperEntry()
        self.paper.setVisible(False)
        self.new_tokens = QListWidget()
        self.new_tokens.setAccessibleName("New keys")
        self.new_tokens.setMaximumHeight(96)
        self.run_button = QPushButton("&Re-wrap")
        self.run_button.setAccessibleName("Re-wrap the share")
        self.state = QLabel("")
        self.state.setObjectName("rewrapResult")
        self.state.setWordWrap(True)
        font = QFont(self.state.font())
        font.setBold(True)
        self.state.setFont(font)
        layout = QVBoxLayout(self)
        layout.addWidget(self.by_token)
        old_row = QHBoxLayout()
        old_row.setContentsMargins(24, 0, 0, 0)
        old_row.addWidget(self.old_token, 1)
        layout.addLayout(old_row)
        layout.addWidget(self.by_paper)
        layout.addWidget(self.paper)
        layout.addWidget(QLabel("Wrap my share to these keys:"))
        layout.addWidget(self.new_tokens)
        self.envelope_note = muted("")
        self.envelope_note.setObjectName("envelopeNote")
        self.envelope_note.setWordWrap(True)
        layout.addWidget(self.envelope_note)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.state, 1)
        layout.addLayout(run_row)
        layout.addStretch(1)
        self.by_token.toggled.connect(self._method_changed)
        self.old_token.currentIndexChanged.connect(self._fill_new)
        self.paper.changed.connect(self._update_button)
        self.new_tokens.itemChanged.connect(self._update_button)
        self.run_button.clicked.connect(self.start)

    # -- filling -------------------------------------------------------------------------
    def initializePage(self) -> None:
        self.result = None
        self.state.setText("")
        set_tone(self.state, Tone.NORMAL)
        self.old_token.clear()
        for token in self.old_tokens():
            suffix = f" ({token.state.value})" if token.state is not TokenState.ACTIVE else ""
            self.old_token.addItem(f"{token.label} — {token.kind.display_name}{suffix}",
                                   token.id)
        if self.old_token.count():
            self.by_token.setChecked(True)
        else:
            self.by_paper.setChecked(True)
        self.by_token.setEnabled(bool(self.old_token.count()))
        self._method_changed()

    def old_tokens(self) -> list[TokenInfo]:
        """The custodian's keys (not lost) that open their share now."""
        record_id, cid = self.whose.record_id, self.whose.custodian_id
        if record_id is None or cid is None:
            return []
        data = self.context.vault.get_version(record_id)
        recipients = {r for e in data.manifest.shares_of(cid) for r in data.recipients_of(e.key)}
        return [t for t in self.context.vault.list_tokens(cid, include_inactive=True)
                if t.state is not TokenState.LOST and t.named_in(recipients)
                and not t.remote]

    def _method_changed(self, *_args: object) -> None:
        paper = self.by_paper.isChecked()
        self.paper.setVisible(paper)
        self.old_token.setEnabled(not paper)
        self._fill_new()

    def _fill_new(self, *_args: object) -> None:
        self.new_tokens.blockSignals(True)
        self.new_tokens.clear()
        cid = self.whose.custodian_id
        old = None if self.by_paper.isChecked() else self.old_token.currentData()
        if cid is not None:
            for token in self.context.vault.list_tokens(cid):
                if token.state is not TokenState.ACTIVE:
                    continue
                # The opening key is offered unticked: tick it to keep it, e.g. to move
                # the same keys' share to a post-quantum envelope.
                same = token.id == old
                text = f"{token.label} — {token.kind.display_name}"
                if same:
                    text += " (opens it now; tick to keep it)"
                item = QListWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, token.id)
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Unchecked if same else Qt.CheckState.Checked)
                self.new_tokens.addItem(item)
        self.new_tokens.blockSignals(False)
        self.envelope_note.setText(self._envelope_text())
        if not self.new_tokens.count():
            self.state.setText("Enrol your new key first (Custodians ▸ Add token).")
        self._update_button()

    def _envelope_text(self) -> str:
        """Whether the share's envelope is post-quantum now, and how to make it so."""
        record_id, cid = self.whose.record_id, self.whose.custodian_id
        if record_id is None or cid is None:
            return ""
        data = self.context.vault.get_version(record_id)
        entries = data.manifest.shares_of(cid)
        if all(envelope_kind(data.recipients_of(e.key)) is EnvelopeKind.HYBRID
               for e in entries):
            return "Your share's envelope is post-quantum."
        return ("Your share's envelope is classical (not post-quantum). Re-wrapping it to "
                "your keys — tick the one you open it with to keep it — makes it "
                "post-quantum where the record's policy and every key allow.")

    def chosen_new(self) -> list[str]:
        return [str(self.new_tokens.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.new_tokens.count())
                if self.new_tokens.item(i).checkState() == Qt.CheckState.Checked]

    def _update_button(self, *_args: object) -> None:
        proof = (self.paper.complete and self.paper.check() is None) if self.by_paper.isChecked() \
            else self.old_token.currentData() is not None
        self.run_button.setEnabled(proof and bool(self.chosen_new()) and self.job is None
                                   and self.result is None)

    # -- running -------------------------------------------------------------------------
    def start(self) -> None:
        record_id, cid = self.whose.record_id, self.whose.custodian_id
        if record_id is None or cid is None or self.job is not None \
                or not self.context.ready_to_change(self):
            return
        ctx = self.context
        new = self.chosen_new()
        by_paper = self.by_paper.isChecked()
        words = self.paper.phrase() if by_paper else ""
        old = "" if by_paper else str(self.old_token.currentData())

        def work(prompts: Prompts, cancel: threading.Event) -> RewrapResult:
            if by_paper:
                return rewrap_with_paper(ctx.vault, record_id, cid, words, actor=ctx.actor,
                                         new_token_ids=new)
            return rewrap_with_token(ctx.vault, ctx.drivers, record_id, old, prompts,
                                     cancel, actor=ctx.actor, new_token_ids=new)

        set_tone(self.state, Tone.NORMAL)
        self.state.setText("Working…")
        self.job = ctx.worker.submit(work, on_success=self._done, on_failure=self._failed,
                                     parent=self, title="Re-wrap a share",
                                     on_state=lambda s: self.state.setText(_STATE_TEXT[s]))
        self._update_button()
        self.completeChanged.emit()

    def _done(self, result: RewrapResult) -> None:
        self.job = None
        self.result = result
        self.paper.clear_words()
        removed = f" It no longer opens with {', '.join(result.removed)}." if result.removed \
            else ""
        kind = "post-quantum" if result.envelopes == "hybrid" else "classical"
        self.state.setText(f"✓ {result.custodian}'s share of {result.label} now opens with "
                           f"{', '.join(result.added)} ({kind} envelope).{removed}")
        set_tone(self.state, Tone.GOOD)
        self.context.notify_changed()
        self._update_button()
        self.completeChanged.emit()

    def _failed(self, exc: BaseException) -> None:
        self.job = None
        if isinstance(exc, UserCancelled):
            self.state.setText("Cancelled.")
        elif isinstance(exc, ShareMismatch) and exc.word_index is not None:
            self.paper.mark_suspect(exc.word_index)
            self.state.setText(f"✗ {exc.custodian}'s share does not match this record — check "
                               f"word {exc.word_index}")
            set_tone(self.state, Tone.BAD)
        elif isinstance(exc, TesseraError):
            self.state.setText(f"✗ {message_for(exc)}")
            set_tone(self.state, Tone.BAD)
        else:
            self.state.setText("✗ An unexpected problem stopped the re-wrap.")
            show_error(self, exc)
        self._update_button()
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.result is not None

    def cancel_running(self) -> None:
        if self.job is not None:
            self.job.cancel()
        self.paper.clear_words()


class RewrapWizard(QWizard):
    """Open with a record and/or custodian preselected, or with neither."""

    def __init__(self, context: AppContext, record_id: str | None = None,
                 custodian_id: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rewrapWizard")
        self.setWindowTitle("Re-wrap my share")
        self.setAccessibleName("Re-wrap wizard")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.whose_page = WhosePage(context, record_id, custodian_id)
        self.prove_page = ProvePage(context, self.whose_page)
        self.addPage(self.whose_page)
        self.addPage(self.prove_page)
        self.resize(720, 640)

    def done(self, result: int) -> None:
        self.prove_page.cancel_running()
        super().done(result)
