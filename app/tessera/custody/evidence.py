"""Check every stored approval signature against the token that made it.

The audit chain proves the log was not edited; these checks prove each approval was
made by the enrolled token, over exactly the request recorded for that release,
reshare (stored with the releases, purpose "reshare"), drill or re-wrap, and each signed
custodian acknowledgement was made by that custodian's token. Used by ``tessera audit verify`` and the GUI's Verify button.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from tessera.core.errors import FormatError, NotFound, TesseraError
from tessera.core.request import Request
from tessera.custody.acknowledge import acknowledgement_problems
from tessera.custody.drivers import TokenDrivers
from tessera.tokens.base import ApprovalMethod, Evidence
from tessera.vault import Vault

REQUEST_KEY = "request"  # drill evidence carries its canonical request (base64)


def with_request(evidence: Evidence, request: Request) -> Evidence:
    """The evidence plus the request it signs, so it can be verified later on its own."""
    data = dict(evidence.data)
    data[REQUEST_KEY] = base64.b64encode(request.to_bytes()).decode("ascii")
    return Evidence(evidence.method, evidence.token_id, evidence.algorithm, evidence.signature,
                    data)


def verify_approvals(vault: Vault, drivers: TokenDrivers) -> list[str]:
    """Problems found, one sentence each; empty when every signature verifies."""
    problems: list[str] = []
    names = {c.id: c.name for c in vault.list_custodians(include_retired=True)}
    for release in vault.list_releases():
        where = f"release {release.id[:8]}"
        try:
            request = Request.from_bytes(release.request)
        except FormatError as exc:
            problems.append(f"{where}: the stored request is damaged ({exc})")
            continue
        if (request.record_id, request.version, request.request_id) != \
                (release.record_id, release.version, release.id):
            problems.append(f"{where}: the stored request describes another release")
            continue
        challenge = hashlib.sha256(release.request).digest()
        for approval in release.approvals:
            who = names.get(approval.custodian_id, approval.custodian_id)
            problem = _check(vault, drivers, approval.token_id, approval.evidence, challenge)
            if problem:
                problems.append(f"{where}: {who}'s approval {problem}")
    for drill in vault.list_drills():
        if drill.evidence is None or drill.method is ApprovalMethod.PAPER:
            continue
        who = names.get(drill.custodian_id, drill.custodian_id)
        where = f"drill of {who} at {drill.at}"
        try:
            raw = base64.b64decode(drill.evidence.data[REQUEST_KEY], validate=True)
            request = Request.from_bytes(raw)
        except (KeyError, binascii.Error, FormatError):
            problems.append(f"{where}: the signed request is missing or damaged")
            continue
        if request.purpose != "drill" or request.record_id != drill.record_id:
            problems.append(f"{where}: the signed request is not this drill's")
            continue
        problem = _check(vault, drivers, drill.token_id, drill.evidence,
                         hashlib.sha256(raw).digest())
        if problem:
            problems.append(f"{where}: {problem}")
    problems.extend(_rewrap_problems(vault, drivers, names))
    problems.extend(acknowledgement_problems(vault, drivers))
    return problems


def _rewrap_problems(vault: Vault, drivers: TokenDrivers, names: dict[str, str]) -> list[str]:
    """Each token re-wrap was signed by the token that opened the share, over its request."""
    problems: list[str] = []
    for rewrap in vault.list_rewraps():
        who = names.get(rewrap.custodian_id, rewrap.custodian_id)
        where = f"re-wrap of {who}'s share {rewrap.share_key} at {rewrap.at}"
        try:
            request = Request.from_bytes(rewrap.request)
        except FormatError as exc:
            problems.append(f"{where}: the stored request is damaged ({exc})")
            continue
        if (request.purpose, request.record_id, request.version) != (
                "rewrap", rewrap.record_id, rewrap.version):
            problems.append(f"{where}: the signed request is not this re-wrap's")
            continue
        if rewrap.method is ApprovalMethod.PAPER:
            continue
        problem = _check(vault, drivers, rewrap.token_id, rewrap.evidence,
                         hashlib.sha256(rewrap.request).digest())
        if problem:
            problems.append(f"{where}: {problem}")
    return problems


def _check(vault: Vault, drivers: TokenDrivers, token_id: str | None, evidence: Evidence,
           challenge: bytes) -> str | None:
    if evidence.method is ApprovalMethod.PAPER:
        return None  # a paper share proves itself by its commitment; there is no signature
    if token_id is None:
        return "names no token"
    try:
        token = vault.get_token(token_id)
        ok = drivers.driver(token.kind).verify(token, challenge, evidence)
    except NotFound:
        return "names a token that is not in the vault"
    except TesseraError as exc:
        return f"cannot be checked ({exc})"
    return None if ok else f"signature by {token.label} does not verify"
