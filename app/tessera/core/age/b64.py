"""Canonical unpadded base64, the only base64 allowed inside an age header.

The spec requires decoders to reject padding and non-canonical encodings (unused
low bits set), which Python's decoder accepts; that would make headers malleable.
"""

from __future__ import annotations

import base64
import re

from .errors import AgeHeaderError

_RAW_ALPHABET = re.compile(r"[A-Za-z0-9+/]*")


def encode_raw(data: bytes) -> str:
    """Standard base64 without ``=`` padding."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def decode_raw(text: str, what: str) -> bytes:
    """Decode canonical unpadded base64, raising AgeHeaderError naming ``what`` otherwise."""
    if _RAW_ALPHABET.fullmatch(text) is None or len(text) % 4 == 1:
        raise AgeHeaderError(f"{what} is not valid unpadded base64")
    data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    if encode_raw(data) != text:
        raise AgeHeaderError(f"{what} is not canonical base64")
    return data
