"""Sign a vault's genesis in the desktop app (`tessera audit adopt`, FORMAT §7.1).

An unsigned vault says so in the status bar and offers this dialog: more than half of
the custodians who hold a signing token touch their keys in turn, on the token worker
with the usual PIN and touch prompts. The vault's state is signed once; from then on
every change is signed by the operator's token. The dialog then shows the genesis
fingerprint and offers the genesis sheet as a PDF (custody/sheets.genesis_transcript),
to print and keep with the recovery sheets.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QLocale, Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tessera.custody.signing import Adopted, adopt, format_fingerprint
from tessera.gui.errors import show_error
from tessera.gui.operator import OperatorSession, Purposed, operator_text, operator_tokens
from tessera.gui.theme import Tone, set_tone
from tessera.gui.widgets import fingerprint_label
from tessera.sheets.model import Paper
from tessera.vault.statements import genesis_quorum

if TYPE_CHECKING:
    from tessera.gui.context import AppContext
    from tessera.gui.worker import Job


def ask_sheet_path(parent: QWidget) -> Path | None:
    """Where to save the genesis sheet (tests replace this seam)."""
    name, _ = QFileDialog.getSaveFileName(parent, "Save the genesis sheet",
                                          "tessera-genesis-sheet.pdf", "PDF (*.pdf)")
    return Path(name) if name else None


class GenesisDialog(QDialog):
    """Choose the founding custodians, collect their touches, show the fingerprint."""

    def __init__(self, context: AppContext, session: OperatorSession,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.session = session
        self.adopted: Adopted | None = None
        self.job: Job[Adopted] | None = None
        self.setWindowTitle("Sign the vault")
        self.setObjectName("genesisDialog")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        self.tokens = operator_tokens(context.vault)
        people = {t.custodian_id for t in self.tokens}
        self.need = genesis_quorum(len(people))
        self.intro = QLabel(
            "<b>This vault's state is not signed yet.</b> Anyone who can write the vault "
            "file could change a custodian's key, the policy or the log without it being "
            "noticed.<br><br>Signing it (its <i>genesis</i>) takes the keys of more than half "
            f"of the custodians who hold one: <b>{self.need} of {len(people)}</b>. Each "
            "touches their key in turn. From then on every change is signed by the key of "
            "the person who makes it.")
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        self.choice = QListWidget()
        self.choice.setAccessibleName("Custodians who sign the genesis")
        seen: set[str] = set()
        for token in self.tokens:
            item = QListWidgetItem(operator_text(token))
            item.setData(Qt.ItemDataRole.UserRole, token.id)
            first = token.custodian_id not in seen
            seen.add(token.custodian_id)
            item.setCheckState(Qt.CheckState.Checked if first else Qt.CheckState.Unchecked)
            self.choice.addItem(item)
        self.choice.itemChanged.connect(lambda _item: self._update())
        layout.addWidget(self.choice)
        self.status = QLabel()
        self.status.setObjectName("genesisStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.fingerprint = fingerprint_label(large=True)
        self.fingerprint.setAccessibleName("Genesis fingerprint")
        self.fingerprint.hide()
        layout.addWidget(self.fingerprint)
        buttons = QHBoxLayout()
        self.sheet_button = QPushButton("Save the &genesis sheet (PDF)…")
        self.sheet_button.clicked.connect(self.save_sheet)
        self.sheet_button.hide()
        self.sign_button = QPushButton("&Sign with these keys")
        self.sign_button.setDefault(True)
        self.sign_button.clicked.connect(self.sign)
        self.close_button = QPushButton("Cancel")
        self.close_button.clicked.connect(self.reject)
        buttons.addWidget(self.sheet_button)
        buttons.addStretch(1)
        buttons.addWidget(self.sign_button)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self._update()

    @classmethod
    def start(cls, parent: QWidget | None, context: AppContext,
              session: OperatorSession) -> GenesisDialog:
        """Open the dialog, not modal: the virtual keys' Touch buttons (in the main
        window) must stay usable while the custodians touch in turn."""
        dialog = cls(context, session, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def chosen_ids(self) -> list[str]:
        return [str(self.choice.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.choice.count())
                if self.choice.item(i).checkState() == Qt.CheckState.Checked]

    def _update(self) -> None:
        if self.adopted is not None:
            return
        chosen = set(self.chosen_ids())
        people = {t.custodian_id for t in self.tokens if t.id in chosen}
        if not self.tokens:
            self.status.setText("No custodian holds a key that can sign. Enrol custodians "
                                "with their keys first.")
            set_tone(self.status, Tone.WARN)
        elif len(people) < self.need:
            self.status.setText(f"{len(people)} custodian(s) chosen; {self.need} are needed.")
            set_tone(self.status, Tone.WARN)
        else:
            self.status.setText(f"{len(people)} custodian(s) will touch their keys in turn.")
            set_tone(self.status, Tone.NORMAL)
        self.sign_button.setEnabled(bool(self.tokens) and len(people) >= self.need
                                    and self.job is None)

    def sign(self) -> None:
        ids = self.chosen_ids()
        ctx = self.context
        self.status.setText("Each chosen custodian touches their key when it blinks…")
        set_tone(self.status, Tone.ACCENT)
        self.sign_button.setEnabled(False)
        self.choice.setEnabled(False)
        self.job = ctx.worker.submit(
            lambda prompts, cancel: adopt(ctx.vault, ctx.drivers, ids,
                                          Purposed(prompts, "signing the vault's genesis",
                                                   demo_pin=ctx.demo), cancel,
                                          actor=ctx.actor),
            on_success=self._signed, on_failure=self._failed, parent=self,
            title="Signing the vault's genesis")

    def _failed(self, exc: BaseException) -> None:
        self.job = None
        self.choice.setEnabled(True)
        self.status.setText("The vault was not signed; nothing was changed.")
        set_tone(self.status, Tone.WARN)
        self._update()
        show_error(self, exc)

    def _signed(self, adopted: Adopted) -> None:
        self.job = None
        self.adopted = adopted
        first = next(t for t in self.tokens if t.id in self.chosen_ids())
        self.session.choose(first)
        self.context.notify_changed()
        self.intro.setText(
            f"<b>The vault is signed</b> by {', '.join(adopted.signed_by)}. Its genesis "
            "fingerprint is below: it is printed on the genesis sheet and on every recovery "
            "sheet and transcript from now on. Save the genesis sheet, print it and keep it "
            "with the recovery sheets.")
        self.status.setText(f"You operate as {operator_text(first)}; change it with "
                            "“Change…” in the status bar." +
                            ("\n\nNot proven about the past: " + " ".join(adopted.unproven)
                             if adopted.unproven else ""))
        set_tone(self.status, Tone.NORMAL)
        groups = format_fingerprint(adopted.fingerprint).split()
        half = len(groups) // 2  # two lines of eight groups, as read aloud
        self.fingerprint.setText(" ".join(groups[:half]) + "\n" + " ".join(groups[half:]))
        self.fingerprint.show()
        self.choice.hide()
        self.sign_button.hide()
        self.sheet_button.show()
        self.close_button.setText("Close")
        self.adjustSize()

    def save_sheet(self) -> None:
        from tessera.custody.sheets import genesis_transcript
        from tessera.sheets.render import write_transcript_pdf

        adopted = self.adopted
        if adopted is None:
            return
        path = ask_sheet_path(self)
        if path is None:
            return
        paper = Paper.LETTER if QLocale().measurementSystem() == \
            QLocale.MeasurementSystem.ImperialUSSystem else Paper.A4
        try:
            sheet = genesis_transcript(self.context.vault, adopted.fingerprint,
                                       adopted.signed_by, adopted.unproven,
                                       actor=self.context.actor)
            write_transcript_pdf(sheet, path, paper)
        except Exception as exc:
            show_error(self, exc)
            return
        self.status.setText(f"Saved the genesis sheet to {path}.")

    def reject(self) -> None:
        if self.job is not None and not self.job.finished:
            self.job.cancel()  # the touches stop; nothing is written
            return
        super().reject()
