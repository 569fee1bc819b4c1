"""Small building blocks the pages share: a configured table view, headings, banners."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QEvent, Qt, QTimer
from PySide6.QtGui import QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QWidget,
)

from tessera.gui.theme import icon, themed


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
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setStretchLastSection(True)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.setTabKeyNavigation(False)
    return view


def fit_columns(view: QTableView, maximum: int = 320) -> None:
    """Size columns to their contents once, capped so one long cell cannot take over."""
    view.resizeColumnsToContents()
    header = view.horizontalHeader()
    for column in range(header.count() - 1):
        if header.sectionSize(column) > maximum:
            header.resizeSection(column, maximum)


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
    """Secondary text (hints, explanations) in the palette's muted colour."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self._tint()

    def _tint(self) -> None:
        palette = self.palette()
        app_palette = QApplication.palette()
        palette.setColor(QPalette.ColorRole.WindowText,
                         app_palette.color(QPalette.ColorRole.PlaceholderText))
        self.setPalette(palette)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._tint()
        super().changeEvent(event)


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
