"""SLIP-39 through ``shamir-mnemonic``: split the DEK, read typed words, combine.

Tessera always splits a random 256-bit data key, so every share is 33 words. Shares
are made without the "extendable" flag and without a passphrase, so any SLIP-39
tool (Trezor, the reference ``shamir`` CLI) can combine them.

Typed words get help a person under stress needs: four letters identify a word,
an unknown word is named by position, and when the checksum fails we search for the
one word (or the two swapped neighbours) that would make it valid, so the message
can say "check word 14" instead of "invalid".
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import shamir_mnemonic
from shamir_mnemonic import EncryptedMasterSecret, MnemonicError, Share
from shamir_mnemonic import shamir as _shamir
from shamir_mnemonic.rs1024 import _polymod
from shamir_mnemonic.wordlist import WORD_INDEX_MAP as WORD_INDEX_MAP
from shamir_mnemonic.wordlist import WORDLIST as WORDLIST

from tessera.core.errors import InvalidMnemonic

WORDS_PER_SHARE = 33  # for a 256-bit secret
ITERATION_EXPONENT = 1
_CUSTOMIZATION = b"shamir"  # the checksum customisation of non-extendable shares
_rng_lock = threading.Lock()

RandomSource = Callable[[int], bytes]


@dataclass(frozen=True)
class ShareInfo:
    """What the words say about themselves (nothing secret)."""

    identifier: int
    group_index: int
    group_threshold: int
    group_count: int
    member_index: int
    member_threshold: int
    iteration_exponent: int
    extendable: bool


@dataclass(frozen=True)
class SplitResult:
    identifier: int
    iteration_exponent: int
    extendable: bool
    mnemonics: tuple[tuple[str, ...], ...]  # per group, per member


def split_secret(secret: bytes | bytearray, group_threshold: int,
                 groups: Sequence[tuple[int, int]], rng: RandomSource = os.urandom) -> SplitResult:
    """Split ``secret`` into SLIP-39 mnemonics; ``groups`` = (threshold, count) pairs.

    ``rng`` feeds every random choice (identifier and polynomial coefficients), so
    tests can be deterministic.
    """
    identifier = int.from_bytes(rng(2), "big") & 0x7FFF
    ems = EncryptedMasterSecret.from_master_secret(
        bytes(secret), b"", identifier, False, ITERATION_EXPONENT)
    with _rng_lock:
        # shamir-mnemonic draws polynomial coefficients from a module-level source it
        # documents as replaceable for deterministic testing; swap it only under a lock.
        saved = _shamir.RANDOM_BYTES
        _shamir.RANDOM_BYTES = rng
        try:
            shares = _shamir.split_ems(group_threshold, list(groups), ems)
        except ValueError as exc:
            raise InvalidMnemonic(f"cannot split: {exc}") from None
        finally:
            _shamir.RANDOM_BYTES = saved
    return SplitResult(identifier, ITERATION_EXPONENT, False,
                       tuple(tuple(s.mnemonic() for s in group) for group in shares))


def combine(mnemonics: Sequence[str], passphrase: bytes = b"") -> bytearray:
    """Rebuild the secret from enough mnemonics (a ``bytearray`` to wipe after use).

    Tessera never sets a passphrase; the parameter exists for the reference vectors.
    """
    try:
        return bytearray(shamir_mnemonic.combine_mnemonics(list(mnemonics), passphrase))
    except MnemonicError as exc:
        raise InvalidMnemonic(str(exc)) from None


def share_info(mnemonic: str) -> ShareInfo:
    share = parse_share(mnemonic)
    return ShareInfo(share.identifier, share.group_index, share.group_threshold,
                     share.group_count, share.index, share.member_threshold,
                     share.iteration_exponent, share.extendable)


def parse_share(mnemonic: str) -> Share:
    words = normalize_words(mnemonic)
    try:
        return Share.from_mnemonic(" ".join(words))
    except MnemonicError:
        raise InvalidMnemonic(*diagnose(words)) from None


# -- typed words -------------------------------------------------------------------

def complete_word(prefix: str) -> list[str]:
    """Every SLIP-39 word starting with ``prefix`` (four letters always pick one)."""
    prefix = prefix.strip().lower()
    if not prefix:
        return []
    return [w for w in WORDLIST if w.startswith(prefix)]


def resolve_word(typed: str) -> str | None:
    """The word meant by ``typed``: the exact word, or its unique prefix of ≥ 4 letters."""
    typed = typed.strip().lower()
    if typed in WORD_INDEX_MAP:
        return typed
    if len(typed) >= 4:
        options = complete_word(typed)
        if len(options) == 1:
            return options[0]
    return None


def normalize_words(text: str) -> list[str]:
    """Resolve each typed word; unknown words raise naming their position."""
    typed = text.replace(",", " ").split()
    words = []
    for position, item in enumerate(typed, start=1):
        word = resolve_word(item.rstrip("."))
        if word is None:
            # Strip a leading "12." numbering a person may copy from the sheet grid.
            if item.rstrip(".").isdigit():
                continue
            raise InvalidMnemonic(f"word {position} is not a SLIP-39 word", position)
        words.append(word)
    return words


def diagnose(words: Sequence[str]) -> tuple[str, int | None]:
    """Explain why valid words do not make a share; name the likely wrong word."""
    count = len(words)
    if count != WORDS_PER_SHARE:
        return (f"a share has {WORDS_PER_SHARE} words; {count} were given", None)
    indices = [WORD_INDEX_MAP[w] for w in words]
    position = _single_error_position(indices)
    if position is not None:
        return (f"the checksum does not match — check word {position + 1}", position + 1)
    swapped = _swapped_neighbours(indices)
    if swapped is not None:
        return (f"the checksum does not match — words {swapped + 1} and {swapped + 2} "
                "may be swapped", swapped + 1)
    return ("the checksum does not match — several words are wrong, or this is not "
            "a Tessera share", None)


def _valid(indices: Sequence[int]) -> bool:
    return bool(_polymod(list(_CUSTOMIZATION) + list(indices)) == 1)


def _basis() -> list[list[int]]:
    """basis[d][b]: effect on the checksum residue of flipping bit b, d words from the end."""
    table = []
    for distance in range(WORDS_PER_SHARE):
        row = []
        for bit in range(10):
            chk = 0
            for value in [1 << bit] + [0] * distance:
                top = chk >> 20
                chk = (chk & 0xFFFFF) << 10 ^ value
                for i, gen in enumerate(_GEN):
                    if (top >> i) & 1:
                        chk ^= gen
            row.append(chk)
        table.append(row)
    return table


_GEN = (0xE0E040, 0x1C1C080, 0x3838100, 0x7070200, 0xE0E0009, 0x1C0C2412, 0x38086C24,
        0x3090FC48, 0x21B1F890, 0x3F3F120)
_BASIS: list[list[int]] | None = None


def _single_error_position(indices: Sequence[int]) -> int | None:
    """The one position where changing the word makes the checksum valid, if unique."""
    global _BASIS
    if _BASIS is None:
        _BASIS = _basis()
    residue = _polymod(list(_CUSTOMIZATION) + list(indices)) ^ 1
    found = []
    for position in range(len(indices)):
        row = _BASIS[len(indices) - 1 - position]
        # The residue change is linear in the XOR delta: walk all deltas in Gray order.
        effect = 0
        for step in range(1, 1024):
            effect ^= row[(step & -step).bit_length() - 1]
            if effect == residue:
                found.append(position)
                break
    return found[0] if len(found) == 1 else None


def _swapped_neighbours(indices: Sequence[int]) -> int | None:
    for i in range(len(indices) - 1):
        trial = list(indices)
        trial[i], trial[i + 1] = trial[i + 1], trial[i]
        if trial != list(indices) and _valid(trial):
            return i
    return None
