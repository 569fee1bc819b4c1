"""The PIV token driver: enrol and unlock through PivSession against virtual YubiKeys."""

from __future__ import annotations

import base64
import os
import threading

import pytest
from cryptography.x509.oid import NameOID
from ykman.piv import get_pivman_data, get_pivman_protected_data
from yubikit.core.smartcard import ApduError, SmartCardConnection
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

from tessera.core.age import PivP256Recipient, X25519Identity, encrypt, parse_recipient
from tessera.core.errors import (
    DeviceRemoved,
    PinBlocked,
    PinInvalid,
    PinRequired,
    TouchTimeout,
    UserCancelled,
    WrongToken,
)
from tessera.tokens.base import ApprovalMethod, Evidence, TokenInfo, TokenKind
from tessera.tokens.piv import PivDriver, TouchPolicy
from tessera.tokens.piv_devices import discover
from tessera.tokens.piv_errors import ManagementKeyUnavailable, PcscUnavailable
from tessera.tokens.virtual.piv_card import VirtualPivCard
from tessera.tokens.virtual.piv_device import VirtualYubiKey, virtual_listing
from tessera.tokens.virtual.touch import TouchControl

PIN = "31415926"
SHARE = b"twenty words of a slip-39 share, or so"


class Prompts:
    """Answers like a custodian; records what the driver asked."""

    def __init__(self, pin: str | None = PIN, new_pins: list[str | None] | None = None) -> None:
        self.pin = pin
        self.new_pins = list(new_pins) if new_pins is not None else [PIN]
        self.events: list[tuple[str, object]] = []
        self.notices: list[str] = []
        self.on_touch = None

    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        self.events.append(("pin", attempts_left))
        return self.pin

    def request_new_pin(self, token: str, reason: str) -> str | None:
        self.events.append(("new_pin", reason))
        return self.new_pins.pop(0)

    def touch_needed(self, token: str) -> None:
        self.events.append(("touch_needed", token))

    def touch_done(self, token: str) -> None:
        self.events.append(("touch_done", token))

    def notice(self, message: str) -> None:
        self.notices.append(message)


class Rig:
    def __init__(self, cards: list[VirtualPivCard]) -> None:
        self.keys = [VirtualYubiKey(card) for card in cards]
        self.driver = PivDriver(devices=lambda: virtual_listing(self.keys))

    @property
    def card(self) -> VirtualPivCard:
        return self.keys[0].card

    def enroll(self, name="Alice", prompts=None, **kwargs):
        prompts = prompts or Prompts()
        return self.driver.enroll(self.card, name, prompts, threading.Event(), **kwargs)

    def token(self, enrolled, name="Alice", token_id="tok-1") -> TokenInfo:
        return TokenInfo(
            id=token_id,
            custodian_id="c-" + name.lower(),
            custodian_name=name,
            kind=TokenKind.PIV,
            label=enrolled.label,
            recipient=enrolled.recipient,
            facts=enrolled.facts,
        )


def card(**kwargs) -> VirtualPivCard:
    kwargs.setdefault("touch", TouchControl("immediate"))
    kwargs.setdefault("touch_timeout", 0.05)
    return VirtualPivCard(**kwargs)


@pytest.fixture
def rig() -> Rig:
    return Rig([card(serial=5550001)])


def envelope_for(*recipients: str) -> bytes:
    return encrypt(SHARE, [parse_recipient(r) for r in recipients])


def unlock(rig: Rig, token: TokenInfo, envelope: bytes, prompts=None, cancel=None, challenge=None):
    return rig.driver.unlock(
        token,
        envelope,
        challenge or os.urandom(32),
        prompts or Prompts(),
        cancel or threading.Event(),
    )


def test_discovery_lists_virtual_keys_and_explains_missing_pcscd(rig: Rig):
    [device] = rig.driver.list_devices()
    assert device.serial == 5550001 and device.virtual and device.version == "5.7.2"

    def no_pcsc():
        raise PcscUnavailable()

    with pytest.raises(PcscUnavailable, match="pcscd"):
        discover(no_pcsc, None)
    assert [d.serial for d in discover(no_pcsc, lambda: virtual_listing(rig.keys))] == [5550001]


