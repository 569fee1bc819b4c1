"""Inline checks of what a person types into a form, worded like every other error.

The rules are :mod:`tessera.core.text`'s (the vault applies the same ones again); a
form runs them as the person types so a refused character is named next to the field
at once, and a look-alike name is shown before anything is stored.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from tessera.core.text import LookalikeName, UnsafeText, check, visible
from tessera.gui.errors import message_for


def typed_text_problem(fields: Iterable[tuple[str, str]]) -> str | None:
    """The message for the first field (what, text) holding a refused character."""
    for what, value in fields:
        try:
            check(value, what)
        except UnsafeText as exc:
            return message_for(exc)
    return None


def lookalike_problem(what: str, name: str, existing: str | None) -> str | None:
    """A sentence asking the person to confirm a name that looks like ``existing``."""
    if existing is None:
        return None
    return (f"{message_for(LookalikeName(what, name, existing))} Check that this really is "
            "someone (something) else, then press Next again to go on.")


def rich(value: str) -> str:
    """Stored text for a rich-text label: invisible characters spelled out, then
    HTML-escaped, so a name like ``<img src=…>`` is shown, never rendered."""
    return html.escape(visible(value), quote=False)
