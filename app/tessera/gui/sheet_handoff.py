"""Handing a new version's sheets to paper: print, PDF, or hand-copy from the screen.

Used wherever share words exist for a moment — the Create wizard, Rotate, Reshare and
Revoke. Three rules meet here:

* A sheet is logged as printed (``sheet.print``) only once it was actually sent to a
  printer or written to a PDF, never when a preview merely opened: a preview closed
  unprinted leaves nothing in the registry to seal or destroy.
* In **hand-copy** mode the printed sheets carry empty boxes; each custodian's words
  are shown on screen, one custodian at a time, after that custodian asks for them,
  and cleared before the next — so no printer, spooler or PDF ever sees the words.
* The words live in this object only until :meth:`SheetHandoff.forget_words`.
* Words shown once must not be lost by a keystroke: the window holding them asks
  :meth:`SheetHandoff.confirm_leave` before it closes. It closes freely once every
  share is on paper (printed, saved as PDF, or copied by hand); otherwise the operator
  must choose "discard, I will reprint", which is logged (``sheet.discard``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QLocale, Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from tessera.core.errors import InputError
from tessera.core.sealing import SealedVersion
from tessera.custody.sheet_backup import log_discarded
from tessera.custody.sheets import log_printed, sheets_at_creation
from tessera.gui import print_sheets
from tessera.gui.context import AppContext
from tessera.gui.errors import show_error
from tessera.gui.sheet_confirm import SheetConfirmations
from tessera.gui.widgets import muted
from tessera.sheets.model import Paper, Sheet
from tessera.sheets.render import write_pdf

WORD_COLUMNS = 3


class PendingSheets:
    """Sheets built with their serials but not yet in the registry.

    The serials are printed on the paper, so they are chosen before painting; the
    registry learns of them in :meth:`log_printed`, after the paint really happened.
    """

    def __init__(self, context: AppContext, sealed: SealedVersion, words: Mapping[str, str], *,
                 hand_copy: bool) -> None:
        self.context = context
        self.sealed = sealed
        self.hand_copy = hand_copy
        try:
            self.sheets: list[Sheet] = sheets_at_creation(context.vault, sealed, words,
                                                          hand_copy=hand_copy)
        except InputError:
            raise InputError("the share words are gone; sheets can only be printed while "
                             "the window that sealed the version is open") from None
        self.logged = False

    def log_printed(self) -> None:
        """Record every sheet as printed (once); each write carries its audit entry."""
        if self.logged:
            return
        log_printed(self.context.vault, self.sheets, actor=self.context.actor,
                    hand_copy=self.hand_copy)
        self.logged = True
        self.context.notify_changed()


def ask_pdf_path(parent: QWidget, hand_copy: bool) -> Path | None:
    """Warn what the PDF holds, then ask where to save it."""
    if not hand_copy:
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


class WordGrid(QWidget):
    """33 numbered words in columns, read down like the sheet's grid."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Share words")
        self.grid = QGridLayout(self)
        self.grid.setHorizontalSpacing(28)
        self.grid.setVerticalSpacing(4)
        self.labels: list[QLabel] = []

    def show_words(self, words: Sequence[str]) -> None:
        self.clear_words()
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(font.pointSizeF(), 10.0) * 1.25)
        font.setWeight(QFont.Weight.DemiBold)
        rows = (len(words) + WORD_COLUMNS - 1) // WORD_COLUMNS
        for i, word in enumerate(words):
            label = QLabel(f"{i + 1:>2}. {word}")
            label.setFont(font)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            self.grid.addWidget(label, i % rows, i // rows)
            self.labels.append(label)

    def words_shown(self) -> list[str]:
        return [label.text().split(". ", 1)[1] for label in self.labels]

    def clear_words(self) -> None:
        for label in self.labels:
            label.clear()
            self.grid.removeWidget(label)
            label.deleteLater()
        self.labels = []


class HandCopyDialog(QDialog):
    """Each custodian in turn: confirm it is them, see their words, copy, clear, next."""

    def __init__(self, sealed: SealedVersion, words: Mapping[str, str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Hand-copy the share words")
        self.setObjectName("handCopyDialog")
        self.setMinimumWidth(620)
        self.entries = [e for e in sealed.manifest.shares if e.key in words]
        self._words = dict(words)
        self.fingerprint = sealed.fingerprint
        self.index = 0
        layout = QVBoxLayout(self)
        self.step = QLabel()
        self.step.setAccessibleName("Which custodian")
        font = QFont(self.step.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.step.setFont(font)
        layout.addWidget(self.step)
        self.pages = QStackedWidget()
        ask = QWidget()
        ask_layout = QVBoxLayout(ask)
        self.ask_text = QLabel()
        self.ask_text.setWordWrap(True)
        ask_layout.addWidget(self.ask_text)
        self.show_button = QPushButton("Show my words")
        self.show_button.setAccessibleName("Show my words")
        self.show_button.clicked.connect(self.reveal)
        row = QHBoxLayout()
        row.addWidget(self.show_button)
        row.addStretch(1)
        ask_layout.addLayout(row)
        ask_layout.addStretch(1)
        self.pages.addWidget(ask)
        shown = QWidget()
        shown_layout = QVBoxLayout(shown)
        self.copy_hint = QLabel()
        self.copy_hint.setWordWrap(True)
        shown_layout.addWidget(self.copy_hint)
        self.grid = WordGrid()
        shown_layout.addWidget(self.grid)
        shown_layout.addStretch(1)
        self.next_button = QPushButton()
        self.next_button.setAccessibleName("Words copied")
        self.next_button.clicked.connect(self.advance)
        row2 = QHBoxLayout()
        row2.addStretch(1)
        row2.addWidget(self.next_button)
        shown_layout.addLayout(row2)
        self.pages.addWidget(shown)
        layout.addWidget(self.pages, 1)
        self.copied: list[str] = []  # custodian names who saw and copied their words
        self.copied_keys: list[str] = []  # their share keys
        self._ask()

    def current_name(self) -> str:
        return self.entries[self.index].custodian

    def _ask(self) -> None:
        entry = self.entries[self.index]
        n = len(self.entries)
        self.step.setText(f"Custodian {self.index + 1} of {n}: {entry.custodian}")
        self.ask_text.setText(
            f"Only {entry.custodian} should see the screen now. {entry.custodian}: have your "
            f"sheet (serial and fingerprint {self.fingerprint}) and a pen ready, then press "
            "“Show my words”. Everyone else, please look away.")
        self.pages.setCurrentIndex(0)
        self.show_button.setFocus()

    def reveal(self) -> None:
        entry = self.entries[self.index]
        self.grid.show_words(self._words[entry.key].split())
        self.copy_hint.setText(f"{entry.custodian}: copy these 33 words into the numbered "
                               "boxes of your sheet, in order. Check each one twice.")
        last = self.index + 1 == len(self.entries)
        self.next_button.setText("I have copied them — &finish" if last
                                 else "I have copied them — &next custodian")
        self.pages.setCurrentIndex(1)

    def advance(self) -> None:
        self.grid.clear_words()
        self.copied.append(self.current_name())
        self.copied_keys.append(self.entries[self.index].key)
        if self.index + 1 < len(self.entries):
            self.index += 1
            self._ask()
        else:
            self.accept()

    def done(self, result: int) -> None:
        self.grid.clear_words()
        self._words.clear()
        super().done(result)


def ask_discard(parent: QWidget, names: Sequence[str]) -> bool:
    """Before the words' window closes with shares on no paper: keep it open or discard."""
    box = QMessageBox(QMessageBox.Icon.Warning, "The share words will be lost",
                      "No sheet holds the share of " + ", ".join(names) + " yet. Once this "
                      "window closes the words are gone for good; each of them would have to "
                      "print a new sheet later with their own key.",
                      QMessageBox.StandardButton.NoButton, parent)
    keep = box.addButton("Keep the window open", QMessageBox.ButtonRole.RejectRole)
    discard = box.addButton("Discard the words — we will reprint",
                            QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.exec()
    chosen = box.clickedButton()
    box.deleteLater()
    return chosen is discard


def preview_sheets(parent: QWidget | None, sheets: Sequence[Sheet], paper: Paper) -> bool:
    """The print preview (looked up at call time, so tests can replace it)."""
    return print_sheets.preview_sheets(parent, sheets, paper)


class SheetHandoff(QWidget):
    """Paper size, hand-copy switch, print, save as PDF, and (hand-copy) show words."""

    printed = Signal()  # sheets were logged as printed
    preview: Callable[[QWidget | None, Sequence[Sheet], Paper], bool] = staticmethod(
        preview_sheets)
    ask_pdf_path: Callable[[QWidget, bool], Path | None] = staticmethod(ask_pdf_path)
    ask_discard: Callable[[QWidget, Sequence[str]], bool] = staticmethod(ask_discard)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setAccessibleName("Recovery sheets")
        self.sealed: SealedVersion | None = None
        self.words: dict[str, str] = {}
        self.on_paper: set[str] = set()  # share keys whose words are on a sheet now
        self.discarded = False
        self.hand_copy_dialog: HandCopyDialog | None = None
        self.paper_combo = QComboBox()
        self.paper_combo.setAccessibleName("Paper size")
        for paper in Paper:
            self.paper_combo.addItem(paper.display, paper.value)
        if QLocale().measurementSystem() == QLocale.MeasurementSystem.ImperialUSSystem:
            self.paper_combo.setCurrentIndex(self.paper_combo.findData(Paper.LETTER.value))
        self.hand_copy = QCheckBox("&Hand-copy: print empty boxes, show each custodian's "
                                   "words on screen")
        self.hand_copy.setAccessibleName("Hand-copy mode")
        self.hand_copy.setToolTip("The printer and any PDF never see the words; each "
                                  "custodian copies theirs by hand, one at a time")
        self.print_button = QPushButton("&Print sheets…")
        self.print_button.setAccessibleName("Print recovery sheets")
        self.print_button.setToolTip("Print preview of one sheet per custodian; print from it")
        self.pdf_button = QPushButton("Save as P&DF…")
        self.pdf_button.setAccessibleName("Save sheets as PDF")
        self.words_button = QPushButton("Show &words…")
        self.words_button.setAccessibleName("Show the words for hand-copying")
        self.words_button.setToolTip("One custodian at a time sees their words")
        self.status = muted("")
        self.status.setAccessibleName("Sheets status")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Paper:"))
        row.addWidget(self.paper_combo)
        row.addWidget(self.print_button)
        row.addWidget(self.pdf_button)
        row.addWidget(self.words_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.hand_copy)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.confirmations = SheetConfirmations(context)
        layout.addWidget(self.confirmations)
        self.print_button.clicked.connect(self.print_preview)
        self.pdf_button.clicked.connect(self.save_pdf)
        self.words_button.clicked.connect(self.show_words)
        self.hand_copy.toggled.connect(self._mode_changed)
        self._mode_changed()

    def set_version(self, sealed: SealedVersion, words: Mapping[str, str]) -> None:
        self.sealed = sealed
        self.words = dict(words)
        self.on_paper = set()
        self._mode_changed()
        self.confirmations.set_version(sealed, self.words)

    # -- the words must not be lost by a keystroke ------------------------------------
    def missing_names(self) -> list[str]:
        """Custodians whose share is still on no paper while its words exist."""
        if self.sealed is None or not self.words:
            return []
        return list(dict.fromkeys(e.custodian for e in self.sealed.manifest.shares
                                  if e.key in self.words and e.key not in self.on_paper))

    @property
    def words_safe(self) -> bool:
        return self.discarded or not self.missing_names()

    def confirm_leave(self, parent: QWidget | None = None) -> bool:
        """Whether the window holding the words may close (asks when a share is on no
        paper; "discard" is logged before the words go)."""
        names = self.missing_names()
        if self.discarded or not names or self.sealed is None:
            return True
        if not type(self).ask_discard(parent or self, names):
            return False
        keys = [k for k in self.words if k not in self.on_paper]
        try:
            log_discarded(self.context.vault, self.sealed.manifest, keys,
                          actor=self.context.actor)
        except Exception as exc:
            show_error(self, exc)
            return False
        self.discarded = True
        self.context.notify_changed()
        return True

    def paper(self) -> Paper:
        return Paper(str(self.paper_combo.currentData()))

    def _mode_changed(self, *_args: object) -> None:
        hand = self.hand_copy.isChecked()
        self.words_button.setVisible(hand)
        have = bool(self.words) and self.sealed is not None
        for button in (self.print_button, self.pdf_button, self.words_button):
            button.setEnabled(have)
        if not have and self.sealed is not None:
            self.status.setText("The share words are gone; sheets can no longer be made here.")

    def _batch(self) -> PendingSheets:
        if self.sealed is None or not self.words:
            raise InputError("the share words are gone; sheets can only be printed while "
                             "the window that sealed the version is open")
        return PendingSheets(self.context, self.sealed, self.words,
                             hand_copy=self.hand_copy.isChecked())

    def print_preview(self) -> bool:
        """Preview; the sheets are logged only if they were printed from it."""
        try:
            batch = self._batch()
            if not type(self).preview(self, batch.sheets, self.paper()):
                self.status.setText("Preview closed; nothing was printed or logged.")
                return False
            batch.log_printed()
        except Exception as exc:
            show_error(self, exc)
            return False
        self._logged(batch, "printed")
        return True

    def save_pdf(self) -> Path | None:
        hand = self.hand_copy.isChecked()
        target = type(self).ask_pdf_path(self, hand)
        if target is None:
            return None
        try:
            batch = self._batch()
            write_pdf(batch.sheets, target, self.paper())
            batch.log_printed()
        except Exception as exc:
            show_error(self, exc)
            return None
        self._logged(batch, f"saved to {target.name}")
        return target

    def _logged(self, batch: PendingSheets, how: str) -> None:
        if not batch.hand_copy:  # empty boxes hold no words: only hand-copying counts then
            self.on_paper.update(s.share_key for s in batch.sheets)
        boxes = " with empty word boxes" if batch.hand_copy else ""
        self.status.setText(f"{len(batch.sheets)} sheets {how}{boxes} and logged: "
                            + ", ".join(s.serial for s in batch.sheets))
        self.printed.emit()

    def show_words(self) -> HandCopyDialog | None:
        if self.sealed is None or not self.words:
            show_error(self, InputError("the share words are gone"))
            return None
        dialog = HandCopyDialog(self.sealed, self.words, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: self._hand_copy_closed(dialog))
        self.hand_copy_dialog = dialog
        dialog.open()
        return dialog

    def _hand_copy_closed(self, dialog: HandCopyDialog) -> None:
        self.on_paper.update(dialog.copied_keys)
        self.printed.emit()
        if dialog.copied:
            self.status.setText("Words shown for hand-copying to: " + ", ".join(dialog.copied))
        if self.hand_copy_dialog is dialog:
            self.hand_copy_dialog = None

    def forget_words(self) -> None:
        self.words.clear()
        if self.hand_copy_dialog is not None:
            self.hand_copy_dialog.reject()
        self._mode_changed()
