"""The audit page: the hash-chained log with filters, chain verification and export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QWidget,
)

from tessera.core.errors import InputError
from tessera.core.private_file import private_writer
from tessera.custody.log_check import check_vault
from tessera.gui.audit_detail import AuditEntryDetail
from tessera.gui.context import AppContext
from tessera.gui.errors import show_error
from tessera.gui.inventory_models import audit_model
from tessera.gui.pages import TablePage
from tessera.gui.table_model import RowTableModel
from tessera.gui.theme import Tone, set_tone, themed
from tessera.vault import AuditEntry, AuditVerdict, Vault

ACTION_GROUPS = (
    ("All actions", None),
    ("Custodians", "custodian."),
    ("Tokens", "token."),
    ("Records", "record."),
    ("Releases", "release."),
    ("Drills", "drill."),
    ("Sheets", "sheet."),
    ("Vault", "vault."),
)
PAGE = 2000  # entries the page lists at most (the newest that match the filters)
EXPORT_FILTERS = {"JSON lines, verifiable (*.jsonl)": "jsonl", "CSV for spreadsheets (*.csv)": "csv"}


def write_log(path: Path, vault: Vault, fmt: str) -> int:
    """Write the log to ``path`` as it is read (0600; a symbolic link there is replaced,
    and a failed export leaves no half file); the number of entries written."""
    with private_writer(path) as write:
        return vault.write_audit(lambda chunk: write(chunk.encode("utf-8")), fmt)


def full_check(vault: Vault) -> tuple[Any, AuditVerdict]:
    """What Verify chain shows: the signed log replayed and every audit entry recomputed
    (`audit verify --full`), held to what this computer verified before."""
    from tessera.vault.workstation_pins import WorkstationPins

    state = check_vault(vault, WorkstationPins(), full=True)
    return state, state.audit or vault.verify_audit()


def ask_export_path(parent: QWidget) -> tuple[Path, str] | None:
    """Where to export the log, and in which format (tests replace this seam)."""
    name, chosen = QFileDialog.getSaveFileName(parent, "Export audit log", "tessera-audit.jsonl",
                                               ";;".join(EXPORT_FILTERS))
    if not name:
        return None
    fmt = EXPORT_FILTERS.get(chosen, "csv" if name.lower().endswith(".csv") else "jsonl")
    return Path(name), fmt


class AuditPage(TablePage):
    """Who did what, when; every entry chained to the one before it."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        self.action_filter = QComboBox()
        self.actor_filter = QComboBox()
        super().__init__(context, "Audit",
                         "Every custody action, in order. Each entry carries the hash of the one "
                         "before it, so a changed or removed entry breaks the chain.",
                         audit_model(), lambda _vault: [], lambda e: str(e.seq), parent)
        self.action_filter.setAccessibleName("Show actions of kind")
        for text, prefix in ACTION_GROUPS:
            self.action_filter.addItem(text, prefix)
        self.actor_filter.setAccessibleName("Show actions by")
        self.actor_filter.addItem("Everyone", None)
        self.action_filter.currentIndexChanged.connect(self._filter)
        self.actor_filter.currentIndexChanged.connect(self._filter)
        self.filters.addWidget(self.action_filter)
        self.filters.addWidget(self.actor_filter)

        bar = QHBoxLayout()
        self.verify_button = QPushButton("&Verify chain")
        themed(self.verify_button, "verify")
        self.verify_button.setToolTip("Recompute every hash and name the first entry that "
                                      "does not fit")
        self.verify_button.clicked.connect(self.verify)
        self.export_button = QPushButton("E&xport…")
        themed(self.export_button, "export")
        self.export_button.setToolTip("Save the log as JSON lines (verifiable) or CSV")
        self.export_button.clicked.connect(self.export)
        self.verdict = QLabel("The chain has not been checked in this session.")
        self.verdict.setAccessibleName("Chain verification result")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addWidget(self.verify_button)
        bar.addWidget(self.export_button)
        bar.addWidget(self.verdict, 1)
        self.layout_.addLayout(bar)
        self.last_verdict: AuditVerdict | None = None
        self.last_state: Any = None
        self.working = False  # a verify or an export is reading the log
        self.detail = AuditEntryDetail()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("audit-splitter")
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([560, 440])  # proportions: the entry in full needs room too
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: self.detail.show_entry(self.selected_row()))
        self.finish_layout(splitter)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)

    def read_job(self) -> Callable[[Vault], tuple[list[AuditEntry], int]]:
        # The newest PAGE entries that pass the filters, chosen by SQL on the loader
        # thread: a log of a million entries is never read whole (search works within them).
        action, actor = self.action_filter.currentData(), self.actor_filter.currentData()

        def read(vault: Vault) -> tuple[list[AuditEntry], int]:
            return (vault.audit_entries(action=action, actor=actor, newest=PAGE),
                    vault.audit_head()[0])

        return read

    @staticmethod
    def prepare(model: RowTableModel[Any], rows: Any,
                order: tuple[int, Qt.SortOrder] | None = None) -> Any:
        entries, total = rows
        return model.prepare(entries, order), total

    def show_rows(self, rows: Any) -> None:
        entries, self.total = rows
        known = {self.actor_filter.itemData(i) for i in range(self.actor_filter.count())}
        for actor in sorted({e.actor for e in entries.rows}):
            if actor not in known:
                self.actor_filter.addItem(actor, actor)
        super().show_rows(entries)

    def _show_count(self, *_args: object) -> None:
        super()._show_count()
        total = getattr(self, "total", 0)
        if self.model.total() >= PAGE and total > PAGE:
            self.count.setText(f"{self.count.text()} — the newest {PAGE:,} matching entries "
                               f"of {total:,}; export the log to read all of it")

    def _filter(self) -> None:
        self.refresh()

    # Verifying and exporting read the whole log: seconds at a million entries, so both
    # run on the loader thread (its own connection) and the page says what it is doing.
    def _busy(self, text: str | None) -> None:
        """Show ``text`` while the log is being read for a verify or export (None: done)."""
        self.working = text is not None
        self.verify_button.setEnabled(not self.working)
        self.export_button.setEnabled(not self.working)
        if text is not None:
            set_tone(self.verdict, Tone.NORMAL)
            self.verdict.setText(text)

    def verify(self) -> AuditVerdict | None:
        """Check the signed log and recompute the whole chain, off the GUI thread; the
        verdict is shown when it is known (returned too, when known at once: a loader
        that reads inline)."""
        if self.working:
            return None
        self.last_verdict = None
        self._busy("Verifying: replaying the signed log and recomputing every entry of the "
                   "audit chain…")
        self.context.loader.load(("audit", "verify"), full_check, self._show_verdict,
                                 self._verify_failed)
        return self.last_verdict

    def _verify_failed(self, exc: BaseException) -> None:
        self._busy(None)
        self.verdict.setText("The chain could not be checked.")
        show_error(self, exc)

    def _show_verdict(self, checked: tuple[Any, AuditVerdict]) -> None:
        """Say the result; select the head, or the first bad entry."""
        from tessera.vault.genesis import describe_genesis

        self._busy(None)
        state, verdict = checked
        self.last_verdict = verdict
        self.last_state = state
        if verdict.ok and state is not None and not state.ok:
            text = f"✗ The vault does not match its signed log: {state.problem}"
            tone = Tone.BAD
        elif verdict.ok:
            # The head in full: it is what a printed transcript is compared against.
            text = (f"✓ Chain intact: {verdict.entries} entries. Head: entry "
                    f"{verdict.head_seq}, hash {verdict.head_hash}")
            text += "\n" + describe_genesis(
                state.genesis[1] if state is not None and state.genesis is not None else None)
            tone = Tone.GOOD
            self.select_where(lambda e: e.seq == verdict.head_seq)
        else:
            text = f"✗ Chain broken at entry {verdict.first_bad_seq}: {verdict.problem}"
            tone = Tone.BAD
            bad = verdict.first_bad_seq
            self.action_filter.setCurrentIndex(0)
            self.actor_filter.setCurrentIndex(0)
            self.search.clear()
            self.select_where(lambda e: e.seq == bad)
        set_tone(self.verdict, tone, bold=True)
        self.verdict.setText(text)

    def export(self) -> Path | None:
        """Ask where, then write the whole log there from the loader thread (streamed)."""
        if self.working:
            return None
        choice = ask_export_path(self)
        if choice is None:
            return None
        path, fmt = choice
        self._busy(f"Exporting the log to {path}…")

        def write(vault: Vault) -> int:
            return write_log(path, vault, fmt)

        self.context.loader.load(("audit", "export"), write,
                                 lambda entries: self._exported(path, entries),
                                 lambda exc: self._export_failed(path, exc))
        return path

    def _exported(self, path: Path, entries: int) -> None:
        self._busy(None)
        self.verdict.setText(f"Exported {entries} entries to {path}")

    def _export_failed(self, path: Path, exc: BaseException) -> None:
        self._busy(None)
        self.verdict.setText("The log was not exported.")
        if isinstance(exc, OSError):
            exc = InputError(f"could not write {path}: {exc.strerror or exc}")
        show_error(self, exc)
