"""The Review page's two lists as models over rows worked out on the loader thread.

:func:`list_review` turns a :class:`~tessera.core.review.Review` into the cells the
page shows — one row per record with its holders beneath it, every finding sorted by
severity then record — in plain tuples, on the loader thread. The two models only
hand those cells to their views: showing a new review of 5,000 records (50,000 rows)
is one model reset, not 50,000 ``QTreeWidgetItem`` objects made, rewritten or deleted
on the GUI thread, and nothing per row is left for the garbage collector to walk.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QFont

from tessera.core.review import Review, Severity
from tessera.core.wording import share_label
from tessera.gui.rows import short_time
from tessera.gui.theme import Tone, tone_color
from tessera.tokens.base import TokenKind

Index = QModelIndex | QPersistentModelIndex
SEVERITIES = tuple(Severity)  # most severe first
SEVERITY_TONE = {Severity.HIGH: Tone.BAD, Severity.MEDIUM: Tone.WARN, Severity.LOW: Tone.MUTED}
RECORD_COLUMNS = ("Record / custodian", "Quorum / share", "State / keys",
                  "Last release / last drill", "Rotation due", "Old sheets", "Findings")
FINDING_COLUMNS = ("Severity", "Finding", "Record", "Custodian", "Details")
NO_SEVERITY = -1
_ROOT = QModelIndex()
_DISPLAY = Qt.ItemDataRole.DisplayRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole


# A line is a plain tuple, not a named tuple: the collector stops tracking a tuple of
# strings and numbers (and of such tuples) once it has seen it, so the 40,000 lines of a
# 5,000-record review cost nothing in later garbage collections, which walk every
# tracked object while the window waits. A named tuple stays tracked.
RecordLine = tuple[tuple[str, ...], str, int, tuple[tuple[str, ...], ...]]
"""A record's cells, its id, the index of its worst finding's severity (``NO_SEVERITY``:
none) and one tuple of cells per holder."""
FindingLine = tuple[tuple[str, ...], int, str]
"""A finding's cells, the index of its severity in SEVERITIES and its kind."""
# The parts of a line, by position (Final: the type checker knows each part's type).
CELLS: Final = 0
RECORD_ID: Final = 1  # a RecordLine's
WORST: Final = 2
HOLDERS: Final = 3
SEVERITY: Final = 1  # a FindingLine's
KIND: Final = 2


class ReviewListing(NamedTuple):
    records: tuple[RecordLine, ...]
    findings: tuple[FindingLine, ...]
    counts: str  # "5,000 records · findings: 3 high, …"
    # Compared on the loader with the records shown when the review was asked for
    # (``base``): the rows whose cells changed, or None if records or holders came or
    # went. Comparing 5,000 records with their holders is 20-25 ms of Python.
    changed: tuple[int, ...] | None = None
    base: tuple[RecordLine, ...] | None = None


def changed_records(old: tuple[RecordLine, ...], new: tuple[RecordLine, ...]
                    ) -> tuple[int, ...] | None:
    """The rows of ``new`` whose cells differ from ``old``'s; None when the two are not
    the same records with as many holders each (the view must be laid out again)."""
    if len(old) != len(new) or not new or any(
            a[RECORD_ID] != b[RECORD_ID] or len(a[HOLDERS]) != len(b[HOLDERS])
            for a, b in zip(old, new, strict=True)):
        return None
    return tuple(row for row, (a, b) in enumerate(zip(old, new, strict=True)) if a != b)


def list_review(review: Review, shown: tuple[RecordLine, ...] | None = None) -> ReviewListing:
    """Every cell of both lists, as shown, and which records differ from ``shown`` (pure
    Python: runs on the loader thread)."""
    rank = {severity: n for n, severity in enumerate(SEVERITIES)}
    records = []
    for record in review.records:
        found = review.findings_for(record.record_id)
        worst = min((rank[f.severity] for f in found), default=NO_SEVERITY)
        holders = []
        for holder in record.holders:
            keys = ", ".join(f"{t.label} ({TokenKind(t.kind).display_name}"
                             f"{', ' + t.state if t.state != 'active' else ''})"
                             for t in holder.tokens) or "paper only"
            drills = [t.last_record_drill_at for t in holder.tokens if t.last_record_drill_at]
            own = sum(1 for f in found if f.custodian == holder.name)
            holders.append((holder.name, ", ".join(share_label(k) for k in holder.share_keys),
                            keys, short_time(max(drills)) if drills else "never", "", "",
                            str(own)))
        records.append((
            (record.label, record.k_of_n, record.state_display,
             short_time(record.last_release_at), review.rotation_due_text(record),
             str(len(record.outstanding_sheets)) if record.outstanding_sheets else "—",
             str(len(found)) if found else "—"),
            record.record_id, worst, tuple(holders)))
    findings = sorted(review.findings, key=lambda f: (rank[f.severity], f.label.casefold()))
    counts = review.counts()
    total = len(review.records)
    lines = tuple(records)
    return ReviewListing(
        lines,
        tuple(((f.severity.value.upper(), f.kind.heading, f.label, f.custodian, f.text),
               rank[f.severity], f.kind.value) for f in findings),
        f"{total:,} record{'' if total == 1 else 's'} · findings: "
        f"{counts[Severity.HIGH]:,} high, {counts[Severity.MEDIUM]:,} medium, "
        f"{counts[Severity.LOW]:,} low",
        None if shown is None else changed_records(shown, lines), shown)


