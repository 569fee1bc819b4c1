"""A signed real vault asks who is operating as soon as its window opens (#9 item 2):
not a modal question in the way of looking around, but a strip above the pages that
stays until someone is chosen or it is set aside."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from helpers.signed import signed_real_vault
from helpers.windows import shown_window
from tessera.gui.context import AppContext
from tessera.gui.main_window import MainWindow
from tessera.gui.operator import OperatorDialog

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


@pytest.fixture
def real_window(tmp_path: Path, trust_demo_ca: Path, settings: QSettings,
                qtbot) -> Iterator[MainWindow]:
    path = tmp_path / "real.sqlite3"
    vault, _ = signed_real_vault(path)
    vault.close()
    context = AppContext.open(path)
    yield from shown_window(context, settings, qtbot)
    context.close()


def test_a_signed_real_vault_asks_who_is_operating_when_it_opens(real_window, qtbot,
                                                                monkeypatch) -> None:
    bar = real_window.operator_bar
    assert bar.isVisible()
    assert "Who is operating?" in bar.label.text()
    assert "nobody" in real_window.operator_control.label.text()
    olivia = next(t for t in real_window.context.vault.list_tokens()
                  if t.custodian_name == "Olivia")
    asked: list[object] = []

    def ask(_cls, parent, vault, current):
        asked.append(parent)
        return olivia

    monkeypatch.setattr(OperatorDialog, "ask", classmethod(ask))
    bar.choose_button.click()
    assert asked == [real_window]
    assert not bar.isVisible()
    assert "Operating as: <b>Olivia" in real_window.operator_control.label.text()


def test_only_looking_sets_the_question_aside_and_the_status_bar_keeps_it(
        real_window, monkeypatch) -> None:
    bar = real_window.operator_bar
    bar.look_button.click()
    assert not bar.isVisible()
    control = real_window.operator_control
    assert "nobody" in control.label.text() and control.button.text() == "Choose…"
    # Cancelling the question changes nothing either.
    monkeypatch.setattr(OperatorDialog, "ask", classmethod(lambda *_a: None))
    control.button.click()
    assert real_window.operator.token is None


def test_a_demo_vault_does_not_ask_it_operates_as_alice(signed_window) -> None:
    assert not signed_window.operator_bar.isVisible()
    assert "Alice" in signed_window.operator_control.label.text()
