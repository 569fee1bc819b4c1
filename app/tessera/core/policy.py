"""Custody policy: who may hold a share, how many must meet, how often to prove it.

A vault has a default policy; a record may override it. :func:`check_split` is the
one place the rules for a new split live, so the CLI, the GUI and the lifecycle
operations refuse the same things with the same words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from tessera.core.errors import FormatError, PolicyError

SLIP39_MAX_GROUPS = 16
SLIP39_MAX_SHARES = 16
KNOWN_TOKEN_KINDS = ("fido2", "piv", "software")
ENVELOPE_KINDS = ("hybrid", "classical")


@dataclass(frozen=True)
class Policy:
    min_threshold: int = 2
    hardware_only: bool = True
    allowed_kinds: tuple[str, ...] = KNOWN_TOKEN_KINDS
    drill_days: int = 90
    rotation_days: int = 365
    max_reveal_seconds: int = 120
    paper_in_release: bool = True
    # "hybrid": post-quantum share envelopes wherever every token of the custodian can
    # take one (core.envelopes); "classical": X25519 / piv-p256 only.
    envelopes: str = "hybrid"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["allowed_kinds"] = list(self.allowed_kinds)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise FormatError(f"unknown policy setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            values[key] = _coerce(key, value)
        return replace(cls(), **values)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Policy:
        merged = self.to_json()
        merged.update(overrides)
        return Policy.from_json(merged)


def _coerce(key: str, value: Any) -> Any:
    if key in ("hardware_only", "paper_in_release"):
        if not isinstance(value, bool):
            raise FormatError(f"policy {key} must be true or false")
        return value
    if key == "envelopes":
        if value not in ENVELOPE_KINDS:
            raise FormatError("policy envelopes must be hybrid or classical")
        return value
    if key == "allowed_kinds":
        if not isinstance(value, list | tuple) or not value:
            raise FormatError("policy allowed_kinds must be a non-empty list")
        bad = [k for k in value if k not in KNOWN_TOKEN_KINDS]
        if bad:
            raise FormatError(f"unknown token kind(s) in policy: {', '.join(map(str, bad))}")
        return tuple(value)
    limits = {"min_threshold": (1, 16), "drill_days": (1, 3650), "rotation_days": (1, 3650),
              "max_reveal_seconds": (10, 3600)}
    low, high = limits[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FormatError(f"policy {key} must be a whole number from {low} to {high}")
    return value


def parse_setting(key: str, text: str) -> Any:
    """Turn ``tessera policy set KEY VALUE`` text into a typed policy value."""
    if key in ("hardware_only", "paper_in_release"):
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise FormatError(f"{key} takes yes or no")
    if key == "allowed_kinds":
        return [k.strip() for k in text.split(",") if k.strip()]
    if key == "envelopes":
        lowered = text.strip().lower()
        if lowered not in ENVELOPE_KINDS:
            raise FormatError("envelopes takes hybrid or classical")
        return lowered
    if key not in {f.name for f in fields(Policy)}:
        raise FormatError(f"unknown policy setting {key!r}")
    try:
        return int(text)
    except ValueError:
        raise FormatError(f"{key} takes a whole number") from None


@dataclass(frozen=True)
class SplitPlan:
    """How a secret is split: ``group_threshold`` of the groups, each a list of
    custodian ids (one share each, in order) and a member threshold."""

    group_threshold: int
    groups: tuple[tuple[int, tuple[str, ...]], ...]  # (member threshold, custodian ids)

    @classmethod
    def simple(cls, threshold: int, custodians: Sequence[str]) -> SplitPlan:
        return cls(1, ((threshold, tuple(custodians)),))

    @property
    def share_count(self) -> int:
        return sum(len(members) for _, members in self.groups)

    @property
    def threshold(self) -> int:
        """The number of shares a minimal quorum brings (for single-group plans, K)."""
        needed = sorted(t for t, _ in self.groups)[: self.group_threshold]
        return sum(needed)


@dataclass(frozen=True)
class PolicyWarning:
    text: str


def check_split(plan: SplitPlan, policy: Policy, *, demo: bool,
                token_kinds: Mapping[str, Sequence[str]],
                allow_software: bool = False) -> list[PolicyWarning]:
    """Refuse a split that breaks the rules; return warnings the operator should see.

    ``token_kinds`` maps each custodian id to the kinds of their active tokens.
    """
    warnings: list[PolicyWarning] = []
    groups = plan.groups
    if not 1 <= len(groups) <= SLIP39_MAX_GROUPS:
        raise PolicyError(f"SLIP-39 allows 1 to {SLIP39_MAX_GROUPS} groups")
    if not 1 <= plan.group_threshold <= len(groups):
        raise PolicyError(f"the group threshold must be between 1 and {len(groups)}")
    for i, (threshold, members) in enumerate(groups, start=1):
        where = "" if len(groups) == 1 else f" in group {i}"
        n = len(members)
        if n == 0:
            raise PolicyError(f"no custodians{where}")
        if n > SLIP39_MAX_SHARES:
            raise PolicyError(f"SLIP-39 allows at most {SLIP39_MAX_SHARES} shares{where}")
        if not 1 <= threshold <= n:
            raise PolicyError(f"the threshold{where} must be between 1 and {n} (N ≥ K)")
        if threshold == 1 and n > 1:
            raise PolicyError(f"a threshold of 1 with {n} custodians{where} would let any one "
                              "of them alone release the secret; SLIP-39 forbids it")
    minimum = policy.min_threshold
    if plan.threshold < minimum:
        if demo and plan.threshold >= 1:
            warnings.append(PolicyWarning(
                f"Threshold {plan.threshold} is below the minimum of {minimum}: one person "
                "alone can release this secret. Allowed only because this is a demo vault."))
        else:
            raise PolicyError(f"the threshold must be at least {minimum}: no single person "
                              "may release a recovery secret alone")
    if len(groups) == 1:
        threshold, members = groups[0]
        if len(members) < 2 * threshold:
            warnings.append(PolicyWarning(
                f"{len(members)} custodians for a threshold of {threshold}: losing "
                f"{len(members) - threshold + 1} of them makes the secret unrecoverable "
                f"(at least {2 * threshold} custodians are recommended)."))
    seen: set[str] = set()
    for _, members in groups:
        for cid in members:
            if cid in seen:
                warnings.append(PolicyWarning(
                    "One custodian holds more than one share: that person counts twice "
                    "towards the quorum."))
            seen.add(cid)
    software_ok = demo or allow_software or not policy.hardware_only
    for cid in seen:
        kinds = list(token_kinds.get(cid, ()))
        if not kinds:
            raise PolicyError(f"custodian {cid} has no active token to wrap a share to")
        for kind in kinds:
            if kind not in policy.allowed_kinds:
                raise PolicyError(f"{kind} tokens are not allowed by this policy")
            if kind == "software" and not software_ok:
                raise PolicyError(
                    "this record is hardware-only and a custodian has a software key (or a "
                    "hardware key whose attestation is not proven, which counts as one); "
                    "enrol a hardware token or create the record with --allow-software")
    if allow_software and not demo:
        warnings.append(PolicyWarning(
            "Software keys are allowed on this record: a share may be opened by a key stored "
            "on a computer rather than a hardware token. The audit log records this choice."))
    return warnings
