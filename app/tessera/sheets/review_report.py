"""The access review as a PDF an auditor can file: painted with QPdfWriter / QPainter
(QtGui only), written to a private temporary file and renamed into place.

Layout, top to bottom: title and summary; the findings, most severe first; then one
block per record — facts, who can hold it (custodian → tokens → kinds, last drill,
next due), its own findings. Long content flows onto further pages with a running
footer naming the page.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QIODevice, QMarginsF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
)

from tessera.core.review import RecordView, Review, Severity
from tessera.sheets.render import atomic_pdf, ensure_gui_application

MARGIN_MM = 15.0
RESOLUTION = 300
_SEVERITY_COLOURS = {Severity.HIGH: "#b00020", Severity.MEDIUM: "#a15c00",
                     Severity.LOW: "#44546a"}
_TABLE_COLUMNS = (("Custodian", 0.20), ("Shares", 0.09), ("Token", 0.25), ("Kind", 0.09),
                  ("Last drill (this version)", 0.19), ("Next drill due", 0.18))


class _Page:
    """A cursor over the pages of a QPdfWriter: text blocks that wrap and paginate."""

    def __init__(self, writer: QPdfWriter, painter: QPainter, footer: str) -> None:
        self.writer = writer
        self.painter = painter
        self.footer = footer
        self.dpi = writer.resolution()
        rect = writer.pageLayout().paintRectPixels(self.dpi)
        self.width = float(rect.width())
        self.height = float(rect.height())
        self.y = 0.0
        self.page = 1
        self._footer()

    def mm(self, value: float) -> float:
        return value * self.dpi / 25.4

    def font(self, size: float, bold: bool = False) -> QFont:
        font = QFont("Helvetica")
        font.setPointSizeF(size)
        font.setBold(bold)
        return font

    def ensure(self, needed: float) -> None:
        if self.y + needed > self.height - self.mm(10):
            self.writer.newPage()
            self.page += 1
            self.y = 0.0
            self._footer()

    def _footer(self) -> None:
        self.painter.save()
        self.painter.setFont(self.font(7.5))
        self.painter.setPen(QColor("#666666"))
        rect = QRectF(0, self.height - self.mm(6), self.width, self.mm(6))
        self.painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                              self.footer)
        self.painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                              f"page {self.page}")
        self.painter.restore()

    def text(self, text: str, size: float = 9.5, *, bold: bool = False, colour: str = "#000000",
             indent: float = 0.0, width: float | None = None, gap: float = 1.2) -> None:
        font = self.font(size, bold)
        flags = int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft)
        box_width = (width or self.width) - indent
        metrics = QFontMetricsF(font, self.writer)
        bound = metrics.boundingRect(QRectF(0, 0, box_width, 1e6), flags, text)
        self.ensure(bound.height())
        self.painter.setFont(font)
        self.painter.setPen(QColor(colour))
        self.painter.drawText(QRectF(indent, self.y, box_width, bound.height()), flags, text)
        self.y += bound.height() + self.mm(gap)

    def rule(self, colour: str = "#999999") -> None:
        self.ensure(self.mm(3))
        self.painter.setPen(QPen(QColor(colour), self.mm(0.25)))
        self.painter.drawLine(0, int(self.y + self.mm(1)), int(self.width),
                              int(self.y + self.mm(1)))
        self.y += self.mm(3)

    def row(self, cells: list[str], *, bold: bool = False, shade: bool = False) -> None:
        font = self.font(8.5, bold)
        metrics = QFontMetricsF(font, self.writer)
        flags = int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft)
        pad = self.mm(1)
        widths = [self.width * share for _, share in _TABLE_COLUMNS]
        height = max(metrics.boundingRect(QRectF(0, 0, w - 2 * pad, 1e6), flags, c).height()
                     for c, w in zip(cells, widths, strict=True)) + 2 * pad
        self.ensure(height)
        if shade:
            self.painter.fillRect(QRectF(0, self.y, self.width, height), QColor("#eef1f5"))
        self.painter.setFont(font)
        self.painter.setPen(QColor("#000000"))
        x = 0.0
        for cell, w in zip(cells, widths, strict=True):
            self.painter.drawText(QRectF(x + pad, self.y + pad, w - 2 * pad, height), flags,
                                  cell)
            x += w
        self.y += height


def _paint(page: _Page, review: Review, vault_name: str) -> None:
    counts = review.counts()
    page.text("Tessera — access review", 18, bold=True, gap=2)
    page.text(f"Vault {vault_name} · generated {review.generated_at} · "
              f"{len(review.records):,} record(s)", 9.5, colour="#333333")
    page.text(f"Findings: {counts[Severity.HIGH]:,} high, {counts[Severity.MEDIUM]:,} medium, "
              f"{counts[Severity.LOW]:,} low", 11, bold=True, gap=2)
    page.text("Who can hold each recovery secret (custodian → token → kind), K of N, and when "
              "each token last proved it opens its share. A quorum of shares — never one "
              "person — can view or regenerate a secret; revoking a custodian requires rotating "
              "the secret itself.", 8.5, colour="#333333", gap=3)
    page.rule()
    page.text("Findings", 13, bold=True)
    if not review.findings:
        page.text("None.", 9.5)
    for finding in review.findings:
        page.text(f"[{finding.severity.value.upper()}] {finding.kind.heading} — {finding.text}",
                  9, colour=_SEVERITY_COLOURS[finding.severity], indent=page.mm(2))
    for record in review.records:
        _paint_record(page, review, record)


def _paint_record(page: _Page, review: Review, record: RecordView) -> None:
    page.ensure(page.mm(45))
    page.y += page.mm(3)
    page.rule("#333333")
    page.text(record.label, 13, bold=True)
    facts = [
        f"State: {record.state_display}" + (f" since {record.state_since[:10]}"
                                            if record.state != "sealed" else ""),
        f"Quorum: {record.k_of_n} ({record.quorum})",
        f"Version {record.version}, epoch {record.epoch} · {record.fingerprint}",
        f"Owner: {record.owner or '—'} · system: {record.system or '—'} · "
        f"environment: {record.environment or '—'}",
        f"Last release: {record.last_release_at or 'never'} · secret sealed "
        f"{record.secret_since[:10]} · rotation due {review.rotation_due_text(record)}",
        f"Policy: {'hardware only' if record.hardware_only else 'software keys allowed'}, "
        f"drill every {record.drill_days} days, rotate every {record.rotation_days} days",
        "Superseded sheets not destroyed: " + (", ".join(record.outstanding_sheets) or "none"),
    ]
    if record.state_reason and record.state != "sealed":
        facts.insert(1, f"Why: {record.state_reason}")
    for line in facts:
        page.text(line, 9, gap=0.6)
    page.y += page.mm(1.5)
    page.row([name for name, _ in _TABLE_COLUMNS], bold=True, shade=True)
    for holder in record.holders:
        tokens = holder.tokens or ()
        if not tokens:
            page.row([holder.name, " ".join(holder.share_keys), "no token (paper only)", "",
                      "", ""])
        for i, token in enumerate(tokens):
            due = review.drill_for(record.record_id, token.token_id)
            label = token.label if token.state == "active" else f"{token.label} ({token.state})"
            page.row([holder.name if i == 0 else "", " ".join(holder.share_keys) if i == 0
                      else "", label, token.kind,
                      (token.last_record_drill_at or "never")[:16].replace("T", " "),
                      (due.due_at[:10] + (" OVERDUE" if due.overdue else "")) if due else "—"])
    mine = review.findings_for(record.record_id)
    if mine:
        page.y += page.mm(1.5)
        for finding in mine:
            who = " — ".join(x for x in (finding.custodian, finding.token) if x)
            page.text(f"[{finding.severity.value}] {finding.kind.heading}"
                      + (f": {who}" if who else ""), 8.5, bold=True,
                      colour=_SEVERITY_COLOURS[finding.severity], gap=0.3)


def write_review_pdf(review: Review, target: Path, *, vault_name: str = "") -> int:
    """Paint the review to ``target`` (A4, mode 0600, atomic); returns the page count."""
    ensure_gui_application()
    pages = 0

    def paint(device: QIODevice) -> None:
        nonlocal pages
        writer = QPdfWriter(device)
        writer.setResolution(RESOLUTION)
        writer.setTitle("Tessera access review")
        writer.setCreator("Tessera")
        writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                         QPageLayout.Orientation.Portrait,
                                         QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
                                         QPageLayout.Unit.Millimeter))
        painter = QPainter(writer)
        try:
            page = _Page(writer, painter,
                         f"Tessera access review · {vault_name} · {review.generated_at}")
            _paint(page, review, vault_name)
            pages = page.page
        finally:
            painter.end()
        del writer  # QPdfWriter finishes the document when it is destroyed

    atomic_pdf(Path(target), paint)
    return pages
