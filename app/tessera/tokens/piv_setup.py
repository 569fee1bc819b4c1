"""Making a YubiKey fit to hold a custodian's key: credentials, a free slot, a label.

A YubiKey with the factory PIN (123456) or the factory management key protects
nothing: anyone who picks it up can use or replace its keys. Tessera refuses to
enrol such a key and, with the custodian's consent, migrates it the way ykman does:
a PIN the custodian chooses, and a random management key stored in the key's
PIN-protected data object (``pivman_set_mgm_key(..., store_on_device=True)``), so
later administration needs only the PIN.

The new management key is 24-byte triple-DES on every firmware, never AES: other
tools that share the YubiKey must still be able to open it. age-plugin-yubikey (its
``yubikey`` crate) reads the PIN-protected management key only as a 24-byte TDES key,
so after an AES key it could no longer generate identities. A management key that is
already stored PIN-protected (by ykman, age-plugin-yubikey or an earlier enrolment) is
reused as it is, whatever its type. The management key guards only key generation and
certificate writes, never decryption, and this one is readable by anyone who knows the
PIN anyway; TDES's 112-bit strength is not what protects the shares.
"""

from __future__ import annotations

import datetime
import logging
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier
from ykman.piv import (
    derive_management_key,
    generate_random_management_key,
    get_pivman_data,
    get_pivman_protected_data,
    pivman_change_pin,
    pivman_set_mgm_key,
    sign_certificate_builder,
)
from yubikit.core import BadResponseError
from yubikit.core.smartcard import SW, ApduError
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

from tessera.core.errors import PinBlocked, PinRequired, UserCancelled
from tessera.tokens.base import Prompts
from tessera.tokens.piv_calls import check_cancel, run_card_call
from tessera.tokens.piv_errors import (
    PUK_HINT,
    ManagementKeyUnavailable,
    NoFreeSlot,
    PivNotSupported,
)

logger = logging.getLogger(__name__)

FACTORY_PIN = "123456"
PIN_MIN_BYTES = 6
PIN_MAX_BYTES = 8
NEW_PIN_TRIES = 3
RETIRED_SLOTS = tuple(SLOT(s) for s in range(SLOT.RETIRED1, SLOT.RETIRED20 + 1))
CERT_PREFIX = "Tessera: "
CN_MAX = 64  # ub-common-name, RFC 5280
# age-plugin-yubikey recognises "its" slots by the subject organisation and reads the PIN
# and touch policies from Yubico's attestation policy extension (two raw bytes). Tessera's
# certificates follow both conventions so `age-plugin-yubikey --identity` (without
# --slot) lists Tessera's slots; the common name still says whose key it is.
PLUGIN_ORGANIZATION = "age-plugin-yubikey"
TESSERA_UNIT = "Tessera"
POLICY_EXTENSION_OID = ObjectIdentifier("1.3.6.1.4.1.41482.3.8")
# A slot whose enrolment stopped after the key was generated is marked with this name, so
# the next enrolment may take it again: only Tessera writes it, and the key in it was
# never used for anything.
UNUSED_MARK = "Tessera: unused (enrolment stopped)"

DEFAULTS_NOTICE = (
    "{label} still uses a factory-default {what}. Anyone holding a YubiKey with "
    "factory settings could use or replace the keys on it, so Tessera only enrols it "
    "after this changes. Tessera will {actions}."
)
PUK_NOTICE = (
    "About the PUK: after 3 wrong PINs the PIN is blocked, and only the PUK (PIN "
    "Unblocking Key) can unblock it; after 3 wrong PUKs the PIV keys can only be wiped. "
    "{label}'s PUK is still the factory default — change it with "
    "'ykman piv access change-puk' and keep it somewhere safe, apart from the key."
)
PUK_CUSTOM_NOTICE = (
    "About the PUK: after 3 wrong PINs the PIN is blocked, and only the PUK (PIN "
    "Unblocking Key) of {label} can unblock it. Keep it somewhere safe, apart from the key."
)


def minimum_version_check(session: PivSession, label: str) -> None:
    """Enrolment reads slot and PIN metadata, which YubiKey firmware has from 5.3."""
    if session.version < (5, 3, 0):
        raise PivNotSupported(
            f"{label} has firmware {session.version}; enrolling needs YubiKey firmware 5.3 or later"
        )