def test_enrol_migrates_factory_credentials_and_labels_the_slot(rig: Rig):
    prompts = Prompts()
    enrolled = rig.enroll(prompts=prompts)
    assert any("factory-default PIN and management key" in n for n in prompts.notices)
    assert any("PUK" in n for n in prompts.notices)
    assert [e[0] for e in prompts.events] == ["new_pin"]

    session = PivSession(rig.card)
    assert not session.get_pin_metadata().default_value
    mgm = session.get_management_key_metadata()
    assert not mgm.default_value and mgm.key_type == MANAGEMENT_KEY_TYPE.TDES
    assert get_pivman_data(session).has_stored_key  # PIN-protected, as ykman stores it
    session.verify_pin(PIN)

    assert enrolled.kind is TokenKind.PIV
    assert enrolled.facts["slot"] == "82" and enrolled.facts["serial"] == 5550001
    assert (enrolled.facts["touch_policy"], enrolled.facts["pin_policy"]) == ("cached", "once")
    meta = session.get_slot_metadata(SLOT.RETIRED1)
    assert (meta.pin_policy, meta.touch_policy) == (PIN_POLICY.ONCE, TOUCH_POLICY.CACHED)
    compressed = base64.b64decode(enrolled.facts["public_key"])
    assert enrolled.recipient == PivP256Recipient.from_public_key(compressed).to_string()
    assert enrolled.recipient.startswith("age1yubikey1")
    cert = session.get_certificate(SLOT.RETIRED1)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Tessera: Alice"
    assert cert.public_key() == meta.public_key


def test_declining_the_pin_change_enrols_nothing(rig: Rig):
    with pytest.raises(PinRequired, match="factory-default PIN"):
        rig.enroll(prompts=Prompts(new_pins=[None]))
    session = PivSession(rig.card)
    assert session.get_pin_metadata().default_value
    assert session.get_management_key_metadata().default_value


def test_unacceptable_new_pin_is_asked_again(rig: Rig):
    prompts = Prompts(new_pins=["123", "123456", PIN])
    rig.enroll(prompts=prompts)
    reasons = [e[1] for e in prompts.events if e[0] == "new_pin"]
    assert len(reasons) == 3 and "6 to 8" in reasons[1] and "factory-default" in reasons[2]
    PivSession(rig.card).verify_pin(PIN)


def test_second_enrolment_takes_the_next_free_slot_skipping_certificates(rig: Rig):
    first = rig.enroll("Alice")
    session = PivSession(rig.card)
    session.verify_pin(PIN)
    session.authenticate(get_pivman_protected_data(session).key)
    session.put_object(OBJECT_ID.RETIRED2, b"\x70\x01\x00")  # someone's certificate in 83
    second = rig.enroll("Bob", prompts=Prompts(), touch_policy=TouchPolicy.CACHED)
    assert (first.facts["slot"], second.facts["slot"]) == ("82", "84")
    assert second.facts["touch_policy"] == "cached"
    assert PivSession(rig.card).get_slot_metadata(SLOT.RETIRED3).touch_policy == TOUCH_POLICY.CACHED
    assert first.recipient != second.recipient


def test_custom_management_key_not_behind_the_pin_is_refused(rig: Rig):
    session = PivSession(rig.card)
    session.change_pin("123456", PIN)
    session.authenticate(DEFAULT_MANAGEMENT_KEY)
    session.set_management_key(MANAGEMENT_KEY_TYPE.AES128, bytes(range(16)))
    with pytest.raises(ManagementKeyUnavailable, match="--protect"):
        rig.enroll()
    with pytest.raises(ApduError):  # nothing was generated
        PivSession(rig.card).get_slot_metadata(SLOT.RETIRED1)


def test_unlock_returns_the_share_and_evidence_that_verifies(rig: Rig):
    enrolled = rig.enroll()
    token = rig.token(enrolled)
    other = X25519Identity.generate()
    envelope = envelope_for(other.recipient.to_string(), enrolled.recipient)
    challenge = os.urandom(32)
    prompts = Prompts()
    unlocked = unlock(rig, token, envelope, prompts=prompts, challenge=challenge)
    assert bytes(unlocked.share) == SHARE
    assert prompts.events[0] == ("pin", 3)
    ev = unlocked.evidence
    assert (ev.method, ev.algorithm, ev.token_id) == (ApprovalMethod.PIV, "ES256", "tok-1")
    assert rig.driver.verify(token, challenge, ev)
    assert not rig.driver.verify(token, os.urandom(32), ev)
    assert not rig.driver.verify(rig.token(enrolled, token_id="tok-2"), challenge, ev)
    forged = Evidence(ApprovalMethod.PIV, "tok-1", "ES256", ev.signature[:-1] + bytes([ev.signature[-1] ^ 1]))
    assert not rig.driver.verify(token, challenge, forged)
    unlocked.wipe()
    assert not any(unlocked.share)


