"""The ceremony transcript: the paper record of a create, release or reshare.

A :class:`Transcript` is plain data (filled from the vault by
:mod:`tessera.custody.sheets`); :func:`paint_transcript` lays it out over as many
pages as it needs. The audit head (sequence and hash) is printed large so anyone can
later run ``tessera audit verify --head SEQ:HASH`` and detect a truncated log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt

from tessera.sheets.canvas import GREY, TINT, Canvas
from tessera.sheets.layout import PageGeometry
from tessera.sheets.model import PRODUCT

FOOTER_MM = 6.0


@dataclass(frozen=True)
class Transcript:
    """Everything a transcript prints; public facts only."""

    kind: str  # "Release ceremony", "Custody record"
    subject_id: str  # release id or record id
    record_label: str
    record_id: str
    version: int
    epoch: int
    fingerprint: str
    quorum: str
    facts: tuple[tuple[str, str], ...]
    participants: tuple[tuple[str, str, str], ...]  # name, role, detail
    approvals: tuple[tuple[str, str, str, str], ...]  # custodian, method, token, time
    sheets: tuple[tuple[str, str, str, str, str], ...]  # serial, custodian, share, envelope, state
    audit_seq: int
    audit_hash: str
    generated_at: str
    generated_by: str
    signatures: tuple[str, ...]  # who signs: "Ceremony operator (alice)", "Witness", …
    genesis: str = ""  # the vault's genesis fingerprint (hex), "" before it is signed


class _Flow:
    """A y cursor that starts a new page when a block would cross the footer."""

    def __init__(self, c: Canvas, g: PageGeometry, t: Transcript,
                 new_page: Callable[[], object]) -> None:
        self.c, self.g, self.t, self._new_page = c, g, t, new_page
        self.page = 1
        self.y = self._header()

    def _header(self) -> float:
        c, g = self.c, self.g
        c.text(g.left, g.top, g.content_width * 0.7,
               f"{PRODUCT.upper()}  ·  CEREMONY TRANSCRIPT", c.font(8.5, bold=True, spacing=0.6))
        c.text(g.left + g.content_width * 0.4, g.top, g.content_width * 0.6,
               self.t.fingerprint, c.font(9.5, bold=True, mono=True),
               align=Qt.AlignmentFlag.AlignRight)
        y = g.top + 5.2
        c.line(g.left, y, g.right, y, 0.5)
        c.text(g.left, g.bottom - FOOTER_MM + 1.5, g.content_width,
               f"{self.t.kind} {self.t.subject_id} · audit head {self.t.audit_seq}:"
               f"{self.t.audit_hash[:16]}… · page {self.page}", c.font(7, mono=True),
               color=GREY)
        return y + 3.5

    def need(self, height: float) -> None:
        if self.y + height > self.g.bottom - FOOTER_MM:
            self._new_page()
            self.page += 1
            self.y = self._header()

    def heading(self, text: str) -> None:
        self.need(12)
        self.y += 2.5
        self.c.text(self.g.left, self.y, self.g.content_width, text.upper(),
                    self.c.font(8, bold=True, spacing=0.5))
        self.y += 4.5
        self.c.line(self.g.left, self.y - 0.6, self.g.right, self.y - 0.6, 0.2, GREY)

    def row(self, cells: tuple[str, ...], widths: tuple[float, ...], *, bold: bool = False,
            mono_from: int = 99) -> None:
        c, g = self.c, self.g
        height = max(c.text_height(cell, c.font(8.5, bold=bold, mono=i >= mono_from),
                                   w * g.content_width - 2)
                     for i, (cell, w) in enumerate(zip(cells, widths, strict=True))) + 1.4
        self.need(height)
        x = g.left
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            c.text(x, self.y, w * g.content_width - 2, cell,
                   c.font(8.5, bold=bold, mono=i >= mono_from))
            x += w * g.content_width
        self.y += height


def paint_transcript(c: Canvas, g: PageGeometry, t: Transcript,
                     new_page: Callable[[], object]) -> int:
    """Paint the transcript, calling ``new_page`` between pages; returns the page count."""
    flow = _Flow(c, g, t, new_page)
    flow.y += c.text(g.left, flow.y, g.content_width, f"{t.kind}: {t.record_label}",
                     c.fitted_font(f"{t.kind}: {t.record_label}", 16, g.content_width, 14,
                                   bold=True)) + 2
    record = [("Record id", t.record_id), ("Version / epoch", f"{t.version} / {t.epoch}"),
              ("Fingerprint", t.fingerprint), ("Quorum", t.quorum)] if t.version else []
    facts = [*record, *t.facts, ("Transcript made", f"{t.generated_at} by {t.generated_by}")]
    for label, value in facts:
        flow.row((label, value), (0.25, 0.75), mono_from=1 if label in (
            "Record id", "Fingerprint") else 99)
    if t.participants:
        flow.heading("Participants")
        flow.row(("Name", "Role", "Share · tokens"), (0.25, 0.25, 0.5), bold=True)
        for participant in t.participants:
            flow.row(participant, (0.25, 0.25, 0.5))
    if t.approvals:
        flow.heading("Approvals")
        flow.row(("Custodian", "Method", "Token", "Time (UTC)"), (0.25, 0.15, 0.35, 0.25),
                 bold=True)
        for approval in t.approvals:
            flow.row(approval, (0.25, 0.15, 0.35, 0.25))
    if t.sheets:
        flow.heading("Sealed sheets and envelopes")
        flow.row(("Serial", "Custodian", "Share", "Envelope no.", "State"),
                 (0.2, 0.25, 0.12, 0.23, 0.2), bold=True)
        for sheet in t.sheets:
            flow.row(sheet, (0.2, 0.25, 0.12, 0.23, 0.2))
    flow.heading("Audit log head")
    flow.need(20)
    c.box(g.left, flow.y, g.content_width, 16, width=0.5, fill=TINT)
    c.text(g.left + 3, flow.y + 1.5, g.content_width - 6,
           f"seq {t.audit_seq}   ·   check later with: tessera audit verify --head "
           f"{t.audit_seq}:<hash>", c.font(8))
    c.text(g.left + 3, flow.y + 6.5, g.content_width - 6, t.audit_hash,
           c.fitted_font(t.audit_hash, 11, g.content_width - 6, 6, mono=True, bold=True))
    flow.y += 19
    if t.genesis:
        flow.heading("Vault genesis fingerprint")
        flow.need(10)
        c.text(g.left + 3, flow.y + 1.5, g.content_width - 6,
               " ".join(t.genesis[i:i + 4] for i in range(0, len(t.genesis), 4)),
               c.fitted_font(t.genesis, 10, g.content_width - 6, 6, mono=True, bold=True))
        flow.y += 9
    flow.heading("Signatures")
    for role in t.signatures:
        flow.need(13)
        c.text(g.left, flow.y + 5, 70, role, c.font(8.5))
        c.line(g.left + 72, flow.y + 8.5, g.left + 140, flow.y + 8.5, 0.25)
        c.text(g.left + 143, flow.y + 5, 10, "Date", c.font(7, bold=True))
        c.line(g.left + 152, flow.y + 8.5, g.right, flow.y + 8.5, 0.25)
        flow.y += 12
    return flow.page
