"""Typed text: what is refused on the way in, what is escaped on the way out, and
which names count as look-alikes (Unicode TR39 skeletons)."""

from __future__ import annotations

import csv
import io
import unicodedata

import pytest

from tessera.core import text
from tessera.core.errors import InputError

# What an attacker (or a careless paste) puts into a name, with the position the
# refusal must name (1-based, as typed).
HOSTILE = [
    ("Al\u202eecila", 3, 0x202E, "direction"),       # RIGHT-TO-LEFT OVERRIDE
    ("Alice\u2066x\u2069", 6, 0x2066, "direction"),  # LEFT-TO-RIGHT ISOLATE
    ("\u200fAlice", 1, 0x200F, "direction"),         # RIGHT-TO-LEFT MARK
    ("Ali\u200bce", 4, 0x200B, "zero-width"),        # ZERO WIDTH SPACE
    ("Alice\u200d", 6, 0x200D, "zero-width"),        # ZERO WIDTH JOINER (trailing)
    ("\ufeffAlice", 1, 0xFEFF, "zero-width"),        # BYTE ORDER MARK
    ("Alice\x1b[2J", 6, 0x1B, "control"),            # ESC: clear the screen
    ("Alice\x9b31m", 6, 0x9B, "control"),            # C1 CSI: one-byte escape
    ("Bob\x07", 4, 0x07, "control"),                 # BEL
    ("Bob\x7f", 4, 0x7F, "control"),                 # DEL
    ("Bob\nEve", 4, 0x0A, "control"),                # a second line in the log
    ("Bob\u2028Eve", 4, 0x2028, "line break"),       # LINE SEPARATOR
    ("Bob\u00adby", 4, 0xAD, "formatting"),          # SOFT HYPHEN (invisible)
    ("Bob\U000e0041", 4, 0xE0041, "formatting"),     # TAG LATIN CAPITAL A
    ("Bob\udc80", 4, 0xDC80, "UTF-8"),               # surrogate-escaped bad byte
]


@pytest.mark.parametrize(("value", "position", "codepoint", "word"), HOSTILE)
def test_hostile_characters_are_refused_by_position(value: str, position: int,
                                                    codepoint: int, word: str) -> None:
    with pytest.raises(text.UnsafeText) as caught:
        text.clean(value, "custodian name", 200)
    err = caught.value
    assert isinstance(err, InputError)
    assert (err.position, err.codepoint) == (position, codepoint)
    message = str(err)
    assert f"position {position}" in message and f"U+{codepoint:04X}" in message
    assert word in message and "custodian name" in message
    # The refusal itself never carries the raw character to a terminal.
    assert chr(codepoint) not in message


def test_names_people_really_have_are_kept_and_normalised() -> None:
    decomposed = "Zoe\u0308 Ma\u0301rquez"  # e + combining diaeresis, a + combining acute
    assert text.clean(decomposed, "name", 200) == unicodedata.normalize("NFC", decomposed)
    for name in ("Zoë Márquez", "Łukasz Żółć", "Ольга", "王小明", "محمد", "Ngũgĩ", "O'Brien-Smith"):
        assert text.clean(f"  {name} ", "name", 200) == name


def test_length_and_required_are_checked_after_normalising() -> None:
    with pytest.raises(InputError, match="is required"):
        text.clean("   ", "ticket reference", 10, required=True)
    with pytest.raises(InputError, match="longer than 3"):
        text.clean("abcd", "ticket reference", 3)
    with pytest.raises(InputError, match="must be text"):
        text.clean(b"Alice", "name", 10)


def test_skeletons_follow_unicodes_confusables_table() -> None:
    # Pinned mappings of confusables.txt 17.0.0: Cyrillic а, Greek ο, digit 1 / capital I
    # all share a prototype with a Latin letter.
    assert text.skeleton("\u0430") == text.skeleton("a")
    assert text.skeleton("\u03bf") == text.skeleton("o")
    assert text.skeleton("I") == text.skeleton("l") == text.skeleton("1")
    assert text.skeleton("paypal") == text.skeleton("pаypаl")  # two Cyrillic а
    assert text.skeleton("Alice") != text.skeleton("Alicia")


@pytest.mark.parametrize("impostor", [
    "\u0410lice",   # Cyrillic capital А
    "\u0430lice",   # Cyrillic small а (and case-folded Alice)
    "AIice",        # capital I for small l
    "A1ice",        # digit one
    "Alic\u0435",   # Cyrillic е at the end
])
def test_lookalikes_of_an_existing_name_are_found(impostor: str) -> None:
    assert text.lookalike(impostor, ["Bob", "Alice", "Carol"]) == "Alice"


def test_the_same_name_and_different_names_are_not_lookalikes() -> None:
    # Exact duplicates (ignoring case) are a different refusal, not a look-alike.
    assert text.lookalike("alice", ["Alice"]) is None
    assert text.lookalike("Alicia", ["Alice", "Alison"]) is None
    assert text.lookalike("Bob", []) is None


def test_visible_spells_out_escapes_instead_of_obeying_them() -> None:
    hostile = "Eve\x1b]0;pwned\x07\x1b[2J\u202egpj.exe\x9b1m"
    shown = text.visible(hostile)
    assert shown == "Eve\\u001b]0;pwned\\u0007\\u001b[2J\\u202egpj.exe\\u009b1m"
    assert all(text.unsafe_kind(c) is None for c in shown)
    assert text.visible("Zoë Márquez") == "Zoë Márquez"
    assert text.visible("a\nb\tc", keep_newlines=True) == "a\nb\tc"
    assert text.visible("a\nb") == "a\\u000ab"
    assert text.visible("tag\U000e0041") == "tag\\udb40\\udc41"


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_cells_never_start_a_formula(cell: str) -> None:
    out = text.csv_cell(cell)
    assert out.startswith("'")
    buffer = io.StringIO()
    csv.writer(buffer).writerow([out])
    assert next(csv.reader(io.StringIO(buffer.getvalue())))[0][0] == "'"


def test_escaped_json_is_still_the_same_json() -> None:
    import json
    line = json.dumps({"actor": "Eve\x9b\u202e\U000e0041"}, ensure_ascii=False)
    assert json.loads(text.visible(line)) == json.loads(line)


def test_csv_cells_spell_out_controls() -> None:
    assert text.csv_cell("Bob\x1b[31m\u202e") == "Bob\\u001b[31m\\u202e"
    assert text.csv_cell(42) == "42"


def test_the_fast_path_never_lets_a_refused_character_through() -> None:
    """check() and visible() skip text that str.isprintable() accepts; that is only
    sound while every refused character is non-printable (U+034F aside, handled)."""
    leaks = [hex(c) for c in range(0x110000)
             if text.unsafe_kind(chr(c)) is not None and chr(c).isprintable() and c != 0x034F]
    assert leaks == []
    with pytest.raises(text.UnsafeText):
        text.check("A\u034flice", "name")
    assert text.visible("A\u034flice") == "A\\u034flice"
