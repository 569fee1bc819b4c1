"""Start the desktop application: ``tessera gui [--demo]`` calls :func:`run`.

``run`` makes the QApplication (name and organisation, so ``QSettings`` has a home),
applies the saved theme, routes uncaught exceptions to the one error handler, shows
the main window at once, and opens a vault in it (:mod:`tessera.gui.startup`, off the
GUI thread): the one given, the default one, or — with ``demo`` — a demo vault in the
application's data folder, built on first use with three custodians on virtual keys.
A person opening Tessera for the first time (no vault yet, or an empty one) is offered
the demo before anything is created.

This module is on the way to the first window, so it imports neither the vault nor
the token or crypto layers at the top: they are loaded by the opening thread.
"""

from __future__ import annotations

import enum
import logging
import sys
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox, QWidget

from tessera.gui.main_window import MainWindow
from tessera.gui.startup import Startup
from tessera.gui.stop_signals import StopSignals
from tessera.gui.theme import Theme, app_icon, apply_theme

if TYPE_CHECKING:
    from tessera.gui.context import AppContext
    from tessera.vault.errors import VaultNotAsPinned

log = logging.getLogger(__name__)

APP_NAME = "Tessera"
ORG_NAME = "Tessera"
ORG_DOMAIN = "tessera-custody.invalid"
DEMO_FILE = "demo-vault.sqlite3"


class FirstRunChoice(enum.Enum):
    DEMO = "demo"
    EMPTY = "empty"
    QUIT = "quit"


