"""The sidebar's inventory pages: Records (with detail pane), Custodians and Tokens.

Each page reads the vault when it is built and whenever the context says the vault
changed (while it is on screen, else when next shown), keeping the selection on the
same row object id where it can. The reading runs on the context's loader thread
(:mod:`tessera.gui.loader`) and the rows arrive by signal, so a vault of thousands of
records never freezes the window; the table then sorts and searches them in memory,
each row's sort key and search text computed once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelection, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from tessera.gui.context import AppContext
from tessera.gui.errors import show_error
from tessera.gui.inventory_models import custodians_model, records_model, tokens_model
from tessera.gui.record_detail import RecordDetail
from tessera.gui.rows import RecordRow, custodian_rows, record_rows, token_rows
from tessera.gui.stale_pages import RefreshWhenShown
from tessera.gui.table_model import RowFilterProxy, RowTableModel
from tessera.gui.token_state import TokenStateDialog
from tessera.gui.widgets import fit_columns, heading, make_table, muted, search_field
from tessera.tokens.base import TokenState
from tessera.vault import RecordState, Vault

Read = Callable[[Vault], Any]
SIZE_SAMPLE = 40  # rows a column's width is measured on (about a screenful)


class TablePage(RefreshWhenShown, QWidget):
    """A heading, a search field (plus optional filters) and a sorted table."""

    loaded = Signal()  # rows read from the vault are on screen

    def __init__(self, context: AppContext, title: str, hint: str, model: RowTableModel[Any],
                 load: Read, identity: Callable[[Any], str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setAccessibleName(f"{title} page")
        self.model = model
        self.proxy = RowFilterProxy(self)
        self.proxy.setSourceModel(model)
        self._load = load
        self._identity = identity
        self._fitted = False  # rows shown once
        self._measured: list[list[str]] | None = None  # the cells columns were fitted to
        self.loading = False
        self._select_next: Callable[[Any], bool] | None = None

        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(16, 12, 16, 12)
        top = QHBoxLayout()
        top.addWidget(heading(title))
        top.addStretch(1)
        self.filters = QHBoxLayout()
        top.addLayout(self.filters)
        self.search = search_field(f"Search {title.lower()}", f"Search {title.lower()}")
        self.search.textChanged.connect(self.proxy.set_search)
        top.addWidget(self.search)
        self.layout_.addLayout(top)
        self.hint = muted(hint)
        self.layout_.addWidget(self.hint)
        self.table: QTableView = make_table(self.proxy, f"{title} table")
        self.table.horizontalHeader().setResizeContentsPrecision(SIZE_SAMPLE)
        self.count = QLabel()
        self.count.setAccessibleName(f"Number of {title.lower()}")
        self.proxy.rowsInserted.connect(self._show_count)
        self.proxy.rowsRemoved.connect(self._show_count)
        self.proxy.modelReset.connect(self._show_count)
        self.proxy.layoutChanged.connect(self._show_count)
        self._selected_before: object = None
        self.proxy.layoutAboutToBeChanged.connect(self._before_layout)
        self.proxy.layoutChanged.connect(self._after_layout)
        context.vault_changed.connect(self.vault_changed)

    def finish_layout(self, body: QWidget | None = None) -> None:
        self.layout_.addWidget(body if body is not None else self.table, 1)
        self.layout_.addWidget(self.count)
        self.refresh()

    def _show_count(self, *_args: object) -> None:
        if self.loading and not self._fitted:
            self.count.setText("Reading the vault…")
            return
        shown, total = self.proxy.rowCount(), self.model.total()
        self.count.setText(f"{total:,} in this vault" if shown == total
                           else f"{shown:,} of {total:,} shown")

    def _before_layout(self) -> None:
        self._selected_before = self.selected_row()

    def _after_layout(self) -> None:
        """A search or filter that hides the selected row drops it from the selection
        without Qt's selection model saying so (it does for rows removed, not for a
        layout change): say it, so a detail pane stops showing what is not listed."""
        if self._selected_before is not None and self.selected_row() is None:
            self.table.selectionModel().selectionChanged.emit(QItemSelection(),
                                                              QItemSelection())
        self._selected_before = None

    def selected_row(self) -> Any:
        rows = self.table.selectionModel().selectedRows()
        return self.proxy.row_at(rows[0].row()) if rows else None

    def select_where(self, wanted: Callable[[Any], bool]) -> bool:
        """Select the first row ``wanted``; if none is shown while the page is reading
        the vault, select it when the rows arrive."""
        for source_row in self.model.positions(wanted):
            index = self.proxy.mapFromSource(self.model.index(source_row, 0))
            if index.isValid():  # shown (not filtered out)
                self.table.selectRow(index.row())
                self.table.scrollTo(index)
                return True
        if self.loading:
            self._select_next = wanted
        return False

    def read_job(self) -> Read:
        """What to read from the vault (runs on the loader thread, with its own vault)."""
        return self._load

    def refresh(self) -> None:
        """Re-read the vault off the GUI thread; :meth:`show_rows` shows the result."""
        self.loading = True
        self._show_count()
        read, model, order = self.read_job(), self.model, self.model.order

        def read_and_prepare(vault: Vault) -> Any:
            return self.prepare(model, read(vault), order)

        self.context.loader.load(self, read_and_prepare, self.show_rows, self._read_failed)

    @staticmethod
    def prepare(model: RowTableModel[Any], rows: Any,
                order: tuple[int, Qt.SortOrder] | None = None) -> Any:
        """On the loader thread: the rows with their sort keys and search text, sorted
        as the view was when the read was asked for."""
        return model.prepare(rows, order)

    def show_rows(self, rows: Any) -> None:
        """Show rows read from the vault; keep the selected row selected."""
        self.loading = False
        current = self.selected_row()
        keep = self._identity(current) if current is not None else None
        self.model.set_rows(rows)
        sample = self.model.leading_texts(SIZE_SAMPLE)
        if self.model.total() and (sample is None or sample != self._measured):
            # Measured on the first SIZE_SAMPLE rows, and only when their text changed:
            # measuring after every vault change cost 20-40 ms of GUI thread at 5,000
            # records when the rows measured were the same.
            fit_columns(self.table, texts=sample)
            self._measured = sample
        self._fitted = True
        wanted, self._select_next = self._select_next, None
        if wanted is not None and self.select_where(wanted):
            pass
        elif keep is not None:
            self.select_where(lambda r: self._identity(r) == keep)
        self._show_count()
        self.loaded.emit()

    def _read_failed(self, exc: BaseException) -> None:
        self.loading = False
        self.count.setText("The vault could not be read.")
        show_error(self, exc)


class RecordsPage(TablePage):
    """The inventory of recovery secrets, with the selected record's details."""

    release_requested = Signal(str)
    drill_requested = Signal(str)
    lifecycle_requested = Signal(str, str)  # action, record id

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Records",
                         "Every recovery secret in this vault, who can release it, and what is "
                         "due. Select one to see its custodians and history.",
                         records_model(), record_rows,
                         lambda r: r.record.id, parent)
        # Many records' labels share their beginning ("Service account 00012"): cut in
        # the middle, a narrow column still tells them apart.
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.state_filter = QComboBox()
        self.state_filter.setAccessibleName("Show records in state")
        self.state_filter.addItem("All states", None)
        self.state_filter.addItem("Needs attention", "attention")
        for state in RecordState:
            self.state_filter.addItem(state.display.capitalize(), state.value)
        self.state_filter.currentIndexChanged.connect(self._filter_state)
        self.filters.addWidget(self.state_filter)
        self._taking_rows = False
        self.detail = RecordDetail(context.vault, loader=context.loader)
        self.detail.setMinimumWidth(330)
        self.detail.release_requested.connect(self.release_requested)
        self.detail.drill_requested.connect(self.drill_requested)
        self.detail.lifecycle_requested.connect(self.lifecycle_requested)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("records-splitter")
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([640, 360])
        self.splitter = splitter
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _i: self.detail.release_button.setFocus())
        self.finish_layout(splitter)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)

    def _filter_state(self) -> None:
        wanted = self.state_filter.currentData()
        if wanted is None:
            self.proxy.set_predicate(None)
        elif wanted == "attention":
            self.proxy.set_predicate(lambda r: bool(r.damaged) or r.drill_overdue
                                     or r.rotation_overdue)
        else:
            self.proxy.set_predicate(lambda r: r.record.state.value == wanted)

    def _selection_changed(self, _new: QItemSelection, _old: QItemSelection) -> None:
        if not self._taking_rows:
            self.detail.show_row(self.selected_row())

    def show_rows(self, rows: Any) -> None:
        # The detail reads the vault on the GUI thread: once per new rows, not once per
        # selection change while the model is reset and the selected row found again.
        self._taking_rows = True
        try:
            super().show_rows(rows)
        finally:
            self._taking_rows = False
        row = self.selected_row()
        if row is None and self.proxy.rowCount():
            self.table.selectRow(0)
        else:
            self.detail.show_row(row)

    def select_record(self, record_id: str) -> bool:
        return self.select_where(lambda r: isinstance(r, RecordRow) and r.record.id == record_id)


