"""Token data that travels between layers: kinds, states, public facts, evidence.

Pure data (no device I/O), so the vault can store it and the core can reason about
it; the drivers that talk to devices live in ``tessera.tokens``.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tessera.core.age import is_post_quantum, parse_recipient
from tessera.core.errors import FormatError
from tessera.core.memory import wipe

if TYPE_CHECKING:
    from tessera.core.attestation import AttestationResult

PQ_RECIPIENT_FACT = "pq_recipient"
"""The facts key of a token's post-quantum ``age1pq1…`` recipient, beside its classical one."""


class TokenKind(enum.StrEnum):
    FIDO2 = "fido2"
    PIV = "piv"
    SOFTWARE = "software"

    @property
    def is_hardware(self) -> bool:
        return self is not TokenKind.SOFTWARE

    @property
    def display_name(self) -> str:
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

    @property
    def pq_recipient(self) -> str | None:
        """The token's post-quantum hybrid recipient (``age1pq1…``), if it has one."""
        if is_post_quantum(self.recipient):
            return self.recipient
        extra = self.facts.get(PQ_RECIPIENT_FACT)
        return extra if isinstance(extra, str) and is_post_quantum(extra) else None

    @property
    def classical_recipient(self) -> str | None:
        """The token's X25519 or piv-p256 recipient, if it has one."""
        return None if is_post_quantum(self.recipient) else self.recipient

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every recipient an envelope may name this token by: hybrid first."""
        return tuple(r for r in (self.pq_recipient, self.classical_recipient) if r)

    def attestation(self, *, demo_vault: bool) -> AttestationResult:
        """Whether this token is proven hardware: its attestation re-verified now.

        For a YubiKey the attested key must also be the key its recipient names: a
        genuine attestation next to someone else's recipient proves nothing.
        """
        # Imported here: certificate parsing (cryptography.x509) is not needed to open
        # a vault or show a window, only when a token's hardware is judged.
        from tessera.core.attestation import AttestationResult, token_attestation

        result = token_attestation(self.kind.value, self.facts, demo_vault=demo_vault)
        if result.proven and self.kind is TokenKind.PIV and not self._recipient_is_attested():
            return AttestationResult(False, "refused", "the attested key is not the key "
                                     "this token's recipient names")
        return result

    def _recipient_is_attested(self) -> bool:
        from tessera.core.attestation import enrolled_key

        attested = enrolled_key("piv", self.facts)
        for recipient in self.recipients:
            try:
                parsed = parse_recipient(recipient)
            except FormatError:
                return False
            raw = getattr(parsed, "public_key", None)
            if not isinstance(raw, bytes):
                return False
            point = raw[-65:] if len(raw) > 65 else raw  # age1tagpq1…: ML-KEM key ‖ P-256
            if enrolled_key("piv", {"public_key": base64.b64encode(point).decode()}) \
                    != attested:
                return False
        return attested is not None

    def policy_kind(self, *, demo_vault: bool) -> TokenKind:
        """The kind policy counts this token as: a FIDO2 or PIV token without valid
        attestation counts as software (a claimed kind proves nothing)."""
        if self.kind.is_hardware and not self.attestation(demo_vault=demo_vault).proven:
            return TokenKind.SOFTWARE
        return self.kind

    def named_in(self, recipients: Iterable[str]) -> bool:
        """True when any of ``recipients`` is one of this token's."""
        mine = set(self.recipients)
        return any(r in mine for r in recipients)


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
        wipe(self.share)


@dataclass(frozen=True)
class Enrolled:
    """The result of enrolling a device: public facts only, ready for the vault."""

    kind: TokenKind
    label: str
    recipient: str
    facts: Mapping[str, Any]