class FirstRunDialog:
    """"Try the demo first?" for someone whose vault is missing or empty."""

    @classmethod
    def ask(cls, parent: QWidget | None, vault_path: Path, exists: bool) -> FirstRunChoice:
        """Ask modally (tests replace this seam)."""
        box = QMessageBox(parent)
        box.setWindowTitle("Welcome to Tessera")
        box.setIcon(QMessageBox.Icon.Question)
        box.setText("<b>Would you like to try the demo first?</b>")
        where = "is still empty" if exists else "does not exist yet"
        box.setInformativeText(
            f"Your vault ({vault_path}) {where}. The demo opens a separate vault with three "
            "custodians on virtual keys, so you can enrol, create a record, release it and "
            "read the audit log without any hardware. Your own vault is not touched.")
        demo = box.addButton("Open the &demo", QMessageBox.ButtonRole.AcceptRole)
        empty = box.addButton("Start with &my vault", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(demo)
        box.exec()
        clicked = box.clickedButton()
        box.deleteLater()
        if clicked is demo:
            return FirstRunChoice.DEMO
        if clicked is empty:
            return FirstRunChoice.EMPTY
        return FirstRunChoice.QUIT


class AcceptVaultDialog:
    """"This vault is not the one this computer saw": refuse, or accept with a reason."""

    @classmethod
    def ask(cls, parent: QWidget | None, problem: VaultNotAsPinned) -> str | None:
        """The reason to accept the vault, or ``None`` to leave it closed (tests replace this)."""
        box = QInputDialog(parent)
        box.setWindowTitle("This vault is not as this computer last saw it")
        box.setLabelText(
            f"{problem}\n\nTo open it anyway, say why it is expected (for example, "
            "'restored from the backup of 1 December'). The acceptance is written to the "
            "vault's audit log. Cancel leaves the vault closed and unchanged.")
        box.setTextValue("")
        accepted = box.exec() == QInputDialog.DialogCode.Accepted
        reason = box.textValue().strip()
        box.deleteLater()
        return reason if accepted and reason else None


def accept_vault(path: Path, reason: str, actor: str, parent: QWidget | None = None) -> bool:
    """Accept the vault at ``path`` as it is (audited in the vault, pins moved).

    In a signed vault the acceptance is a change like any other: a custodian of *that*
    vault signs it with their token (chosen here, asked for PIN and touch on a token
    worker), after its state verifies. False when nobody was chosen (nothing changed).
    """
    from tessera.vault import Vault
    from tessera.vault.workstation_pins import WorkstationPins

    with Vault.open(path) as vault:
        if vault.genesis_fingerprint() is None:
            WorkstationPins().accept(vault, actor=actor, reason=reason)
            return True
    return accept_signed_vault(path, reason, parent)


def accept_signed_vault(path: Path, reason: str, parent: QWidget | None) -> bool:
    from tessera.custody.drivers import TokenDrivers
    from tessera.custody.signing import StateNotVerified, verify_vault
    from tessera.gui.context import AppContext, local_actor
    from tessera.gui.operator import AcceptSignerDialog, OperatorSigner
    from tessera.vault import Vault
    from tessera.vault.workstation_pins import WorkstationPins

    vault = Vault.open(path)
    context: AppContext | None = None
    try:
        state = verify_vault(vault)  # a vault whose tables differ from its log is not accepted
        if not state.ok:
            raise StateNotVerified(state.problem, acting=False)
        virtual = None
        if vault.is_demo:  # no Touch panel is open yet: the virtual keys touch themselves
            from tessera.gui.virtual_keys import AUTO_TOUCH_MODE
            from tessera.tokens.virtual.devices import VirtualDevices

            virtual = VirtualDevices.for_vault(path, touch=AUTO_TOUCH_MODE)
        drivers = TokenDrivers.for_vault(path, demo=vault.is_demo,
                                         **(virtual.providers() if virtual else {}))
        context = AppContext(vault, path, drivers, actor=local_actor(), demo=vault.is_demo,
                             virtual=virtual)
        token = AcceptSignerDialog.ask(parent, vault, None)
        if token is None:
            return False
        with vault.signed_by(OperatorSigner(context, token, "accepting this vault")):
            WorkstationPins().accept(vault, actor=token.custodian_name, reason=reason)
        return True
    finally:
        if context is not None:
            context.worker.shutdown()  # not context.close(): a refused vault stays unpinned
        vault.close()


def demo_vault_path() -> Path:
    """Where ``tessera gui --demo`` keeps its demo vault (kept between runs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("tessera", appauthor=False)) / "demo" / DEMO_FILE


def ensure_demo_vault(path: Path) -> Path:
    """Build the demo vault at ``path`` unless it is already there."""
    if path.exists() and path.stat().st_size > 0:
        return path
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    log.info("Building the demo vault")
    from tessera.custody.demo import build_demo_vault  # only when a demo is made

    build_demo_vault(path, touch="immediate", signed=True)
    return path


def vault_is_empty(path: Path) -> bool:
    """True when the vault at ``path`` is missing, or holds no custodian and no record."""
    from tessera.vault import Vault

    if not path.exists() or path.stat().st_size == 0:
        return True
    with Vault.open(path) as vault:
        return not vault.list_custodians(include_retired=True) and not vault.list_records()


def configure_app(app: QApplication) -> None:
    """Names for ``QSettings``, the icon and the saved theme."""
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setOrganizationName(ORG_NAME)
    QCoreApplication.setOrganizationDomain(ORG_DOMAIN)
    app.setApplicationDisplayName(APP_NAME)
    app.setWindowIcon(app_icon())
    saved = str(QSettings().value("ui/theme", Theme.SYSTEM.value))
    apply_theme(app, Theme(saved) if saved in {t.value for t in Theme} else Theme.SYSTEM)


def choose_vault(vault_path: Path | None, demo: bool) -> tuple[Path, bool, bool] | None:
    """(path, demo, create) to open, asking on first run; ``None`` when the person quits."""
    from tessera.vault import Vault

    if demo:
        return ensure_demo_vault(vault_path or demo_vault_path()), True, False
    path = vault_path or Vault.default_path()
    if vault_is_empty(path):
        choice = FirstRunDialog.ask(None, path, path.exists())
        if choice is FirstRunChoice.QUIT:
            return None
        if choice is FirstRunChoice.DEMO:
            return ensure_demo_vault(demo_vault_path()), True, False
        return path, False, True
    return path, False, False


def open_window(vault_path: Path | None, demo: bool) -> MainWindow | None:
    """Open the vault the person chose, then show it in a main window (``None`` if they
    quit): all at once, on this thread (tests, screenshots; :func:`run` shows the window
    first and opens the vault in it, see :func:`start_window`)."""
    from tessera.gui.context import AppContext, local_actor
    from tessera.vault.errors import VaultNotAsPinned

    chosen = choose_vault(vault_path, demo)
    if chosen is None:
        return None
    path, is_demo, create = chosen
    try:
        context = AppContext.open(path, demo=is_demo, create=create)
    except VaultNotAsPinned as exc:
        reason = AcceptVaultDialog.ask(None, exc)
        if reason is None:
            return None
        if not accept_vault(path, reason, local_actor()):
            return None
        context = AppContext.open(path, demo=is_demo, create=False)
    window = MainWindow(context)
    window.show()
    return window


def start_window(vault_path: Path | None, demo: bool, *, touch: str = "manual",
                 poll_devices: bool = True) -> tuple[MainWindow, Startup]:
    """Show the main window at once, saying which vault it opens, and start opening it
    (first-run offer, acceptance of a changed vault and errors are asked over it)."""
    name = ""
    if vault_path is not None:
        name = vault_path.name + (" (demo)" if demo else "")
    elif demo:
        name = DEMO_FILE + " (demo)"
    window = MainWindow(opening=name, poll_devices=poll_devices)
    window.show()
    startup = Startup(window, vault_path, demo, touch=touch)
    # Once the event loop has turned (the window painted), not before: the opening
    # thread's imports would otherwise compete with the first paint for the interpreter.
    QTimer.singleShot(0, startup, startup.start)
    return window, startup


def route_exceptions() -> None:
    """Send uncaught exceptions to the one error handler (gui/errors.py), loading it on
    the first one: it imports the vault's errors, which the first window does without.
    The start path installs the handler itself once the vault is open."""

    def first(kind: type[BaseException], exc: BaseException,
              tb: TracebackType | None) -> None:
        from tessera.gui.errors import install_excepthook

        install_excepthook()
        sys.excepthook(kind, exc, tb)

    sys.excepthook = first


def run(vault_path: Path | None, demo: bool) -> int:
    """The desktop application's entry point; returns the process exit code."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    configure_app(app)
    route_exceptions()
    window, startup = start_window(vault_path, demo)
    startup.ended.connect(lambda code: app.exit(code))
    stops = StopSignals(lambda signum: stop_for_signal(app, window, signum))
    try:
        code = app.exec()
    finally:
        stops.restore()
        if window.isVisible():  # start-up ended the app (quit at first run, an error)
            window.close()
        startup.finish()
    return startup.exit_code if startup.exit_code is not None else code


def stop_for_signal(app: QApplication, window: MainWindow, signum: int) -> None:
    """Abort every open quorum of this app, close its windows, exit 128 + signal."""
    log.warning("stopping on signal %d: open ceremonies are aborted", signum)
    window.stop_for_signal()
    window.save_state()
    app.exit(128 + signum)
