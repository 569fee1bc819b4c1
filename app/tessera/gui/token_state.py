"""Retiring a token or reporting it lost, with what that means for the shares it opens.

A token whose recipient is still in a current envelope keeps opening that share after
it is retired (its stanza is still there), and a lost one may open it for whoever
found it. So before the change the person is told which records still wrap a share
to this key, and what to do: re-wrap the share to another key (the custodian, no
quorum) — or, for a lost key, reshare or revoke so the found key opens nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from tessera.core.wording import counted, listed
from tessera.gui.theme import Tone, set_tone
from tessera.tokens.base import TokenInfo, TokenState
from tessera.vault import Record, Vault


@dataclass(frozen=True)
class StateChange:
    """What the person chose: the new state and the reason for the audit log."""

    state: TokenState
    reason: str


def exposure_text(token: TokenInfo, state: TokenState, records: list[Record]) -> str:
    """The warning shown before the change (plain text)."""
    verb = "retire" if state is TokenState.RETIRED else "report lost"
    if not records:
        return (f"{token.label} opens no share of any current record. You may {verb} it "
                "safely.")
    # Ten labels at most: a key of thousands of records must not push the advice below
    # out of the dialog.
    labels = listed([r.label for r in records])
    which = counted(len(records), "record")
    text = (f"{token.label} still opens {token.custodian_name}'s share of {which}: {labels}. "
            "Its stanza stays in those envelopes until the share is re-wrapped. ")
    if state is TokenState.LOST:
        text += ("Whoever finds the key and knows its PIN can open that share; re-wrap it "
                 "from the custodian's sheet to their other key, and consider a reshare or "
                 "revoking — a lost key can never become active again.")
    else:
        text += ("Before retiring, re-wrap the share to the custodian's new key (Re-wrap my "
                 "share), or it can only be released with their sheet.")
    return text


class TokenStateDialog(QDialog):
    """Confirm retiring a key / reporting it lost; a reason is required."""

    def __init__(self, vault: Vault, token: TokenInfo, state: TokenState,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        title = "Retire key" if state is TokenState.RETIRED else "Report key lost"
        self.setWindowTitle(f"{title} — {token.label}")
        self.setMinimumWidth(520)
        self.records = vault.records_of_recipient(token)
        layout = QVBoxLayout(self)
        self.warning = QLabel(exposure_text(token, state, self.records))
        self.warning.setWordWrap(True)
        self.warning.setAccessibleName("What this means")
        if self.records:
            set_tone(self.warning, Tone.WARN, bold=True)
        layout.addWidget(self.warning)
        caption = QLabel("&Reason (recorded in the audit log):")
        self.reason = QLineEdit()
        self.reason.setAccessibleName("Reason")
        self.reason.setPlaceholderText("e.g. replaced by a new YubiKey; left on a train")
        caption.setBuddy(self.reason)
        layout.addWidget(caption)
        layout.addWidget(self.reason)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton(title, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.reason.textChanged.connect(
            lambda text: self.ok.setEnabled(bool(text.strip())))
        self.ok.setEnabled(False)

    def change(self) -> StateChange:
        return StateChange(self.state, self.reason.text().strip())

    @classmethod
    def ask(cls, parent: QWidget | None, vault: Vault, token: TokenInfo,
            state: TokenState) -> StateChange | None:
        """Modal question (tests replace this seam)."""
        dialog = cls(vault, token, state, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.change()
