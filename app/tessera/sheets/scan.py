"""Reading sheet QR codes from scans and photos with zxing-cpp.

Images (PNG, JPEG, TIFF…) are loaded with QImage; PDF pages are rasterised by the
``pdftoppm`` program of poppler-utils (a clear :class:`ScannerMissing` says how to
install it). zxing-cpp finds several codes per image, in any rotation and scale;
codes it finds but cannot decode are counted, so a torn or stained code is reported
instead of silently missing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import zxingcpp
from PySide6.QtGui import QImage

from tessera.core.errors import InputError
from tessera.sheets.collect import SheetReader
from tessera.sheets.errors import DamagedCode, ScannerMissing

SCAN_DPI = 300
PDFTOPPM_TIMEOUT_S = 120
MAX_PDF_PAGES = 200
# A sheet's smallest code is 60 mm on a 210 mm page; a failed detection narrower than
# this share of the image is a pattern in text or noise, not a torn code.
MIN_CODE_SHARE = 0.08


@dataclass(frozen=True)
class PageScan:
    """The codes found on one image or PDF page. ``texts`` may hold share words."""

    source: str
    texts: tuple[str, ...]
    damaged: int

    def __repr__(self) -> str:
        return f"PageScan({self.source!r}, {len(self.texts)} codes, damaged={self.damaged})"


def decode_image(image: QImage, source: str) -> PageScan:
    """Every QR code zxing-cpp finds in ``image`` (any rotation, several per image)."""
    if image.isNull():
        raise InputError(f"{source}: not an image that can be read")
    gray = image.convertToFormat(QImage.Format.Format_Grayscale8)
    found = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormats(
        zxingcpp.BarcodeFormat.QRCode), return_errors=True)
    texts: list[str] = []
    good = [code for code in found if code.valid and code.error is None]
    for code in good:
        if code.text not in texts:
            texts.append(code.text)
    # zxing-cpp also reports failed attempts on symbols it read in another pass (a
    # downscaled or rotated one); only a failure away from every good code is damage.
    # Several failed passes over one torn symbol count as one damaged code; failures
    # overlapping a good code, or too small to be a sheet's code (a finder-like
    # pattern in text), are not damage.
    boxes = [_box(code) for code in good]
    smallest = min(gray.width(), gray.height()) * MIN_CODE_SHARE
    damaged = 0
    for code in found:
        box = _box(code)
        if code in good or any(_overlap(box, other) for other in boxes):
            continue
        if min(box[2] - box[0], box[3] - box[1]) < smallest:
            continue
        damaged += 1
        boxes.append(box)
    return PageScan(source, tuple(texts), damaged)


def _corners(code: zxingcpp.Barcode) -> list[tuple[int, int]]:
    p = code.position
    return [(c.x, c.y) for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]


def _box(code: zxingcpp.Barcode) -> tuple[int, int, int, int]:
    xs, ys = zip(*_corners(code), strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def load_image(path: Path) -> QImage:
    image = QImage(str(path))
    if image.isNull():
        raise InputError(f"{path.name}: not an image Tessera can read (PNG, JPEG, TIFF, "
                         "or a PDF)")
    return image


def pdf_pages(path: Path, dpi: int = SCAN_DPI, first: int | None = None,
              last: int | None = None) -> list[tuple[str, QImage]]:
    """Rasterise PDF pages with ``pdftoppm`` into images (named "file.pdf page 2")."""
    program = shutil.which("pdftoppm")
    if program is None:
        raise ScannerMissing("pdftoppm", "install poppler-utils (apt install poppler-utils, "
                             "brew install poppler), or scan the sheet to PNG or JPEG")
    with tempfile.TemporaryDirectory(prefix="tessera-scan-") as tmp:
        args = [program, "-r", str(dpi), "-gray", "-png"]
        if first is not None:
            args += ["-f", str(first)]
        if last is not None:
            args += ["-l", str(last)]
        # Fixed program and arguments, no shell: the path is passed as one argument.
        done = subprocess.run([*args, str(path), str(Path(tmp) / "page")],  # noqa: S603
                              capture_output=True, timeout=PDFTOPPM_TIMEOUT_S, check=False)
        if done.returncode != 0:
            raise InputError(f"{path.name}: pdftoppm could not read this PDF "
                             f"(exit {done.returncode})")
        files = sorted(Path(tmp).glob("page-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
        if len(files) > MAX_PDF_PAGES:
            raise InputError(f"{path.name}: more than {MAX_PDF_PAGES} pages")
        return [(f"{path.name} page {int(f.stem.split('-')[-1])}", load_image(f))
                for f in files]


def scan_file(path: Path, dpi: int = SCAN_DPI) -> list[PageScan]:
    """Decode one image file, or every page of a PDF."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.read_bytes()[:5] == b"%PDF-":
        return [decode_image(image, source) for source, image in pdf_pages(path, dpi)]
    return [decode_image(load_image(path), path.name)]


def read_scans(scans: Iterable[PageScan], reader: SheetReader | None = None,
               *, strict: bool = True) -> SheetReader:
    """Feed scanned codes into a :class:`SheetReader` (a new one by default).

    With ``strict``, a page with a damaged code raises :class:`DamagedCode`; otherwise
    the damage is only noted and the readable codes are used.
    """
    reader = reader or SheetReader()
    for scan in scans:
        for text in scan.texts:
            reader.add_text(text, scan.source)
        if scan.damaged:
            if strict:
                raise DamagedCode(scan.source, scan.damaged)
            reader.notes.append(str(DamagedCode(scan.source, scan.damaged)))
    return reader
