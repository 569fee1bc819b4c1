"""The vault policy, or one record's overrides of it.

For the vault every setting is edited directly. For a record each setting has an
"override" switch: off follows the vault (and shows its value), on sets the record's
own value. Each change goes through :mod:`tessera.custody.policy_ops`, so it is typed
and checked exactly like ``tessera policy set`` and audited by the vault.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tessera.core.policy import Policy
from tessera.custody.policy_ops import SETTINGS, set_record_setting, set_vault_setting
from tessera.gui.context import AppContext
from tessera.gui.errors import show_error
from tessera.gui.widgets import muted

LABELS = {
    "min_threshold": "Minimum threshold (K)",
    "hardware_only": "Hardware keys only",
    "allowed_kinds": "Allowed key kinds",
    "drill_days": "Drill every (days)",
    "rotation_days": "Rotate every (days)",
    "max_reveal_seconds": "Longest reveal (seconds)",
    "paper_in_release": "Paper sheets may approve",
    "envelopes": "Share envelopes",
}


@dataclass
class SettingRow:
    key: str
    editor: QWidget
    override: QCheckBox | None

    def text(self) -> str:
        if isinstance(self.editor, QCheckBox):
            return "yes" if self.editor.isChecked() else "no"
        if isinstance(self.editor, QSpinBox):
            return str(self.editor.value())
        if isinstance(self.editor, QLineEdit):
            return self.editor.text()
        if isinstance(self.editor, QComboBox):
            return str(self.editor.currentData())
        return ""

    def show(self, value: object) -> None:
        if isinstance(self.editor, QCheckBox):
            self.editor.setChecked(bool(value))
        elif isinstance(self.editor, QSpinBox):
            self.editor.setValue(int(value))  # type: ignore[call-overload]
        elif isinstance(self.editor, QComboBox):
            self.editor.setCurrentIndex(max(0, self.editor.findData(str(value))))
        elif isinstance(self.editor, QLineEdit):
            self.editor.setText(", ".join(value) if isinstance(value, list | tuple)
                                else str(value))


class PolicyDialog(QDialog):
    """Vault policy (``record_id`` None) or a record's overrides."""

    def __init__(self, context: AppContext, record_id: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        vault = context.vault
        self.record = vault.get_record(record_id) if record_id is not None else None
        self.setWindowTitle("Vault policy" if self.record is None
                           else f"Policy — {self.record.label}")
        self.setAccessibleName("Policy")
        layout = QVBoxLayout(self)
        layout.addWidget(muted(
            "Rules every record of this vault follows unless it overrides them."
            if self.record is None else
            "Tick “Override” to give this record its own value; the others follow the "
            "vault policy."))
        grid = QGridLayout()
        self.rows: dict[str, SettingRow] = {}
        base = vault.policy.to_json()
        overrides = dict(self.record.policy_overrides) if self.record is not None else {}
        for line, key in enumerate(SETTINGS):
            editor: QWidget
            if key in ("hardware_only", "paper_in_release"):
                editor = QCheckBox()
            elif key == "allowed_kinds":
                editor = QLineEdit()
            elif key == "envelopes":
                combo = QComboBox()
                combo.addItem("Post-quantum hybrid where every key allows", "hybrid")
                combo.addItem("Classical (X25519 / PIV P-256)", "classical")
                editor = combo
            else:
                spin = QSpinBox()
                spin.setRange(0, 100000)
                editor = spin
            editor.setAccessibleName(LABELS.get(key, key))
            caption = QLabel(LABELS.get(key, key) + ":")
            caption.setBuddy(editor)
            grid.addWidget(caption, line, 0)
            grid.addWidget(editor, line, 1)
            override = None
            if self.record is not None:
                override = QCheckBox("Override")
                override.setAccessibleName(f"Override {LABELS.get(key, key)}")
                override.setChecked(key in overrides)
                override.toggled.connect(lambda on, e=editor: e.setEnabled(on))
                editor.setEnabled(key in overrides)
                grid.addWidget(override, line, 2)
            row = SettingRow(key, editor, override)
            row.show(overrides.get(key, base[key]))
            self.rows[key] = row
        layout.addLayout(grid)
        self.status = muted("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.initial = {k: (r.text(), r.override.isChecked() if r.override else True)
                        for k, r in self.rows.items()}

    def save(self) -> None:
        if not self.context.ready_to_change(self):
            return
        vault, actor = self.context.vault, self.context.actor
        changed = 0
        try:
            for key, row in self.rows.items():
                now = (row.text(), row.override.isChecked() if row.override else True)
                if now == self.initial[key]:
                    continue
                if self.record is None:
                    set_vault_setting(vault, key, row.text(), actor)
                else:
                    set_record_setting(vault, self.record.id, key,
                                       row.text() if now[1] else None, actor)
                self.initial[key] = now
                changed += 1
        except Exception as exc:
            show_error(self, exc)
            return
        finally:
            if changed:
                self.context.notify_changed()
        self.accept()

    def effective(self) -> Policy:
        vault = self.context.vault
        return vault.policy if self.record is None else vault.record_policy(self.record.id)
