"""The virtual YubiKey PIV card, driven by the real yubikit PivSession."""

from __future__ import annotations

import datetime
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from smartcard.Exceptions import CardConnectionException
from ykman.piv import generate_self_signed_certificate
from yubikit.core import TRANSPORT, InvalidPinError
from yubikit.core.smartcard import SW, ApduError, SmartCardConnection
from yubikit.piv import (
    DEFAULT_MANAGEMENT_KEY,
    KEY_TYPE,
    MANAGEMENT_KEY_TYPE,
    OBJECT_ID,
    PIN_POLICY,
    SLOT,
    TOUCH_POLICY,
    PivSession,
)

from tessera.tokens.virtual.piv_card import VirtualPivCard
from tessera.tokens.virtual.piv_device import VirtualYubiKey, virtual_listing
from tessera.tokens.virtual.touch import TouchControl

AES256_KEY = bytes(range(32))

# ykman's generate_self_signed_certificate parses its subject with a deprecated helper.
pytestmark = pytest.mark.filterwarnings("ignore:Deprecated:DeprecationWarning")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SpyConnection(SmartCardConnection):
    """Records the raw APDUs yubikit sends, to see chaining on the wire."""

    def __init__(self, card: VirtualPivCard) -> None:
        self.card = card
        self.sent: list[bytes] = []
        self.status: list[int] = []

    @property
    def transport(self) -> TRANSPORT:
        return self.card.transport

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        data, sw = self.card.send_and_receive(apdu)
        self.status.append(sw)
        return data, sw


def make_card(**kwargs) -> VirtualPivCard:
    kwargs.setdefault("touch", TouchControl("immediate"))
    return VirtualPivCard(**kwargs)


def with_key(
    session: PivSession, slot=SLOT.RETIRED1, pin=PIN_POLICY.ONCE, touch=TOUCH_POLICY.NEVER
):
    session.authenticate(DEFAULT_MANAGEMENT_KEY)
    return session.generate_key(slot, KEY_TYPE.ECCP256, pin, touch)


