"""Rotate: a new secret becomes the record's next version, without a quorum.

Rotation is how a used or exposed credential is closed: the operator changes the
credential at the system it unlocks, then seals the new one here for the record's
current custodians (new data key, new share set, new epoch). The old version becomes
*superseded* and its sheets are listed for destruction. The secret page is the
Create wizard's (typed masked, from a file, or generated).
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from tessera.core.errors import TesseraError
from tessera.core.memory import wipe
from tessera.custody.lifecycle import NewVersion
from tessera.custody.rotate import rotate_record
from tessera.gui.context import AppContext
from tessera.gui.create_wizard import SecretPage
from tessera.gui.errors import show_error
from tessera.gui.reshare_window import NewVersionPage
from tessera.vault import RecordState


class ReasonPage(QWizardPage):
    def __init__(self, context: AppContext, record_id: str) -> None:
        super().__init__()
        record = context.vault.get_record(record_id)
        self.setTitle(f"Rotate {record.label}")
        self.setSubTitle("First change the credential at the system it unlocks; then seal "
                         "the new one here. No quorum is needed: nobody opens the old "
                         "version, which becomes superseded.")
        layout = QFormLayout(self)
        state = record.state.display + (f" — {record.state_reason}" if record.state_reason
                                        else "")
        self.state = QLabel(state)
        self.state.setWordWrap(True)
        layout.addRow("Now:", self.state)
        self.reason = QLineEdit()
        self.reason.setAccessibleName("Reason")
        self.reason.setPlaceholderText("e.g. used in INC-1042; yearly rotation")
        default = {RecordState.RELEASED: "released — rotation due",
                   RecordState.ROTATION_REQUIRED: "custodian revoked"}.get(record.state, "")
        self.reason.setText(default)
        layout.addRow("&Reason:", self.reason)
        self.reason.textChanged.connect(lambda _t: self.completeChanged.emit())

    def isComplete(self) -> bool:
        return bool(self.reason.text().strip())


class RotateSecretPage(SecretPage):
    def __init__(self, wizard: RotateWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("The new secret")
        self.setSubTitle("The replacement credential. It is sealed at once for the current "
                         "custodians and never stored in clear.")

    def validatePage(self) -> bool:
        return self.wiz.rotate()


class DonePage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Rotated")
        self.layout_ = QVBoxLayout(self)
        self.result: NewVersionPage | None = None


class RotateWizard(QWizard):
    """Rotate the record ``record_id``."""

    def __init__(self, context: AppContext, record_id: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.record_id = context.vault.get_record(record_id).id
        self.setObjectName("rotateWizard")
        self.setWindowTitle("Rotate the secret")
        self.setAccessibleName("Rotate wizard")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.outcome: NewVersion | None = None
        self.words: dict[str, str] = {}
        self.reason_page = ReasonPage(context, self.record_id)
        self.secret_page = RotateSecretPage(self)
        self.secret_page.setCommitPage(True)
        self.secret_page.setButtonText(QWizard.WizardButton.CommitButton, "&Seal new version")
        self.done_page = DonePage()
        for page in (self.reason_page, self.secret_page, self.done_page):
            self.addPage(page)
        self.resize(720, 620)

    def _keep(self, words: Mapping[str, str]) -> None:
        self.words = dict(words)

    def rotate(self) -> bool:
        if not self.context.ready_to_change(self):
            return False
        try:
            secret, encoding = self.secret_page.take_secret()
        except TesseraError as exc:
            show_error(self, exc)
            return False
        try:
            self.outcome = rotate_record(
                self.context.vault, self.record_id, secret, actor=self.context.actor,
                reason=self.reason_page.reason.text().strip(), encoding=encoding,
                on_mnemonics=self._keep)
        except Exception as exc:
            show_error(self, exc)
            return False
        finally:
            wipe(secret)
        self.done_page.result = NewVersionPage(self.context, self.outcome, self.words)
        scroll = QScrollArea()  # new fingerprint, sheets, confirmations: more than fits
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.done_page.result)
        self.done_page.layout_.addWidget(scroll)
        self.context.notify_changed()
        return True

    def forget_words(self) -> None:
        self.words.clear()
        if self.done_page.result is not None:
            self.done_page.result.handoff.forget_words()

    def done(self, result: int) -> None:
        page = self.done_page.result
        if page is not None and not page.handoff.confirm_leave(self):
            return  # the words stay until they are on paper or knowingly discarded
        self.forget_words()
        super().done(result)
