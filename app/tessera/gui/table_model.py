"""A read-only table model over a list of row objects, described by columns.

Every inventory table (records, custodians, tokens, audit) is a
:class:`RowTableModel` with its own :class:`Column` list, which sorts by each column's
sort key (dates sort as dates, "2 of 3" sorts by threshold) and filters on free text
across all columns; a :class:`RowFilterProxy` passes the view's sort and the page's
search to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QIdentityProxyModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush

from tessera.core.text import visible
from tessera.gui.theme import Tone, tone_color

R = TypeVar("R")
Index = QModelIndex | QPersistentModelIndex

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the row object itself
SORT_ROLE = Qt.ItemDataRole.UserRole + 2  # a value that sorts correctly
__all__ = ["Column", "Prepared", "RowFilterProxy", "RowTableModel", "Tone", "tone_color"]
_ROOT = QModelIndex()




@dataclass(frozen=True)
class Prepared(Generic[R]):
    """Rows with every sort key and search text computed (on the loader thread)."""

    rows: list[R]
    sort_keys: dict[int, list[tuple[int, Any]]]
    haystacks: list[str]
    texts: list[list[str]]  # per column, each row's cell as shown
    order: tuple[int, Qt.SortOrder] | None = None  # already sorted so, on the loader


@dataclass(frozen=True)
class Column(Generic[R]):
    """One column: its header, the text of a cell, and optionally more."""

    title: str
    text: Callable[[R], str]
    sort_key: Callable[[R], Any] | None = None
    tooltip: Callable[[R], str] | None = None
    tone: Callable[[R], str] | None = None
    align_right: bool = False


class RowTableModel(QAbstractTableModel, Generic[R]):
    """Rows of one type shown through a fixed list of columns (read-only), sorted and
    searched by the model itself.

    The model keeps every row in the view's order and shows those that pass the search
    and the predicate: a reset, a sort or a search is a few Python list operations over
    precomputed keys and texts, not a Python call from Qt per row (a
    ``QSortFilterProxyModel`` asks ``filterAcceptsRow`` once per row on each of them:
    10-25 ms of GUI thread at 5,000 rows)."""

    def __init__(self, columns: Sequence[Column[R]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: list[R] = []  # every row, in the view's order
        # Computed on first use after each set_rows: sorting or searching thousands of
        # rows needs them for every row.
        self._sort_keys: dict[int, list[tuple[int, Any]]] = {}
        self._haystacks: list[str] | None = None
        self._order: tuple[int, Qt.SortOrder] | None = None
        self._texts: list[list[str]] | None = None  # cells as shown, when prepared
        self._words: list[str] = []
        self._predicate: Callable[[R], bool] | None = None
        self._shown: list[int] | None = None  # positions in _rows shown; None: all
        self.version = 0  # changes whenever the rows or their order change

    # -- content -----------------------------------------------------------------
    def prepare(self, rows: Sequence[R], order: tuple[int, Qt.SortOrder] | None = None
                ) -> Prepared[R]:
        """Compute every row's sort keys and search text, and sort the rows by ``order``
        (the view's sort when the read was asked for): pure Python on the row objects,
        so the loader thread does it and the GUI thread only swaps the lists in."""
        rows = list(rows)
        raw = [[c.text(r) for r in rows] for c in self._columns]
        keys = {n: [_none_first(c.sort_key(r)) for r in rows] if c.sort_key
                else [(1, t.casefold()) for t in raw[n]] for n, c in enumerate(self._columns)}
        hay = [" ".join(str(t or "") for t in cells).casefold() for cells in zip(*raw, strict=True)]
        texts = [[visible(t) for t in col] for col in raw]
        if order is None or not 0 <= order[0] < len(self._columns) or not rows:
            return Prepared(rows, keys, hay, texts)
        moved = _sorted_positions(keys[order[0]], order[1])
        return Prepared([rows[i] for i in moved], {c: [k[i] for i in moved] for c, k in keys.items()},
                        [hay[i] for i in moved], [[t[i] for i in moved] for t in texts], order)

    @property
    def order(self) -> tuple[int, Qt.SortOrder] | None:
        """The column and direction the rows are kept in (None: as read)."""
        return self._order

    def set_rows(self, rows: Sequence[R] | Prepared[R]) -> None:
        """Replace every row (the sort and the search stay)."""
        self.beginResetModel()
        if isinstance(rows, Prepared):
            self._rows = list(rows.rows)
            self._sort_keys = dict(rows.sort_keys)
            self._haystacks = list(rows.haystacks)
            self._texts = [list(t) for t in rows.texts]
        else:
            self._rows = list(rows)
            self._sort_keys = {}
            self._haystacks = None
            self._texts = None
        already = isinstance(rows, Prepared) and rows.order == self._order
        if self._order is not None and not already:
            self._reorder(*self._order)
        self._shown = self._passing()
        self.version += 1
        self.endResetModel()

    def sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        """Order every row by ``column`` (stable; selections follow their rows)."""
        self._order = (column, order)
        if not 0 <= column < len(self._columns):
            return
        self._relayout(lambda: self._reorder(column, order))

    def set_filter(self, words: Sequence[str], predicate: Callable[[R], bool] | None) -> None:
        """Show only the rows containing every word (casefolded) that pass ``predicate``
        (selections follow their rows; a row filtered out loses its selection)."""
        words = list(words)
        if words == self._words and predicate is self._predicate:
            return
        self._words, self._predicate = words, predicate
        self._relayout(lambda: list(range(len(self._rows))))

    def _relayout(self, change: Callable[[], list[int]]) -> None:
        """Apply ``change`` (which returns the old position of each row after it) and
        filter again, as one layout change that moves persistent indexes with their rows."""
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        old_shown = self._shown
        moved = change()
        self._shown = self._passing()
        self.version += 1
        if before:
            where = [-1] * len(moved)  # each old position's new place among shown rows
            new_rows = range(len(moved)) if self._shown is None else self._shown
            for shown_at, new in enumerate(new_rows):
                where[moved[new]] = shown_at
            after = []
            for index in before:
                row = -1
                if index.isValid():
                    row = where[index.row() if old_shown is None else old_shown[index.row()]]
                after.append(self.index(row, index.column()) if row >= 0 else QModelIndex())
            self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _reorder(self, column: int, order: Qt.SortOrder) -> list[int]:
        """Sort the rows and their cached keys; the old position of each new row."""
        if not 0 <= column < len(self._columns) or not self._rows:
            return list(range(len(self._rows)))
        keys = self._keys(column)
        moved = _sorted_positions(keys, order)
        self._rows = [self._rows[i] for i in moved]
        self._sort_keys = {c: [k[i] for i in moved] for c, k in self._sort_keys.items()}
        if self._haystacks is not None:
            self._haystacks = [self._haystacks[i] for i in moved]
        if self._texts is not None:
            self._texts = [[t[i] for i in moved] for t in self._texts]
        return moved

    def _passing(self) -> list[int] | None:
        """The positions of the rows the search and the predicate keep (None: all)."""
        words, predicate, rows = self._words, self._predicate, self._rows
        if not words and predicate is None:
            return None
        if words:
            hay = self._search_texts()
            shown = [n for n, h in enumerate(hay) if all(w in h for w in words)]
        else:
            shown = list(range(len(rows)))
        if predicate is not None:
            shown = [n for n in shown if predicate(rows[n])]
        return shown

    def _keys(self, column: int) -> list[tuple[int, Any]]:
        """Every row's sort key in ``column`` (None first), computed once per content."""
        keys = self._sort_keys.get(column)
        if keys is None:
            col = self._columns[column]
            keys = [_none_first(col.sort_key(r) if col.sort_key else col.text(r).casefold())
                    for r in self._rows]
            self._sort_keys[column] = keys
        return keys

    def _search_texts(self) -> list[str]:
        """Every row's cells, casefolded, for the search (computed once per content)."""
        if self._haystacks is None:
            self._haystacks = [" ".join(str(c.text(r) or "") for c in self._columns).casefold()
                               for r in self._rows]
        return self._haystacks

    def total(self) -> int:
        """How many rows the model holds, shown or not."""
        return len(self._rows)

    def rows(self) -> list[R]:
        """The rows shown, in the view's order."""
        return [self._rows[n] for n in self._shown] if self._shown is not None else list(self._rows)

    def leading_texts(self, count: int) -> list[list[str]] | None:
        """The cells of the first ``count`` rows as shown, per column (None: not prepared)."""
        return None if self._texts is None else [t[:count] for t in self._texts]

    def positions(self, wanted: Callable[[R], bool]) -> Iterator[int]:
        """The row number of every shown row ``wanted``, in the view's order: one
        Python loop over the rows, not a call through Qt per row."""
        rows = self._rows
        if self._shown is None:
            return (n for n, r in enumerate(rows) if wanted(r))
        return (n for n, at in enumerate(self._shown) if wanted(rows[at]))

    def row_at(self, row: int) -> R:
        return self._rows[row if self._shown is None else self._shown[row]]

    def column_titles(self) -> list[str]:
        return [c.title for c in self._columns]

    # -- QAbstractTableModel -------------------------------------------------------
    def rowCount(self, parent: Index = _ROOT) -> int:
        if parent.isValid():
            return 0
        return len(self._rows) if self._shown is None else len(self._shown)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < self.rowCount() \
                or not 0 <= index.column() < len(self._columns):
            return None
        at = index.row() if self._shown is None else self._shown[index.row()]
        row = self._rows[at]
        column = self._columns[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if self._texts is not None:
                return self._texts[index.column()][at]
            # Stored names may predate the checks on typed text: show, never obey.
            return visible(column.text(row))
        if role == SORT_ROLE:
            return column.sort_key(row) if column.sort_key else column.text(row).casefold()
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip is not None:
            tip = column.tooltip(row)
            return visible(tip) if tip else None
        if role == Qt.ItemDataRole.ForegroundRole and column.tone is not None:
            color = tone_color(column.tone(row))
            return QBrush(color) if color is not None else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if column.align_right \
                else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(self._columns)):
            return self._columns[section].title
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class RowFilterProxy(QIdentityProxyModel):
    """What a view shows of a :class:`RowTableModel`: its search field and filters and
    the view's sort go to the model, which sorts by :data:`SORT_ROLE`'s keys and keeps
    rows containing every search word that pass an optional predicate on the row object
    (a state filter, say). An identity proxy: no Python call per row from Qt."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._words: list[str] = []
        self._predicate: Callable[[Any], bool] | None = None

    def _rows(self) -> RowTableModel[Any]:
        model = self.sourceModel()
        if not isinstance(model, RowTableModel):
            raise TypeError("a RowFilterProxy shows a RowTableModel")
        return model

    def set_search(self, text: str) -> None:
        self._words = text.casefold().split()
        self._rows().set_filter(self._words, self._predicate)

    def set_predicate(self, predicate: Callable[[Any], bool] | None) -> None:
        self._predicate = predicate
        self._rows().set_filter(self._words, self._predicate)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The model sorts itself (one key per row, one Python sort)."""
        self._rows().sort_rows(column, order)

    def row_at(self, proxy_row: int) -> Any:
        return self.index(proxy_row, 0).data(ROW_ROLE)


def _sorted_positions(keys: list[tuple[int, Any]], order: Qt.SortOrder) -> list[int]:
    """The old position of each row once sorted by ``keys`` (stable)."""
    descending = order == Qt.SortOrder.DescendingOrder
    try:
        return sorted(range(len(keys)), key=keys.__getitem__, reverse=descending)
    except TypeError:  # mixed kinds in one column: compare their text
        return sorted(range(len(keys)), key=lambda i: (keys[i][0], str(keys[i][1])),
                      reverse=descending)


def _none_first(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)
