"""What a custodian compares or copies from a sheet is printed letter for letter: no
typographic ligatures, so "ff" in a hex genesis is two letters on the page (and in the
PDF's text), not one ﬀ glyph that reads — and extracts — as a different character."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
from sheet_fixtures import sheets_for

from helpers.sealed import make_sealed
from tessera.sheets.layout import Paper
from tessera.sheets.render import write_pdf

# Pairs that sans-serif fonts join into one glyph: ff, fi, fl.
GENESIS = "8bf4ffeb01b0d7f45184b57505be185eb76f4ea6351b45d5531a53096107f0f1"


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler) missing")
def test_the_printed_genesis_has_no_ligatures(tmp_path: Path) -> None:
    fx = make_sealed()
    first = next(iter(fx.mnemonics))
    sheet = dataclasses.replace(sheets_for(fx, [first])[0], genesis=GENESIS)
    write_pdf([sheet], tmp_path / "sheet.pdf", Paper.A4)
    text = subprocess.run(["pdftotext", "-raw", str(tmp_path / "sheet.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "8bf4 ffeb 01b0 d7f4 5184 b575 05be 185e" in text
    assert not any(ligature in text for ligature in "\ufb00\ufb01\ufb02\ufb03\ufb04")
