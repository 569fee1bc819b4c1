"""Page geometry of a sheet, in millimetres: margins, bands, QR sizes, pagination.

Pure arithmetic, no Qt: the painter in :mod:`tessera.sheets.render` reads these
numbers. Margins of 15 mm survive printers that crop edges; QR codes keep a quiet
zone of 4 modules and modules no smaller than ~0.7 mm, which a 150-dpi scan of a
photocopy still resolves.
"""

from __future__ import annotations

from dataclasses import dataclass

from tessera.sheets.model import Paper

MARGIN_MM = 16.0
QUIET_ZONE = 4  # modules of white around each code, as ISO/IEC 18004 requires
SHARE_QR_MM = 60.0
SHARE_QR_ERROR = "q"  # 25 % of the code may be lost: the share exists on this paper only
DATA_QR_MM = 78.0
DATA_QR_ERROR = "m"  # 15 %: every sheet repeats the recovery data, so copies back it up
DATA_QR_MAX_VERSION = 20
DATA_QR_PER_PAGE = 4
DATA_QR_COLUMNS = 2
RENDER_DPI = 600  # PDF and printer resolution; at least 300 as the issue asks
PREVIEW_DPI = 150


@dataclass(frozen=True)
class PageGeometry:
    """The printable box of one paper size."""

    paper: Paper
    width: float
    height: float
    margin: float = MARGIN_MM

    @classmethod
    def for_paper(cls, paper: Paper) -> PageGeometry:
        width, height = paper.size_mm
        return cls(paper, width, height)

    @property
    def left(self) -> float:
        return self.margin

    @property
    def top(self) -> float:
        return self.margin

    @property
    def right(self) -> float:
        return self.width - self.margin

    @property
    def bottom(self) -> float:
        return self.height - self.margin

    @property
    def content_width(self) -> float:
        return self.right - self.left


def data_pages(chunk_count: int) -> int:
    """How many recovery-data pages ``chunk_count`` codes need."""
    return -(-chunk_count // DATA_QR_PER_PAGE)


def page_count(chunk_count: int) -> int:
    """Pages of one sheet: the share page, then the recovery-data pages."""
    return 1 + data_pages(chunk_count)
