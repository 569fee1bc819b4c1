"""The GUI's printer path paints the same pages as the PDF writer."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtPrintSupport import QPrinter
from sheet_fixtures import SMALL_SECRET, fixture, sheets_for

from tessera.gui.print_sheets import make_printer
from tessera.sheets.model import Paper
from tessera.sheets.render import paint_sheets
from tessera.sheets.scan import scan_file


def test_a_printer_receives_the_same_decodable_pages(tmp_path: Path) -> None:
    sheet = sheets_for(fixture(SMALL_SECRET), ["g0m0"])[0]
    printer = make_printer(Paper.LETTER)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    out = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(out))
    assert paint_sheets(printer, [sheet], Paper.LETTER) == 2
    texts = [t for scan in scan_file(out, dpi=150) for t in scan.texts]
    assert sorted(texts) == sorted([sheet.share_code or "", *sheet.data_codes])
