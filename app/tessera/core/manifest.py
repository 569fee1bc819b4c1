"""The manifest: public description of one version of a custody record.

Its canonical bytes are fingerprinted (SHA-256) and that digest is the AAD of the
payload encryption, so a changed manifest makes the payload undecryptable. The
layout is documented byte for byte in ``docs/FORMAT.md``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tessera.core import canonical
from tessera.core.errors import FormatError
from tessera.core.slip39 import ITERATION_EXPONENT

FORMAT_ID = "tessera/manifest/v1"
PAYLOAD_ALG = "AES-256-GCM/HKDF-SHA256"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
NHI_FIELDS = ("system", "account", "owner", "environment")
MAX_LABEL = 200
MAX_TEXT = 500

MAX_RECIPIENT = 2048
"""The longest recipient string accepted: age1pq1… hybrids are 1959 characters."""


@dataclass(frozen=True)
class ShareEntry:
    """One SLIP-39 share: who holds it, which recipients its envelope is wrapped to,
    and the commitment that lets a share be checked the moment it arrives."""

    custodian_id: str
    custodian: str
    group: int
    member: int
    commitment: str  # hex SHA-256, see core.commitment
    recipients: tuple[str, ...]

    @property
    def key(self) -> str:
        """Stable name of the share inside its version: ``g<group>m<member>``."""
        return f"g{self.group}m{self.member}"

    def to_json(self) -> dict[str, Any]:
        return {
            "custodian_id": self.custodian_id,
            "custodian": self.custodian,
            "group": self.group,
            "member": self.member,
            "commitment": self.commitment,
            "recipients": list(self.recipients),
        }


@dataclass(frozen=True)
class GroupSpec:
    """A SLIP-39 group: ``threshold`` of ``count`` member shares."""

    threshold: int
    count: int


@dataclass(frozen=True)
class Manifest:
    record_id: str
    label: str
    version: int
    epoch: int
    slip39_identifier: int
    slip39_iteration_exponent: int
    slip39_extendable: bool
    group_threshold: int
    groups: tuple[GroupSpec, ...]
    shares: tuple[ShareEntry, ...]
    payload_nonce: bytes
    payload_size: int
    payload_encoding: str  # "utf-8" (text secret) or "binary"
    created_at: str
    created_by: str
    previous: str | None  # hex SHA-256 of the previous version's canonical manifest
    nhi: Mapping[str, str] = field(default_factory=dict)

    # -- encoding -----------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_ID,
            "record_id": self.record_id,
            "label": self.label,
            "nhi": dict(sorted(self.nhi.items())),
            "version": self.version,
            "epoch": self.epoch,
            "slip39": {
                "identifier": self.slip39_identifier,
                "iteration_exponent": self.slip39_iteration_exponent,
                "extendable": self.slip39_extendable,
                "group_threshold": self.group_threshold,
                "groups": [{"threshold": g.threshold, "count": g.count} for g in self.groups],
            },
            "shares": [s.to_json() for s in self.shares],
            "payload": {
                "alg": PAYLOAD_ALG,
                "nonce": self.payload_nonce.hex(),
                "size": self.payload_size,
                "encoding": self.payload_encoding,
            },
            "created_at": self.created_at,
            "created_by": self.created_by,
            "previous": self.previous,
        }

    def to_bytes(self) -> bytes:
        return self._canonical_bytes

    @functools.cached_property
    def _canonical_bytes(self) -> bytes:
        # Computed once per (immutable) manifest: the digest, the fingerprint and the
        # vault's integrity checks all ask for it.
        return canonical.dumps(self.to_json())

    @functools.cached_property
    def digest(self) -> bytes:
        """SHA-256 of the canonical bytes: the payload AAD and the fingerprint."""
        return hashlib.sha256(self.to_bytes()).digest()

    @functools.cached_property
    def fingerprint(self) -> str:
        return format_fingerprint(self.digest)

    # -- queries ------------------------------------------------------------------
    @property
    def share_count(self) -> int:
        return len(self.shares)

    def shares_of(self, custodian_id: str) -> list[ShareEntry]:
        return [s for s in self.shares if s.custodian_id == custodian_id]

    def share(self, key: str) -> ShareEntry:
        for s in self.shares:
            if s.key == key:
                return s
        raise FormatError(f"the manifest has no share {key}")

    @property
    def custodian_names(self) -> dict[str, str]:
        return {s.custodian_id: s.custodian for s in self.shares}

    def describe_quorum(self) -> str:
        """Plain words for the quorum: "any 2 of 3" or "2 of 3 groups: …"."""
        return describe_quorum(tuple((g.threshold, g.count) for g in self.groups),
                               self.group_threshold)

    # -- decoding -----------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse and validate canonical manifest bytes (strict; raises FormatError).

        Manifests are immutable, so a parsed one is kept (a few thousand, by their
        bytes): a window that re-reads every record after each change parses only the
        manifests it has not seen."""
        if cls is not Manifest:
            return cls._parse(bytes(data))
        return _parsed_manifest(bytes(data))

    @classmethod
    def _parse(cls, data: bytes) -> Manifest:
        obj = canonical.loads(data, what="manifest")
        manifest = cls.from_json(obj)
        if not canonical.matches(manifest.to_json(), data):
            raise FormatError("the manifest is not in canonical form")
        manifest.__dict__["_canonical_bytes"] = bytes(data)  # equal to what dumps would give
        return manifest

    @classmethod
    def from_json(cls, obj: Any) -> Manifest:
        r = _Reader(obj, "manifest")
        r.keys({"format", "record_id", "label", "nhi", "version", "epoch", "slip39", "shares",
                "payload", "created_at", "created_by", "previous"})
        if r.string("format") != FORMAT_ID:
            raise FormatError(f"unknown manifest format {r.obj['format']!r}")
        record_id = check_record_id(r.string("record_id"))
        label = r.text("label", MAX_LABEL, required=True)
        nhi_r = r.sub("nhi")
        nhi_r.keys(set(NHI_FIELDS), exact=False)
        nhi = {k: nhi_r.text(k, MAX_TEXT) for k in nhi_r.obj}
        version = r.integer("version", 1, 2**31)
        epoch = r.integer("epoch", 1, 2**31)
        s = r.sub("slip39")
        s.keys({"identifier", "iteration_exponent", "extendable", "group_threshold", "groups"})
        groups_raw = s.items("groups", 1, 16)
        groups = []
        for i, g in enumerate(groups_raw):
            gr = _Reader(g, f"slip39.groups[{i}]")
            gr.keys({"threshold", "count"})
            count = gr.integer("count", 1, 16)
            threshold = gr.integer("threshold", 1, count)
            if threshold == 1 and count > 1:
                raise FormatError(f"slip39.groups[{i}]: threshold 1 with several shares")
            groups.append(GroupSpec(threshold, count))
        group_threshold = s.integer("group_threshold", 1, len(groups))
        shares = []
        for i, e in enumerate(r.items("shares", 1, 256)):
            er = _Reader(e, f"shares[{i}]")
            er.keys({"custodian_id", "custodian", "group", "member", "commitment", "recipients"})
            group = er.integer("group", 0, len(groups) - 1)
            member = er.integer("member", 0, groups[group].count - 1)
            commitment = er.string("commitment")
            if not _HEX64.fullmatch(commitment):
                raise FormatError(f"shares[{i}].commitment is not a SHA-256 hex digest")
            recipients = er.items("recipients", 1, 16)
            if not all(isinstance(x, str) and 0 < len(x) <= MAX_RECIPIENT and x.isascii()
                       for x in recipients):
                raise FormatError(f"shares[{i}].recipients must be recipient strings")
            if len(set(recipients)) != len(recipients):
                raise FormatError(f"shares[{i}].recipients lists a recipient twice")
            shares.append(ShareEntry(
                custodian_id=er.text("custodian_id", 100, required=True),
                custodian=er.text("custodian", MAX_LABEL, required=True),
                group=group, member=member, commitment=commitment,
                recipients=tuple(recipients)))
        keys = [x.key for x in shares]
        expected = sorted(f"g{gi}m{m}" for gi, g in enumerate(groups) for m in range(g.count))
        if sorted(keys) != expected:
            raise FormatError("the shares do not match the SLIP-39 groups (missing or duplicate)")
        if [(x.group, x.member) for x in shares] != sorted((x.group, x.member) for x in shares):
            raise FormatError("the shares are not in group/member order")
        p = r.sub("payload")
        p.keys({"alg", "nonce", "size", "encoding"})
        if p.string("alg") != PAYLOAD_ALG:
            raise FormatError(f"unknown payload algorithm {p.obj['alg']!r}")
        nonce_hex = p.string("nonce")
        if not re.fullmatch(r"[0-9a-f]{24}", nonce_hex):
            raise FormatError("payload.nonce must be 12 bytes of lowercase hex")
        encoding = p.string("encoding")
        if encoding not in ("utf-8", "binary"):
            raise FormatError("payload.encoding must be 'utf-8' or 'binary'")
        created_at = r.string("created_at")
        if not _ISO_UTC.fullmatch(created_at):
            raise FormatError("created_at must be an ISO 8601 UTC time like 2026-01-31T12:00:00Z")
        previous = r.obj.get("previous")
        if previous is not None and not (isinstance(previous, str) and _HEX64.fullmatch(previous)):
            raise FormatError("previous must be null or a SHA-256 hex digest")
        return cls(
            record_id=record_id, label=label, version=version, epoch=epoch,
            slip39_identifier=s.integer("identifier", 0, 2**15 - 1),
            slip39_iteration_exponent=_iteration_exponent(s),
            slip39_extendable=s.boolean("extendable"),
            group_threshold=group_threshold, groups=tuple(groups), shares=tuple(shares),
            payload_nonce=bytes.fromhex(nonce_hex),
            payload_size=p.integer("size", 0, MAX_PAYLOAD),
            payload_encoding=encoding, created_at=created_at,
            created_by=r.text("created_by", MAX_LABEL, required=True),
            previous=previous, nhi=nhi)


