"""A vault with custodians on virtual FIDO2 and PIV keys and a software key, ready
for a release: the real drivers, only the devices are simulated."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from tessera.core.policy import SplitPlan
from tessera.custody.create import create_record
from tessera.custody.drivers import TokenDrivers
from tessera.custody.enroll import enroll_device
from tessera.tokens.base import TokenInfo, TokenKind
from tessera.tokens.virtual.devices import VirtualDevices, VirtualKey
from tessera.tokens.virtual.piv_device import VirtualYubiKey
from tessera.vault import Vault

PIN = "314159"
SECRET = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"


class ScriptedPrompts:
    """Answers PIN prompts from a list; records what the person was shown."""

    def __init__(self, pins: list[str | None] | None = None) -> None:
        self.pins = list(pins or [])
        self.asked: list[tuple[str, int | None]] = []
        self.touches: list[str] = []
        self.notices: list[str] = []

    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        self.asked.append((token, attempts_left))
        return self.pins.pop(0) if self.pins else PIN

    def request_new_pin(self, token: str, reason: str) -> str | None:
        return PIN

    def touch_needed(self, token: str) -> None:
        self.touches.append(token)

    def touch_done(self, token: str) -> None:
        pass

    def notice(self, message: str) -> None:
        self.notices.append(message)


@dataclass
class Ceremony:
    vault: Vault
    path: Path
    devices: VirtualDevices
    drivers: TokenDrivers
    tokens: dict[str, TokenInfo] = field(default_factory=dict)
    keys: dict[str, VirtualKey] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)  # custodian name -> share words
    record_id: str = ""

    def later(self, seconds: float = 60.0) -> None:
        """Time passes on the virtual YubiKeys: the touch cached by the enrolment (touch
        policy CACHED, 15 s) has lapsed, as it has by the time of a real release."""
        import time

        for key in self.keys.values():
            if isinstance(key.device, VirtualYubiKey):
                key.device.card.set_clock(lambda: time.monotonic() + seconds)


def build(tmp_path: Path, kinds: dict[str, TokenKind] | None = None, k: int = 2) -> Ceremony:
    kinds = kinds or {"Alice": TokenKind.FIDO2, "Bob": TokenKind.PIV,
                      "Carol": TokenKind.SOFTWARE}
    path = tmp_path / "vault.sqlite3"
    vault = Vault.open(path, create=True, demo=True)
    devices = VirtualDevices.for_vault(path, touch="immediate")
    drivers = TokenDrivers.for_vault(path, demo=True, **devices.providers())
    c = Ceremony(vault, path, devices, drivers)
    prompts = ScriptedPrompts()
    for name, kind in kinds.items():
        person = vault.add_custodian(name, contact="", role="", actor="op")
        device: object = None
        if kind is not TokenKind.SOFTWARE:
            key = devices.add(kind, f"{name}'s key")
            c.keys[name] = key
            device = key.device
            if isinstance(key.device, VirtualYubiKey):
                device = drivers.driver(TokenKind.PIV).find_device(  # type: ignore[attr-defined]
                    key.device.card.serial)
        c.tokens[name] = enroll_device(vault, drivers, person.id, kind, prompts,
                                       threading.Event(), actor="op", device=device)
    shares: dict[str, str] = {}
    created = create_record(vault, SECRET, label="Deploy key", plan=SplitPlan.simple(
        k, list(kinds)), nhi={"system": "ci"}, actor="op", encoding="binary",
        on_mnemonics=shares.update)
    manifest = created.sealed.manifest
    c.words = {e.custodian: shares[e.key] for e in manifest.shares}
    c.record_id = created.record_id
    return c
