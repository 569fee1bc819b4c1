"""Record that a custodian acknowledged their responsibilities (PCI DSS 3.7.8).

Signed, where the custodian's token can sign here: the token opens a throw-away
envelope wrapped to its recipient (proving it is the enrolled key) and signs the
acknowledgement's challenge with the same machinery as a release approval. The
record is an audit entry (``custodian.acknowledge``), so it sits in the hash chain
and ``audit verify`` re-checks its signature. A custodian whose key cannot sign on
this machine (remote enrolment) is recorded as acknowledged on a signed paper form,
naming the witness and the form.
"""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass

from tessera.core import age
from tessera.core.acknowledgement import (
    STATEMENT_VERSION,
    Acknowledgement,
    new_acknowledgement,
    statement_digest,
)
from tessera.core.errors import FormatError, PolicyError, TesseraError, TokenError
from tessera.core.memory import wipe
from tessera.core.text import clean
from tessera.custody.drivers import TokenDrivers
from tessera.tokens.base import Prompts, TokenInfo, TokenState
from tessera.vault import Vault
from tessera.vault.codec import evidence_from_json, evidence_json

ACTION = "custodian.acknowledge"
WITNESSED = "witnessed"


@dataclass(frozen=True)
class AcknowledgementRecord:
    custodian_id: str
    at: str
    method: str  # a token kind ("fido2", "piv", "software") or "witnessed"
    token_id: str | None
    current: bool  # made for the statement in force now


def sign_acknowledgement(vault: Vault, drivers: TokenDrivers, token: TokenInfo,
                         prompts: Prompts, cancel: threading.Event, *,
                         actor: str) -> AcknowledgementRecord:
    """Have ``token`` sign its custodian's acknowledgement and record it."""
    if token.state is not TokenState.ACTIVE:
        raise PolicyError(f"{token.label} is {token.state.value}; acknowledge with an active key")
    driver = drivers.for_token(token)
    ack = new_acknowledgement(token.custodian_id, token.custodian_name, token.id)
    probe = os.urandom(32)
    envelope = age.encrypt(probe, [age.parse_recipient(token.recipient)])
    unlocked = driver.unlock(token, envelope, ack.challenge, prompts, cancel)
    try:
        opened = bytes(unlocked.share) == probe
        evidence = unlocked.evidence
    finally:
        unlocked.wipe()
        wipe(bytearray(probe))
    if not opened or not driver.verify(token, ack.challenge, evidence):
        raise TokenError(f"{token.label} did not sign the acknowledgement correctly")
    entry = vault.append_audit(actor, ACTION, token.custodian_id, {
        "custodian": token.custodian_name, "method": token.kind.value, "token_id": token.id,
        "token_label": token.label, "statement": ack.statement,
        "statement_version": STATEMENT_VERSION,
        "acknowledgement": base64.b64encode(ack.to_bytes()).decode("ascii"),
        "evidence": evidence_json(evidence)})
    return AcknowledgementRecord(token.custodian_id, entry.at, token.kind.value, token.id, True)


def record_witnessed_acknowledgement(vault: Vault, custodian_id: str, *, witness: str,
                                     reference: str, actor: str) -> AcknowledgementRecord:
    """A custodian signed the statement on paper in front of ``witness``; ``reference``
    says where the signed form is kept."""
    person = vault.get_custodian(custodian_id)
    witness = clean(witness, "witness", 200, required=True)
    reference = clean(reference, "form reference", 200, required=True)
    entry = vault.append_audit(actor, ACTION, person.id, {
        "custodian": person.name, "method": WITNESSED, "witness": witness,
        "reference": reference, "statement": statement_digest(),
        "statement_version": STATEMENT_VERSION})
    return AcknowledgementRecord(person.id, entry.at, WITNESSED, None, True)


def acknowledgements(vault: Vault) -> dict[str, AcknowledgementRecord]:
    """Each custodian's newest acknowledgement (custodians without one are absent)."""
    current = statement_digest()
    found: dict[str, AcknowledgementRecord] = {}
    for entry in vault.audit_entries(action=ACTION):
        details = entry.details
        token_id = details.get("token_id")
        found[entry.subject] = AcknowledgementRecord(
            entry.subject, entry.at, str(details.get("method", "")),
            token_id if isinstance(token_id, str) else None,
            details.get("statement") == current)
    return found


def acknowledged_at(vault: Vault) -> dict[str, str]:
    """{custodian id: when} for acknowledgements of the statement in force now."""
    return {cid: rec.at for cid, rec in acknowledgements(vault).items() if rec.current}


def acknowledgement_problems(vault: Vault, drivers: TokenDrivers) -> list[str]:
    """Signed acknowledgements whose signature or content does not verify."""
    problems: list[str] = []
    for entry in vault.audit_entries(action=ACTION):
        details = entry.details
        if details.get("method") == WITNESSED:
            continue
        where = f"acknowledgement of {details.get('custodian', entry.subject)} at {entry.at}"
        try:
            raw = base64.b64decode(str(details["acknowledgement"]), validate=True)
            ack = Acknowledgement.from_bytes(raw)
            evidence = evidence_from_json(details["evidence"], where)
        except (KeyError, ValueError, FormatError):
            problems.append(f"{where}: the signed acknowledgement is missing or damaged")
            continue
        if (ack.custodian_id, ack.token_id, ack.statement) != (
                entry.subject, details.get("token_id"), details.get("statement")):
            problems.append(f"{where}: the signed acknowledgement is not this entry's")
            continue
        try:
            token = vault.get_token(ack.token_id)
            ok = drivers.driver(token.kind).verify(token, ack.challenge, evidence)
        except TesseraError as exc:
            problems.append(f"{where}: cannot be checked ({exc})")
            continue
        if not ok:
            problems.append(f"{where}: the signature by {token.label} does not verify")
    return problems
