"""Create a custody record: check the policy, seal the secret, store version 1."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tessera.core import text
from tessera.core.envelopes import EnvelopeKind, share_recipients
from tessera.core.manifest import MAX_LABEL, new_record_id
from tessera.core.policy import PolicyWarning, SplitPlan, check_split
from tessera.core.sealing import RecordFacts, SealedVersion, ShareHolder, seal_version
from tessera.custody.signing import require_verified_recipients
from tessera.tokens.base import TokenInfo, TokenState
from tessera.vault import Vault


@dataclass(frozen=True)
class Created:
    record_id: str
    label: str
    fingerprint: str
    sealed: SealedVersion
    warnings: tuple[PolicyWarning, ...]


def holders_for(vault: Vault, custodian_ids: Sequence[str],
                envelopes: EnvelopeKind | str = EnvelopeKind.HYBRID) -> dict[str, ShareHolder]:
    """Each custodian with the recipients their share envelope is wrapped to.

    ``envelopes`` is the policy's wish; :func:`~tessera.core.envelopes.share_recipients`
    decides per custodian (hybrid only where every active token can take it).
    """
    wanted = EnvelopeKind(envelopes)
    holders = {}
    every: list[TokenInfo] = []
    for cid in custodian_ids:
        custodian = vault.get_custodian(cid)
        tokens = [t for t in vault.list_tokens(custodian.id) if t.state is TokenState.ACTIVE]
        every += tokens
        holders[custodian.id] = ShareHolder(custodian.id, custodian.name,
                                            share_recipients(tokens, wanted))
    # Before any share is wrapped: each recipient is the one its signed enrolment made.
    require_verified_recipients(vault, every)
    return holders


def token_kinds(vault: Vault, custodian_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each custodian's active tokens as policy counts them: unproven hardware is software."""
    demo = vault.is_demo
    return {cid: [t.policy_kind(demo_vault=demo).value for t in vault.list_tokens(cid)
                  if t.state is TokenState.ACTIVE]
            for cid in custodian_ids}


def resolve_plan(vault: Vault, plan: SplitPlan) -> SplitPlan:
    """Turn custodian names into ids (names are what people type)."""
    return SplitPlan(plan.group_threshold, tuple(
        (threshold, tuple(vault.get_custodian(c).id for c in members))
        for threshold, members in plan.groups))


def create_record(
    vault: Vault,
    secret: bytes | bytearray,
    *,
    label: str,
    plan: SplitPlan,
    nhi: Mapping[str, str],
    actor: str,
    allow_software: bool = False,
    allow_lookalike: bool = False,
    policy_overrides: Mapping[str, Any] | None = None,
    encoding: str = "utf-8",
    on_mnemonics: Callable[[Mapping[str, str]], None] | None = None,
) -> Created:
    """Split ``secret`` among the plan's custodians and store the record.

    Raises PolicyError before anything is written when the plan breaks the policy,
    and :class:`~tessera.core.text.LookalikeName` when the label looks like another
    record's (unless ``allow_lookalike``), before any share exists.
    """
    label = text.clean(label, "record label", MAX_LABEL, required=True)
    nhi = {key: text.clean(value, key, MAX_LABEL) for key, value in nhi.items()}
    similar = vault.label_lookalike(label)
    if similar is not None and not allow_lookalike:
        raise text.LookalikeName("record label", label, similar)
    plan = resolve_plan(vault, plan)
    ids = [cid for _, members in plan.groups for cid in members]
    policy = vault.policy.with_overrides(policy_overrides or {})
    warnings = check_split(plan, policy, demo=vault.is_demo, token_kinds=token_kinds(vault, ids),
                           allow_software=allow_software)
    holders = holders_for(vault, ids, policy.envelopes)
    sealed = seal_version(
        secret, RecordFacts(label, dict(nhi)), plan.group_threshold,
        [(t, [holders[c] for c in members]) for t, members in plan.groups],
        record_id=new_record_id(), version=1, epoch=1, created_by=actor, encoding=encoding,
        on_mnemonics=on_mnemonics)
    vault.create_record(
        sealed, system=nhi.get("system", ""), account=nhi.get("account", ""),
        owner=nhi.get("owner", ""), environment=nhi.get("environment", ""),
        policy_overrides=dict(policy_overrides or {}), allow_software=allow_software,
        allow_lookalike=allow_lookalike, actor=actor)
    return Created(sealed.record_id, sealed.manifest.label, sealed.fingerprint, sealed,
                   tuple(warnings))
