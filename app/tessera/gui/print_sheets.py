"""Printing sheets from the GUI: a print dialog or a print preview driving the same
painter that writes PDFs (:func:`tessera.sheets.render.paint_sheets`)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtPrintSupport import QPrintDialog, QPrinter, QPrintPreviewDialog
from PySide6.QtWidgets import QDialog, QWidget

from tessera.sheets.model import Paper, Sheet
from tessera.sheets.render import paint_sheets


def make_printer(paper: Paper) -> QPrinter:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setFullPage(True)  # the sheet keeps its own 16 mm margins
    printer.setDocName("Tessera recovery sheet")
    return printer


def print_sheets(parent: QWidget | None, sheets: Sequence[Sheet], paper: Paper) -> bool:
    """Ask for a printer and print; returns False when the person cancelled."""
    printer = make_printer(paper)
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle("Print recovery sheets")
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    paint_sheets(printer, sheets, paper)
    return True


def preview_sheets(parent: QWidget | None, sheets: Sequence[Sheet], paper: Paper) -> bool:
    """Show a print preview (printing from it is allowed); False when closed unprinted."""
    printer = make_printer(paper)
    dialog = QPrintPreviewDialog(printer, parent)
    dialog.setWindowTitle("Recovery sheets — preview")
    dialog.paintRequested.connect(lambda device: paint_sheets(device, sheets, paper))
    return dialog.exec() == QDialog.DialogCode.Accepted
