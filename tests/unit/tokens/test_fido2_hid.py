"""FIDO2 through USB HID framing: python-fido2's CtapHidDevice over CTAPHID packets.

Every call here leaves python-fido2 as 64-byte reports and reaches the virtual key
through :class:`VirtualHidConnection`, the way hidraw carries them for a USB key:
INIT, CBOR, KEEPALIVE (with "user presence needed" reaching the touch prompt), a
real CTAPHID_CANCEL, ERROR. Also: U2F-only keys, blocked PINs, reset keys, and two
keys at once without ever sending a PIN to the wrong one.
"""

from __future__ import annotations

import os
import struct
import threading

import pytest
from fido2.ctap import CtapError
from fido2.ctap2.base import Ctap2
from fido2.hid import CAPABILITY, CTAPHID
from tests.unit.tokens.test_fido2_driver import PIN, RecordingPrompts

from tessera.core.age import encrypt, parse_recipient
from tessera.core.errors import PinBlocked, UserCancelled, WrongToken
from tessera.tokens.base import TokenInfo, TokenKind
from tessera.tokens.fido2 import Fido2Driver
from tessera.tokens.fido2_errors import AmbiguousKeys, U2fOnly
from tessera.tokens.virtual.ctap import VirtualAuthenticator
from tessera.tokens.virtual.hid import VirtualHidConnection, hid_device
from tessera.tokens.virtual.touch import TouchControl

KEEPALIVE = 0x80 | CTAPHID.KEEPALIVE
CANCEL = 0x80 | CTAPHID.CANCEL
ERROR = 0x80 | CTAPHID.ERROR
UP_NEEDED = 2


class Recording(VirtualHidConnection):
    """The same connection, remembering every report in both directions."""

    def __init__(self, authenticator, **kwargs) -> None:
        super().__init__(authenticator, **kwargs)
        self.sent: list[bytes] = []
        self.received: list[bytes] = []

    def write_packet(self, data: bytes) -> None:
        self.sent.append(bytes(data))
        super().write_packet(data)

    def read_packet(self) -> bytes:
        packet = super().read_packet()
        self.received.append(packet)
        return packet


def commands(packets: list[bytes]) -> list[int]:
    return [p[4] for p in packets if p[4] & 0x80]


class Rig:
    """Keys plugged in as HID devices; each listing opens them afresh, like hidraw."""

    def __init__(self, *keys: VirtualAuthenticator, capabilities: int | None = None) -> None:
        self.keys = list(keys)
        self.capabilities = capabilities
        self.connections: list[Recording] = []

    def devices(self):
        found = []
        for key in self.keys:
            if key.removed:
                continue
            connection = Recording(key, capabilities=self.capabilities)
            self.connections.append(connection)
            found.append(hid_device(key, connection=connection))
        return found

    def driver(self) -> Fido2Driver:
        return Fido2Driver(self.devices, platform_client=None)

    def enrol(self, name="Alice", prompts=None) -> TokenInfo:
        enrolled = self.driver().enroll(None, name, prompts or RecordingPrompts(),
                                        threading.Event())
        return TokenInfo(id=f"tok-{name}", custodian_id=f"c-{name}", custodian_name=name,
                         kind=TokenKind.FIDO2, label=enrolled.label,
                         recipient=enrolled.recipient, facts=enrolled.facts)


def envelope(token: TokenInfo) -> bytes:
    return encrypt(b"share words", [parse_recipient(token.recipient)])


def test_init_allocates_a_channel_and_reports_capabilities():
    rig = Rig(VirtualAuthenticator(pin=PIN))
    [device] = rig.devices()
    [connection] = rig.connections
    init = connection.sent[0]
    assert struct.unpack_from(">IB", init) == (0xFFFFFFFF, 0x80 | CTAPHID.INIT)
    assert device.capabilities & CAPABILITY.CBOR
    assert connection.received[0][:4] == b"\xff\xff\xff\xff"  # answered on broadcast
    channel = struct.unpack_from(">I", connection.received[0], 15)[0]
    Ctap2(device).get_info()
    assert struct.unpack_from(">I", connection.sent[-1])[0] == channel
    assert 0x80 | CTAPHID.CBOR in commands(connection.sent)


def test_long_messages_travel_as_continuation_packets():
    rig = Rig(VirtualAuthenticator())
    [device] = rig.devices()
    message = os.urandom(1000)
    assert device.ping(message) == message
    connection = rig.connections[0]
    assert len(connection.sent) - 1 >= 1000 // 59  # INIT + init packet + continuations


def test_unknown_command_gets_an_error_packet():
    rig = Rig(VirtualAuthenticator())
    [device] = rig.devices()
    with pytest.raises(CtapError) as e:
        device.call(0x55, b"")
    assert e.value.code == CtapError.ERR.INVALID_COMMAND
    assert ERROR in commands(rig.connections[0].received)


