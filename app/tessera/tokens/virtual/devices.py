"""The set of virtual keys "plugged in" for a demo vault (or a ``--virtual`` run).

Each key keeps its state in ``<vault>.virtual/`` so a demo keeps its keys between
runs; ``keys.json`` lists them by name. The drivers get them through
:meth:`VirtualDevices.providers`, exactly where real device discovery would be.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fido2.ctap import CtapDevice

from tessera.core.errors import FormatError
from tessera.core.private_file import write_private
from tessera.tokens.base import TokenKind
from tessera.tokens.virtual.ctap import VirtualAuthenticator
from tessera.tokens.virtual.hid import hid_device
from tessera.tokens.virtual.piv_card import VirtualPivCard
from tessera.tokens.virtual.piv_device import VirtualYubiKey, virtual_listing
from tessera.tokens.virtual.touch import TouchControl

INDEX = "keys.json"
_NAME = re.compile(r"[\w .'-]{1,60}")
FIRST_SERIAL = 31000001


@dataclass
class VirtualKey:
    """One virtual key: a name a person recognises, its touch control and the device."""

    name: str
    kind: TokenKind
    touch: TouchControl
    device: VirtualAuthenticator | VirtualYubiKey

    @property
    def present(self) -> bool:
        if isinstance(self.device, VirtualYubiKey):
            return self.device.card.present
        return not self.device.removed

    def pull_out(self) -> None:
        if isinstance(self.device, VirtualYubiKey):
            self.device.card.pull_out()
        else:
            self.device.pull_out()

    def plug_in(self) -> None:
        if isinstance(self.device, VirtualYubiKey):
            self.device.card.plug_in()
        else:
            self.device.plug_in()


class VirtualDevices:
    """Virtual FIDO2 keys and YubiKeys kept in ``directory``."""

    def __init__(self, directory: Path, *, touch: str = "delay:0.3") -> None:
        self.directory = directory
        self.touch_mode = touch
        self.keys: list[VirtualKey] = []
        self._load()

    @classmethod
    def for_vault(cls, vault_path: Path, *, touch: str = "delay:0.3") -> VirtualDevices:
        return cls(vault_path.with_name(vault_path.name + ".virtual"), touch=touch)

    # -- persistence ----------------------------------------------------------------
    def _index_path(self) -> Path:
        return self.directory / INDEX

    def _load(self) -> None:
        path = self._index_path()
        if not path.exists():
            return
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(entries, list):
                raise ValueError("not a list")
            for entry in entries:
                name, kind, file = entry["name"], TokenKind(entry["kind"]), entry["file"]
                if not (isinstance(name, str) and isinstance(file, str)
                        and re.fullmatch(r"[\w.-]+\.json", file)):
                    raise ValueError("bad entry")
                self.keys.append(self._open(name, kind, self.directory / file))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FormatError(f"the virtual keys in {self.directory} are damaged ({exc})") \
                from None

    def _save_index(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        entries = [{"name": k.name, "kind": k.kind.value, "file": self._file_of(k).name}
                   for k in self.keys]
        write_private(self._index_path(), json.dumps(entries, indent=1).encode("utf-8"))

    def _file_of(self, key: VirtualKey) -> Path:
        if isinstance(key.device, VirtualYubiKey):
            return self.directory / f"piv-{key.device.card.serial}.json"
        path = getattr(key.device, "_state_path", None)
        if not isinstance(path, Path):
            raise FormatError(f"the virtual key {key.name!r} has no state file")
        return path

    def _open(self, name: str, kind: TokenKind, path: Path) -> VirtualKey:
        touch = TouchControl(self.touch_mode)
        if kind is TokenKind.FIDO2:
            fido = VirtualAuthenticator.load(path, touch, persist=True)
            fido.product_name = f"Virtual FIDO2 key ({name})"
            return VirtualKey(name, kind, touch, fido)
        if kind is TokenKind.PIV:
            card = VirtualPivCard(touch=touch, state_path=path)
            return VirtualKey(name, kind, touch, VirtualYubiKey(card))
        raise FormatError(f"no virtual {kind.value} keys")

    # -- adding keys -----------------------------------------------------------------
    def add(self, kind: TokenKind, name: str) -> VirtualKey:
        """Plug in a new virtual key of ``kind`` called ``name``."""
        if not _NAME.fullmatch(name):
            raise FormatError("a virtual key's name is 1–60 letters, digits, spaces or .'-")
        if any(k.name.lower() == name.lower() for k in self.keys):
            raise FormatError(f"there is already a virtual key called {name!r}")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        touch = TouchControl(self.touch_mode)
        if kind is TokenKind.FIDO2:
            number = 1 + sum(1 for k in self.keys if k.kind is TokenKind.FIDO2)
            path = self.directory / f"fido2-{number}.json"
            fido = VirtualAuthenticator(touch, product_name=f"Virtual FIDO2 key ({name})",
                                        state_path=path)
            key = VirtualKey(name, kind, touch, fido)
        elif kind is TokenKind.PIV:
            serials = [k.device.card.serial for k in self.keys
                       if isinstance(k.device, VirtualYubiKey)]
            serial = max(serials, default=FIRST_SERIAL - 1) + 1
            card = VirtualPivCard(serial=serial, touch=touch,
                                  state_path=self.directory / f"piv-{serial}.json")
            key = VirtualKey(name, kind, touch, VirtualYubiKey(card))
        else:
            raise FormatError("virtual keys are FIDO2 keys or YubiKeys")
        self.keys.append(key)
        self._save_index()
        return key

    def get(self, name: str) -> VirtualKey:
        for key in self.keys:
            if key.name.lower() == name.lower():
                return key
        raise FormatError(f"no virtual key called {name!r}")

    def set_touch_mode(self, mode: str) -> None:
        for key in self.keys:
            key.touch.set_mode(mode)
        self.touch_mode = mode

    # -- for the drivers ---------------------------------------------------------------
    def fido2_devices(self) -> Sequence[CtapDevice]:
        """The FIDO2 keys plugged in, each opened like a USB key (CTAPHID framing)."""
        return [hid_device(k.device) for k in self.keys
                if isinstance(k.device, VirtualAuthenticator) and not k.device.removed]

    def piv_listing(self) -> list[Any]:
        return virtual_listing([k.device for k in self.keys
                                if isinstance(k.device, VirtualYubiKey)])

    def providers(self) -> dict[str, Callable[[], Sequence[Any]]]:
        """Keyword arguments for :class:`~tessera.custody.drivers.TokenDrivers`."""
        return {"fido2_devices": self.fido2_devices, "piv_devices": self.piv_listing}