MAX_PAYLOAD = 1 << 20  # 1 MiB: recovery secrets are keys and certificates, not archives


def _iteration_exponent(s: Any) -> int:
    """Only the exponent Tessera writes: each step doubles the cost of combining (15
    costs minutes of CPU), so a crafted sheet or import is refused before any work."""
    value: int = s.integer("iteration_exponent", 0, 15)
    if value != ITERATION_EXPONENT:
        raise FormatError(f"slip39.iteration_exponent is {value}; Tessera writes only "
                          f"{ITERATION_EXPONENT}, and a larger one would make combining "
                          "the shares take minutes")
    return value


def describe_quorum(groups: tuple[tuple[int, int], ...], group_threshold: int) -> str:
    """Plain words for a quorum of (threshold, count) groups."""
    if len(groups) == 1:
        threshold, count = groups[0]
        return f"any {threshold} of {count}"
    parts = ", ".join(f"group {i + 1}: {threshold} of {count}"
                      for i, (threshold, count) in enumerate(groups))
    return f"{group_threshold} of {len(groups)} groups ({parts})"


def new_record_id() -> str:
    return str(uuid.uuid4())


def check_record_id(value: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise FormatError("record_id is not a UUID") from None
    if str(parsed) != value:
        raise FormatError("record_id is not a lowercase hyphenated UUID")
    return value


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648
_B32_PAIRS = tuple(a + b for a in _B32 for b in _B32)  # 10 bits -> 2 characters


def format_fingerprint(digest: bytes) -> str:
    """``TSR-XXXX-XXXX-XXXX-XXXX``: the first 80 bits of the digest in RFC 4648 base32.

    Ten bits at a time from one integer (``base64.b32encode`` is Python code, and the
    review checks the fingerprint of every record's current version)."""
    if len(digest) < 10:
        b32 = base64.b32encode(digest[:10]).decode("ascii")
        return "TSR-" + "-".join(b32[i:i + 4] for i in range(0, 16, 4))
    n, p = int.from_bytes(digest[:10], "big"), _B32_PAIRS
    return (f"TSR-{p[n >> 70]}{p[n >> 60 & 1023]}-{p[n >> 50 & 1023]}{p[n >> 40 & 1023]}-"
            f"{p[n >> 30 & 1023]}{p[n >> 20 & 1023]}-{p[n >> 10 & 1023]}{p[n & 1023]}")


def manifest_fingerprint(data: bytes) -> str:
    return format_fingerprint(hashlib.sha256(data).digest())


class _Reader:
    """Strict field access with messages that name the field."""

    def __init__(self, obj: Any, where: str) -> None:
        if not isinstance(obj, dict):
            raise FormatError(f"{where} must be an object")
        self.obj: dict[str, Any] = obj
        self.where = where

    def keys(self, allowed: set[str], exact: bool = True) -> None:
        extra = set(self.obj) - allowed
        if extra:
            raise FormatError(f"{self.where} has unknown field(s): {', '.join(sorted(extra))}")
        missing = allowed - set(self.obj)
        if exact and missing:
            raise FormatError(f"{self.where} lacks field(s): {', '.join(sorted(missing))}")

    def _get(self, key: str) -> Any:
        if key not in self.obj:
            raise FormatError(f"{self.where}.{key} is missing")
        return self.obj[key]

    def string(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise FormatError(f"{self.where}.{key} must be a string")
        return value

    def text(self, key: str, limit: int, required: bool = False) -> str:
        value = self.string(key)
        if len(value) > limit:
            raise FormatError(f"{self.where}.{key} is longer than {limit} characters")
        if required and not value.strip():
            raise FormatError(f"{self.where}.{key} is empty")
        if _CONTROL.search(value):
            raise FormatError(f"{self.where}.{key} contains control characters")
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FormatError(f"{self.where}.{key} must be a whole number")
        if not low <= value <= high:
            raise FormatError(f"{self.where}.{key} must be between {low} and {high}")
        return value

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise FormatError(f"{self.where}.{key} must be true or false")
        return value

    def items(self, key: str, low: int, high: int) -> Sequence[Any]:
        value = self._get(key)
        if not isinstance(value, list):
            raise FormatError(f"{self.where}.{key} must be a list")
        if not low <= len(value) <= high:
            raise FormatError(f"{self.where}.{key} must have {low} to {high} items")
        return value

    def sub(self, key: str) -> _Reader:
        return _Reader(self._get(key), f"{self.where}.{key}")


@functools.lru_cache(maxsize=8192)
def _parsed_manifest(data: bytes) -> Manifest:
    return Manifest._parse(data)
