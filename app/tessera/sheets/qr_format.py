"""The text carried by a sheet's QR codes, version ``TSR1``; ``docs/FORMAT.md`` has it.

Two kinds of code, both in the QR *alphanumeric* character set (``0-9 A-Z``, space and
``$%*+-./:``) so they encode at 5.5 bits a character and stay small enough for worn
paper:

    TSR1:S:<RECORD-ID>:<VERSION>:<EPOCH>:<SHARE-KEY>:<SERIAL>:<WORD> <WORD> … (33)
    TSR1:M:<RECORD-ID>:<VERSION>:<EPOCH>:<SEQ>/<TOTAL>:<DIGEST>:<BASE32>

The share code holds one custodian's SLIP-39 words (uppercase). The ``M`` codes split
``u32be(len(manifest)) ‖ manifest ‖ ciphertext`` into numbered chunks, each the RFC
4648 base32 of its bytes without padding; ``DIGEST`` is the first 8 bytes of SHA-256
of that whole blob in uppercase hex, the same on every chunk, so chunks of different
data never mix and the reassembled blob is checked before it is parsed. Parsing is
strict: one spelling per value, nothing extra.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re
from dataclasses import dataclass

from tessera.core.manifest import check_record_id
from tessera.core.slip39 import WORDS_PER_SHARE, resolve_word
from tessera.sheets.errors import SheetCodeInvalid

PREFIX = "TSR1"
SHARE_TAG = "S"
DATA_TAG = "M"
DIGEST_BYTES = 8
MAX_TOTAL = 999
# 555 bytes → 888 base32 characters: with the ~80-character header this fits a
# version-20 QR code at error-correction level M (970 alphanumeric characters).
CHUNK_BYTES = 555
MAX_BLOB = CHUNK_BYTES * MAX_TOTAL

_NUMBER = r"[1-9][0-9]{0,9}"
_UUID_UPPER = r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"
_SERIAL = r"SH-[A-Z2-7]{4}-[A-Z2-7]{4}"
_SHARE = re.compile(
    rf"TSR1:S:(?P<record>{_UUID_UPPER}):(?P<version>{_NUMBER}):(?P<epoch>{_NUMBER}):"
    rf"G(?P<group>[0-9]|1[0-5])M(?P<member>[0-9]|1[0-5]):(?P<serial>{_SERIAL}):"
    r"(?P<words>[A-Z]+(?: [A-Z]+)*)")
_DATA = re.compile(
    rf"TSR1:M:(?P<record>{_UUID_UPPER}):(?P<version>{_NUMBER}):(?P<epoch>{_NUMBER}):"
    rf"(?P<seq>{_NUMBER})/(?P<total>{_NUMBER}):(?P<digest>[0-9A-F]{{16}}):"
    r"(?P<data>[A-Z2-7]+)")
SERIAL_PATTERN = re.compile(_SERIAL)


class CodeKind(enum.StrEnum):
    SHARE = "share"
    DATA = "data"


@dataclass(frozen=True)
class SetId:
    """Which record version and share set a code belongs to."""

    record_id: str
    version: int
    epoch: int

    def describe(self) -> str:
        return f"record {self.record_id} version {self.version} (epoch {self.epoch})"


@dataclass(frozen=True)
class ShareCode:
    """A decoded share code. ``words`` is secret: show it to nobody, log it nowhere."""

    set_id: SetId
    share_key: str
    serial: str
    words: tuple[str, ...]

    @property
    def mnemonic(self) -> str:
        return " ".join(self.words)

    def __repr__(self) -> str:  # never print the words in a traceback or a log
        return f"ShareCode({self.set_id!r}, {self.share_key!r}, {self.serial!r}, words=…)"


@dataclass(frozen=True)
class DataChunk:
    """One numbered chunk (1-based ``seq``) of the manifest + ciphertext blob."""

    set_id: SetId
    seq: int
    total: int
    digest: str  # 16 uppercase hex digits
    data: bytes


# -- encoding ----------------------------------------------------------------------------

def encode_share(set_id: SetId, share_key: str, serial: str, mnemonic: str) -> str:
    """The share code's text for ``mnemonic`` (normal-form SLIP-39 words)."""
    words = mnemonic.split()
    if len(words) != WORDS_PER_SHARE or any(resolve_word(w) != w for w in words):
        raise ValueError("a share code holds exactly 33 SLIP-39 words in normal form")
    if not SERIAL_PATTERN.fullmatch(serial):
        raise ValueError(f"not a sheet serial: {serial!r}")
    key = re.fullmatch(r"g([0-9]|1[0-5])m([0-9]|1[0-5])", share_key)
    if key is None:
        raise ValueError(f"not a share key: {share_key!r}")
    return (f"{PREFIX}:{SHARE_TAG}:{_header(set_id)}:{share_key.upper()}:{serial}:"
            + " ".join(words).upper())


