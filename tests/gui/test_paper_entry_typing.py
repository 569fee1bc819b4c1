"""Typing a sheet as a custodian does: four letters and Space, word after word, no mouse.

The cursor stays where the person types; a suspect word is highlighted, not jumped to;
Enter submits a whole, valid grid; one Tab after word 33 reaches the submit button.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from gui.ceremony_fixtures import demo_fixture, worker_fixture  # noqa: F401  (fixtures)
from tessera.core import slip39
from tessera.gui.paper_entry import PaperEntryDialog, WordState


@pytest.fixture
def dialog(qtbot):
    d = PaperEntryDialog("Carol")
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    d.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is d)
    d.entry.fields[0].setFocus()
    return d


def type_like_a_person(qtbot, words: list[str], end: Qt.Key = Qt.Key.Key_Space) -> None:
    """Four letters of each word and Space, into whatever field has the cursor."""
    for i, word in enumerate(words):
        target = QApplication.focusWidget()
        qtbot.keyClicks(target, word[:4])
        qtbot.keyClick(target, end if i == len(words) - 1 else Qt.Key.Key_Space)


def words_with_typo(demo, position: int) -> list[str]:
    words = demo.words["Carol"].split()
    wrong = slip39.WORDLIST[(slip39.WORD_INDEX_MAP[words[position - 1]] + 1) % 1024]
    return [*words[: position - 1], wrong, *words[position:]]


def test_the_cursor_stays_put_when_the_last_word_reveals_a_typo(qtbot, demo, dialog):
    type_like_a_person(qtbot, words_with_typo(demo, 14))
    entry = dialog.entry
    assert entry.fields[13].state is WordState.SUSPECT  # highlighted…
    assert QApplication.focusWidget() is entry.fields[32]  # …but the cursor did not jump
    assert entry.fields[32].text() == demo.words["Carol"].split()[32]  # nothing overwritten
    assert "check word 14" in dialog.status.text()


def test_enter_submits_a_whole_valid_grid(qtbot, demo, dialog):
    sent: list[str] = []
    dialog.submitted.connect(sent.append)
    type_like_a_person(qtbot, demo.words["Carol"].split(), end=Qt.Key.Key_Return)
    assert sent == [demo.words["Carol"]]


def test_after_fixing_the_suspect_word_enter_submits(qtbot, demo, dialog):
    sent: list[str] = []
    dialog.submitted.connect(sent.append)
    type_like_a_person(qtbot, words_with_typo(demo, 14))
    field = dialog.entry.fields[13]
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    field.selectAll()
    qtbot.keyClicks(field, demo.words["Carol"].split()[13][:4])
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert sent == [demo.words["Carol"]]


def test_enter_on_an_unfinished_grid_moves_on_and_never_cancels(qtbot, demo, dialog):
    words = demo.words["Carol"].split()
    type_like_a_person(qtbot, words[:3], end=Qt.Key.Key_Return)
    assert QApplication.focusWidget() is dialog.entry.fields[3]
    qtbot.keyClick(dialog.entry.fields[3], Qt.Key.Key_Return)  # empty field: nothing happens
    assert dialog.isVisible() and dialog.entry.fields[2].text() == words[2]


def test_one_tab_after_the_last_word_reaches_check_and_contribute(qtbot, demo, dialog):
    type_like_a_person(qtbot, demo.words["Carol"].split(), end=Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dialog.submit_button
    assert dialog.submit_button.isEnabled()
