"""SLIP-39 through shamir-mnemonic, checked against the published reference vectors."""

from __future__ import annotations

import json
import os
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.paths import vector_path
from tessera.core import slip39
from tessera.core.errors import InvalidMnemonic

VECTORS = json.loads(vector_path("slip39", "vectors.json").read_text())


@pytest.mark.parametrize("vector", VECTORS, ids=[v[0] for v in VECTORS])
def test_reference_vector(vector: list) -> None:
    _description, mnemonics, secret_hex, _xprv = vector
    # The reference vectors are made with the passphrase "TREZOR".
    if secret_hex:
        assert slip39.combine(mnemonics, b"TREZOR").hex() == secret_hex
    else:
        with pytest.raises(InvalidMnemonic):
            slip39.combine(mnemonics, b"TREZOR")


def test_dek_split_gives_33_words_any_tool_can_read() -> None:
    dek = os.urandom(32)
    result = slip39.split_secret(dek, 1, [(3, 5)])
    shares = result.mnemonics[0]
    assert len(shares) == 5
    assert all(len(s.split()) == slip39.WORDS_PER_SHARE for s in shares)
    assert not result.extendable  # readable by older SLIP-39 tools too


@settings(max_examples=15, deadline=None)
@given(k=st.integers(2, 5), extra=st.integers(0, 3), data=st.data())
def test_any_k_recover_and_k_minus_1_do_not(k: int, extra: int, data: st.DataObject) -> None:
    n = k + extra
    dek = os.urandom(32)
    shares = slip39.split_secret(dek, 1, [(k, n)]).mnemonics[0]
    subset = data.draw(st.sampled_from(list(combinations(shares, k))))
    assert bytes(slip39.combine(list(subset))) == dek
    with pytest.raises(InvalidMnemonic):
        slip39.combine(list(subset[:-1]))


def test_groups_recover_with_any_qualifying_groups() -> None:
    dek = os.urandom(32)
    groups = slip39.split_secret(dek, 2, [(2, 3), (1, 1), (2, 2)]).mnemonics
    assert bytes(slip39.combine([*groups[0][:2], groups[1][0]])) == dek
    assert bytes(slip39.combine([groups[1][0], *groups[2]])) == dek
    with pytest.raises(InvalidMnemonic):
        slip39.combine([*groups[0][:2]])


def test_deterministic_with_injected_randomness() -> None:
    counter = iter(range(10**6))

    def rng(n: int) -> bytes:
        return bytes(next(counter) % 256 for _ in range(n))

    first = slip39.split_secret(b"\x01" * 32, 1, [(2, 3)], rng=rng)
    counter = iter(range(10**6))
    second = slip39.split_secret(b"\x01" * 32, 1, [(2, 3)], rng=rng)
    assert first == second


@pytest.fixture(scope="module")
def share() -> list[str]:
    return slip39.split_secret(os.urandom(32), 1, [(2, 3)]).mnemonics[0][0].split()


@pytest.mark.parametrize("position", [1, 7, 14, 21, 33])
def test_a_mistyped_word_is_named(share: list[str], position: int) -> None:
    words = list(share)
    i = slip39.WORD_INDEX_MAP[words[position - 1]]
    words[position - 1] = slip39.WORDLIST[(i + 1) % 1024]
    with pytest.raises(InvalidMnemonic) as err:
        slip39.parse_share(" ".join(words))
    assert err.value.word_index == position
    assert f"check word {position}" in str(err.value)


def test_swapped_neighbours_are_named(share: list[str]) -> None:
    i = next(i for i in range(9, 30) if share[i] != share[i + 1])
    words = list(share)
    words[i], words[i + 1] = words[i + 1], words[i]
    with pytest.raises(InvalidMnemonic) as err:
        slip39.parse_share(" ".join(words))
    assert f"words {i + 1} and {i + 2}" in str(err.value)


def test_unknown_word_is_named_by_position_without_echoing_it(share: list[str]) -> None:
    words = list(share)
    words[4] = "qqqqq"
    with pytest.raises(InvalidMnemonic) as err:
        slip39.parse_share(" ".join(words))
    assert err.value.word_index == 5
    assert "qqqqq" not in str(err.value)


def test_four_letters_identify_a_word(share: list[str]) -> None:
    typed = " ".join(w[:4] for w in share)
    assert slip39.parse_share(typed).mnemonic() == " ".join(share)
    assert all(len(slip39.complete_word(w[:4])) == 1 for w in slip39.WORDLIST)


def test_wrong_word_count_is_explained(share: list[str]) -> None:
    with pytest.raises(InvalidMnemonic, match="33 words; 32 were given"):
        slip39.parse_share(" ".join(share[:-1]))


def test_numbering_copied_from_the_sheet_is_ignored(share: list[str]) -> None:
    typed = " ".join(f"{i}. {w}" for i, w in enumerate(share, start=1))
    assert slip39.parse_share(typed).mnemonic() == " ".join(share)
