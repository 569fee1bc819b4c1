"""The native scrypt (passphrase) recipient type.

An scrypt stanza must be alone in its header: a passphrase implies that only its
holder wrote the file, which another recipient in the same header would break.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .b64 import decode_raw, encode_raw
from .errors import AgeHeaderError
from .primitives import check_wrapped_size, open_file_key, seal_file_key
from .stanza import Rng, Stanza

STANZA_TYPE = "scrypt"
MAX_WORK_FACTOR = 30
_SALT_LABEL = b"age-encryption.org/v1/scrypt"
_SALT_SIZE = 16
_WORK_FACTOR = re.compile(r"[1-9][0-9]*")


def _wrap_key(passphrase: bytes, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=_SALT_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    return kdf.derive(passphrase)


def _check_work_factor(work_factor: int, name: str) -> None:
    if not 1 <= work_factor <= MAX_WORK_FACTOR:
        raise ValueError(f"{name} must be between 1 and {MAX_WORK_FACTOR}")


def check_scrypt_alone(stanzas: Sequence[Stanza]) -> None:
    """Raise AgeHeaderError when an scrypt stanza shares the header with any other stanza."""
    if len(stanzas) != 1 and any(s.type == STANZA_TYPE for s in stanzas):
        raise AgeHeaderError("a passphrase-encrypted file must have no other recipients")


class ScryptRecipient:
    """Encrypt to a passphrase; ``work_factor`` is log2 of scrypt's N (18 ≈ 1 s, 256 MiB)."""

    __slots__ = ("_passphrase", "_rng", "work_factor")

    def __init__(self, passphrase: str, work_factor: int = 18, *, rng: Rng = os.urandom) -> None:
        if not passphrase:
            raise ValueError("the passphrase must not be empty")
        _check_work_factor(work_factor, "work_factor")
        self._passphrase = passphrase.encode("utf-8")
        self._rng = rng
        self.work_factor = work_factor

    def wrap(self, file_key: bytes) -> list[Stanza]:
        salt = self._rng(_SALT_SIZE)
        body = seal_file_key(_wrap_key(self._passphrase, salt, self.work_factor), file_key)
        return [Stanza(STANZA_TYPE, (encode_raw(salt), str(self.work_factor)), body)]

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self.work_factor})"


class ScryptIdentity:
    """Open passphrase-encrypted files, refusing work factors above ``max_work_factor``.

    The limit keeps a hostile file from making us spend minutes and gigabytes.
    """

    __slots__ = ("_passphrase", "max_work_factor")

    def __init__(self, passphrase: str, max_work_factor: int = 22) -> None:
        if not passphrase:
            raise ValueError("the passphrase must not be empty")
        _check_work_factor(max_work_factor, "max_work_factor")
        self._passphrase = passphrase.encode("utf-8")
        self.max_work_factor = max_work_factor

    def _work_factor(self, text: str) -> int:
        if _WORK_FACTOR.fullmatch(text) is None:
            raise AgeHeaderError(
                "scrypt work factor must be a decimal number without leading zeros"
            )
        # Compare lengths first: a huge digit string must not reach int().
        if len(text) > len(str(self.max_work_factor)) or int(text) > self.max_work_factor:
            raise AgeHeaderError("scrypt work factor is larger than allowed")
        return int(text)

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        check_scrypt_alone(stanzas)
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 2:
                raise AgeHeaderError("scrypt stanza must have exactly two arguments")
            salt = decode_raw(stanza.args[0], "scrypt salt")
            if len(salt) != _SALT_SIZE:
                raise AgeHeaderError("scrypt salt must be 16 bytes")
            work_factor = self._work_factor(stanza.args[1])
            check_wrapped_size(stanza.body, STANZA_TYPE)
            file_key = open_file_key(_wrap_key(self._passphrase, salt, work_factor), stanza.body)
            if file_key is not None:
                return file_key
        return None

    def __repr__(self) -> str:
        return f"ScryptIdentity(max_work_factor={self.max_work_factor})"
