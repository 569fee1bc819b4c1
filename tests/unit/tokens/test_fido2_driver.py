"""The FIDO2 driver through the real Fido2Client against virtual keys."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tessera.core.age import X25519Identity, encrypt, parse_recipient
from tessera.core.errors import (
    DeviceRemoved,
    NoKeyFound,
    PinBlocked,
    PinInvalid,
    PinRequired,
    TouchTimeout,
    UserCancelled,
    WrongToken,
)
from tessera.tokens.base import Evidence, TokenInfo, TokenKind
from tessera.tokens.fido2 import Fido2Driver
from tessera.tokens.fido2_errors import PinAuthBlocked, PrfUnsupported
from tessera.tokens.virtual.ctap import VirtualAuthenticator
from tessera.tokens.virtual.hid import hid_device, virtual_authenticator
from tessera.tokens.virtual.touch import TouchControl

PIN = "4321"


class RecordingPrompts:
    """Answers like a person at the key would, and remembers what was asked."""

    def __init__(self, pin: str | None = PIN, new_pin: str | None = PIN) -> None:
        self.pin = pin
        self.new_pin = new_pin
        self.pin_requests: list[int | None] = []
        self.new_pin_reasons: list[str] = []
        self.touches: list[str] = []
        self.notices: list[str] = []

    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        self.pin_requests.append(attempts_left)
        return self.pin

    def request_new_pin(self, token: str, reason: str) -> str | None:
        self.new_pin_reasons.append(reason)
        return self.new_pin

    def touch_needed(self, token: str) -> None:
        self.touches.append("needed")

    def touch_done(self, token: str) -> None:
        self.touches.append("done")

    def notice(self, message: str) -> None:
        self.notices.append(message)


def driver_for(*devices: VirtualAuthenticator) -> Fido2Driver:
    """A driver that finds the keys as USB HID devices: every call is CTAPHID framed."""
    return Fido2Driver(
        lambda: [hid_device(d) for d in devices if not d.removed], platform_client=None
    )


def enrolled_token(device: VirtualAuthenticator, name: str = "Alice") -> TokenInfo:
    enrolled = driver_for(device).enroll(hid_device(device), name, RecordingPrompts(), threading.Event())
    return TokenInfo(
        id=f"tok-{name}",
        custodian_id=f"c-{name}",
        custodian_name=name,
        kind=TokenKind.FIDO2,
        label=enrolled.label,
        recipient=enrolled.recipient,
        facts=enrolled.facts,
    )


def envelope_for(token: TokenInfo, share: bytes = b"share words") -> bytes:
    return encrypt(share, [parse_recipient(token.recipient)])


def test_enrol_offers_pin_setup_on_a_pinless_key_and_the_recipient_opens_envelopes():
    device = VirtualAuthenticator()
    prompts = RecordingPrompts()
    driver = driver_for(device)
    enrolled = driver.enroll(hid_device(device), "Alice", prompts, threading.Event())
    assert len(prompts.new_pin_reasons) == 1 and "no PIN" in prompts.new_pin_reasons[0]
    assert device.pin_is_set
    assert prompts.pin_requests == []  # the PIN just chosen is not asked again
    assert enrolled.kind is TokenKind.FIDO2
    assert enrolled.recipient.startswith("age1")
    assert enrolled.facts["rp_id"] == "tessera-custody.invalid"
    assert enrolled.facts["aaguid"] == device.aaguid.hex()
    assert enrolled.label == "Tessera virtual FIDO2 key"

    token = TokenInfo(
        "t", "c", "Alice", TokenKind.FIDO2, enrolled.label, enrolled.recipient, enrolled.facts
    )
    challenge = os.urandom(32)
    unlocked = driver.unlock(token, envelope_for(token), challenge, prompts, threading.Event())
    assert bytes(unlocked.share) == b"share words"
    assert prompts.pin_requests == [8]
    unlocked.wipe()
    assert bytes(unlocked.share) == bytes(len(b"share words"))


def test_declining_pin_setup_stops_enrolment():
    device = VirtualAuthenticator()
    with pytest.raises(PinRequired):
        driver_for(device).enroll(
            device, "Alice", RecordingPrompts(new_pin=None), threading.Event()
        )
    assert not device.pin_is_set


def test_a_too_short_pin_is_asked_again():
    device = VirtualAuthenticator()

    class Picky(RecordingPrompts):
        def request_new_pin(self, token: str, reason: str) -> str | None:
            super().request_new_pin(token, reason)
            return "12" if len(self.new_pin_reasons) == 1 else PIN

    prompts = Picky()
    driver_for(device).enroll(hid_device(device), "Alice", prompts, threading.Event())
    assert len(prompts.new_pin_reasons) == 2 and "4 to 63" in prompts.new_pin_reasons[1]


def test_enrol_on_a_key_with_pin_asks_for_it_once():
    device = VirtualAuthenticator(pin=PIN)
    prompts = RecordingPrompts()
    driver_for(device).enroll(hid_device(device), "Alice", prompts, threading.Event())
    assert prompts.new_pin_reasons == []
    assert prompts.pin_requests == [8]


def test_a_key_without_hmac_secret_is_refused_by_name():
    device = VirtualAuthenticator(pin=PIN, hmac_secret=False)
    with pytest.raises(PrfUnsupported, match="Tessera virtual FIDO2 key"):
        driver_for(device).enroll(hid_device(device), "Alice", RecordingPrompts(), threading.Event())


def test_unknown_model_without_hmac_secret_is_called_this_key():
    device = VirtualAuthenticator(pin=PIN, hmac_secret=False, aaguid=bytes(16), product_name="")
    with pytest.raises(PrfUnsupported, match=r"^This key cannot be used"):
        driver_for(device).enroll(hid_device(device), "Alice", RecordingPrompts(), threading.Event())


def test_evidence_verifies_only_for_its_challenge_and_untampered():
    device = VirtualAuthenticator(pin=PIN)
    token = enrolled_token(device)
    driver = driver_for(device)
    challenge = os.urandom(32)
    evidence = driver.unlock(
        token, envelope_for(token), challenge, RecordingPrompts(), threading.Event()
    ).evidence
    assert evidence.algorithm == "ES256" and evidence.token_id == token.id
    assert driver.verify(token, challenge, evidence)
    assert not driver.verify(token, os.urandom(32), evidence)
    bad_sig = bytearray(evidence.signature)
    bad_sig[-1] ^= 1
    assert not driver.verify(
        token, challenge, Evidence(**{**evidence.__dict__, "signature": bytes(bad_sig)})
    )
    other = enrolled_token(VirtualAuthenticator(pin=PIN), "Bob")
    assert not driver.verify(other, challenge, Evidence(**{**evidence.__dict__, "token_id": None}))


def test_wrong_pin_counts_down_then_blocks():
    device = VirtualAuthenticator(pin=PIN)
    token = enrolled_token(device)
    driver = driver_for(device)
    envelope = envelope_for(token)
    wrong = RecordingPrompts(pin="0000")
    left = []
    for _ in range(8):
        try:
            driver.unlock(token, envelope, os.urandom(32), wrong, threading.Event())
        except PinAuthBlocked:
            device.plug_in()  # three in a row: the key wants to be re-plugged
            left.append("replug")
        except PinInvalid as e:
            left.append(e.attempts_left)
            assert "0000" not in str(e)
        except PinBlocked:
            left.append("blocked")
            break
    assert left[:2] == [7, 6]
    assert "replug" in left and left[-1] == "blocked"
    assert wrong.pin_requests[:3] == [8, 7, 6]
    with pytest.raises(PinBlocked):
        driver.unlock(token, envelope, os.urandom(32), RecordingPrompts(), threading.Event())


def test_cancelling_the_pin_dialog_is_a_user_cancel():
    device = VirtualAuthenticator(pin=PIN)
    token = enrolled_token(device)
    with pytest.raises(UserCancelled):
        driver_for(device).unlock(
            token,
            envelope_for(token),
            os.urandom(32),
            RecordingPrompts(pin=None),
            threading.Event(),
        )


def test_no_touch_in_time_is_a_touch_timeout():
    device = VirtualAuthenticator(pin=PIN)
    token = enrolled_token(device)
    device.touch.set_mode("never")
    device.touch_timeout = 0.2
    prompts = RecordingPrompts()
    with pytest.raises(TouchTimeout):
        driver_for(device).unlock(
            token, envelope_for(token), os.urandom(32), prompts, threading.Event()
        )
    assert prompts.touches == ["needed", "done"]


def test_cancel_while_the_key_waits_for_touch():
    device = VirtualAuthenticator(pin=PIN)
    token = enrolled_token(device)
    device.touch.set_mode("never")
    cancel = threading.Event()
    canceller = threading.Thread(target=lambda: device.touch.waiting.wait(5) and cancel.set())
    canceller.start()
    with pytest.raises(UserCancelled):
        driver_for(device).unlock(
            token, envelope_for(token), os.urandom(32), RecordingPrompts(), cancel
        )
    canceller.join()


def test_key_pulled_out_while_waiting_for_touch():
    device = VirtualAuthenticator(pin=PIN)
    token = enrolled_token(device)
    device.touch.set_mode("never")
    puller = threading.Thread(target=lambda: device.touch.waiting.wait(5) and device.pull_out())
    puller.start()
    with pytest.raises(DeviceRemoved):
        driver_for(device).unlock(
            token, envelope_for(token), os.urandom(32), RecordingPrompts(), threading.Event()
        )
    puller.join()


def test_a_token_holding_none_of_the_stanzas_is_the_wrong_token():
    device = VirtualAuthenticator(pin=PIN)
    token = enrolled_token(device)
    somebody_else = encrypt(b"bob's share", [X25519Identity.generate().recipient])
    with pytest.raises(WrongToken, match="Alice"):
        driver_for(device).unlock(
            token, somebody_else, os.urandom(32), RecordingPrompts(), threading.Event()
        )


def test_with_two_keys_plugged_in_the_one_holding_the_credential_is_used():
    alices = VirtualAuthenticator(pin=PIN)
    token = enrolled_token(alices)
    other = VirtualAuthenticator(TouchControl("never"), pin="9999", touch_timeout=0.2)
    prompts = RecordingPrompts()
    for order in ((other, alices), (alices, other)):
        unlocked = driver_for(*order).unlock(
            token, envelope_for(token), os.urandom(32), prompts, threading.Event()
        )
        assert bytes(unlocked.share) == b"share words"
    assert other.pin_retries == 8  # never asked for Alice's PIN


def test_when_no_plugged_in_key_holds_the_credential():
    token = enrolled_token(VirtualAuthenticator(pin=PIN))
    with pytest.raises(WrongToken, match="Alice"):
        driver_for(VirtualAuthenticator(pin=PIN)).unlock(
            token, envelope_for(token), os.urandom(32), RecordingPrompts(), threading.Event()
        )
    with pytest.raises(NoKeyFound):
        driver_for().unlock(
            token, envelope_for(token), os.urandom(32), RecordingPrompts(), threading.Event()
        )


def test_select_device_asks_for_a_touch_when_several_keys_are_plugged_in():
    touched = VirtualAuthenticator(TouchControl("immediate"))
    untouched = VirtualAuthenticator(TouchControl("never"), touch_timeout=2)
    prompts = RecordingPrompts()
    chosen = driver_for(untouched, touched).select_device(prompts, threading.Event())
    assert virtual_authenticator(chosen) is touched
    assert any("Touch the key" in n for n in prompts.notices)


def test_persisted_key_still_opens_old_envelopes(tmp_path: Path):
    path = tmp_path / "alice-key.json"
    device = VirtualAuthenticator(pin=PIN, state_path=path)
    token = enrolled_token(device)
    envelope = envelope_for(token)
    reloaded = VirtualAuthenticator.load(path)
    unlocked = driver_for(reloaded).unlock(
        token, envelope, os.urandom(32), RecordingPrompts(), threading.Event()
    )
    assert bytes(unlocked.share) == b"share words"


def test_present_finds_the_key_holding_the_credential_without_pin_or_touch():
    device = VirtualAuthenticator()
    token = enrolled_token(device)
    device.touch.set_mode("never")  # a touch would never come: the probe needs none
    stranger = VirtualAuthenticator()
    enrolled_token(stranger, "Mallory")
    assert driver_for(stranger, device).present(token) is True
    device.pull_out()
    assert driver_for(stranger).present(token) is False  # only someone else's key
    assert driver_for().present(token) is False  # no key at all