def in_thread(fn):
    """Run fn in a thread; return (thread, outcome dict)."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = fn()
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_identity_and_factory_metadata():
    session = PivSession(make_card(serial=12345678))
    assert session.version == (5, 7, 2)
    assert session.get_serial() == 12345678
    pin = session.get_pin_metadata()
    assert (pin.default_value, pin.total_attempts, pin.attempts_remaining) == (True, 3, 3)
    assert session.get_puk_metadata().default_value
    mgm = session.get_management_key_metadata()
    assert mgm.default_value and mgm.key_type == MANAGEMENT_KEY_TYPE.AES192  # 5.7 factory default
    assert mgm.touch_policy == TOUCH_POLICY.NEVER
    with pytest.raises(ApduError) as e:
        session.get_slot_metadata(SLOT.RETIRED1)
    assert e.value.sw == SW.REFERENCE_DATA_NOT_FOUND


def test_wrong_pin_counts_down_to_blocked_and_puk_unblocks():
    session = PivSession(make_card())
    left = []
    for _ in range(3):
        with pytest.raises(InvalidPinError) as e:
            session.verify_pin("000000")
        left.append(e.value.attempts_remaining)
    assert left == [2, 1, 0]
    with pytest.raises(InvalidPinError) as e:
        session.verify_pin("123456")  # the right PIN no longer helps
    assert e.value.attempts_remaining == 0
    assert session.get_pin_attempts() == 0
    with pytest.raises(InvalidPinError) as e:
        session.unblock_pin("00000000", "246810")
    assert e.value.attempts_remaining == 2
    session.unblock_pin("12345678", "246810")
    assert session.get_pin_attempts() == 3
    session.verify_pin("246810")


def test_empty_verify_reports_retries_and_verified_state():
    session = PivSession(make_card(version=(5, 2, 7)))  # no metadata: empty VERIFY is used
    with pytest.raises(InvalidPinError):
        session.verify_pin("999999")
    assert session.get_pin_attempts() == 2
    session.verify_pin("123456")
    assert session.get_pin_attempts() == 3


def test_change_pin_and_puk():
    session = PivSession(make_card())
    with pytest.raises(InvalidPinError):
        session.change_pin("111111", "13572468")
    session.change_pin("123456", "13572468")
    session.change_puk("12345678", "87654321")
    assert not session.get_pin_metadata().default_value
    assert not session.get_puk_metadata().default_value
    with pytest.raises(InvalidPinError):
        session.verify_pin("123456")
    session.verify_pin("13572468")
    with pytest.raises(ApduError) as e:
        session.change_pin("13572468", "123")  # too short for a PIV PIN
    assert e.value.sw == SW.INCORRECT_PARAMETERS


def test_management_key_3des_default_then_aes256_with_touch():
    card = make_card(management_key_type=MANAGEMENT_KEY_TYPE.TDES)
    session = PivSession(card)
    assert session.management_key_type == MANAGEMENT_KEY_TYPE.TDES
    session.authenticate(DEFAULT_MANAGEMENT_KEY)
    session.set_management_key(MANAGEMENT_KEY_TYPE.AES256, AES256_KEY, require_touch=True)
    meta = PivSession(card).get_management_key_metadata()
    assert (meta.key_type, meta.default_value, meta.touch_policy) == (
        MANAGEMENT_KEY_TYPE.AES256,
        False,
        TOUCH_POLICY.ALWAYS,
    )
    fresh = PivSession(card)
    with pytest.raises(ApduError) as e:
        fresh.authenticate(bytes(32))
    assert e.value.sw == SW.SECURITY_CONDITION_NOT_SATISFIED
    fresh.authenticate(AES256_KEY)  # immediate touch
    card.touch.set_mode("never")
    card.touch_timeout = 0.05
    with pytest.raises(ApduError) as e:
        PivSession(card).authenticate(AES256_KEY)
    assert e.value.sw == SW.SECURITY_CONDITION_NOT_SATISFIED


def test_key_generation_needs_management_key():
    session = PivSession(make_card())
    with pytest.raises(ApduError) as e:
        session.generate_key(SLOT.RETIRED1, KEY_TYPE.ECCP256)
    assert e.value.sw == SW.SECURITY_CONDITION_NOT_SATISFIED


def test_ecdh_matches_software_and_signature_verifies():
    session = PivSession(make_card())
    with_key(session)
    meta = session.get_slot_metadata(SLOT.RETIRED1)
    assert (meta.key_type, meta.pin_policy, meta.generated) == (
        KEY_TYPE.ECCP256,
        PIN_POLICY.ONCE,
        True,
    )
    card_key = meta.public_key
    peer = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ApduError) as e:
        session.calculate_secret(SLOT.RETIRED1, peer.public_key())
    assert e.value.sw == SW.SECURITY_CONDITION_NOT_SATISFIED  # PIN policy ONCE, not verified
    session.verify_pin("123456")
    shared = session.calculate_secret(SLOT.RETIRED1, peer.public_key())
    assert shared == peer.exchange(ec.ECDH(), card_key)
    challenge = os.urandom(32)
    signature = session.sign(SLOT.RETIRED1, KEY_TYPE.ECCP256, challenge, hashes.SHA256())
    card_key.verify(signature, challenge, ec.ECDSA(hashes.SHA256()))
    # ONCE: still usable without another VERIFY
    session.sign(SLOT.RETIRED1, KEY_TYPE.ECCP256, challenge, hashes.SHA256())


def test_pin_policy_always_and_never():
    session = PivSession(make_card())
    with_key(session, SLOT.RETIRED2, PIN_POLICY.ALWAYS)
    session.generate_key(SLOT.RETIRED3, KEY_TYPE.ECCP256, PIN_POLICY.NEVER)
    message = b"approve"
    session.sign(SLOT.RETIRED3, KEY_TYPE.ECCP256, message, hashes.SHA256())  # no PIN at all
    session.verify_pin("123456")
    session.sign(SLOT.RETIRED2, KEY_TYPE.ECCP256, message, hashes.SHA256())
    with pytest.raises(ApduError) as e:
        session.sign(SLOT.RETIRED2, KEY_TYPE.ECCP256, message, hashes.SHA256())
    assert e.value.sw == SW.SECURITY_CONDITION_NOT_SATISFIED
    # the signature slot 9C defaults to PIN policy ALWAYS, as on a YubiKey
    session.generate_key(SLOT.SIGNATURE, KEY_TYPE.ECCP256)
    assert session.get_slot_metadata(SLOT.SIGNATURE).pin_policy == PIN_POLICY.ALWAYS


@pytest.mark.parametrize("transport", [TRANSPORT.NFC, TRANSPORT.USB])
def test_large_certificate_round_trip_uses_chaining(transport):
    card = make_card(transport=transport)
    spy = SpyConnection(card)
    session = PivSession(spy)
    public_key = with_key(session)
    session.verify_pin("123456")
    now = datetime.datetime.now(datetime.UTC)
    subject = "CN=" + "Tessera custodian with a long name " * 8
    cert = generate_self_signed_certificate(
        session, SLOT.RETIRED1, public_key, subject[:60], now, now + datetime.timedelta(days=1)
    )
    blob = os.urandom(1200)
    session.put_object(OBJECT_ID.RETIRED2, blob)
    session.put_certificate(SLOT.RETIRED1, cert)
    assert session.get_object(OBJECT_ID.RETIRED2) == blob
    assert session.get_certificate(SLOT.RETIRED1) == cert
    if transport == TRANSPORT.NFC:
        assert any(apdu[0] & 0x10 for apdu in spy.sent)  # command chaining
        assert any(sw >> 8 == 0x61 for sw in spy.status)  # response chaining
        assert any(apdu[1] == 0xC0 for apdu in spy.sent)  # GET RESPONSE
    else:
        assert any(len(apdu) > 261 and apdu[4] == 0 for apdu in spy.sent)  # extended APDU
        assert not any(apdu[0] & 0x10 for apdu in spy.sent)


def test_touch_always_waits_for_the_touch():
    touch = TouchControl("manual")
    card = make_card(touch=touch)
    session = PivSession(card)
    with_key(session, touch=TOUCH_POLICY.ALWAYS)
    session.verify_pin("123456")
    thread, outcome = in_thread(
        lambda: session.sign(SLOT.RETIRED1, KEY_TYPE.ECCP256, b"m", hashes.SHA256())
    )
    assert touch.waiting.wait(5)
    assert thread.is_alive() and not outcome
    touch.press()
    thread.join(5)
    assert "result" in outcome


def test_touch_cached_is_not_asked_again_within_15_seconds():
    clock = Clock()
    card = make_card(clock=clock, touch_timeout=0.05)
    session = PivSession(card)
    with_key(session, touch=TOUCH_POLICY.CACHED)
    session.verify_pin("123456")
    session.sign(SLOT.RETIRED1, KEY_TYPE.ECCP256, b"m", hashes.SHA256())  # touched (immediate)
    card.touch.set_mode("never")
    clock.now += 14
    session.sign(SLOT.RETIRED1, KEY_TYPE.ECCP256, b"m", hashes.SHA256())  # cached
    clock.now += 2  # 16 s after the touch
    with pytest.raises(ApduError) as e:
        session.sign(SLOT.RETIRED1, KEY_TYPE.ECCP256, b"m", hashes.SHA256())
    assert e.value.sw == SW.SECURITY_CONDITION_NOT_SATISFIED


def test_touch_timeout_answers_security_status_not_satisfied():
    card = make_card(touch=TouchControl("never"), touch_timeout=0.05)
    session = PivSession(card)
    with_key(session, touch=TOUCH_POLICY.ALWAYS)
    session.verify_pin("123456")
    with pytest.raises(ApduError) as e:
        session.calculate_secret(
            SLOT.RETIRED1, ec.generate_private_key(ec.SECP256R1()).public_key()
        )
    assert e.value.sw == SW.SECURITY_CONDITION_NOT_SATISFIED


def test_cancel_ends_the_touch_wait():
    touch = TouchControl("manual")
    card = make_card(touch=touch)
    session = PivSession(card)
    with_key(session, touch=TOUCH_POLICY.ALWAYS)
    session.verify_pin("123456")
    cancel = threading.Event()
    card.set_cancel(cancel)
    thread, outcome = in_thread(
        lambda: session.sign(SLOT.RETIRED1, KEY_TYPE.ECCP256, b"m", hashes.SHA256())
    )
    assert touch.waiting.wait(5)
    cancel.set()
    thread.join(5)
    assert isinstance(outcome["error"], ApduError)
    assert outcome["error"].sw == SW.SECURITY_CONDITION_NOT_SATISFIED


def test_pulled_out_mid_operation_raises_like_a_removed_reader():
    touch = TouchControl("manual")
    card = make_card(touch=touch)
    session = PivSession(card)
    with_key(session, touch=TOUCH_POLICY.ALWAYS)
    session.verify_pin("123456")
    thread, outcome = in_thread(
        lambda: session.sign(SLOT.RETIRED1, KEY_TYPE.ECCP256, b"m", hashes.SHA256())
    )
    assert touch.waiting.wait(5)
    card.pull_out()
    thread.join(5)
    assert isinstance(outcome["error"], CardConnectionException)
    with pytest.raises(CardConnectionException):
        session.get_serial()
    device = VirtualYubiKey(card)
    assert virtual_listing([device]) == []
    card.plug_in()
    again = PivSession(device.open_connection(SmartCardConnection))
    with pytest.raises(ApduError):  # power cycle: the PIN must be verified again
        again.sign(SLOT.RETIRED1, KEY_TYPE.ECCP256, b"m", hashes.SHA256())
    [(listed, info)] = virtual_listing([device])
    assert listed is device and info.serial == card.serial and info.version == (5, 7, 2)


def test_pin_protected_object_needs_the_pin():
    session = PivSession(make_card())
    session.authenticate(DEFAULT_MANAGEMENT_KEY)
    session.put_object(OBJECT_ID.PRINTED, b"\x88\x00")
    with pytest.raises(ApduError) as e:
        PivSession(session.protocol.connection).get_object(OBJECT_ID.PRINTED)
    assert e.value.sw == SW.SECURITY_CONDITION_NOT_SATISFIED
    session.verify_pin("123456")
    assert session.get_object(OBJECT_ID.PRINTED) == b"\x88\x00"


def test_state_persists_between_runs(tmp_path: Path):
    path = tmp_path / "card.json"
    card = make_card(state_path=path, serial=424242)
    session = PivSession(card)
    public_key = with_key(session, touch=TOUCH_POLICY.ALWAYS)
    session.change_pin("123456", "97531864")
    session.put_object(OBJECT_ID.RETIRED5, b"kept")
    with pytest.raises(InvalidPinError):
        session.verify_pin("000000")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    reloaded = PivSession(make_card(state_path=path))
    assert reloaded.get_serial() == 424242
    assert reloaded.get_pin_attempts() == 2
    meta = reloaded.get_slot_metadata(SLOT.RETIRED1)
    assert meta.public_key == public_key and meta.touch_policy == TOUCH_POLICY.ALWAYS
    assert reloaded.get_object(OBJECT_ID.RETIRED5) == b"kept"
    reloaded.verify_pin("97531864")

    path.write_text("{not json")
    with pytest.raises(ValueError):
        make_card(state_path=path)


def test_reset_only_when_pin_and_puk_are_blocked():
    session = PivSession(make_card())
    with_key(session)
    session.reset()  # yubikit blocks PIN and PUK itself, then resets
    with pytest.raises(ApduError):
        session.get_slot_metadata(SLOT.RETIRED1)
    assert session.get_pin_metadata().default_value
    card = session.protocol.connection
    assert card.send_and_receive(bytes.fromhex("00fb0000"))[1] == SW.CONDITIONS_NOT_SATISFIED


def test_malformed_and_unknown_commands():
    card = make_card()
    PivSession(card)
    assert card.send_and_receive(b"\x00\xcb")[1] == SW.WRONG_LENGTH
    assert card.send_and_receive(bytes.fromhex("00050000"))[1] == SW.INVALID_INSTRUCTION
    assert card.send_and_receive(bytes.fromhex("84fd0000"))[1] == SW.CLASS_NOT_SUPPORTED
    missing = bytes.fromhex("00cb3fff055c035fc10d")
    assert card.send_and_receive(missing)[1] == SW.FILE_NOT_FOUND
    assert (
        card.send_and_receive(bytes.fromhex("00a4040008a000000527471117"))[1] == SW.FILE_NOT_FOUND
    )


def test_subject_of_certificate_survives():
    session = PivSession(make_card())
    public_key = with_key(session)
    session.verify_pin("123456")
    now = datetime.datetime.now(datetime.UTC)
    cert = generate_self_signed_certificate(
        session,
        SLOT.RETIRED1,
        public_key,
        "CN=Tessera: Alice",
        now,
        now + datetime.timedelta(days=1),
    )
    session.put_certificate(SLOT.RETIRED1, cert)
    stored = session.get_certificate(SLOT.RETIRED1)
    assert stored.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Tessera: Alice"
    public_key.verify(stored.signature, stored.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
