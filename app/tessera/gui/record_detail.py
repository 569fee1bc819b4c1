"""The detail pane beside the records table: one record's facts, holders and history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tessera.core.envelopes import EnvelopeKind, envelope_kind
from tessera.core.errors import TesseraError
from tessera.core.review import Finding, FindingKind, record_findings
from tessera.core.wording import field_value, share_label, version_text
from tessera.custody.lifecycle import sheets_to_destroy
from tessera.custody.review import record_view
from tessera.custody.sheet_backup import backup_status
from tessera.gui.loader import VaultLoader
from tessera.gui.rows import RecordRow, short_date, short_time
from tessera.gui.theme import Tone, set_tone, themed
from tessera.gui.widgets import fingerprint_label, fit_columns, heading, muted
from tessera.tokens.base import TokenState
from tessera.vault import RecordState, ReleaseState, Vault
from tessera.vault.sheet_registry import SheetRegistry

SETTLE_MS = 60  # the selection rests this long before the record's facts are read


@dataclass(frozen=True)
class HistoryItem:
    at: str
    what: str
    detail: str


def record_history(vault: Vault, record_id: str) -> list[HistoryItem]:
    """Versions, releases and drills of a record, newest first."""
    items: list[HistoryItem] = []
    for version in vault.list_versions(record_id):
        items.append(HistoryItem(version.created_at, f"Version {version.version} sealed",
                                 f"fingerprint {version.fingerprint}"))
    for release in vault.list_releases(record_id):
        reshare = release.purpose == "reshare"
        outcome = ({"open": "Reshare under way", "released": "Reshare approved",
                    "aborted": "Reshare stopped"} if reshare else
                   {"open": "Release under way", "released": "Secret released",
                    "aborted": "Release stopped"})[release.state.value]
        approvers = len(release.approvals)
        ticket = f", ticket {release.ticket}" if release.ticket else ""
        items.append(HistoryItem(release.requested_at, outcome,
                                 f"{release.reason}{ticket}; requested by "
                                 f"{release.requested_by}; {approvers} approval"
                                 f"{'s' if approvers != 1 else ''}"))
    names = {c.id: c.name for c in vault.list_custodians(include_retired=True)}
    for drill in vault.list_drills(record_id):
        who = names.get(drill.custodian_id, drill.custodian_id)
        items.append(HistoryItem(drill.at, "Drill passed" if drill.ok else "Drill FAILED",
                                 f"{who} ({field_value('method', drill.method.value)}), "
                                 f"version {drill.version}"))
    items.sort(key=lambda i: i.at, reverse=True)
    return items


def fit_tree_height(tree: QTreeWidget) -> None:
    """Make a short list exactly as tall as its rows (the pane scrolls, not the list)."""
    fit_columns(tree, scroll=False)  # every column within the pane's width
    model = tree.model()
    rows = sum(max(tree.sizeHintForIndex(model.index(row, column)).height()
                   for column in range(tree.columnCount()))
               for row in range(tree.topLevelItemCount()))  # a row of several lines too
    header = tree.header().sizeHint().height()
    tree.setFixedHeight(header + rows + 2 * tree.frameWidth() + 4)


class RecordDetail(QWidget):
    """Facts, custodians with their tokens, and history of the selected record."""

    release_requested = Signal(str)  # record id
    drill_requested = Signal(str)
    lifecycle_requested = Signal(str, str)  # action ("rotate", "reshare", …), record id

    def __init__(self, vault: Vault, parent: QWidget | None = None,
                 loader: VaultLoader | None = None) -> None:
        super().__init__(parent)
        self.vault = vault
        self.loader = loader
        self._facts_of: str | None = None  # whose holders, sheets and history are shown
        self._wanted: tuple[str, int] | None = None  # (record, version) to read facts of
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._read_facts)
        self.setAccessibleName("Record details")
        self.record_id: str | None = None
        self._pages = QStackedWidget()
        empty = muted("Select a record to see its custodians, tokens and history.")
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._pages.addWidget(empty)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        self.title = heading("")
        self.title.setWordWrap(True)
        self.state = QLabel()
        self.state.setAccessibleName("Record state")
        self.state.setWordWrap(True)
        layout.addWidget(self.title)
        layout.addWidget(self.state)
        # A quorum left open (a closed terminal, a crashed window) blocks every release,
        # reshare and revoke of the record until it is aborted.
        self.open_quorum = QLabel()
        self.open_quorum.setWordWrap(True)
        self.open_quorum.setAccessibleName("Open release")
        self.abort_button = QPushButton("&Abort open release…")
        self.abort_button.setToolTip("Abort a release left open, e.g. by a closed terminal; "
                                     "the abort is logged")
        self.abort_button.clicked.connect(lambda: self._lifecycle("abort"))
        layout.addWidget(self.open_quorum)
        layout.addWidget(self.abort_button)

        self.release_button = QPushButton("&Release…")
        themed(self.release_button, "release")
        self.release_button.setToolTip("Ask the custodians for a quorum release of this secret")
        self.drill_button = QPushButton("&Drill…")
        themed(self.drill_button, "drill")
        self.drill_button.setToolTip("A custodian proves their key still opens their share")
        self.release_button.clicked.connect(self._release_clicked)
        self.drill_button.clicked.connect(self._drill_clicked)
        self.lifecycle_buttons: dict[str, QPushButton] = {}
        for action, text, tip in (
                ("rotate", "R&otate…", "Seal a new secret for the same custodians (no quorum)"),
                ("reshare", "Re&share…", "A quorum makes a new share set: other custodians, "
                                         "threshold or groups"),
                ("revoke", "Re&voke custodian…", "Reshare without one custodian; the record "
                                                 "then requires rotation"),
                ("destroy", "Destroy &sheets…", "Record that old sheets were shredded"),
                ("policy", "&Policy…", "This record's policy overrides")):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.setAccessibleName(text.replace("&", "").rstrip("…"))
            button.clicked.connect(lambda _c=False, a=action: self._lifecycle(a))
            self.lifecycle_buttons[action] = button
        # Two to a row, so the pane stays narrow enough for the table beside it.
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        ordered = [self.release_button, self.drill_button, *self.lifecycle_buttons.values()]
        for i, button in enumerate(ordered):
            grid.addWidget(button, i // 2, i % 2)
        grid.setColumnStretch(2, 1)
        layout.addLayout(grid)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.fingerprint = fingerprint_label()
        self.quorum = QLabel()
        self.version = QLabel()
        self.nhi = QLabel()
        self.nhi.setWordWrap(True)
        self.created = QLabel()
        self.last_drill = QLabel()
        self.next_drill = QLabel()
        self.rotation = QLabel()
        for label, widget in (("Fingerprint", self.fingerprint), ("Quorum", self.quorum),
                              ("Version", self.version), ("Identity", self.nhi),
                              ("Created", self.created), ("Last drill", self.last_drill),
                              ("Next drill", self.next_drill),
                              ("Rotation due", self.rotation)):
            widget.setAccessibleName(label)
            form.addRow(f"{label}:", widget)
        layout.addLayout(form)

        layout.addWidget(heading("Custodians", 2))
        self.holders = QTreeWidget()
        self.holders.setAccessibleName("Custodians of this record")
        # Two columns, the second of several lines: the pane is ~300 px wide at 1366×768,
        # too narrow for a share, a token, a drill and an envelope side by side.
        self.holders.setHeaderLabels(["Custodian", "Share and token"])
        self.holders.setRootIsDecorated(False)
        self.holders.setAlternatingRowColors(True)  # where one holder's lines end
        self.holders.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.holders.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.holders)
        # The access review's "share envelopes not post-quantum" finding, per custodian.
        self.envelopes_note = QLabel()
        self.envelopes_note.setAccessibleName("Share envelopes not post-quantum")
        self.envelopes_note.setWordWrap(True)
        layout.addWidget(self.envelopes_note)

        layout.addWidget(heading("Sheets and envelopes", 2))
        self.sheets = QTreeWidget()
        self.sheets.setAccessibleName("Sheets of this record")
        self.sheets.setHeaderLabels(["Custodian", "Sheet and envelope"])  # lines, as above
        self.sheets.setRootIsDecorated(False)
        self.sheets.setAlternatingRowColors(True)
        self.sheets.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sheets.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.no_sheets = muted("No sheets printed for this version.")
        self.backups = QLabel("")
        self.backups.setAccessibleName("Sheets confirmed")
        self.backups.setWordWrap(True)
        layout.addWidget(self.sheets)
        layout.addWidget(self.no_sheets)
        layout.addWidget(self.backups)

        layout.addWidget(heading("History", 2))
        self.history = QTreeWidget()
        self.history.setAccessibleName("History of this record")
        self.history.setHeaderLabels(["When", "What", "Details"])
        self.history.setRootIsDecorated(False)
        self.history.setMinimumHeight(160)
        layout.addWidget(self.history, 1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        self._pages.addWidget(scroll)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._pages)

    def _release_clicked(self) -> None:
        if self.record_id is not None:
            self.release_requested.emit(self.record_id)

    def _lifecycle(self, action: str) -> None:
        if self.record_id is not None:
            self.lifecycle_requested.emit(action, self.record_id)

    def _drill_clicked(self) -> None:
        if self.record_id is not None:
            self.drill_requested.emit(self.record_id)

    def show_row(self, row: RecordRow | None) -> None:
        """Fill the pane from ``row`` (``None`` shows the hint)."""
        if row is None:
            self.record_id = None
            self._pages.setCurrentIndex(0)
            return
        record = row.record
        self.record_id = record.id
        self._pages.setCurrentIndex(1)
        self.title.setText(record.label)
        self.title.setAccessibleName(f"Record {record.label}")
        state = record.state.display
        if record.state in (RecordState.RELEASED, RecordState.ROTATION_REQUIRED,
                            RecordState.SUPERSEDED):
            state += f" since {short_time(record.state_since)}"
        if record.state_reason:
            state += f" — {record.state_reason}"
        if row.damaged:
            state = f"damaged: {row.damaged}"
        self.state.setText(state)
        tone = Tone.WARN if record.state in (RecordState.RELEASED,
                                             RecordState.ROTATION_REQUIRED) else Tone.NORMAL
        if row.damaged:
            tone = Tone.BAD
        set_tone(self.state, tone, bold=True)
        live = record.state in (RecordState.SEALED, RecordState.RELEASED,
                                RecordState.ROTATION_REQUIRED) and not row.damaged
        self.release_button.setEnabled(live)
        self.drill_button.setEnabled(live)
        for action, button in self.lifecycle_buttons.items():
            if action != "destroy":  # set once the outstanding sheets are read
                button.setEnabled(live or action == "policy")
        self.fingerprint.setText(row.fingerprint or "—")
        self.quorum.setText(f"{row.quorum_text} — {', '.join(row.custodians)}")
        self.version.setText(version_text(row.version))
        self.version.setToolTip(f"Version {row.version}, share set (epoch) {row.epoch}")
        self.nhi.setText("\n".join(f"{k.capitalize()}: {v}" for k, v in record.nhi.items())
                         or "—")
        self.created.setText(short_time(record.created_at))
        self.last_drill.setText(short_time(record.last_drill_at))
        self.next_drill.setText(("overdue since " if row.drill_overdue else "")
                                + short_date(row.next_drill))
        self.rotation.setText(row.rotation_text)
        # The rest reads the vault: on the loader thread, so selecting a record (or a
        # search moving the selection) never waits for it. Until it is in, the sheets
        # cannot be destroyed from here: what is outstanding is not known yet.
        self.lifecycle_buttons["destroy"].setEnabled(False)
        record_id, version = record.id, row.version
        if record_id != self._facts_of:
            self._clear_facts()  # never another record's holders under this one's title
        self._wanted = (record_id, version)
        if self.loader is None or self.loader.inline:
            self._read_facts()
        else:
            # Read once the selection rests: a search typed or arrow keys held move it
            # many times a second, and each read would share the interpreter with the
            # GUI thread filtering and painting meanwhile.
            self._settle.start()

    def _read_facts(self) -> None:
        if self._wanted is None or self._wanted[0] != self.record_id:
            return
        record_id, version = self._wanted
        if self.loader is None:
            self._show_facts(read_facts(self.vault, record_id, version))
        else:
            self.loader.load(self, lambda vault: read_facts(vault, record_id, version),
                             self._show_facts, urgent=True)

    def _clear_facts(self) -> None:
        self._facts_of = None
        for tree in (self.holders, self.sheets, self.history):
            tree.clear()
        for widget in (self.open_quorum, self.abort_button, self.envelopes_note):
            widget.setVisible(False)
        self.backups.setText("Reading…")
        set_tone(self.backups, Tone.NORMAL)

    def _show_facts(self, facts: DetailFacts) -> None:
        if facts.record_id != self.record_id:
            return  # another record was selected meanwhile
        self._facts_of = facts.record_id
        destroy = self.lifecycle_buttons["destroy"]
        destroy.setText(f"Destroy &sheets ({facts.old_sheets})…" if facts.old_sheets
                        else "Destroy &sheets…")
        destroy.setEnabled(bool(facts.old_sheets))
        self.open_quorum.setVisible(facts.open_quorum is not None)
        self.abort_button.setVisible(facts.open_quorum is not None)
        if facts.open_quorum is not None:
            self.open_quorum.setText(facts.open_quorum)
        self._fill_holders(facts)
        self._fill_sheets(facts)
        self._fill_history(facts.history)

    def _fill_holders(self, facts: DetailFacts) -> None:
        self.holders.clear()
        for cells, tip in facts.holders:
            item = _lines_item(cells)
            item.setToolTip(1, f"{cells[1]}\n{tip}")
            self.holders.addTopLevelItem(item)
        fit_tree_height(self.holders)
        found = facts.not_post_quantum
        if found is None:
            self.envelopes_note.setVisible(False)
            return
        self.envelopes_note.setText("\n".join(f"⚠ {f.kind.heading}: {f.text}" for f in found))
        set_tone(self.envelopes_note, Tone.WARN)
        self.envelopes_note.setVisible(bool(found))

    def _fill_sheets(self, facts: DetailFacts) -> None:
        self.sheets.clear()
        for cells in facts.sheets:
            self.sheets.addTopLevelItem(_lines_item(cells))
        self.sheets.setVisible(bool(facts.sheets))
        self.no_sheets.setVisible(not facts.sheets)
        if not facts.unconfirmed:
            self.backups.setText("✓ Every custodian confirmed their sheet.")
            set_tone(self.backups, Tone.NORMAL)
        else:
            self.backups.setText("⚠ Sheets not confirmed by " + ", ".join(facts.unconfirmed)
                                 + ": until they are, this version's paper backups are "
                                 "unproven.")
            set_tone(self.backups, Tone.WARN)
        fit_tree_height(self.sheets)

    def _fill_history(self, history: Sequence[HistoryItem]) -> None:
        self.history.clear()
        for item in history:
            self.history.addTopLevelItem(QTreeWidgetItem([short_time(item.at), item.what,
                                                          item.detail]))
        fit_columns(self.history, scroll=False)


def _lines_item(cells: Sequence[str]) -> QTreeWidgetItem:
    """A row whose cells may hold several lines, each cell's first line at the top."""
    item = QTreeWidgetItem(list(cells))
    for column in range(len(cells)):
        item.setTextAlignment(column, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    return item


@dataclass(frozen=True)
class DetailFacts:
    """What the pane shows of one record beyond its row: read on the loader thread."""

    record_id: str
    old_sheets: int  # sheets of older versions not yet destroyed
    open_quorum: str | None  # what is open, None when nothing is
    holders: tuple[tuple[tuple[str, ...], str], ...]  # ((custodian, share and token), tip)
    not_post_quantum: tuple[Finding, ...] | None  # None: the review could not say
    sheets: tuple[tuple[str, str], ...]  # (custodian, serial / envelope / state lines)
    unconfirmed: tuple[str, ...]  # custodians who have not confirmed their sheet
    history: tuple[HistoryItem, ...]


def read_facts(vault: Vault, record_id: str, version: int) -> DetailFacts:
    """Everything the pane reads of one record (the record's own row aside)."""
    old_sheets = len(sheets_to_destroy(vault, record_id))
    open_quorum = None
    open_ones = [r for r in vault.list_releases(record_id) if r.state is ReleaseState.OPEN]
    if open_ones:
        r = open_ones[0]
        owner = vault.release_owner(r.id)
        where = f" by {owner.describe()}" if owner else ""
        open_quorum = (f"A {r.purpose} requested by {r.requested_by} at "
                       f"{short_time(r.requested_at)} is open{where} ({len(r.approvals)} "
                       "approval(s) so far).")
    names = {c.id: c.name for c in vault.list_custodians(include_retired=True)}
    sheets = tuple((names.get(sheet.custodian_id, sheet.custodian_id),
                    "\n".join((sheet.serial, f"Envelope {sheet.envelope_no}" if sheet.envelope_no
                               else "Not in an envelope",
                               sheet.state.value.capitalize()
                               + (" · words confirmed" if sheet.confirmed_at else ""))))
                   for sheet in SheetRegistry(vault).sheets(record_id, version))
    status = backup_status(vault, record_id, version)
    return DetailFacts(record_id, old_sheets, open_quorum, _holders(vault, record_id),
                       _not_post_quantum(vault, record_id), sheets,
                       () if status.confirmed else tuple(status.unconfirmed_names()),
                       tuple(record_history(vault, record_id)))


def _holders(vault: Vault, record_id: str) -> tuple[tuple[tuple[str, ...], str], ...]:
    try:
        data = vault.get_version(record_id)
    except TesseraError:
        return ()
    tokens = vault.list_token_records(include_inactive=True)
    groups = len(data.manifest.groups)
    rows: list[tuple[tuple[str, ...], str]] = []
    for share in data.manifest.shares:
        # The envelope's current recipients: a re-wrap changes them, not the manifest.
        recipients = data.recipients_of(share.key)
        label = share_label(share.key, groups)
        lines = [f"{label[:1].upper()}{label[1:]} · {_envelope_text(recipients)} envelope"]
        mine = [t for t in tokens if t.info.named_in(recipients)]
        for token in mine:
            name = token.info.label
            if token.info.state is not TokenState.ACTIVE:
                name += f" ({token.info.state.value})"
            lines += [name, f"Last drill: {short_time(token.last_drill_at)}"]
        if not mine:
            lines.append("Key not enrolled here")
        rows.append(((share.custodian, "\n".join(lines)), f"Share id {share.key}"))
    return tuple(rows)


def _not_post_quantum(vault: Vault, record_id: str) -> tuple[Finding, ...] | None:
    """The review's findings of shares wrapped classically (it reads the whole vault's
    tokens and checks their attestations: one reason this pane reads off the GUI thread)."""
    try:
        view = record_view(vault, vault.get_record(record_id))
    except TesseraError:
        return None
    return tuple(f for f in record_findings(view, datetime.now(UTC))
                 if f.kind is FindingKind.NOT_POST_QUANTUM)


def _envelope_text(recipients: Sequence[str]) -> str:
    return ("post-quantum" if envelope_kind(recipients) is EnvelopeKind.HYBRID
            else "classical")
