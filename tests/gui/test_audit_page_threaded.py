"""Verify chain and Export read the whole log — seconds at a million entries — so they run
on the loader thread: the window keeps answering, the page says what it is doing and
its buttons wait, and the verdict (or the file) arrives when it is known."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tessera.gui import audit_page
from tessera.gui.main_window import PAGES

pytestmark = pytest.mark.usefixtures("no_qt_warnings", "threaded_pages")


class Held:
    """A read held on its thread until the test lets it go, noting which thread ran it."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.threads: list[str] = []
        self.go = threading.Event()

    def __call__(self, *args: Any) -> Any:
        self.threads.append(threading.current_thread().name)
        self.go.wait(20)
        return self.real(*args)


def press_while_held(window, qtbot, monkeypatch, name: str, button: str) -> tuple[Any, Held]:
    """Hold ``audit_page.<name>`` on its thread and press the Audit page's ``button``: the
    press returns while the read waits on the loader thread."""
    held = Held(getattr(audit_page, name))
    monkeypatch.setattr(audit_page, name, held)
    window.show_page(PAGES.index("Audit"))
    page = window.audit
    qtbot.mouseClick(getattr(page, button), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: held.threads == ["tessera-page-loader"])
    return page, held


def test_verify_runs_off_the_gui_thread_and_says_so(window, qtbot, monkeypatch) -> None:
    page, held = press_while_held(window, qtbot, monkeypatch, "full_check", "verify_button")
    assert page.verdict.text().startswith("Verifying")
    assert not page.verify_button.isEnabled() and not page.export_button.isEnabled()
    assert page.verify() is None  # a second press while it runs starts nothing
    held.go.set()
    qtbot.waitUntil(lambda: page.verdict.text().startswith("✓ Chain intact"), timeout=20_000)
    assert page.verify_button.isEnabled() and page.export_button.isEnabled()
    assert held.threads == ["tessera-page-loader"]
    assert page.last_verdict is not None and page.last_verdict.ok
    assert page.selected_row().seq == page.last_verdict.head_seq


def test_a_broken_chain_found_off_the_gui_thread_is_named_and_selected(
        window, context, qtbot) -> None:
    with sqlite3.connect(context.vault_path) as conn:  # someone edits the file directly
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 3")
    window.show_page(PAGES.index("Audit"))
    page = window.audit
    qtbot.mouseClick(page.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.verdict.text().startswith("✗"), timeout=20_000)
    assert page.verdict.text().startswith("✗ Chain broken at entry 3")
    qtbot.waitUntil(lambda: page.selected_row() is not None and page.selected_row().seq == 3)


def test_export_runs_off_the_gui_thread(window, qtbot, monkeypatch, tmp_path) -> None:
    target = tmp_path / "audit.jsonl"
    monkeypatch.setattr(audit_page, "ask_export_path", lambda _parent: (target, "jsonl"))
    page, held = press_while_held(window, qtbot, monkeypatch, "write_log", "export_button")
    assert page.verdict.text() == f"Exporting the log to {target}…"
    assert not page.export_button.isEnabled()
    held.go.set()
    qtbot.waitUntil(lambda: page.verdict.text().startswith("Exported"), timeout=20_000)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert page.verdict.text() == f"Exported {len(lines)} entries to {target}"
    assert page.export_button.isEnabled()


def test_an_export_that_cannot_be_written_says_why(window, qtbot, monkeypatch, tmp_path,
                                                   shown_errors) -> None:
    target: Path = tmp_path / "no such folder" / "audit.jsonl"
    monkeypatch.setattr(audit_page, "ask_export_path", lambda _parent: (target, "csv"))
    window.show_page(PAGES.index("Audit"))
    page = window.audit
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.verdict.text() == "The log was not exported.", timeout=20_000)
    assert page.export_button.isEnabled() and page.verify_button.isEnabled()
    shown = [str(e) for e in shown_errors.reports] + [t for _, t in shown_errors.messages]
    assert shown == [f"Could not write {target}: No such file or directory."]
    assert not target.exists()
