"""Sealed 3-of-5 records and their rendered sheets, shared by the sheet tests."""

from __future__ import annotations

import base64
import random
import subprocess
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QTransform

from helpers.sealed import SealedFixture, make_sealed
from tessera.sheets.model import Sheet, build_sheet
from tessera.sheets.qr_format import SetId, encode_data

SMALL_SECRET = b"AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# A PEM-sized secret: the recovery data spans several pages of codes.
LARGE_SECRET = base64.b64encode(random.Random(7).randbytes(2400))


def sheets_for(fx: SealedFixture, keys: list[str], *, hand_copy: bool = False) -> list[Sheet]:
    s = fx.sealed
    data = encode_data(SetId(s.manifest.record_id, s.manifest.version, s.manifest.epoch),
                       s.manifest_bytes, s.ciphertext)
    return [build_sheet(s.manifest, s.manifest_bytes, s.ciphertext, key,
                        None if hand_copy else fx.mnemonics[key],
                        serial=f"SH-TEST-{'ABCDEFGHIJKLMNOP'[i]}AAA",
                        printed_at="2026-02-01T10:00:00Z", data_codes=data)
            for i, key in enumerate(keys)]


def rasterise(pdf: Path, dpi: int, first: int | None = None, last: int | None = None
              ) -> list[Path]:
    args = ["pdftoppm", "-r", str(dpi), "-gray", "-png"]
    if first:
        args += ["-f", str(first)]
    if last:
        args += ["-l", str(last)]
    out = pdf.with_name(f"{pdf.stem}-{dpi}")
    subprocess.run([*args, str(pdf), str(out)], check=True)
    return sorted(pdf.parent.glob(f"{out.name}-*.png"))


def degrade(image: QImage, *, angle: float = 8.0, scale: float = 0.75, noise: float = 0.05,
            seed: int = 1) -> QImage:
    """A photo-like copy: rotated, downscaled, and with sensor-like grey noise on a
    share ``noise`` of the pixels."""
    white = image.convertToFormat(QImage.Format.Format_RGB32)
    turned = white.transformed(QTransform().rotate(angle),
                               Qt.TransformationMode.SmoothTransformation)
    small = turned.scaled(int(turned.width() * scale), int(turned.height() * scale),
                          Qt.AspectRatioMode.KeepAspectRatio,
                          Qt.TransformationMode.SmoothTransformation)
    gray = small.convertToFormat(QImage.Format.Format_Grayscale8)
    bits = gray.bits()
    rng = random.Random(seed)
    size = gray.bytesPerLine() * gray.height()
    for _ in range(int(size * noise)):
        at = rng.randrange(size)
        bits[at] = min(255, max(0, bits[at] + rng.randint(-90, 90)))
    return gray


def fixture(secret: bytes) -> SealedFixture:
    return make_sealed(secret, 3, 5)
