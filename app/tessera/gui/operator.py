"""Who is operating: the custodian whose token signs this session's changes (#9 item 2).

After a vault's genesis every write is a statement signed by a token (FORMAT §7.1).
In the desktop app the person at the keyboard chooses once per session whose token
that is ("Operating as: Alice (Alice's security key)"); it is remembered for the
session only, and can be changed at any time. :class:`OperatorSession` puts an
:class:`OperatorSigner` on the vault, so every write — a wizard's, a dialog's, a
ceremony's on the token worker — is signed by that token when it commits.

The device call always runs on the token worker with the same
:class:`~tessera.gui.prompts.GuiPrompts` as a release (PIN dialog, "Touch your key",
"Insert Alice's key"). A write made on the token worker (an enrolment, a release
step) signs inside its own job. A write made on the GUI thread (saving the policy,
sealing a record) hands the signature to the worker and waits for it in a local event
loop, as a modal dialog does; meanwhile an input guard lets through only the key
prompts and the virtual keys' Touch panel, so nothing else can write into the open
transaction. Cancel, a wrong PIN given up on, or a key pulled out end the write with
nothing changed: the signature is part of the transaction's commit.

Nobody operates at first in a real signed vault: once the main window is shown the
dialog offers the choice, and "Only look" keeps the session read-only (the status bar
says so and offers the choice again). Whatever starts a change first calls
:meth:`~tessera.gui.context.AppContext.ready_to_change`, so a change made by nobody
asks who is operating right then and carries on after the choice; declining it leaves
the vault, and what was typed, as they were.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QThread, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tessera.core.errors import PinInvalid, TesseraError, UserCancelled
from tessera.custody.demo_facts import DEMO_PIN
from tessera.custody.key_wait import run_with_key
from tessera.gui.theme import Tone, set_tone
from tessera.gui.typed_text import rich
from tessera.tokens.base import Prompts, TokenInfo, TokenKind, TokenState

if TYPE_CHECKING:
    from tessera.gui.context import AppContext
    from tessera.vault import Vault


class KeyOperationBusy(TesseraError):
    """A signature is needed while another key operation holds the token worker."""

    def __init__(self) -> None:
        super().__init__("another key operation is under way: finish or cancel it, then try "
                         "again; nothing was changed")


def operator_tokens(vault: Vault) -> list[TokenInfo]:
    """Tokens that may sign as the operator: active, held (not remote), of an active
    custodian, hardware outside demo vaults, and trusted by the signed log."""
    state = vault.verified_state
    trusted = state.trusted if state is not None and state.genesis is not None else None
    found = []
    for person in vault.list_custodians():
        if person.state.value != "active":
            continue
        for token in vault.list_tokens(person.id):
            if token.state is not TokenState.ACTIVE or token.remote:
                continue
            if token.kind is TokenKind.SOFTWARE and not vault.is_demo:
                continue
            if trusted is not None and token.id not in trusted:
                continue
            found.append(token)
    return found


def operator_text(token: TokenInfo | None) -> str:
    if token is None:
        return "nobody"
    return f"{token.custodian_name} ({token.label})"


class Purposed:
    """A job's prompts naming why a key is asked ("signing this change as the operator");
    in a demo vault the virtual keys' PIN is given for the person."""

    def __init__(self, prompts: Any, why: str, *, demo_pin: bool = False) -> None:
        self._prompts = prompts
        self._why = why
        self._demo_pin = demo_pin
        self._answered: set[str] = set()

    def _named(self, token: str, *, clause: bool = False) -> str:
        if not self._why:
            return token
        return f"{token}, {self._why}," if clause else f"{token} — {self._why}"

    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        if self._demo_pin and token not in self._answered:
            # Demo vaults stay easy (#9 item 6): the virtual keys' PIN is printed on the
            # banner, and signing keys are only touched. Once per key: a wrong PIN asks.
            self._answered.add(token)
            return DEMO_PIN
        answer: str | None = self._prompts.request_pin(self._named(token), attempts_left)
        return answer

    def touch_needed(self, token: str) -> None:
        self._prompts.touch_needed(self._named(token, clause=True))  # "…, is waiting"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._prompts, name)