def _brushes() -> dict[int, QBrush]:
    """One brush per severity, read from the palette once per listing."""
    return {n: QBrush(colour) for n, severity in enumerate(SEVERITIES)
            if (colour := tone_color(SEVERITY_TONE[severity])) is not None}


class RecordsModel(QAbstractItemModel):
    """Records at the top level, each record's holders beneath it (read-only).

    An index's internal id says where it is: 0 for a record, the record's row + 1 for
    one of its holders."""

    def __init__(self, font: QFont, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lines: tuple[RecordLine, ...] = ()
        self._brushes: dict[int, QBrush] = {}
        self.bold_font = QFont(font)
        self.bold_font.setBold(True)

    @property
    def lines(self) -> tuple[RecordLine, ...]:
        """The records shown (immutable: the loader compares a new review with them)."""
        return self._lines

    def show(self, listing: ReviewListing) -> bool:
        """Show the listing's records; True if the view was reset (records or holders
        came or went).

        The same records with as many holders each — what most vault changes bring — are
        shown by rewriting the changed records' cells in place: the view keeps its
        selection and opened records and does not lay out thousands of rows again (a
        reset costs 20-30 ms of Python calls from the view at 5,000 records), and only
        those records are repainted (a view told that all 5,000 changed walks them all)."""
        brushes = _brushes()
        lines = listing.records
        if listing.base is self._lines and listing.base is not None:
            changed = listing.changed  # compared on the loader
        else:
            changed = changed_records(self._lines, lines)
        if changed is None:
            self.beginResetModel()
            self._lines, self._brushes = lines, brushes
            self.endResetModel()
            return True
        recoloured = brushes != self._brushes
        self._lines, self._brushes = lines, brushes
        last = len(RECORD_COLUMNS) - 1
        if recoloured:  # the palette changed: every record's findings count
            self.dataChanged.emit(self.index(0, 0), self.index(len(lines) - 1, last))
            return False
        for row in changed:
            record = self.index(row, 0)
            self.dataChanged.emit(record, self.index(row, last))
            if count := len(lines[row][HOLDERS]):
                self.dataChanged.emit(self.index(0, 0, record),
                                      self.index(count - 1, last, record))
        return False

    # -- QAbstractItemModel --------------------------------------------------------------
    def index(self, row: int, column: int, parent: Index = _ROOT) -> QModelIndex:
        if not parent.isValid():  # a record: what the view asks for most
            if 0 <= row < len(self._lines) and 0 <= column < 7:
                return self.createIndex(row, column, 0)
            return QModelIndex()
        record = parent.row()
        if (not parent.internalId() and 0 <= record < len(self._lines)
                and 0 <= row < len(self._lines[record][HOLDERS]) and 0 <= column < 7):
            return self.createIndex(row, column, record + 1)
        return QModelIndex()

    def parent(self, child: Index = _ROOT) -> QModelIndex:  # type: ignore[override]
        if not child.isValid() or not child.internalId():
            return QModelIndex()
        return self.createIndex(child.internalId() - 1, 0, 0)

    def rowCount(self, parent: Index = _ROOT) -> int:
        if not parent.isValid():
            return len(self._lines)
        if parent.internalId() or parent.column() != 0:
            return 0
        return len(self._lines[parent.row()][HOLDERS])

    def hasChildren(self, parent: Index = _ROOT) -> bool:
        # Asked for every record each time the view lays itself out: answered directly.
        if not parent.isValid():
            return bool(self._lines)
        return not parent.internalId() and not parent.column() and bool(
            self._lines[parent.row()][HOLDERS])

    def columnCount(self, parent: Index = _ROOT) -> int:
        return len(RECORD_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = _DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == _DISPLAY:
            return RECORD_COLUMNS[section]
        return None

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        holder_of = index.internalId()
        column = index.column()
        if holder_of:
            if role == _DISPLAY:
                return self._lines[holder_of - 1][HOLDERS][index.row()][column]
            return None
        line = self._lines[index.row()]
        if role == _DISPLAY:
            return line[CELLS][column]
        if role == _FOREGROUND and column == 6:
            return self._brushes.get(line[WORST])
        if role == Qt.ItemDataRole.FontRole and column == 0:
            return self.bold_font
        if role == Qt.ItemDataRole.UserRole and column == 0:
            return line[RECORD_ID]
        return None


class FindingsModel(QAbstractTableModel):
    """Every finding, most severe first (read-only); the details also as a tooltip."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lines: tuple[FindingLine, ...] = ()
        self._brushes: dict[int, QBrush] = {}

    def show(self, lines: tuple[FindingLine, ...]) -> None:
        self.beginResetModel()
        self._lines = lines
        self._brushes = _brushes()
        self.endResetModel()

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._lines)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(FINDING_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = _DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == _DISPLAY:
            return FINDING_COLUMNS[section]
        return None

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        line = self._lines[index.row()]
        column = index.column()
        if role == _DISPLAY:
            return line[CELLS][column]
        if role == Qt.ItemDataRole.ToolTipRole and column == 4:
            return line[CELLS][4]
        if role == _FOREGROUND and column == 0:
            return self._brushes.get(line[SEVERITY])
        return None
