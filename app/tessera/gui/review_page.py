"""The access review: who can hold each secret, when that was last proven, and findings.

One row per record with its custodians → keys → kinds beneath it, then every finding
flagged by severity (single points of loss, one person holding several shares,
software keys on hardware-only records, overdue drills or rotations, keys never
drilled, a custodian who owns the record, superseded sheets not destroyed). The
review is computed by :func:`tessera.custody.review.gather_review` on the context's
loader thread, and the lists are filled a slice at a time from the event loop, so the
review of thousands of records never freezes the window; CSV and PDF are the same
report the CLI writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tessera.core.private_file import write_private
from tessera.core.review import Review, Severity, review_csv
from tessera.core.wording import share_label
from tessera.custody.review import gather_review
from tessera.gui.context import AppContext
from tessera.gui.errors import show_error
from tessera.gui.rows import short_time
from tessera.gui.stale_pages import RefreshWhenShown
from tessera.gui.table_model import Tone, tone_color
from tessera.gui.widgets import heading, muted
from tessera.tokens.base import TokenKind

SEVERITY_ORDER = {severity: n for n, severity in enumerate(Severity)}
SEVERITY_TONE = {Severity.HIGH: Tone.BAD, Severity.MEDIUM: Tone.WARN, Severity.LOW: Tone.MUTED}
FILL_SLICE = 0.012  # seconds of list filling per turn of the event loop
SIZE_SAMPLE = 200  # rows a column's width is measured on


def _set_texts(item: QTreeWidgetItem, texts: list[str]) -> None:
    for column, text in enumerate(texts):
        if item.text(column) != text:
            item.setText(column, text)


def _remove_from(tree: QTreeWidget, keep: int) -> Iterator[None]:
    """Remove the top-level items after the first ``keep``, from the end (each removal
    is then cheap), yielding every 200 so the event loop keeps turning."""
    for n, index in enumerate(range(tree.topLevelItemCount() - 1, keep - 1, -1)):
        tree.takeTopLevelItem(index)
        if n % 200 == 199:
            yield


def ask_export_path(parent: QWidget, kind: str) -> Path | None:
    """Where to write the review (tests replace this seam)."""
    suffix = "csv" if kind == "csv" else "pdf"
    name, _ = QFileDialog.getSaveFileName(parent, "Export the access review",
                                          f"access-review.{suffix}",
                                          f"{suffix.upper()} (*.{suffix})")
    return Path(name) if name else None


class ReviewPage(RefreshWhenShown, QWidget):
    """Sidebar page: the access review of the open vault."""

    ask_export_path: Callable[[QWidget, str], Path | None] = staticmethod(ask_export_path)
    filled = Signal()  # the review read last is listed in full

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setAccessibleName("Review page")
        self.review: Review | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        top = QHBoxLayout()
        top.addWidget(heading("Access review"))
        top.addStretch(1)
        self.csv_button = QPushButton("Export &CSV…")
        self.pdf_button = QPushButton("Export &PDF…")
        top.addWidget(self.csv_button)
        top.addWidget(self.pdf_button)
        layout.addLayout(top)
        layout.addWidget(muted("Who can hold, view, regenerate and revoke each recovery "
                               "secret, and when that was last proven. Findings are flagged "
                               "by severity."))
        self.counts = QLabel()
        self.counts.setAccessibleName("Findings count")
        layout.addWidget(self.counts)
        self.records = QTreeWidget()
        self.records.setAccessibleName("Records and holders")
        self.records.setHeaderLabels(["Record / custodian", "Quorum / share", "State / keys",
                                      "Last release / last drill", "Rotation due",
                                      "Old sheets", "Findings"])
        self.records.setUniformRowHeights(True)
        self.records.header().setResizeContentsPrecision(SIZE_SAMPLE)
        self._fill: Iterator[None] | None = None
        self.findings = QTreeWidget()
        self.findings.setAccessibleName("Findings")
        self.findings.setHeaderLabels(["Severity", "Finding", "Record", "Custodian", "Details"])
        self.findings.setRootIsDecorated(False)
        self.findings.setWordWrap(True)
        self.findings.header().setResizeContentsPrecision(SIZE_SAMPLE)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.records)
        splitter.addWidget(self.findings)
        splitter.setSizes([360, 240])
        layout.addWidget(splitter, 1)
        self.status = muted("")
        layout.addWidget(self.status)
        self.csv_button.clicked.connect(lambda: self.export("csv"))
        self.pdf_button.clicked.connect(lambda: self.export("pdf"))
        context.vault_changed.connect(self.vault_changed)
        self.refresh()

    def refresh(self) -> None:
        """Compute the review on the loader thread; :meth:`show_review` lists it."""
        if self.review is None:
            self.counts.setText("Reviewing the vault…")
        self.context.loader.load(self, gather_review, self.show_review,
                                 lambda exc: show_error(self, exc))

    @property
    def filling(self) -> bool:
        return self._fill is not None

    def show_review(self, review: Review) -> None:
        self.review = review
        counts = review.counts()
        records = len(review.records)
        self.counts.setText(f"{records:,} record{'' if records == 1 else 's'} · findings: "
                            f"{counts[Severity.HIGH]} high, {counts[Severity.MEDIUM]} medium, "
                            f"{counts[Severity.LOW]} low")
        # The lists are rewritten in place, a slice at a time, and rows left over are
        # removed from the end: clear() deleted 50,000 items at once at 5,000 records,
        # freezing the window for 1.5 s on every vault change while this page was shown.
        self.records.clearSelection()
        self.findings.clearSelection()
        self._fill = self._fill_steps(review)
        self._fill_more(self._fill)

    def _fill_more(self, steps: Iterator[None]) -> None:
        """Fill for one slice of time, then let the event loop turn (tests: all at once)."""
        if steps is not self._fill:
            return  # a newer review replaced this one
        deadline = time.perf_counter() + FILL_SLICE
        for _ in steps:
            if not self.context.loader.inline and time.perf_counter() > deadline:
                QTimer.singleShot(0, lambda: self._fill_more(steps))
                return
        self._fill = None
        self.filled.emit()

    def _fill_steps(self, review: Review) -> Iterator[None]:
        # Colours once per fill: reading the palette per row cost most of a first fill.
        brushes = {s: QBrush(c) for s in Severity
                   if (c := tone_color(SEVERITY_TONE[s])) is not None}
        bold = QFont(self.records.font())
        bold.setBold(True)
        sized = False
        reusable = self.records.topLevelItemCount()
        for n, record in enumerate(review.records):
            found = review.findings_for(record.record_id)
            worst = min((f.severity for f in found), default=None,
                        key=lambda s: SEVERITY_ORDER[s])
            texts = [record.label, record.k_of_n, record.state_display,
                     short_time(record.last_release_at), review.rotation_due_text(record),
                     str(len(record.outstanding_sheets)) if record.outstanding_sheets else "—",
                     str(len(found)) if found else "—"]
            item = self.records.topLevelItem(n) if n < reusable else None
            if item is None:
                item = QTreeWidgetItem(texts)
                item.setFont(0, bold)
                self.records.addTopLevelItem(item)
                item.setExpanded(True)
            else:
                _set_texts(item, texts)
            item.setData(0, Qt.ItemDataRole.UserRole, record.record_id)
            item.setData(6, Qt.ItemDataRole.ForegroundRole,
                         brushes.get(worst) if worst is not None else None)
            for h, holder in enumerate(record.holders):
                keys = ", ".join(f"{t.label} ({TokenKind(t.kind).display_name}"
                                 f"{', ' + t.state if t.state != 'active' else ''})"
                                 for t in holder.tokens) or "paper only"
                drills = [t.last_record_drill_at for t in holder.tokens if t.last_record_drill_at]
                child_texts = [holder.name, ", ".join(share_label(k) for k in holder.share_keys),
                               keys, short_time(max(drills)) if drills else "never", "", "",
                               str(len(review.findings_for(record.record_id, holder.name)))
                               or ""]
                child = item.child(h) if h < item.childCount() else None
                if child is None:
                    item.addChild(QTreeWidgetItem(child_texts))
                else:
                    _set_texts(child, child_texts)
            for extra in range(item.childCount() - 1, len(record.holders) - 1, -1):
                item.takeChild(extra)
            if n % 50 == 49:
                yield
            if not sized and n >= 49:
                sized = True
                self._size_records()
        yield from _remove_from(self.records, len(review.records))
        if not sized:
            self._size_records()
        order = list(Severity)
        sized = False
        reusable = self.findings.topLevelItemCount()
        for n, finding in enumerate(sorted(review.findings,
                                           key=lambda f: (order.index(f.severity),
                                                          f.label.casefold()))):
            texts = [finding.severity.value.upper(), finding.kind.heading, finding.label,
                     finding.custodian, finding.text]
            item = self.findings.topLevelItem(n) if n < reusable else None
            if item is None:
                item = QTreeWidgetItem(texts)
                self.findings.addTopLevelItem(item)
            else:
                _set_texts(item, texts)
            item.setData(0, Qt.ItemDataRole.ForegroundRole, brushes.get(finding.severity))
            item.setToolTip(4, finding.text)
            if n % 100 == 99:
                yield
            if not sized and n >= 99:
                sized = True
                self._size_findings()
        yield from _remove_from(self.findings, len(review.findings))
        if not sized:
            self._size_findings()

    def _size_records(self) -> None:
        for column in range(self.records.columnCount()):
            self.records.resizeColumnToContents(column)

    def _size_findings(self) -> None:
        for column in range(4):
            self.findings.resizeColumnToContents(column)

    def finding_kinds(self, record_label: str | None = None) -> set[str]:
        """The kinds of findings listed (for one record, by label)."""
        if self.review is None:
            return set()
        return {f.kind.value for f in self.review.findings
                if record_label is None or f.label == record_label}

    def export(self, kind: str) -> Path | None:
        if self.review is None:
            return None
        target = type(self).ask_export_path(self, kind)
        if target is None:
            return None
        try:
            if kind == "csv":
                write_private(target, review_csv(self.review).encode("utf-8"))
            else:
                from tessera.sheets.review_report import write_review_pdf  # only when asked

                write_review_pdf(self.review, target, vault_name=self.context.vault_path.name)
        except Exception as exc:
            show_error(self, exc)
            return None
        self.status.setText(f"Wrote {target}")
        return target
