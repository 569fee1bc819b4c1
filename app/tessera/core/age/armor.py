"""ASCII armor: strict PEM with the label ``AGE ENCRYPTED FILE``.

Only whitespace before and after the block is tolerated, and lines may end in LF or
CRLF; everything else is strict (no headers, 64-column lines, canonical padded
base64), because a lax parser would make armored files malleable.
"""

from __future__ import annotations

import base64
import re

from .errors import AgeArmorError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
_COLUMNS = 64
_BYTES_PER_LINE = _COLUMNS // 4 * 3
_WHITESPACE = b" \t\r\n\v\f"
_PADDED_LINE = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def looks_armored(data: bytes) -> bool:
    """True when ``data`` starts (after whitespace) like a PEM block rather than a binary age file."""
    return data.lstrip(_WHITESPACE).startswith(b"-----")


def encode_armor(data: bytes) -> bytes:
    """Wrap a binary age file in armor, with a final newline."""
    lines = [
        base64.b64encode(data[i : i + _BYTES_PER_LINE])
        for i in range(0, len(data), _BYTES_PER_LINE)
    ]
    return b"\n".join([BEGIN, *lines, END]) + b"\n"


def _strip_cr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def decode_armor(data: bytes) -> bytes:
    """Return the binary age file inside strict armor; raise AgeArmorError otherwise."""
    lines = [_strip_cr(line) for line in data.lstrip(_WHITESPACE).split(b"\n")]
    if lines[0] != BEGIN:
        raise AgeArmorError("the armor does not start with the age PEM header line")
    try:
        end_index = lines.index(END, 1)
    except ValueError:
        raise AgeArmorError("the armor has no closing line") from None
    if b"\n".join(lines[end_index + 1 :]).strip(_WHITESPACE):
        raise AgeArmorError("there is data after the armor's closing line")
    body = lines[1:end_index]
    for number, line in enumerate(body, start=1):
        final = number == len(body)
        if not line:
            raise AgeArmorError(f"armor line {number} is empty")
        if len(line) > _COLUMNS:
            raise AgeArmorError(f"armor line {number} is longer than 64 columns")
        if not final and len(line) != _COLUMNS:
            raise AgeArmorError(f"armor line {number} is short but is not the last line")
        if len(line) % 4 or _PADDED_LINE.fullmatch(line) is None:
            raise AgeArmorError(f"armor line {number} is not padded base64")
    encoded = b"".join(body)
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise AgeArmorError("the armor is not valid base64") from None
    if base64.b64encode(decoded) != encoded:
        raise AgeArmorError("the armor is not canonical base64")
    return decoded
