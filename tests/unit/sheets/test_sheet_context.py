"""Self-explanatory paper: who to call and where the instructions are on every page;
a demo sheet can never pass for a real one; no step points into a source tree."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from sheet_fixtures import LARGE_SECRET, fixture, rasterise

from helpers.sealed import make_sealed
from tessera.core.errors import InputError
from tessera.core.organisation import MAX_CONTACT, MAX_NAME, MAX_URL, Organisation
from tessera.sheets import canvas as canvas_module
from tessera.sheets.model import Paper, Sheet, build_sheet
from tessera.sheets.render import render_page, sheet_page_count, write_pdf

ORG = Organisation.checked("Example Corp — Platform Security",
                           "Security on-call +44 20 7946 0000",
                           "https://wiki.example.org/break-glass")


def sheet_of(fx, *, demo: bool = False, organisation: Organisation | None = None,
             key: str | None = None) -> Sheet:
    s = fx.sealed
    key = key or s.manifest.shares[0].key
    return build_sheet(s.manifest, s.manifest_bytes, s.ciphertext, key, fx.mnemonics[key],
                       serial="SH-TEST-AAAA", printed_at="2026-02-01T10:00:00Z", demo=demo,
                       organisation=organisation)


def painted_texts(sheet: Sheet, paper: Paper, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text painted on each page, one joined string per page."""
    pages: list[list[str]] = []
    original = canvas_module.Canvas.text

    def record(self, x, y, w, text, font, **kwargs):  # type: ignore[no-untyped-def]
        pages[-1].append(text)
        return original(self, x, y, w, text, font, **kwargs)

    monkeypatch.setattr(canvas_module.Canvas, "text", record)
    for page in range(sheet_page_count(sheet)):
        pages.append([])
        render_page(sheet, page, paper, 40)
    monkeypatch.undo()
    return [" ".join(p) for p in pages]


@pytest.mark.parametrize("paper", list(Paper))
def test_organisation_and_contact_are_on_every_page(paper: Paper, monkeypatch) -> None:
    sheet = sheet_of(fixture(LARGE_SECRET), organisation=ORG)
    pages = painted_texts(sheet, paper, monkeypatch)
    assert len(pages) >= 3  # the share page and several recovery-data pages
    for number, text in enumerate(pages, start=1):
        for fact in (ORG.name, ORG.contact, ORG.instructions_url):
            assert fact in text, f"page {number} lacks {fact!r}"
    assert f"call: {ORG.name} · {ORG.contact}" in pages[0]  # and in the steps


@pytest.mark.parametrize("paper", list(Paper))
def test_recovery_steps_point_at_no_repository_path(paper: Paper, monkeypatch) -> None:
    for organisation in (None, ORG):
        pages = painted_texts(sheet_of(fixture(LARGE_SECRET), organisation=organisation),
                              paper, monkeypatch)
        for text in pages:
            assert "docs/" not in text and "tools/" not in text


@pytest.mark.parametrize("paper", list(Paper))
def test_the_longest_organisation_still_fits_a_grouped_sheet(paper: Paper) -> None:
    longest = Organisation.checked(" ".join(["Name"] * (MAX_NAME // 5)),
                                   " ".join(["Call"] * (MAX_CONTACT // 5)),
                                   "https://example.org/" + "u" * (MAX_URL - 20))
    fx = make_sealed(LARGE_SECRET, groups=[(2, 3), (2, 3)], group_threshold=2)
    sheet = sheet_of(fx, organisation=longest, demo=True)
    for page in range(sheet_page_count(sheet)):
        render_page(sheet, page, paper, 40)  # raises LayoutOverflow if it does not fit


def grey_share(png: Path) -> float:
    """Share of pixels in the watermark's grey (neither paper white nor ink)."""
    image = QImage(str(png)).convertToFormat(QImage.Format.Format_Grayscale8)
    data = bytes(image.constBits())[: image.bytesPerLine() * image.height()]
    grey = sum(1 for value in data[::3] if 185 <= value <= 215)
    return grey / (len(data) / 3)


def test_demo_sheets_carry_the_watermark_on_every_page(tmp_path: Path) -> None:
    fx = fixture(LARGE_SECRET)
    real, demo = sheet_of(fx), sheet_of(fx, demo=True)
    write_pdf([real], tmp_path / "real.pdf", Paper.A4)
    write_pdf([demo], tmp_path / "demo.pdf", Paper.A4)
    real_pages = rasterise(tmp_path / "real.pdf", 40)
    demo_pages = rasterise(tmp_path / "demo.pdf", 40)
    assert len(demo_pages) == len(real_pages) >= 3
    for number, (plain, marked) in enumerate(zip(real_pages, demo_pages, strict=True), 1):
        assert grey_share(marked) > grey_share(plain) + 0.01, f"page {number} has no mark"


def test_demo_sheets_say_demo_in_every_header(monkeypatch) -> None:
    pages = painted_texts(sheet_of(fixture(LARGE_SECRET), demo=True), Paper.A4, monkeypatch)
    assert all("DEMO" in text for text in pages)
    real = painted_texts(sheet_of(fixture(LARGE_SECRET)), Paper.A4, monkeypatch)
    assert not any("DEMO" in text for text in real)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("instructions_url", "wiki.example.org/x", "https://"),
    ("instructions_url", "https://exa mple.org", "without spaces"),
    ("instructions_url", "javascript:alert(1)", "https://"),
    ("name", "N" * (MAX_NAME + 1), "longer than"),
    ("contact", "call\x07me", "control characters"),
])
def test_bad_organisation_fields_are_named(field: str, value: str, message: str) -> None:
    good = ORG.to_json()
    with pytest.raises(InputError, match=message):
        Organisation.checked(**{**good, field: value})
    assert dataclasses.replace(ORG) == ORG
