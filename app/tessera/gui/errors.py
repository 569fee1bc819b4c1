"""The one place the GUI turns an exception into something a person reads.

Like ykman's ``main`` for the CLI: :class:`~tessera.core.errors.UserCancelled` is shown
to nobody, every other :class:`~tessera.core.errors.TesseraError` becomes a short
message box titled by what went wrong ("Wrong PIN", "Not allowed by policy"), and
anything unexpected opens a report dialog. The report names the exception type and
the call stack (file, line, function) only: no local variables and no exception
message, since either could hold a PIN, a word of a share or a secret.
"""

from __future__ import annotations

import logging
import sys
import traceback
from functools import partial
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tessera.core.errors import (
    DeviceRemoved,
    FormatError,
    InputError,
    IntegrityError,
    InvalidMnemonic,
    NotFound,
    PinBlocked,
    PinInvalid,
    PinRequired,
    PolicyError,
    QuorumNotMet,
    ShareMismatch,
    TesseraError,
    TokenError,
    TouchTimeout,
    UserCancelled,
    WrongToken,
)
from tessera.vault.errors import Conflict, NotAVault, Unsigned, VaultBusy, VaultTooNew

log = logging.getLogger(__name__)

MAX_CAUSES = 5  # a chain of causes is followed this far (chains can loop)

# Most specific first: the first class the error is an instance of names the box.
_TITLES: tuple[tuple[type[TesseraError], str], ...] = (
    (Unsigned, "Choose who is operating"),
    (PinInvalid, "Wrong PIN"),
    (PinBlocked, "PIN blocked"),
    (PinRequired, "PIN needed"),
    (TouchTimeout, "No touch detected"),
    (DeviceRemoved, "Key removed"),
    (WrongToken, "Wrong key"),
    (TokenError, "Token problem"),
    (ShareMismatch, "Share does not match"),
    (InvalidMnemonic, "Words not recognised"),
    (QuorumNotMet, "Quorum not met yet"),
    (PolicyError, "Not allowed by policy"),
    (NotFound, "Not found"),
    (Conflict, "Already exists"),
    (VaultBusy, "Vault busy"),
    (VaultTooNew, "Vault too new"),
    (NotAVault, "Not a vault"),
    (IntegrityError, "Data was changed"),
    (FormatError, "Unreadable data"),
    (InputError, "Please check your input"),
)


def title_for(exc: TesseraError) -> str:
    """The message box title for an expected error."""
    for kind, title in _TITLES:
        if isinstance(exc, kind):
            return title
    return "Could not finish"


# Where the GUI words an error itself (the custody layer's wording names a CLI option).
_GUI_WORDING: tuple[tuple[type[TesseraError], str], ...] = (
    (Unsigned, "This vault's changes are signed by the token of the person who makes them. "
               "Choose who is operating (Choose… in the status bar), then try again; "
               "nothing was changed."),
)


def message_for(exc: TesseraError) -> str:
    """The sentence shown to the person: the error's own wording, capitalised."""
    text = next((t for kind, t in _GUI_WORDING if isinstance(exc, kind)), "") \
        or str(exc).strip() or title_for(exc)
    text = text[0].upper() + text[1:]
    if not text.endswith((".", "!", "?", ")")):
        text += "."
    return text


def scrubbed_report(exc: BaseException, depth: int = 0) -> str:
    """Exception type and stack frames only: no message, no locals, no source values.

    A message or a local may hold secret material (a PIN being checked, a share being
    parsed), so neither is ever included; file, line and function name are enough to
    find the fault.
    """
    lines = [f"{type(exc).__module__}.{type(exc).__qualname__}", ""]
    for frame in traceback.extract_tb(exc.__traceback__):
        lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc and depth < MAX_CAUSES:
        lines += ["", "Caused by:", scrubbed_report(cause, depth + 1)]
    return "\n".join(lines)


class ErrorReportDialog(QDialog):
    """Shown for an exception nobody expected: an apology, and a copyable report."""

    def __init__(self, parent: QWidget | None, exc: BaseException) -> None:
        super().__init__(parent)
        self.setWindowTitle("Something went wrong")
        self.setAccessibleName("Error report")
        self.report = scrubbed_report(exc)
        layout = QVBoxLayout(self)
        heading = QLabel("<b>Tessera ran into a problem it did not expect.</b>")
        explain = QLabel("Nothing was written to the vault by the step that failed. The report "
                         "below holds no secret material (no messages, PINs or words), only "
                         "where in the program the problem happened; copy it into a bug report.")
        explain.setWordWrap(True)
        self.text = QPlainTextEdit(self.report)
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Error report text")
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setMinimumSize(560, 220)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("&Copy report")
        copy.clicked.connect(self.copy_report)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(heading)
        layout.addWidget(explain)
        layout.addWidget(self.text)
        layout.addWidget(buttons)

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report)

    @classmethod
    def ask(cls, parent: QWidget | None, exc: BaseException) -> None:
        """Show the report modally (tests replace this seam)."""
        dialog = cls(parent, exc)
        dialog.exec()
        dialog.deleteLater()


def show_message(parent: QWidget | None, title: str, text: str, *,
                 icon: QMessageBox.Icon = QMessageBox.Icon.Warning) -> None:
    """A warning box for an expected error (tests replace this seam)."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setAccessibleName(title)
    box.exec()
    box.deleteLater()


class ErrorPresenter:
    """Where :func:`show_error` sends its output; tests swap in a recorder."""

    message = staticmethod(show_message)
    report = staticmethod(ErrorReportDialog.ask)
    note = staticmethod(partial(show_message, icon=QMessageBox.Icon.Information))


def show_note(parent: QWidget | None, title: str, text: str) -> None:
    """A calm box: what happened when nothing went wrong (a change the person declined)."""
    ErrorPresenter.note(parent, title, text)


def show_error(parent: QWidget | None, exc: BaseException) -> None:
    """The GUI's one error handler (see module docstring)."""
    if isinstance(exc, UserCancelled):
        return
    if isinstance(exc, TesseraError):
        log.info("Shown to the user: %s", type(exc).__name__)
        ErrorPresenter.message(parent, title_for(exc), message_for(exc))
        return
    log.error("Unexpected %s", type(exc).__name__)
    ErrorPresenter.report(parent, exc)


def _excepthook(kind: type[BaseException], exc: BaseException,
                tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        QApplication.quit()
        return
    if exc.__traceback__ is None and tb is not None:
        exc = exc.with_traceback(tb)
    if QApplication.instance() is None:
        sys.__excepthook__(kind, exc, tb)
        return
    show_error(QApplication.activeWindow(), exc)


def install_excepthook() -> None:
    """Route exceptions raised in slots and callbacks to :func:`show_error`."""
    sys.excepthook = _excepthook
