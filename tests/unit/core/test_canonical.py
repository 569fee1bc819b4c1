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
