"""A table of thousands of rows asks its model for a bounded number of cells when it is
shown and sized, and sorting or searching computes each row's key or text once."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tessera.gui.table_model import Column, RowFilterProxy, RowTableModel
from tessera.gui.widgets import fit_columns, make_table


def shown_table(rows: int, calls: list[int]):  # type: ignore[no-untyped-def]
    def twice(n: int) -> str:
        calls.append(n)  # read for display and sizing only (the table sorts by Name)
        return str(2 * n)

    model = RowTableModel([Column("Name", lambda n: f"row {n:05d}"), Column("Twice", twice)])
    model.set_rows(range(rows))
    proxy = RowFilterProxy()
    proxy.setSourceModel(model)
    view = make_table(proxy, "Test table")
    view.resize(600, 400)
    fit_columns(view)
    view.show()
    QApplication.processEvents()
    return model, proxy, view


def test_showing_a_big_table_reads_about_as_many_cells_as_a_small_one(qtbot) -> None:
    small: list[int] = []
    big: list[int] = []
    views = [shown_table(300, small), shown_table(6000, big)]
    for _, _, view in views:
        qtbot.addWidget(view)
    assert len(big) < 2 * len(small)  # not twenty times as many


def test_sort_and_search_compute_each_rows_key_once(qtbot) -> None:
    calls: list[int] = []
    _model, proxy, view = shown_table(2000, calls)
    qtbot.addWidget(view)
    calls.clear()
    view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert proxy.index(0, 0).data() == "row 01999"
    proxy.set_search("row 0004")  # every word somewhere in the row: 00004, 00040–00049
    assert proxy.rowCount() == 11
    proxy.set_search("row 00042")
    assert proxy.rowCount() == 1
    assert len(calls) <= 2000 + 200  # each row's search text once, plus painting


def test_columns_measured_by_their_text_are_as_wide_as_qt_measures_them(qtbot) -> None:
    """A prepared table is sized from its cells' text, without a model call per cell;
    the widths must be what Qt's own measure gives, or text would be cut (or padded)."""
    from tessera.gui.widgets import text_widths

    model = RowTableModel([Column("Name", lambda n: f"Service account {n:05d} — Größe"),
                           Column("Kind", lambda n: "WWW" * (n % 7)),
                           Column("Empty", lambda n: "")])
    model.set_rows(model.prepare(range(150)))
    view = make_table(model, "Test table")
    qtbot.addWidget(view)
    view.show()
    texts = model.leading_texts(200)
    assert texts is not None
    qt = [view.sizeHintForColumn(c) for c in range(3)]
    assert text_widths(view, texts)[:2] == qt[:2]
    assert text_widths(view, texts)[2] <= max(qt[2], 0) + 8  # nothing to show: no width


def test_the_selected_row_stays_selected_through_search_and_sort(qtbot) -> None:
    """The model sorts and searches itself: a row keeps its selection while it is shown,
    loses it when a search hides it, and the count of rows shown follows the search."""
    model, proxy, view = shown_table(500, [])
    qtbot.addWidget(view)
    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    view.selectRow(42)

    def selected() -> list[str]:
        return [i.data() for i in view.selectionModel().selectedRows()]

    assert selected() == ["row 00042"]
    proxy.set_search("row 004")  # 00004, 00040-00049, 00400-00499
    assert proxy.rowCount() == 111 and model.total() == 500
    assert selected() == ["row 00042"]
    view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert proxy.index(0, 0).data() == "row 00499"
    assert [proxy.index(r, 0).data() for r in range(proxy.rowCount())][-11:] == [
        f"row {n:05d}" for n in (*range(49, 39, -1), 4)]
    assert selected() == ["row 00042"]
    assert view.currentIndex().data() == "row 00042"
    proxy.set_predicate(lambda n: n % 2 == 0)
    assert proxy.rowCount() == 56 and selected() == ["row 00042"]
    proxy.set_search("row 0041")  # hides the selected row
    assert selected() == []
    proxy.set_search("")
    proxy.set_predicate(None)
    assert proxy.rowCount() == 500
    assert proxy.row_at(0) == 499 and model.row_at(0) == 499


def test_the_model_contract_holds_while_searching_and_sorting(qtbot, qtmodeltester) -> None:
    model, proxy, view = shown_table(300, [])
    qtbot.addWidget(view)
    view.selectRow(7)
    qtmodeltester.check(proxy, force_py=True)  # and watches the changes that follow
    proxy.set_search("row 001")  # 00010-00019, 00100-00199 (and 2 × 5 = 10)
    assert proxy.rowCount() == 111
    view.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # by the text of 2 × n
    proxy.set_predicate(lambda n: n > 150)
    model.set_rows(range(170))  # new rows: the search, predicate and sort stay
    assert [proxy.index(r, 0).data() for r in range(proxy.rowCount())] == [
        f"row {n:05d}" for n in range(169, 150, -1)]
    proxy.set_search("")
    model.set_rows(range(200))
    assert proxy.rowCount() == 49
    qtmodeltester.check(proxy, force_py=True)
