"""Printed sheets alone, scanned back, recover the record — in Tessera and without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sheet_fixtures import LARGE_SECRET, SMALL_SECRET, degrade, fixture, rasterise, sheets_for

from helpers.paths import REPO
from tessera.core.errors import QuorumNotMet
from tessera.sheets.collect import SheetReader, recover_secret
from tessera.sheets.model import Paper
from tessera.sheets.render import write_pdf
from tessera.sheets.scan import PageScan, decode_image, load_image, read_scans, scan_file

RECOVER = REPO / "tools" / "tessera-recover"


def scan_pngs(paths: list[Path]) -> list[PageScan]:
    return [decode_image(load_image(p), p.name) for p in paths]


@pytest.mark.parametrize(("secret", "paper", "keys"), [
    (SMALL_SECRET, Paper.A4, ["g0m0", "g0m2", "g0m4"]),
    (LARGE_SECRET, Paper.LETTER, ["g0m1", "g0m3", "g0m4"]),
], ids=["small-a4", "large-letter"])
def test_three_sheets_alone_recover_the_secret(tmp_path: Path, secret: bytes, paper: Paper,
                                               keys: list[str]) -> None:
    fx = fixture(secret)
    sheets = sheets_for(fx, keys)
    pdf = tmp_path / "sheets.pdf"
    pages = write_pdf(sheets, pdf, paper)
    per_sheet = pages // 3
    assert per_sheet == (2 if secret is SMALL_SECRET else 4)  # large data spans 3 pages
    # No vault exists anywhere in this test: the PDF pages are all there is.
    scans = scan_pngs(rasterise(pdf, 150))
    reader = read_scans(scans)
    assert sorted(reader.shares) == keys
    recovered = recover_secret(reader)
    assert bytes(recovered.secret) == secret
    assert [c.method for c in recovered.contributions] == ["paper"] * 3
    assert reader.notes == []  # the codes of three sheets repeat, silently de-duplicated

    # The same decoded texts work with the standalone script.
    codes = tmp_path / "codes.txt"
    codes.write_text("\n".join(t for s in scans for t in s.texts) + "\n", encoding="utf-8")
    out = tmp_path / "secret.out"
    done = subprocess.run([sys.executable, str(RECOVER), "--sheet-codes", str(codes),
                           "--out", str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == secret
    assert fx.sealed.fingerprint in done.stderr


def test_a_photo_of_pages_and_a_300_dpi_scan_still_decode(tmp_path: Path) -> None:
    fx = fixture(SMALL_SECRET)
    sheets = sheets_for(fx, ["g0m0", "g0m1", "g0m2"])
    pdf = tmp_path / "sheets.pdf"
    write_pdf(sheets, pdf, Paper.A4)
    hi_res = rasterise(pdf, 300, first=1, last=1)  # the share page of the first sheet
    photos = [degrade(load_image(p), angle=angle, seed=i)
              for i, (p, angle) in enumerate(zip(rasterise(pdf, 150, first=2, last=3),
                                                 (-9.0, 6.0), strict=True))]
    scans = scan_pngs(hi_res) + [decode_image(photo, f"photo {i}")
                                 for i, photo in enumerate(photos)]
    assert scans[1].texts[0].startswith("TSR1:M:")  # the data page, rotated and noisy
    assert len(scans[1].texts) == len(sheets[0].data_codes)
    assert scans[2].texts[0].startswith("TSR1:S:")  # the second sheet's share page
    reader = read_scans(scans)
    assert sorted(reader.shares) == ["g0m0", "g0m1"]
    with pytest.raises(QuorumNotMet, match="2 of 3"):
        recover_secret(reader)
    reader.add_texts([sheets[2].share_code or ""], "typed in")
    assert bytes(recover_secret(reader).secret) == SMALL_SECRET


def test_hand_copy_sheets_print_no_share_but_full_recovery_data(tmp_path: Path) -> None:
    fx = fixture(SMALL_SECRET)
    sheet = sheets_for(fx, ["g0m0"], hand_copy=True)[0]
    assert sheet.words is None and sheet.share_code is None
    pdf = tmp_path / "hand.pdf"
    write_pdf([sheet], pdf, Paper.A4)
    scans = scan_file(pdf, dpi=150)
    assert scans[0].texts == ()  # the share page carries no code at all
    texts = [t for s in scans for t in s.texts]
    assert sorted(texts) == sorted(sheet.data_codes)
    reader = SheetReader()
    reader.add_texts(texts)
    data = reader.recovery_data()
    assert data.manifest.fingerprint == fx.sealed.fingerprint
    assert data.ciphertext == fx.sealed.ciphertext