def test_keepalive_up_needed_reaches_the_touch_prompt_and_enrolment_completes():
    key = VirtualAuthenticator(TouchControl("delay:0.4"), pin=PIN)
    rig = Rig(key)
    prompts = RecordingPrompts()
    token = rig.enrol(prompts=prompts)
    assert "needed" in prompts.touches and prompts.touches[-1] == "done"
    keepalives = [p for c in rig.connections for p in c.received if p[4] == KEEPALIVE]
    assert keepalives and any(p[7] == UP_NEEDED for p in keepalives)
    unlocked = rig.driver().unlock(token, envelope(token), os.urandom(32), RecordingPrompts(),
                                   threading.Event())
    assert bytes(unlocked.share) == b"share words"


def test_cancel_travels_as_a_ctaphid_cancel_packet():
    key = VirtualAuthenticator(pin=PIN, touch_timeout=20)
    rig = Rig(key)
    token = rig.enrol()
    key.touch.set_mode("manual")
    cancel = threading.Event()
    canceller = threading.Thread(target=lambda: key.touch.waiting.wait(5) and cancel.set())
    canceller.start()
    with pytest.raises(UserCancelled):
        rig.driver().unlock(token, envelope(token), os.urandom(32), RecordingPrompts(), cancel)
    canceller.join()
    assert any(CANCEL in commands(c.sent) for c in rig.connections)


def test_a_busy_key_answers_another_channel_with_channel_busy():
    key = VirtualAuthenticator(TouchControl("manual"), touch_timeout=20)
    first, second = hid_device(key), hid_device(key)
    stop = threading.Event()

    def wait_for_touch() -> None:
        with pytest.raises(CtapError):
            Ctap2(first).selection(event=stop)

    waiting = threading.Thread(target=wait_for_touch, daemon=True)
    waiting.start()
    assert key.touch.waiting.wait(5)
    gave_up = threading.Event()
    threading.Timer(0.3, gave_up.set).start()
    with pytest.raises(CtapError) as e:
        second.call(CTAPHID.CBOR, b"\x04", event=gave_up)  # getInfo while the key is busy
    assert e.value.code == CtapError.ERR.CHANNEL_BUSY
    stop.set()
    waiting.join(5)


def test_a_u2f_only_key_is_refused_by_name():
    key = VirtualAuthenticator(product_name="Yubico YubiKey NEO OTP+U2F+CCID")
    rig = Rig(key, capabilities=int(CAPABILITY.WINK))
    with pytest.raises(U2fOnly, match=r"YubiKey NEO.*U2F-only"):
        rig.driver().enroll(None, "Alice", RecordingPrompts(), threading.Event())


def test_a_blocked_pin_is_reported_before_any_pin_is_asked():
    key = VirtualAuthenticator(pin=PIN)
    rig = Rig(key)
    token = rig.enrol()
    key._pin_retries = 0  # blocked, as after eight wrong PINs
    key._save()
    prompts = RecordingPrompts()
    with pytest.raises(PinBlocked, match="paper recovery sheet"):
        rig.driver().unlock(token, envelope(token), os.urandom(32), prompts, threading.Event())
    assert prompts.pin_requests == []
    with pytest.raises(PinBlocked):
        rig.driver().enroll(None, "Alice", prompts, threading.Event())
    assert prompts.pin_requests == []


def test_a_reset_key_points_to_the_paper_sheet():
    key = VirtualAuthenticator(pin=PIN)
    rig = Rig(key)
    token = rig.enrol()
    rig.keys = [VirtualAuthenticator()]  # same model, after a reset: no PIN, no credentials
    with pytest.raises(WrongToken, match=r"probably reset.*paper recovery sheet"):
        rig.driver().unlock(token, envelope(token), os.urandom(32), RecordingPrompts(),
                            threading.Event())
    rig.keys = [VirtualAuthenticator(pin="9999")]  # somebody else's key
    with pytest.raises(WrongToken, match=r"none of the plugged-in keys.*paper recovery sheet"):
        rig.driver().unlock(token, envelope(token), os.urandom(32), RecordingPrompts(),
                            threading.Event())


def test_two_keys_that_refuse_the_probe_get_no_pin():
    alices = VirtualAuthenticator(pin=PIN, always_uv=True)
    rig = Rig(alices)
    token = rig.enrol()
    bobs = VirtualAuthenticator(pin="9999", always_uv=True)
    rig.keys = [bobs, alices]
    prompts = RecordingPrompts()
    with pytest.raises(AmbiguousKeys, match="leave only Alice's key"):
        rig.driver().unlock(token, envelope(token), os.urandom(32), prompts, threading.Event())
    assert prompts.pin_requests == [] and bobs.pin_retries == 8 and alices.pin_retries == 8
    rig.keys = [alices]  # with only her key plugged in, it works
    unlocked = rig.driver().unlock(token, envelope(token), os.urandom(32), RecordingPrompts(),
                                   threading.Event())
    assert bytes(unlocked.share) == b"share words"


