"""Starting the application: first-run offer of the demo, demo mode, opening a vault."""

from __future__ import annotations

import pytest

from tessera.gui import app as gui_app
from tessera.gui.app import FirstRunChoice, FirstRunDialog, choose_vault, open_window, run
from tessera.vault import Vault

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


@pytest.fixture
def first_run(monkeypatch, tmp_path):
    """Answer the first-run question; keep the demo vault in tmp_path."""
    asked: list[tuple[str, bool]] = []
    answer = {"choice": FirstRunChoice.DEMO}

    def ask(_parent, path, exists):
        asked.append((str(path), exists))
        return answer["choice"]

    monkeypatch.setattr(FirstRunDialog, "ask", classmethod(lambda cls, *a: ask(*a)))
    monkeypatch.setattr(gui_app, "demo_vault_path", lambda: tmp_path / "demo" / "demo.sqlite3")
    return asked, answer


def test_a_missing_vault_is_met_with_the_demo_offer(first_run, tmp_path):
    asked, answer = first_run
    mine = tmp_path / "mine.sqlite3"
    path, demo, create = choose_vault(mine, demo=False)
    assert asked == [(str(mine), False)]
    assert demo and not create and path == tmp_path / "demo" / "demo.sqlite3"
    with Vault.open(path) as vault:
        assert vault.is_demo and len(vault.list_custodians()) == 3
    assert not mine.exists()  # the person's own vault was not created

    answer["choice"] = FirstRunChoice.EMPTY
    assert choose_vault(mine, demo=False) == (mine, False, True)
    answer["choice"] = FirstRunChoice.QUIT
    assert choose_vault(mine, demo=False) is None
    assert run(mine, demo=False) == 0  # quitting at the offer ends quietly


def test_a_vault_with_records_opens_without_asking(first_run, demo_vault_path):
    asked, _ = first_run
    assert choose_vault(demo_vault_path, demo=False) == (demo_vault_path, False, False)
    assert asked == []


def test_demo_mode_opens_a_window_with_banner_and_virtual_keys(first_run, tmp_path, qtbot):
    target = tmp_path / "d" / "demo.sqlite3"
    window = open_window(target, demo=True)
    qtbot.addWidget(window)
    try:
        assert window.context.demo and window.banner is not None
        assert window.windowTitle() == "demo.sqlite3 (demo)"  # the title bar adds " — Tessera"
        assert sorted(window.keys_panel.rows) == ["Alice's security key", "Bob's YubiKey",
                                                  "Carol's security key"]
        assert window.records.detail.title.text() == "Demo: CI deploy key"
        # the GUI's virtual keys wait for the Touch button, as real keys wait for a finger
        assert {k.touch.mode for k in window.context.virtual.keys} == {"manual"}
    finally:
        window.close()
        window.context.close()


def test_a_real_vault_is_not_opened_as_a_demo(tmp_path, shown_errors):
    real = tmp_path / "real.sqlite3"
    Vault.open(real, create=True).close()
    with pytest.raises(Exception, match="real vault"):
        open_window(real, demo=True)
