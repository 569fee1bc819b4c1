"""The selected audit entry in full: what happened in words, every detail, and — one
click away — the technical record (action code, subject id, stored details, hashes)."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tessera.core.wording import action_title, describe, detail_lines
from tessera.gui.rows import short_time
from tessera.gui.widgets import heading, mono_font, muted
from tessera.vault import AuditEntry


def _value(text: str, mono: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                  | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    if mono:
        label.setFont(mono_font())
    return label


def _clear(form: QFormLayout) -> None:
    while form.rowCount():
        form.removeRow(0)


class AuditEntryDetail(QScrollArea):
    """Everything one audit entry says, readable first, technical on request."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Audit entry details")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 4, 0, 4)
        self.title = heading("", 2)
        self.summary = _value("")
        self.summary.setAccessibleName("What happened")
        self.empty = muted("Select an entry to read it in full.")
        self.form = QFormLayout()
        self.technical_button = QToolButton()
        self.technical_button.setText("Technical details")
        self.technical_button.setCheckable(True)
        self.technical_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.technical_button.setArrowType(Qt.ArrowType.RightArrow)
        self.technical_button.toggled.connect(self._show_technical)
        self.technical = QWidget()
        self.technical_form = QFormLayout(self.technical)
        self.technical_form.setContentsMargins(0, 0, 0, 0)
        self.technical.setVisible(False)
        for widget in (self.empty, self.title, self.summary):
            layout.addWidget(widget)
        layout.addLayout(self.form)
        layout.addWidget(self.technical_button)
        layout.addWidget(self.technical)
        layout.addStretch(1)
        self.setWidget(body)
        self.entry: AuditEntry | None = None
        self.show_entry(None)

    def _show_technical(self, shown: bool) -> None:
        self.technical.setVisible(shown)
        self.technical_button.setArrowType(Qt.ArrowType.DownArrow if shown
                                           else Qt.ArrowType.RightArrow)

    def show_entry(self, entry: AuditEntry | None) -> None:
        self.entry = entry
        for widget in (self.title, self.summary, self.technical_button):
            widget.setVisible(entry is not None)
        self.technical.setVisible(entry is not None and self.technical_button.isChecked())
        self.empty.setVisible(entry is None)
        _clear(self.form)
        _clear(self.technical_form)
        if entry is None:
            return
        self.title.setText(f"Entry {entry.seq}: {action_title(entry.action)}")
        self.summary.setText(describe(entry.actor, entry.action, entry.details))
        self.form.addRow("When:", _value(f"{short_time(entry.at)} (local) · {entry.at} UTC"))
        self.form.addRow("Who:", _value(entry.actor))
        lines = detail_lines(entry.details, entry.action)
        for line in lines:
            if line.technical:
                continue
            value = _value(line.text)
            value.setToolTip(f"{line.key}: {line.raw}")
            self.form.addRow(f"{line.title}:", value)
        tech = self.technical_form
        tech.addRow("Action code:", _value(entry.action, mono=True))
        tech.addRow("Subject id:", _value(entry.subject, mono=True))
        for line in lines:
            if line.technical:
                tech.addRow(f"{line.title}:", _value(line.raw, mono=True))
        tech.addRow("Stored details:", _value(json.dumps(dict(entry.details), sort_keys=True,
                                                          indent=1, ensure_ascii=False),
                                              mono=True))
        tech.addRow("Previous hash:", _value(entry.prev_hash, mono=True))
        tech.addRow("Hash:", _value(entry.hash, mono=True))
