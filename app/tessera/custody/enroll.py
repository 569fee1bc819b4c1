"""Enrol tokens: on a device that is present, or remotely from a recipient string.

Each path ends in one vault write (token row + audit entry). A device that is already
enrolled (to anyone) is refused by the vault, so a key cannot silently count twice.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

from tessera.core import age
from tessera.core.attestation import ATTESTATION_FACT, piv_evidence, token_attestation
from tessera.core.errors import InputError, PolicyError, TokenError
from tessera.custody.drivers import TokenDrivers
from tessera.tokens import software
from tessera.tokens.base import Enrolled, Prompts, TokenInfo, TokenKind
from tessera.vault import Vault


@dataclass(frozen=True)
class ConnectedDevice:
    kind: TokenKind
    label: str
    ident: str
    virtual: bool


def connected_devices(drivers: TokenDrivers,
                      problems: list[str] | None = None) -> list[ConnectedDevice]:
    """The hardware tokens plugged in now (may block briefly: call off the GUI thread).

    Why a kind of key cannot be seen at all (pcscd not running, a key this user may not
    open) is added to ``problems`` when given, worded with the fix.
    """
    found: list[ConnectedDevice] = []
    try:
        from tessera.tokens.fido2 import hid_devices
        from tessera.tokens.virtual.hid import virtual_authenticator

        listing = drivers.fido2_devices or hid_devices
        for device in listing():
            name = str(getattr(device, "product_name", None) or "FIDO2 key")
            found.append(ConnectedDevice(TokenKind.FIDO2, name, str(id(device)),
                                         virtual_authenticator(device) is not None))
    except TokenError as e:
        if problems is not None:
            problems.append(str(e))
    except OSError:
        pass
    try:
        from tessera.tokens.piv import PivDriver

        piv = drivers.driver(TokenKind.PIV)
        if not isinstance(piv, PivDriver):
            return found
        cards = piv.list_devices()
        for card in cards:
            found.append(ConnectedDevice(TokenKind.PIV, card.label, str(card.serial),
                                         card.virtual))
        piv.require_free("its serial", cards)  # probes only readers the listing skipped
    except TokenError as e:
        if problems is not None:
            problems.append(str(e))
    except OSError:
        pass
    return found


def enroll_device(vault: Vault, drivers: TokenDrivers, custodian_id: str, kind: TokenKind,
                  prompts: Prompts, cancel: threading.Event, *, label: str | None = None,
                  actor: str, device: Any = None, piv_touch: str | None = None) -> TokenInfo:
    """Enrol a token that is present: PIN set-up where needed, touch, store public facts.

    ``piv_touch`` ("cached", the default, or "always") is a YubiKey PIV key's touch
    policy (docs/TOKENS.md, "One touch per release")."""
    person = vault.get_custodian(custodian_id)
    policy = vault.policy
    if kind.value not in policy.allowed_kinds:
        raise PolicyError(f"{kind.display_name} tokens are not allowed by this vault's policy")
    enrolled: Enrolled
    if kind is TokenKind.SOFTWARE:
        if policy.hardware_only and not vault.is_demo:
            prompts.notice("This vault is hardware-only by default: a software key can only "
                           "hold shares of records created with --allow-software.")
        enrolled = software.enroll(person.name, drivers.software_store, prompts)
    elif kind is TokenKind.FIDO2:
        from tessera.tokens.fido2 import Fido2Driver

        fido = drivers.driver(kind)
        if not isinstance(fido, Fido2Driver):
            raise TokenError("the FIDO2 driver is not available")
        enrolled = fido.enroll(device, person.name, prompts, cancel)
    elif kind is TokenKind.PIV:
        from tessera.tokens.piv import PivDriver, TouchPolicy

        piv = drivers.driver(kind)
        if not isinstance(piv, PivDriver):
            raise TokenError("the PIV driver is not available")
        touch = TouchPolicy(piv_touch) if piv_touch else TouchPolicy.CACHED
        card = device
        if card is None:
            cards = piv.list_devices()
            if not cards:
                piv.require_free("the YubiKey to enrol")
                raise TokenError("no YubiKey is plugged in")
            if len(cards) > 1:
                raise TokenError("several YubiKeys are plugged in; leave only the one to enrol")
            card = cards[0]
        connection = card.open()
        try:
            enrolled = piv.enroll(connection, person.name, prompts, cancel, touch_policy=touch)
        finally:
            connection.close()
    else:
        raise InputError(f"cannot enrol {kind} tokens")
    default = enrolled.label if enrolled.label.startswith(person.name) else \
        f"{person.name}'s {enrolled.label}"
    facts = with_verdict(enrolled.kind, dict(enrolled.facts), demo_vault=vault.is_demo)
    if enrolled.kind.is_hardware and ATTESTATION_FACT not in facts:
        prompts.notice(f"{enrolled.label} gave no attestation: it is enrolled, but counts as "
                       "a software key for hardware-only records (docs/TOKENS.md).")
    label = label or default
    if vault.genesis_fingerprint() is None:
        return vault.add_token(person.id, enrolled.kind, label, enrolled.recipient,
                               facts, actor=actor)
    # The enrolment chain: the new token signs its own enrolment (its recipients and
    # facts), beside the operator's countersignature from the caller's signed_by.
    from tessera.custody.signing import TokenSigner

    new_id = str(uuid.uuid4())
    info = TokenInfo(id=new_id, custodian_id=person.id, custodian_name=person.name,
                     kind=enrolled.kind, label=label, recipient=enrolled.recipient,
                     facts=facts)
    with vault.signed_by(TokenSigner(drivers, info, prompts, cancel)):
        return vault.add_token(person.id, enrolled.kind, label, enrolled.recipient,
                               facts, actor=actor, token_id=new_id)


class AttestationRefused(PolicyError):
    """A token's attestation evidence was given but does not verify: refused, not demoted."""

    def __init__(self, what: str, problem: str) -> None:
        self.problem = problem
        super().__init__(f"{what} is refused: its attestation does not verify ({problem}). "
                         "Nothing was enrolled.")


