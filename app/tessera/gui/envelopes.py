"""Recording which tamper-evident envelope each printed sheet went into.

After the sheets of a new version are printed, the operator seals each in a numbered
bag before a witness and types the bag numbers here; the sheet registry logs each
one (``sheet.seal``), so a release by paper can later name the envelope to open.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tessera.core.errors import InputError, TesseraError
from tessera.gui.context import AppContext
from tessera.gui.errors import show_error
from tessera.vault.sheet_registry import SheetRecord, SheetRegistry, SheetState

ENVELOPE_COLUMN = 2


class EnvelopeForm(QWidget):
    """Envelope numbers for the printed (not yet sealed) sheets of one record version."""

    sealed = Signal(int)  # how many sheets were recorded as sealed

    def __init__(self, context: AppContext, record_id: str, version: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.record_id = record_id
        self.version = version
        self.setAccessibleName("Envelope numbers")
        self.table = QTableWidget(0, 4)
        self.table.setAccessibleName("Printed sheets")
        self.table.setHorizontalHeaderLabels(["Custodian", "Sheet", "Envelope no.", "State"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.sealed_by = QLineEdit(context.actor)
        self.sealed_by.setAccessibleName("Sealed by")
        self.witness = QLineEdit()
        self.witness.setAccessibleName("Witness")
        self.witness.setPlaceholderText("someone else who watched each bag being sealed")
        self.save = QPushButton("Record &envelopes")
        self.save.setAccessibleName("Record envelopes")
        self.save.clicked.connect(self.record)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Envelope status")
        form = QFormLayout()
        form.addRow("Sealed &by:", self.sealed_by)
        form.addRow("&Witness:", self.witness)
        row = QHBoxLayout()
        row.addWidget(self.save)
        row.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(form)
        layout.addLayout(row)
        self.sheets: list[SheetRecord] = []
        self.refresh()

    def refresh(self) -> None:
        names = {c.id: c.name for c in self.context.vault.list_custodians(include_retired=True)}
        registry = SheetRegistry(self.context.vault)
        self.sheets = [s for s in registry.sheets(self.record_id, self.version)
                       if s.state is not SheetState.DESTROYED]
        self.table.setRowCount(len(self.sheets))
        for row, sheet in enumerate(self.sheets):
            cells = [names.get(sheet.custodian_id, sheet.custodian_id), sheet.serial,
                     sheet.envelope_no or "", sheet.state.value]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                editable = column == ENVELOPE_COLUMN and sheet.state is SheetState.PRINTED
                flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                if editable:
                    flags |= Qt.ItemFlag.ItemIsEditable
                item.setFlags(flags)
                self.table.setItem(row, column, item)
        waiting = sum(1 for s in self.sheets if s.state is SheetState.PRINTED)
        self.save.setEnabled(waiting > 0)
        if not self.sheets:
            self.status.setText("No sheets printed yet.")
        elif waiting:
            self.status.setText(f"{waiting} sheet{'s' if waiting != 1 else ''} to seal.")
        else:
            self.status.setText("✓ Every sheet is sealed in its envelope.")

    def set_envelope(self, row: int, number: str) -> None:
        item = self.table.item(row, ENVELOPE_COLUMN)
        if item is not None:
            item.setText(number)

    def record(self) -> int:
        """Log every printed sheet whose envelope number is filled in."""
        if not self.context.ready_to_change(self):
            return 0
        registry = SheetRegistry(self.context.vault)
        done = 0
        try:
            for row, sheet in enumerate(self.sheets):
                item = self.table.item(row, ENVELOPE_COLUMN)
                number = item.text().strip() if item is not None else ""
                if sheet.state is not SheetState.PRINTED or not number:
                    continue
                if not self.witness.text().strip():
                    raise InputError("name the witness who watched the envelopes being sealed")
                registry.mark_sealed(sheet.serial, envelope_no=number,
                                     sealed_by=self.sealed_by.text(),
                                     witness=self.witness.text(), actor=self.context.actor)
                done += 1
        except TesseraError as exc:
            show_error(self, exc)
        finally:
            if done:
                self.context.notify_changed()
            self.refresh()
        self.sealed.emit(done)
        return done
