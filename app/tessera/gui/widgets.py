"""Small building blocks the pages share: a configured table view, headings, banners."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontDatabase, QFontMetricsF, QMouseEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QFrame,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyle,
    QTableView,
    QTreeView,
    QWidget,
)

from tessera.gui.theme import icon, themed

CONTENTS_SAMPLE = 200  # rows a column's width to contents is measured on


def make_table(model: QAbstractItemModel, name: str, parent: QWidget | None = None) -> QTableView:
    """A sortable, row-selecting, read-only table with a readable default look."""
    view = QTableView(parent)
    view.setModel(model)
    view.setAccessibleName(name)
    view.setObjectName(name.lower().replace(" ", "-"))
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSortingEnabled(True)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    # One line per row (no word wrap): a fixed row height from the font, rather than
    # ResizeToContents, which asks the model for every cell of every row on each layout
    # (seconds for a few thousand records).
    rows = view.verticalHeader()
    rows.setVisible(False)
    rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    rows.setDefaultSectionSize(view.fontMetrics().height() + 10)
    header = view.horizontalHeader()
    header.setResizeContentsPrecision(CONTENTS_SAMPLE)
    header.setHighlightSections(False)
    header.setStretchLastSection(True)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.setTabKeyNavigation(False)
    return view


def share_widths(wanted: list[int], available: int,
                 floors: list[int] | None = None) -> list[int]:
    """Column widths that fit ``available``: all as wanted if they fit, else the widest
    are trimmed to one common cap, never below their floor (then the table scrolls
    sideways rather than cut a column to nothing)."""
    if sum(wanted) <= available or not wanted:
        return list(wanted)
    bottom = [min(w, f) for w, f in zip(wanted, floors or [0] * len(wanted), strict=True)]

    def widths(cap: int) -> list[int]:
        return [max(b, min(w, cap)) for w, b in zip(wanted, bottom, strict=True)]

    low, high = 0, max(wanted)
    while low < high:  # the largest cap whose widths still fit
        cap = (low + high + 1) // 2
        if sum(widths(cap)) <= available:
            low = cap
        else:
            high = cap - 1
    return widths(low)


class HeaderPress(QObject):
    """Whether the left button is down on a header: a section resized meanwhile is the
    person dragging a column's edge (or double-clicking it). The button being down
    anywhere is not enough — a click on the sidebar shows a page while the button is
    down, and the page laying itself out resized its sections then."""

    def __init__(self, header: QHeaderView) -> None:
        super().__init__(header)
        self.down = False
        header.viewport().installEventFilter(self)

    @staticmethod
    def of(header: QHeaderView) -> HeaderPress:
        """The watcher of ``header`` (made on first use)."""
        return header.findChild(HeaderPress) or HeaderPress(header)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick,
                    QEvent.Type.MouseButtonRelease) \
                and cast(QMouseEvent, event).button() == Qt.MouseButton.LeftButton:
            self.down = kind != QEvent.Type.MouseButtonRelease
        return False


class ColumnFitter(QObject):
    """Keeps a table's columns sized to their contents within the width it has.

    Columns are refitted when rows change and when the table is resized, so a long
    name is cut only when there is no room, never while the last column holds empty
    space. Once the person drags a column edge, their widths are left alone.
    """

    def __init__(self, view: QTableView | QTreeView, minimum_last: int = 120,
                 floor: int | None = 90) -> None:
        super().__init__(view)
        self.view = view
        self.minimum_last = minimum_last
        self.floor = floor  # None: every column shares the width, no sideways scrolling
        self.user_sized = False
        self._fitting = False
        self._wanted: list[int] | None = None  # contents' widths measured last
        header = view.header() if isinstance(view, QTreeView) else view.horizontalHeader()
        self.header = header
        self._press = HeaderPress.of(header)
        header.sectionResized.connect(self._resized_by_hand)
        view.viewport().installEventFilter(self)

    def _resized_by_hand(self, _index: int, _old: int, _new: int) -> None:
        if not self._fitting and self._press.down:
            self.user_sized = True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            # Only the room changed: measuring the contents again (a Python call per
            # sampled cell) cost 20-60 ms whenever a search made the scroll bar come or go.
            self.fit(measure=False)
        return False

    def fit(self, *, measure: bool = True, texts: list[list[str]] | None = None) -> None:
        """Share the width among the columns; ``measure``: measure the contents again —
        ``texts`` (per column, the sampled cells as shown) by their text alone, else by
        Qt, which asks the model for every role of every sampled cell (a Python call
        each: 30 ms of GUI thread for a 5,000-record table)."""
        if self.user_sized or self.view.model() is None:
            return
        header = self.header
        columns = header.count()
        if columns == 0:
            return
        wanted = self._wanted
        if texts is not None and len(texts) == columns:
            wanted = [max(width, header.sectionSizeHint(c))
                      for c, width in enumerate(text_widths(self.view, texts))]
            self._wanted = wanted
        elif measure or wanted is None or len(wanted) != columns:
            wanted = [max(self.view.sizeHintForColumn(c), header.sectionSizeHint(c))
                      for c in range(columns)]
            self._wanted = wanted
        last = min(wanted[-1], self.minimum_last)
        available = max(self.view.viewport().width() - last, 0)
        # The first column names the row (a label, a person): it keeps up to 40 % of the
        # width; the others keep a readable minimum.
        floors = None if self.floor is None else (
            [int(available * 0.4)] + [max(header.sectionSizeHint(c), self.floor)
                                      for c in range(1, columns - 1)])
        widths = share_widths(wanted[:-1], available, floors)
        self._fitting = True
        try:
            for column, width in enumerate(widths):
                header.resizeSection(column, width)
            header.resizeSection(columns - 1, last)  # stretches into what is left
        finally:
            self._fitting = False


def fit_columns(view: QTableView | QTreeView, *, scroll: bool = True,
                texts: list[list[str]] | None = None) -> ColumnFitter:
    """Fit ``view``'s columns now and whenever it is resized (see :class:`ColumnFitter`);
    ``scroll=False`` for a short list that must show every column within its width;
    ``texts``: the sampled cells of a plain-text table, per column, measured as text."""
    fitter = view.findChild(ColumnFitter)
    if fitter is None:
        fitter = ColumnFitter(view, minimum_last=80, floor=None) if not scroll \
            else ColumnFitter(view)
    fitter.fit(texts=texts)
    return fitter


def text_widths(view: QAbstractItemView, texts: Sequence[Sequence[str]],
                font: QFont | None = None) -> list[int]:
    """Each column's width to show its widest text in ``view``'s font (or ``font``) with
    the margins the style's item delegate adds — what ``sizeHintForColumn`` gives for
    cells of plain text, without a call into the model per cell."""
    advance = QFontMetricsF(font or view.font()).horizontalAdvance  # laid out in fractions
    margin = 2 * (view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin,
                                           None, view) + 1)
    grid = 1 if isinstance(view, QTableView) and view.showGrid() else 0
    # Each distinct text once: a sample repeats most of its cells (roles, "never",
    # states), and laying out a text is the cost (12 ms for 5,600 cells, 219 distinct).
    return [math.ceil(max(map(advance, set(column)), default=-margin - grid))
            + margin + grid for column in texts]


class SearchableChoice(QComboBox):
    """A choice among many — thousands of records: type any part of a name and the list
    narrows to the names that contain it. :meth:`value` is the chosen item's data, or
    None while the text names no item (typed, not yet chosen)."""

    changed = Signal()  # the value may have changed (an item chosen, or the text edited)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(name)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)  # only the items are choices
        completer = QCompleter(self.model(), self)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setCompleter(completer)
        edit = cast(QLineEdit, self.lineEdit())
        edit.setPlaceholderText("Type part of its name, or open the list")
        self.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.editTextChanged.connect(lambda _t: self.changed.emit())

    def value(self) -> Any:
        text = self.currentText()
        index = self.currentIndex()
        if index >= 0 and self.itemText(index) == text:
            return self.itemData(index)
        # The text a completion wrote, or typed in full: an item only if no other has it
        # (two records may share a label; then it is chosen from the list).
        same = self.model().match(self.model().index(0, 0), Qt.ItemDataRole.DisplayRole, text,
                                  2, Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchCaseSensitive)
        return self.itemData(same[0].row()) if len(same) == 1 else None


def search_field(placeholder: str, name: str) -> QLineEdit:
    field = QLineEdit()
    field.setPlaceholderText(placeholder)
    field.setClearButtonEnabled(True)
    field.setAccessibleName(name)
    themed(field.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition), "search")
    field.setMinimumWidth(220)
    return field


def heading(text: str, level: int = 1) -> QLabel:
    """A page (level 1) or section (level 2) title."""
    label = QLabel(text)
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() * (1.45 if level == 1 else 1.1))
    font.setBold(True)
    label.setFont(font)
    label.setAccessibleName(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    return label


class MutedLabel(QLabel):
    """Secondary text (hints, explanations) in the palette's muted colour.

    It takes the colour by role, not by value, so a theme switched at run time
    re-colours it with the rest of the palette.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setForegroundRole(QPalette.ColorRole.PlaceholderText)


def muted(text: str) -> QLabel:
    return MutedLabel(text)


def mono_font() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def fingerprint_label(text: str = "", large: bool = False) -> QLabel:
    """A fingerprint, monospaced and selectable so people can compare and copy it."""
    label = QLabel(text)
    font = mono_font()
    if large:
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
    label.setFont(font)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                  | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    label.setAccessibleName("Fingerprint")
    return label


def separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


def focus_when_shown(widget: QWidget) -> None:
    """Put the cursor in ``widget`` once the page showing it has settled.

    A QWizard gives the focus to a page's first focusable child *after*
    ``initializePage`` (on a form that starts with radio buttons, a radio button), so
    the wanted field is focused on the next turn of the event loop instead.
    """
    QTimer.singleShot(0, widget, lambda: widget.setFocus(Qt.FocusReason.OtherFocusReason))
