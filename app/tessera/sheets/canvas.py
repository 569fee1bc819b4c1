"""A thin QPainter wrapper that draws in millimetres on any paint device.

Positions and sizes are given in millimetres from the paper's top-left corner and
converted with the device's resolution, so the same sheet code paints a 600-dpi
PDF, a printer page and a 150-dpi preview image identically. Text is measured before
it is drawn so the layout can prove nothing is clipped.
"""

from __future__ import annotations

import zxingcpp
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen

from tessera.sheets.layout import QUIET_ZONE

SANS = "DejaVu Sans"
MONO = "DejaVu Sans Mono"
INK = QColor(0, 0, 0)
GREY = QColor(90, 90, 90)
TINT = QColor(238, 238, 238)
WRAP = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
MM_PER_INCH = 25.4


class LayoutOverflow(RuntimeError):
    """A block does not fit its box: a layout bug, never silently clipped."""


class Canvas:
    """Millimetre drawing on ``painter`` at ``dpi`` dots per inch."""

    def __init__(self, painter: QPainter, dpi: float) -> None:
        self.painter = painter
        self.dpi = dpi

    def px(self, mm: float) -> float:
        return mm * self.dpi / MM_PER_INCH

    def mm(self, px: float) -> float:
        return px * MM_PER_INCH / self.dpi

    def rect(self, x: float, y: float, w: float, h: float) -> QRectF:
        return QRectF(self.px(x), self.px(y), self.px(w), self.px(h))

    # -- text --------------------------------------------------------------------------
    @staticmethod
    def font(points: float, *, bold: bool = False, mono: bool = False,
             spacing: float = 0.0) -> QFont:
        font = QFont(MONO if mono else SANS)
        font.setStyleHint(QFont.StyleHint.Monospace if mono else QFont.StyleHint.SansSerif)
        font.setPointSizeF(points)
        font.setBold(bold)
        # No hinting: glyphs keep the same shape at every resolution, so a preview and
        # the printed page wrap lines at the same places.
        font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
        # No ligatures: what a custodian compares or copies (a genesis, a record id) is
        # printed letter for letter — "ff" in hex is two letters, not one ﬀ glyph.
        for tag in ("liga", "clig", "dlig"):
            font.setFeature(QFont.Tag(tag), 0)
        if spacing:
            font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, spacing)
        return font

    def _metrics(self, font: QFont) -> QFontMetricsF:
        return QFontMetricsF(font, self.painter.device())

    def text_height(self, text: str, font: QFont, width: float) -> float:
        """Height in mm of ``text`` wrapped to ``width`` mm."""
        flags = int(WRAP | Qt.TextFlag.TextWordWrap)
        bounds = self._metrics(font).boundingRect(QRectF(0, 0, self.px(width), 1e6), flags,
                                                  text)
        return self.mm(bounds.height())

    def text_width(self, text: str, font: QFont) -> float:
        return self.mm(self._metrics(font).horizontalAdvance(text))

    def text(self, x: float, y: float, w: float, text: str, font: QFont, *,
             align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft, color: QColor = INK,
             max_height: float | None = None) -> float:
        """Draw wrapped text in a box ``w`` wide; returns its height in mm."""
        height = self.text_height(text, font, w)
        if max_height is not None and height > max_height + 0.01:
            raise LayoutOverflow(f"text needs {height:.1f} mm, {max_height:.1f} mm available")
        self.painter.setFont(font)
        self.painter.setPen(QPen(color))
        flags = int(align | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap)
        self.painter.drawText(self.rect(x, y, w, height + 0.5), flags, text)
        return height

    def fitted_font(self, text: str, points: float, width: float, max_height: float, *,
                    bold: bool = False, mono: bool = False, floor: float = 7.0) -> QFont:
        """The largest font ≤ ``points`` in which ``text`` fits the box (long labels)."""
        size = points
        while True:
            font = self.font(size, bold=bold, mono=mono)
            if self.text_height(text, font, width) <= max_height or size <= floor:
                return font
            size -= 0.5

    # -- lines and boxes -----------------------------------------------------------------
    def line(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.3,
             color: QColor = INK, dashed: bool = False) -> None:
        pen = QPen(color)
        pen.setWidthF(self.px(width))
        if dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.painter.setPen(pen)
        self.painter.drawLine(self.rect(x1, y1, 0, 0).topLeft(), self.rect(x2, y2, 0, 0).topLeft())

    def box(self, x: float, y: float, w: float, h: float, *, width: float = 0.3,
            fill: QColor | None = None, color: QColor = INK, dashed: bool = False) -> None:
        pen = QPen(color)
        pen.setWidthF(self.px(width))
        if dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.painter.setPen(pen if width > 0 else QPen(Qt.PenStyle.NoPen))
        self.painter.setBrush(QBrush(fill) if fill is not None else QBrush())
        self.painter.drawRect(self.rect(x, y, w, h))
        self.painter.setBrush(QBrush())

    def fill(self, x: float, y: float, w: float, h: float, color: QColor) -> None:
        self.painter.fillRect(self.rect(x, y, w, h), color)

    # -- QR codes ------------------------------------------------------------------------
    def qr(self, x: float, y: float, size: float, text: str, error: str,
           max_version: int = 40) -> int:
        """Draw ``text`` as a QR code (quiet zone included) in a ``size`` mm square;
        returns the QR version used."""
        version, matrix = qr_matrix(text, error)
        if version > max_version:
            raise LayoutOverflow(f"a QR code needs version {version}; at most "
                                 f"{max_version} fits its box")
        modules = len(matrix) + 2 * QUIET_ZONE
        step = self.px(size) / modules
        left, top = self.px(x), self.px(y)
        self.painter.fillRect(QRectF(left, top, self.px(size), self.px(size)), QColor("white"))
        # Runs of dark modules become one rectangle each, overlapping the next row by a
        # hair so rasterisers never leave a light seam; one winding-filled path keeps
        # the PDF small and vector-sharp at any scale.
        seam = step * 0.02
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.WindingFill)
        for row, cells in enumerate(matrix):
            col = 0
            while col < len(cells):
                if not cells[col]:
                    col += 1
                    continue
                start = col
                while col < len(cells) and cells[col]:
                    col += 1
                path.addRect(QRectF(left + (start + QUIET_ZONE) * step,
                                    top + (row + QUIET_ZONE) * step,
                                    (col - start) * step + seam, step + seam))
        self.painter.fillPath(path, QBrush(INK))
        return version


_DARK = bytes([1]) + bytes(255)  # zxing-cpp draws dark modules as 0: make them 1


def qr_matrix(text: str, error: str) -> tuple[int, list[bytes]]:
    """The QR code of ``text`` at error level ``error`` ("l", "m", "q", "h"): its version
    and its rows of modules (1 dark, 0 light), without the quiet zone.

    zxing-cpp (already here to read scans) encodes about 40 times faster than segno,
    which drawing 144 codes for 16 custodians' sheets made the bulk of the render time.
    Like segno with ``boost_error=False`` it picks the smallest version for the level
    and does not raise the level; alphanumeric text gets the alphanumeric mode.
    """
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode,
                                   ec_level=error.upper())
    image = code.to_image(scale=1, add_quiet_zones=False)
    size = int(image.shape[0])
    data = memoryview(image).tobytes().translate(_DARK)  # type: ignore[arg-type]
    return (size - 17) // 4, [data[r * size:(r + 1) * size] for r in range(size)]