def _valid_new_pin(pin: str) -> str | None:
    """Why ``pin`` cannot be a PIV PIN, or None when it can."""
    size = len(pin.encode("utf-8"))
    if not PIN_MIN_BYTES <= size <= PIN_MAX_BYTES:
        return "The PIN must be 6 to 8 characters (letters, digits or symbols)."
    if pin == FACTORY_PIN:
        return "That is the factory-default PIN; choose another."
    return None


def _ask_new_pin(prompts: Prompts, label: str) -> str:
    reason = (
        f"Choose a new PIN for {label} (6-8 characters). You will type it every time "
        "you use this key for Tessera."
    )
    for _ in range(NEW_PIN_TRIES):
        pin = prompts.request_new_pin(label, reason)
        if pin is None:
            raise PinRequired(
                f"Enrolment stopped: {label} still has the factory-default PIN, and Tessera "
                "does not enrol a key whose PIN anyone can guess."
            )
        problem = _valid_new_pin(pin)
        if problem is None:
            return pin
        reason = problem
    raise PinRequired(f"Enrolment stopped: no acceptable new PIN was chosen for {label}.")


def _ask_pin(session: PivSession, prompts: Prompts, label: str) -> str:
    attempts = session.get_pin_attempts()
    if attempts == 0:
        raise PinBlocked(PUK_HINT)
    pin = prompts.request_pin(label, attempts)
    if pin is None:
        raise UserCancelled()
    return pin


def unlock_for_enrolment(
    session: PivSession, label: str, prompts: Prompts, cancel: threading.Event
) -> None:
    """Leave ``session`` with the PIN verified and the management key authenticated.

    Factory-default credentials are replaced (with consent) before anything else.
    """
    pin_meta = session.get_pin_metadata()
    mgm_meta = session.get_management_key_metadata()
    puk_meta = session.get_puk_metadata()
    if pin_meta.attempts_remaining == 0:
        raise PinBlocked(PUK_HINT)

    what = [
        name
        for name, default in (
            ("PIN", pin_meta.default_value),
            ("management key", mgm_meta.default_value),
        )
        if default
    ]
    if what:
        actions = []
        if pin_meta.default_value:
            actions.append("ask you for a new PIN")
        if mgm_meta.default_value:
            actions.append(
                "set a random management key, stored on the YubiKey and protected by the PIN"
            )
        prompts.notice(
            DEFAULTS_NOTICE.format(
                label=label, what=" and ".join(what), actions=" and ".join(actions)
            )
        )

    if pin_meta.default_value:
        pin = _ask_new_pin(prompts, label)
        check_cancel(cancel)
        pivman_change_pin(session, FACTORY_PIN, pin)
    else:
        pin = _ask_pin(session, prompts, label)
        check_cancel(cancel)
    session.verify_pin(pin)

    if mgm_meta.default_value:
        session.authenticate(DEFAULT_MANAGEMENT_KEY)
        key_type = MANAGEMENT_KEY_TYPE.TDES  # what age-plugin-yubikey can read back (see above)
        new_key = generate_random_management_key(key_type)
        pivman_set_mgm_key(session, new_key, key_type, touch=False, store_on_device=True)
        session.authenticate(new_key)  # proves the new key is in place before going on
    else:
        _authenticate_custom(session, label, pin)

    prompts.notice(
        (PUK_NOTICE if puk_meta.default_value else PUK_CUSTOM_NOTICE).format(label=label)
    )


def _authenticate_custom(session: PivSession, label: str, pin: str) -> None:
    """Authenticate with a management key that ykman keeps behind the PIN."""
    pivman = get_pivman_data(session)
    if pivman.has_stored_key:
        key = get_pivman_protected_data(session).key
        if key is None:
            raise ManagementKeyUnavailable(label)
        session.authenticate(key)
    elif pivman.has_derived_key and pivman.salt is not None:
        session.authenticate(derive_management_key(pin, pivman.salt))
    else:
        raise ManagementKeyUnavailable(label)


def _slot_has_key(session: PivSession, slot: SLOT) -> bool:
    try:
        session.get_slot_metadata(slot)
    except ApduError as e:
        if e.sw == SW.REFERENCE_DATA_NOT_FOUND:
            return False
        raise
    return True


def _slot_has_certificate(session: PivSession, slot: SLOT) -> bool:
    try:
        session.get_object(OBJECT_ID.from_slot(slot))
    except ApduError as e:
        if e.sw == SW.FILE_NOT_FOUND:
            return False
        raise
    return True


