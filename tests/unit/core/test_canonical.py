"""Canonical JSON: ``dumps`` gives exactly what ``json.dumps`` with the canonical options
gives (it calls the same C encoder, built once), ``loads`` takes back exactly that, and
what is not canonical data is refused the same way."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.core import canonical
from tessera.core.errors import FormatError

SAFE = 2**53 - 1
scalars = (st.none() | st.booleans() | st.integers(-SAFE, SAFE)
           | st.text(st.characters(exclude_categories=("Cs",))))  # UTF-8 cannot hold lone surrogates
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=30)


def reference(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(values)
def test_dumps_is_json_dumps_with_the_canonical_options(value: Any) -> None:
    data = canonical.dumps(value)
    assert data == reference(value)
    assert canonical.loads(data) == value


@pytest.mark.parametrize("text", ["", "é", "\u2028", "\x00\x1f\x7f", '"\\/', "𝄞", "\ufeff"])
def test_every_escape_as_json_dumps_writes_it(text: str) -> None:
    value = {text: [text, {"b": text, "a": 1}]}
    assert canonical.dumps(value) == reference(value)


@pytest.mark.parametrize(("value", "why"), [
    (1.5, "floating-point"), ({"a": [2**53]}, "safe range"), ({1: "x"}, "keys must be strings"),
    ({"a": {1, 2}}, "cannot be encoded"), (float("nan"), "floating-point"),
])
def test_what_is_not_canonical_data_is_refused(value: Any, why: str) -> None:
    with pytest.raises(FormatError, match=why):
        canonical.dumps(value)


def test_without_the_c_encoder_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"z": ["é", 1, None, True], "a": {"b": "\n"}}
    fast = canonical.dumps(value)
    monkeypatch.setattr(canonical, "_ENCODE", None)
    assert canonical.dumps(value) == fast == reference(value)


# -- the compiled judge (msgspec) ---------------------------------------------------------
# loads() and object_text() first ask msgspec: decode, encode with sorted keys, compare.
# Its "yes" is sound only if msgspec encodes every value its decoder can give exactly as
# dumps() does; its "no" only sends the text on to the stdlib's scanner. So: the encoders
# are held to each other, and every verdict to the stdlib's alone, on hostile text too.

def stdlib_loads(data: bytes) -> Any:
    """canonical.loads with the compiled judge taken away (the stdlib decides alone)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(canonical, "_compiled", None)
        return canonical.loads(data)


def verdict(load: Any, data: bytes) -> tuple[str, Any]:
    try:
        return "ok", load(data)
    except FormatError:
        return "refused", None


@pytest.fixture(autouse=True)
def _compiled_judge() -> None:
    canonical.expect(canonical._WORTH_BUILDING)  # as a loop over many texts does


def test_the_compiled_judge_is_there() -> None:
    """msgspec is a dependency: without it the tests below compare the stdlib with itself."""
    assert canonical._compiled is not None


def test_only_a_loop_over_many_texts_builds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(canonical, "_compiled", None)
    canonical.expect(canonical._WORTH_BUILDING - 1)
    assert canonical._compiled is None
    assert canonical.loads(b'{"a":1}') == {"a": 1}  # the stdlib judges meanwhile
    canonical.expect(canonical._WORTH_BUILDING)
    assert canonical._compiled is not None


any_text = st.text(st.characters())  # lone surrogates included: both encoders refuse them
any_value = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE, SAFE) | any_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(any_text, inner, max_size=5),
    max_leaves=40)


@settings(max_examples=1500, deadline=None)
@given(any_value)
def test_msgspec_encodes_every_value_its_decoder_gives_as_dumps_does(value: Any) -> None:
    judge = canonical._compiled
    assert judge is not None

    def ours() -> bytes | None:
        try:
            return canonical.dumps(value)
        except UnicodeEncodeError:
            return None

    try:
        theirs: bytes | None = judge.encode(value)
    except judge.errors:
        theirs = None
    assert theirs == ours()


def shuffled_json(value: Any, options: dict[str, Any]) -> bytes:
    return json.dumps(value, **options).encode("utf-8")


json_options = st.fixed_dictionaries({}, optional={
    "sort_keys": st.booleans(), "ensure_ascii": st.booleans(), "indent": st.sampled_from([None, 0, 1]),
    "separators": st.sampled_from([(",", ":"), (", ", ": "), (",", ": ")])})
# Bytes near canonical text: other encodings of the same value, and small edits of it.
near_canonical = (
    st.builds(shuffled_json, values, json_options)
    | st.builds(lambda v, at, junk: (d := canonical.dumps(v))[:at] + junk + d[at:],
                values, st.integers(0, 60),
                st.sampled_from([b" ", b"\n", b",", b'"', b"\\", b"\\u0041", b"-0", b"1.0", b"e1",
                                 b"\xc0\xaf", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00", b"{}",
                                 b'"a":1,', b"[", b"]", b"9007199254740992"]))
    | st.binary(max_size=40))


