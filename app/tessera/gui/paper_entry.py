"""Typing a custodian's sealed sheet: 33 numbered word fields with SLIP-39 completion.

Each field completes from the SLIP-39 word list (four letters always pick one word)
and is checked as it is typed; once all 33 are words, the share's checksum is
checked here, so a typo is named by position ("check word 14") before anything is
sent to the ceremony. Pasting a whole share into any field spreads it over the grid.
The words are secret: the fields are emptied when the dialog closes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QKeyEvent
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tessera.core import slip39
from tessera.core.errors import InvalidMnemonic
from tessera.gui.theme import Tone, set_tone
from tessera.gui.widgets import fingerprint_label

WORDS = slip39.WORDS_PER_SHARE
COLUMNS = 3

_STYLE = {
    "empty": "",
    "ok": "",
    "bad": "QLineEdit { border: 2px solid #b3261e; background: #fdecea; color: #410e0b }",
    "suspect": "QLineEdit { border: 2px solid #b26a00; background: #fff4e0; color: #3d2600 }",
}


class WordState(enum.StrEnum):
    EMPTY = "empty"
    OK = "ok"  # a SLIP-39 word (or its unique prefix)
    BAD = "bad"  # not a SLIP-39 word
    SUSPECT = "suspect"  # a word, but the likely culprit of a checksum or commitment failure


class WordField(QLineEdit):
    """One numbered word; completion from the SLIP-39 list; a pasted share spreads out."""

    pasted_words = Signal(int, list)  # position (0-based), words
    advance = Signal(int)  # a word was completed with Space: go to the next field
    entered = Signal(int)  # Enter on a complete word: next field, or submit a whole grid

    def __init__(self, index: int, completer: QCompleter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.state = WordState.EMPTY
        self.setCompleter(completer)
        self.setAccessibleName(f"Word {index + 1}")
        self.setObjectName(f"word{index + 1}")
        self.setMaxLength(400)  # room for a whole pasted share
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("m") * 9)
        self.textEdited.connect(self._maybe_spread)

    def _maybe_spread(self, text: str) -> None:
        words = text.replace(",", " ").split()
        if len(words) > 1:
            self.pasted_words.emit(self.index, words)

    def word(self) -> str | None:
        return slip39.resolve_word(self.text())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Space or Enter after a unique prefix completes the word (the completion list,
        # if open, can only be showing that one word). Space moves on; Enter moves on or
        # — once the grid is whole and valid — submits. A space never belongs in a word.
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if event.key() == Qt.Key.Key_Space or enter:
            word = self.word()
            if word is not None:
                completer = self.completer()
                popup = completer.popup() if completer is not None else None
                if popup is not None:
                    popup.hide()
                if self.text() != word:
                    self.setText(word)
                (self.entered if enter else self.advance).emit(self.index)
                return
            if event.key() == Qt.Key.Key_Space:
                return
        super().keyPressEvent(event)

    def set_state(self, state: WordState) -> None:
        self.state = state
        self.setStyleSheet(_STYLE[state.value])
        self.setProperty("wordState", state.value)


class PaperEntry(QWidget):
    """The 33-word grid and its checks (usable on its own, e.g. in a re-wrap wizard)."""

    changed = Signal()
    submit_requested = Signal()  # Enter in a field while all 33 words are filled in

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("paperEntry")
        # The word list belongs to the completer, so it is deleted after the completer's
        # own proxy model: a list deleted first (as a sibling made before it) could be
        # asked for its rows while half destroyed, which crashed the app ("pure virtual
        # method called") when a ceremony window closed with this grid in use.
        self.completer = QCompleter(self)
        self.completer.setModel(QStringListModel(list(slip39.WORDLIST), self.completer))
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.setModelSorting(QCompleter.ModelSorting.CaseSensitivelySortedModel)
        self.completer.setMaxVisibleItems(8)
        grid = QGridLayout(self)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(6)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.fields: list[WordField] = []
        rows = (WORDS + COLUMNS - 1) // COLUMNS
        for i in range(WORDS):
            # Column-major like the sheet's grid: 1–11 down the first column.
            row, column = i % rows, i // rows
            number = QLabel(f"{i + 1}.")
            number.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            number.setMinimumWidth(number.fontMetrics().horizontalAdvance("33.") + 4)
            field = WordField(i, self.completer, self)
            field.setFont(mono)
            number.setBuddy(field)
            field.textChanged.connect(lambda _t, f=field: self._word_changed(f))
            field.pasted_words.connect(self._spread)
            field.advance.connect(self._advance)
            field.entered.connect(self._entered)
            grid.addWidget(number, row, column * 2)
            grid.addWidget(field, row, column * 2 + 1)
            self.fields.append(field)
        for a, b in zip(self.fields, self.fields[1:], strict=False):
            QWidget.setTabOrder(a, b)

    # -- reading -------------------------------------------------------------------------
    def words(self) -> list[str | None]:
        return [f.word() for f in self.fields]

    def phrase(self) -> str:
        """The 33 resolved words joined by spaces (only once every field holds a word)."""
        words = self.words()
        if any(w is None for w in words):
            raise InvalidMnemonic("not every field holds a SLIP-39 word",
                                  next(i + 1 for i, w in enumerate(words) if w is None))
        return " ".join(w for w in words if w)

    @property
    def complete(self) -> bool:
        return all(f.state in (WordState.OK, WordState.SUSPECT) for f in self.fields)

    def bad_positions(self) -> list[int]:
        return [f.index + 1 for f in self.fields if f.state is WordState.BAD]

    def check(self) -> tuple[str, int | None] | None:
        """Checksum of a complete grid: ``None`` when valid, else (problem, word)."""
        try:
            slip39.parse_share(self.phrase())
        except InvalidMnemonic as exc:
            return str(exc), exc.word_index
        return None

    # -- writing -------------------------------------------------------------------------
    def set_words(self, words: Sequence[str]) -> None:
        for field, word in zip(self.fields, words, strict=False):
            field.setText(word.lower())

    def mark_suspect(self, position: int | None) -> None:
        """Highlight the likely wrong word (1-based).

        The cursor stays where the person is typing: moving it under their fingers made
        the next keystrokes land in the wrong word. The highlight (and the status line
        naming the word) shows where to look; they click or Tab there themselves.
        """
        for field in self.fields:
            if field.state is WordState.SUSPECT:
                field.set_state(WordState.OK)
        if position is None or not 1 <= position <= WORDS:
            return
        self.fields[position - 1].set_state(WordState.SUSPECT)

    def clear_words(self) -> None:
        for field in self.fields:
            field.clear()
            field.set_state(WordState.EMPTY)

    # -- behaviour -----------------------------------------------------------------------
    def _word_changed(self, field: WordField) -> None:
        text = field.text().strip()
        if not text:
            field.set_state(WordState.EMPTY)
        elif field.word() is not None:
            field.set_state(WordState.OK)
        elif len(text) >= 4 or not slip39.complete_word(text):
            field.set_state(WordState.BAD)  # no word starts like this, or still ambiguous
        else:
            field.set_state(WordState.EMPTY)  # a prefix still being typed
        self.changed.emit()

    def _advance(self, index: int) -> None:
        if index + 1 < WORDS:
            self.fields[index + 1].setFocus(Qt.FocusReason.TabFocusReason)

    def _entered(self, index: int) -> None:
        if self.complete:
            self.submit_requested.emit()
        else:
            self._advance(index)

    def _spread(self, start: int, words: list[str]) -> None:
        # A whole share pasted (perhaps with "1." numbering): fill from the first field.
        words = [w for w in words if not w.rstrip(".").isdigit()]
        begin = 0 if len(words) == WORDS else start
        for offset, word in enumerate(words[: WORDS - begin]):
            self.fields[begin + offset].setText(word.rstrip(".").lower())
        last = min(begin + len(words), WORDS) - 1
        self.fields[last].setFocus(Qt.FocusReason.OtherFocusReason)


ScanHandler = Callable[["PaperEntryDialog"], None]


class PaperEntryDialog(QDialog):
    """One custodian types the words of their sealed sheet.

    ``submitted(words)`` is emitted once the grid holds a valid SLIP-39 share; the
    ceremony then checks it against the custodian's commitment and either calls
    :meth:`accept` or :meth:`show_problem` (the dialog stays open to fix the word).
    """

    submitted = Signal(str)

    def __init__(self, custodian: str, parent: QWidget | None = None, *,
                 scan: ScanHandler | None = None, fingerprint: str = "",
                 purpose: str = "release") -> None:
        super().__init__(parent)
        self.custodian = custodian
        self.setObjectName("paperEntryDialog")
        self.setWindowTitle(f"{custodian}'s sheet")
        layout = QVBoxLayout(self)
        heading = QLabel(f"{custodian}: type the 33 words of your sealed sheet")
        font = QFont(heading.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        heading.setFont(font)
        layout.addWidget(heading)
        # The fingerprint to compare is shown here, not in the window this dialog covers.
        compare = QLabel(f"First check that the fingerprint printed on your sheet is this "
                         f"record's; your words approve the {purpose.lower()}:")
        compare.setWordWrap(True)
        layout.addWidget(compare)
        self.fingerprint = fingerprint_label(fingerprint or "—", large=True)
        self.fingerprint.setAccessibleName("Fingerprint to compare with your sheet")
        layout.addWidget(self.fingerprint)
        hint = QLabel("If it differs, stop: the sheet belongs to another record or version. "
                      "The first four letters of each word are enough.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.entry = PaperEntry(self)
        layout.addWidget(self.entry)
        self.status = QLabel("")
        self.status.setObjectName("paperStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setMinimumHeight(self.status.fontMetrics().height() * 2 + 4)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.scan_button = QPushButton("Scan sheet image…")
        self.scan_button.setVisible(scan is not None)
        if scan is not None:
            self.scan_button.clicked.connect(lambda: scan(self))
        buttons.addWidget(self.scan_button)
        buttons.addStretch(1)
        self.box = QDialogButtonBox()
        self.submit_button = self.box.addButton("Check and contribute",
                                                QDialogButtonBox.ButtonRole.AcceptRole)
        self.box.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.box.accepted.connect(self._submit)
        self.box.rejected.connect(self.reject)
        buttons.addWidget(self.box)
        layout.addLayout(buttons)
        # Enter in a word field is the grid's (next word, or submit when whole); it must
        # never fall through to a default button — least of all Cancel, which would
        # throw the typed words away.
        for button in [*self.box.buttons(), self.scan_button]:
            if isinstance(button, QPushButton):
                button.setAutoDefault(False)
                button.setDefault(False)
        cancel = self.box.button(QDialogButtonBox.StandardButton.Cancel)
        # After word 33, one Tab reaches the button that submits.
        QWidget.setTabOrder(self.entry.fields[-1], self.submit_button)
        QWidget.setTabOrder(self.submit_button, cancel)
        QWidget.setTabOrder(cancel, self.scan_button)
        self.entry.submit_requested.connect(self._submit)
        self.entry.changed.connect(self._update)
        self._busy = False
        self._valid = False
        self._update()

    def _update(self) -> None:
        self._valid = False
        bad = self.entry.bad_positions()
        if bad:
            listed = ", ".join(str(b) for b in bad[:5])
            self._say(f"Not a SLIP-39 word: word {listed}" if len(bad) == 1
                      else f"Not SLIP-39 words: words {listed}", error=True)
        elif self.entry.complete:
            problem = self.entry.check()
            if problem is None:
                self._valid = True
                self._say("All 33 words are valid. Check and contribute when ready.")
            else:
                text, position = problem
                self.entry.mark_suspect(position)
                self._say(self._mismatch_text(text, position), error=True)
        else:
            filled = sum(1 for f in self.entry.fields if f.state is not WordState.EMPTY)
            self._say(f"{filled} of {WORDS} words")
        self._update_button()

    def _mismatch_text(self, problem: str, position: int | None) -> str:
        if position is not None:
            return f"{self.custodian}'s share does not match this record — check word {position}"
        return f"{self.custodian}'s share is not valid: {problem}"

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        set_tone(self.status, Tone.BAD if error else Tone.NORMAL, bold=error)

    def _submit(self) -> None:
        if not self.submit_button.isEnabled():
            return
        self.set_busy(True)
        self._say("Checking the share against the record…")
        self.submitted.emit(self.entry.phrase())

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.entry.setEnabled(not busy)
        self.scan_button.setEnabled(not busy)
        self._update_button()

    def _update_button(self) -> None:
        self.submit_button.setEnabled(not self._busy and self._valid)

    def show_problem(self, message: str, word_index: int | None = None) -> None:
        """The ceremony refused the share: say why, highlight the likely word."""
        self.set_busy(False)
        self.entry.mark_suspect(word_index)
        self._say(message, error=True)

    def done(self, result: int) -> None:
        self.entry.clear_words()  # the words are secret: leave nothing in the widgets
        super().done(result)
