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
    assert "Bob left" in records.detail.state.text()  # the selected record's detail too
    assert custodians.model.rowCount() == 3  # hidden: not read yet

    window.show_page(PAGES.index("Custodians"))
    qtbot.waitUntil(lambda: custodians.model.rowCount() == 4)
    assert "Dana" in labels(custodians)
    assert custodians.count.text() == "4 in this vault"


def test_the_review_of_the_vault_is_listed_from_the_loader(window, qtbot) -> None:
    window.show_page(PAGES.index("Review"))
    page = window.review
    qtbot.waitUntil(lambda: page.listing is not None)
    model = page.records.model()
    assert model.index(0, 0).data() == "Demo: CI deploy key"
    assert model.rowCount(model.index(0, 0)) == 3
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


@pytest.fixture
def growing(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The records page reads the demo record plus ``count`` copies ("Service account
    00001" …); a test raises ``count`` to stand for records added, and may hold the read
    at ``gate`` (the loader thread waits there while the gate is cleared)."""
    state: dict[str, object] = {"count": MANY - 1, "gate": threading.Event()}
    state["gate"].set()  # type: ignore[attr-defined]

    def many_rows(vault):  # type: ignore[no-untyped-def]
        state["gate"].wait(10)  # type: ignore[attr-defined]
        real = record_rows(vault)
        return real + [dataclasses.replace(real[0], record=dataclasses.replace(
            real[0].record, label=f"Service account {n:05d}"))
            for n in range(1, int(state["count"]) + 1)]  # type: ignore[call-overload]

    monkeypatch.setattr(pages, "record_rows", many_rows)
    return state


def test_after_a_change_new_rows_arrive_in_the_views_order_and_the_selection_stays(
        growing, window, context, qtbot) -> None:
    page = window.records
    qtbot.waitUntil(lambda: page.model.rowCount() == MANY, timeout=20_000)
    page._identity = lambda r: r.record.label  # the copies share the demo record's id
    page.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert page.select_where(lambda r: r.record.label == "Service account 01234")
    page.search.setText("account")  # the demo record is filtered out

    growing["count"] = MANY + 1  # two records added: 05000 and 05001
    context.notify_changed()
    qtbot.waitUntil(lambda: page.model.total() == MANY + 2, timeout=20_000)
    assert labels(page)[:3] == ["Service account 05001", "Service account 05000",
                                "Service account 04999"]
    assert page.count.text() == "5,001 of 5,002 shown"
    assert page.selected_row().record.label == "Service account 01234"
    assert page.detail.title.text() == "Service account 01234"
    page.search.clear()
    assert labels(page)[-1] == "Demo: CI deploy key"  # sorted descending, every row


def test_rows_read_while_the_sort_changed_are_shown_in_the_new_order(growing, window,
                                                                    context, qtbot) -> None:
    page = window.records
    qtbot.waitUntil(lambda: page.model.rowCount() == MANY, timeout=20_000)
    growing["gate"].clear()  # type: ignore[attr-defined]
    growing["count"] = MANY  # one record added
    context.notify_changed()  # read with the rows in ascending order…
    page.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)  # …sorted again meanwhile
    growing["gate"].set()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: page.model.rowCount() == MANY + 1, timeout=20_000)
    shown = labels(page)
    assert shown[:2] == ["Service account 05000", "Service account 04999"]
    assert shown == sorted(shown, reverse=True)


def test_the_rows_a_change_replaces_are_freed(window, context, qtbot) -> None:
    """The rows a later read replaces must be freed (start-up objects are frozen out of
    the garbage collector's walk; the pages' rows never are), or every vault change would
    grow memory."""
    import weakref

    page = window.records
    qtbot.waitUntil(lambda: page.model.rowCount() == 1 and context.loader.idle)
    old = weakref.ref(page.model.row_at(0).record)
    context.notify_changed()
    qtbot.waitUntil(lambda: context.loader.idle and page.model.row_at(0).record is not None
                    and old() is not page.model.row_at(0).record)
    page.detail.show_row(page.selected_row())
    assert old() is None


def test_the_detail_reads_off_the_gui_thread_and_never_shows_another_records_holders(
        window, context, qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Selecting a record shows its title at once; its holders, sheets and history come
    from the loader thread, and until they do the pane shows none rather than those of
    the record selected before."""
    from tessera.core.policy import SplitPlan
    from tessera.custody.create import create_record
    from tessera.gui import record_detail

    create_record(context.vault, b"second secret", label="Backups key",
                  plan=SplitPlan.simple(2, ["Alice", "Carol"]), nhi={}, actor="test")
    context.notify_changed()
    page = window.records
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    demo = next(r for r in context.vault.list_records() if r.label != "Backups key")
    page.select_record(demo.id)
    qtbot.waitUntil(lambda: page.detail.holders.topLevelItemCount() >= 3)  # the demo's
    gate, threads = threading.Event(), []
    real = record_detail.read_facts

    def held(vault, record_id, version):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        gate.wait(10)
        return real(vault, record_id, version)

    monkeypatch.setattr(record_detail, "read_facts", held)
    page.select_record(next(r.id for r in context.vault.list_records()
                            if r.label == "Backups key"))
    assert page.detail.title.text() == "Backups key"  # at once
    assert page.detail.holders.topLevelItemCount() == 0  # not the demo record's three
    assert not page.detail.lifecycle_buttons["destroy"].isEnabled()
    gate.set()
    qtbot.waitUntil(lambda: page.detail.holders.topLevelItemCount() == 2)
    names = {page.detail.holders.topLevelItem(n).text(0) for n in range(2)}
    assert names == {"Alice", "Carol"}
    assert threads == ["tessera-page-loader"]


def test_an_urgent_read_goes_before_those_waiting(context, qtbot) -> None:
    loader = context.loader
    order: list[str] = []
    gate = threading.Event()
    loader.load("running", lambda vault: gate.wait(10), lambda _v: order.append("running"))
    qtbot.waitUntil(lambda: not loader._waiting)  # it has started
    loader.load("review", lambda vault: None, lambda _v: order.append("review"))
    loader.load("detail", lambda vault: None, lambda _v: order.append("detail"), urgent=True)
    gate.set()
    qtbot.waitUntil(lambda: loader.idle and len(order) == 3)
    assert order == ["running", "detail", "review"]


def test_the_detail_reads_once_the_selection_rests(window, context, qtbot,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrow keys held or a search typed move the selection many times a second: the
    pane's title follows each move, the vault is read once, for the record it rests on."""
    from tessera.core.policy import SplitPlan
    from tessera.custody.create import create_record
    from tessera.gui import record_detail

    for label in ("Backups key", "Build signing key"):
        create_record(context.vault, b"a secret", label=label,
                      plan=SplitPlan.simple(2, ["Alice", "Carol"]), nhi={}, actor="test")
    context.notify_changed()
    page = window.records
    qtbot.waitUntil(lambda: page.model.rowCount() == 3)
    qtbot.wait(record_detail.SETTLE_MS * 3)
    asked: list[str] = []
    real = record_detail.read_facts

    def counted(vault, record_id, version):  # type: ignore[no-untyped-def]
        asked.append(record_id)
        return real(vault, record_id, version)

    monkeypatch.setattr(record_detail, "read_facts", counted)
    ids = {r.label: r.id for r in context.vault.list_records()}
    for label in ("Backups key", "Build signing key", "Demo: CI deploy key"):
        page.select_record(ids[label])
        assert page.detail.title.text() == label
    qtbot.waitUntil(lambda: page.detail.holders.topLevelItemCount() >= 3)
    assert asked == [ids["Demo: CI deploy key"]]


def test_a_search_that_hides_the_selected_record_empties_its_detail(read_on, window,
                                                                   qtbot) -> None:
    """The detail pane shows the selected record; a search that hides it leaves no
    record selected, so the pane must not go on naming it — nor the audit pane its entry."""
    page = window.records
    qtbot.waitUntil(lambda: page.model.total() == MANY, timeout=20_000)
    assert page.select_where(lambda r: r.record.label == "Service account 01234")
    assert page.detail.record_id is not None
    page.search.setText("account 04217")
    assert page.selected_row() is None
    assert page.detail.record_id is None
    page.search.setText("account 0421")  # shown again, not selected again
    assert page.detail.record_id is None
    assert page.select_where(lambda r: r.record.label == "Service account 04217")
    page.search.setText("account 042")  # still shown: still selected, still detailed
    assert page.selected_row().record.label == "Service account 04217"
    assert page.detail.title.text() == "Service account 04217"

    window.show_page(PAGES.index("Audit"))
    audit = window.audit
    qtbot.waitUntil(lambda: audit.model.total() > 0 and not audit.loading, timeout=20_000)
    audit.table.selectRow(0)
    entry = audit.selected_row()
    assert audit.detail.entry == entry
    audit.search.setText("no entry says this")
    assert audit.selected_row() is None and audit.detail.entry is None
