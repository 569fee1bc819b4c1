"""A virtual YubiKey PIV applet that the real ``yubikit.piv.PivSession`` talks to.

:class:`VirtualPivCard` is a ``yubikit`` :class:`SmartCardConnection`: it receives
the same APDU bytes a YubiKey 5.7 receives over PC/SC and answers with the same data
and status words, so tests and the demo run the real PIV driver code path — PIN and
PUK counters, management-key mutual authentication (3DES and AES), P-256 key
generation with PIN and touch policies, ECDH and ECDSA through GENERAL AUTHENTICATE,
data objects (certificates, ykman's PIN-protected management key), short and
extended APDUs, command chaining and ``61xx`` response chaining.

Touch is a :class:`~tessera.tokens.virtual.touch.TouchControl`. A touch that does
not come within ``touch_timeout`` is answered like a YubiKey does: ``0x6982``. A key
with touch policy CACHED works without a touch for 15 s after one (on the card's
clock, which a test can replace: :meth:`VirtualPivCard.set_clock`).
:meth:`VirtualPivCard.pull_out` makes the pending or next transmit fail with the
exception pyscard raises for a removed card.

Not implemented (answered ``0x6D00`` like an unknown instruction): key import, secure
messaging, and the other YubiKey applications.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from smartcard.Exceptions import CardConnectionException
from yubikit.core import TRANSPORT, Tlv
from yubikit.core.smartcard import AID, SmartCardConnection
from yubikit.piv import (
    DEFAULT_MANAGEMENT_KEY,
    KEY_TYPE,
    MANAGEMENT_KEY_TYPE,
    PIN_POLICY,
    SLOT,
    TOUCH_POLICY,
)

from tessera.tokens.virtual import demo_attestation, piv_crypto
from tessera.tokens.virtual.piv_apdu import (
    SHORT_RESPONSE_MAX,
    SW_AUTH_METHOD_BLOCKED,
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS_NOT_SATISFIED,
    SW_FILE_NOT_FOUND,
    SW_INCORRECT_PARAMETERS,
    SW_INS_NOT_SUPPORTED,
    SW_LAST_COMMAND_OF_CHAIN_EXPECTED,
    SW_NO_SPACE,
    SW_OK,
    SW_REFERENCE_DATA_NOT_FOUND,
    SW_SECURITY_STATUS_NOT_SATISFIED,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    Command,
    parse_command,
)
from tessera.tokens.virtual.piv_state import (
    DEFAULT_PIN,
    DEFAULT_PUK,
    PivCardState,
    SlotKey,
    load_state,
    save_state,
)
from tessera.tokens.virtual.touch import TouchControl

logger = logging.getLogger(__name__)

INS_SELECT = 0xA4
INS_GET_RESPONSE = 0xC0
INS_VERIFY = 0x20
INS_CHANGE_REFERENCE = 0x24
INS_RESET_RETRY = 0x2C
INS_GENERATE_ASYMMETRIC = 0x47
INS_AUTHENTICATE = 0x87
INS_GET_DATA = 0xCB
INS_PUT_DATA = 0xDB
INS_GET_METADATA = 0xF7
INS_GET_SERIAL = 0xF8
INS_SET_PIN_RETRIES = 0xFA
INS_RESET = 0xFB
INS_MOVE_KEY = 0xF6  # firmware 5.7: move a key, or delete it (P1 = 0xFF)
INS_GET_VERSION = 0xFD
INS_ATTEST = 0xF9  # a certificate for a generated key, signed by the F9 key
OBJECT_ID_ATTESTATION = 0x5FFF01  # the F9 certificate
INS_SET_MGMKEY = 0xFF

P2_PIN = 0x80
P2_PUK = 0x81
SLOT_MANAGEMENT = 0x9B

# YubiKey's reply to SELECT PIV: application property template (AID + allocation authority).
PIV_FULL_AID = bytes.fromhex("a000000308000010000100")
SELECT_RESPONSE = bytes.fromhex("61114f0600001000010079074f05a000000308")
DISCOVERY_OBJECT = bytes.fromhex("7e124f0ba0000003080000100001005f2f024000")
OBJECT_ID_DISCOVERY = 0x7E
MAX_OBJECT_SIZE = 3052  # largest data object a YubiKey 5 stores
CACHED_TOUCH_SECONDS = 15.0
YUBIKEY_TOUCH_TIMEOUT = 15.0
REMOVED_MESSAGE = "Failed to transmit with protocol T1. Card was removed."

KEY_SLOTS = frozenset(s for s in SLOT if s != SLOT.ATTESTATION)
# Objects a YubiKey only reveals after PIN verification (SP 800-73-4 access rules).
PIN_PROTECTED_OBJECTS = frozenset({0x5FC103, 0x5FC108, 0x5FC109, 0x5FC121})


def _default_pin_policy(slot: int) -> int:
    if slot == SLOT.SIGNATURE:
        return PIN_POLICY.ALWAYS
    if slot == SLOT.CARD_AUTH:
        return PIN_POLICY.NEVER
    return PIN_POLICY.ONCE


def _valid_object_id(object_id: int) -> bool:
    return 0x5FC101 <= object_id <= 0x5FC123 or 0x5FFF00 <= object_id <= 0x5FFF15


def _unpad_pin(padded: bytes) -> bytes:
    return padded.rstrip(b"\xff")


class _Status(Exception):
    """An error status word for the command being processed."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"SW={sw:04x}")
        self.sw = sw


