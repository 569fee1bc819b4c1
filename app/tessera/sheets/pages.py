"""The two kinds of sheet page: the share page and the recovery-data pages.

The share page carries everything a custodian and a witness need: what the record
is, the fingerprint to compare, the 33 words and the share QR code (or empty boxes
in hand-copy mode), the envelope and seal lines, and recovery steps that work
without Tessera. Recovery-data pages carry the manifest and ciphertext as numbered
QR codes; they hold no secret. Every page repeats serial, fingerprint and page
number in its header and footer, so loose pages find their way back.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from tessera.core.slip39 import WORDS_PER_SHARE
from tessera.sheets.canvas import GREY, TINT, Canvas, LayoutOverflow
from tessera.sheets.layout import (
    DATA_QR_COLUMNS,
    DATA_QR_ERROR,
    DATA_QR_MAX_VERSION,
    DATA_QR_MM,
    DATA_QR_PER_PAGE,
    SHARE_QR_ERROR,
    SHARE_QR_MM,
    PageGeometry,
)
from tessera.sheets.model import PRODUCT, WORD_COLUMNS, Sheet

RIGHT = Qt.AlignmentFlag.AlignRight
CENTER = Qt.AlignmentFlag.AlignHCenter
WORD_ROW_MM = 6.3
FOOTER_MM = 5.0
DEMO_INK = QColor(200, 200, 200)
ORG_MAX_MM = 9.0  # the longest name, contact and URL allowed still fit (three lines)


def paint_demo_mark(c: Canvas, g: PageGeometry) -> None:
    """Across the whole page, under everything: a demo sheet can never pass for real.

    Painted first, so text stays black on top and QR codes keep their white ground."""
    painter = c.painter
    painter.save()
    painter.translate(c.px(g.width / 2), c.px(g.height / 2))
    painter.rotate(-35)
    for text, points, dy in (("DEMO", 150, -32.0), ("NOT A REAL SECRET", 40, 30.0)):
        c.text(-g.height / 2, dy, g.height, text, c.font(points, bold=True), align=CENTER,
               color=DEMO_INK)
    painter.restore()


def paint_header(c: Canvas, g: PageGeometry, sheet: Sheet, title: str) -> float:
    """The band at the top of every page; returns the y below it."""
    if sheet.demo:
        paint_demo_mark(c, g)
        title = f"Demo · {title}"
    y = g.top
    c.text(g.left, y, g.content_width * 0.7, f"{PRODUCT.upper()}  ·  {title.upper()}",
           c.font(8.5, bold=True, spacing=0.6))
    c.text(g.left + g.content_width * 0.5, y, g.content_width * 0.5, f"Sheet {sheet.serial}",
           c.font(9.5, bold=True, mono=True), align=RIGHT)
    y += 5.2
    c.line(g.left, y, g.right, y, 0.5)
    y += 1.2
    org = sheet.organisation
    if org.is_set:  # who this belongs to and who to call, on every page
        parts = [org.name, f"in doubt call {org.contact}" if org.contact else "",
                 org.instructions_url]
        line = "  ·  ".join(p for p in parts if p)
        font = c.fitted_font(line, 8.5, g.content_width, 4.2, bold=True, floor=6.0)
        y += c.text(g.left, y, g.content_width, line, font, max_height=ORG_MAX_MM) + 0.6
    return y + 1.8


def paint_footer(c: Canvas, g: PageGeometry, sheet: Sheet, page: int, total: int) -> None:
    y = g.bottom - FOOTER_MM + 1.2
    c.line(g.left, y - 1.2, g.right, y - 1.2, 0.2, GREY)
    font = c.font(7, mono=True)
    c.text(g.left, y, g.content_width * 0.75,
           f"{sheet.serial} · {sheet.fingerprint} · {sheet.record_id} · v{sheet.version} "
           f"e{sheet.epoch}", font, color=GREY)
    c.text(g.left + g.content_width * 0.7, y, g.content_width * 0.3,
           f"page {page} of {total}", font, align=RIGHT, color=GREY)


def _facts(c: Canvas, g: PageGeometry, y: float, rows: list[tuple[str, str]]) -> float:
    half = g.content_width / 2
    for index, (label, value) in enumerate(rows):
        col = index % 2
        row_y = y + (index // 2) * 9.2
        x = g.left + col * half
        c.text(x, row_y, half - 4, label.upper(), c.font(6.5, bold=True, spacing=0.4),
               color=GREY)
        font = c.fitted_font(value, 9.5, half - 4, 5.5, floor=6.0)
        c.text(x, row_y + 3.0, half - 4, value, font, max_height=5.5)
    return y + ((len(rows) + 1) // 2) * 9.2


def paint_share_page(c: Canvas, g: PageGeometry, sheet: Sheet, total: int) -> None:
    y = paint_header(c, g, sheet, "Sealed recovery sheet")
    # What this is, in one glance.
    label_font = c.fitted_font(sheet.record_label, 17, g.content_width, 15, bold=True)
    y += c.text(g.left, y, g.content_width, sheet.record_label, label_font, max_height=15) + 1.5
    who = f"{sheet.custodian} — share {sheet.share_number} of {sheet.share_count}"
    if sheet.group_text:
        who += f", {sheet.group_text}"
    who_font = c.fitted_font(who, 12.5, g.content_width, 6, bold=True)
    c.text(g.left, y, g.content_width, who, who_font, max_height=6.5)
    y += 7.5
    y = _facts(c, g, y, [
        ("Quorum", f"{sheet.quorum} sheets recover the secret"),
        ("Version / epoch", f"version {sheet.version}, epoch {sheet.epoch}"
                            f" · created {sheet.created_at}"),
        ("Record id", sheet.record_id),
        ("Printed", sheet.printed_at + (f" · reprint of {sheet.reprint_of}"
                                        if sheet.reprint_of else "")),
        *([("Vault genesis", " ".join(sheet.genesis[i:i + 4] for i in range(0, 32, 4)) + " …")]
          if sheet.genesis else []),
    ]) + 1.0

    # The fingerprint, large: custodians compare it before they hand over their words.
    box_h = 17.0
    c.box(g.left, y, g.content_width, box_h, width=0.6, fill=TINT)
    c.text(g.left + 4, y + 2.0, 60, "FINGERPRINT", c.font(7, bold=True, spacing=0.6))
    c.text(g.left + 4, y + 5.5, 62, "compare before you type or scan", c.font(7), color=GREY)
    c.text(g.left + 60, y + 3.6, g.content_width - 64, sheet.fingerprint,
           c.font(19, bold=True, mono=True), align=RIGHT)
    y += box_h + 4.0

    # The share: 33 numbered words (or boxes) and the share QR code.
    title = ("Share words — copy them here by hand from the screen" if sheet.hand_copy
             else "Share words")
    c.text(g.left, y, 120, title.upper(), c.font(7.5, bold=True, spacing=0.5))
    y += 4.5
    grid_w = g.content_width - SHARE_QR_MM - 6
    _word_grid(c, g.left, y, grid_w, sheet)
    grid_h = (WORDS_PER_SHARE // WORD_COLUMNS) * WORD_ROW_MM
    qr_x = g.right - SHARE_QR_MM
    if sheet.share_code is not None:
        c.qr(qr_x, y, SHARE_QR_MM, sheet.share_code, SHARE_QR_ERROR)
        c.text(qr_x, y + SHARE_QR_MM + 0.5, SHARE_QR_MM, "share code · the same 33 words",
               c.font(6.5), align=CENTER, color=GREY)
    else:
        c.box(qr_x + 2, y + 2, SHARE_QR_MM - 4, SHARE_QR_MM - 4, width=0.3, dashed=True)
        c.text(qr_x + 5, y + 14, SHARE_QR_MM - 10, "Hand-copy sheet: no share code is "
               "printed. The words were shown on screen only.", c.font(7.5),
               align=CENTER, color=GREY)
    y += max(grid_h, SHARE_QR_MM + 4) + 3.0

    # Warning band.
    band = 7.0
    c.fill(g.left, y, g.content_width, band, QColor(0, 0, 0))
    c.text(g.left, y + 1.6, g.content_width,
           "CONFIDENTIAL — ONE SHARE OF A RECOVERY SECRET · KEEP SEALED · NEVER PHOTOGRAPH",
           c.font(8, bold=True, spacing=0.3), align=CENTER, color=QColor(255, 255, 255))
    y += band + 3.5

    y = _seal_block(c, g, y, sheet)
    _steps(c, g, y, g.bottom - FOOTER_MM - 1.5, sheet)
    paint_footer(c, g, sheet, 1, total)


def _word_grid(c: Canvas, x: float, y: float, width: float, sheet: Sheet) -> None:
    rows = WORDS_PER_SHARE // WORD_COLUMNS
    col_w = width / WORD_COLUMNS
    number_font = c.font(8, mono=True)
    word_font = c.font(11.5, bold=True, mono=True)
    for index in range(WORDS_PER_SHARE):
        col, row = divmod(index, rows)  # numbered down each column, as people read lists
        cx, cy = x + col * col_w, y + row * WORD_ROW_MM
        if row % 2 == 0:
            c.fill(cx, cy, col_w - 2, WORD_ROW_MM, TINT)
        c.text(cx + 1, cy + 1.6, 7, f"{index + 1:02d}", number_font, color=GREY)
        if sheet.words is not None:
            c.text(cx + 8, cy + 0.9, col_w - 10, sheet.words[index], word_font,
                   max_height=WORD_ROW_MM)
        else:
            c.box(cx + 8, cy + 0.8, col_w - 11, WORD_ROW_MM - 1.6, width=0.25)


def _seal_block(c: Canvas, g: PageGeometry, y: float, sheet: Sheet) -> float:
    label = c.font(7, bold=True, spacing=0.3)
    value = c.font(9.5, mono=True)
    c.text(g.left, y, 80, "ENVELOPE (TAMPER-EVIDENT BAG) NO.", label)
    if sheet.envelope_no:
        c.text(g.left + 62, y - 0.8, 60, sheet.envelope_no, value)
    else:
        c.line(g.left + 62, y + 3.4, g.left + 120, y + 3.4, 0.25)
    c.text(g.left + 124, y, 30, "SERIAL", label)
    c.text(g.left + 136, y - 0.8, g.right - g.left - 136, sheet.serial, value, align=RIGHT)
    y += 8.0
    for role in ("Sealed by", "Witness"):
        c.text(g.left, y, 26, role.upper(), label)
        c.line(g.left + 22, y + 3.4, g.left + 78, y + 3.4, 0.25)
        c.text(g.left + 81, y, 24, "SIGNATURE", label)
        c.line(g.left + 100, y + 3.4, g.left + 148, y + 3.4, 0.25)
        c.text(g.left + 151, y, 12, "DATE", label)
        c.line(g.left + 160, y + 3.4, g.right, y + 3.4, 0.25)
        y += 8.0
    return y + 1.0


def _steps(c: Canvas, g: PageGeometry, y: float, limit: float, sheet: Sheet) -> None:
    c.text(g.left, y, g.content_width, "TO RECOVER — WITH OR WITHOUT TESSERA",
           c.font(7.5, bold=True, spacing=0.5))
    y += 4.2
    font = c.font(7.6)
    steps = list(sheet.steps)
    steps[2] = steps[2].replace("any K sheets'", f"the sheets' ({sheet.quorum})")
    for number, step in enumerate(steps, start=1):
        c.text(g.left, y, 5, f"{number}.", font)
        y += c.text(g.left + 5, y, g.content_width - 5, step, font, max_height=limit - y)
        y += 0.8
        if y > limit:
            raise LayoutOverflow("the recovery steps do not fit the page")


def paint_data_page(c: Canvas, g: PageGeometry, sheet: Sheet, page: int, total: int) -> None:
    """Page ``page`` (1-based among all pages; the share page is 0) of recovery data."""
    y = paint_header(c, g, sheet, "Recovery data — no secret")
    first = (page - 1) * DATA_QR_PER_PAGE
    codes = sheet.data_codes[first:first + DATA_QR_PER_PAGE]
    count = len(sheet.data_codes)
    title = (f"Manifest and encrypted payload · codes {first + 1}–{first + len(codes)} of "
             f"{count}" if len(codes) > 1 else
             f"Manifest and encrypted payload · code {first + 1} of {count}")
    y += c.text(g.left, y, g.content_width, f"{sheet.record_label}", c.font(12, bold=True),
                max_height=11) + 1.0
    y += c.text(g.left, y, g.content_width, title, c.font(9.5)) + 1.0
    y += c.text(g.left, y, g.content_width,
                "These codes hold no secret: without " + sheet.quorum.replace("any ", "")
                + " share sheets they are useless. Every sheet of this record version carries "
                "the same codes, so one complete set from any sheet is enough. Scan them in "
                "any order.", c.font(7.8), color=GREY) + 4.0
    gap = (g.content_width - DATA_QR_COLUMNS * DATA_QR_MM) / (DATA_QR_COLUMNS - 1)
    cell_h = DATA_QR_MM + 8.0
    if y + 2 * cell_h > g.bottom - FOOTER_MM:
        raise LayoutOverflow("recovery-data codes do not fit the page")
    for index, code in enumerate(codes):
        row, col = divmod(index, DATA_QR_COLUMNS)
        x = g.left + col * (DATA_QR_MM + gap)
        top = y + row * cell_h
        c.qr(x, top, DATA_QR_MM, code, DATA_QR_ERROR, DATA_QR_MAX_VERSION)
        c.text(x, top + DATA_QR_MM + 0.6, DATA_QR_MM, f"chunk {first + index + 1} of {count}",
               c.font(8.5, bold=True, mono=True), align=CENTER)
    paint_footer(c, g, sheet, page + 1, total)
