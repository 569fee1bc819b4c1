"""Choosing who holds a share and how many must meet: one group, or two-level groups.

One group is "any K of these N custodians". With groups (SLIP-39's two levels) each
custodian belongs to one group, each group has its own "any K of its members", and
"any G of the groups" must be met — e.g. two of three teams, each by two of its
people. Every change runs :func:`tessera.core.policy.check_split`, so the person sees
at once why a plan is refused and what to think about. Used by the Create wizard and
by the reshare window (a new custodian set for an existing record).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tessera.core.errors import PolicyError
from tessera.core.policy import Policy, PolicyWarning, SplitPlan, check_split
from tessera.custody.create import token_kinds
from tessera.gui.context import AppContext
from tessera.gui.theme import Tone, set_tone
from tessera.tokens.base import TokenState

MAX_GROUPS = 16



def describe_plan(plan: SplitPlan, names: dict[str, str]) -> str:
    """"any 2 of 3" or "any 2 of 3 groups: group 1 any 2 of Alice, Bob; …"."""
    if len(plan.groups) == 1:
        threshold, members = plan.groups[0]
        return f"any {threshold} of {len(members)}"
    parts = [f"group {i} any {t} of {', '.join(names.get(m, m) for m in members)}"
             for i, (t, members) in enumerate(plan.groups, start=1)]
    return f"any {plan.group_threshold} of {len(plan.groups)} groups: " + "; ".join(parts)


class SplitEditor(QWidget):
    """Custodians picker, threshold, optional groups, and the live policy check."""

    changed = Signal()

    def __init__(self, context: AppContext, *, policy: Policy | None = None,
                 allow_software_choice: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.policy = policy if policy is not None else context.vault.policy
        self.record_allows_software = False
        self.names: dict[str, str] = {}
        self.people = QListWidget()
        self.people.setAccessibleName("Custodians")
        self.threshold = QSpinBox()
        self.threshold.setAccessibleName("Threshold")
        self.threshold.setRange(1, 16)
        self.threshold.setValue(max(2, self.policy.min_threshold))
        self.of_n = QLabel()
        self.use_groups = QCheckBox("Use &groups (two-level: any G of the groups, each by "
                                    "its own K of N)")
        self.use_groups.setAccessibleName("Use groups")
        self.group_count = QSpinBox()
        self.group_count.setAccessibleName("Number of groups")
        self.group_count.setRange(2, MAX_GROUPS)
        self.group_threshold = QSpinBox()
        self.group_threshold.setAccessibleName("Group threshold")
        self.group_threshold.setRange(1, MAX_GROUPS)
        self.group_threshold.setValue(2)
        self.members = QTableWidget(0, 2)
        self.members.setAccessibleName("Group of each custodian")
        self.members.setHorizontalHeaderLabels(["Custodian", "Group"])
        self.members.verticalHeader().setVisible(False)
        self.members.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.groups = QTableWidget(0, 3)
        self.groups.setAccessibleName("Groups")
        self.groups.setHorizontalHeaderLabels(["Group", "Members", "Any"])
        self.groups.verticalHeader().setVisible(False)
        self.groups.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.group_combos: dict[str, QComboBox] = {}
        self.group_spins: list[QSpinBox] = []
        self.allow_software = QCheckBox("Allow &software keys on this record")
        self.allow_software.setToolTip("A software key is stored on a computer, not in a "
                                       "hardware token; the audit log records this choice")
        self.allow_software.setVisible(allow_software_choice and self.policy.hardware_only
                                       and not context.demo)
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        self.feedback.setAccessibleName("Policy check")
        self.feedback.setTextFormat(Qt.TextFormat.PlainText)

        simple = QHBoxLayout()
        simple.addWidget(QLabel("Any"))
        simple.addWidget(self.threshold)
        simple.addWidget(self.of_n)
        simple.addStretch(1)
        self.simple_row = QWidget()
        self.simple_row.setLayout(simple)
        simple.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Groups:"))
        top.addWidget(self.group_count)
        top.addSpacing(12)
        top.addWidget(QLabel("any"))
        top.addWidget(self.group_threshold)
        self.groups_of = QLabel()
        top.addWidget(self.groups_of)
        top.addStretch(1)
        tables = QHBoxLayout()
        tables.setContentsMargins(0, 0, 0, 0)
        tables.addWidget(self.members, 2)
        tables.addWidget(self.groups, 3)
        self.group_panel = QWidget()
        panel = QVBoxLayout(self.group_panel)
        panel.setContentsMargins(0, 0, 0, 0)
        panel.addLayout(top)
        panel.addLayout(tables)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.people, 1)
        layout.addWidget(self.use_groups)
        layout.addWidget(self.simple_row)
        layout.addWidget(self.group_panel, 1)
        layout.addWidget(self.allow_software)
        layout.addWidget(self.feedback)
        self.group_panel.setVisible(False)
        self.problem: str | None = None
        self.warnings: list[PolicyWarning] = []
        self.people.itemChanged.connect(self._people_changed)
        self.threshold.valueChanged.connect(self.update_feedback)
        self.allow_software.toggled.connect(self.update_feedback)
        self.use_groups.toggled.connect(self._groups_toggled)
        self.group_count.valueChanged.connect(self._rebuild_groups)
        self.group_threshold.valueChanged.connect(self.update_feedback)

    # -- filling -------------------------------------------------------------------------
    def load(self, chosen: Sequence[str] = ()) -> None:
        """List every custodian (those without an active key cannot be chosen)."""
        self.people.blockSignals(True)
        self.people.clear()
        vault = self.context.vault
        for person in vault.list_custodians():
            self.names[person.id] = person.name
            tokens = [t for t in vault.list_tokens(person.id) if t.state is TokenState.ACTIVE]
            kinds = ", ".join(sorted({t.kind.display_name + (" (remote)" if t.remote else "")
                                      for t in tokens})) or "no key enrolled"
            item = QListWidgetItem(f"{person.name} — {kinds}")
            item.setData(Qt.ItemDataRole.UserRole, person.id)
            flags = Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable
            if tokens:
                flags |= Qt.ItemFlag.ItemIsEnabled
            else:
                item.setToolTip("Enrol a key for this custodian first")
            item.setFlags(flags)
            item.setCheckState(Qt.CheckState.Checked if person.id in chosen and tokens
                               else Qt.CheckState.Unchecked)
            self.people.addItem(item)
        self.people.blockSignals(False)
        self._people_changed()

    def set_plan(self, plan: SplitPlan) -> None:
        """Show an existing split (a reshare starts from the current one)."""
        ids = [m for _, members in plan.groups for m in members]
        self.load(ids)
        if len(plan.groups) == 1:
            self.threshold.setValue(plan.groups[0][0])
            return
        self.use_groups.setChecked(True)
        self.group_count.setValue(len(plan.groups))
        self.group_threshold.setValue(plan.group_threshold)
        for index, (threshold, members) in enumerate(plan.groups):
            for member in members:
                combo = self.group_combos.get(member)
                if combo is not None:
                    combo.setCurrentIndex(index)
            self.group_spins[index].setValue(threshold)
        self.update_feedback()

    def check(self, custodian_id: str, on: bool) -> None:
        for i in range(self.people.count()):
            item = self.people.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == custodian_id:
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    # -- reading -------------------------------------------------------------------------
    def chosen(self) -> list[str]:
        return [str(self.people.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.people.count())
                if self.people.item(i).checkState() == Qt.CheckState.Checked]

    def chosen_names(self) -> list[str]:
        return [self.names.get(c, c) for c in self.chosen()]

    def plan(self) -> SplitPlan:
        ids = self.chosen()
        if not self.use_groups.isChecked():
            return SplitPlan.simple(self.threshold.value(), ids)
        groups = []
        for index, spin in enumerate(self.group_spins):
            members = tuple(c for c in ids if self.group_of(c) == index)
            groups.append((spin.value(), members))
        return SplitPlan(self.group_threshold.value(), tuple(groups))

    def group_of(self, custodian_id: str) -> int:
        combo = self.group_combos.get(custodian_id)
        return combo.currentIndex() if combo is not None else 0

    def set_group(self, custodian_id: str, group: int) -> None:
        """Put a custodian in group ``group`` (0-based)."""
        self.group_combos[custodian_id].setCurrentIndex(group)

    def describe(self) -> str:
        return describe_plan(self.plan(), self.names)

    # -- behaviour -----------------------------------------------------------------------
    def _groups_toggled(self, on: bool) -> None:
        self.simple_row.setVisible(not on)
        self.group_panel.setVisible(on)
        self._rebuild_groups()

    def _people_changed(self, *_args: object) -> None:
        ids = self.chosen()
        keep = {c: self.group_of(c) for c in ids}
        self.group_combos = {}
        self.members.setRowCount(len(ids))
        for row, cid in enumerate(ids):
            name = QTableWidgetItem(self.names.get(cid, cid))
            name.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.members.setItem(row, 0, name)
            combo = QComboBox()
            combo.setAccessibleName(f"Group of {self.names.get(cid, cid)}")
            self.members.setCellWidget(row, 1, combo)
            self.group_combos[cid] = combo
            combo.currentIndexChanged.connect(self._members_changed)
        self._fill_combos(keep)
        self._members_changed()

    def _fill_combos(self, keep: dict[str, int]) -> None:
        count = self.group_count.value()
        for position, (cid, combo) in enumerate(self.group_combos.items()):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([f"Group {i + 1}" for i in range(count)])
            wanted = keep.get(cid, position % count)
            combo.setCurrentIndex(min(wanted, count - 1))
            combo.blockSignals(False)

    def _rebuild_groups(self, *_args: object) -> None:
        count = self.group_count.value()
        old = [s.value() for s in self.group_spins]
        self._fill_combos({c: self.group_of(c) for c in self.group_combos})
        self.group_spins = []
        self.groups.setRowCount(count)
        for index in range(count):
            item = QTableWidgetItem(f"Group {index + 1}")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.groups.setItem(index, 0, item)
            spin = QSpinBox()
            spin.setRange(1, 16)
            spin.setAccessibleName(f"Threshold of group {index + 1}")
            spin.setValue(old[index] if index < len(old) else 1)
            spin.valueChanged.connect(self.update_feedback)
            self.groups.setCellWidget(index, 2, spin)
            self.group_spins.append(spin)
        self.group_threshold.setMaximum(count)
        self._members_changed()

    def _members_changed(self, *_args: object) -> None:
        if self.use_groups.isChecked():
            ids = self.chosen()
            for index in range(len(self.group_spins)):
                members = [self.names.get(c, c) for c in ids if self.group_of(c) == index]
                item = QTableWidgetItem(", ".join(members) or "(nobody yet)")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.groups.setItem(index, 1, item)
        self.update_feedback()

    def update_feedback(self, *_args: object) -> None:
        ids = self.chosen()
        n = len(ids)
        self.of_n.setText(f"of {n} custodian{'s' if n != 1 else ''} can release the secret")
        self.groups_of.setText(f"of the {self.group_count.value()} groups must agree")
        self.problem = None
        self.warnings = []
        if n == 0:
            self.problem = "Choose the custodians who will hold a share."
        else:
            vault = self.context.vault
            try:
                self.warnings = check_split(
                    self.plan(), self.policy, demo=vault.is_demo,
                    token_kinds=token_kinds(vault, ids),
                    allow_software=self.allow_software.isChecked()
                    or self.record_allows_software)
            except PolicyError as exc:
                text = str(exc)
                self.problem = text[0].upper() + text[1:] + "."
        if self.problem is not None:
            self.feedback.setText(f"✗ {self.problem}")
            set_tone(self.feedback, Tone.BAD if n else Tone.MUTED)
        elif self.warnings:
            self.feedback.setText("\n".join(f"⚠ {w.text}" for w in self.warnings))
            set_tone(self.feedback, Tone.WARN)
        elif self.use_groups.isChecked():
            self.feedback.setText(f"✓ {self.describe().capitalize()}.")
            set_tone(self.feedback, Tone.GOOD)
        else:
            self.feedback.setText(f"✓ Any {self.threshold.value()} of these {n} custodians "
                                  "together can release this secret.")
            set_tone(self.feedback, Tone.GOOD)
        self.changed.emit()
