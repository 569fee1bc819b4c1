"""The quorum release window: request, custodians contributing one at a time, reveal.

First page: the record, its fingerprint shown large (custodians compare it with their
sealed sheets) and the reason and ticket, both required. Then one row per custodian
(grouped when the record has groups): each approves with their key (PIN, then touch)
or types their sheet's words. Every share is checked at once, so a bad one is named
in its row; the release completes the moment the quorum is met and the secret is
shown in a :class:`~tessera.gui.reveal.RevealDialog`.

All ceremony work (starting, contributing, combining, aborting) runs on the token
worker, one step at a time, so the ceremony object is only ever touched by one thread
and the GUI thread never waits on a device or on key derivation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QFont, QFontDatabase, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from tessera.core.errors import ShareMismatch, TesseraError, UserCancelled
from tessera.core.quorum import Contribution
from tessera.core.wording import version_text
from tessera.custody.release import CustodianSlot, QuorumCeremony, ReleaseCeremony
from tessera.gui.context import AppContext
from tessera.gui.errors import message_for, show_error
from tessera.gui.key_prompts import run_with_key
from tessera.gui.paper_entry import PaperEntryDialog
from tessera.gui.prompts import PromptState, ask_again_on_wrong_pin
from tessera.gui.release_rows import CustodianRow, RowState
from tessera.gui.release_scan import ask_scan_path, share_words
from tessera.gui.reveal import CLIPBOARD_CLEAR_MS, RevealDialog
from tessera.gui.theme import Tone, set_tone
from tessera.gui.typed_text import typed_text_problem
from tessera.gui.worker import Job
from tessera.sheets.scan import scan_file
from tessera.tokens.base import Prompts

log = logging.getLogger(__name__)

_ROW_FOR_PROMPT = {PromptState.PIN: RowState.PIN, PromptState.TOUCH: RowState.TOUCH,
                   PromptState.INSERT: RowState.INSERT, PromptState.WORKING: RowState.WORKING}


def fingerprint_font(scale: float) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSizeF(max(font.pointSizeF(), 10.0) * scale)
    font.setBold(True)
    return font


def confirm_abort(parent: QWidget) -> bool:
    """Ask before throwing away the approvals collected so far (tests replace this)."""
    what = str(getattr(parent, "verb", "Release")).lower()
    answer = QMessageBox.question(
        parent, f"Stop this {what}?",
        f"The approvals collected so far will be discarded and the {what} is recorded as "
        f"aborted. Custodians will have to approve again in a new {what}.",
        QMessageBox.StandardButton.Abort | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Abort


class ReleaseWindow(QWidget):
    """A quorum release of one record's current version.

    Reshare and revoke collect the same quorum: their windows subclass this one and
    replace :meth:`make_ceremony`, :meth:`request_extras` and :meth:`_finish`.
    """

    verb = "Release"
    reason_hint = "Why is the secret needed now?"

    released = Signal(str)  # record id, once the record is released
    confirm_abort: Callable[[QWidget], bool] = staticmethod(confirm_abort)
    ask_scan_path: Callable[[QWidget], Path | None] = staticmethod(ask_scan_path)

    def __init__(self, context: AppContext, record_id: str, parent: QWidget | None = None, *,
                 clipboard_clear_ms: int = CLIPBOARD_CLEAR_MS) -> None:
        super().__init__(parent)
        # A dialog-type window of the main window: window managers keep it in front of
        # its parent, so pressing a Touch button in the keys panel cannot bury it.
        self.setWindowFlags(Qt.WindowType.Dialog | Qt.WindowType.WindowTitleHint
                            | Qt.WindowType.WindowSystemMenuHint
                            | Qt.WindowType.WindowMinMaxButtonsHint
                            | Qt.WindowType.WindowCloseButtonHint)
        self.setObjectName("releaseWindow")
        self.context = context
        self.record = context.vault.get_record(record_id)
        self.manifest = context.vault.get_version(self.record.id).manifest
        self.clipboard_clear_ms = clipboard_clear_ms
        self.ceremony: QuorumCeremony | None = None
        self.rows: dict[str, CustodianRow] = {}
        self.job: Job[object] | None = None
        self.paper_dialog: PaperEntryDialog | None = None
        self.reveal_dialog: RevealDialog | None = None
        self.setWindowTitle(f"{self.verb} — {self.record.label}")
        self.pages = QStackedWidget()
        self.pages.addWidget(self._request_page())
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self.resize(760, 560)
        # Escape closes like any dialog (an open quorum still asks before aborting)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Cancel), self, self.close)

    # -- page 1: the request ------------------------------------------------------------
    def _header(self, parent_layout: QVBoxLayout, scale: float) -> None:
        title = QLabel(self.record.label)
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)
        title.setWordWrap(True)
        parent_layout.addWidget(title)
        facts = [f"{k}: {v}" for k, v in self.record.nhi.items()]
        facts.append(version_text(self.manifest.version))
        facts.append(f"{self.manifest.describe_quorum()} custodians")
        sub = QLabel(" · ".join(facts))
        sub.setWordWrap(True)
        parent_layout.addWidget(sub)
        caption = QLabel("Fingerprint — compare it with the one printed on your sheet:")
        parent_layout.addWidget(caption)
        fingerprint = QLabel(self.manifest.fingerprint)
        fingerprint.setObjectName("fingerprint")
        fingerprint.setFont(fingerprint_font(scale))
        fingerprint.setWordWrap(True)
        fingerprint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        fingerprint.setAccessibleName("Record fingerprint")
        fingerprint.setStyleSheet("padding: 6px; border: 1px solid palette(mid);"
                                  "border-radius: 4px")
        parent_layout.addWidget(fingerprint)

    def _request_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self._header(layout, 1.6)
        layout.addSpacing(12)
        form = QFormLayout()
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText(self.reason_hint)
        self.reason_edit.setAccessibleName("Reason")
        self.ticket_edit = QLineEdit()
        self.ticket_edit.setPlaceholderText("Incident or change ticket, e.g. INC-1042")
        self.ticket_edit.setAccessibleName("Ticket")
        form.addRow("&Reason:", self.reason_edit)
        form.addRow("&Ticket:", self.ticket_edit)
        layout.addLayout(form)
        note = QLabel("Both are required and are recorded in the audit log with every "
                      "approval.")
        note.setWordWrap(True)
        layout.addWidget(note)
        extras = self.request_extras()
        if extras is not None:
            layout.addWidget(extras, 1)
        self.request_status = QLabel("")
        self.request_status.setWordWrap(True)
        set_tone(self.request_status, Tone.BAD)
        layout.addWidget(self.request_status)
        layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.close)
        self.start_button = QPushButton(f"Start {self.verb.lower()}")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        buttons.addWidget(cancel)
        buttons.addWidget(self.start_button)
        layout.addLayout(buttons)
        for edit in (self.reason_edit, self.ticket_edit):
            edit.textChanged.connect(self._update_start)
            edit.returnPressed.connect(self.start)
        self._update_start()
        return page

    def request_extras(self) -> QWidget | None:
        """More choices on the request page (a reshare's new custodian set)."""
        return None

    def ceremony_banner(self) -> QWidget | None:
        """What this quorum is for, above the custodians (a revoke names who goes)."""
        return None

    def request_ready(self) -> bool:
        """Whether the extra choices allow starting."""
        return True

    def make_ceremony(self, reason: str, ticket: str) -> QuorumCeremony:
        """Open the ceremony (runs on the worker)."""
        ctx = self.context
        return ReleaseCeremony(ctx.vault, ctx.drivers, self.record.id, reason=reason,
                               ticket=ticket, requested_by=ctx.actor)

    def _update_start(self) -> None:
        problem = typed_text_problem([("reason", self.reason_edit.text()),
                                      ("ticket reference", self.ticket_edit.text())])
        # Name a refused character inline; clear only what this check itself showed.
        if problem is not None or getattr(self, "_typed_problem", None):
            self.request_status.setText(problem or "")
        self._typed_problem = problem
        ready = bool(self.reason_edit.text().strip() and self.ticket_edit.text().strip())
        self.start_button.setEnabled(ready and problem is None and self.job is None
                                     and self.request_ready())

    def start(self) -> None:
        """Record the release request (on the worker) and go to the custodians page."""
        reason, ticket = self.reason_edit.text().strip(), self.ticket_edit.text().strip()
        if not (reason and ticket) or self.job is not None or self.ceremony is not None \
                or not self.request_ready() or not self.context.ready_to_change(self):
            return
        self._run(lambda _p, _c: self.make_ceremony(reason, ticket),
                  self._started, self._start_failed, f"Start the {self.verb.lower()}")
        self._update_start()

    def _start_failed(self, exc: BaseException) -> None:
        if isinstance(exc, TesseraError):
            self.request_status.setText(message_for(exc))
        else:
            show_error(self, exc)
        self._update_start()

    def _started(self, ceremony: QuorumCeremony) -> None:
        self.ceremony = ceremony
        self.pages.addWidget(self._ceremony_page(ceremony))
        self.pages.setCurrentIndex(1)
        self.context.notify_changed()
        self._refresh()
        self._focus_next()

    def _focus_next(self, prefer: CustodianRow | None = None) -> None:
        """Give the cursor to the next sensible step: this custodian again (a retry) or
        the next one who can still approve — never "Abort", where Space would ask to
        throw the approvals away."""
        rows = ([prefer] if prefer is not None else []) + list(self.rows.values())
        for row in rows:
            for button in (row.key_button, row.paper_button):
                if button.isVisibleTo(row) and button.isEnabled():
                    button.setFocus(Qt.FocusReason.OtherFocusReason)
                    return

    # -- page 2: the custodians ---------------------------------------------------------
    def _ceremony_page(self, ceremony: QuorumCeremony) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self._header(layout, 1.2)
        request = QLabel(f"Reason: {ceremony.request.reason} · Ticket: {ceremony.request.ticket}"
                         f" · requested by {ceremony.actor}")
        request.setWordWrap(True)
        request.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(request)
        banner = self.ceremony_banner()
        if banner is not None:
            layout.addWidget(banner)
        progress_row = QHBoxLayout()
        self.progress_label = QLabel()
        self.progress_label.setObjectName("progress")
        font = QFont(self.progress_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.progress_label.setFont(font)
        progress_row.addWidget(self.progress_label)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setAccessibleName("Approvals")
        progress_row.addWidget(self.progress_bar, 1)
        layout.addLayout(progress_row)
        self.status = QLabel("Custodians approve one at a time, with their key or their "
                             "sealed sheet.")
        self.status.setObjectName("releaseStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

        rows_widget = QWidget()
        rows_layout = QVBoxLayout(rows_widget)
        paper = ceremony.policy.paper_in_release
        slots = ceremony.slots()
        groups = self.manifest.groups
        for index, spec in enumerate(groups):
            members = [s for s in slots if s.groups and s.groups[0] == index]
            if len(groups) > 1:
                box = QGroupBox(f"Group {index + 1} — any {spec.threshold} of {spec.count}")
                box_layout = QVBoxLayout(box)
                for slot in members:
                    box_layout.addWidget(self._row(slot, paper))
                rows_layout.addWidget(box)
            else:
                for slot in members:
                    rows_layout.addWidget(self._row(slot, paper))
        rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(rows_widget)
        layout.addWidget(scroll, 1)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.close_button = QPushButton(f"Abort {self.verb.lower()}")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.close)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        return page

    def _row(self, slot: CustodianSlot, paper: bool) -> CustodianRow:
        row = CustodianRow(slot, paper_allowed=paper)
        row.token_chosen.connect(self.contribute_token)
        row.paper_chosen.connect(self.open_paper_entry)
        self.rows[slot.custodian_id] = row
        return row

    def _refresh(self) -> None:
        if self.ceremony is None:
            return
        progress = self.ceremony.progress()
        if len(progress.groups) == 1:
            g = progress.groups[0]
            have = min(g.have, g.need)
            self.progress_bar.setRange(0, g.need)
            self.progress_bar.setValue(have)
            more = g.need - have
            tail = f" — {more} more needed" if more > 0 else " — quorum met"
            self.progress_label.setText(f"{progress.describe()} approvals")
            self.progress_bar.setToolTip(progress.describe() + tail)
            self.progress_label.setAccessibleName(progress.describe() + tail)
        else:
            self.progress_bar.setRange(0, progress.group_threshold)
            self.progress_bar.setValue(min(progress.groups_complete, progress.group_threshold))
            self.progress_label.setText(progress.describe())
        idle = self.job is None and not self.ceremony.finished and not progress.complete
        for row in self.rows.values():
            row.set_enabled_actions(idle)

    # -- contributing ----------------------------------------------------------------------
    def contribute_token(self, custodian_id: str, token_id: str) -> None:
        ceremony, row = self.ceremony, self.rows[custodian_id]
        if ceremony is None or self.job is not None:
            return
        row.set_state(RowState.WORKING)
        self.status.setText(f"{row.slot.name}: follow the prompts of your key.")

        def on_state(state: PromptState) -> None:
            row.set_state(_ROW_FOR_PROMPT[state])

        token = next(t for t in row.slot.tokens if t.id == token_id)
        drivers = self.context.drivers

        def contribute(prompts: Prompts, cancel: threading.Event) -> Contribution:
            return run_with_key(  # a missing key: "Insert Carol's key", then on
                drivers, token, prompts, cancel,
                lambda: ceremony.contribute_token(token_id, prompts, cancel))

        self._run(ask_again_on_wrong_pin(contribute),
                  lambda c: self._accepted(row, c), lambda e: self._refused(row, e),
                  f"{row.slot.name} approves the {self.verb.lower()}", on_state)

    def open_paper_entry(self, custodian_id: str) -> None:
        if self.ceremony is None or self.job is not None:
            return
        row = self.rows[custodian_id]
        dialog = PaperEntryDialog(row.slot.name, self, scan=lambda d: self.scan_sheet(row, d),
                                  fingerprint=self.manifest.fingerprint, purpose=self.verb)
        # Not deleted on close: its deferred deletion, when this window closed with the
        # dialog open (a quorum aborted), crashed the app now and then (QObject::~QObject
        # in the deferred delete; 5 of 8 runs of the reshare test under CPU load, 0 of 8
        # without). The dialog is this window's child and goes with it; its words are
        # cleared when it closes (PaperEntryDialog.done).
        dialog.submitted.connect(lambda words: self._contribute_paper(row, dialog, words))
        dialog.finished.connect(lambda _r: self._paper_closed(dialog))
        self.paper_dialog = dialog
        dialog.open()

    def scan_sheet(self, row: CustodianRow, dialog: PaperEntryDialog) -> None:
        """Fill the grid from a scan of the sheet's share QR code (decoded off-thread)."""
        if self.job is not None:
            return
        path = type(self).ask_scan_path(dialog)
        if path is None:
            return
        dialog.set_busy(True)
        dialog.status.setText(f"Reading {path.name}…")
        manifest, name, keys = self.manifest, row.slot.name, row.slot.share_keys

        def scanned(words: tuple[str, ...]) -> None:
            dialog.set_busy(False)
            dialog.entry.set_words(words)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, TesseraError):
                dialog.show_problem(message_for(exc))
            else:
                dialog.show_problem("The image could not be read.")
                show_error(dialog, exc)
            self._refresh()

        self._run(lambda _p, _c: share_words(scan_file(path), manifest, name, keys),
                  scanned, failed, f"Read {name}'s sheet scan")

    def _paper_closed(self, dialog: PaperEntryDialog) -> None:
        if self.paper_dialog is dialog:
            self.paper_dialog = None

    def _contribute_paper(self, row: CustodianRow, dialog: PaperEntryDialog, words: str) -> None:
        ceremony = self.ceremony
        if ceremony is None or self.job is not None:
            dialog.show_problem("Another custodian's step is still running; try again.")
            return
        row.set_state(RowState.WORKING)
        custodian_id = row.slot.custodian_id

        def accepted(contribution: Contribution) -> None:
            dialog.accept()
            self._accepted(row, contribution)

        def refused(exc: BaseException) -> None:
            if isinstance(exc, ShareMismatch):
                text = (f"{exc.custodian}'s share does not match this record — check word "
                        f"{exc.word_index}" if exc.word_index is not None else message_for(exc))
                dialog.show_problem(text, exc.word_index)
            elif isinstance(exc, TesseraError):
                dialog.show_problem(message_for(exc))
            self._refused(row, exc)

        self._run(lambda _p, _c: ceremony.contribute_paper(custodian_id, words),
                  accepted, refused, f"{row.slot.name}'s sheet")

    def _accepted(self, row: CustodianRow, contribution: Contribution) -> None:
        row.approved()
        self.context.notify_changed()
        if self.ceremony is not None and self.ceremony.complete:
            self._finish()
        else:
            self.status.setText(f"{contribution.custodian} approved. Next custodian, please.")
        self._refresh()
        if self.job is None:
            self._focus_next()

    def _refused(self, row: CustodianRow, exc: BaseException) -> None:
        if isinstance(exc, UserCancelled):
            row.set_state(RowState.WAITING, "cancelled — waiting")
            self.status.setText(f"{row.slot.name} cancelled. Anyone may go next.")
        elif isinstance(exc, ShareMismatch) and exc.word_index is not None:
            row.set_state(RowState.FAILED, f"{exc.custodian}'s share does not match this "
                                           f"record — check word {exc.word_index}")
        elif isinstance(exc, TesseraError):
            row.set_state(RowState.FAILED, message_for(exc))
        else:
            row.set_state(RowState.FAILED, "unexpected problem (see the report)")
            show_error(self, exc)
        self._refresh()
        self._focus_next(prefer=row)

    # -- completion ------------------------------------------------------------------------
    def _finish(self) -> None:
        ceremony = self.ceremony
        if not isinstance(ceremony, ReleaseCeremony):
            return
        for row in self.rows.values():
            if row.approvals == 0:
                row.set_state(RowState.NOT_NEEDED)
        self.status.setText("Quorum met — combining the shares…")
        self._run(lambda _p, _c: ceremony.finish(), self._reveal, self._finish_failed,
                  "Combine the shares")

    def _finish_failed(self, exc: BaseException) -> None:
        self.status.setText("The shares could not be combined.")
        show_error(self, exc)
        self._refresh()

    def _reveal(self, secret: bytearray) -> None:
        ceremony = self.ceremony
        if ceremony is None:
            return
        self.context.notify_changed()
        state = self.context.vault.get_record(self.record.id).state
        self.status.setText(f"Released. The record is now {state.display}.")
        self.close_button.setText("Close")
        self.reveal_dialog = RevealDialog(
            secret, record_label=self.record.label, fingerprint=self.manifest.fingerprint,
            binary=self.manifest.payload_encoding == "binary",
            close_after_s=ceremony.policy.max_reveal_seconds,
            clipboard_clear_ms=self.clipboard_clear_ms, parent=self)
        self.reveal_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.reveal_dialog.show()
        self.released.emit(self.record.id)
        self._refresh()

    # -- running steps -----------------------------------------------------------------------
    def _run(self, fn: Callable[..., object], success: Callable[..., None],
             failure: Callable[[BaseException], None], title: str,
             on_state: Callable[[PromptState], None] | None = None) -> None:
        def done_ok(value: object) -> None:
            self.job = None
            success(value)

        def done_bad(exc: BaseException) -> None:
            self.job = None
            failure(exc)

        self.job = self.context.worker.submit(fn, on_success=done_ok, on_failure=done_bad,
                                              parent=self, title=title, on_state=on_state)
        self._refresh()

    # -- closing -------------------------------------------------------------------------------
    @property
    def open_release(self) -> bool:
        return self.ceremony is not None and not self.ceremony.finished

    def abandon(self) -> None:
        """The app is being stopped by a signal: abort the unfinished quorum at once,
        on this thread, without asking; closing the window then asks nothing."""
        if self.job is not None:
            self.job.cancel()
        ceremony = self.ceremony
        if ceremony is not None and not ceremony.finished:
            try:
                ceremony.abort()
            except TesseraError:
                log.warning("the open release could not be aborted", exc_info=False)

    def closeEvent(self, event: QCloseEvent) -> None:
        ceremony = self.ceremony
        if ceremony is not None and not ceremony.finished and not ceremony.complete:
            if not type(self).confirm_abort(self):
                event.ignore()
                return
            if self.job is not None:
                self.job.cancel()
            ctx = self.context
            ctx.worker.submit(lambda _p, _c: ceremony.abort(),
                              on_success=lambda _v: ctx.notify_changed(),
                              on_failure=lambda exc: show_error(None, exc),
                              title=f"Stop the {self.verb.lower()}")
        elif self.job is not None:
            self.job.cancel()
        if self.paper_dialog is not None:
            self.paper_dialog.reject()
        if self.reveal_dialog is not None and shiboken6.isValid(self.reveal_dialog):
            self.reveal_dialog.reject()  # wipes the secret; a child would not be asked
        super().closeEvent(event)
