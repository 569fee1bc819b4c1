"""The YubiKey PIV token driver, through the real ``yubikit.piv.PivSession``.

Enrolment generates a P-256 key on the card in the first free retired slot (82-95)
with PIN policy ONCE and touch policy CACHED (or ALWAYS), writes a self-signed
certificate naming the custodian into the slot, and records the age-plugin-yubikey
recipient (``age1yubikey1…``). Shares wrapped to that recipient open with stock
``age`` + ``age-plugin-yubikey`` too. It also records the slot's post-quantum hybrid
recipient (``age1tagpq1…``), whose ML-KEM half lives in a PIN-protected data object on
the same card (tokens.piv_pq); hybrid envelopes use that one.

Unlocking finds the card by serial, checks the slot still holds the enrolled key,
verifies the PIN, signs the challenge with the slot key (the touch), then unwraps the
share with ECDH by the same key (covered by that touch under CACHED). The signature is ES256 over the 32-byte challenge: yubikit
hashes the challenge with SHA-256 (``hash_algorithm=hashes.SHA256()``) and the card
signs that digest, so it verifies with
``public_key.verify(signature, challenge, ECDSA(SHA256()))``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, mlkem
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from yubikit.core import BadResponseError, NotSupportedError
from yubikit.core.smartcard import SW, ApduError, SmartCardConnection
from yubikit.piv import KEY_TYPE, PIN_POLICY, SLOT, TOUCH_POLICY, PivSession

from tessera.core.age import (
    AgeNoMatch,
    Identity,
    MlKem768P256TagIdentity,
    P256TagIdentity,
    PivP256Identity,
    PivP256Recipient,
    decrypt,
    read_stanzas,
)
from tessera.core.attestation import ATTESTATION_FACT, piv_evidence
from tessera.core.errors import PinBlocked, TokenError, UserCancelled, WrongToken
from tessera.core.token_types import PQ_RECIPIENT_FACT
from tessera.tokens.base import (
    ApprovalMethod,
    Enrolled,
    Evidence,
    Prompts,
    TokenInfo,
    TokenKind,
    Unlocked,
)
from tessera.tokens.piv_calls import bind_cancel, check_cancel, run_card_call
from tessera.tokens.piv_devices import (
    DeviceLister,
    PivDevice,
    busy_readers,
    discover,
    list_real_devices,
)
from tessera.tokens.piv_errors import PUK_HINT, KeyInUse, piv_errors
from tessera.tokens.piv_pq import (
    PQ_OBJECT,
    master_for_enrolment,
    mlkem_key,
    pq_recipient,
    read_master,
)
from tessera.tokens.piv_setup import (
    PIN_MAX_BYTES,
    first_free_slot,
    minimum_version_check,
    release_failed_slot,
    unlock_for_enrolment,
    write_label_certificate,
)

logger = logging.getLogger(__name__)

ALGORITHM = "ES256"
CHALLENGE_SIZE = 32
STANZA_TYPE = "piv-p256"


class TouchPolicy(enum.StrEnum):
    """Touch policies Tessera offers for an enrolled slot key (docs/TOKENS.md, "One
    touch per release"). New enrolments get CACHED; ALWAYS keys enrolled earlier keep
    working with two touches per approval."""

    ALWAYS = "always"  # every operation needs its own touch: approval + unwrap = two
    CACHED = "cached"  # a touch covers the card's next 15 s: approval, then unwrap = one

    @property
    def piv(self) -> TOUCH_POLICY:
        return TOUCH_POLICY.ALWAYS if self is TouchPolicy.ALWAYS else TOUCH_POLICY.CACHED


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _compressed(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


def _facts_public_key(facts: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """The enrolled slot key from a token's facts; ``ValueError`` if they are damaged."""
    try:
        encoded = base64.b64decode(str(facts["public_key"]), validate=True)
    except (KeyError, binascii.Error) as e:
        raise ValueError("token facts hold no valid public key") from e
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), encoded)


def attest_slot(session: PivSession, slot: SLOT) -> dict[str, Any] | None:
    """The card's attestation of the key just generated in ``slot`` (slot certificate
    and F9 certificate), or None when the card cannot attest (firmware before 4.3, or
    no F9 certificate): the token is then enrolled as unproven, counting as software."""
    try:
        slot_cert = session.attest_key(slot)
        f9_cert = session.get_certificate(SLOT.ATTESTATION)
    except (ApduError, NotSupportedError, ValueError, BadResponseError):
        logger.info("The card cannot attest PIV slot %02X", slot)
        return None
    return piv_evidence([slot_cert.public_bytes(Encoding.DER),
                         f9_cert.public_bytes(Encoding.DER)])