# Input the guard lets through while a GUI-thread write waits for its signature.
_INPUT = frozenset({
    QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease,
    QEvent.Type.MouseButtonDblClick, QEvent.Type.KeyPress, QEvent.Type.KeyRelease,
    QEvent.Type.Shortcut, QEvent.Type.ShortcutOverride, QEvent.Type.Wheel, QEvent.Type.Close,
})
_PROMPT_WINDOWS = frozenset({"pinDialog", "newPinDialog", "touchPrompt", "insertKeyPrompt",
                             "tokenNotice"})


class _OnlyKeysAndPrompts(QObject):
    """Swallows input everywhere except the key prompts and the virtual keys panel."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() not in _INPUT or not isinstance(watched, QWidget):
            return False
        window = watched.window()
        if window.objectName() in _PROMPT_WINDOWS:
            return False
        widget: QWidget | None = watched
        while widget is not None:
            if widget.objectName() in ("virtual-keys-dock", "virtual-keys-panel"):
                return False
            widget = widget.parentWidget()
        return True


class OperatorSigner:
    """The session operator's token as a :class:`~tessera.vault.statements.StatementSigner`."""

    def __init__(self, context: AppContext, token: TokenInfo,
                 why: str = "signing this change as the operator") -> None:
        self.context = context
        self.token = token
        self.token_id = token.id
        self.why = why

    def sign(self, challenge: bytes) -> Mapping[str, Any]:
        worker = self.context.worker
        app = QApplication.instance()
        on_gui = app is not None and QThread.currentThread() is app.thread()
        job = worker.current
        if not on_gui and job is not None:
            return self._sign(job.prompts, job.event, challenge)
        if not on_gui:
            raise RuntimeError("a statement is signed on the token worker or the GUI thread")
        return self._sign_on_worker(challenge)

    def _sign(self, prompts: Prompts, cancel: threading.Event,
              challenge: bytes) -> Mapping[str, Any]:
        """On the token worker: ask for the key (insert, PIN, touch) and sign."""
        from tessera.custody.signing import TokenSigner  # loads the drivers' verifiers

        asked = Purposed(prompts, self.why, demo_pin=self.context.demo)
        signer = TokenSigner(self.context.drivers, self.token, asked, cancel)
        while True:
            try:
                return run_with_key(self.context.drivers, self.token, asked, cancel,
                                    lambda: signer.sign(challenge))
            except PinInvalid as exc:
                # A wrong PIN changed nothing: the same PIN dialog comes back, saying so.
                again = getattr(prompts, "pin_was_wrong", None)
                if cancel.is_set() or again is None or exc.attempts_left == 0:
                    raise
                again(exc.attempts_left)

    def _sign_on_worker(self, challenge: bytes) -> Mapping[str, Any]:
        """On the GUI thread: the worker signs while a local event loop waits."""
        worker = self.context.worker
        if worker.busy:
            # The running job may be waiting for the vault this transaction holds.
            raise KeyOperationBusy()
        outcome: dict[str, Any] = {}
        loop = QEventLoop()

        def finished(done: object) -> None:
            if done is job:
                loop.quit()

        parent = QApplication.activeWindow()
        if parent is not None and not parent.isVisible():
            parent = None  # a window on its way out would drop the result
        job = worker.submit(lambda prompts, cancel: self._sign(prompts, cancel, challenge),
                            on_success=lambda value: outcome.__setitem__("value", value),
                            on_failure=lambda exc: outcome.__setitem__("error", exc),
                            parent=parent, title=f"Signing with {self.token.label}")
        worker.job_finished.connect(finished)
        guard = _OnlyKeysAndPrompts()
        app = QApplication.instance()
        if app is None:
            raise RuntimeError("no QApplication")
        app.installEventFilter(guard)
        try:
            loop.exec()  # the result is delivered by a queued signal, never before this
        finally:
            app.removeEventFilter(guard)
            worker.job_finished.disconnect(finished)
        if "error" in outcome:
            raise outcome["error"]
        if "value" not in outcome:
            raise UserCancelled()
        value: Mapping[str, Any] = outcome["value"]
        return value


