"""The main window as GUI tests open it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import QSettings

from tessera.gui.context import AppContext
from tessera.gui.main_window import MainWindow


def shown_window(context: AppContext, settings: QSettings, qtbot: Any) -> Iterator[MainWindow]:
    """The main window on ``context``, shown; closed when the test is done."""
    win = MainWindow(context, settings=settings, poll_devices=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
