"""What a custodian acknowledges (PCI DSS v4.0.1 requirement 3.7.8), and the bytes
their token signs to say so.

The statement is versioned: its SHA-256 is part of every acknowledgement, so a later
wording is never mistaken for the one a custodian accepted. A token that can sign
(software Ed25519, FIDO2 assertion, PIV ECDSA) signs ``SHA-256(canonical bytes)`` of
an :class:`Acknowledgement`, exactly as it signs a release request; a custodian whose
key cannot sign here (a remote enrolment) is recorded as acknowledged on paper, with
the witness and the form's reference.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tessera.core import canonical
from tessera.core.errors import FormatError

ACK_FORMAT = "tessera/acknowledgement/v1"
STATEMENT_VERSION = 1
STATEMENT = (
    "As a custodian of recovery secrets held in Tessera, I understand and accept that:",
    "1. My share is mine alone: I never show, copy, photograph or send my share words, my "
    "recovery sheet or my key's PIN to anyone, and I never hand my key to someone else.",
    "2. I keep my key and my sealed recovery sheet in the places agreed with the security "
    "team, and I report at once if either is lost, stolen, damaged or its envelope opened.",
    "3. I approve a release, reshare or re-wrap only when it is requested with a reason "
    "and a ticket I have checked, and never under pressure or on someone's word alone.",
    "4. I take part in drills when asked, to prove that my key still opens my share.",
    "5. When I leave this role, I return my key or have it revoked and my sheet destroyed "
    "in front of a witness, and the secrets I held are reshared without me.",
)


def statement_text() -> str:
    return "\n".join(STATEMENT)


def statement_digest() -> str:
    """Hex SHA-256 of the statement as shown to the custodian."""
    return hashlib.sha256(statement_text().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Acknowledgement:
    """One custodian accepting the statement whose digest is ``statement``."""

    custodian_id: str
    custodian: str
    token_id: str
    statement: str
    at: str
    nonce: str

    def to_json(self) -> dict[str, Any]:
        return {"format": ACK_FORMAT, "custodian_id": self.custodian_id,
                "custodian": self.custodian, "token_id": self.token_id,
                "statement": self.statement, "at": self.at, "nonce": self.nonce}

    def to_bytes(self) -> bytes:
        return canonical.dumps(self.to_json())

    @property
    def challenge(self) -> bytes:
        return hashlib.sha256(self.to_bytes()).digest()

    @classmethod
    def from_bytes(cls, data: bytes) -> Acknowledgement:
        obj = canonical.loads(data, what="acknowledgement")
        fields = {"format", "custodian_id", "custodian", "token_id", "statement", "at", "nonce"}
        if not isinstance(obj, dict) or set(obj) != fields or obj["format"] != ACK_FORMAT:
            raise FormatError("not a Tessera acknowledgement")
        if not all(isinstance(obj[k], str) for k in fields):
            raise FormatError("an acknowledgement field has the wrong type")
        return cls(obj["custodian_id"], obj["custodian"], obj["token_id"], obj["statement"],
                   obj["at"], obj["nonce"])


def new_acknowledgement(custodian_id: str, custodian: str, token_id: str,
                        now: datetime | None = None) -> Acknowledgement:
    return Acknowledgement(custodian_id, custodian, token_id, statement_digest(),
                           (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           os.urandom(16).hex())
