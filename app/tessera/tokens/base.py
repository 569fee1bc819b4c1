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

import enum
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class TokenKind(enum.StrEnum):
    FIDO2 = "fido2"
    PIV = "piv"
    SOFTWARE = "software"

    @property
    def is_hardware(self) -> bool:
        return self is not TokenKind.SOFTWARE

    @property
    def title(self) -> str:
        return {"fido2": "FIDO2 key", "piv": "YubiKey PIV", "software": "software key"}[self.value]


class TokenState(enum.StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    LOST = "lost"


class ApprovalMethod(enum.StrEnum):
    FIDO2 = "fido2"
    PIV = "piv"
    SOFTWARE = "software"
    PAPER = "paper"


@dataclass(frozen=True)
class TokenInfo:
    """Public facts about an enrolled token, as stored in the vault.

    ``facts`` holds the kind-specific device facts (credential id, PRF salt, AAGUID,
    credential public key, serial, slot, keyring reference...) as JSON-able values.
    """

    id: str
    custodian_id: str
    custodian_name: str
    kind: TokenKind
    label: str
    recipient: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    state: TokenState = TokenState.ACTIVE
    remote: bool = False  # enrolled from a pasted recipient; the device was never seen


@dataclass(frozen=True)
class Evidence:
    """Signed proof that a token approved a challenge (a release or drill hash).

    ``data`` carries what a verifier needs besides the token's stored public key,
    e.g. FIDO2 authenticator data and client data JSON (base64 strings).
    """

    method: ApprovalMethod
    token_id: str | None
    algorithm: str
    signature: bytes
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Unlocked:
    """What a token gives back: the share (wipe it after use) and the evidence."""

    share: bytearray
    evidence: Evidence

    def wipe(self) -> None:
        for i in range(len(self.share)):
            self.share[i] = 0


@dataclass(frozen=True)
class Enrolled:
    """The result of enrolling a device: public facts only, ready for the vault."""

    kind: TokenKind
    label: str
    recipient: str
    facts: Mapping[str, Any]


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

    def verify(self, token: TokenInfo, challenge: bytes, evidence: Evidence) -> bool:
        """Check ``evidence`` against the token's stored public key. No device needed."""
        ...
