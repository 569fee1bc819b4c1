"""Key derivation, stored facts, evidence checks and error mapping of the FIDO2 token."""

from __future__ import annotations

import hashlib
import json
import os
import threading

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fido2.client import ClientError, PinRequiredError
from fido2.ctap import CtapError

from tessera.core.errors import (
    DeviceRemoved,
    FormatError,
    PinBlocked,
    PinInvalid,
    PinRequired,
    TouchTimeout,
    UserCancelled,
    WrongToken,
)
from tessera.tokens.fido2_errors import PinAuthBlocked, translate_error
from tessera.tokens.fido2_evidence import verify_assertion
from tessera.tokens.fido2_keys import (
    ORIGIN,
    RP_ID,
    Fido2Facts,
    b64url,
    derive_hybrid_identity,
    derive_identity,
    derive_x25519_private,
    from_b64url,
)

ERR = CtapError.ERR


def test_x25519_key_is_hkdf_of_prf_output_salted_with_the_credential_id():
    prf, cred_id = bytes(range(32)), b"credential-id"
    expected = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=cred_id, info=b"tessera/fido2-x25519/v1"
    ).derive(prf)
    assert derive_x25519_private(prf, cred_id) == expected
    assert derive_x25519_private(prf, b"another-credential") != expected
    public = x25519.X25519PrivateKey.from_private_bytes(expected).public_key().public_bytes_raw()
    assert derive_identity(prf, cred_id).recipient.public_bytes == public
    with pytest.raises(ValueError):
        derive_x25519_private(b"short", cred_id)


def test_hybrid_seed_is_hkdf_of_the_same_prf_output_with_its_own_info_string():
    prf, cred_id = bytes(range(32)), b"credential-id"
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=cred_id,
        info=b"tessera/fido2-mlkem768x25519/v1",
    ).derive(prf)
    hybrid = derive_hybrid_identity(prf, cred_id)
    assert hybrid.seed_bytes() == seed
    # Independent of the X25519 key from the same PRF output, and of other credentials.
    assert seed != derive_x25519_private(prf, cred_id)
    assert derive_hybrid_identity(prf, b"another-credential").seed_bytes() != seed
    assert hybrid.recipient.to_string().startswith("age1pq1")
    with pytest.raises(ValueError):
        derive_hybrid_identity(b"short", cred_id)


def test_b64url_is_strict():
    assert from_b64url(b64url(b"\xff\xfe")) == b"\xff\xfe"
    for bad in ("//4", "__4=", "_/4", "a"):
        with pytest.raises(ValueError):
            from_b64url(bad)


def _facts() -> Fido2Facts:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return Fido2Facts(
        credential_id=b"id", prf_salt=os.urandom(32), public_key=key, aaguid="00" * 16
    )


def test_facts_round_trip_and_reject_damage():
    facts = _facts()
    stored = json.loads(json.dumps(facts.to_json()))
    again = Fido2Facts.from_json(stored)
    assert again.credential_id == facts.credential_id and again.prf_salt == facts.prf_salt
    for field, value in (
        ("credential_id", "not base64url!"),
        ("prf_salt", b64url(b"short")),
        ("credential_public_key", "AAAA"),
        ("rp_id", "example.com"),
    ):
        with pytest.raises(FormatError, match=field):
            Fido2Facts.from_json({**stored, field: value})
    with pytest.raises(FormatError):
        Fido2Facts.from_json({k: v for k, v in stored.items() if k != "prf_salt"})


def _assertion(
    challenge: bytes,
    *,
    flags: int = 0x05,
    rp: str = RP_ID,
    kind: str = "webauthn.get",
    origin: str = ORIGIN,
):
    key = ec.generate_private_key(ec.SECP256R1())
    auth_data = hashlib.sha256(rp.encode()).digest() + bytes([flags]) + (1).to_bytes(4, "big")
    client_data = json.dumps(
        {"type": kind, "challenge": b64url(challenge), "origin": origin}
    ).encode()
    sig = key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
    return key.public_key(), auth_data, client_data, sig


def test_assertion_checks_challenge_rp_type_origin_and_user_verification():
    challenge = os.urandom(32)
    other_key = _assertion(challenge)[0]
    pk, ad, cd, sig = _assertion(challenge)
    assert verify_assertion(pk, challenge, ad, cd, sig)
    assert not verify_assertion(other_key, challenge, ad, cd, sig)
    assert not verify_assertion(pk, os.urandom(32), ad, cd, sig)
    for variant in (
        {"flags": 0x01},  # presence without user verification
        {"rp": "example.com"},
        {"kind": "webauthn.create"},
        {"origin": "https://example.com"},
    ):
        pk, ad, cd, sig = _assertion(challenge, **variant)
        assert not verify_assertion(pk, challenge, ad, cd, sig), variant


def _translate(exc, retries=5, cancel=False):
    event = threading.Event()
    if cancel:
        event.set()
    return translate_error(
        exc, label="Key", cancel=event, read_retries=lambda: retries, custodian="Alice"
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (CtapError(ERR.PIN_INVALID), PinInvalid),
        (ClientError(ClientError.ERR.BAD_REQUEST, CtapError(ERR.PIN_INVALID)), PinInvalid),
        (ClientError(ClientError.ERR.BAD_REQUEST, CtapError(ERR.PIN_BLOCKED)), PinBlocked),
        (ClientError(ClientError.ERR.BAD_REQUEST, CtapError(ERR.PIN_AUTH_BLOCKED)), PinAuthBlocked),
        (ClientError(ClientError.ERR.BAD_REQUEST, CtapError(ERR.PIN_NOT_SET)), PinRequired),
        (ClientError(ClientError.ERR.TIMEOUT, CtapError(ERR.USER_ACTION_TIMEOUT)), TouchTimeout),
        (ClientError(ClientError.ERR.TIMEOUT, CtapError(ERR.KEEPALIVE_CANCEL)), UserCancelled),
        (ClientError(ClientError.ERR.DEVICE_INELIGIBLE, CtapError(ERR.NO_CREDENTIALS)), WrongToken),
        (PinRequiredError(), UserCancelled),
        (OSError(19, "No such device"), DeviceRemoved),
    ],
)
def test_errors_are_mapped_for_the_front_end(exc, expected):
    assert type(_translate(exc)) is expected


def test_pin_invalid_carries_attempts_and_a_timeout_after_cancel_is_a_cancel():
    err = _translate(CtapError(ERR.PIN_INVALID), retries=3)
    assert isinstance(err, PinInvalid) and err.attempts_left == 3 and "3 attempts left" in str(err)
    assert isinstance(_translate(ClientError(ClientError.ERR.TIMEOUT), cancel=True), UserCancelled)
    wrong = _translate(CtapError(ERR.NO_CREDENTIALS))
    assert isinstance(wrong, WrongToken) and "Alice" in str(wrong)