class OperatorSession(QObject):
    """The operator chosen for this session, and the signer it puts on the vault."""

    changed = Signal()
    DECLINED = ("Nobody was chosen to operate, so nothing was changed; what you entered is "
                "still there. Changes to this vault are signed by the token of the person "
                "who makes them: choose who is operating to make this one.")

    def __init__(self, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.token: TokenInfo | None = None
        context.operator = self  # every change asks it first (AppContext.ready_to_change)

    @property
    def signed_vault(self) -> bool:
        return self.context.vault.genesis_fingerprint() is not None

    def choose(self, token: TokenInfo | None) -> None:
        """Operate as ``token`` from now on (``None``: nobody; writes are refused)."""
        self.token = token
        vault = self.context.vault
        if token is None:
            vault.sign_session_with()
        else:
            vault.sign_session_with(OperatorSigner(self.context, token))
            self.context.actor = token.custodian_name  # who signed, not free text
        self.changed.emit()

    def ensure(self, parent: QWidget | None) -> bool:
        """Before a change: ``True`` once someone operates (or the vault is not signed
        yet, so nobody signs); else ask, and ``False`` when the person chose nobody."""
        if self.token is not None or not self.signed_vault:
            return True
        chosen = OperatorDialog.ask(parent, self.context.vault, None, changing=True)
        if chosen is None:
            from tessera.gui.errors import show_note

            show_note(parent, "Nothing was changed", self.DECLINED)
            return False
        self.choose(chosen)
        return True

    def choose_default(self) -> None:
        """A demo vault operates as its first custodian's key at once (no extra step)."""
        if self.token is None and self.context.demo and self.signed_vault:
            tokens = operator_tokens(self.context.vault)
            if tokens:
                self.choose(tokens[0])

    def refresh(self) -> None:
        """Drop an operator whose token can no longer sign (retired, lost)."""
        if self.token is None:
            return
        if all(t.id != self.token.id for t in operator_tokens(self.context.vault)):
            self.choose(None)



class OperatorDialog(QDialog):
    """Choose whose token signs this session's changes."""

    TITLE = "Who is operating?"
    OK_TEXT = "&Operate as this custodian"
    INTRO = ("Every change to this vault is signed by the token of the person who makes it. "
             "Choose yours: Tessera asks for its PIN and a touch at each change, and "
             "remembers the choice until Tessera closes.")

    CHANGE_INTRO = "Your change waits for this choice, and is made as soon as you choose."
    LOOK_TEXT = "Only &look (read-only)"
    LOOK_INTRO = ("You can also only look: nothing can be changed then, and a change asks "
                  "this again.")

    def __init__(self, vault: Vault, current: TokenInfo | None,
                 parent: QWidget | None = None, *, looking: bool = False,
                 changing: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.TITLE)
        self.setObjectName("operatorDialog")
        layout = QVBoxLayout(self)
        extra = self.LOOK_INTRO if looking else self.CHANGE_INTRO if changing else ""
        intro = QLabel(f"{self.INTRO}\n\n{extra}" if extra else self.INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.tokens = QListWidget()
        self.tokens.setAccessibleName("Tokens that can sign")
        for token in operator_tokens(vault):
            item = QListWidgetItem(operator_text(token))
            item.setData(Qt.ItemDataRole.UserRole, token)
            self.tokens.addItem(item)
            if current is not None and token.id == current.id:
                self.tokens.setCurrentItem(item)
        if self.tokens.currentItem() is None and self.tokens.count():
            self.tokens.setCurrentRow(0)
        if self.tokens.count():  # as tall as its custodians (a few), not a blank box
            rows = min(self.tokens.count(), 8)
            self.tokens.setFixedHeight(self.tokens.sizeHintForRow(0) * rows
                                       + 2 * self.tokens.frameWidth() + 4)
        layout.addWidget(self.tokens)
        if not self.tokens.count():
            empty = QLabel("No enrolled token can sign: enrol a custodian with a hardware key "
                           "first.")
            empty.setWordWrap(True)
            layout.addWidget(empty)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.OK_TEXT)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.tokens.count()))
        if looking:
            buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.LOOK_TEXT)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.tokens.itemDoubleClicked.connect(lambda _item: self.accept())
        layout.addWidget(buttons)

    def chosen(self) -> TokenInfo | None:
        item = self.tokens.currentItem()
        token: TokenInfo | None = None if item is None else item.data(Qt.ItemDataRole.UserRole)
        return token

    @classmethod
    def ask(cls, parent: QWidget | None, vault: Vault, current: TokenInfo | None, *,
            changing: bool = False) -> TokenInfo | None:
        """The token chosen, or ``None`` when cancelled (tests replace this seam);
        ``changing``: a change is waiting for the answer."""
        dialog = cls(vault, current, parent, changing=changing)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.chosen()
        finally:
            dialog.deleteLater()


