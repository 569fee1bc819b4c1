"""Bech32 (BIP 173, not bech32m) as age uses it: no length limit, single case.

age encodes X25519 recipients with HRP ``age``, identities with ``AGE-SECRET-KEY-``
and age-plugin-yubikey recipients with ``age1yubikey``. The checksum is always
computed over the lowercase string; an uppercase HRP yields an uppercase string.
"""

from __future__ import annotations

from .errors import AgeKeyError

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHECKSUM_LEN = 6


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GENERATORS):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    max_value = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & max_value)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & max_value)
    elif bits >= from_bits or (acc << (to_bits - bits)) & max_value:
        raise AgeKeyError("Bech32 string has invalid padding")
    return out


def _check_hrp(hrp: str) -> None:
    if not hrp or any(not 33 <= ord(c) <= 126 for c in hrp):
        raise AgeKeyError("Bech32 prefix is empty or has invalid characters")


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under ``hrp``; the result is uppercase when ``hrp`` is."""
    _check_hrp(hrp)
    lower = hrp.lower()
    if hrp not in (lower, hrp.upper()):
        raise AgeKeyError("Bech32 prefix must not mix upper and lower case")
    values = _convert_bits(list(data), 8, 5, pad=True)
    polymod = _polymod([*_hrp_expand(lower), *values, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LEN)]
    text = lower + "1" + "".join(_CHARSET[v] for v in values + checksum)
    return text.upper() if hrp != lower else text


def decode(text: str) -> tuple[str, bytes]:
    """Decode a Bech32 string to (hrp as written, data); raise AgeKeyError if invalid."""
    if text not in (text.lower(), text.upper()):
        raise AgeKeyError("Bech32 string mixes upper and lower case")
    pos = text.rfind("1")
    if pos < 1 or pos + 1 + _CHECKSUM_LEN > len(text):
        raise AgeKeyError("Bech32 separator is missing or misplaced")
    hrp = text[:pos]
    _check_hrp(hrp)
    values: list[int] = []
    for c in text[pos + 1 :].lower():
        index = _CHARSET.find(c)
        if index < 0:
            raise AgeKeyError("Bech32 string has an invalid character")
        values.append(index)
    if _polymod(_hrp_expand(hrp.lower()) + values) != 1:
        raise AgeKeyError("Bech32 checksum does not match (mistyped?)")
    return hrp, bytes(_convert_bits(values[:-_CHECKSUM_LEN], 5, 8, pad=False))
