"""One custodian's row in the release window: who, with what, and where they stand."""

from __future__ import annotations

import enum

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QPushButton, QVBoxLayout

from tessera.custody.release import CustodianSlot
from tessera.gui.theme import Tone, set_tone
from tessera.tokens.base import TokenInfo


class RowState(enum.StrEnum):
    WAITING = "waiting"
    PIN = "pin"
    TOUCH = "touch"
    INSERT = "insert"
    WORKING = "working"
    APPROVED = "approved"
    FAILED = "failed"
    NOT_NEEDED = "not_needed"


_LOOK = {
    RowState.WAITING: ("waiting", Tone.NORMAL, False),
    RowState.PIN: ("enter the PIN…", Tone.ACCENT, True),
    RowState.TOUCH: ("touch your key", Tone.ACCENT, True),
    RowState.INSERT: ("plug in your key…", Tone.ACCENT, True),
    RowState.WORKING: ("checking…", Tone.ACCENT, False),
    RowState.APPROVED: ("✓ approved", Tone.GOOD, True),
    RowState.FAILED: ("✗", Tone.BAD, True),
    RowState.NOT_NEEDED: ("not needed", Tone.MUTED, False),
}


class CustodianRow(QFrame):
    """Name, tokens, state and the two ways to contribute (key or sheet)."""

    token_chosen = Signal(str, str)  # custodian id, token id
    paper_chosen = Signal(str)  # custodian id

    def __init__(self, slot: CustodianSlot, *, paper_allowed: bool) -> None:
        super().__init__()
        self.slot = slot
        self.paper_allowed = paper_allowed
        self.state = RowState.WAITING
        self.approvals = 0
        self.setObjectName(f"custodianRow-{slot.name}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"Custodian {slot.name}")
        outer = QHBoxLayout(self)
        who = QVBoxLayout()
        name = QLabel(slot.name)
        font = QFont(name.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        name.setFont(font)
        who.addWidget(name)
        tokens = ", ".join(f"{t.label} ({t.kind.display_name})" for t in slot.tokens)
        shares = len(slot.share_keys)
        detail = tokens or "no usable key — sheet only"
        if shares > 1:
            detail += f" · holds {shares} shares"
        self.detail = QLabel(detail)
        self.detail.setWordWrap(True)
        who.addWidget(self.detail)
        outer.addLayout(who, 3)
        self.state_label = QLabel()
        self.state_label.setObjectName("rowState")
        self.state_label.setWordWrap(True)
        self.state_label.setMinimumWidth(200)
        outer.addWidget(self.state_label, 3)
        self.key_button = QPushButton("Approve with key")
        self.key_button.setAccessibleName(f"Approve with {slot.name}'s key")
        self.key_button.setVisible(bool(slot.tokens))
        if len(slot.tokens) > 1:
            menu = QMenu(self.key_button)
            for token in slot.tokens:
                action = QAction(f"{token.label} ({token.kind.display_name})", menu)
                action.triggered.connect(lambda _c=False, t=token: self._choose(t))
                menu.addAction(action)
            self.key_button.setMenu(menu)
        elif slot.tokens:
            self.key_button.clicked.connect(lambda: self._choose(slot.tokens[0]))
        outer.addWidget(self.key_button)
        self.paper_button = QPushButton("Enter sheet words…")
        self.paper_button.setAccessibleName(f"Enter {slot.name}'s sheet words")
        self.paper_button.setVisible(paper_allowed)
        self.paper_button.clicked.connect(lambda: self.paper_chosen.emit(slot.custodian_id))
        outer.addWidget(self.paper_button)
        self.set_state(RowState.WAITING)

    def _choose(self, token: TokenInfo) -> None:
        self.token_chosen.emit(self.slot.custodian_id, token.id)

    @property
    def can_contribute(self) -> bool:
        return self.approvals < len(self.slot.share_keys) and self.state not in (
            RowState.NOT_NEEDED,)

    def set_state(self, state: RowState, reason: str = "") -> None:
        self.state = state
        text, tone, bold = _LOOK[state]
        if state is RowState.FAILED:
            text = f"✗ {reason}"
        elif state is RowState.APPROVED and len(self.slot.share_keys) > 1:
            text = f"✓ approved ({self.approvals} of {len(self.slot.share_keys)} shares)"
        elif state in (RowState.WAITING, RowState.NOT_NEEDED) and reason:
            text = reason
        self.state_label.setText(text)
        set_tone(self.state_label, tone, bold)
        self.state_label.setAccessibleName(f"{self.slot.name}: {text}")

    def approved(self) -> None:
        self.approvals += 1
        self.set_state(RowState.APPROVED)

    def set_enabled_actions(self, enabled: bool) -> None:
        allowed = enabled and self.can_contribute
        self.key_button.setEnabled(allowed)
        self.paper_button.setEnabled(allowed)
