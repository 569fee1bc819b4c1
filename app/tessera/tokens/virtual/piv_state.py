"""The persistent state of a virtual YubiKey PIV applet, and its JSON file.

A demo vault should find its virtual YubiKeys as it left them: the same keys in the
same slots, the PIN the custodian chose, the retry counters, the certificates. The
state lives in one JSON file written atomically with mode 0600. It holds the virtual
card's private keys and PIN in the clear — it *is* the card, exactly as a real card's
flash holds them — so it is for demo mode and tests, never for real custody.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yubikit.piv import DEFAULT_MANAGEMENT_KEY, KEY_TYPE, MANAGEMENT_KEY_TYPE, TOUCH_POLICY

from tessera.core.private_file import write_private

STATE_FORMAT = "tessera-virtual-piv/v1"

DEFAULT_PIN = b"123456"
DEFAULT_PUK = b"12345678"
DEFAULT_RETRIES = 3


def default_management_key_type(version: tuple[int, int, int]) -> MANAGEMENT_KEY_TYPE:
    """Firmware 5.7 ships with an AES-192 default management key; older ones with 3DES."""
    return MANAGEMENT_KEY_TYPE.AES192 if version >= (5, 7, 0) else MANAGEMENT_KEY_TYPE.TDES


@dataclass
class SlotKey:
    """A private key held in one slot, with its resolved (never DEFAULT) policies."""

    key_type: KEY_TYPE
    private_value: int
    pin_policy: int
    touch_policy: int
    generated: bool


@dataclass
class PivCardState:
    """Everything a YubiKey keeps across power cycles (the PIV part of it)."""

    serial: int
    version: tuple[int, int, int]
    pin: bytes = DEFAULT_PIN
    puk: bytes = DEFAULT_PUK
    pin_total: int = DEFAULT_RETRIES
    pin_left: int = DEFAULT_RETRIES
    puk_total: int = DEFAULT_RETRIES
    puk_left: int = DEFAULT_RETRIES
    mgmt_type: MANAGEMENT_KEY_TYPE = MANAGEMENT_KEY_TYPE.TDES
    mgmt_key: bytes = DEFAULT_MANAGEMENT_KEY
    mgmt_touch: int = TOUCH_POLICY.NEVER
    keys: dict[int, SlotKey] = field(default_factory=dict)
    objects: dict[int, bytes] = field(default_factory=dict)

    @classmethod
    def factory(
        cls,
        serial: int,
        version: tuple[int, int, int],
        management_key_type: MANAGEMENT_KEY_TYPE | None = None,
    ) -> PivCardState:
        """A card as it leaves the factory (or after a PIV reset)."""
        mgmt_type = management_key_type or default_management_key_type(version)
        return cls(serial=serial, version=version, mgmt_type=mgmt_type)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "serial": self.serial,
            "version": list(self.version),
            "pin": self.pin.hex(),
            "puk": self.puk.hex(),
            "pin_retries": [self.pin_total, self.pin_left],
            "puk_retries": [self.puk_total, self.puk_left],
            "management_key": {
                "type": int(self.mgmt_type),
                "key": self.mgmt_key.hex(),
                "touch_policy": self.mgmt_touch,
            },
            "keys": {
                f"{slot:02x}": {
                    "key_type": int(key.key_type),
                    "private_value": f"{key.private_value:064x}",
                    "pin_policy": key.pin_policy,
                    "touch_policy": key.touch_policy,
                    "generated": key.generated,
                }
                for slot, key in sorted(self.keys.items())
            },
            "objects": {f"{oid:06x}": value.hex() for oid, value in sorted(self.objects.items())},
        }

    @classmethod
    def from_json(cls, doc: Any) -> PivCardState:
        """Parse a state file strictly; a damaged file raises ``ValueError``."""
        try:
            if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
                raise ValueError("not a virtual PIV card state file")
            version = tuple(int(v) for v in doc["version"])
            if len(version) != 3:
                raise ValueError("bad version")
            pin_total, pin_left = (int(v) for v in doc["pin_retries"])
            puk_total, puk_left = (int(v) for v in doc["puk_retries"])
            mgmt = doc["management_key"]
            keys = {
                int(slot, 16): SlotKey(
                    key_type=KEY_TYPE(int(entry["key_type"])),
                    private_value=int(entry["private_value"], 16),
                    pin_policy=int(entry["pin_policy"]),
                    touch_policy=int(entry["touch_policy"]),
                    generated=bool(entry["generated"]),
                )
                for slot, entry in doc["keys"].items()
            }
            objects = {int(oid, 16): bytes.fromhex(value) for oid, value in doc["objects"].items()}
            state = cls(
                serial=int(doc["serial"]),
                version=(version[0], version[1], version[2]),
                pin=bytes.fromhex(doc["pin"]),
                puk=bytes.fromhex(doc["puk"]),
                pin_total=pin_total,
                pin_left=pin_left,
                puk_total=puk_total,
                puk_left=puk_left,
                mgmt_type=MANAGEMENT_KEY_TYPE(int(mgmt["type"])),
                mgmt_key=bytes.fromhex(mgmt["key"]),
                mgmt_touch=int(mgmt["touch_policy"]),
                keys=keys,
                objects=objects,
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError("virtual PIV card state file is damaged") from e
        if len(state.mgmt_key) != state.mgmt_type.key_len:
            raise ValueError("virtual PIV card state file is damaged")
        return state


def load_state(path: Path) -> PivCardState:
    """Read a state file written by :func:`save_state`."""
    with path.open("r", encoding="utf-8") as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError("virtual PIV card state file is not JSON") from e
    return PivCardState.from_json(doc)


def save_state(state: PivCardState, path: Path) -> None:
    """Write atomically (temporary file + rename) with mode 0600: a crash keeps the old card."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(state.to_json(), indent=1, sort_keys=True).encode("utf-8"))