class CustodiansPage(TablePage):
    add_token_requested = Signal(str)  # custodian id

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Custodians",
                         "The people who hold shares, the keys their shares are locked to, and "
                         "how many records they help protect.",
                         custodians_model(), custodian_rows,
                         lambda r: r.custodian.id, parent)
        self.table.activated.connect(self._activated)
        self.finish_layout()
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)


    def _activated(self, index: QModelIndex) -> None:
        """Enter or double-click on a custodian: add a key for them."""
        row = self.proxy.row_at(index.row())
        if row is not None:
            self.add_token_requested.emit(row.custodian.id)


class TokensPage(TablePage):
    """Every key; retire one or report it lost (with what it still opens)."""

    rewrap_requested = Signal(str)  # custodian id

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Tokens",
                         "Every enrolled key. Software keys are lower assurance; remote keys "
                         "were enrolled from a public key the custodian sent.",
                         tokens_model(), token_rows,
                         lambda r: r.token.info.id, parent)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # recipients differ at both ends
        self.retire_button = QPushButton("&Retire…")
        self.retire_button.setToolTip("The key is replaced or no longer used")
        self.lost_button = QPushButton("Report &lost…")
        self.lost_button.setToolTip("The key is missing: it must never open a new share")
        self.rewrap_button = QPushButton("Re-&wrap share…")
        self.rewrap_button.setToolTip("Move this custodian's share to their other keys")
        for button in (self.rewrap_button, self.retire_button, self.lost_button):
            self.filters.addWidget(button)
        self.retire_button.clicked.connect(lambda: self.change_state(TokenState.RETIRED))
        self.lost_button.clicked.connect(lambda: self.change_state(TokenState.LOST))
        self.rewrap_button.clicked.connect(self._rewrap)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.finish_layout()
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self._update_buttons()

    def show_rows(self, rows: Any) -> None:
        super().show_rows(rows)
        if hasattr(self, "lost_button"):
            self._update_buttons()

    def _update_buttons(self, *_args: object) -> None:
        row = self.selected_row()
        state = row.token.info.state if row is not None else None
        self.retire_button.setEnabled(state is TokenState.ACTIVE)
        self.lost_button.setEnabled(state in (TokenState.ACTIVE, TokenState.RETIRED))
        self.rewrap_button.setEnabled(row is not None)

    def _rewrap(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.rewrap_requested.emit(row.token.info.custodian_id)

    def change_state(self, state: TokenState) -> None:
        row = self.selected_row()
        if row is None:
            return
        info = row.token.info
        if not self.context.ready_to_change(self):  # before the reason is typed, not after
            return
        change = TokenStateDialog.ask(self, self.context.vault, info, state)
        if change is None:
            return
        try:
            self.context.vault.set_token_state(info.id, change.state, self.context.actor,
                                               change.reason)
        except Exception as exc:
            show_error(self, exc)
            return
        self.context.notify_changed()
