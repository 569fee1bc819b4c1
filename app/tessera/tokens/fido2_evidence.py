"""FIDO2 approval evidence: a WebAuthn assertion over a release or drill challenge.

The assertion that evaluates the PRF is also the token's signature on the operation:
client data carries ``challenge`` (the hash of the request), the authenticator signs
``authenticatorData ‖ SHA-256(clientDataJSON)`` with the credential key whose public
half was stored at enrolment. :func:`verify_evidence` needs no device.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tessera.core.errors import FormatError
from tessera.tokens.base import ApprovalMethod, Evidence, TokenInfo
from tessera.tokens.fido2_keys import ORIGIN, RP_ID, Fido2Facts, b64, from_b64, from_b64url

ALGORITHM = "ES256"
_FLAG_UP = 0x01
_FLAG_UV = 0x04


def make_evidence(
    token_id: str | None, authenticator_data: bytes, client_data_json: bytes, signature: bytes
) -> Evidence:
    return Evidence(
        method=ApprovalMethod.FIDO2,
        token_id=token_id,
        algorithm=ALGORITHM,
        signature=bytes(signature),
        data={
            "authenticator_data": b64(bytes(authenticator_data)),
            "client_data_json": b64(bytes(client_data_json)),
        },
    )


def _client_data_ok(client_data_json: bytes, challenge: bytes) -> bool:
    try:
        client_data = json.loads(client_data_json.decode("utf-8"))
        if not isinstance(client_data, dict):
            return False
        given = from_b64url(client_data["challenge"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return False
    return (
        client_data.get("type") == "webauthn.get"
        and client_data.get("origin") == ORIGIN
        and hmac.compare_digest(given, challenge)
    )


def verify_assertion(
    public_key: ec.EllipticCurvePublicKey,
    challenge: bytes,
    authenticator_data: bytes,
    client_data_json: bytes,
    signature: bytes,
) -> bool:
    """True when the assertion is for ``challenge``, our RP, with presence and UV."""
    if len(authenticator_data) < 37:
        return False
    if authenticator_data[:32] != hashlib.sha256(RP_ID.encode()).digest():
        return False
    flags = authenticator_data[32]
    if not flags & _FLAG_UP or not flags & _FLAG_UV:
        return False
    if not _client_data_ok(client_data_json, challenge):
        return False
    signed = authenticator_data + hashlib.sha256(client_data_json).digest()
    try:
        public_key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def verify_evidence(token: TokenInfo, challenge: bytes, evidence: Evidence) -> bool:
    """Check FIDO2 evidence against the credential public key stored at enrolment."""
    if evidence.method is not ApprovalMethod.FIDO2 or evidence.algorithm != ALGORITHM:
        return False
    if evidence.token_id is not None and evidence.token_id != token.id:
        return False
    try:
        facts = Fido2Facts.from_json(token.facts)
        authenticator_data = from_b64(evidence.data["authenticator_data"])
        client_data_json = from_b64(evidence.data["client_data_json"])
    except (FormatError, ValueError, KeyError, TypeError):
        return False  # unparseable stored facts or evidence never verify
    return verify_assertion(
        facts.public_key, challenge, authenticator_data, client_data_json, evidence.signature
    )
