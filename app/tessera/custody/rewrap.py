"""Re-wrap: a custodian moves their own share to new tokens, without a quorum.

The custodian proves they hold the share — their old token opens the envelope, or
they type the words of their sheet — and the *same* words are wrapped again, one age
stanza per new token; the old token's stanza is gone. The words, and so the
manifest's commitment, the fingerprint and every printed sheet, stay valid: no new
version, no new epoch. The envelope's recipient list is kept beside it in the vault
(docs/LIFECYCLE.md, "Re-wrap", explains why the manifest is not rewritten).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from tessera.core import age, slip39
from tessera.core.commitment import matches_commitment, normalize_mnemonic
from tessera.core.envelopes import EnvelopeKind, envelope_kind, share_recipients
from tessera.core.errors import InputError, PolicyError, ShareMismatch
from tessera.core.memory import wipe
from tessera.core.quorum import QuorumSession
from tessera.core.request import Request, new_request
from tessera.custody.drivers import TokenDrivers
from tessera.custody.lifecycle import active_tokens_of
from tessera.custody.release import known_sets, open_share
from tessera.custody.signing import require_verified_recipients
from tessera.tokens.base import (
    ApprovalMethod,
    Evidence,
    Prompts,
    TokenInfo,
    TokenKind,
    TokenState,
)
from tessera.vault import Record, Vault, VersionData


@dataclass(frozen=True)
class RewrapResult:
    record_id: str
    label: str
    custodian: str
    share_keys: tuple[str, ...]
    method: str  # the token kind that opened the share, or "paper"
    removed: tuple[str, ...]  # labels (or recipients) of tokens that no longer open it
    added: tuple[str, ...]  # labels of tokens that now open it
    envelopes: str = "classical"  # "hybrid" (post-quantum) or "classical"


def rewrap_with_token(vault: Vault, drivers: TokenDrivers, record: str, old_token_id: str,
                      prompts: Prompts, cancel: threading.Event, *, actor: str,
                      new_token_ids: Sequence[str] | None = None) -> RewrapResult:
    """Open the custodian's share with ``old_token_id`` and wrap it to their new tokens.

    ``new_token_ids`` defaults to the custodian's active tokens other than the old
    one. The old token may already be retired (replaced), but not lost: a lost token
    proves nothing; use the sheet (:func:`rewrap_with_paper`).
    """
    rec = vault.get_record(record)
    data = vault.get_version(rec.id)
    old = vault.get_token(old_token_id)
    if old.state is TokenState.LOST:
        raise PolicyError(f"{old.label} is recorded as lost; re-wrap from the sheet instead")
    recipients = _new_recipients(vault, rec, old.custodian_id, new_token_ids, exclude=old.id)
    request = _request(data, actor)
    entries = [e for e in data.manifest.shares_of(old.custodian_id)
               if old.named_in(data.recipients_of(e.key))]
    done: list[str] = []
    removed: set[str] = set()
    for _ in entries:
        unlocked, entry = open_share(drivers, old, data, request.challenge, prompts, cancel,
                                         skip=done)
        try:
            mnemonic = normalize_mnemonic(unlocked.share.decode("utf-8"))
            if not matches_commitment(rec.id, mnemonic, entry.commitment):
                raise ShareMismatch(entry.custodian, "the share in the envelope does not match "
                                    "the record's commitment; the envelope may have been "
                                    "replaced")
            envelope = _wrap(mnemonic, recipients)
        finally:
            unlocked.wipe()
        removed.update(set(data.recipients_of(entry.key)) - set(recipients))
        vault.rewrap_envelope(rec.id, entry.key, envelope, recipients, token_id=old.id,
                              request_bytes=request.to_bytes(), evidence=unlocked.evidence,
                              actor=actor)
        done.append(entry.key)
    if not done:
        raise InputError(f"{old.label} opens no share of {rec.label}'s current version")
    return _result(vault, rec, old.custodian_name, done, old.kind.value, removed, recipients)


def upgrade_to_hybrid(vault: Vault, drivers: TokenDrivers, record: str, token_id: str,
                      prompts: Prompts, cancel: threading.Event, *,
                      actor: str) -> RewrapResult:
    """Re-wrap the custodian's share to all their active tokens, post-quantum where
    the record's policy asks for it and every token can take it.

    The token opens the share (PIN, touch) exactly as for a re-wrap to a new token;
    the same words go into a new envelope, so sheets and fingerprint stay valid.
    """
    token = vault.get_token(token_id)
    mine = [t.id for t in active_tokens_of(vault, token.custodian_id)]
    return rewrap_with_token(vault, drivers, record, token_id, prompts, cancel, actor=actor,
                             new_token_ids=mine)


def rewrap_with_paper(vault: Vault, record: str, custodian: str, words: str, *, actor: str,
                      new_token_ids: Sequence[str] | None = None) -> RewrapResult:
    """Wrap the share typed from the custodian's sheet to their tokens.

    The words are checked against the custodian's commitment first (a share of an
    earlier epoch is named as such); ``new_token_ids`` defaults to every active token
    of the custodian.
    """
    rec = vault.get_record(record)
    data = vault.get_version(rec.id)
    person = vault.get_custodian(custodian)
    recipients = _new_recipients(vault, rec, person.id, new_token_ids, exclude=None)
    session = QuorumSession(data.manifest, known_sets(vault, rec.id, data.manifest))
    contribution = session.offer(person.id, words, method="paper")
    try:
        envelope = _wrap(normalize_mnemonic(" ".join(slip39.normalize_words(words))),
                         recipients)
    finally:
        session.wipe()
    key = contribution.share_key
    removed = set(data.recipients_of(key)) - set(recipients)
    request = _request(data, actor)
    evidence = Evidence(ApprovalMethod.PAPER, None, "share-commitment", b"", {"share_key": key})
    vault.rewrap_envelope(rec.id, key, envelope, recipients, token_id=None,
                          request_bytes=request.to_bytes(), evidence=evidence, actor=actor)
    return _result(vault, rec, person.name, [key], "paper", removed, recipients)


def _request(data: VersionData, actor: str) -> Request:
    return new_request("rewrap", data.manifest, reason="re-wrap a share to new tokens",
                       ticket="", requested_by=actor)


def _new_recipients(vault: Vault, rec: Record, custodian_id: str,
                    token_ids: Sequence[str] | None, exclude: str | None) -> tuple[str, ...]:
    """The recipients of the new envelope, checked against the record's policy."""
    mine = {t.id: t for t in active_tokens_of(vault, custodian_id)}
    if token_ids is None:
        chosen: list[TokenInfo] = [t for i, t in mine.items() if i != exclude]
    else:
        chosen = []
        for token_id in dict.fromkeys(token_ids):
            token = vault.get_token(token_id)
            if token.id not in mine:
                raise PolicyError(f"{token.label} is not an active token of "
                                  f"{vault.get_custodian(custodian_id).name}")
            chosen.append(token)
    if not chosen:
        raise InputError("there is no new token to wrap the share to; enrol the new token "
                         "first")
    policy = vault.record_policy(rec.id)
    software_ok = vault.is_demo or rec.allow_software or not policy.hardware_only
    for token in chosen:
        if token.kind.value not in policy.allowed_kinds:
            raise PolicyError(f"{token.kind.value} tokens are not allowed by this record's "
                              "policy")
        if token.policy_kind(demo_vault=vault.is_demo) is TokenKind.SOFTWARE and not software_ok:
            raise PolicyError(f"this record is hardware-only and {token.label} is a software "
                              "key or not proven hardware (no valid attestation)")
    require_verified_recipients(vault, chosen)
    # Hybrid (post-quantum) where the policy asks and every chosen token can take it;
    # never a mix of the two kinds in one envelope (core.envelopes).
    return share_recipients(chosen, EnvelopeKind(policy.envelopes))


def _wrap(mnemonic: str, recipients: Sequence[str]) -> bytes:
    data = bytearray(mnemonic.encode("utf-8"))
    try:
        return age.encrypt(bytes(data), [age.parse_recipient(r) for r in recipients])
    finally:
        wipe(data)


def _result(vault: Vault, rec: Record, name: str, keys: Sequence[str], method: str,
            removed: set[str], recipients: Sequence[str]) -> RewrapResult:
    def label(recipient: str) -> str:
        token = vault.token_for_recipient(recipient)
        return token.label if token is not None else recipient[:20] + "…"

    added = tuple(dict.fromkeys(label(r) for r in recipients))
    # A token moved from its classical to its hybrid recipient is kept, not removed.
    gone = {label(r) for r in removed} - set(added)
    return RewrapResult(rec.id, rec.label, name, tuple(keys), method,
                        tuple(sorted(gone)), added, envelope_kind(recipients).value)

