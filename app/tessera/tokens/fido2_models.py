"""Names for FIDO2 key models, so a refusal can say which key it refuses.

An AAGUID identifies an authenticator model. The table lists only models whose
AAGUIDs Yubico publishes ("YubiKey Hardware FIDO2 AAGUIDs") plus Tessera's virtual
key; anything else is named by its USB product string, or "This key".
"""

from __future__ import annotations

from typing import Any

KNOWN_AAGUIDS: dict[str, str] = {
    "cb69481e8ff7403993ec0a2729a154a8": "YubiKey 5 Series (firmware 5.1)",
    "ee882879721c491397753dfcce97072a": "YubiKey 5 Series (firmware 5.2/5.4)",
    "fa2b99dc9e3942578f924a30d23c4118": "YubiKey 5 Series with NFC (firmware 5.1)",
    "2fc0579f811347eab116bb5a8db9202a": "YubiKey 5 Series with NFC (firmware 5.2/5.4)",
    "73bb0cd4e50249b89c6fb59445bf720b": "YubiKey 5 FIPS Series (firmware 5.4)",
    "c1f9a0bc1dd2404ab27f8e29047a43fd": "YubiKey 5 FIPS Series with NFC (firmware 5.4)",
    "c5ef55ffad9a4b9fb580adebafe026d0": "YubiKey 5Ci (firmware 5.2/5.4)",
    "7e55e7a00f1d4c2b9a117e55e7a00001": "Tessera virtual FIDO2 key",
}

UNKNOWN_MODEL = "This key"


def product_name(device: Any) -> str | None:
    """The USB product string of a HID device (or a virtual key's name), if it has one."""
    name = getattr(device, "product_name", None)
    return name if isinstance(name, str) and name.strip() else None


def model_name(aaguid: bytes | None, device: Any = None) -> str:
    """A person-readable model name: from the AAGUID table, else the product string."""
    if aaguid:
        known = KNOWN_AAGUIDS.get(bytes(aaguid).hex())
        if known:
            return known
    return product_name(device) or UNKNOWN_MODEL