def first_free_slot(session: PivSession, label: str) -> SLOT:
    """The first retired slot (82-95) with neither a key nor a certificate.

    Both are checked: a slot with a certificate but no key belongs to somebody's
    setup (or an imported key we cannot see), and Tessera never overwrites either —
    except a slot that Tessera itself marked unused after a stopped enrolment
    (:func:`release_failed_slot`), so a retry does not burn another slot.
    """
    for slot in RETIRED_SLOTS:
        if _slot_has_certificate(session, slot):
            if _marked_unused(session, slot):
                return slot
        elif not _slot_has_key(session, slot):
            return slot
    raise NoFreeSlot(label)


def _marked_unused(session: PivSession, slot: SLOT) -> bool:
    try:
        return is_unused_mark(session.get_certificate(slot))
    except (ApduError, BadResponseError, ValueError):  # unreadable: somebody else's data
        return False


def certificate_subject(custodian_name: str) -> x509.Name:
    common_name = (CERT_PREFIX + custodian_name)[:CN_MAX]
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, PLUGIN_ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, TESSERA_UNIT),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def policy_extension(pin_policy: PIN_POLICY, touch_policy: TOUCH_POLICY) -> x509.Extension[
    x509.UnrecognizedExtension
]:
    """Yubico's policy extension, as age-plugin-yubikey writes and reads it (2 raw bytes)."""
    value = x509.UnrecognizedExtension(
        POLICY_EXTENSION_OID, bytes([int(pin_policy), int(touch_policy)])
    )
    return x509.Extension(POLICY_EXTENSION_OID, False, value)


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(
        datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)
    )


def write_label_certificate(
    session: PivSession,
    slot: SLOT,
    public_key: ec.EllipticCurvePublicKey,
    custodian_name: str,
    *,
    pin_policy: PIN_POLICY,
    touch_policy: TOUCH_POLICY,
    label: str,
    prompts: Prompts,
    cancel: threading.Event,
) -> x509.Certificate:
    """Sign (on the card) and store a self-signed certificate naming the custodian.

    The certificate is only a label: it lets ykman, age-plugin-yubikey and Tessera
    recognise the slot later. It never expires (RFC 5280 §4.1.2.5 "99991231235959Z").
    """
    subject = certificate_subject(custodian_name)
    extension = policy_extension(pin_policy, touch_policy)
    builder = _validity(
        x509.CertificateBuilder()
        .public_key(public_key)
        .subject_name(subject)
        .issuer_name(subject)
        .serial_number(x509.random_serial_number())
        .add_extension(extension.value, critical=extension.critical)
    )
    certificate = run_card_call(
        lambda: sign_certificate_builder(session, slot, KEY_TYPE.ECCP256, builder),
        label=label,
        prompts=prompts,
        cancel=cancel,
    )
    session.put_certificate(slot, certificate)
    return certificate


def unused_mark_certificate(public_key: ec.EllipticCurvePublicKey) -> x509.Certificate:
    """A certificate saying "this slot's key was never used", signed without the card.

    It needs no touch (a throwaway software key signs it), so it can be written when the
    touch for the real certificate never came.
    """
    mark = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, UNUSED_MARK)])
    signer = ec.generate_private_key(ec.SECP256R1())
    builder = _validity(
        x509.CertificateBuilder()
        .public_key(public_key)
        .subject_name(mark)
        .issuer_name(mark)
        .serial_number(x509.random_serial_number())
    )
    return builder.sign(signer, hashes.SHA256())


def is_unused_mark(certificate: x509.Certificate) -> bool:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return len(names) == 1 and names[0].value == UNUSED_MARK


def release_failed_slot(
    session: PivSession, slot: SLOT, public_key: ec.EllipticCurvePublicKey
) -> None:
    """Undo a key generation whose enrolment did not finish (best effort).

    Firmware 5.7 can delete a key; older firmware cannot, so the slot gets the "unused"
    mark that :func:`first_free_slot` treats as free: a retry reuses the slot instead of
    burning another. If the key was pulled out, nothing can be done (and nothing is
    said: the enrolment error already tells the person what happened).
    """
    try:
        if session.version >= (5, 7, 0):
            session.delete_key(slot)
            logger.info("Deleted the key of a stopped enrolment from PIV slot %02X", slot)
            if _slot_has_certificate(session, slot):
                session.delete_certificate(slot)
        else:
            session.put_certificate(slot, unused_mark_certificate(public_key))
            logger.info("Marked PIV slot %02X unused after a stopped enrolment", slot)
    except Exception:  # the card is gone or refuses: the original error matters more
        logger.warning("Could not release PIV slot %02X after a stopped enrolment", slot)
