"""Canonical JSON: the exact bytes that are hashed, signed and fingerprinted.

UTF-8, keys sorted, no insignificant whitespace, no floats (their text form is not
stable across implementations), no NaN. Parsing is strict: the bytes must already be
canonical, so two different byte strings never describe the same object.
"""

from __future__ import annotations

import json
from typing import Any

from tessera.core.errors import FormatError


def _check(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) >= 2**53:
            raise FormatError(f"{path}: integer out of the safe range")
        return
    if isinstance(value, float):
        raise FormatError(f"{path}: floating-point numbers are not allowed")
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise FormatError(f"{path}: object keys must be strings")
            _check(item, f"{path}.{key}")
        return
    raise FormatError(f"{path}: {type(value).__name__} cannot be encoded")


def dumps(value: Any) -> bytes:
    """Canonical bytes of a JSON-able value."""
    _check(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise FormatError(f"{name} is not allowed")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise FormatError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def loads(data: bytes, *, what: str = "document") -> Any:
    """Parse canonical JSON; anything not in canonical form is refused."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"the {what} is not UTF-8 text") from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_object,
                           parse_constant=_reject_constant,
                           parse_float=lambda s: _reject_constant("a floating-point number"))
    except FormatError as exc:
        raise FormatError(f"the {what} is malformed: {exc}") from None
    except (ValueError, RecursionError):
        raise FormatError(f"the {what} is not valid JSON") from None
    if dumps(value) != data:
        raise FormatError(f"the {what} is not in canonical form")
    return value
