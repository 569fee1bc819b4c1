"""Manifests, policy values, typed share words and TSR1 sheet codes from outside: a
clean error or the right answer, never an internal error."""

from __future__ import annotations

import json

from fuzzing import clean, fuzz, json_paths, json_values, mutated, mutated_text
from hypothesis import given
from hypothesis import strategies as st

from helpers.sealed import make_sealed
from tessera.core import slip39
from tessera.core.manifest import Manifest
from tessera.core.policy import Policy, parse_setting
from tessera.core.quorum import QuorumSession
from tessera.core.slip39 import WORDLIST
from tessera.sheets.collect import SheetReader
from tessera.sheets.qr_format import SetId, encode_data, encode_share, parse_code

FIXTURE = make_sealed(b"fuzzed secret value", k=2, n=3)
SEALED = FIXTURE.sealed
MANIFEST_BYTES = SEALED.manifest_bytes
MANIFEST_JSON = json.loads(MANIFEST_BYTES)
MNEMONICS = dict(FIXTURE.mnemonics)
SET_ID = SetId(SEALED.manifest.record_id, 1, 1)
SHARE_CODES = [encode_share(SET_ID, key, f"SH-AAA{'ABCDEFGH'[i]}-BBBB", words)
               for i, (key, words) in enumerate(sorted(MNEMONICS.items()))]
DATA_CODES = list(encode_data(SET_ID, MANIFEST_BYTES, SEALED.ciphertext))


# -- manifests ---------------------------------------------------------------------------

@fuzz(quick=150)
@given(mutated(MANIFEST_BYTES))
def test_a_damaged_manifest_parses_to_itself_or_is_refused(data: bytes) -> None:
    result = clean(lambda: Manifest.from_bytes(data))
    if isinstance(result, Manifest):
        assert result.to_bytes() == data  # canonical: only the exact bytes parse


MANIFEST_PATHS = json_paths(MANIFEST_JSON)


@fuzz(quick=200)
@given(st.sampled_from(MANIFEST_PATHS), json_values)
def test_any_manifest_field_with_any_value_is_checked(path: tuple[object, ...],
                                                      value: object) -> None:
    document = json.loads(MANIFEST_BYTES)
    target = document
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    data = json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
    clean(lambda: Manifest.from_bytes(data))


# -- policy values -----------------------------------------------------------------------

POLICY_KEYS = [*Policy().to_json().keys(), "unknown", ""]


@fuzz(quick=150)
@given(st.sampled_from(POLICY_KEYS), st.text(max_size=30))
def test_policy_settings_typed_on_the_command_line(key: str, text: str) -> None:
    value = clean(lambda: parse_setting(key, text))
    if not isinstance(value, Exception):
        clean(lambda: Policy.from_json({**Policy().to_json(), key: value}))


@fuzz(quick=150)
@given(st.dictionaries(st.sampled_from(POLICY_KEYS), json_values, max_size=4))
def test_policy_documents(overrides: dict[str, object]) -> None:
    result = clean(lambda: Policy().with_overrides(overrides))
    if isinstance(result, Policy):
        assert Policy.from_json(result.to_json()) == result


# -- typed share words -------------------------------------------------------------------

words = st.sampled_from(WORDLIST)
KEY, MNEMONIC = sorted(MNEMONICS.items())[0]


@fuzz(quick=150)
@given(st.one_of(st.text(max_size=200), mutated_text(MNEMONIC),
                 st.lists(words, min_size=0, max_size=40).map(" ".join)))
def test_typed_words(text: str) -> None:
    clean(lambda: slip39.normalize_words(text))
    info = clean(lambda: slip39.share_info(text))
    if not isinstance(info, Exception):
        assert 0 <= info.iteration_exponent <= 15


@fuzz(quick=100)
@given(st.data())
def test_a_quorum_takes_typed_words_or_refuses_them_without_losing_progress(
        data: st.DataObject) -> None:
    session = QuorumSession(SEALED.manifest)
    entries = sorted(SEALED.manifest.shares, key=lambda e: e.key)
    first = entries[0]
    session.offer(first.custodian_id, MNEMONICS[first.key], method="paper")
    second = entries[1]
    typed = data.draw(st.one_of(mutated_text(MNEMONICS[second.key]),
                                st.sampled_from(list(MNEMONICS.values())),
                                st.lists(words, min_size=33, max_size=33).map(" ".join)))
    before = len(session.contributions)
    result = clean(lambda: session.offer(second.custodian_id, typed, method="paper"))
    if isinstance(result, Exception):
        assert len(session.contributions) == before


# -- TSR1 sheet codes --------------------------------------------------------------------

@fuzz(quick=200)
@given(st.one_of(st.text(max_size=300),
                 st.sampled_from(SHARE_CODES + DATA_CODES).flatmap(mutated_text)))
def test_one_sheet_code(text: str) -> None:
    clean(lambda: parse_code(text, "scan.png"))


@fuzz(quick=100)
@given(st.data())
def test_a_set_of_chunks_reassembles_exactly_or_is_refused(data: st.DataObject) -> None:
    codes = list(DATA_CODES)
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(codes) - 1))
        action = data.draw(st.sampled_from(["mutate", "drop", "duplicate", "swap"]))
        if action == "mutate":
            codes[at] = data.draw(mutated_text(codes[at]))
        elif action == "drop" and len(codes) > 1:
            del codes[at]
        elif action == "duplicate":
            codes.append(codes[at])
        else:
            codes[at], codes[0] = codes[0], codes[at]
    reader = SheetReader()
    for code in codes:
        clean(lambda code=code: reader.add_text(code, "scan.png"))  # type: ignore[misc]
    result = clean(reader.recovery_data)
    if not isinstance(result, Exception):
        assert result.manifest_bytes == MANIFEST_BYTES
        assert result.ciphertext == SEALED.ciphertext