def _no_key() -> mlkem.MLKEM768PrivateKey:
    raise AssertionError("a stanza tag check never needs the ML-KEM key")


def _facts_slot(facts: Mapping[str, Any]) -> SLOT:
    try:
        slot = SLOT(int(str(facts["slot"]), 16))
    except (KeyError, ValueError) as e:
        raise ValueError("token facts hold no valid PIV slot") from e
    return slot


class PivDriver:
    """YubiKey PIV tokens (real, through PC/SC, and virtual)."""

    kind = TokenKind.PIV

    def __init__(
        self, devices: DeviceLister | None = None, *, virtual: DeviceLister | None = None
    ) -> None:
        """``devices`` replaces PC/SC discovery (demo mode, tests); ``virtual`` adds keys to it.

        Both are callables shaped like ``ykman.device.list_all_devices()``.
        """
        self._devices: DeviceLister = devices if devices is not None else list_real_devices
        self._virtual = virtual

    # -- discovery -------------------------------------------------------------------

    def list_devices(self) -> list[PivDevice]:
        """Every YubiKey with PIV that is plugged in (raises ``PcscUnavailable`` if none can be seen)."""
        return discover(self._devices, self._virtual)

    def find_device(self, serial: int) -> PivDevice | None:
        for device in self.list_devices():
            if device.serial == serial:
                return device
        return None

    def require_free(self, wanted: str, listed: Iterable[PivDevice] = ()) -> None:
        """Raise :class:`KeyInUse` if a YubiKey that may be ``wanted`` (not found) is
        held by another program: "insert it" or "not this key" would be wrong.
        ``listed``: keys just listed (their readers are not probed again)."""
        if self._devices is list_real_devices:
            held = busy_readers(d.device for d in listed)
            if held:
                raise KeyInUse(wanted, held)

    def present(self, token: TokenInfo) -> bool | None:
        """Whether the YubiKey holding ``token`` is plugged in (by serial; no PIN, no
        touch); ``None`` when that cannot be told (no PC/SC service, or a YubiKey held
        by another program, which might be it)."""
        try:
            serial = int(token.facts["serial"])
            if self.find_device(serial) is not None:
                return True
            self.require_free(token.label)
            return False
        except (KeyError, ValueError, TypeError):
            return None
        except TokenError:  # no PC/SC service, or a key held: nothing can be told
            return None

    # -- enrolment -------------------------------------------------------------------

    def enroll(
        self,
        connection: SmartCardConnection,
        custodian_name: str,
        prompts: Prompts,
        cancel: threading.Event,
        *,
        touch_policy: TouchPolicy = TouchPolicy.CACHED,
    ) -> Enrolled:
        """Create the custodian's key on the card; returns public facts for the vault.

        Needs a touch (the certificate is signed on the card with the new key).
        """
        label = "the YubiKey"
        check_cancel(cancel)
        with bind_cancel(connection, cancel), piv_errors(label, cancel, touch=True):
            session = PivSession(connection)
            serial = session.get_serial()
            label = f"YubiKey {serial}"
            minimum_version_check(session, label)
            unlock_for_enrolment(session, label, prompts, cancel)
            check_cancel(cancel)
            slot = first_free_slot(session, label)
            logger.info("Generating a P-256 key in PIV slot %02X", slot)
            public_key = session.generate_key(
                slot, KEY_TYPE.ECCP256, PIN_POLICY.ONCE, touch_policy.piv
            )
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                raise TokenError(f"{label} returned a key of the wrong type")
            attestation = attest_slot(session, slot)
            try:
                check_cancel(cancel)
                write_label_certificate(
                    session,
                    slot,
                    public_key,
                    custodian_name,
                    pin_policy=PIN_POLICY.ONCE,
                    touch_policy=touch_policy.piv,
                    label=label,
                    prompts=prompts,
                    cancel=cancel,
                )
                master = master_for_enrolment(session)
            except BaseException:
                # No touch, a cancel or a refusal after the key was made: never leave a
                # key without its label (other tools see such a slot as empty).
                release_failed_slot(session, slot, public_key)
                raise
        compressed = _compressed(public_key)
        recipient = PivP256Recipient.from_public_key(compressed).to_string()
        pq: dict[str, str] = {}
        if master is not None:
            pq = {PQ_RECIPIENT_FACT: pq_recipient(master, compressed),
                  "pq_object": f"{PQ_OBJECT:06x}"}
        else:
            prompts.notice(f"{label}: PIV object 5FC121 holds other data, so this key gets "
                           "classical (not post-quantum) envelopes")
        return Enrolled(
            kind=TokenKind.PIV,
            label=f"YubiKey {serial}, slot {int(slot):02X}",
            recipient=recipient,
            facts={
                "serial": serial,
                "slot": f"{int(slot):02x}",
                "version": str(session.version),
                "public_key": _b64(compressed),
                "touch_policy": touch_policy.value,
                "pin_policy": "once",
                **pq,
                **({ATTESTATION_FACT: attestation} if attestation is not None else {}),
            },
        )

    # -- unlock ----------------------------------------------------------------------

    def unlock(
        self,
        token: TokenInfo,
        envelope: bytes,
        challenge: bytes,
        prompts: Prompts,
        cancel: threading.Event,
    ) -> Unlocked:
        signature, share = self._on_card(token, challenge, envelope, prompts, cancel)
        return Unlocked(share=cast(bytearray, share), evidence=self._evidence(token, signature))

    def sign(
        self, token: TokenInfo, challenge: bytes, prompts: Prompts, cancel: threading.Event
    ) -> Evidence:
        """Sign ``challenge`` (a statement's hash) with the slot key: PIN, then touch."""
        signature, _ = self._on_card(token, challenge, None, prompts, cancel)
        return self._evidence(token, signature)

    @staticmethod
    def _evidence(token: TokenInfo, signature: bytes) -> Evidence:
        return Evidence(
            method=ApprovalMethod.PIV, token_id=token.id, algorithm=ALGORITHM, signature=signature
        )

    def _on_card(
        self,
        token: TokenInfo,
        challenge: bytes,
        envelope: bytes | None,
        prompts: Prompts,
        cancel: threading.Event,
    ) -> tuple[bytes, bytearray | None]:
        """Sign ``challenge`` with the slot key (PIN, then touch) and, given an
        ``envelope``, open it in the same session: the signature's touch comes first, so
        with touch policy CACHED the unwrap right after needs no second touch (with
        ALWAYS it asks again). Returns the signature and the share (or ``None``)."""
        compressed, slot, serial = self._stored(token, challenge, cancel)
        if envelope is not None:
            self._require_stanza(token, envelope, compressed)
        device = self._device_of(token, serial)
        label = token.label
        with piv_errors(label, cancel, touch=True):
            connection = device.open()
        try:
            with bind_cancel(connection, cancel), piv_errors(label, cancel, touch=True):
                session = PivSession(connection)
                self._require_slot_key(session, token, slot, compressed)
                self._verify_pin(session, label, prompts, cancel)
                signature = run_card_call(
                    lambda: session.sign(slot, KEY_TYPE.ECCP256, challenge, hashes.SHA256()),
                    label=label,
                    prompts=prompts,
                    cancel=cancel,
                )
                share = None if envelope is None else self._unwrap(
                    session, token, slot, compressed, envelope, label, prompts, cancel
                )
        finally:
            connection.close()
        return signature, share

    @staticmethod
    def _stored(token: TokenInfo, challenge: bytes,
                cancel: threading.Event) -> tuple[bytes, SLOT, int]:
        """The enrolled key (compressed), slot and serial; the challenge checked."""
        if len(challenge) != CHALLENGE_SIZE:
            raise ValueError("the challenge must be 32 bytes")
        check_cancel(cancel)
        try:
            public_key = _facts_public_key(token.facts)
            slot = _facts_slot(token.facts)
            serial = int(token.facts["serial"])
        except (KeyError, ValueError, TypeError):
            raise TokenError(f"The stored facts of {token.label} are damaged") from None
        return _compressed(public_key), slot, serial

    def _device_of(self, token: TokenInfo, serial: int) -> PivDevice:
        device = self.find_device(serial)
        if device is None:
            self.require_free(f"{token.custodian_name}'s YubiKey (serial {serial})")
            raise WrongToken(
                token.custodian_name, f"insert {token.custodian_name}'s YubiKey (serial {serial})"
            )
        return device

    @staticmethod
    def _require_stanza(token: TokenInfo, envelope: bytes, compressed: bytes) -> None:
        """Say "not this custodian's key" from the header alone, before PIN or touch."""
        tag = PivP256Recipient.from_public_key(compressed).tag
        encoded_tag = base64.b64encode(tag).decode("ascii").rstrip("=")
        never: Callable[[bytes], bytes] = lambda _epk: b""  # noqa: E731 (tags need no card)
        tagged = (P256TagIdentity(compressed, never),
                  MlKem768P256TagIdentity(compressed, never, lambda: _no_key()))
        for stanza in read_stanzas(envelope):
            if stanza.type == STANZA_TYPE and stanza.args[:1] == (encoded_tag,):
                return
            if any(identity.matches(stanza) for identity in tagged):
                return
        raise WrongToken(token.custodian_name)

    @staticmethod
    def _require_slot_key(
        session: PivSession, token: TokenInfo, slot: SLOT, compressed: bytes
    ) -> None:
        """The card is the custodian's only if the slot still holds the enrolled key."""
        try:
            if session.version >= (5, 3, 0):
                on_card = session.get_slot_metadata(slot).public_key
            else:
                on_card = session.get_certificate(slot).public_key()
        except ApduError as e:
            if e.sw in (SW.REFERENCE_DATA_NOT_FOUND, SW.FILE_NOT_FOUND):
                raise WrongToken(token.custodian_name, f"slot {int(slot):02X} is empty") from None
            raise
        if not isinstance(on_card, ec.EllipticCurvePublicKey) or _compressed(on_card) != compressed:
            raise WrongToken(token.custodian_name, f"slot {int(slot):02X} holds a different key")

    @staticmethod
    def _verify_pin(
        session: PivSession, label: str, prompts: Prompts, cancel: threading.Event
    ) -> None:
        attempts = session.get_pin_attempts()
        if attempts == 0:
            raise PinBlocked(PUK_HINT)
        pin = prompts.request_pin(label, attempts)
        if pin is None:
            raise UserCancelled()
        check_cancel(cancel)
        if len(pin.encode("utf-8")) > PIN_MAX_BYTES:
            raise TokenError("A PIV PIN is at most 8 characters; check the PIN and try again")
        session.verify_pin(pin)  # a wrong PIN becomes PinInvalid / PinBlocked in piv_errors

    @staticmethod
    def _unwrap(
        session: PivSession,
        token: TokenInfo,
        slot: SLOT,
        compressed: bytes,
        envelope: bytes,
        label: str,
        prompts: Prompts,
        cancel: threading.Event,
    ) -> bytearray:
        def ecdh(epk: bytes) -> bytes:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), epk)
            return run_card_call(
                lambda: session.calculate_secret(slot, peer),
                label=label,
                prompts=prompts,
                cancel=cancel,
            )

        def ml_key() -> mlkem.MLKEM768PrivateKey:
            # Read only for a hybrid stanza with this key's tag; the PIN is verified.
            return mlkem_key(read_master(session, label), compressed)

        identities: list[Identity] = [MlKem768P256TagIdentity(compressed, ecdh, ml_key),
                                      P256TagIdentity(compressed, ecdh),
                                      PivP256Identity(compressed, ecdh)]
        try:
            plaintext = decrypt(envelope, identities)
        except AgeNoMatch:
            raise WrongToken(token.custodian_name) from None
        return bytearray(plaintext)

    # -- evidence --------------------------------------------------------------------

    def verify(self, token: TokenInfo, challenge: bytes, evidence: Evidence) -> bool:
        """True when ``evidence`` is this token's ES256 signature over ``challenge``."""
        return verify_piv_evidence(token, challenge, evidence)


def verify_piv_evidence(token: TokenInfo, challenge: bytes, evidence: Evidence) -> bool:
    """PIV evidence checked against the slot's public key from enrolment; no device."""
    if evidence.method is not ApprovalMethod.PIV or evidence.algorithm != ALGORITHM:
        return False
    if evidence.token_id != token.id:
        return False
    try:
        public_key = _facts_public_key(token.facts)
        public_key.verify(evidence.signature, challenge, ec.ECDSA(hashes.SHA256()))
    except (ValueError, InvalidSignature):
        return False
    return True