def pack_blob(manifest_bytes: bytes, ciphertext: bytes) -> bytes:
    return len(manifest_bytes).to_bytes(4, "big") + manifest_bytes + ciphertext


def unpack_blob(blob: bytes) -> tuple[bytes, bytes]:
    if len(blob) < 4:
        raise SheetCodeInvalid("the recovery data is too short")
    size = int.from_bytes(blob[:4], "big")
    if size == 0 or size > len(blob) - 4:
        raise SheetCodeInvalid("the recovery data's manifest length is impossible")
    return blob[4:4 + size], blob[4 + size:]


def blob_digest(blob: bytes) -> str:
    return hashlib.sha256(blob).digest()[:DIGEST_BYTES].hex().upper()


def encode_data(set_id: SetId, manifest_bytes: bytes, ciphertext: bytes,
                chunk_bytes: int = CHUNK_BYTES) -> tuple[str, ...]:
    """The ``M`` codes for a version's manifest and payload ciphertext, in order."""
    if chunk_bytes <= 0 or chunk_bytes % 5:
        raise ValueError("chunk size must be a positive multiple of 5 (no base32 padding)")
    blob = pack_blob(manifest_bytes, ciphertext)
    total = -(-len(blob) // chunk_bytes)
    if total > MAX_TOTAL:
        raise ValueError(f"the recovery data needs {total} QR codes; at most {MAX_TOTAL}")
    digest = blob_digest(blob)
    codes = []
    for index in range(total):
        part = blob[index * chunk_bytes:(index + 1) * chunk_bytes]
        text = base64.b32encode(part).decode("ascii").rstrip("=")
        codes.append(f"{PREFIX}:{DATA_TAG}:{_header(set_id)}:{index + 1}/{total}:{digest}:{text}")
    return tuple(codes)


def _header(set_id: SetId) -> str:
    check_record_id(set_id.record_id)
    return f"{set_id.record_id.upper()}:{set_id.version}:{set_id.epoch}"


# -- parsing -----------------------------------------------------------------------------

def parse_code(text: str, source: str = "") -> ShareCode | DataChunk:
    """Parse one QR code's text strictly; :class:`SheetCodeInvalid` names what is wrong
    (never the words)."""
    if not text.startswith(PREFIX + ":"):
        if text.startswith("TSR"):
            raise SheetCodeInvalid(f"a sheet code of an unknown format version "
                                   f"({text.split(':', 1)[0][:8]})", source)
        raise SheetCodeInvalid("not a Tessera sheet code", source)
    tag = text[len(PREFIX) + 1:len(PREFIX) + 2]
    if tag == SHARE_TAG:
        return _parse_share(text, source)
    if tag == DATA_TAG:
        return _parse_data(text, source)
    raise SheetCodeInvalid("a Tessera code of an unknown kind", source)


def _set_id(match: re.Match[str]) -> SetId:
    return SetId(match["record"].lower(), int(match["version"]), int(match["epoch"]))


def _parse_share(text: str, source: str) -> ShareCode:
    match = _SHARE.fullmatch(text)
    if match is None:
        raise SheetCodeInvalid("a share code with a malformed header or words", source)
    words = tuple(match["words"].lower().split(" "))
    if len(words) != WORDS_PER_SHARE:
        raise SheetCodeInvalid(f"a share code with {len(words)} words instead of "
                               f"{WORDS_PER_SHARE}", source)
    for position, word in enumerate(words, start=1):
        if resolve_word(word) != word:
            raise SheetCodeInvalid(f"word {position} of the share code is not a SLIP-39 word",
                                   source)
    group, member = int(match["group"]), int(match["member"])
    return ShareCode(_set_id(match), f"g{group}m{member}", match["serial"], words)


def _parse_data(text: str, source: str) -> DataChunk:
    match = _DATA.fullmatch(text)
    if match is None:
        raise SheetCodeInvalid("a recovery-data code with a malformed header", source)
    seq, total = int(match["seq"]), int(match["total"])
    if not 1 <= seq <= total <= MAX_TOTAL:
        raise SheetCodeInvalid(f"a recovery-data code numbered {seq} of {total}", source)
    encoded = match["data"]
    padded = encoded + "=" * (-len(encoded) % 8)
    try:
        data = base64.b32decode(padded, casefold=False)
    except (binascii.Error, ValueError):
        raise SheetCodeInvalid(f"recovery-data chunk {seq} of {total} is not valid base32",
                               source) from None
    if base64.b32encode(data).decode("ascii").rstrip("=") != encoded:
        raise SheetCodeInvalid(f"recovery-data chunk {seq} of {total} is not canonical base32",
                               source)
    if not data:
        raise SheetCodeInvalid(f"recovery-data chunk {seq} of {total} is empty", source)
    return DataChunk(_set_id(match), seq, total, match["digest"], data)
