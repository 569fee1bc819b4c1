"""The virtual CTAP 2.1 authenticator, driven by python-fido2's real Ctap2 / ClientPin code."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from fido2.cose import ES256
from fido2.ctap import STATUS, CtapError
from fido2.ctap2.base import Ctap2
from fido2.ctap2.pin import ClientPin, PinProtocol, PinProtocolV1, PinProtocolV2
from fido2.hid import CTAPHID

from tessera.tokens.virtual.ctap import VIRTUAL_AAGUID, VirtualAuthenticator
from tessera.tokens.virtual.touch import TouchControl

ERR = CtapError.ERR
RP = "tessera-custody.invalid"
PROTOCOLS = [PinProtocolV1, PinProtocolV2]
PERMS = ClientPin.PERMISSION.MAKE_CREDENTIAL | ClientPin.PERMISSION.GET_ASSERTION


def make_credential(ctap: Ctap2, pin: str | None, proto: PinProtocol, *, hmac: bool = True):
    cdh = os.urandom(32)
    auth = {}
    if pin is not None:
        token = ClientPin(ctap, proto).get_pin_token(pin, PERMS, RP)
        auth = {"pin_uv_param": proto.authenticate(token, cdh), "pin_uv_protocol": proto.VERSION}
    return ctap.make_credential(
        cdh,
        {"id": RP, "name": "Tessera"},
        {"id": b"user", "name": "alice"},
        [{"type": "public-key", "alg": -7}],
        extensions={"hmac-secret": True} if hmac else None,
        **auth,
    )


def hmac_secret(
    ctap: Ctap2,
    cred_id: bytes,
    salts: bytes,
    proto: PinProtocol,
    pin: str | None,
) -> tuple[bytes, bool]:
    """Run getAssertion with the hmac-secret extension; return (outputs, user verified)."""
    client_pin = ClientPin(ctap, proto)
    cdh = os.urandom(32)
    auth = {}
    if pin is not None:
        token = client_pin.get_pin_token(pin, PERMS, RP)
        auth = {"pin_uv_param": proto.authenticate(token, cdh), "pin_uv_protocol": proto.VERSION}
    key_agreement, shared = client_pin._get_shared_secret()
    salt_enc = proto.encrypt(shared, salts)
    ext = {
        "hmac-secret": {
            1: key_agreement,
            2: salt_enc,
            3: proto.authenticate(shared, salt_enc),
            4: proto.VERSION,
        }
    }
    resp = ctap.get_assertion(RP, cdh, [{"type": "public-key", "id": cred_id}], ext, **auth)
    assert resp.auth_data.extensions is not None
    return proto.decrypt(
        shared, resp.auth_data.extensions["hmac-secret"]
    ), resp.auth_data.is_user_verified()


def test_get_info_describes_a_ctap21_key_with_hmac_secret():
    info = Ctap2(VirtualAuthenticator()).info
    assert "FIDO_2_1" in info.versions and "FIDO_2_0" in info.versions
    assert info.extensions == ["hmac-secret"]
    assert info.aaguid == VIRTUAL_AAGUID
    assert info.options["clientPin"] is False
    assert info.options["pinUvAuthToken"] is True
    assert info.options["up"] is True
    assert info.pin_uv_protocols == [2, 1]
    assert info.max_msg_size >= 1024


def test_key_with_pin_and_key_without_hmac_secret_are_constructible():
    assert Ctap2(VirtualAuthenticator(pin="123456")).info.options["clientPin"] is True
    assert "hmac-secret" not in Ctap2(VirtualAuthenticator(hmac_secret=False)).info.extensions


@pytest.mark.parametrize("proto_cls", PROTOCOLS)
def test_set_then_change_pin(proto_cls):
    device = VirtualAuthenticator()
    ctap = Ctap2(device)
    ClientPin(ctap, proto_cls()).set_pin("1234")
    ctap = Ctap2(device)
    assert ctap.info.options["clientPin"] is True
    client_pin = ClientPin(ctap, proto_cls())
    client_pin.change_pin("1234", "correct horse")
    assert len(client_pin.get_pin_token("correct horse", PERMS, RP)) == 32
    with pytest.raises(CtapError) as e:
        client_pin.get_pin_token("1234", PERMS, RP)
    assert e.value.code == ERR.PIN_INVALID


def test_setting_a_pin_twice_is_refused():
    device = VirtualAuthenticator(pin="1234")
    with pytest.raises(CtapError) as e:
        ClientPin(Ctap2(device)).set_pin("5678")
    assert e.value.code == ERR.NOT_ALLOWED


@pytest.mark.parametrize("proto_cls", PROTOCOLS)
def test_wrong_pins_count_down_need_power_cycle_and_block(proto_cls):
    device = VirtualAuthenticator(pin="1234")
    client_pin = ClientPin(Ctap2(device), proto_cls())
    seen = []
    for attempt in range(8):
        if attempt and attempt % 3 == 0:
            with pytest.raises(CtapError) as e:
                client_pin.get_pin_token("0000")
            assert e.value.code == ERR.PIN_AUTH_BLOCKED  # until the key is re-plugged
            device.plug_in()
        with pytest.raises(CtapError) as e:
            client_pin.get_pin_token("0000")
        seen.append(e.value.code)
        retries, power_cycle = client_pin.get_pin_retries()
        assert retries == 7 - attempt
        assert power_cycle == ((attempt + 1) % 3 == 0)  # reported once three in a row failed
    assert seen[-1] == ERR.PIN_BLOCKED
    assert ERR.PIN_AUTH_BLOCKED in seen and ERR.PIN_INVALID in seen
    device.plug_in()
    with pytest.raises(CtapError) as e:
        client_pin.get_pin_token("1234")  # even the right PIN: blocked for good
    assert e.value.code == ERR.PIN_BLOCKED


def test_right_pin_restores_the_retry_counter():
    device = VirtualAuthenticator(pin="1234")
    client_pin = ClientPin(Ctap2(device))
    with pytest.raises(CtapError):
        client_pin.get_pin_token("9999")
    assert client_pin.get_pin_retries()[0] == 7
    client_pin.get_pin_token("1234")
    assert client_pin.get_pin_retries()[0] == 8


@pytest.mark.parametrize("proto_cls", PROTOCOLS)
def test_make_credential_and_signed_assertion(proto_cls):
    proto = proto_cls()
    ctap = Ctap2(VirtualAuthenticator(pin="1234"))
    att = make_credential(ctap, "1234", proto)
    cred = att.auth_data.credential_data
    assert att.fmt == "packed" and att.auth_data.is_user_verified()
    assert isinstance(cred.public_key, ES256)
    assert cred.aaguid == VIRTUAL_AAGUID
    assert att.auth_data.extensions == {"hmac-secret": True}
    cdh = os.urandom(32)
    first = ctap.get_assertion(RP, cdh, [{"type": "public-key", "id": cred.credential_id}])
    first.verify(cdh, cred.public_key)
    assert first.auth_data.rp_id_hash == hashlib.sha256(RP.encode()).digest()
    second = ctap.get_assertion(RP, cdh, [{"type": "public-key", "id": cred.credential_id}])
    assert second.auth_data.counter > first.auth_data.counter


def test_packed_attestation_with_x5c_verifies_with_python_fido2():
    from fido2.attestation import AttestationType, PackedAttestation

    ctap = Ctap2(VirtualAuthenticator())
    cdh = os.urandom(32)
    att = ctap.make_credential(
        cdh, {"id": RP, "name": "T"}, {"id": b"u", "name": "u"}, [{"type": "public-key", "alg": -7}]
    )
    assert att.fmt == "packed" and len(att.att_stmt["x5c"]) == 1
    # python-fido2's own packed verifier (WebAuthn §8.2: signature, certificate
    # requirements, AAGUID extension) accepts it as basic attestation with a trust path
    result = PackedAttestation().verify(att.att_stmt, att.auth_data, cdh)
    assert result.attestation_type == AttestationType.BASIC and result.trust_path
    from fido2.attestation import InvalidSignature

    with pytest.raises(InvalidSignature):
        PackedAttestation().verify(att.att_stmt, att.auth_data, os.urandom(32))


def test_make_credential_on_a_pin_protected_key_needs_the_pin():
    ctap = Ctap2(VirtualAuthenticator(pin="1234"))
    with pytest.raises(CtapError) as e:
        make_credential(ctap, None, PinProtocolV2())
    assert e.value.code == ERR.PUAT_REQUIRED


def test_credentials_are_bound_to_their_rp_and_device():
    device = VirtualAuthenticator()
    ctap = Ctap2(device)
    cred_id = make_credential(ctap, None, PinProtocolV2()).auth_data.credential_data.credential_id
    for rp, cid, dev in (
        ("evil.example", cred_id, device),
        (RP, cred_id[:-1] + bytes([cred_id[-1] ^ 1]), device),
        (RP, cred_id, VirtualAuthenticator()),
    ):
        with pytest.raises(CtapError) as e:
            Ctap2(dev).get_assertion(
                rp, b"\0" * 32, [{"type": "public-key", "id": cid}], options={"up": False}
            )
        assert e.value.code == ERR.NO_CREDENTIALS


@pytest.mark.parametrize("proto_cls", PROTOCOLS)
def test_hmac_secret_differs_with_and_without_user_verification(proto_cls):
    proto = proto_cls()
    ctap = Ctap2(VirtualAuthenticator(pin="1234"))
    cred_id = make_credential(ctap, "1234", proto).auth_data.credential_data.credential_id
    salt1, salt2 = os.urandom(32), os.urandom(32)
    with_uv, uv = hmac_secret(ctap, cred_id, salt1, proto, "1234")
    without_uv, no_uv = hmac_secret(ctap, cred_id, salt1, proto, None)
    assert uv and not no_uv
    assert len(with_uv) == 32 and len(without_uv) == 32
    assert with_uv != without_uv
    assert hmac_secret(ctap, cred_id, salt1, proto, "1234")[0] == with_uv  # deterministic
    both, _ = hmac_secret(ctap, cred_id, salt1 + salt2, proto, "1234")
    assert both[:32] == with_uv and both[32:] != with_uv and len(both) == 64


def test_hmac_secret_is_not_evaluated_for_a_credential_made_without_it():
    ctap = Ctap2(VirtualAuthenticator())
    cred_id = make_credential(
        ctap, None, PinProtocolV2(), hmac=False
    ).auth_data.credential_data.credential_id
    proto = PinProtocolV2()
    client_pin = ClientPin(ctap, proto)
    key_agreement, shared = client_pin._get_shared_secret()
    salt_enc = proto.encrypt(shared, os.urandom(32))
    ext = {
        "hmac-secret": {
            1: key_agreement,
            2: salt_enc,
            3: proto.authenticate(shared, salt_enc),
            4: 2,
        }
    }
    resp = ctap.get_assertion(RP, os.urandom(32), [{"type": "public-key", "id": cred_id}], ext)
    assert not resp.auth_data.extensions


def test_waiting_for_touch_reports_keepalive_then_times_out():
    touch = TouchControl("never")
    ctap = Ctap2(VirtualAuthenticator(touch, touch_timeout=0.2))
    statuses = []
    with pytest.raises(CtapError) as e:
        ctap.selection(on_keepalive=statuses.append)
    assert e.value.code == ERR.USER_ACTION_TIMEOUT
    assert statuses == [STATUS.UPNEEDED]


def test_manual_touch_completes_the_request():
    touch = TouchControl("manual")
    ctap = Ctap2(VirtualAuthenticator(touch, touch_timeout=10))
    presser = threading.Thread(target=lambda: touch.waiting.wait(5) and touch.press())
    presser.start()
    ctap.selection()
    presser.join()


def test_cancel_while_waiting_for_touch():
    touch = TouchControl("never")
    ctap = Ctap2(VirtualAuthenticator(touch, touch_timeout=10))
    cancel = threading.Event()
    canceller = threading.Thread(target=lambda: touch.waiting.wait(5) and cancel.set())
    canceller.start()
    with pytest.raises(CtapError) as e:
        ctap.selection(event=cancel)
    canceller.join()
    assert e.value.code == ERR.KEEPALIVE_CANCEL


def test_pulled_out_while_waiting_for_touch_fails_like_a_usb_device():
    touch = TouchControl("never")
    device = VirtualAuthenticator(touch, touch_timeout=10)
    ctap = Ctap2(device)
    puller = threading.Thread(target=lambda: touch.waiting.wait(5) and device.pull_out())
    puller.start()
    with pytest.raises(OSError):
        ctap.selection()
    puller.join()
    with pytest.raises(OSError):
        ctap.get_info()
    device.plug_in()
    assert ctap.get_info().versions


def test_hid_level_commands_and_malformed_requests():
    device = VirtualAuthenticator()
    assert device.call(CTAPHID.PING, b"hello") == b"hello"
    with pytest.raises(CtapError):
        device.call(CTAPHID.MSG, b"\0\x01\0\0")
    assert device.call(CTAPHID.CBOR, b"\x04\xa1\x01")[0] == ERR.INVALID_CBOR
    assert device.call(CTAPHID.CBOR, b"\x04\xff")[0] == ERR.INVALID_CBOR
    assert device.call(CTAPHID.CBOR, b"\x01\xa0")[0] == ERR.MISSING_PARAMETER
    assert device.call(CTAPHID.CBOR, b"\x55")[0] == ERR.INVALID_COMMAND


def test_state_survives_save_and_load(tmp_path: Path):
    path = tmp_path / "key.json"
    device = VirtualAuthenticator(pin="1234", state_path=path)
    ctap = Ctap2(device)
    cred = make_credential(ctap, "1234", PinProtocolV2()).auth_data.credential_data
    with pytest.raises(CtapError):
        ClientPin(ctap).get_pin_token("0000")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "1234" not in path.read_text()

    reloaded = VirtualAuthenticator.load(path)
    ctap2 = Ctap2(reloaded)
    assert ClientPin(ctap2).get_pin_retries()[0] == 7
    cdh = os.urandom(32)
    ctap2.get_assertion(RP, cdh, [{"type": "public-key", "id": cred.credential_id}]).verify(
        cdh, cred.public_key
    )
    ClientPin(ctap2).get_pin_token("1234")


def test_loading_a_damaged_state_file_is_refused(tmp_path: Path):
    path = tmp_path / "key.json"
    VirtualAuthenticator().save(path)
    state = json.loads(path.read_text())
    state["master_key"] = "not base64!"
    path.write_text(json.dumps(state))
    with pytest.raises(ValueError, match="not a virtual FIDO2 key state file"):
        VirtualAuthenticator.load(path)