class _AnyEvent(threading.Event):
    """Reads as set when any of its sources is set: a touch wait ends on cancel or removal."""

    def __init__(self, *sources: threading.Event | None) -> None:
        super().__init__()
        self._sources = [s for s in sources if s is not None]

    def is_set(self) -> bool:
        return any(s.is_set() for s in self._sources)


class VirtualPivCard(SmartCardConnection):
    """A YubiKey's PIV applet in memory (optionally persisted to ``state_path``).

    ``transport=TRANSPORT.NFC`` makes yubikit use short APDUs with command and
    response chaining; ``USB`` (the default) makes it use extended APDUs.
    """

    def __init__(
        self,
        *,
        serial: int = 17000001,
        version: tuple[int, int, int] = (5, 7, 2),
        touch: TouchControl | None = None,
        state_path: Path | None = None,
        transport: TRANSPORT = TRANSPORT.USB,
        touch_timeout: float = YUBIKEY_TOUCH_TIMEOUT,
        management_key_type: MANAGEMENT_KEY_TYPE | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._state_path = state_path
        if state_path is not None and state_path.exists():
            self.state = load_state(state_path)
        else:
            self.state = PivCardState.factory(serial, version, management_key_type)
            self._save()
        self.touch = touch if touch is not None else TouchControl("immediate")
        self.touch_timeout = touch_timeout
        self._transport = transport
        self._clock = clock
        self._lock = threading.RLock()
        self._removed = threading.Event()
        self._cancel: threading.Event | None = None
        self._last_touch: float | None = None
        self._reset_session()
        self._selected = False

    # -- SmartCardConnection -------------------------------------------------------

    @property
    def transport(self) -> TRANSPORT:
        return self._transport

    @property
    def serial(self) -> int:
        return self.state.serial

    @property
    def version(self) -> tuple[int, int, int]:
        return self.state.version

    @property
    def present(self) -> bool:
        return not self._removed.is_set()

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        if self._removed.is_set():
            raise CardConnectionException(REMOVED_MESSAGE)
        with self._lock:
            data, sw = self._transmit(apdu)
        if self._removed.is_set():  # pulled out while the card was working
            raise CardConnectionException(REMOVED_MESSAGE)
        return data, sw

    def close(self) -> None:
        """End the card session: PIN and management-key authentication are forgotten."""
        with self._lock:
            self._reset_session()
            self._selected = False

    # -- test and demo controls ----------------------------------------------------

    def pull_out(self) -> None:
        """Remove the card: the pending or next transmit raises ``CardConnectionException``.
        It loses power, and with it a cached touch."""
        self._removed.set()
        self._last_touch = None

    def plug_in(self) -> None:
        """Insert the card again; it powers up with no PIN verified and nothing selected."""
        with self._lock:
            self._reset_session()
            self._selected = False
            self._removed.clear()

    def set_cancel(self, cancel: threading.Event | None) -> None:
        """An event that ends a pending touch wait (the host's cancel button)."""
        self._cancel = cancel

    # -- transport layer -----------------------------------------------------------

    def _reset_session(self) -> None:
        self._pin_verified = False
        self._pin_fresh = False  # verified since the last private-key use (PIN policy ALWAYS)
        self._mgmt_authenticated = False
        self._witness: bytes | None = None
        self._chain: tuple[int, int, int, bytes] | None = None
        self._pending_response = b""

    def _save(self) -> None:
        if self._state_path is not None:
            save_state(self.state, self._state_path)

    def _transmit(self, apdu: bytes) -> tuple[bytes, int]:
        try:
            cmd = parse_command(apdu)
        except ValueError:
            return b"", SW_WRONG_LENGTH
        if cmd.ins == INS_GET_RESPONSE and self._chain is None:
            return self._next_response_chunk()
        self._pending_response = b""
        if cmd.cla & ~0x10:
            self._chain = None
            return b"", SW_CLA_NOT_SUPPORTED
        if self._chain is not None:
            ins, p1, p2, head = self._chain
            if (ins, p1, p2) != (cmd.ins, cmd.p1, cmd.p2):
                self._chain = None
                return b"", SW_LAST_COMMAND_OF_CHAIN_EXPECTED
            cmd = Command(cmd.cla, cmd.ins, cmd.p1, cmd.p2, head + cmd.data, cmd.ne, cmd.extended)
        if cmd.chained:
            self._chain = (cmd.ins, cmd.p1, cmd.p2, cmd.data)
            return b"", SW_OK
        self._chain = None
        try:
            response = self._dispatch(cmd)
        except _Status as status:
            return b"", status.sw
        if cmd.extended or len(response) <= SHORT_RESPONSE_MAX:
            return response, SW_OK
        self._pending_response = response
        return self._next_response_chunk()

    def _next_response_chunk(self) -> tuple[bytes, int]:
        if not self._pending_response:
            return b"", SW_CONDITIONS_NOT_SATISFIED
        chunk = self._pending_response[:SHORT_RESPONSE_MAX]
        self._pending_response = self._pending_response[SHORT_RESPONSE_MAX:]
        remaining = len(self._pending_response)
        if remaining == 0:
            return chunk, SW_OK
        return chunk, 0x6100 | (remaining if remaining < 0x100 else 0)

    def _dispatch(self, cmd: Command) -> bytes:
        if cmd.ins == INS_SELECT:
            return self._select(cmd)
        if not self._selected:
            raise _Status(SW_INS_NOT_SUPPORTED)
        handlers: dict[int, Callable[[Command], bytes]] = {
            INS_GET_VERSION: self._get_version,
            INS_GET_SERIAL: self._get_serial,
            INS_GET_METADATA: self._get_metadata,
            INS_VERIFY: self._verify,
            INS_CHANGE_REFERENCE: self._change_reference,
            INS_RESET_RETRY: self._reset_retry,
            INS_AUTHENTICATE: self._authenticate,
            INS_SET_MGMKEY: self._set_management_key,
            INS_GENERATE_ASYMMETRIC: self._generate,
            INS_GET_DATA: self._get_data,
            INS_PUT_DATA: self._put_data,
            INS_SET_PIN_RETRIES: self._set_pin_retries,
            INS_RESET: self._reset,
            INS_MOVE_KEY: self._move_key,
            INS_ATTEST: self._attest,
        }
        handler = handlers.get(cmd.ins)
        if handler is None:
            raise _Status(SW_INS_NOT_SUPPORTED)
        return handler(cmd)

    # -- touch ---------------------------------------------------------------------

    def touch_cached(self) -> bool:
        """Whether a key with touch policy CACHED would work now without a touch.

        As Yubico documents CACHED: a touch is cached for 15 seconds after it was made,
        during which any number of operations go without another touch; using the
        cache does not extend it, and after 15 s it is cleared. The card keeps one
        cache for all its slots, filled by any touch (also one an ALWAYS key asked for):
        the assumption that gives someone who drives the card the most, so tests of
        what a cached touch allows err on the attacker's side. Power loss clears it.
        """
        return (self._last_touch is not None
                and 0 <= self._clock() - self._last_touch < CACHED_TOUCH_SECONDS)

    @property
    def last_touch(self) -> float | None:
        """When (on the card's clock) the last touch was made; None since power-up."""
        return self._last_touch

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Replace the card's clock (a test's virtual clock for the touch cache)."""
        self._clock = clock
        self._last_touch = None

    def _await_touch(self, policy: int) -> None:
        """Wait for a touch when ``policy`` asks for one; ``0x6982`` on timeout or cancel."""
        if policy not in (TOUCH_POLICY.ALWAYS, TOUCH_POLICY.CACHED):
            return
        if policy == TOUCH_POLICY.CACHED and self.touch_cached():
            return
        logger.debug("Virtual PIV card waiting for touch")
        touched = self.touch.wait(self.touch_timeout, _AnyEvent(self._removed, self._cancel))
        if self._removed.is_set():
            raise CardConnectionException(REMOVED_MESSAGE)
        if not touched:
            raise _Status(SW_SECURITY_STATUS_NOT_SATISFIED)
        self._last_touch = self._clock()

    # -- application selection and identity ---------------------------------------

    def _select(self, cmd: Command) -> bytes:
        if cmd.p1 != 0x04:
            raise _Status(SW_WRONG_P1P2)
        # yubikit sends the 5-byte RID+PIX; the full PIV AID (with version) selects it too.
        if len(cmd.data) >= len(AID.PIV) and PIV_FULL_AID.startswith(cmd.data):
            self._reset_session()
            self._selected = True
            return SELECT_RESPONSE
        self._selected = False
        raise _Status(SW_FILE_NOT_FOUND)

    def _get_version(self, cmd: Command) -> bytes:
        return bytes(self.state.version)

    def _get_serial(self, cmd: Command) -> bytes:
        return self.state.serial.to_bytes(4, "big")

    # -- metadata --------------------------------------------------------------------

    def _get_metadata(self, cmd: Command) -> bytes:
        if cmd.p1 != 0:
            raise _Status(SW_WRONG_P1P2)
        st = self.state
        if cmd.p2 in (P2_PIN, P2_PUK):
            is_pin = cmd.p2 == P2_PIN
            value, default = (st.pin, DEFAULT_PIN) if is_pin else (st.puk, DEFAULT_PUK)
            retries = (
                bytes([st.pin_total, st.pin_left]) if is_pin else bytes([st.puk_total, st.puk_left])
            )
            return (
                Tlv(0x01, b"\xff")
                + Tlv(0x05, b"\x01" if value == default else b"\x00")
                + Tlv(0x06, retries)
            )
        if cmd.p2 == SLOT_MANAGEMENT:
            return (
                Tlv(0x01, bytes([st.mgmt_type]))
                + Tlv(0x02, bytes([0x00, st.mgmt_touch]))
                + Tlv(0x05, b"\x01" if st.mgmt_key == DEFAULT_MANAGEMENT_KEY else b"\x00")
            )
        key = st.keys.get(cmd.p2)
        if key is None:
            raise _Status(SW_REFERENCE_DATA_NOT_FOUND)
        return (
            Tlv(0x01, bytes([key.key_type]))
            + Tlv(0x02, bytes([key.pin_policy, key.touch_policy]))
            + Tlv(0x03, b"\x01" if key.generated else b"\x02")
            + Tlv(0x04, Tlv(0x86, piv_crypto.p256_public_point(key.private_value)))
        )

    # -- PIN and PUK -----------------------------------------------------------------

    def _verify(self, cmd: Command) -> bytes:
        if cmd.p2 != P2_PIN:
            raise _Status(SW_REFERENCE_DATA_NOT_FOUND)
        if cmd.p1 == 0xFF and not cmd.data:  # reset the security status (ISO 7816-4)
            self._pin_verified = self._pin_fresh = False
            return b""
        if cmd.p1 != 0x00:
            raise _Status(SW_WRONG_P1P2)
        st = self.state
        if not cmd.data:
            if st.pin_left == 0:
                raise _Status(SW_AUTH_METHOD_BLOCKED)
            if self._pin_verified:
                return b""
            raise _Status(0x63C0 | min(st.pin_left, 15))
        if len(cmd.data) != 8:
            raise _Status(SW_INCORRECT_PARAMETERS)
        if st.pin_left == 0:
            raise _Status(SW_AUTH_METHOD_BLOCKED)
        if hmac.compare_digest(_unpad_pin(cmd.data), st.pin):
            st.pin_left = st.pin_total
            self._save()
            self._pin_verified = self._pin_fresh = True
            return b""
        st.pin_left -= 1
        self._save()
        self._pin_verified = self._pin_fresh = False
        raise _Status(0x63C0 | min(st.pin_left, 15))

    def _check_reference(self, is_pin: bool, offered: bytes) -> None:
        """Check a PIN or PUK against its counter; a wrong one costs an attempt."""
        st = self.state
        left = st.pin_left if is_pin else st.puk_left
        if left == 0:
            raise _Status(SW_AUTH_METHOD_BLOCKED)
        if hmac.compare_digest(offered, st.pin if is_pin else st.puk):
            if is_pin:
                st.pin_left = st.pin_total
            else:
                st.puk_left = st.puk_total
            return
        left -= 1
        if is_pin:
            st.pin_left = left
            self._pin_verified = self._pin_fresh = False
        else:
            st.puk_left = left
        self._save()
        raise _Status(0x63C0 | min(left, 15))

    def _check_then_replace(self, is_pin: bool, data: bytes) -> bytes:
        """Check the current PIN/PUK in ``data``'s first half; return the new value.

        Like a YubiKey, the current value is checked (and counted) before the new
        one's format: yubikit's reset blocks the PUK with empty new PINs this way.
        """
        if len(data) != 16:
            raise _Status(SW_INCORRECT_PARAMETERS)
        self._check_reference(is_pin, _unpad_pin(data[:8]))
        new = _unpad_pin(data[8:])
        if not 6 <= len(new) <= 8 or b"\xff" in new:
            self._save()
            raise _Status(SW_INCORRECT_PARAMETERS)
        return new

    def _change_reference(self, cmd: Command) -> bytes:
        if cmd.p1 != 0 or cmd.p2 not in (P2_PIN, P2_PUK):
            raise _Status(SW_WRONG_P1P2)
        is_pin = cmd.p2 == P2_PIN
        new = self._check_then_replace(is_pin, cmd.data)
        if is_pin:
            self.state.pin = new
        else:
            self.state.puk = new
        self._save()
        return b""

    def _reset_retry(self, cmd: Command) -> bytes:
        if cmd.p1 != 0 or cmd.p2 != P2_PIN:
            raise _Status(SW_WRONG_P1P2)
        self.state.pin = self._check_then_replace(False, cmd.data)
        self.state.pin_left = self.state.pin_total
        self._save()
        return b""

    def _set_pin_retries(self, cmd: Command) -> bytes:
        if not (self._mgmt_authenticated and self._pin_verified):
            raise _Status(SW_SECURITY_STATUS_NOT_SATISFIED)
        if not (1 <= cmd.p1 <= 255 and 1 <= cmd.p2 <= 255):
            raise _Status(SW_WRONG_P1P2)
        st = self.state
        st.pin, st.puk = DEFAULT_PIN, DEFAULT_PUK
        st.pin_total = st.pin_left = cmd.p1
        st.puk_total = st.puk_left = cmd.p2
        self._save()
        return b""

    def _reset(self, cmd: Command) -> bytes:
        # A YubiKey resets PIV only when both PIN and PUK are blocked.
        if self.state.pin_left or self.state.puk_left:
            raise _Status(SW_CONDITIONS_NOT_SATISFIED)
        self.state = PivCardState.factory(self.state.serial, self.state.version)
        self._save()
        self._reset_session()
        self._selected = True
        return b""

    # -- management key --------------------------------------------------------------

    def _authenticate(self, cmd: Command) -> bytes:
        try:
            outer = Tlv.unpack(0x7C, cmd.data)
            fields = Tlv.parse_dict(outer)
        except ValueError:
            raise _Status(SW_INCORRECT_PARAMETERS) from None
        if cmd.p2 == SLOT_MANAGEMENT:
            return self._authenticate_management(cmd.p1, fields)
        return self._use_private_key(cmd.p1, cmd.p2, fields)

    def _authenticate_management(self, algorithm: int, fields: dict[int, bytes]) -> bytes:
        st = self.state
        if algorithm != st.mgmt_type:
            raise _Status(SW_INCORRECT_PARAMETERS)
        block_len = st.mgmt_type.challenge_len
        if fields.get(0x80) == b"" and 0x81 not in fields:
            self._mgmt_authenticated = False
            self._witness = os.urandom(block_len)
            witness = piv_crypto.encrypt_block(st.mgmt_type, st.mgmt_key, self._witness)
            return Tlv(0x7C, Tlv(0x80, witness))
        decrypted, challenge = fields.get(0x80), fields.get(0x81)
        expected, self._witness = self._witness, None
        if decrypted is None or challenge is None or expected is None:
            raise _Status(SW_INCORRECT_PARAMETERS)
        if len(challenge) != block_len or not hmac.compare_digest(decrypted, expected):
            raise _Status(SW_SECURITY_STATUS_NOT_SATISFIED)
        self._await_touch(st.mgmt_touch)
        self._mgmt_authenticated = True
        response = piv_crypto.encrypt_block(st.mgmt_type, st.mgmt_key, challenge)
        return Tlv(0x7C, Tlv(0x82, response))

    def _require_management(self) -> None:
        if not self._mgmt_authenticated:
            raise _Status(SW_SECURITY_STATUS_NOT_SATISFIED)

    def _set_management_key(self, cmd: Command) -> bytes:
        self._require_management()
        if cmd.p1 != 0xFF or cmd.p2 not in (0xFF, 0xFE):
            raise _Status(SW_WRONG_P1P2)
        if len(cmd.data) < 2:
            raise _Status(SW_INCORRECT_PARAMETERS)
        try:
            key_type = MANAGEMENT_KEY_TYPE(cmd.data[0])
            key = Tlv.unpack(SLOT_MANAGEMENT, cmd.data[1:])
        except ValueError:
            raise _Status(SW_INCORRECT_PARAMETERS) from None
        if len(key) != key_type.key_len:
            raise _Status(SW_INCORRECT_PARAMETERS)
        if key_type != MANAGEMENT_KEY_TYPE.TDES and self.state.version < (5, 4, 0):
            raise _Status(SW_INCORRECT_PARAMETERS)
        st = self.state
        st.mgmt_type, st.mgmt_key = key_type, key
        st.mgmt_touch = TOUCH_POLICY.ALWAYS if cmd.p2 == 0xFE else TOUCH_POLICY.NEVER
        self._save()
        return b""

    # -- keys ------------------------------------------------------------------------

    def _generate(self, cmd: Command) -> bytes:
        self._require_management()
        if cmd.p1 != 0 or cmd.p2 not in KEY_SLOTS:
            raise _Status(SW_WRONG_P1P2)
        try:
            fields = Tlv.parse_dict(Tlv.unpack(0xAC, cmd.data))
        except ValueError:
            raise _Status(SW_INCORRECT_PARAMETERS) from None
        algorithm = fields.get(0x80, b"")
        pin_policy = fields.get(0xAA, b"\x00")
        touch_policy = fields.get(0xAB, b"\x00")
        if algorithm != bytes([KEY_TYPE.ECCP256]) or len(pin_policy) != 1 or len(touch_policy) != 1:
            raise _Status(SW_INCORRECT_PARAMETERS)
        if pin_policy[0] > PIN_POLICY.ALWAYS or touch_policy[0] > TOUCH_POLICY.CACHED:
            raise _Status(SW_INCORRECT_PARAMETERS)
        private_value = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
        self.state.keys[cmd.p2] = SlotKey(
            key_type=KEY_TYPE.ECCP256,
            private_value=private_value,
            pin_policy=pin_policy[0] or _default_pin_policy(cmd.p2),
            touch_policy=touch_policy[0] or TOUCH_POLICY.NEVER,
            generated=True,
        )
        self._save()
        point = piv_crypto.p256_public_point(private_value)
        return Tlv(0x7F49, Tlv(0x86, point))

    def _attest(self, cmd: Command) -> bytes:
        """ATTEST: only a key generated on the card can be attested (as on a YubiKey)."""
        key = self.state.keys.get(cmd.p1)
        if cmd.p2 != 0 or key is None or not key.generated:
            raise _Status(SW_REFERENCE_DATA_NOT_FOUND)
        return demo_attestation.attest_slot(self.state.serial, self.state.version, cmd.p1,
                                      piv_crypto.p256_public_point(key.private_value),
                                      key.pin_policy, key.touch_policy)

    def _move_key(self, cmd: Command) -> bytes:
        """MOVE KEY (5.7+): P2 is the source slot, P1 the target or 0xFF to delete."""
        if self.state.version < (5, 7, 0):
            raise _Status(SW_INS_NOT_SUPPORTED)
        self._require_management()
        to_slot, from_slot = cmd.p1, cmd.p2
        if from_slot not in KEY_SLOTS or (to_slot != 0xFF and to_slot not in KEY_SLOTS):
            raise _Status(SW_WRONG_P1P2)
        key = self.state.keys.pop(from_slot, None)
        if key is None:
            raise _Status(SW_REFERENCE_DATA_NOT_FOUND)
        if to_slot != 0xFF:
            self.state.keys[to_slot] = key
        self._save()
        return b""

    def _use_private_key(self, algorithm: int, slot: int, fields: dict[int, bytes]) -> bytes:
        key = self.state.keys.get(slot)
        if key is None or algorithm != key.key_type or fields.get(0x82) != b"":
            raise _Status(SW_INCORRECT_PARAMETERS)
        message, point = fields.get(0x81), fields.get(0x85)
        if (message is None) == (point is None):
            raise _Status(SW_INCORRECT_PARAMETERS)
        if message is not None and len(message) != 32:
            raise _Status(SW_INCORRECT_PARAMETERS)
        if point is not None and (len(point) != 65 or point[0] != 0x04):
            raise _Status(SW_INCORRECT_PARAMETERS)
        if key.pin_policy == PIN_POLICY.ONCE and not self._pin_verified:
            raise _Status(SW_SECURITY_STATUS_NOT_SATISFIED)
        if key.pin_policy == PIN_POLICY.ALWAYS and not self._pin_fresh:
            raise _Status(SW_SECURITY_STATUS_NOT_SATISFIED)
        self._await_touch(key.touch_policy)
        self._pin_fresh = False
        try:
            if message is not None:
                result = piv_crypto.p256_sign_digest(key.private_value, message)
            else:
                assert point is not None  # noqa: S101 - exactly one of message/point, checked above
                result = piv_crypto.p256_ecdh(key.private_value, point)
        except ValueError:  # a point that is not on the curve
            raise _Status(SW_INCORRECT_PARAMETERS) from None
        return Tlv(0x7C, Tlv(0x82, result))

    # -- data objects ----------------------------------------------------------------

    @staticmethod
    def _object_id(tlv_value: bytes) -> int:
        return int.from_bytes(tlv_value, "big")

    def _get_data(self, cmd: Command) -> bytes:
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF):
            raise _Status(SW_WRONG_P1P2)
        try:
            object_id = self._object_id(Tlv.unpack(0x5C, cmd.data))
        except ValueError:
            raise _Status(SW_INCORRECT_PARAMETERS) from None
        if object_id == OBJECT_ID_DISCOVERY:
            return DISCOVERY_OBJECT
        if not _valid_object_id(object_id):
            raise _Status(SW_INCORRECT_PARAMETERS)
        if object_id in PIN_PROTECTED_OBJECTS and not self._pin_verified:
            raise _Status(SW_SECURITY_STATUS_NOT_SATISFIED)
        value = self.state.objects.get(object_id)
        if value is None and object_id == OBJECT_ID_ATTESTATION:
            value = Tlv(0x70, demo_attestation.f9_certificate(self.state.serial)) + Tlv(0x71, b"\0")
        if value is None:
            raise _Status(SW_FILE_NOT_FOUND)
        return Tlv(0x53, value)

    def _put_data(self, cmd: Command) -> bytes:
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF):
            raise _Status(SW_WRONG_P1P2)
        self._require_management()
        try:
            id_tlv, rest = Tlv.parse_from(cmd.data)
            value = Tlv.unpack(0x53, rest)
        except ValueError:
            raise _Status(SW_INCORRECT_PARAMETERS) from None
        object_id = self._object_id(id_tlv.value)
        if id_tlv.tag != 0x5C or not _valid_object_id(object_id):
            raise _Status(SW_INCORRECT_PARAMETERS)
        if len(value) > MAX_OBJECT_SIZE:
            raise _Status(SW_NO_SPACE)
        if value:
            self.state.objects[object_id] = value
        else:
            self.state.objects.pop(object_id, None)
        self._save()
        return b""
