"""Frozen records the vault hands out: one dataclass per kind of row.

They carry public data and ciphertext only. Enums name every state a row can be in,
so the CLI, the GUI and the lifecycle code spell states the same way.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tessera.core.manifest import Manifest
from tessera.core.sealing import SealedVersion
from tessera.core.token_types import ApprovalMethod, Evidence, TokenInfo


class CustodianState(enum.StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class RecordState(enum.StrEnum):
    SEALED = "sealed"
    RELEASED = "released"  # released — rotation due
    SUPERSEDED = "superseded"
    RETIRED = "retired"
    ROTATION_REQUIRED = "rotation_required"

    @property
    def display(self) -> str:
        """How the state reads on screen and in reports."""
        return {
            "sealed": "sealed",
            "released": "released — rotation due",
            "superseded": "superseded",
            "retired": "retired",
            "rotation_required": "rotation required",
        }[self.value]


class ReleaseState(enum.StrEnum):
    OPEN = "open"
    RELEASED = "released"
    ABORTED = "aborted"


@dataclass(frozen=True)
class Custodian:
    id: str
    name: str
    contact: str
    role: str
    created_at: str
    state: CustodianState


@dataclass(frozen=True)
class TokenRecord:
    """A token's public facts plus the vault's bookkeeping about it."""

    info: TokenInfo
    enrolled_at: str
    last_drill_at: str | None
    state_reason: str


@dataclass(frozen=True)
class Record:
    """A custody record: one secret, many versions, the current one named here."""

    id: str
    label: str
    system: str
    account: str
    owner: str
    environment: str
    policy_overrides: Mapping[str, Any]
    allow_software: bool
    state: RecordState
    state_reason: str
    state_since: str
    current_version: int
    created_at: str
    last_release_at: str | None
    last_drill_at: str | None

    @property
    def nhi(self) -> dict[str, str]:
        """The non-human-identity facts, only those that are set."""
        facts = {"system": self.system, "account": self.account, "owner": self.owner,
                 "environment": self.environment}
        return {k: v for k, v in facts.items() if v}


@dataclass(frozen=True)
class VersionInfo:
    """A version's summary row, without its blobs."""

    record_id: str
    version: int
    epoch: int
    fingerprint: str
    created_at: str
    superseded_at: str | None


@dataclass(frozen=True)
class Envelope:
    """One share's age file, the custodian it belongs to, and the recipients it is
    wrapped to now: the manifest's list until a re-wrap replaces it (``revision`` > 0).
    See docs/LIFECYCLE.md, "Re-wrap"."""

    custodian_id: str
    age: bytes
    recipients: tuple[str, ...] = ()
    revision: int = 0


@dataclass(frozen=True)
class VersionData:
    """A version read back and re-validated: manifest, payload ciphertext, envelopes."""

    record_id: str
    version: int
    epoch: int
    fingerprint: str
    created_at: str
    superseded_at: str | None
    manifest: Manifest
    manifest_bytes: bytes
    ciphertext: bytes
    envelopes: Mapping[str, Envelope]  # share key ("g0m1") -> envelope

    def recipients_of(self, share_key: str) -> tuple[str, ...]:
        """The recipients share ``share_key``'s envelope is wrapped to now (after any
        re-wrap); the manifest's list is what it was wrapped to when sealed."""
        envelope = self.envelopes.get(share_key)
        if envelope is not None and envelope.recipients:
            return envelope.recipients
        return self.manifest.share(share_key).recipients

    def holds(self, custodian_id: str, recipient: str | TokenInfo) -> bool:
        """Whether one of the custodian's envelopes is wrapped to ``recipient`` now (or to
        any recipient of a token: its classical or its post-quantum one)."""
        names = set(recipient.recipients if isinstance(recipient, TokenInfo) else (recipient,))
        return any(names & set(self.recipients_of(s.key))
                   for s in self.manifest.shares_of(custodian_id))

    def sealed(self) -> SealedVersion:
        """The same version in the shape the sealing code produces."""
        return SealedVersion(self.manifest, self.manifest_bytes, self.ciphertext,
                             {k: e.age for k, e in self.envelopes.items()})


@dataclass(frozen=True)
class Approval:
    release_id: str
    custodian_id: str
    token_id: str | None
    method: ApprovalMethod
    evidence: Evidence
    at: str


@dataclass(frozen=True)
class Release:
    id: str
    record_id: str
    version: int
    request: bytes  # canonical release request; its SHA-256 is what tokens sign
    reason: str
    ticket: str
    requested_by: str
    requested_at: str
    state: ReleaseState
    finished_at: str | None
    approvals: tuple[Approval, ...] = ()
    purpose: str = "release"  # or "reshare": a quorum that makes a new share set


@dataclass(frozen=True)
class Rewrap:
    """A custodian moved their share to other tokens without a quorum (same words)."""

    record_id: str
    version: int
    share_key: str
    custodian_id: str
    token_id: str | None
    method: ApprovalMethod
    request: bytes  # canonical 'rewrap' request; the opening token signed its SHA-256
    evidence: Evidence
    old_recipients: tuple[str, ...]
    new_recipients: tuple[str, ...]
    revision: int
    at: str


@dataclass(frozen=True)
class RevocationHook:
    """A command run after a completed release of the record (argv, no shell)."""

    record_id: str
    command: tuple[str, ...]
    timeout_seconds: int
    set_at: str
    set_by: str


@dataclass(frozen=True)
class Drill:
    record_id: str
    version: int
    custodian_id: str
    token_id: str | None
    method: ApprovalMethod
    ok: bool
    at: str
    evidence: Evidence | None


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditVerdict:
    """The result of re-computing the audit chain.

    ``first_bad_seq`` names the first entry that is changed, missing or out of place
    (``None`` when ``ok``); ``problem`` says what is wrong in a sentence. An incremental
    check starts after ``from_seq`` (verified before) and ``entries`` counts the entries
    it recomputed.
    """

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""
    from_seq: int = 0


@dataclass(frozen=True)
class ImportResult:
    record_id: str
    label: str
    version: int
    fingerprint: str
    already_imported: bool
    created_record: bool
    custodians_added: tuple[str, ...] = field(default=())
    tokens_added: tuple[str, ...] = field(default=())