def test_touch_prompt_only_when_the_card_is_still_waiting_after_half_a_second():
    clock = [1000.0]
    slow = card(
        serial=5550002, touch=TouchControl("immediate"), touch_timeout=5, clock=lambda: clock[0]
    )
    rig = Rig([slow])
    enrolled = rig.enroll(touch_policy=TouchPolicy.CACHED)
    prompts = Prompts()
    clock[0] += 16  # past the 15 s touch cache
    unlock(rig, rig.token(enrolled), envelope_for(enrolled.recipient), prompts=prompts)
    assert [e[0] for e in prompts.events] == ["pin"]  # touched at once: no prompt flashes
    slow.touch.set_mode("delay:0.7")
    clock[0] += 16
    prompts = Prompts()
    unlock(rig, rig.token(enrolled), envelope_for(enrolled.recipient), prompts=prompts)
    # one touch covers ECDH and signature (CACHED); the prompt came and went once
    assert [e[0] for e in prompts.events] == ["pin", "touch_needed", "touch_done"]


def test_wrong_pin_then_blocked_names_the_puk(rig: Rig):
    enrolled = rig.enroll()
    token = rig.token(enrolled)
    envelope = envelope_for(enrolled.recipient)
    with pytest.raises(PinInvalid) as e:
        unlock(rig, token, envelope, prompts=Prompts(pin="00000000"))
    assert e.value.attempts_left == 2
    assert "00000000" not in str(e.value)
    with pytest.raises(PinInvalid):
        unlock(rig, token, envelope, prompts=Prompts(pin="00000000"))
    with pytest.raises(PinBlocked, match="PUK"):
        unlock(rig, token, envelope, prompts=Prompts(pin="00000000"))
    with pytest.raises(PinBlocked):
        unlock(rig, token, envelope)


def test_share_not_wrapped_to_this_token_names_the_custodian(rig: Rig):
    enrolled = rig.enroll()
    token = rig.token(enrolled)
    envelope = envelope_for(X25519Identity.generate().recipient.to_string())
    prompts = Prompts()
    with pytest.raises(WrongToken, match="Alice") as e:
        unlock(rig, token, envelope, prompts=prompts)
    assert e.value.expected_custodian == "Alice"
    assert prompts.events == []  # decided from the header: no PIN asked


def test_missing_or_replaced_key_is_the_wrong_token(rig: Rig):
    enrolled = rig.enroll()
    token = rig.token(enrolled)
    envelope = envelope_for(enrolled.recipient)
    rig.card.pull_out()
    with pytest.raises(WrongToken, match=r"serial 5550001"):
        unlock(rig, token, envelope)
    rig.card.plug_in()
    # another card with the same slot used for someone else
    other = Rig([card(serial=5550001)])
    other.enroll("Mallory")
    with pytest.raises(WrongToken, match="different key"):
        unlock(other, token, envelope)


def test_touch_timeout(rig: Rig):
    enrolled = rig.enroll(touch_policy=TouchPolicy.ALWAYS)  # the enrolment touch is not cached
    rig.card.touch.set_mode("never")
    with pytest.raises(TouchTimeout):
        unlock(rig, rig.token(enrolled), envelope_for(enrolled.recipient))


def _unlock_in_thread(rig, token, envelope, cancel):
    outcome: dict[str, object] = {}

    def run():
        try:
            outcome["result"] = unlock(rig, token, envelope, cancel=cancel)
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_cancel_while_waiting_for_touch(rig: Rig):
    enrolled = rig.enroll(touch_policy=TouchPolicy.ALWAYS)  # the enrolment touch is not cached
    rig.card.touch.set_mode("manual")
    rig.card.touch_timeout = 10
    cancel = threading.Event()
    thread, outcome = _unlock_in_thread(
        rig, rig.token(enrolled), envelope_for(enrolled.recipient), cancel
    )
    assert rig.card.touch.waiting.wait(5)
    cancel.set()
    thread.join(5)
    assert isinstance(outcome["error"], UserCancelled)


