"""Recording that sheets of superseded versions were shredded: by whom, before whom.

Every old sheet is still a share of an old set (and carries the old ciphertext), so it
stays on the access review as outstanding until destroyed before a witness.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tessera.custody.lifecycle import destroy_sheet, sheets_to_destroy
from tessera.gui.context import AppContext
from tessera.gui.errors import show_error
from tessera.gui.widgets import muted


class DestroySheetsDialog(QDialog):
    """Tick the shredded sheets; name who destroyed them and the witness."""

    def __init__(self, context: AppContext, record_id: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.record = context.vault.get_record(record_id)
        self.setWindowTitle(f"Destroy old sheets — {self.record.label}")
        self.setMinimumWidth(620)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Sheets of earlier versions still on paper. Shred each before "
                                "a witness, tick it, and record who did it."))
        self.table = QTableWidget(0, 5)
        self.table.setAccessibleName("Sheets to destroy")
        self.table.setHorizontalHeaderLabels(["Sheet", "Custodian", "Version", "Envelope",
                                              "State"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        form = QFormLayout()
        self.destroyed_by = QLineEdit(context.actor)
        self.destroyed_by.setAccessibleName("Destroyed by")
        self.witness = QLineEdit()
        self.witness.setAccessibleName("Witness")
        form.addRow("&Destroyed by:", self.destroyed_by)
        form.addRow("&Witness:", self.witness)
        layout.addLayout(form)
        self.status = muted("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.record_button = self.buttons.addButton("&Record as destroyed",
                                                    QDialogButtonBox.ButtonRole.ActionRole)
        self.record_button.clicked.connect(self.record_destroyed)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for edit in (self.destroyed_by, self.witness):
            edit.textChanged.connect(self._update)
        self.table.itemChanged.connect(self._update)
        self.refresh()

    def refresh(self) -> None:
        names = {c.id: c.name for c in self.context.vault.list_custodians(include_retired=True)}
        sheets = sheets_to_destroy(self.context.vault, self.record.id)
        self.table.blockSignals(True)
        self.table.setRowCount(len(sheets))
        for row, sheet in enumerate(sheets):
            serial = QTableWidgetItem(sheet.serial)
            serial.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            serial.setCheckState(Qt.CheckState.Unchecked)
            cells = [serial, QTableWidgetItem(names.get(sheet.custodian_id, sheet.custodian_id)),
                     QTableWidgetItem(str(sheet.version)),
                     QTableWidgetItem(sheet.envelope_no or "—"),
                     QTableWidgetItem(sheet.state.value)]
            for column, item in enumerate(cells):
                if column:
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        if not sheets:
            self.status.setText("✓ No sheet of an earlier version is outstanding.")
        self._update()

    def _serial_items(self) -> list[QTableWidgetItem]:
        items = (self.table.item(r, 0) for r in range(self.table.rowCount()))
        return [item for item in items if item is not None]

    def chosen(self) -> list[str]:
        return [item.text() for item in self._serial_items()
                if item.checkState() == Qt.CheckState.Checked]

    def check_row(self, row: int) -> None:
        self._serial_items()[row].setCheckState(Qt.CheckState.Checked)

    def _update(self, *_args: object) -> None:
        self.record_button.setEnabled(bool(self.chosen() and self.destroyed_by.text().strip()
                                           and self.witness.text().strip()))

    def record_destroyed(self) -> None:
        if not self.context.ready_to_change(self):
            return
        done = []
        try:
            for serial in self.chosen():
                destroy_sheet(self.context.vault, serial,
                              destroyed_by=self.destroyed_by.text().strip(),
                              witness=self.witness.text().strip(), actor=self.context.actor)
                done.append(serial)
        except Exception as exc:
            show_error(self, exc)
        finally:
            if done:
                self.context.notify_changed()
        self.refresh()
        if done:
            self.status.setText(f"Recorded as destroyed: {', '.join(done)}."
                                + (" None left." if not self.table.rowCount() else ""))
