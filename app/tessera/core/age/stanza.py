"""The recipient stanza and the two roles that produce and consume it.

A Recipient wraps a file key into stanzas; an Identity finds the stanza addressed
to it and unwraps the file key. Hardware tokens plug in as Identities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Rng = Callable[[int], bytes]
"""A source of random bytes, ``os.urandom`` by default; injectable for deterministic tests."""


def is_valid_argument(arg: str) -> bool:
    """True when ``arg`` is a non-empty run of printable ASCII without spaces (VCHAR)."""
    return bool(arg) and all(33 <= ord(c) <= 126 for c in arg)


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: ``-> type args...`` and its body bytes."""

    type: str
    args: tuple[str, ...]
    body: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "body", bytes(self.body))
        if not is_valid_argument(self.type) or not all(map(is_valid_argument, self.args)):
            raise ValueError(
                "stanza type and arguments must be non-empty printable ASCII without spaces"
            )


@runtime_checkable
class Recipient(Protocol):
    """Something a file can be encrypted to."""

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Wrap the 16-byte file key into one or more stanzas."""
        ...


@runtime_checkable
class Identity(Protocol):
    """Something that can open a file addressed to it."""

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """Return the file key, or None when none of ``stanzas`` is addressed to this identity.

        Raises AgeHeaderError when a stanza of this identity's type is malformed.
        """
        ...
