"""A read-only table model over a list of row objects, described by columns.

Every inventory table (records, custodians, tokens, audit) is a
:class:`RowTableModel` with its own :class:`Column` list, put behind a
:class:`RowFilterProxy` that sorts by each column's sort key (dates sort as dates,
"2 of 3" sorts by threshold) and filters on free text across all columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
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
    """Rows of one type shown through a fixed list of columns (read-only)."""

    def __init__(self, columns: Sequence[Column[R]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: list[R] = []
        # Computed on first use after each set_rows: a proxy sorting or searching
        # thousands of rows asks for them many times, each a Python call otherwise.
        self._sort_keys: dict[int, list[tuple[int, Any]]] = {}
        self._haystacks: list[str] | None = None
        # The model keeps its rows in the view's order (see RowFilterProxy.sort): one
        # Python sort over precomputed keys, not a comparison call per pair of rows.
        self._order: tuple[int, Qt.SortOrder] | None = None
        self._texts: list[list[str]] | None = None  # cells as shown, when prepared
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
        """Replace every row (views keep their sort and filter)."""
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
        self.version += 1
        self.endResetModel()

    def sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        """Order every row by ``column`` (stable; selections follow their rows)."""
        self._order = (column, order)
        if not 0 <= column < len(self._columns):
            return
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        moved = self._reorder(column, order)
        self.version += 1
        if before:
            where = [0] * len(moved)
            for new, old in enumerate(moved):
                where[old] = new
            self.changePersistentIndexList(
                before, [self.index(where[i.row()], i.column()) if i.isValid() else i
                         for i in before])
        self.layoutChanged.emit()

    def _reorder(self, column: int, order: Qt.SortOrder) -> list[int]:
        """Sort the rows and their cached keys; the old position of each new row."""
        if not 0 <= column < len(self._columns) or not self._rows:
            return list(range(len(self._rows)))
        self.sort_key(0, column)
        moved = _sorted_positions(self._sort_keys[column], order)
        self._rows = [self._rows[i] for i in moved]
        self._sort_keys = {c: [k[i] for i in moved] for c, k in self._sort_keys.items()}
        if self._haystacks is not None:
            self._haystacks = [self._haystacks[i] for i in moved]
        if self._texts is not None:
            self._texts = [[t[i] for i in moved] for t in self._texts]
        return moved

    def matching(self, words: Sequence[str], predicate: Callable[[R], bool] | None) -> list[bool]:
        """Which rows contain every word (casefolded) and pass ``predicate``."""
        if words:
            if self._rows:
                self.haystack(0)  # computes every row's text once
            hay = self._haystacks or []
            keep = [all(w in h for w in words) for h in hay]
        else:
            keep = [True] * len(self._rows)
        if predicate is not None:
            keep = [k and bool(predicate(r)) for k, r in zip(keep, self._rows, strict=True)]
        return keep

    def sort_key(self, row: int, column: int) -> tuple[int, Any]:
        """The row's sort key in ``column`` (None first), computed once per content."""
        keys = self._sort_keys.get(column)
        if keys is None:
            col = self._columns[column]
            keys = [_none_first(col.sort_key(r) if col.sort_key else col.text(r).casefold())
                    for r in self._rows]
            self._sort_keys[column] = keys
        return keys[row]

    def haystack(self, row: int) -> str:
        """Every cell of the row, casefolded, for the search (computed once per content)."""
        if self._haystacks is None:
            self._haystacks = [" ".join(str(c.text(r) or "") for c in self._columns).casefold()
                               for r in self._rows]
        return self._haystacks[row]

    def rows(self) -> list[R]:
        return list(self._rows)

    def leading_texts(self, count: int) -> list[list[str]] | None:
        """The cells of the first ``count`` rows as shown, per column (None: not prepared)."""
        return None if self._texts is None else [t[:count] for t in self._texts]

    def positions(self, wanted: Callable[[R], bool]) -> Iterator[int]:
        """The position of every row ``wanted``, in the model's (the view's) order: one
        Python loop over the rows, not a call through Qt per row."""
        return (n for n, r in enumerate(self._rows) if wanted(r))

    def row_at(self, row: int) -> R:
        return self._rows[row]

    def column_titles(self) -> list[str]:
        return [c.title for c in self._columns]

    # -- QAbstractTableModel -------------------------------------------------------
    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows) \
                or not 0 <= index.column() < len(self._columns):
            return None
        row = self._rows[index.row()]
        column = self._columns[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if self._texts is not None:
                return self._texts[index.column()][index.row()]
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


class RowFilterProxy(QSortFilterProxyModel):
    """Sorts by :data:`SORT_ROLE` and keeps rows whose text contains every search word,
    plus an optional predicate on the row object (a state filter, say)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._words: list[str] = []
        self._predicate: Callable[[Any], bool] | None = None
        self._kept: list[bool] | None = None  # rows that pass, for one model version
        self._kept_version = -1

    def set_search(self, text: str) -> None:
        words = text.casefold().split()
        if words == self._words:
            return
        self.beginFilterChange()
        self._words = words
        self._kept = None
        self.endFilterChange()

    def set_predicate(self, predicate: Callable[[Any], bool] | None) -> None:
        self.beginFilterChange()
        self._predicate = predicate
        self._kept = None
        self.endFilterChange()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """A :class:`RowTableModel` sorts itself (one key per row, one Python sort); the
        proxy then shows its rows in that order."""
        model = self.sourceModel()
        if isinstance(model, RowTableModel):
            model.sort_rows(column, order)
            return
        super().sort(column, order)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        if model is None:
            return True
        if isinstance(model, RowTableModel):
            if not self._words and self._predicate is None:
                return True
            if self._kept is None or self._kept_version != model.version:
                self._kept = model.matching(self._words, self._predicate)
                self._kept_version = model.version
            return 0 <= source_row < len(self._kept) and self._kept[source_row]
        if self._predicate is not None:
            row = model.data(model.index(source_row, 0, source_parent), ROW_ROLE)
            if not self._predicate(row):
                return False
        if not self._words:
            return True
        cells = " ".join(str(model.data(model.index(source_row, c, source_parent)) or "")
                         for c in range(model.columnCount(source_parent))).casefold()
        return all(word in cells for word in self._words)

    def lessThan(self, left: Index, right: Index) -> bool:
        model = self.sourceModel()
        if isinstance(model, RowTableModel):
            a: Any = model.sort_key(left.row(), left.column())
            b: Any = model.sort_key(right.row(), right.column())
        else:
            a, b = _none_first(left.data(SORT_ROLE)), _none_first(right.data(SORT_ROLE))
        try:
            return bool(a < b)
        except TypeError:
            return str(a[1]) < str(b[1])

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
