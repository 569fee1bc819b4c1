"""Reading sheet QR codes from scans and photos with zxing-cpp.

Images (PNG, JPEG, TIFF…) are loaded with QImage; PDF pages are rasterised by the
``pdftoppm`` program of poppler-utils (a clear :class:`ScannerMissing` says how to
install it). zxing-cpp finds several codes per image, in any rotation and scale;
codes it finds but cannot decode are counted, so a torn or stained code is reported
instead of silently missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import zxingcpp
from PySide6.QtGui import QImage, QImageReader

from tessera.core.errors import InputError
from tessera.sheets.collect import SheetReader
from tessera.sheets.errors import DamagedCode, ScannerMissing

SCAN_DPI = 300
HELPER_TIMEOUT_S = 60  # one pdfinfo call, or one page of pdftoppm
MAX_PDF_PAGES = 200
MAX_SCAN_BYTES = 64 * 2**20
MAX_IMAGE_PIXELS = 120_000_000  # a 600 dpi scan of an A3 page is 70 million
MAX_PAGE_POINTS = 1300  # longest side, 1/72 in: A3 is 1191; sheets are A4 or Letter
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
    reader = QImageReader(str(path))
    size = reader.size()
    if size.isValid() and size.width() * size.height() > MAX_IMAGE_PIXELS:
        raise InputError(f"{path.name}: the image is {size.width()} × {size.height()} "
                         f"pixels; a scan or photo of a sheet needs at most "
                         f"{MAX_IMAGE_PIXELS // 1_000_000} million")
    image = reader.read()
    if image.isNull():
        raise InputError(f"{path.name}: not an image Tessera can read (PNG, JPEG, TIFF, "
                         "or a PDF)")
    return image


def _helper_env() -> dict[str, str]:
    """The environment of pdfinfo/pdftoppm: nothing from ours (no TESSERA_PASSPHRASE,
    no vault path), only what a C program needs to run in a predictable locale."""
    return {"PATH": os.defpath, "LC_ALL": "C", "LANG": "C"}


def _helper(program: str, args: list[str], path: Path, what: str) -> bytes:
    """Run a poppler helper on ``path`` with a minimal environment and a time limit."""
    found = shutil.which(program)
    if found is None:
        raise ScannerMissing(program, "install poppler-utils (apt install poppler-utils, "
                             "brew install poppler), or scan the sheet to PNG or JPEG")
    try:
        # Fixed program and arguments, no shell: the path is passed as one argument.
        done = subprocess.run([found, *args, str(path)],  # noqa: S603
                              capture_output=True, timeout=HELPER_TIMEOUT_S, check=False,
                              env=_helper_env(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise InputError(f"{path.name}: {what} took longer than {HELPER_TIMEOUT_S} s; the "
                         "PDF is too complex to be a recovery sheet — scan the page to PNG "
                         "or JPEG instead") from None
    if done.returncode != 0:
        raise InputError(f"{path.name}: {program} could not read this PDF "
                         f"(exit {done.returncode})")
    return done.stdout


def pdf_page_sizes(path: Path) -> list[tuple[float, float]]:
    """Each page's size in points, read with ``pdfinfo`` (nothing is rasterised).

    The page count is checked first, so a 3,000-page PDF is refused at once."""
    info = _helper("pdfinfo", [], path, "reading the page count").decode("latin-1")
    match = re.search(r"^Pages:\s+(\d+)\s*$", info, re.MULTILINE)
    if match is None:
        raise InputError(f"{path.name}: not a PDF Tessera can read (no page count)")
    count = int(match.group(1))
    if count == 0:
        raise InputError(f"{path.name}: the PDF has no pages")
    if count > MAX_PDF_PAGES:
        raise InputError(f"{path.name}: {count} pages; Tessera reads at most {MAX_PDF_PAGES} "
                         "pages of sheets from one file — split it, or scan only the sheets")
    info = _helper("pdfinfo", ["-f", "1", "-l", str(count)], path,
                   "reading the page sizes").decode("latin-1")
    sizes = [(float(w), float(h)) for w, h in re.findall(
        r"^Page\s+\d+\s+size:\s+([\d.]+)\s+x\s+([\d.]+)", info, re.MULTILINE)]
    if len(sizes) != count:
        raise InputError(f"{path.name}: the page sizes of this PDF cannot be read")
    return sizes


def pdf_pages(path: Path, dpi: int = SCAN_DPI, first: int | None = None,
              last: int | None = None) -> list[tuple[str, QImage]]:
    """Rasterise PDF pages with ``pdftoppm``, one at a time, in memory (named "file.pdf
    page 2"). No page image touches the disk, so nothing with share words is left
    behind if the process is killed."""
    sizes = pdf_page_sizes(path)
    start, end = first or 1, min(last or len(sizes), len(sizes))
    pages = []
    for number in range(start, end + 1):
        width, height = sizes[number - 1]
        if max(width, height) > MAX_PAGE_POINTS:
            raise InputError(f"{path.name}: page {number} is {width / 72 * 25.4:.0f} × "
                             f"{height / 72 * 25.4:.0f} mm; sheets are A4 or US Letter")
        png = _helper("pdftoppm", ["-r", str(dpi), "-gray", "-png", "-f", str(number), "-l",
                                   str(number), "-singlefile"], path, f"rasterising page {number}")
        image = QImage.fromData(png)
        if image.isNull():
            raise InputError(f"{path.name}: page {number} could not be rasterised")
        pages.append((f"{path.name} page {number}", image))
    return pages


def scan_file(path: Path, dpi: int = SCAN_DPI) -> list[PageScan]:
    """Decode one image file, or every page of a PDF."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_SCAN_BYTES:
        raise InputError(f"{path.name}: {size / 2**20:.0f} MiB; a scan or photo of a sheet is "
                         f"under {MAX_SCAN_BYTES // 2**20} MiB")
    with path.open("rb") as f:
        magic = f.read(5)  # the header only: never the whole file to look at five bytes
    if magic == b"%PDF-":
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
