"""The textual age header: version line, recipient stanzas, and the MAC line.

Parsing follows the ABNF of the age v1 spec exactly: ``-> `` argument lines of
VCHAR arguments, bodies of canonical unpadded base64 wrapped at 64 columns and ended
by a shorter (possibly empty) line, and ``--- `` followed by a 32-byte MAC.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256

from .b64 import decode_raw, encode_raw
from .errors import AgeHeaderError
from .primitives import hkdf_sha256
from .stanza import Stanza, is_valid_argument

VERSION_PREFIX = b"age-encryption.org/"
VERSION_LINE = b"age-encryption.org/v1\n"
_STANZA_PREFIX = b"-> "
_MAC_MARK = b"---"
_MAC_PREFIX = b"--- "
_COLUMNS = 64
_MAC_SIZE = 32


@dataclass(frozen=True)
class Header:
    """A parsed header and where the payload starts in the file."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes
    payload_offset: int


def _read_line(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.find(b"\n", pos)
    if end < 0:
        raise AgeHeaderError("the header ends before its MAC line")
    return data[pos:end], end + 1


def _text(raw: bytes) -> str:
    # latin-1 maps every byte to one character, so later checks see bytes >= 0x80
    # as invalid characters instead of failing to decode.
    return raw.decode("latin-1")


def _parse_stanza(data: bytes, pos: int) -> tuple[Stanza, int]:
    line, pos = _read_line(data, pos)
    if not line.startswith(_STANZA_PREFIX):
        raise AgeHeaderError("malformed header line: expected a stanza or the MAC line")
    args = _text(line[len(_STANZA_PREFIX) :]).split(" ")
    if not all(map(is_valid_argument, args)):
        raise AgeHeaderError("malformed stanza: arguments must be non-empty printable ASCII")
    body = bytearray()
    while True:
        line, pos = _read_line(data, pos)
        if len(line) > _COLUMNS:
            raise AgeHeaderError("malformed stanza: body line longer than 64 columns")
        body += decode_raw(_text(line), "stanza body")
        if len(line) < _COLUMNS:
            return Stanza(args[0], tuple(args[1:]), bytes(body)), pos


def parse_header(data: bytes) -> Header:
    """Parse the header of a binary age file; the MAC is returned, not checked."""
    if not data:
        raise AgeHeaderError("the file is empty")
    line, pos = _read_line(data, 0)
    if line + b"\n" != VERSION_LINE:
        if line.startswith(VERSION_PREFIX):
            raise AgeHeaderError("unsupported age format version")
        raise AgeHeaderError("not an age file: the version line is missing")
    stanzas: list[Stanza] = []
    while not data.startswith(_MAC_MARK, pos):
        stanza, pos = _parse_stanza(data, pos)
        stanzas.append(stanza)
    mac_start = pos
    line, pos = _read_line(data, pos)
    if not line.startswith(_MAC_PREFIX):
        raise AgeHeaderError("malformed MAC line")
    mac = decode_raw(_text(line[len(_MAC_PREFIX) :]), "header MAC")
    if len(mac) != _MAC_SIZE:
        raise AgeHeaderError("header MAC has the wrong length")
    if not stanzas:
        raise AgeHeaderError("the header has no recipient stanzas")
    return Header(tuple(stanzas), mac, data[: mac_start + len(_MAC_MARK)], pos)


def compute_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """HMAC-SHA-256 over the header up to and including ``---``, keyed from the file key."""
    key = hkdf_sha256(file_key, b"", b"header")
    return hmac.new(key, mac_input, sha256).digest()


def verify_mac(file_key: bytes, header: Header) -> bool:
    """True when the header MAC matches, compared in constant time."""
    return hmac.compare_digest(compute_mac(file_key, header.mac_input), header.mac)


def encode_stanza(stanza: Stanza) -> bytes:
    """Serialize one stanza, always ending the body with a line shorter than 64 columns."""
    encoded = encode_raw(stanza.body)
    lines = [encoded[i : i + _COLUMNS] for i in range(0, len(encoded), _COLUMNS)]
    if not lines or len(lines[-1]) == _COLUMNS:
        lines.append("")
    arg_line = " ".join((stanza.type, *stanza.args))
    return ("-> " + arg_line + "\n" + "\n".join(lines) + "\n").encode("ascii")


def encode_header(stanzas: Sequence[Stanza], file_key: bytes) -> bytes:
    """Serialize a complete header with its MAC."""
    mac_input = VERSION_LINE + b"".join(encode_stanza(s) for s in stanzas) + _MAC_MARK
    mac = compute_mac(file_key, mac_input)
    return mac_input + b" " + encode_raw(mac).encode("ascii") + b"\n"
