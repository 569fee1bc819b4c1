"""Painting recovery sheets with QPainter: PDF files, printers and preview images.

One painter serves every output: :func:`paint_sheets` draws on any paged device (a
``QPdfWriter`` here, a ``QPrinter`` in the GUI's print and preview dialogs),
:func:`write_pdf` paints a PDF in memory and writes it in one step (0600; nothing is
left behind if the process is killed while painting), and :func:`render_page` paints one page into a ``QImage`` for previews and
tests. Only QtGui is used; widgets live in :mod:`tessera.gui`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QMarginsF
from PySide6.QtGui import (
    QGuiApplication,
    QImage,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
)

from tessera.core.private_file import write_private
from tessera.sheets.canvas import Canvas
from tessera.sheets.layout import RENDER_DPI, PageGeometry, page_count
from tessera.sheets.model import PRODUCT, Paper, Sheet
from tessera.sheets.pages import paint_data_page, paint_share_page
from tessera.sheets.transcript import Transcript, paint_transcript

_app: QGuiApplication | None = None


def ensure_gui_application() -> None:
    """Painting text needs a QGuiApplication; make a headless one when none exists."""
    global _app
    if QGuiApplication.instance() is not None:
        return
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QGuiApplication([sys.argv[0] if sys.argv else "tessera"])


def page_layout(paper: Paper) -> QPageLayout:
    size = QPageSize(QPageSize.PageSizeId.A4 if paper is Paper.A4 else
                     QPageSize.PageSizeId.Letter)
    return QPageLayout(size, QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0),
                       QPageLayout.Unit.Millimeter)


def sheet_page_count(sheet: Sheet) -> int:
    return page_count(len(sheet.data_codes))


def paint_page(canvas: Canvas, geometry: PageGeometry, sheet: Sheet, page: int) -> None:
    """Paint page ``page`` (0-based) of ``sheet``."""
    total = sheet_page_count(sheet)
    if not 0 <= page < total:
        raise IndexError(f"sheet {sheet.serial} has {total} pages")
    if page == 0:
        paint_share_page(canvas, geometry, sheet, total)
    else:
        paint_data_page(canvas, geometry, sheet, page, total)


def paint_sheets(device: QPagedPaintDevice, sheets: Sequence[Sheet], paper: Paper) -> int:
    """Paint every page of ``sheets`` on a paged device; returns the number of pages.

    Coordinates are taken from the paper's corner even when the device (a printer)
    reserves its own margins, so the sheet looks the same on every output.
    """
    ensure_gui_application()
    device.setPageLayout(page_layout(paper))
    geometry = PageGeometry.for_paper(paper)
    painter = QPainter()
    if not painter.begin(device):
        raise OSError("the printer or PDF file could not be opened for painting")
    pages = 0
    try:
        canvas = Canvas(painter, float(device.logicalDpiX()))
        dpi = int(device.logicalDpiX())
        layout = device.pageLayout()
        full = layout.fullRectPixels(dpi)
        paint_rect = layout.paintRectPixels(dpi)
        painter.translate(full.left() - paint_rect.left(), full.top() - paint_rect.top())
        for sheet in sheets:
            for page in range(sheet_page_count(sheet)):
                if pages:
                    device.newPage()
                paint_page(canvas, geometry, sheet, page)
                pages += 1
    finally:
        painter.end()
    return pages


def render_page(sheet: Sheet, page: int, paper: Paper, dpi: int) -> QImage:
    """One page as a grayscale image (previews, the GUI's hand-copy view, tests)."""
    ensure_gui_application()
    geometry = PageGeometry.for_paper(paper)
    canvas_size = (round(geometry.width * dpi / 25.4), round(geometry.height * dpi / 25.4))
    image = QImage(canvas_size[0], canvas_size[1], QImage.Format.Format_RGB32)
    dots_per_metre = round(dpi / 0.0254)
    image.setDotsPerMeterX(dots_per_metre)
    image.setDotsPerMeterY(dots_per_metre)
    image.fill(0xFFFFFFFF)
    painter = QPainter(image)
    try:
        paint_page(Canvas(painter, dpi), geometry, sheet, page)
    finally:
        painter.end()
    return image.convertToFormat(QImage.Format.Format_Grayscale8)


def _pdf_writer(device: QIODevice, paper: Paper, title: str) -> QPdfWriter:
    writer = QPdfWriter(device)
    writer.setResolution(RENDER_DPI)
    writer.setTitle(title)
    writer.setCreator(PRODUCT)
    writer.setPageLayout(page_layout(paper))
    return writer


def atomic_pdf(target: Path, paint: Callable[[QIODevice], None]) -> None:
    """Paint into memory, then write ``target`` (0600) in one step.

    No partly painted file ever exists on disk: a process killed while painting
    sheets (which hold share words) leaves nothing behind.
    """
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    try:
        paint(buffer)
        buffer.close()
        write_private(Path(target), bytes(buffer.data().data()))
    finally:
        buffer.close()


def write_pdf(sheets: Sequence[Sheet], target: Path, paper: Paper) -> int:
    """Write ``sheets`` to one PDF (mode 0600) atomically; returns the page count.

    A PDF with words in it holds shares: the caller warns the person.
    """
    if not sheets:
        raise ValueError("no sheets to write")
    pages = 0

    def paint(device: QIODevice) -> None:
        nonlocal pages
        writer = _pdf_writer(device, paper, f"{PRODUCT} recovery sheet {sheets[0].serial}")
        pages = paint_sheets(writer, sheets, paper)
        del writer  # QPdfWriter finishes the file when it is destroyed

    atomic_pdf(target, paint)
    return pages


def write_transcript_pdf(transcript: Transcript, target: Path, paper: Paper) -> int:
    """Write a ceremony transcript PDF atomically; returns the page count."""
    ensure_gui_application()
    pages = 0

    def paint(device: QIODevice) -> None:
        nonlocal pages
        writer = _pdf_writer(device, paper, f"{PRODUCT} ceremony transcript")
        geometry = PageGeometry.for_paper(paper)
        painter = QPainter()
        if not painter.begin(writer):
            raise OSError(f"{target} could not be opened for painting")
        try:
            canvas = Canvas(painter, float(writer.logicalDpiX()))
            pages = paint_transcript(canvas, geometry, transcript, writer.newPage)
        finally:
            painter.end()
        del writer

    atomic_pdf(target, paint)
    return pages
