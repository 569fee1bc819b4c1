"""A vault of thousands of records as a person sees it: the window answers at once, the
rows arrive from the loader thread with their total, search and sort cover every row,
and a change shows on the page on screen at once and on another page when it is shown."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from PySide6.QtCore import Qt

from tessera.gui import pages
from tessera.gui.loader import VaultLoader
from tessera.gui.main_window import PAGES
from tessera.gui.rows import record_rows
from tessera.vault import RecordState

pytestmark = pytest.mark.usefixtures("no_qt_warnings", "threaded_pages")

MANY = 5_000


@pytest.fixture
def read_on(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The records page reads the demo record plus 4,999 copies of it (labelled
    "Service account 00001" …; the detail pane reads the demo record for each), and
    notes which thread read them."""
    threads: list[str] = []

    def many_rows(vault):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        real = record_rows(vault)
        copies = [dataclasses.replace(real[0], record=dataclasses.replace(
            real[0].record, label=f"Service account {n:05d}"))
            for n in range(1, MANY)]
        return real + copies

    monkeypatch.setattr(pages, "record_rows", many_rows)
    return threads


def labels(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [page.proxy.index(r, 0).data() for r in range(page.proxy.rowCount())]


def test_thousands_of_records_arrive_from_the_loader_with_their_count(read_on, window,
                                                                      qtbot) -> None:
    page = window.records
    qtbot.waitUntil(lambda: page.model.rowCount() == MANY, timeout=20_000)
    assert read_on and "MainThread" not in read_on  # read off the GUI thread
    assert page.count.text() == "5,000 in this vault"
    assert page.detail.title.text() == labels(page)[0]  # the first row is selected

    page.search.setText("account 04217")  # every word, in any column
    assert labels(page) == ["Service account 04217"]
    assert page.count.text() == "1 of 5,000 shown"
    page.search.clear()
    assert page.count.text() == "5,000 in this vault"

    # Sorting covers every row, not just those scrolled into view.
    page.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert labels(page)[:2] == ["Service account 04999", "Service account 04998"]
    page.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert labels(page)[0] == "Demo: CI deploy key"
    page.table.scrollToBottom()
    assert labels(page)[-1] == "Service account 04999"


def test_a_change_shows_on_the_page_on_screen_and_on_another_when_shown(window, context,
                                                                       qtbot) -> None:
    records = window.records
    qtbot.waitUntil(lambda: records.model.rowCount() == 1)
    custodians = window.custodians  # built while Records stays on screen
    qtbot.waitUntil(lambda: custodians.model.rowCount() == 3)
    record = context.vault.list_records()[0]
    context.vault.set_record_state(record.id, RecordState.ROTATION_REQUIRED, "Bob left", "t")
    context.vault.add_custodian("Dana", contact="dana@example.invalid", role="Auditor",
                                actor="test")
    context.notify_changed()
    state = records.model.column_titles().index("State")
    qtbot.waitUntil(lambda: records.proxy.index(0, state).data() == "rotation required")
    assert custodians.model.rowCount() == 3  # hidden: not read yet

    window.show_page(PAGES.index("Custodians"))
    qtbot.waitUntil(lambda: custodians.model.rowCount() == 4)
    assert "Dana" in labels(custodians)
    assert custodians.count.text() == "4 in this vault"


def test_the_review_of_the_vault_is_listed_from_the_loader(window, qtbot) -> None:
    window.show_page(PAGES.index("Review"))
    page = window.review
    qtbot.waitUntil(lambda: page.review is not None and not page.filling)
    assert page.records.topLevelItem(0).text(0) == "Demo: CI deploy key"
    assert page.records.topLevelItem(0).childCount() == 3
    assert "1 record ·" in page.counts.text()


def test_only_the_newest_read_of_a_page_is_shown(context, qtbot) -> None:
    loader = context.loader
    shown: list[tuple[int, str]] = []
    gate = threading.Event()

    def read(n: int):  # type: ignore[no-untyped-def]
        def run(vault):  # type: ignore[no-untyped-def]
            gate.wait(5)
            return n, threading.current_thread().name
        return run

    for n in range(1, 4):
        loader.load("page", read(n), shown.append)
    gate.set()
    qtbot.waitUntil(lambda: loader.idle and bool(shown))
    assert shown == [(3, "tessera-page-loader")]  # 1 and 2 superseded, never shown
    assert not VaultLoader.inline
