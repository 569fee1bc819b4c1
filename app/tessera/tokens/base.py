"""The one interface every kind of token implements (software, FIDO2, PIV).

A token is known to the vault by a :class:`TokenInfo` (public data only). To open a
custodian's share envelope the front end hands a :class:`TokenDriver` that info, the
age envelope, the challenge of the operation (the hash of a release or drill
request), a :class:`Prompts` implementation and a cancel event. The driver returns
the share plaintext *and* signed evidence that this token approved this challenge.

Nothing here imports Qt: the GUI implements :class:`Prompts` and runs drivers on a
worker thread; the CLI implements it on the terminal.
"""

from __future__ import annotations

import threading
from typing import Protocol

from tessera.core.token_types import (
    ApprovalMethod,
    Enrolled,
    Evidence,
    TokenInfo,
    TokenKind,
    TokenState,
    Unlocked,
)

__all__ = ["ApprovalMethod", "Enrolled", "Evidence", "Prompts", "TokenDriver", "TokenInfo",
           "TokenKind", "TokenState", "Unlocked"]


class Prompts(Protocol):
    """How a driver talks to the person at the token. Implemented by CLI and GUI.

    Each method may be called from a worker thread. ``request_pin`` returns ``None``
    when the person cancels.
    """

    def request_pin(self, token: str, attempts_left: int | None) -> str | None: ...

    def request_new_pin(self, token: str, reason: str) -> str | None: ...

    def touch_needed(self, token: str) -> None: ...

    def touch_done(self, token: str) -> None: ...

    def notice(self, message: str) -> None: ...


class TokenDriver(Protocol):
    """Device-side operations for one kind of token."""

    kind: TokenKind

    def unlock(
        self,
        token: TokenInfo,
        envelope: bytes,
        challenge: bytes,
        prompts: Prompts,
        cancel: threading.Event,
    ) -> Unlocked:
        """Open ``envelope`` (an age file) and sign ``challenge`` (32 bytes).

        Raises a :class:`~tessera.core.errors.TokenError` subclass on PIN, touch or
        device problems and :class:`~tessera.core.errors.WrongToken` when this token
        holds none of the envelope's stanzas.
        """
        ...

    def sign(self, token: TokenInfo, challenge: bytes, prompts: Prompts,
             cancel: threading.Event) -> Evidence:
        """Sign ``challenge`` (32 bytes, a statement's hash) without opening anything."""
        ...

    def verify(self, token: TokenInfo, challenge: bytes, evidence: Evidence) -> bool:
        """Check ``evidence`` against the token's stored public key. No device needed."""
        ...
