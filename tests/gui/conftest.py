"""Fixtures for the GUI tests: a demo vault on virtual keys, an AppContext, the main window.

The demo vault is built once per session and copied for each test (building runs real
enrolments on virtual devices), so every test starts from the same three custodians —
Alice (FIDO2), Bob (YubiKey PIV), Carol (FIDO2) — and one 2-of-3 record.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QtMsgType
from PySide6.QtWidgets import QWidget

from helpers.windows import shown_window
from tessera.custody.demo import build_demo_vault
from tessera.gui import errors as gui_errors
from tessera.gui.context import AppContext
from tessera.gui.main_window import MainWindow

# Messages Qt's offscreen platform prints for any window: not our bugs.
HARMLESS_QT_MESSAGES = (
    "propagateSizeHints",
    "QFont::setPointSizeF: Point size <= 0",
    "This plugin does not support",
)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo-template")
    path = folder / "vault.sqlite3"
    build_demo_vault(path, touch="immediate")
    return path


def copy_vault(template: Path, target_dir: Path) -> Path:
    """Copy a vault and its side folders (virtual keys, software keys) to ``target_dir``."""
    target = target_dir / template.name
    for source in template.parent.iterdir():
        if not source.name.startswith(template.name):
            continue
        dest = target_dir / source.name
        if source.is_dir():
            shutil.copytree(source, dest)
        else:
            shutil.copy2(source, dest)
    return target


@pytest.fixture
def demo_vault_path(demo_template: Path, tmp_path: Path) -> Path:
    return copy_vault(demo_template, tmp_path)


@pytest.fixture
def context(demo_vault_path: Path, qtbot) -> Iterator[AppContext]:
    """An AppContext on a fresh copy of the demo vault; keys touch themselves."""
    ctx = AppContext.open(demo_vault_path, touch="immediate")
    yield ctx
    ctx.close()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(context: AppContext, settings: QSettings, qtbot) -> Iterator[MainWindow]:
    yield from shown_window(context, settings, qtbot)


@dataclass
class ShownErrors:
    """What the one error handler showed, instead of modal boxes."""

    messages: list[tuple[str, str]] = field(default_factory=list)  # (title, text); notes too
    reports: list[BaseException] = field(default_factory=list)


@pytest.fixture
def shown_errors(monkeypatch: pytest.MonkeyPatch) -> ShownErrors:
    shown = ShownErrors()

    def message(_parent: QWidget | None, title: str, text: str) -> None:
        shown.messages.append((title, text))

    def report(_parent: QWidget | None, exc: BaseException) -> None:
        shown.reports.append(exc)

    monkeypatch.setattr(gui_errors.ErrorPresenter, "message", staticmethod(message))
    monkeypatch.setattr(gui_errors.ErrorPresenter, "report", staticmethod(report))
    monkeypatch.setattr(gui_errors.ErrorPresenter, "note", staticmethod(message))
    return shown


@pytest.fixture
def no_qt_warnings(qtlog) -> Iterator[None]:
    """Fail the test when Qt printed a warning (or worse) we did not expect."""
    yield
    bad = [r.message for r in qtlog.records
           if r.type in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg)
           and not any(h in r.message for h in HARMLESS_QT_MESSAGES)]
    assert not bad, f"unexpected Qt warnings: {bad}"


@pytest.fixture(autouse=True)
def discard_unprinted_words(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Answer "discard" when a window holding unprinted share words closes.

    The real question is a modal box; a test that is about that question replaces this
    answer itself. The list records who was asked about.
    """
    from tessera.gui.sheet_handoff import SheetHandoff

    asked: list[list[str]] = []

    def ask(_parent: QWidget, names: list[str]) -> bool:
        asked.append(list(names))
        return True

    monkeypatch.setattr(SheetHandoff, "ask_discard", staticmethod(ask))
    return asked


# -- a signed demo vault (its genesis signed by the three virtual keys, as
#    `tessera gui --demo` builds it): every write needs the operator's signature ----------

@pytest.fixture(scope="session")
def signed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signed-demo") / "vault.sqlite3"
    build_demo_vault(path, touch="immediate", signed=True)
    return path


@pytest.fixture
def signed_vault_path(signed_template: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "signed"
    folder.mkdir()
    return copy_vault(signed_template, folder)


@pytest.fixture
def signed_context(signed_template: Path, tmp_path: Path, qtbot) -> Iterator[AppContext]:
    ctx = AppContext.open(copy_vault(signed_template, tmp_path), touch="immediate")
    yield ctx
    ctx.close()


@pytest.fixture
def signed_manual_context(signed_template: Path, tmp_path: Path,
                          qtbot) -> Iterator[AppContext]:
    """The signed demo whose virtual keys wait for their Touch button."""
    ctx = AppContext.open(copy_vault(signed_template, tmp_path), touch="manual")
    yield ctx
    ctx.close()


@pytest.fixture
def signed_window(signed_context: AppContext, settings: QSettings,
                  qtbot) -> Iterator[MainWindow]:
    yield from shown_window(signed_context, settings, qtbot)


@pytest.fixture(autouse=True)
def pages_read_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages read the vault at once on the GUI thread, so a test that writes and then
    looks at a page sees the change without waiting. Tests of the loader thread itself
    use ``threaded_pages``."""
    from tessera.gui.loader import VaultLoader

    monkeypatch.setattr(VaultLoader, "inline", True)


@pytest.fixture(autouse=True)
def collector_as_found() -> Iterator[None]:
    """What the page loader or the start path froze out of garbage collection (gc.freeze)
    is handed back to the collector after each test, so one test's leftovers in a
    reference cycle (a closed window, say) are not kept for the rest of the session."""
    yield
    gc.unfreeze()


@pytest.fixture
def threaded_pages(pages_read_inline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages read on the loader thread, as in the application."""
    from tessera.gui.loader import VaultLoader

    monkeypatch.setattr(VaultLoader, "inline", False)