class AcceptSignerDialog(OperatorDialog):
    """Whose token signs the acceptance of a vault this computer did not expect."""

    TITLE = "Who accepts this vault?"
    OK_TEXT = "&Accept, signed by this custodian"
    INTRO = ("This vault's changes are signed by its custodians' tokens, and accepting it "
             "is written to its audit log. Choose the custodian of this vault who accepts "
             "it: Tessera asks for their key's PIN and a touch.")


class OperatorControl(QWidget):
    """The status bar's "Operating as: …" and the vault's genesis, or its adopt offer."""

    def __init__(self, context: AppContext, session: OperatorSession,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.session = session
        self.offered: OperatorDialog | None = None  # the question asked on opening
        self.setObjectName("operatorControl")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 6, 0)
        self.genesis = QLabel()
        self.genesis.setObjectName("genesisLabel")
        self.genesis.setAccessibleName("Vault genesis")
        self.genesis.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label = QLabel()
        self.label.setObjectName("operatorLabel")
        self.label.setAccessibleName("Operating as")
        self.button = QPushButton()
        self.button.setObjectName("operatorButton")
        self.button.clicked.connect(self.act)
        row.addWidget(self.genesis)
        row.addWidget(self.label)
        row.addWidget(self.button)
        session.changed.connect(self.refresh)
        context.vault_changed.connect(self._vault_changed)
        self.refresh()

    def _vault_changed(self) -> None:
        self.session.refresh()
        self.refresh()

    def refresh(self) -> None:
        fingerprint = self.context.vault.genesis_fingerprint()
        if fingerprint is None:
            self.genesis.setText("")
            self.genesis.hide()
            self.label.setText("<b>Not signed yet:</b> its changes are not signed by tokens")
            set_tone(self.label, Tone.WARN)
            self.button.setText("Sign the vault…")
            self.button.setToolTip("A quorum of custodians sign the vault's state with their "
                                   "keys (its genesis); from then on every change is signed")
            self.button.setAccessibleName("Sign the vault's genesis")
            return
        grouped = " ".join(fingerprint[i:i + 4] for i in range(0, len(fingerprint), 4))
        self.genesis.show()
        self.genesis.setText(f"Genesis {grouped[:19]} …")
        self.genesis.setToolTip(f"The vault's genesis fingerprint, as on its genesis sheet "
                                f"and every recovery sheet:\n{grouped}")
        token = self.session.token
        # The name only: the status bar is narrow on a laptop; the key is in the tooltip.
        if token is not None:
            self.label.setText(f"Operating as: <b>{rich(token.custodian_name)}</b>")
            self.label.setToolTip(f"Changes made here are signed by {operator_text(token)}")
        else:
            self.label.setText("<b>Only looking</b>: nobody is operating")
            self.label.setToolTip("Read-only: a change asks who is operating first, since "
                                  "it is signed by that person's token")
        set_tone(self.label, Tone.NORMAL if token is not None else Tone.WARN)
        self.button.setText("Change…" if token is not None else "Choose…")
        self.button.setToolTip("Choose whose token signs the changes made in this window")
        self.button.setAccessibleName("Choose who is operating")

    def offer(self) -> None:
        """Ask who is operating a signed vault nobody operates yet, without waiting for
        the answer (the window stays live); "Only look" keeps the session read-only."""
        if not self.window().isVisible():
            return  # closed before it came up (its vault may be closed too)
        if self.session.token is not None or not self.session.signed_vault:
            return
        dialog = OperatorDialog(self.context.vault, None, self.window(), looking=True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(result: int) -> None:
            chosen = dialog.chosen() if result == QDialog.DialogCode.Accepted else None
            if chosen is not None and self.session.token is None:
                self.session.choose(chosen)

        dialog.finished.connect(answered)
        dialog.open()
        self.offered = dialog

    def act(self) -> None:
        if self.context.vault.genesis_fingerprint() is None:
            from tessera.gui.genesis_dialog import GenesisDialog

            GenesisDialog.start(self.window(), self.context, self.session)
            return
        chosen = OperatorDialog.ask(self.window(), self.context.vault, self.session.token)
        if chosen is not None:
            self.session.choose(chosen)

