"""Canonical JSON: the exact bytes that are hashed, signed and fingerprinted.

UTF-8, keys sorted, no insignificant whitespace, no floats (their text form is not
stable across implementations), no NaN. Parsing is strict: the bytes must already be
canonical, so two different byte strings never describe the same object.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
from typing import Annotated, Any

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
    if _ENCODE is not None:  # json.dumps's own C encoder, built once (not once per call)
        return "".join(_ENCODE(value, 0)).encode("utf-8")
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


def _refuse_number(text: str) -> Any:
    raise FormatError(f"{text} is not allowed")


def _safe_int(text: str) -> int:
    value = int(text)
    if abs(value) >= 2**53:
        raise FormatError("integer out of the safe range")
    return value


# The C scanner and encoder, built once (json.loads/json.dumps rebuild them per call).
# The scanner refuses floats, NaN and unsafe integers as it meets them; re-encoding
# must then give the input back, which refuses whitespace, escapes, key order and
# duplicate keys. Where they are missing (not CPython) the strict path does it all.
_make_scanner: Any = getattr(json.scanner, "c_make_scanner", None)
_SCAN: Any = _make_scanner and _make_scanner(json.JSONDecoder(
    parse_float=_refuse_number, parse_constant=_refuse_number, parse_int=_safe_int))
_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_ENCODE: Any = _make_encoder and _make_encoder(
    None, _refuse_number, json.encoder.encode_basestring, None, ":", ",", True, False, False)


FAST = _SCAN is not None and _ENCODE is not None

# How deep the compiled judge follows arrays and objects; deeper text goes to the scanner.
# Tessera's own documents nest at most six deep (a statement's changes). msgspec builds
# its decoder in time exponential in this (2.5 ms at 7, 90 ms at 12).
_DEPTH = 7

# Importing msgspec and building the judge costs ~13 ms once per process: what the
# stdlib spends judging ~500 statements (36 µs each against msgspec's 8) or ~3,500 audit
# entries' details (5.5 µs against 1.8). A loop that judges at least this many texts
# builds it first (:func:`expect`); a command on a small vault never pays for it.
_WORTH_BUILDING = 500


class _Compiled:
    """msgspec's JSON decoder and encoder as a judge of canonical text.

    It decodes into JSON's own types without floats or integers past 2⁵³ (those are
    refused as they are met) and encodes the value with its keys sorted; the text is
    canonical when that encoding gives it back. The verdict rests on the encoding alone:
    msgspec encodes every such value exactly as :func:`dumps` does (held to it in
    ``tests/unit/core/test_canonical.py``), so equal bytes are our canonical form of that
    value, whatever its decoder did. Anything else (a refusal, other bytes, nesting
    past ``_DEPTH``) goes to the stdlib's scanner, which decides and says why."""

    def __init__(self) -> None:
        import msgspec  # here, not at the top: only loops over many texts need it

        safe = Annotated[int, msgspec.Meta(ge=-(2**53 - 1), le=2**53 - 1)]
        scalar: Any = None | bool | safe | str
        value: Any = scalar
        for _ in range(_DEPTH):
            value = scalar | list[value] | dict[str, value]
        self.decode = msgspec.json.Decoder(value).decode
        self.encode = msgspec.json.Encoder(order="sorted").encode
        self.errors = (msgspec.MsgspecError, UnicodeError)

    def judge(self, data: bytes) -> tuple[bool, Any]:
        try:
            value = self.decode(data)
            if self.encode(value) == data:
                return True, value
        except self.errors:
            pass
        return False, None


_compiled: _Compiled | None = None
_missing = False  # msgspec could not be imported: the stdlib judges everything


def expect(count: int) -> None:
    """A loop is about to judge ``count`` texts: build the compiled judge if that pays."""
    global _compiled, _missing  # built once per process
    if count < _WORTH_BUILDING or _compiled is not None or _missing:
        return
    try:
        _compiled = _Compiled()
    except ImportError:
        _missing = True


def object_text(text: str) -> bool:
    """Whether ``text`` is a canonical JSON object, as :func:`loads` decides; for loops
    over many texts (a full verify of the audit chain judges every entry's details)."""
    if _compiled is not None:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 text, so never canonical
            return False
        ok, value = _compiled.judge(data)
        if ok:
            return type(value) is dict
    if not FAST:
        try:
            return type(loads(text.encode("utf-8"))) is dict
        except (FormatError, UnicodeEncodeError):
            return False
    ok, value = _scanned(text)
    return ok and type(value) is dict


def _scanned(text: str) -> tuple[bool, Any]:
    """(True, value) when ``text`` is canonical JSON by the stdlib's C scanner and encoder
    alone; (False, None) otherwise (``loads`` then says why). Needs ``FAST``."""
    try:
        value, end = _SCAN(text, 0)
        if end == len(text) and "".join(_ENCODE(value, 0)) == text:
            return True, value
    except (FormatError, ValueError, RecursionError, StopIteration):
        pass
    return False, None


def matches(value: Any, data: bytes) -> bool:
    """Whether ``data`` (already known canonical) is the canonical form of ``value``, a
    structure built by our own code (string keys). Equal text cannot hide a float or an
    unsafe integer, since canonical data has neither; so the recursive check is skipped."""
    if _ENCODE is None:
        return dumps(value) == data
    try:
        return "".join(_ENCODE(value, 0)).encode("utf-8") == data
    except (ValueError, TypeError, UnicodeEncodeError, FormatError):
        return False


def loads(data: bytes, *, what: str = "document") -> Any:
    """Parse canonical JSON; anything not in canonical form is refused."""
    if _compiled is not None:
        ok, value = _compiled.judge(data)
        if ok:
            return value
    if FAST:
        try:
            ok, value = _scanned(data.decode("utf-8"))
        except UnicodeDecodeError:
            ok, value = False, None
        if ok:
            return value
    # The strict path, which names what is wrong.
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
    try:
        canonical = dumps(value)
    except UnicodeEncodeError:  # "\ud800": JSON can escape what UTF-8 cannot hold
        raise FormatError(f"the {what} escapes half of a UTF-16 surrogate pair, which is "
                          "not text") from None
    if canonical != data:
        raise FormatError(f"the {what} is not in canonical form")
    return value