def with_verdict(kind: TokenKind, facts: dict[str, Any], *, demo_vault: bool,
                 what: str = "this key") -> dict[str, Any]:
    """``facts`` with the attestation's verdict recorded, after checking it now.

    Evidence that does not verify is refused (a forged or foreign chain, a virtual key's
    demo attestation outside a demo vault); no evidence at all is allowed and leaves
    the token unproven, which policy counts as software.
    """
    evidence = facts.get(ATTESTATION_FACT)
    if evidence is None:
        return facts
    result = token_attestation(kind.value, facts, demo_vault=demo_vault)
    if not result.proven:
        raise AttestationRefused(what, result.problem)
    checked = dict(evidence) if isinstance(evidence, dict) else {}
    return {**facts, ATTESTATION_FACT: {**checked, "verdict": result.verdict,
                                        "root": result.root}}


def enroll_remote(vault: Vault, custodian_id: str, recipient: str, *, label: str | None = None,
                  actor: str, attestation: bytes | None = None) -> TokenInfo:
    """Enrol from a recipient the custodian sent; wrapping needs no token present.

    ``age1yubikey1…`` (age-plugin-yubikey) and ``age1tag1…`` (the age spec's p256tag
    encoding of the same kind of P-256 key) are YubiKey PIV keys; ``age1tagpq1…`` a
    hybrid hardware key (ML-KEM-768 + P-256). A plain ``age1…`` X25519 recipient or an
    ``age1pq1…`` post-quantum hybrid could be anything (a FIDO2-derived key, age-keygen,
    a file on a laptop), so it is recorded as a remote *software* key: hardware-only
    records refuse it unless allowed. An ``age1pq1…`` key gets hybrid envelopes only.
    """
    person = vault.get_custodian(custodian_id)
    text = recipient.strip()
    try:
        parsed = age.parse_recipient(text)
    except age.AgeError as exc:
        raise InputError(f"not a valid recipient: {exc}") from None
    canonical = parsed.to_string()  # type: ignore[attr-defined]
    if canonical != text:
        raise InputError("the recipient is not in canonical form (check its letter case)")
    if isinstance(parsed, age.PivP256Recipient | age.P256TagRecipient):
        kind = TokenKind.PIV
        facts: dict[str, Any] = {"public_key": _b64(parsed.public_key)}
        default = f"{person.name}'s YubiKey (remote)"
    elif isinstance(parsed, age.MlKem768P256TagRecipient):
        kind = TokenKind.PIV
        facts = {"public_key": _b64(parsed.public_key[-65:])}
        default = f"{person.name}'s post-quantum hardware key (remote)"
    elif isinstance(parsed, age.X25519Recipient | age.MlKem768X25519Recipient):
        kind = TokenKind.SOFTWARE
        facts = {"store": "remote"}
        pq = isinstance(parsed, age.MlKem768X25519Recipient)
        default = f"{person.name}'s {'post-quantum ' if pq else ''}age key (remote)"
    else:
        raise InputError("only age1pq1…, age1…, age1yubikey1…, age1tag1… and age1tagpq1… "
                         "recipients can be enrolled")
    if attestation is not None:
        if kind is not TokenKind.PIV:
            raise InputError("only a YubiKey PIV recipient can come with a PIV attestation")
        facts[ATTESTATION_FACT] = piv_evidence(_attestation_chain(attestation))
    # Without attestation a remote YubiKey recipient is only a P-256 key that anyone can
    # make in software: it is enrolled, but counts as software for policy.
    facts = with_verdict(kind, facts, demo_vault=vault.is_demo,
                         what=f"{person.name}'s remote key")
    return vault.add_token(person.id, kind, label or default, canonical, facts, actor=actor,
                           remote=True)


def _attestation_chain(data: bytes) -> list[bytes]:
    """[slot certificate, F9 certificate] (DER) from what a custodian sends: the two PEM
    certificates ``ykman piv keys attest`` and ``ykman piv certificates export f9`` write,
    in one file, in either order (the slot certificate is the one the F9 one signed)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise InputError("the attestation file must hold two PEM certificates: the slot's "
                         "attestation certificate and the key's F9 certificate") from None
    if len(certs) != 2:
        raise InputError(f"the attestation file holds {len(certs)} certificates; it must hold "
                         "two: the slot's attestation certificate and the F9 certificate")
    first, second = certs
    slot, f9 = (second, first) if first.subject == second.issuer else (first, second)
    return [slot.public_bytes(Encoding.DER), f9.public_bytes(Encoding.DER)]


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")
