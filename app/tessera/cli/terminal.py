"""Everything the CLI writes to a terminal passes through :func:`visible_output`.

Names, labels, reasons and log entries come from people and from vault files written
by anyone; a custodian named ``"Alice\\x1b]0;…\\x07"`` must not retitle the window,
clear the screen or reorder the line (U+202E) when an operator lists custodians.
Rather than trusting each of a hundred ``echo`` calls to escape what it prints, the
process's stdout and stderr are wrapped once, at the entry point, so every write —
ours, click's, a library's — is spelled out by :func:`tessera.core.text.visible`.
Colour is added after escaping, by :func:`secho`, straight to the real stream.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import click

from tessera.core.text import visible


class VisibleStream(io.TextIOBase):
    """A text stream that spells out controls, bidi and invisible characters."""

    def __init__(self, underlying: TextIO) -> None:
        super().__init__()
        self.underlying = underlying

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.underlying, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.underlying, "errors", None)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.underlying.write(visible(text, keep_newlines=True))
        return len(text)

    def flush(self) -> None:
        self.underlying.flush()

    def isatty(self) -> bool:
        return self.underlying.isatty()

    def fileno(self) -> int:
        return self.underlying.fileno()


@contextmanager
def visible_output() -> Iterator[None]:
    """Wrap ``sys.stdout`` and ``sys.stderr`` for the duration of a command."""
    saved = sys.stdout, sys.stderr
    sys.stdout = VisibleStream(saved[0])
    sys.stderr = VisibleStream(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def secho(text: str, fg: str | None = None, err: bool = False) -> None:
    """``click.secho`` for text that may hold a person's words: escaped, then coloured,
    so only our own colour codes reach the terminal."""
    stream = sys.stderr if err else sys.stdout
    real = stream.underlying if isinstance(stream, VisibleStream) else stream
    click.secho(visible(text, keep_newlines=True), fg=fg, file=real)
