"""What every window of one open vault shares: the vault, the drivers, the token worker.

Views read from ``vault`` and listen to :attr:`AppContext.vault_changed`; whoever
writes to the vault calls :meth:`AppContext.notify_changed` afterwards, so every table,
detail pane and status line refreshes from the same source of truth.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from tessera.custody.drivers import TokenDrivers
from tessera.gui.loader import VaultLoader
from tessera.gui.worker import TokenWorker
from tessera.vault import Vault

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from tessera.gui.operator import OperatorSession
    from tessera.tokens.virtual.devices import VirtualDevices

DEMO_ACTOR = "demo operator"


def local_actor() -> str:
    """The name audit entries carry for this desktop session."""
    try:
        return getpass.getuser() or "tessera"
    except (OSError, KeyError, ImportError):
        return "tessera"


@dataclass(frozen=True)
class OpenedVault:
    """A vault opened and checked, with its drivers: what :class:`AppContext` is made of.

    No Qt object in it, so a background thread can open the vault (the start path does,
    while the window is already shown) and hand it to the GUI thread."""

    vault: Vault
    vault_path: Path
    drivers: TokenDrivers
    demo: bool
    virtual: VirtualDevices | None = None

    def close(self) -> None:
        """Close a vault that was opened but will not be shown (its window was closed)."""
        self.vault.close()


def open_vault(vault_path: Path, *, demo: bool = False, create: bool = False,
               touch: str = "manual") -> OpenedVault:
    """Open the vault at ``vault_path`` as the app does, on any thread: the pins of this
    computer, the signed-log check, the demo's virtual keys and the token drivers.

    Raises what opening raises (``VaultNotAsPinned``, ``StateNotVerified``, ...); the
    vault is closed again when it does.
    """
    from tessera.vault.workstation_pins import WorkstationPins

    vault = Vault.open(vault_path, create=create, demo=demo)
    try:
        # Refused when the file is an older copy, or another vault, than this
        # computer saw (docs/SECURITY.md); the app offers to accept it on the record.
        pins = WorkstationPins()
        pins.check(vault)
        from tessera.custody.log_check import check_vault
        from tessera.custody.signing import StateNotVerified

        # Like every CLI command: a vault whose tables differ from its signed log
        # is not opened (`tessera audit verify` names what differs); only what is
        # new since this computer last verified it is replayed.
        state = check_vault(vault, pins, opening=True)
        if not state.ok:
            raise StateNotVerified(state.problem, acting=False)
        pins.remember(vault)
        is_demo = vault.is_demo
        virtual: VirtualDevices | None = None
        if is_demo:  # the virtual keys are imported only for a demo vault
            from tessera.tokens.virtual.devices import VirtualDevices

            virtual = VirtualDevices.for_vault(vault_path, touch=touch)
        providers = virtual.providers() if virtual is not None else {}
        drivers = TokenDrivers.for_vault(vault_path, demo=is_demo, **providers)
    except BaseException:
        vault.close()
        raise
    return OpenedVault(vault, vault_path, drivers, is_demo, virtual)


class AppContext(QObject):
    """The open vault and its helpers (owned by the main window)."""

    vault_changed = Signal()
    # A virtual key was plugged in (by an enrolment, on the token worker): the demo's
    # keys panel adds its Touch button at once, before the key waits for a touch.
    virtual_key_added = Signal()

    def __init__(self, vault: Vault, vault_path: Path, drivers: TokenDrivers, *,
                 actor: str, demo: bool, virtual: VirtualDevices | None = None,
                 worker: TokenWorker | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.vault = vault
        self.vault_path = vault_path
        self.drivers = drivers
        self.actor = actor
        self.demo = demo
        self.virtual = virtual
        self.worker = worker if worker is not None else TokenWorker(self)
        # Who signs this session's changes; the main window puts its session here.
        self.operator: OperatorSession | None = None
        # The pages read through their own connection, off the GUI thread.
        self.loader = VaultLoader(vault_path, vault, self)

    @classmethod
    def open(cls, vault_path: Path, *, demo: bool = False, create: bool = False,
             touch: str = "manual", actor: str | None = None,
             parent: QObject | None = None) -> AppContext:
        """Open the vault at ``vault_path``; a demo vault gets its virtual keys plugged in.

        Virtual keys wait for the Touch button (``touch="manual"``) so a new user sees
        what a real key asks of them.
        """
        return cls.from_opened(open_vault(vault_path, demo=demo, create=create, touch=touch),
                               actor=actor, parent=parent)

    @classmethod
    def from_opened(cls, opened: OpenedVault, *, actor: str | None = None,
                    parent: QObject | None = None) -> AppContext:
        """The context of a vault :func:`open_vault` opened (on any thread); made on the
        GUI thread, which its worker and loader report to."""
        who = actor or (DEMO_ACTOR if opened.demo else local_actor())
        return cls(opened.vault, opened.vault_path, opened.drivers, actor=who,
                   demo=opened.demo, virtual=opened.virtual, parent=parent)

    def ready_to_change(self, parent: QWidget | None) -> bool:
        """Call before a change: in a signed vault nobody operates yet, ask who does.

        ``False``: the person chose nobody; make no change and keep what they entered
        (they were told nothing was changed). Without a main window (no session) the
        change goes ahead, and the vault refuses it if it needs a signature."""
        return self.operator is None or self.operator.ensure(parent)

    def notify_changed(self) -> None:
        """Tell every view the vault was written to."""
        self.vault_changed.emit()

    def close(self) -> None:
        """Stop the worker (cancelling any device call) and close the vault."""
        from tessera.vault.workstation_pins import WorkstationPins

        self.loader.shutdown()
        self.worker.shutdown()
        try:
            WorkstationPins().remember(self.vault)
        finally:
            self.vault.close()
