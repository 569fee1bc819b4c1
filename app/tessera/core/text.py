"""Text people type — names, labels, reasons, tickets — made safe to store and to show.

One module for every front end and store, so the rules cannot drift apart:

- :func:`clean` is the gate on the way in: NFC, trimmed, length-checked, and refused
  when it holds a character a reader cannot see or that changes how the rest is shown
  (C0/C1 controls including U+009B CSI, bidirectional overrides and isolates,
  zero-width and other format characters, line/paragraph separators, lone
  surrogates). The refusal names the character and its position as typed.
- :func:`skeleton` and :func:`lookalike` implement Unicode TR39 confusable detection
  ("Аlice" with a Cyrillic А against "Alice") from Unicode's ``confusables.txt``.
- :func:`visible` and :func:`csv_cell` are the gates on the way out, for text that
  was stored before these rules existed or came from elsewhere: a terminal never
  receives a raw escape or control, a spreadsheet never receives a formula.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from tessera.core.errors import InputError, PolicyError
from tessera.core.resources import resource_dir

# Bidirectional controls: embeddings/overrides (U+202A–U+202E), isolates
# (U+2066–U+2069) and the implicit marks (U+200E, U+200F, U+061C). An override makes
# "gpj.exe" show as "exe.jpg"; the "Trojan Source" attack (CVE-2021-42574).
_BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
# Characters that show nothing at all. Most are format characters (Cf) and caught by
# category; these are named so the message can say "zero-width".
_ZERO_WIDTH = frozenset([0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x180E, 0x034F,
                         *range(0x2061, 0x2065)])
# Categories refused wherever they are: controls (C0, DEL, C1), format characters,
# surrogates (only reach us from undecodable bytes), line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class UnsafeText(InputError):
    """Typed text holds a character that is invisible or changes how text is shown."""

    def __init__(self, what: str, position: int, codepoint: int, kind: str) -> None:
        self.what = what
        self.position = position  # 1-based, counted in the text as it was typed
        self.codepoint = codepoint
        self.kind = kind
        super().__init__(f"the {what} contains {kind} (U+{codepoint:04X}) at position "
                         f"{position}; remove it and type the text again")


class LookalikeName(PolicyError):
    """A new name that looks like an existing one but is a different string."""

    def __init__(self, what: str, name: str, existing: str) -> None:
        self.what = what
        self.name = name
        self.existing = existing
        super().__init__(f"the {what} {visible(name)!r} looks like the existing "
                         f"{visible(existing)!r} but is spelled with different characters")


def unsafe_kind(char: str) -> str | None:
    """Why ``char`` may not appear in typed text, or None when it may."""
    code = ord(char)
    if code in _BIDI:
        return "an invisible text-direction control"
    if code in _ZERO_WIDTH:
        return "an invisible zero-width character"
    category = unicodedata.category(char)
    if category not in _REFUSED_CATEGORIES:
        return None
    if category == "Cc":
        return "a control character"
    if category == "Cs":
        return "a byte that is not valid UTF-8"
    if category in ("Zl", "Zp"):
        return "a line break"
    return "an invisible formatting character"


def _plainly_safe(value: str) -> bool:
    # str.isprintable() is False for every refused category (Cc, Cf, Cs, Zl, Zp); the
    # one refused character it accepts is U+034F, a combining mark. A fast first look.
    return value.isprintable() and "\u034f" not in value


def check(value: str, what: str) -> None:
    """Raise :class:`UnsafeText` for the first refused character in ``value``."""
    if _plainly_safe(value):
        return
    for index, char in enumerate(value):
        kind = unsafe_kind(char)
        if kind is not None:
            raise UnsafeText(what, index + 1, ord(char), kind)


def clean(value: object, what: str, limit: int, *, required: bool = False) -> str:
    """``value`` NFC-normalised and trimmed, or :class:`InputError` saying why not."""
    if not isinstance(value, str):
        raise InputError(f"the {what} must be text")
    check(value, what)
    text = unicodedata.normalize("NFC", value).strip()
    if required and not text:
        raise InputError(f"a {what} is required")
    if len(text) > limit:
        raise InputError(f"the {what} is longer than {limit} characters")
    return text


def fold(text: str) -> str:
    """The comparison key of a name or label: NFC, trimmed, case-folded."""
    return unicodedata.normalize("NFC", text).strip().casefold()


# -- confusables (Unicode TR39 section 4) ----------------------------------------------

def confusables_path() -> Path:
    return resource_dir() / "unicode" / "confusables.txt"


@functools.cache
def _prototypes() -> dict[int, str]:
    """``confusables.txt`` as {source code point: prototype string}."""
    table: dict[int, str] = {}
    with confusables_path().open(encoding="utf-8-sig") as f:
        for line in f:
            data = line.split("#", 1)[0].strip()
            if not data:
                continue
            fields = [part.strip() for part in data.split(";")]
            if len(fields) < 2:
                continue
            source = int(fields[0], 16)
            table[source] = "".join(chr(int(cp, 16)) for cp in fields[1].split())
    return table


@functools.lru_cache(maxsize=4096)
def skeleton(text: str) -> str:
    """TR39 ``skeleton(X)``: NFD, each character replaced by its prototype, NFD again.

    Two strings are confusable when their skeletons are equal.
    """
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join(table.get(ord(c), c) for c in decomposed)
    return unicodedata.normalize("NFD", mapped)


def _keys(text: str) -> tuple[str, str]:
    # Compared as typed ("AIice" with a capital I looks like "Alice") and case-folded
    # ("аlice" against "Alice"), since names are already unique ignoring case.
    return skeleton(text.strip()), skeleton(fold(text))


def lookalike(name: str, existing: Iterable[str]) -> str | None:
    """The first of ``existing`` that ``name`` can be mistaken for, when they differ
    (ignoring case); None when there is none."""
    mine = _keys(name)
    own = fold(name)
    for other in existing:
        if fold(other) == own:
            continue
        theirs = _keys(other)
        if mine[0] == theirs[0] or mine[1] == theirs[1]:
            return other
    return None


# -- output ----------------------------------------------------------------------------

def _escape(char: str) -> str:
    # JSON's spelling (a surrogate pair above U+FFFF), so escaping a JSON export shown
    # on a terminal still leaves JSON that means the same.
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every refused character spelled out (``\\u001b``, ``\\u202e``), so a
    terminal or a label shows what is there instead of obeying it. With
    ``keep_newlines``, ``\\n`` and ``\\t`` pass through (for multi-line output we build)."""
    if _plainly_safe(text.replace("\n", "").replace("\t", "") if keep_newlines else text):
        return text
    out: list[str] = []
    for char in text:
        if keep_newlines and char in "\n\t":
            out.append(char)
        elif unsafe_kind(char) is not None:
            out.append(_escape(char))
        else:
            out.append(char)
    return "".join(out)


# Leading characters that make a spreadsheet treat a cell as a formula (OWASP "CSV
# injection"): = + - @, and tab / carriage return which some programs strip first.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """One CSV cell that a spreadsheet shows as text: controls spelled out, and a cell
    that would start a formula prefixed with an apostrophe."""
    text = value if isinstance(value, str) else str(value)
    if text[:1] in _FORMULA_START:
        text = "'" + text
    return visible(text)
