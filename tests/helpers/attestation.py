"""A workstation that trusts the demo attestation CA as a real root (tests only).

Virtual keys attest under Tessera's demo CA, which the shipped trust store gives to
demo vaults only. Tests that drive real (hardware-only) vaults with virtual keys stand
for a workstation whose ``$TESSERA_RESOURCES`` trust store adds that CA as an ordinary
root — exactly how an organisation would add another manufacturer's root — so the
attestation path is the real one end to end. The tests that prove the demo CA is
refused outside demo vaults use the shipped store.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tessera.core.attestation import DEMO_CA_FILE, resource_dir


def resources_trusting_demo_ca(where: Path) -> Path:
    """A resources folder like the shipped one, whose trust store has the demo CA as a root."""
    shipped = resource_dir()
    target = where / "resources-trusting-demo-ca"
    (target / "attestation").mkdir(parents=True, exist_ok=True)
    for pem in (shipped / "attestation").glob("*.pem"):
        name = "test-root-demo-ca.pem" if pem.name == DEMO_CA_FILE else pem.name
        shutil.copyfile(pem, target / "attestation" / name)
    for entry in shipped.iterdir():  # everything else as shipped (icons, Unicode data…)
        if entry.name != "attestation" and not (target / entry.name).exists():
            os.symlink(entry, target / entry.name)
    return target


def attested_fido2_facts() -> dict[str, object]:
    """Credential facts of a fresh virtual FIDO2 key with its packed attestation (demo CA)."""
    import base64
    import hashlib

    from fido2.ctap2 import Ctap2

    from tessera.core.attestation import ATTESTATION_FACT, packed_evidence
    from tessera.tokens.virtual.ctap import VirtualAuthenticator

    client_data_hash = hashlib.sha256(b"test enrolment").digest()
    made = Ctap2(VirtualAuthenticator()).make_credential(
        client_data_hash, {"id": "tessera-custody.invalid", "name": "Tessera"},
        {"id": b"u", "name": "u"}, [{"type": "public-key", "alg": -7}])
    credential = made.auth_data.credential_data
    assert credential is not None
    der = _cose_der(credential.public_key)
    return {
        "credential_public_key": base64.b64encode(der).decode("ascii"),
        ATTESTATION_FACT: packed_evidence([bytes(c) for c in made.att_stmt["x5c"]],
                                          bytes(made.auth_data), client_data_hash,
                                          bytes(made.att_stmt["sig"])),
    }


def _cose_der(cose: object) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b"\x04" + cose[-2] + cose[-3])  # type: ignore[index]
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


PIN = "31415926"


class PinPrompts:
    """A custodian at a virtual key who answers every PIN question with :data:`PIN`."""

    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        return PIN

    def request_new_pin(self, token: str, reason: str) -> str | None:
        return PIN

    def touch_needed(self, token: str) -> None: ...

    def touch_done(self, token: str) -> None: ...

    def notice(self, message: str) -> None: ...


def enrolled_virtual_yubikey(serial: int, name: str = "Bob"):  # type: ignore[no-untyped-def]
    """(card, Enrolled) of a fresh virtual YubiKey enrolled through the PIV driver."""
    import threading

    from tessera.tokens.piv import PivDriver
    from tessera.tokens.virtual.piv_card import VirtualPivCard
    from tessera.tokens.virtual.piv_device import VirtualYubiKey, virtual_listing
    from tessera.tokens.virtual.touch import TouchControl

    key = VirtualYubiKey(VirtualPivCard(serial=serial, touch=TouchControl("immediate"),
                                        touch_timeout=0.05))
    enrolled = PivDriver(devices=lambda: virtual_listing([key])).enroll(
        key.card, name, PinPrompts(), threading.Event())
    return key.card, enrolled


def ykman_attestation_pem(card, enrolled) -> bytes:  # type: ignore[no-untyped-def]
    """What a remote custodian sends: `ykman piv keys attest SLOT` and `ykman piv
    certificates export f9`, concatenated (PEM)."""
    from cryptography.hazmat.primitives.serialization import Encoding
    from yubikit.piv import SLOT, PivSession

    session = PivSession(card)
    slot = SLOT(int(enrolled.facts["slot"], 16))
    return (session.attest_key(slot).public_bytes(Encoding.PEM)
            + session.get_certificate(SLOT.ATTESTATION).public_bytes(Encoding.PEM))