@settings(max_examples=1500, deadline=None)
@given(near_canonical)
def test_every_verdict_is_the_stdlibs(data: bytes) -> None:
    assert verdict(canonical.loads, data) == verdict(stdlib_loads, data)


@pytest.mark.parametrize("data", [
    b'{"a":1,"b":"x"}', b'{"b":1,"a":2}', b'{"a": 1}', b' {"a":1}', b'{"a":1}\n', b'{"a":1.5}',
    b'{"a":1e2}', b'{"a":1E2}', b'{"a":0.0}', b'{"a":9007199254740992}',
    b'{"a":-9007199254740992}', b'{"a":9007199254740991}', b'{"a":-9007199254740991}',
    b'{"a":123456789012345678901234567890}', b'{"a":-0}', b'{"a":01}', b'{"a":1,"a":1}',
    b'{"a":1,"a":2}', b'{"a":{"b":1,"b":1}}', b'{"a":"\\u00e9"}', b'{"a":"\xc3\xa9"}',
    b'{"a":"\\/"}', b'{"a":"\\u001f"}', b'{"a":"\\u001F"}', b'{"a":"\\u000a"}', b'{"a":"\\n"}',
    b'{"a":"\x00"}', b'{"a":"\\u0000"}', b'{"a":"\x7f"}', b'{"a":"\\u007f"}',
    b'{"a":"\\ud800"}', b'{"a":"\\udc00"}', b'{"a":"\\ud83d\\ude00"}', b'{"a":"\xf0\x9f\x98\x80"}',
    b'{"a":"\xed\xa0\x80"}', b'{"a":"\xc0\xaf"}', b'\xef\xbb\xbf{"a":1}', b'{"a":NaN}',
    b'{"a":Infinity}', b'{"a":true}', b'{"a":True}', b'[1]', b'"x"', b'1', b'null', b'{}', b'',
    b'{"a":1}{"b":2}', b'{"\xc3\xa9":1,"z":2}', b'{"z":1,"\xc3\xa9":2}',
    b'{"\xef\xbf\xbf":1,"\xf0\x9f\x98\x80":2}', b'{"\xf0\x9f\x98\x80":1,"\xef\xbf\xbf":2}',
    b'[' * 13 + b']' * 13, b'[' * 40 + b'1' + b']' * 40, b'[' * 40 + b' 1' + b']' * 40,
    b'{"a":' * 30 + b'{}' + b'}' * 30, b'{"a":' * 30 + b'{"b":1,"a":1}' + b'}' * 30,
])
def test_hostile_text_gets_the_stdlibs_verdict(data: bytes) -> None:
    expected = verdict(stdlib_loads, data)
    assert verdict(canonical.loads, data) == expected
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    assert canonical.object_text(text) is (expected[0] == "ok" and type(expected[1]) is dict)


def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_deep_canonical_text_is_judged_by_the_scanner() -> None:
    """Nesting past what the compiled judge follows is not refused: the stdlib decides."""
    judge = canonical._compiled
    assert judge is not None
    for depth in (canonical._DEPTH + 1, 40):
        data = canonical.dumps(nested(depth))
        assert judge.judge(data) == (False, None)
        assert canonical.loads(data) == stdlib_loads(data) == nested(depth)


def test_what_tessera_writes_is_judged_by_the_compiled_judge_alone() -> None:
    """A statement's changes nest five deep, the deepest Tessera writes."""
    judge = canonical._compiled
    assert judge is not None
    body = {"changes": [{"k": ["r1"], "row": {"groups": [[1, 2]]}, "t": "records"}]}
    assert judge.judge(canonical.dumps(body)) == (True, body)
    assert judge.judge(canonical.dumps(nested(canonical._DEPTH)))[0]


def test_canonical_text_is_accepted_by_the_compiled_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a verify of a long log spends its time on: the compiled judge says yes alone."""
    scanned: list[str] = []
    original = canonical._scanned
    monkeypatch.setattr(canonical, "_scanned", lambda text: scanned.append(text) or original(text))
    data = canonical.dumps({"label": "Service account 00003", "epoch": 1, "nhi": {"b": [True]}})
    assert canonical.loads(data)["epoch"] == 1
    assert canonical.object_text(data.decode())
    assert scanned == []
    assert not canonical.object_text('{"b":1,"a":2}')
    assert scanned == ['{"b":1,"a":2}']


def test_without_msgspec_the_stdlib_judges(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise ImportError("No module named 'msgspec'")

    monkeypatch.setattr(canonical, "_compiled", None)
    monkeypatch.setattr(canonical, "_missing", False)
    monkeypatch.setattr(canonical, "_Compiled", missing)
    canonical.expect(10**6)
    assert canonical._compiled is None
    assert canonical._missing  # not tried again
    assert canonical.loads(b'{"a":[1,"\xc3\xa9"]}') == {"a": [1, "é"]}
    with pytest.raises(FormatError, match="duplicate key"):
        canonical.loads(b'{"a":1,"a":1}')
    with pytest.raises(FormatError, match="not in canonical form"):
        canonical.loads(b'{"a": 1}')
    assert canonical.object_text('{"a":1}')
    assert not canonical.object_text('[1]')
