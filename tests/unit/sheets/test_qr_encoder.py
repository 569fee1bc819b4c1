"""Sheet QR codes are encoded by zxing-cpp: same version as segno (an independent
encoder) would choose, and every code reads back to its text."""

from __future__ import annotations

import random
import string

import pytest
import segno
import zxingcpp
from PySide6.QtGui import QImage

from tessera.sheets.canvas import qr_matrix

ALPHANUMERIC = string.ascii_uppercase + string.digits + " $%*+-./:"


def image_of(matrix: list[bytes], scale: int = 4, quiet: int = 4) -> bytes:
    size = len(matrix) + 2 * quiet
    light = b"\xff" * (size * scale)
    rows = [light] * (quiet * scale)
    for cells in matrix:
        line = b"\xff" * (quiet * scale) + b"".join(
            (b"\x00" if c else b"\xff") * scale for c in cells) + b"\xff" * (quiet * scale)
        rows += [line] * scale
    rows += [light] * (quiet * scale)
    return b"".join(rows)


@pytest.mark.parametrize("error", ["l", "m", "q", "h"])
@pytest.mark.parametrize("length", [1, 25, 120, 400, 900])
def test_version_matches_segno_and_the_code_reads_back(error: str, length: int) -> None:
    rng = random.Random(length * 7 + ord(error))
    text = "".join(rng.choice(ALPHANUMERIC) for _ in range(length))
    version, matrix = qr_matrix(text, error)
    reference = segno.make_qr(text, error=error, mode="alphanumeric", boost_error=False)
    assert version == reference.version
    assert len(matrix) == len(reference.matrix) == 17 + 4 * version
    assert all(len(row) == len(matrix) and set(row) <= {0, 1} for row in matrix)
    side = (len(matrix) + 8) * 4
    pixels = image_of(matrix)
    image = QImage(pixels, side, side, side, QImage.Format.Format_Grayscale8)
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in found] == [text]
