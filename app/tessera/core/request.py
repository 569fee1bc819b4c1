"""Release and drill requests: what each approving token signs.

The canonical bytes of a request are hashed (SHA-256) into the 32-byte challenge a
FIDO2 assertion, a PIV signature or a software Ed25519 signature covers, so each
approval proves "this token approved *this* release of *this* version".
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tessera.core import canonical
from tessera.core.errors import FormatError, InputError
from tessera.core.manifest import Manifest

REQUEST_FORMAT = "tessera/request/v1"
# release: a quorum reveals the secret; drill: a custodian proves their token; reshare:
# a quorum makes a new share set; rewrap: a custodian moves their share to a new token;
# sheet: a custodian opens their own share to print (or reprint) their recovery sheet.
PURPOSES = ("release", "drill", "reshare", "rewrap", "sheet")
MAX_REASON = 500
MAX_TICKET = 100


@dataclass(frozen=True)
class Request:
    """``purpose`` is one of :data:`PURPOSES`."""

    purpose: str
    request_id: str
    record_id: str
    version: int
    epoch: int
    manifest_digest: str  # hex SHA-256 of the canonical manifest
    nonce: str
    reason: str
    ticket: str
    requested_by: str
    requested_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": REQUEST_FORMAT, "purpose": self.purpose, "request_id": self.request_id,
            "record_id": self.record_id, "version": self.version, "epoch": self.epoch,
            "manifest": self.manifest_digest, "nonce": self.nonce, "reason": self.reason,
            "ticket": self.ticket, "requested_by": self.requested_by,
            "requested_at": self.requested_at,
        }

    def to_bytes(self) -> bytes:
        return canonical.dumps(self.to_json())

    @property
    def challenge(self) -> bytes:
        return hashlib.sha256(self.to_bytes()).digest()

    @classmethod
    def from_bytes(cls, data: bytes) -> Request:
        obj = canonical.loads(data, what="request")
        expected = {"format", "purpose", "request_id", "record_id", "version", "epoch",
                    "manifest", "nonce", "reason", "ticket", "requested_by", "requested_at"}
        if not isinstance(obj, dict) or set(obj) != expected or obj["format"] != REQUEST_FORMAT:
            raise FormatError("not a Tessera request")
        if not all(isinstance(obj[k], str) for k in expected - {"version", "epoch"}):
            raise FormatError("a request field has the wrong type")
        if not all(isinstance(obj[k], int) and not isinstance(obj[k], bool)
                   for k in ("version", "epoch")):
            raise FormatError("a request field has the wrong type")
        return cls(obj["purpose"], obj["request_id"], obj["record_id"], obj["version"],
                   obj["epoch"], obj["manifest"], obj["nonce"], obj["reason"], obj["ticket"],
                   obj["requested_by"], obj["requested_at"])


def _clean(value: str, name: str, limit: int, required: bool) -> str:
    value = " ".join(value.split())
    if required and not value:
        raise InputError(f"a {name} is required")
    if len(value) > limit:
        raise InputError(f"the {name} is longer than {limit} characters")
    return value


def new_request(purpose: str, manifest: Manifest, *, reason: str, ticket: str,
                requested_by: str, now: datetime | None = None) -> Request:
    """A fresh request; a release needs both a reason and a ticket reference."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown request purpose {purpose!r}")
    needs_ticket = purpose in ("release", "reshare")
    return Request(
        purpose=purpose, request_id=str(uuid.uuid4()), record_id=manifest.record_id,
        version=manifest.version, epoch=manifest.epoch, manifest_digest=manifest.digest.hex(),
        nonce=os.urandom(16).hex(),
        reason=_clean(reason, "reason", MAX_REASON, needs_ticket),
        ticket=_clean(ticket, "ticket reference", MAX_TICKET, needs_ticket),
        requested_by=_clean(requested_by, "name of the requester", 200, True),
        requested_at=(now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"))
