"""Which driver opens which kind of token, and where devices come from.

Hardware drivers are imported lazily: a custodian with only a software key (or a CI
machine with no pcscd) never loads the smart-card stack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tessera.core.errors import TokenError
from tessera.tokens.base import TokenDriver, TokenInfo, TokenKind
from tessera.tokens.software import SoftwareDriver, SoftwareKeyStore


class TokenDrivers:
    """One driver per token kind. ``fido2_devices`` / ``piv_devices`` replace the real
    device discovery (tests and demo mode pass virtual devices)."""

    def __init__(self, software_store: SoftwareKeyStore, *,
                 fido2_devices: Callable[[], Sequence[Any]] | None = None,
                 piv_devices: Callable[[], Sequence[Any]] | None = None) -> None:
        self.software_store = software_store
        self.fido2_devices = fido2_devices
        self.piv_devices = piv_devices
        self._drivers: dict[TokenKind, TokenDriver] = {}

    @classmethod
    def for_vault(cls, vault_path: Path, *, demo: bool = False, **devices: Any) -> TokenDrivers:
        store = SoftwareKeyStore(software_key_dir(vault_path), work_factor=12 if demo else 18)
        return cls(store, **devices)

    def driver(self, kind: TokenKind) -> TokenDriver:
        if kind not in self._drivers:
            self._drivers[kind] = self._make(kind)
        return self._drivers[kind]

    def for_token(self, token: TokenInfo) -> TokenDriver:
        if token.remote and token.kind is TokenKind.SOFTWARE:
            raise TokenError(f"{token.label} was enrolled remotely; only its owner can open it")
        return self.driver(token.kind)

    def _make(self, kind: TokenKind) -> TokenDriver:
        if kind is TokenKind.SOFTWARE:
            return SoftwareDriver(self.software_store)
        if kind is TokenKind.FIDO2:
            from tessera.tokens.fido2 import Fido2Driver

            return Fido2Driver(devices=self.fido2_devices) if self.fido2_devices else Fido2Driver()
        if kind is TokenKind.PIV:
            from tessera.tokens.piv import PivDriver

            return PivDriver(devices=self.piv_devices) if self.piv_devices else PivDriver()
        raise TokenError(f"no driver for {kind} tokens")


def software_key_dir(vault_path: Path) -> Path:
    """Software key files live beside the vault, in ``<vault>.keys/`` (mode 0700)."""
    return vault_path.with_name(vault_path.name + ".keys")
