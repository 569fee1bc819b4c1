"""`tessera gui` shows its main window before the vault is open, and opens the vault in
it: the window answers meanwhile, and whatever the opening asks or refuses is asked or
shown over that window (first run, a vault not as this computer saw it, a signed log
that does not match, a real signed vault's "who is operating?")."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from gui.test_operator_asks import offered, real_signed_vault
from gui.test_vault_pins_gui import rolled_back  # noqa: F401  (a fixture)
from tessera.gui import app as gui_app
from tessera.gui import context as gui_context
from tessera.gui import errors as gui_errors
from tessera.gui.app import AcceptVaultDialog, FirstRunChoice, FirstRunDialog, run, start_window
from tessera.gui.context import OpenedVault
from tessera.gui.main_window import PAGES, MainWindow
from tessera.gui.startup import Startup
from tessera.vault import Vault
from tessera.vault.errors import VaultRolledBack

pytestmark = pytest.mark.usefixtures("no_qt_warnings")

Start = Callable[..., tuple[MainWindow, Startup]]


@pytest.fixture
def start(qtbot) -> Iterator[Start]:
    """``start(path)``: the start path of `tessera gui --vault PATH`, without its event
    loop (the test's waits turn it). No real USB or smart-card listing."""
    started: list[tuple[MainWindow, Startup]] = []

    def begin(path: Path | None, demo: bool = False) -> tuple[MainWindow, Startup]:
        window, startup = start_window(path, demo, touch="immediate", poll_devices=False)
        qtbot.addWidget(window)
        started.append((window, startup))
        return window, startup

    yield begin
    for window, startup in started:
        window.close()
        startup.finish()


class SlowOpen:
    """Opening the vault waits until ``release()`` (a large vault, a slow disk)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gate = threading.Event()
        self.opened: list[OpenedVault] = []
        self.closed: list[OpenedVault] = []
        real_open, real_close = gui_context.open_vault, OpenedVault.close

        def slow_open(*args: object, **kwargs: object) -> OpenedVault:
            assert self.gate.wait(30)
            opened = real_open(*args, **kwargs)  # type: ignore[arg-type]
            self.opened.append(opened)
            return opened

        def close(opened: OpenedVault) -> None:
            self.closed.append(opened)
            real_close(opened)

        monkeypatch.setattr(gui_context, "open_vault", slow_open)
        monkeypatch.setattr(OpenedVault, "close", close)

    def release(self) -> None:
        self.gate.set()


@pytest.fixture
def slow_open(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowOpen]:
    slow = SlowOpen(monkeypatch)
    yield slow
    slow.release()  # never leave the opening thread waiting


def answers(qtbot) -> bool:
    """The window's event loop turns: a timer set now fires."""
    fired: list[bool] = []
    QTimer.singleShot(0, lambda: fired.append(True))
    qtbot.waitUntil(lambda: fired == [True], timeout=2000)
    return True


def test_the_window_is_shown_and_answers_before_the_vault_is_open(
        start, slow_open, demo_vault_path, qtbot):
    window, startup = start(demo_vault_path)
    assert window.isVisible() and not window.attached
    assert window.windowTitle() == "vault.sqlite3"  # the title bar adds " — Tessera"
    assert window.opening_panel.heading.text() == "<b>Opening vault.sqlite3…</b>"
    assert window.vault_label.text() == "Opening vault.sqlite3…"
    assert window.sidebar.count() == len(PAGES) and window.menuBar().actions()
    assert not window.actions_["new-record"].isEnabled()  # nothing to change yet
    qtbot.wait(200)
    assert answers(qtbot) and startup.running and not window.attached
    window.sidebar.setCurrentRow(PAGES.index("Custodians"))  # chosen while it opens
    assert window.stack.currentWidget() is window.opening_panel

    slow_open.release()
    qtbot.waitUntil(lambda: window.attached, timeout=20000)
    assert window.windowTitle() == "vault.sqlite3 (demo)" and window.banner is not None
    assert window.vault_label.text() == f"Vault: {demo_vault_path}"
    assert window.actions_["new-record"].isEnabled()
    assert window.stack.currentIndex() == PAGES.index("Custodians")  # as chosen
    assert window.custodians.model.rowCount() == 3
    window.show_page(0)
    assert window.records.model.rowCount() == 1


def test_the_vault_opens_with_the_collector_paused(start, monkeypatch, demo_vault_path,
                                                  qtbot):
    """The opening thread imports every layer and checks the vault: full garbage
    collections on it held the interpreter 30-70 ms at a time while the window, shown,
    waited (measured at 5,000 records). The collector is paused while it works, and
    runs again, with what it made frozen, once the vault is open."""
    import gc

    seen: list[bool] = []
    real_open = gui_context.open_vault

    def watched_open(*args: object, **kwargs: object) -> OpenedVault:
        seen.append(gc.isenabled())
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gui_context, "open_vault", watched_open)
    assert gc.isenabled()
    window, _startup = start(demo_vault_path)
    qtbot.waitUntil(lambda: window.attached, timeout=20000)
    assert seen == [False]
    qtbot.waitUntil(lambda: window.context.loader.idle, timeout=20000)
    assert gc.isenabled()


