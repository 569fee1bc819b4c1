"""Who to call and where the instructions are: printed on every recovery sheet.

A vault carries one organisation name, one contact (a person, a phone, an address)
and one instructions URL, set once by the operator; like 1Password's Emergency Kit,
the paper then explains itself to whoever finds it years later.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from tessera.core.errors import InputError

# Together they fit the sheet's header line (at most three lines of small print).
MAX_NAME = 80
MAX_CONTACT = 120
MAX_URL = 160
_URL = re.compile(r"https?://[^\s/?#]+\.[^\s/?#]+[^\s]*", re.I)


def _clean(value: str, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InputError(f"the {what} must be text")
    text = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise InputError(f"the {what} contains control characters")
    if len(text) > limit:
        raise InputError(f"the {what} is longer than {limit} characters")
    return text


@dataclass(frozen=True)
class Organisation:
    """The organisation a vault belongs to; every field may be empty (not set yet)."""

    name: str = ""
    contact: str = ""
    instructions_url: str = ""

    @classmethod
    def checked(cls, name: str, contact: str, instructions_url: str) -> Organisation:
        """Validated and normalised, or :class:`InputError` naming the bad field."""
        url = _clean(instructions_url, "instructions URL", MAX_URL)
        if url and not _URL.fullmatch(url):
            raise InputError("the instructions URL must be a web address starting with "
                             "https:// (or http://), without spaces")
        return cls(_clean(name, "organisation name", MAX_NAME),
                   _clean(contact, "contact", MAX_CONTACT), url)

    @property
    def is_set(self) -> bool:
        return bool(self.name or self.contact or self.instructions_url)

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "contact": self.contact,
                "instructions_url": self.instructions_url}

    @classmethod
    def from_json(cls, data: object) -> Organisation:
        if not isinstance(data, dict) or set(data) != {"name", "contact", "instructions_url"}:
            raise InputError("the organisation setting is not name, contact and instructions_url")
        return cls.checked(data["name"], data["contact"], data["instructions_url"])
