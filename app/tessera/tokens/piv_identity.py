"""age-plugin-yubikey's view of a Tessera PIV token: slot numbers and the identity file.

With ``age`` and ``age-plugin-yubikey`` a custodian can open a YubiKey share without
Tessera. The plugin names a retired slot by its position, 1-20 (slot 0x82 is
``--slot 1``), and its identity line is Bech32 under ``AGE-PLUGIN-YUBIKEY-`` of
serial (4 bytes, little-endian) ‖ slot (1 byte) ‖ recipient tag (4 bytes)
(``key::Stub`` in age-plugin-yubikey). Tessera prints that same file, so
``age -d -i FILE`` works with only the plugin installed.
"""

from __future__ import annotations

import base64
import binascii
import struct

from tessera.core.age import PivP256Recipient
from tessera.core.age.bech32 import encode
from tessera.core.errors import TokenError
from tessera.core.token_types import TokenInfo, TokenKind

IDENTITY_HRP = "AGE-PLUGIN-YUBIKEY-"
FIRST_RETIRED_SLOT = 0x82
RETIRED_SLOT_COUNT = 20


def plugin_slot_number(slot: int) -> int:
    """The plugin's ``--slot`` number (1-20) of PIV retired slot ``slot`` (0x82-0x95)."""
    number = slot - FIRST_RETIRED_SLOT + 1
    if not 1 <= number <= RETIRED_SLOT_COUNT:
        raise ValueError(f"PIV slot {slot:02X} is not a retired slot (82-95)")
    return number


def plugin_identity(serial: int, slot: int, public_key: bytes) -> str:
    """The ``AGE-PLUGIN-YUBIKEY-1…`` line for the key in ``slot`` of YubiKey ``serial``.

    ``public_key`` is the slot key's compressed P-256 point.
    """
    return stub_identity(serial, slot, PivP256Recipient.from_public_key(public_key).tag)


def stub_identity(serial: int, slot: int, tag: bytes) -> str:
    """Bech32 of the plugin's key stub: serial (LE u32) ‖ slot ‖ 4-byte recipient tag."""
    plugin_slot_number(slot)  # refuses anything but a retired slot
    if not 0 <= serial < 2**32:
        raise ValueError("a YubiKey serial is a 32-bit number")
    if len(tag) != 4:
        raise ValueError("a recipient tag is 4 bytes")
    return encode(IDENTITY_HRP, struct.pack("<IB", serial, slot) + tag)


def plugin_identity_file(serial: int, slot: int, public_key: bytes, name: str) -> str:
    """An identity file as ``age-plugin-yubikey --identity`` writes it (comments, then the line)."""
    recipient = PivP256Recipient.from_public_key(public_key).to_string()
    return (
        f"#       Serial: {serial}, Slot: {plugin_slot_number(slot)}\n"
        f"#         Name: {name}\n"
        f"#    Recipient: {recipient}\n"
        f"{plugin_identity(serial, slot, public_key)}\n"
    )


def recovery_commands(serial: int, slot: int) -> list[str]:
    """The commands that open a share of this slot with stock tools (see docs/TOKENS.md)."""
    number = plugin_slot_number(slot)
    return [
        f"age-plugin-yubikey --identity --serial {serial} --slot {number} > yk-identity.txt",
        "age -d -i yk-identity.txt -o share.txt share.age",
    ]


def identity_file_for(token: TokenInfo) -> str:
    """The age-plugin-yubikey identity file of an enrolled YubiKey token (no secret in it)."""
    if token.kind is not TokenKind.PIV:
        raise TokenError(f"{token.label} is not a YubiKey PIV token")
    try:
        serial = int(token.facts["serial"])
        slot = int(str(token.facts["slot"]), 16)
        public_key = base64.b64decode(str(token.facts["public_key"]), validate=True)
        return plugin_identity_file(serial, slot, public_key, f"Tessera: {token.custodian_name}")
    except (KeyError, ValueError, TypeError, binascii.Error):
        raise TokenError(f"The stored facts of {token.label} are damaged") from None