def test_closing_the_window_while_the_vault_opens_closes_the_vault(
        start, slow_open, demo_vault_path, qtbot):
    window, startup = start(demo_vault_path)
    qtbot.wait(100)
    window.close()
    slow_open.release()
    qtbot.waitUntil(lambda: not startup.running, timeout=20000)
    qtbot.wait(100)  # the result's delivery, had the window been there
    assert not window.attached and startup.context is None
    assert slow_open.closed == slow_open.opened and len(slow_open.opened) == 1


def test_quitting_while_the_vault_opens_ends_the_app_quietly(slow_open, demo_vault_path,
                                                            monkeypatch, qtbot):
    """The real entry point: the window closed during the opening, `run` returns 0 once
    the opening thread is done, and the vault it opened is closed again."""
    def close_soon(path: Path, demo: bool) -> tuple[MainWindow, Startup]:
        window, startup = start_window(path, demo, poll_devices=False)
        QTimer.singleShot(100, window.close)
        threading.Timer(0.3, slow_open.release).start()
        return window, startup

    monkeypatch.setattr(gui_app, "start_window", close_soon)
    assert run(demo_vault_path, demo=False) == 0
    assert slow_open.closed == slow_open.opened and len(slow_open.opened) == 1


@pytest.fixture
def first_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, object]:
    """Answers the first-run offer; records over which window, and while it opened."""
    seen: dict[str, object] = {"choice": FirstRunChoice.EMPTY}

    def ask(_cls: object, parent: QWidget | None, path: Path, exists: bool) -> FirstRunChoice:
        seen.update(parent=parent, path=path, exists=exists,
                    opening=isinstance(parent, MainWindow) and parent.isVisible()
                    and not parent.attached)
        return seen["choice"]  # type: ignore[return-value]

    monkeypatch.setattr(FirstRunDialog, "ask", classmethod(ask))
    monkeypatch.setattr(gui_app, "demo_vault_path", lambda: tmp_path / "demo" / "demo.sqlite3")
    return seen


def test_first_run_is_offered_over_the_shown_window(start, first_run, tmp_path, qtbot):
    mine = tmp_path / "mine.sqlite3"
    window, _startup = start(mine)
    qtbot.waitUntil(lambda: window.attached, timeout=20000)
    assert first_run["parent"] is window and first_run["opening"]
    assert first_run["path"] == mine and first_run["exists"] is False
    assert mine.exists() and window.records.model.rowCount() == 0  # "my vault", empty
    assert window.windowTitle() == "mine.sqlite3"


def test_the_demo_chosen_at_first_run_opens_in_the_same_window(start, first_run, tmp_path,
                                                               qtbot):
    first_run["choice"] = FirstRunChoice.DEMO
    mine = tmp_path / "mine.sqlite3"
    window, _startup = start(mine)
    qtbot.waitUntil(lambda: window.attached, timeout=60000)
    assert window.context.demo and window.keys_panel is not None
    assert window.windowTitle() == "demo.sqlite3 (demo)"
    assert not mine.exists()  # the person's own vault was not created


