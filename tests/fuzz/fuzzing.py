"""Shared pieces of the fuzz suite: the two hypothesis profiles, mutation strategies
and the property every parser must keep.

``make test`` runs the quick profile: a fixed, derandomised set of examples per parser
(a few seconds each), so a failure is reproducible on every machine. ``make fuzz``
sets ``TESSERA_FUZZ=long``: many more examples, freshly random each run; a failure it
finds is printed with the smallest failing input hypothesis could reduce it to, which
becomes a regression test of its own beside the tests of the code it broke, and a fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tessera.core.errors import TesseraError

T = TypeVar("T")

LONG = os.environ.get("TESSERA_FUZZ") == "long"


def fuzz(quick: int = 60, long: int = 3000) -> settings:
    """Settings for one fuzz test: ``quick`` examples in ``make test`` (derandomised, no
    example database), ``long`` with ``make fuzz``."""
    common: dict[str, Any] = {
        "deadline": None,
        "database": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                  HealthCheck.function_scoped_fixture],
    }
    if LONG:
        return settings(max_examples=long, derandomize=False, **common)
    return settings(max_examples=quick, derandomize=True, **common)


def clean(call: Callable[[], T]) -> T | TesseraError:
    """Run a parser: its result, or the TesseraError it refused with. Anything else —
    an internal error — propagates and fails the test."""
    try:
        return call()
    except TesseraError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} with an empty message"
        return exc


@st.composite
def mutated(draw: st.DrawFn, original: bytes, max_edits: int = 4) -> bytes:
    """``original`` with a few bytes flipped, inserted, deleted or the tail cut off."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, max_edits))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "replace"]))
        if not data:
            data += draw(st.binary(min_size=1, max_size=4))
            continue
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at] = draw(st.sampled_from(b"\x00\n\r \x7f\xff-+=:{}[]\",0123456789aA"))
    return bytes(data)


@st.composite
def mutated_text(draw: st.DrawFn, original: str, max_edits: int = 3) -> str:
    """``original`` with a few characters replaced, inserted or removed."""
    chars = list(original)
    alphabet = st.characters(blacklist_categories=["Cs"])
    for _ in range(draw(st.integers(1, max_edits))):
        if not chars:
            chars.append(draw(alphabet))
            continue
        at = draw(st.integers(0, len(chars) - 1))
        kind = draw(st.sampled_from(["replace", "insert", "delete"]))
        if kind == "replace":
            chars[at] = draw(alphabet)
        elif kind == "insert":
            chars.insert(at, draw(alphabet))
        else:
            del chars[at]
    return "".join(chars)


# JSON values of any shape, for replacing one field of a document.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=8)


def json_paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every key/index path into a JSON document, for replacing one field."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += json_paths(item, (*prefix, index))
    return found
