"""The access review: who can hold each secret, when that was last proven, and findings.

One row per record with its custodians → keys → kinds beneath it, then every finding
flagged by severity (single points of loss, one person holding several shares,
software keys on hardware-only records, overdue drills or rotations, keys never
drilled, a custodian who owns the record, superseded sheets not destroyed). The
review is computed by :func:`tessera.custody.review.gather_review` on the context's
loader thread, with every cell of both lists (:mod:`tessera.gui.review_models`), and
shown by one reset of each list's model, so the review of thousands of records never
freezes the window. Up to ``EXPAND_UP_TO`` records are listed with their holders
opened out; a larger vault lists its records closed, and a record opened stays open
across a new review. CSV and PDF are the same report the CLI writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from tessera.core.private_file import write_private
from tessera.core.review import Review, review_csv
from tessera.custody.review import gather_review
from tessera.gui.context import AppContext
from tessera.gui.errors import show_error
from tessera.gui.review_models import (
    CELLS,
    FINDING_COLUMNS,
    HOLDERS,
    KIND,
    RECORD_COLUMNS,
    RECORD_ID,
    FindingsModel,
    RecordLine,
    RecordsModel,
    ReviewListing,
    list_review,
)
from tessera.gui.stale_pages import RefreshWhenShown
from tessera.gui.widgets import HeaderPress, heading, make_table, muted, text_widths
from tessera.vault import Vault

ROLE_ID = Qt.ItemDataRole.UserRole  # a record row's id
EXPAND_UP_TO = 200  # records whose holders are shown opened out; more start closed
SIZE_SAMPLE = 200  # records (with their holders) and findings a column is measured on


def _listing(shown: tuple[RecordLine, ...]) -> Callable[[Vault], ReviewListing]:
    """Every cell of the review's lists, compared with the records ``shown`` (runs on
    the loader thread)."""
    return lambda vault: list_review(gather_review(vault), shown)


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
    filled = Signal()  # the review read last is listed
    exported = Signal(Path)  # an export was written there

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setAccessibleName("Review page")
        self.listing: ReviewListing | None = None  # what the lists show
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
        self.records = QTreeView()
        self.records.setAccessibleName("Records and holders")
        self.records_model = RecordsModel(self.records.font(), self.records)
        self.records.setModel(self.records_model)
        self.records.setUniformRowHeights(True)
        HeaderPress.of(self.records.header())  # watching for the person's drags
        self.records.header().sectionResized.connect(
            lambda *_: self._user_sized(self.records.header()))
        self._opened: set[str] = set()  # records whose holders the user opened
        self._measured: object = None  # the cells the columns were last sized to
        self.records.expanded.connect(lambda index: self._opened.add(index.data(ROLE_ID)))
        self.records.collapsed.connect(lambda index: self._opened.discard(index.data(ROLE_ID)))
        # A table, not a tree: a tree lays out every one of 30,000 findings (a Python
        # call or two each) whenever they change; a table's rows are a fixed height.
        self.findings_model = FindingsModel()
        self.findings = make_table(self.findings_model, "Findings")
        self.findings_model.setParent(self.findings)
        self.findings.setSortingEnabled(False)  # listed most severe first
        HeaderPress.of(self.findings.horizontalHeader())
        self.findings.horizontalHeader().sectionResized.connect(
            lambda *_: self._user_sized(self.findings.horizontalHeader()))
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
        """Compute the review and its cells on the loader thread; then list them."""
        if self.listing is None:
            self.counts.setText("Reviewing the vault…")
        self.context.loader.load(self, _listing(self.records_model.lines), self._show_listing,
                                 lambda exc: show_error(self, exc))

    def show_review(self, review: Review) -> None:
        """List ``review`` (the loader lists the vault's own; tests show others)."""
        self._show_listing(list_review(review))

    def _show_listing(self, listing: ReviewListing) -> None:
        # The page keeps the cells, not the review (tens of thousands of findings, drill
        # dates and views at 5,000 records, which every later full garbage collection
        # would walk while the window waits); an export reads the review again.
        self.listing = listing._replace(base=None)  # not the records shown before
        self.counts.setText(listing.counts)
        # The records' cells are rewritten in place when the same records come back,
        # else both lists are reset; either way a view reads only the rows it paints.
        reset = self.records_model.show(listing)
        self.findings_model.show(listing.findings)
        # Without a reset (the same records) what was open and selected stays so.
        if reset and len(listing.records) <= EXPAND_UP_TO:
            self.records.expandAll()
            self._opened.clear()  # opened by the page, not by the user
        elif reset and self._opened:
            opened, self._opened = self._opened, set()
            for row, line in enumerate(listing.records):
                if line[RECORD_ID] in opened:
                    self.records.expand(self.records_model.index(row, 0))
        self._fit_columns(listing)
        self.filled.emit()

    @staticmethod
    def _user_sized(header: QHeaderView) -> None:
        """A section resized by a drag on the header (not by the view laying itself out
        or by this page fitting it) makes that list keep the user's widths."""
        if HeaderPress.of(header).down and not header.property("fitting"):
            header.setProperty("user_sized", True)

    def _fit_columns(self, listing: ReviewListing) -> None:
        """Size the columns to the first rows' text, measured here: Qt's own measure
        asks the model for every role of every sampled cell, a Python call each (90 ms
        at 5,000 records). A column the user has sized keeps its width."""
        records = listing.records[:SIZE_SAMPLE]
        holders = [cells for line in records for cells in line[HOLDERS]]
        bold = [line[CELLS] for line in records]
        findings = [line[CELLS] for line in listing.findings[:SIZE_SAMPLE]]
        # Measured again only when the measured cells changed: after most vault changes
        # they are the same, and measuring them cost 10-30 ms of GUI thread at 5,000.
        # (The widths are compared too: a view laying itself out may have changed them.)
        sample = (holders, bold, findings)
        if (sample, self._widths()) == self._measured:
            return
        self._fit(self.records, len(RECORD_COLUMNS), plain=holders, bold=bold)
        self._fit(self.findings, len(FINDING_COLUMNS) - 1,  # the details stretch
                  plain=findings)
        self._measured = (sample, self._widths())

    def _widths(self) -> tuple[tuple[int, ...], ...]:
        """The widths this page sets (the last column of each list stretches)."""
        return tuple(tuple(header.sectionSize(n) for n in range(header.count() - 1))
                     for header in (self.records.header(),
                                    self.findings.horizontalHeader()))

    def _fit(self, view: QTreeView | QTableView, columns: int, *,
             plain: Sequence[tuple[str, ...]],
             bold: Sequence[tuple[str, ...]] = ()) -> None:
        """Each of the first ``columns`` as wide as its widest sampled cell (``bold``:
        rows whose first cell is shown bold, the records) or its title."""
        header = view.header() if isinstance(view, QTreeView) else view.horizontalHeader()
        if header.property("user_sized"):
            return
        widths = text_widths(view, [[cells[n] for cells in (*plain, *bold)]
                                    for n in range(columns)])
        if bold:
            widths[0] = max(text_widths(view, [[cells[0] for cells in plain]])[0],
                            text_widths(view, [[cells[0] for cells in bold]],
                                        self.records_model.bold_font)[0])
        if isinstance(view, QTreeView):  # the records' arrow, the holders one step further
            widths[0] += 2 * view.indentation()
        header.setProperty("fitting", True)
        try:
            for n, width in enumerate(widths):
                header.resizeSection(n, max(width, header.sectionSizeHint(n)))
        finally:
            header.setProperty("fitting", False)

    def finding_kinds(self, record_label: str | None = None) -> set[str]:
        """The kinds of findings listed (for one record, by label)."""
        if self.listing is None:
            return set()
        return {line[KIND] for line in self.listing.findings
                if record_label is None or line[CELLS][2] == record_label}

    def export(self, kind: str) -> None:
        """Ask where, read the review again on the loader thread, then write it there
        (the PDF is drawn here: Qt's painting stays on the GUI thread)."""
        if self.listing is None:
            return
        target = type(self).ask_export_path(self, kind)
        if target is None:
            return
        self.status.setText("Reading the review to export…")
        self.context.loader.load(("export", self), gather_review,
                                 lambda review: self._write(review, kind, target),
                                 lambda exc: self._export_failed(exc))

    def _write(self, review: Review, kind: str, target: Path) -> None:
        try:
            if kind == "csv":
                write_private(target, review_csv(review).encode("utf-8"))
            else:
                from tessera.sheets.review_report import write_review_pdf  # only when asked

                write_review_pdf(review, target, vault_name=self.context.vault_path.name)
        except Exception as exc:
            self._export_failed(exc)
            return
        self.status.setText(f"Wrote {target}")
        self.exported.emit(target)

    def _export_failed(self, exc: BaseException) -> None:
        self.status.setText("The review was not exported.")
        show_error(self, exc)