def test_quitting_at_the_first_run_offer_ends_the_app_with_0(first_run, tmp_path, qtbot):
    first_run["choice"] = FirstRunChoice.QUIT
    mine = tmp_path / "mine.sqlite3"
    assert run(mine, demo=False) == 0
    assert isinstance(first_run["parent"], MainWindow) and first_run["opening"]
    assert not mine.exists()


@pytest.mark.parametrize("reason", ["restored yesterday's backup", None])
def test_a_vault_not_as_this_computer_saw_it_is_offered_over_the_window(
        start, rolled_back, reason, monkeypatch, qtbot):  # noqa: F811
    asked: list[tuple[QWidget | None, bool, object]] = []

    def ask(_cls: object, parent: QWidget | None, problem: object) -> str | None:
        asked.append((parent, isinstance(parent, MainWindow) and parent.isVisible(), problem))
        return reason

    monkeypatch.setattr(AcceptVaultDialog, "ask", classmethod(ask))
    window, startup = start(rolled_back)
    ended: list[int] = []
    startup.ended.connect(ended.append)
    if reason is None:  # "Cancel leaves the vault closed and unchanged"
        qtbot.waitUntil(lambda: ended == [0], timeout=20000)
        assert not window.attached
    else:
        qtbot.waitUntil(lambda: window.attached, timeout=20000)
        entries = window.context.vault.audit_entries(action="vault.accept")
        assert [e.details["reason"] for e in entries] == [reason]
    [(parent, shown, problem)] = asked
    assert parent is window and shown and isinstance(problem, VaultRolledBack)
    if reason is None:
        with Vault.open(rolled_back) as vault:
            assert vault.audit_entries(action="vault.accept") == []


@pytest.fixture
def tampered(demo_vault_path: Path) -> Path:
    """A vault whose tables say something its signed log does not."""
    with sqlite3.connect(demo_vault_path) as conn:
        conn.execute("UPDATE records SET owner = 'mallory'")
    return demo_vault_path


@pytest.fixture
def errors_shown(monkeypatch: pytest.MonkeyPatch) -> list[tuple[QWidget | None, str, str]]:
    shown: list[tuple[QWidget | None, str, str]] = []

    def message(parent: QWidget | None, title: str, text: str) -> None:
        shown.append((parent, title, text))

    monkeypatch.setattr(gui_errors.ErrorPresenter, "message", staticmethod(message))
    return shown


def test_a_log_that_does_not_match_is_shown_in_the_window_and_nothing_is_changed(
        start, tampered, errors_shown, qtbot):
    window, startup = start(tampered)
    ended: list[int] = []
    startup.ended.connect(ended.append)
    qtbot.waitUntil(lambda: ended == [1], timeout=20000)
    [(parent, _title, text)] = errors_shown
    assert parent is window and window.isVisible() and not window.attached
    assert "owner" in text and "records" in text
    with Vault.open(tampered) as vault:  # left as it was found, for `audit verify`
        assert {r.owner for r in vault.list_records()} == {"mallory"}


def test_run_ends_with_1_after_showing_why_the_vault_was_not_opened(tampered, errors_shown,
                                                                    qtbot):
    guard = QTimer()  # never hang the suite on a lost exit
    guard.setSingleShot(True)
    guard.timeout.connect(lambda: QApplication.exit(99))
    guard.start(30000)
    try:
        assert run(tampered, demo=False) == 1
    finally:
        guard.stop()
    [(parent, _title, _text)] = errors_shown
    assert isinstance(parent, MainWindow)


def test_a_real_signed_vault_asks_who_operates_once_it_is_open(start, tmp_path,
                                                               trust_demo_ca, qtbot):
    path = tmp_path / "real.sqlite3"
    vault, _devices, _drivers = real_signed_vault(path)
    vault.close()
    window, _startup = start(path)
    qtbot.waitUntil(lambda: window.attached, timeout=20000)
    dialog = offered(window, qtbot)
    assert dialog.parent() is window and window.isVisible()
    dialog.reject()  # only looking
