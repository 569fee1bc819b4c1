"""Errors raised while reading or writing age files, by kind of failure.

The kinds follow the C2SP age test vectors: a malformed header, a header MAC that
does not verify, malformed ASCII armor, a payload that does not authenticate, and
no identity that opens any stanza. Messages never contain key material.
"""

from __future__ import annotations

from collections.abc import Sequence

from tessera.core.errors import FormatError, IntegrityError


class AgeError(FormatError):
    """An age file, recipient or identity that is not acceptable."""


class AgeHeaderError(AgeError):
    """The header (version line, stanzas, MAC line, or a stanza's contents) is malformed."""


class AgeHmacError(AgeError, IntegrityError):
    """The header MAC does not verify: the header was changed after encryption."""


class AgeArmorError(AgeError):
    """The ASCII armor around the file is not strict PEM as age requires."""


class AgePayloadError(AgeError, IntegrityError):
    """The encrypted payload is truncated, extended or does not authenticate."""


class AgeNoMatch(AgeError):
    """None of the given identities can open any stanza of the file.

    ``stanza_types`` lists the recipient types the file was encrypted to (for example
    ``("X25519", "piv-p256")``), so a front end can say which kind of key is needed.
    """

    def __init__(self, stanza_types: Sequence[str] = ()) -> None:
        self.stanza_types = tuple(stanza_types)
        kinds = ", ".join(sorted(set(self.stanza_types))) or "none"
        super().__init__(
            f"no identity matched any recipient of this file (recipient types: {kinds})"
        )


class AgeKeyError(AgeError):
    """A recipient string, identity string or public key that is not valid."""
