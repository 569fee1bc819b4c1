"""Time to render 16 recovery sheets to PDF, and to decode one scanned page."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.sealed import make_sealed
from tessera.sheets.model import Paper, build_sheet
from tessera.sheets.render import ensure_gui_application, write_pdf
from tessera.sheets.scan import decode_image, load_image


def main() -> None:
    ensure_gui_application()
    fx = make_sealed(b"x" * 64, 9, 16)
    s = fx.sealed
    sheets = [build_sheet(s.manifest, s.manifest_bytes, s.ciphertext, key, fx.mnemonics[key],
                          serial=f"SH-BENC-H{'ABCDEFGHIJKLMNOP'[i]}AA",
                          printed_at="2026-01-01T00:00:00Z")
              for i, key in enumerate(sorted(fx.mnemonics))]
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "sheets.pdf"
        start = time.perf_counter()
        pages = write_pdf(sheets, pdf, Paper.A4)
        render = time.perf_counter() - start
        subprocess.run(["pdftoppm", "-r", "300", "-gray", "-png", "-f", "2", "-l", "2",
                        str(pdf), str(Path(tmp) / "page")], check=True)
        image = load_image(next(Path(tmp).glob("page-*.png")))
        start = time.perf_counter()
        scan = decode_image(image, "page 2")
        decode = time.perf_counter() - start
    print(f"render 16 sheets ({pages} pages, A4, 600 dpi PDF): {render:.2f} s")
    print(f"decode one 300-dpi page ({len(scan.texts)} QR codes): {decode * 1000:.0f} ms")


if __name__ == "__main__":
    main()