def test_two_keys_at_once_the_holder_is_found_silently():
    alices = VirtualAuthenticator(pin=PIN)
    rig = Rig(alices)
    token = rig.enrol()
    bobs = VirtualAuthenticator(TouchControl("never"), pin="9999", touch_timeout=0.2)
    rig.keys = [bobs, alices]
    unlocked = rig.driver().unlock(token, envelope(token), os.urandom(32), RecordingPrompts(),
                                   threading.Event())
    assert bytes(unlocked.share) == b"share words" and bobs.pin_retries == 8


def test_one_yubikey_is_seen_as_fido2_and_as_piv_and_both_work_at_once(tmp_path):
    """A YubiKey 5 has a FIDO HID interface and a CCID (PIV) interface side by side."""
    from tessera.custody.drivers import TokenDrivers
    from tessera.custody.enroll import connected_devices
    from tessera.tokens.piv import PivDriver
    from tessera.tokens.software import SoftwareKeyStore
    from tessera.tokens.virtual.piv_card import VirtualPivCard
    from tessera.tokens.virtual.piv_device import VirtualYubiKey, virtual_listing

    fido = VirtualAuthenticator(pin=PIN, product_name="Yubico YubiKey OTP+FIDO+CCID",
                                touch_timeout=20)
    yubikey = VirtualYubiKey(VirtualPivCard(serial=5550001))
    drivers = TokenDrivers(SoftwareKeyStore(tmp_path / "keys"),
                           fido2_devices=lambda: [hid_device(fido)],
                           piv_devices=lambda: virtual_listing([yubikey]))
    listed = {(d.kind, d.label) for d in connected_devices(drivers)}
    assert listed == {(TokenKind.FIDO2, "Yubico YubiKey OTP+FIDO+CCID"),
                      (TokenKind.PIV, "virtual YubiKey 5550001")}

    rig = Rig(fido)
    fido_token = rig.enrol()
    piv = drivers.driver(TokenKind.PIV)
    assert isinstance(piv, PivDriver)

    class PivPrompts(RecordingPrompts):
        def request_new_pin(self, token, reason):
            return "31415926"

        def request_pin(self, token, attempts_left):
            return "31415926"

    enrolled = piv.enroll(yubikey.card, "Alice", PivPrompts(), threading.Event())
    piv_token = TokenInfo(id="tok-piv", custodian_id="c-Alice", custodian_name="Alice",
                          kind=TokenKind.PIV, label=enrolled.label,
                          recipient=enrolled.recipient, facts=enrolled.facts)
    fido.touch.set_mode("manual")
    results: dict[str, object] = {}

    def fido_unlock() -> None:
        results["fido"] = rig.driver().unlock(fido_token, envelope(fido_token), os.urandom(32),
                                              RecordingPrompts(), threading.Event())

    waiting = threading.Thread(target=fido_unlock)
    waiting.start()
    assert fido.touch.waiting.wait(5)  # FIDO2 waits for a touch on the HID interface ...
    unlocked = piv.unlock(piv_token, envelope(piv_token), os.urandom(32), PivPrompts(),
                          threading.Event())  # ... while PIV works on the CCID interface
    assert bytes(unlocked.share) == b"share words"
    fido.touch.press()
    waiting.join(10)
    assert bytes(results["fido"].share) == b"share words"


def test_a_virtual_key_handed_over_directly_is_still_reached_through_ctaphid(monkeypatch):
    """Demo enrolment passes the virtual key itself; the driver opens it over USB HID."""
    frames: list[bytes] = []
    original = VirtualHidConnection.write_packet

    def recording(self, data):
        frames.append(bytes(data))
        original(self, data)

    monkeypatch.setattr(VirtualHidConnection, "write_packet", recording)
    key = VirtualAuthenticator(pin=PIN)
    Fido2Driver(lambda: [], platform_client=None).enroll(key, "Alice", RecordingPrompts(),
                                                         threading.Event())
    assert 0x80 | CTAPHID.INIT in commands(frames) and 0x80 | CTAPHID.CBOR in commands(frames)


def test_a_fault_inside_the_key_is_an_error_packet_and_the_key_keeps_working(monkeypatch):
    key = VirtualAuthenticator()
    [device] = Rig(key).devices()
    original = VirtualAuthenticator.call

    def faulty(self, cmd, data=b"", event=None, on_keepalive=None):
        if cmd == CTAPHID.PING and data == b"boom":
            raise ValueError("a bug in the key")
        return original(self, cmd, data, event, on_keepalive)

    monkeypatch.setattr(VirtualAuthenticator, "call", faulty)
    with pytest.raises(CtapError) as e:
        device.ping(b"boom")
    assert e.value.code == CtapError.ERR.OTHER
    assert device.ping(b"still here") == b"still here"
