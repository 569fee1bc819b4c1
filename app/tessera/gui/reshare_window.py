"""Reshare and revoke: the release window's quorum, then a new share set instead of a reveal.

A reshare (regenerate) lets the quorum of the current version seal the same secret
under a new data key and a new SLIP-39 set — new epoch, optionally other custodians,
threshold or groups. Nothing is shown: the secret never leaves the ceremony object.
A revocation is a reshare without one custodian, after which the record says
*rotation required* and why. Both end on a page with the new fingerprint, the new
sheets to print (while their words exist) and the old sheets to destroy.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from tessera.core.errors import InputError
from tessera.core.wording import version_text
from tessera.custody.lifecycle import NewVersion, current_plan
from tessera.custody.release import CustodianSlot, QuorumCeremony
from tessera.custody.reshare import ReshareCeremony
from tessera.custody.revoke import rotation_reason, start_revoke
from tessera.gui.context import AppContext
from tessera.gui.release_rows import CustodianRow, RowState
from tessera.gui.release_window import ReleaseWindow
from tessera.gui.sheet_handoff import SheetHandoff
from tessera.gui.split_editor import SplitEditor
from tessera.gui.theme import Tone, set_tone
from tessera.gui.widgets import fingerprint_label, heading, muted


class NewVersionPage(QWidget):
    """The outcome: new fingerprint and quorum, sheets to print, sheets to destroy."""

    def __init__(self, context: AppContext, outcome: NewVersion, words: Mapping[str, str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("New version")
        layout = QVBoxLayout(self)
        what = {"rotate": "Rotated", "reshare": "Reshared", "revoke": "Revoked"}[
            outcome.operation]
        layout.addWidget(heading(f"{what}: {outcome.label} is now "
                                 f"{version_text(outcome.version)}"))
        self.summary = QLabel(f"{outcome.quorum.capitalize()} custodians can release it. "
                              f"Fingerprint of the new version:")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.fingerprint = fingerprint_label(outcome.fingerprint, large=True)
        layout.addWidget(self.fingerprint)
        self.state = QLabel(f"Record state: {outcome.state.display}"
                            + (f" — {outcome.state_reason}" if outcome.state_reason else ""))
        self.state.setAccessibleName("Record state")
        self.state.setWordWrap(True)
        if outcome.state_reason:
            set_tone(self.state, Tone.WARN, bold=True)
        layout.addWidget(self.state)
        for warning in outcome.warnings:
            layout.addWidget(muted(f"⚠ {warning.text}"))
        layout.addWidget(heading("New sheets", 2))
        layout.addWidget(muted("Print one sheet per custodian now: the words exist only until "
                               "this window closes. Earlier sheets no longer combine with "
                               "these."))
        self.handoff = SheetHandoff(context)
        self.handoff.set_version(outcome.sealed, words)
        layout.addWidget(self.handoff)
        layout.addWidget(heading("Old sheets to destroy", 2))
        names = {c.id: c.name for c in context.vault.list_custodians(include_retired=True)}
        old = [f"{s.serial} — {names.get(s.custodian_id, s.custodian_id)}, version {s.version}"
               + (f", envelope {s.envelope_no}" if s.envelope_no else "")
               for s in outcome.sheets_to_destroy]
        self.to_destroy = QLabel("\n".join(old) if old else "None: no sheet of an earlier "
                                 "version is outstanding.")
        self.to_destroy.setAccessibleName("Sheets to destroy")
        self.to_destroy.setWordWrap(True)
        layout.addWidget(self.to_destroy)
        if old:
            layout.addWidget(muted("Shred each before a witness, then record it with "
                                   "“Destroy sheets…” in the record's detail pane."))
        layout.addStretch(1)


class ReshareWindow(ReleaseWindow):
    """Reshare (regenerate) one record: quorum, then a new share set."""

    verb = "Reshare"
    reason_hint = "Why reshare now? e.g. a custodian changed role"

    def __init__(self, context: AppContext, record_id: str,
                 parent: QWidget | None = None) -> None:
        self.words: dict[str, str] = {}
        self.outcome: NewVersion | None = None
        self.result_page: NewVersionPage | None = None
        super().__init__(context, record_id, parent)

    def request_extras(self) -> QWidget | None:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(heading("The new share set", 2))
        layout.addWidget(muted("The quorum of the current version approves; the same secret "
                               "is then split afresh among these custodians (a new share set). "
                               "Nothing is revealed."))
        self.editor = SplitEditor(self.context,
                                  policy=self.context.vault.record_policy(self.record.id),
                                  allow_software_choice=False)
        self.editor.record_allows_software = self.record.allow_software
        self.editor.set_plan(current_plan(self.manifest))
        self.editor.changed.connect(self._update_start)
        layout.addWidget(self.editor, 1)
        return box

    def request_ready(self) -> bool:
        return getattr(self, "editor", None) is None or self.editor.problem is None

    def make_ceremony(self, reason: str, ticket: str) -> QuorumCeremony:
        ctx = self.context
        plan = self.editor.plan()
        return ReshareCeremony(ctx.vault, ctx.drivers, self.record.id, reason=reason,
                               ticket=ticket, requested_by=ctx.actor, plan=plan)

    def _keep_words(self, words: Mapping[str, str]) -> None:
        self.words = dict(words)

    def _finish(self) -> None:
        ceremony = self.ceremony
        if not isinstance(ceremony, ReshareCeremony):
            return
        for row in self.rows.values():
            if row.approvals == 0 and row.state is not RowState.NOT_NEEDED:
                row.set_state(RowState.NOT_NEEDED)
        self.status.setText("Quorum met — sealing the new share set…")
        self._run(lambda _p, _c: ceremony.finish(on_mnemonics=self._keep_words),
                  self._sealed, self._finish_failed, f"{self.verb}: seal the new set")

    def _sealed(self, outcome: NewVersion) -> None:
        self.outcome = outcome
        self.context.notify_changed()
        self.result_page = NewVersionPage(self.context, outcome, self.words)
        page = QWidget()
        layout = QVBoxLayout(page)
        scroll = QScrollArea()  # new fingerprint, sheets, confirmations: more than fits
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.result_page)
        layout.addWidget(scroll, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        close = QPushButton("Close")
        close.setAutoDefault(False)  # Enter must not close a window holding share words
        close.clicked.connect(self.close)
        row.addWidget(close)
        layout.addLayout(row)
        self.pages.addWidget(page)
        self.pages.setCurrentWidget(page)

    def forget_words(self) -> None:
        self.words.clear()
        if self.result_page is not None:
            self.result_page.handoff.forget_words()

    def closeEvent(self, event: QCloseEvent) -> None:
        page = self.result_page
        if page is not None and not page.handoff.confirm_leave(self):
            event.ignore()  # the new words stay until they are on paper or discarded
            return
        super().closeEvent(event)
        if event.isAccepted():
            self.forget_words()


class RevokeWindow(ReshareWindow):
    """Reshare without one custodian; the record then requires rotation."""

    verb = "Revoke"
    reason_hint = "Why is this custodian's access being removed?"

    def __init__(self, context: AppContext, record_id: str, custodian_id: str | None = None,
                 parent: QWidget | None = None) -> None:
        self.wanted = custodian_id
        self.revoked_id: str | None = None
        self.revoked_name = ""
        super().__init__(context, record_id, parent)

    def request_extras(self) -> QWidget | None:
        box = QWidget()
        form = QFormLayout(box)
        form.setContentsMargins(0, 8, 0, 0)
        self.custodian_box = QComboBox()
        self.custodian_box.setAccessibleName("Custodian to revoke")
        # No one is chosen for the operator: revoking the first name in a list by
        # accident would cost everyone a ceremony and the record a rotation.
        self.custodian_box.setPlaceholderText("Choose who loses their share…")
        for entry in self.manifest.shares:
            if self.custodian_box.findData(entry.custodian_id) < 0:
                self.custodian_box.addItem(entry.custodian, entry.custodian_id)
        self.custodian_box.setCurrentIndex(
            self.custodian_box.findData(self.wanted) if self.wanted is not None else -1)
        form.addRow("&Revoke:", self.custodian_box)
        self.consequence = QLabel()
        self.consequence.setWordWrap(True)
        self.consequence.setAccessibleName("Rotation required")
        set_tone(self.consequence, Tone.WARN)
        form.addRow(self.consequence)
        self.custodian_box.currentIndexChanged.connect(self._explain)
        self._explain()
        return box

    def _explain(self, *_args: object) -> None:
        if self.custodian_box.currentIndex() < 0:
            self.consequence.setText("")
            self._update_start()
            return
        name = self.custodian_box.currentText()
        self.consequence.setText(
            f"The others reshare without {name}, and the record is then flagged "
            "ROTATION REQUIRED: " + rotation_reason(name, self.manifest.version + 1))
        self._update_start()

    def request_ready(self) -> bool:
        return getattr(self, "custodian_box", None) is not None \
            and self.custodian_box.currentIndex() >= 0 \
            and self.custodian_box.currentData() is not None

    def _update_start(self) -> None:
        if hasattr(self, "start_button"):
            super()._update_start()

    def make_ceremony(self, reason: str, ticket: str) -> QuorumCeremony:
        ctx = self.context
        custodian = self.custodian_box.currentData()
        if not isinstance(custodian, str):
            raise InputError("choose the custodian to revoke")
        self.revoked_id, self.revoked_name = custodian, self.custodian_box.currentText()
        return start_revoke(ctx.vault, ctx.drivers, self.record.id, custodian, reason=reason,
                            ticket=ticket, requested_by=ctx.actor)

    def ceremony_banner(self) -> QWidget | None:
        name = self.revoked_name
        self.setWindowTitle(f"Revoke {name} — {self.record.label}")
        banner = QLabel(f"Revoking <b>{name}</b>: the other custodians approve; {name} "
                        "does not take part and holds no share of the new version.")
        banner.setObjectName("revokeBanner")
        banner.setAccessibleName(f"Revoking {name}")
        banner.setWordWrap(True)
        banner.setStyleSheet("color: #b26a00")
        return banner

    def _row(self, slot: CustodianSlot, paper: bool) -> CustodianRow:
        row = super()._row(slot, paper)
        if slot.custodian_id == self.revoked_id:  # the person being removed approves nothing
            row.set_state(RowState.NOT_NEEDED, "being revoked")
            row.key_button.setVisible(False)
            row.paper_button.setVisible(False)
        return row
