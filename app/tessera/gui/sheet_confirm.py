"""Each custodian confirms their new sheet: a few words read back while the words exist.

Shown under the print buttons wherever a new version's words are on screen (create,
rotate, reshare, revoke). One row per share: who, whether their sheet is printed, and
**Confirm…**, which asks that custodian for three words of their sheet by number. A
match is logged (``sheet.confirm``); a sheet sealed in its envelope before a witness
counts as confirmed too. The record says who has not confirmed until everyone has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tessera.core import slip39
from tessera.core.errors import ShareMismatch, TesseraError
from tessera.core.sealing import SealedVersion
from tessera.custody.sheet_backup import (
    BackupStatus,
    backup_status,
    confirm_positions,
    confirm_sheet_words,
)
from tessera.gui.context import AppContext
from tessera.gui.errors import message_for, show_error
from tessera.gui.paper_entry import WordField, WordState
from tessera.gui.table_model import Tone, tone_color
from tessera.gui.widgets import muted


def _tone(label: QLabel, tone: str, bold: bool = False) -> None:
    color = tone_color(tone)
    label.setStyleSheet((f"color: {color.name()};" if color else "")
                        + (" font-weight: bold;" if bold else ""))


class ConfirmWordsDialog(QDialog):
    """One custodian types the words at a few numbered places of their sheet."""

    def __init__(self, custodian: str, fingerprint: str, positions: tuple[int, ...],
                 check: Callable[[dict[int, str]], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confirmWordsDialog")
        self.setWindowTitle(f"{custodian}: confirm your sheet")
        self.custodian = custodian
        self.positions = positions
        self._check = check
        layout = QVBoxLayout(self)
        intro = QLabel(f"<b>{custodian}</b>, take your new sheet (fingerprint "
                       f"<b>{fingerprint}</b>) and type the words at these places. The first "
                       "four letters are enough.")
        intro.setWordWrap(True)
        intro.setMinimumWidth(420)
        layout.addWidget(intro)
        completer = QCompleter(self)  # owns its word list (see paper_entry.PaperEntry)
        completer.setModel(QStringListModel(list(slip39.WORDLIST), completer))
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        form = QFormLayout()
        self.fields: dict[int, WordField] = {}
        for position in positions:
            field = WordField(position - 1, completer, self)
            field.setAccessibleName(f"Word {position}")
            field.textChanged.connect(self._changed)
            field.advance.connect(self._next)
            field.entered.connect(self._entered)
            form.addRow(f"Word {position}:", field)
            self.fields[position] = field
        layout.addLayout(form)
        self.status = QLabel("")
        self.status.setObjectName("confirmStatus")
        self.status.setWordWrap(True)
        # room for the longest message, so the fields never shrink when it appears
        self.status.setMinimumHeight(self.status.fontMetrics().lineSpacing() * 3)
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox()
        self.ok = self.buttons.addButton("&Confirm", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        for button in self.buttons.buttons():
            if isinstance(button, QPushButton):
                button.setAutoDefault(False)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._changed()

    def _changed(self) -> None:
        for field in self.fields.values():
            text = field.text().strip()
            field.set_state(WordState.EMPTY if not text else
                            WordState.OK if field.word() is not None else
                            WordState.BAD if len(text) >= 4 else WordState.EMPTY)
        self.ok.setEnabled(all(f.word() is not None for f in self.fields.values()))

    def _next(self, index: int) -> None:
        order = list(self.fields)
        at = order.index(index + 1)
        if at + 1 < len(order):
            self.fields[order[at + 1]].setFocus()

    def _entered(self, index: int) -> None:
        if self.ok.isEnabled():
            self.submit()
        else:
            self._next(index)

    def answers(self) -> dict[int, str]:
        return {p: f.text() for p, f in self.fields.items()}

    def submit(self) -> None:
        if not self.ok.isEnabled():
            return
        try:
            self._check(self.answers())
        except ShareMismatch as exc:
            if exc.word_index in self.fields:
                self.fields[exc.word_index].set_state(WordState.SUSPECT)
            self.status.setText(f"Word {exc.word_index} is not the word on {self.custodian}'s "
                                "new sheet. Is this their sheet, and the newest one (same "
                                "fingerprint)?" if exc.word_index is not None
                                else message_for(exc))
            _tone(self.status, Tone.BAD, bold=True)
            return
        except TesseraError as exc:
            self.status.setText(message_for(exc))
            _tone(self.status, Tone.BAD, bold=True)
            return
        self.accept()

    def done(self, result: int) -> None:
        for field in self.fields.values():
            field.clear()  # words of a share: leave nothing in the widgets
        super().done(result)


class SheetConfirmations(QWidget):
    """A row per share of the new version: printed? confirmed? and Confirm…."""

    changed = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setAccessibleName("Sheet confirmations")
        self.sealed: SealedVersion | None = None
        self.words: Mapping[str, str] = {}
        self.status: BackupStatus | None = None
        self.dialog: ConfirmWordsDialog | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.intro = muted("Each custodian confirms their sheet: they type three of its words "
                           "here, or their envelope is recorded as sealed. Until everyone "
                           "has, the record says whose sheet is unconfirmed.")
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.grid)
        self.summary = QLabel("")
        self.summary.setAccessibleName("Sheets confirmed")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.rows: dict[str, tuple[QLabel, QLabel, QPushButton]] = {}
        context.vault_changed.connect(self.refresh)

    def set_version(self, sealed: SealedVersion, words: Mapping[str, str]) -> None:
        self.sealed = sealed
        self.words = words
        for row, entry in enumerate(sealed.manifest.shares):
            name = QLabel(f"<b>{entry.custodian}</b>")
            state = QLabel("")
            state.setAccessibleName(f"{entry.custodian}'s sheet")
            button = QPushButton(f"Confirm {entry.custodian}'s sheet…")
            button.setAccessibleName(f"Confirm {entry.custodian}'s sheet")
            button.clicked.connect(lambda _c=False, key=entry.key: self.confirm(key))
            self.grid.addWidget(name, row, 0)
            self.grid.addWidget(state, row, 1)
            self.grid.addWidget(button, row, 2)
            self.rows[entry.key] = (name, state, button)
        self.grid.setColumnStretch(1, 1)
        self.refresh()

    def refresh(self) -> None:
        if self.sealed is None:
            return
        manifest = self.sealed.manifest
        try:
            self.status = backup_status(self.context.vault, manifest.record_id,
                                        manifest.version)
        except TesseraError:
            return
        for share in self.status.shares:
            _name, state, button = self.rows[share.share_key]
            if share.confirmed:
                state.setText("✓ confirmed")
                _tone(state, Tone.GOOD)
            elif share.printed:
                state.setText("printed — not confirmed yet")
                _tone(state, Tone.WARN)
            else:
                state.setText("no sheet yet")
                _tone(state, Tone.MUTED)
            button.setVisible(not share.confirmed)
            button.setEnabled(share.printed and share.share_key in self.words)
        summary = self.status.describe()
        self.summary.setText(summary[:1].upper() + summary[1:] + ".")
        _tone(self.summary, Tone.GOOD if self.status.confirmed else Tone.NORMAL)
        self.changed.emit()

    def confirm(self, share_key: str) -> ConfirmWordsDialog | None:
        """Ask the custodian of ``share_key`` for three words of their sheet."""
        sealed, words = self.sealed, self.words.get(share_key)
        if sealed is None or words is None:
            show_error(self, TesseraError("the share words are gone; confirm the sheet by "
                                          "checking all its words later"))
            return None
        entry = sealed.manifest.share(share_key)
        ctx = self.context

        def check(answers: dict[int, str]) -> None:
            confirm_sheet_words(ctx.vault, sealed.manifest, share_key, words, answers,
                                actor=ctx.actor)
            ctx.notify_changed()

        dialog = ConfirmWordsDialog(entry.custodian, sealed.fingerprint, confirm_positions(),
                                    check, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
        return dialog
