"""The organisation printed on every sheet: its name, who to call, where the instructions are.

Set once per vault (``tessera vault organisation`` does the same on the command line);
the vault logs every change. Sheets printed afterwards carry it on every page.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from tessera.core.organisation import MAX_CONTACT, MAX_NAME, MAX_URL, Organisation
from tessera.gui.context import AppContext
from tessera.gui.errors import show_error
from tessera.gui.widgets import muted


class OrganisationDialog(QDialog):
    """Edit the vault's organisation name, contact and instructions URL."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("Organisation on the sheets")
        self.setObjectName("organisationDialog")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        layout.addWidget(muted(
            "Printed on every page of every recovery sheet, so whoever holds one years from "
            "now knows whose it is, who to call before opening it, and where the recovery "
            "instructions are. Sheets already printed keep what they say."))
        current = context.vault.organisation
        self.name = QLineEdit(current.name)
        self.name.setMaxLength(MAX_NAME)
        self.name.setPlaceholderText("e.g. Example Corp — Platform Security")
        self.name.setAccessibleName("Organisation name")
        self.contact = QLineEdit(current.contact)
        self.contact.setMaxLength(MAX_CONTACT)
        self.contact.setPlaceholderText("e.g. Security on-call +44 20 7946 0000, "
                                        "security@example.org")
        self.contact.setAccessibleName("Contact")
        self.url = QLineEdit(current.instructions_url)
        self.url.setMaxLength(MAX_URL)
        self.url.setPlaceholderText("https://wiki.example.org/break-glass")
        self.url.setAccessibleName("Instructions URL")
        form = QFormLayout()
        form.addRow("&Organisation:", self.name)
        form.addRow("&Contact:", self.contact)
        form.addRow("&Instructions URL:", self.url)
        layout.addLayout(form)
        self.status = muted("")
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.name.setFocus()

    def save(self) -> Organisation | None:
        """Check and store; a bad field is named and nothing is changed."""
        if not self.context.ready_to_change(self):
            return None
        try:
            wanted = Organisation.checked(self.name.text(), self.contact.text(),
                                          self.url.text())
            saved = self.context.vault.set_organisation(wanted, self.context.actor)
        except Exception as exc:
            show_error(self, exc)
            return None
        self.context.notify_changed()
        self.accept()
        return saved