def test_key_pulled_out_while_waiting_for_touch(rig: Rig):
    enrolled = rig.enroll(touch_policy=TouchPolicy.ALWAYS)  # the enrolment touch is not cached
    rig.card.touch.set_mode("manual")
    rig.card.touch_timeout = 10
    thread, outcome = _unlock_in_thread(
        rig, rig.token(enrolled), envelope_for(enrolled.recipient), threading.Event()
    )
    assert rig.card.touch.waiting.wait(5)
    rig.card.pull_out()
    thread.join(5)
    assert isinstance(outcome["error"], DeviceRemoved)


def test_cancelled_pin_prompt(rig: Rig):
    enrolled = rig.enroll()
    with pytest.raises(UserCancelled):
        unlock(
            rig, rig.token(enrolled), envelope_for(enrolled.recipient), prompts=Prompts(pin=None)
        )


def test_enrolled_key_survives_a_restart(tmp_path):
    path = tmp_path / "yk.json"
    rig = Rig([card(serial=5550003, state_path=path)])
    enrolled = rig.enroll()
    envelope = envelope_for(enrolled.recipient)
    restarted = Rig([card(state_path=path)])
    unlocked = unlock(restarted, restarted.token(enrolled), envelope)
    assert bytes(unlocked.share) == SHARE
    assert isinstance(restarted.keys[0].open_connection(SmartCardConnection), VirtualPivCard)
    assert PivSession(restarted.card).get_slot_metadata(SLOT.RETIRED1).key_type == KEY_TYPE.ECCP256


def test_present_tells_a_plugged_in_yubikey_from_a_missing_one_without_pin_or_touch(rig: Rig):
    token = rig.token(rig.enroll())
    rig.card.touch.set_mode("never")  # a touch would never come: present() needs none
    assert rig.driver.present(token) is True
    rig.card.pull_out()
    assert rig.driver.present(token) is False
    other = Rig([card(serial=5550099)])  # only somebody else's YubiKey is plugged in
    assert other.driver.present(token) is False


def test_a_cached_touch_lasts_15_s_from_the_touch_unextended_and_not_past_power_loss():
    clock = [1000.0]
    cached = card(serial=5550005, clock=lambda: clock[0])
    rig = Rig([cached])
    token = rig.token(rig.enroll())  # CACHED; the certificate's touch at t = 1000
    sign = lambda: rig.driver.sign(token, os.urandom(32), Prompts(), threading.Event())  # noqa: E731
    touched = cached.touch.touches
    clock[0] += 14.9
    sign()  # within the window: no touch
    assert cached.touch.touches == touched
    clock[0] += 0.1
    sign()  # 15 s after the touch: using the cache did not extend it
    assert cached.touch.touches == touched + 1
    clock[0] += 1
    cached.pull_out()
    cached.plug_in()
    sign()  # power lost: the cache with it
    assert cached.touch.touches == touched + 2


def test_unlock_signs_first_and_one_touch_covers_the_unwrap_only_under_cached():
    clock = [1000.0]
    yk = card(serial=5550006, clock=lambda: clock[0])
    rig = Rig([yk])
    always = rig.token(rig.enroll("Alice", touch_policy=TouchPolicy.ALWAYS), token_id="a")
    cached = rig.token(rig.enroll("Bob", prompts=Prompts()), "Bob", token_id="b")
    for token, touches in ((cached, 1), (always, 2)):
        clock[0] += 60
        before = yk.touch.touches
        unlocked = unlock(rig, token, envelope_for(token.recipient))
        assert bytes(unlocked.share) == SHARE
        assert yk.touch.touches - before == touches, token.facts["touch_policy"]
    # The approval is the operation that takes the touch; the unwrap rides on the cache.
    ops: list[tuple[str, int]] = []
    use_key = yk._use_private_key

    def spy(algorithm: int, slot: int, fields: dict[int, bytes]) -> bytes:
        before = yk.touch.touches
        result = use_key(algorithm, slot, fields)
        ops.append(("sign" if 0x81 in fields else "ecdh", yk.touch.touches - before))
        return result

    yk._use_private_key = spy  # type: ignore[method-assign]
    clock[0] += 60
    unlock(rig, cached, envelope_for(cached.recipient))
    assert ops == [("sign", 1), ("ecdh", 0)]
    clock[0] += 60
    yk.touch.set_mode("never")
    with pytest.raises(TouchTimeout):
        unlock(rig, cached, envelope_for(cached.recipient))
    assert ops[2:] == []  # no touch: no signature, and nothing was opened
