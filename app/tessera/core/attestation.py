"""Hardware is proven, not claimed: PIV and FIDO2 attestation checked against a trust store.

A YubiKey proves that a PIV key was generated on the card with ATTEST (INS 0xF9): the
card returns a certificate for the slot's public key signed by its per-device
attestation key, whose certificate sits in slot F9 and is signed by Yubico
(``Yubico PIV Root CA Serial 263751``; on firmware 5.7.4 and later through Yubico's
PIV attestation intermediates to ``Yubico Attestation Root 1``). The roots live in
``resources/attestation/`` with their origin (resources/attestation/README.md).

The virtual PIV card attests the same way under the **demo** attestation CA, whose
certificate is in the trust store too but is trusted only by demo vaults: a chain that
ends at the demo CA proves nothing about hardware, so a real vault refuses it.

A FIDO2 key proves its credential with a *packed* attestation statement: a signature
over the authenticator data and the client data hash by an attestation key whose
certificate (``x5c``) chains to the manufacturer's root (Yubico's FIDO keys:
``Yubico U2F Root CA Serial 457200631``). The virtual FIDO2 key attests under the same
demo CA as the virtual PIV card.

The evidence travels with the token as a plain dict (``facts["attestation"]``):
``{"format": "piv", "chain": [base64 DER slot cert, base64 DER F9 cert], "verdict": …}``
or ``{"format": "packed", "chain": [base64 DER x5c…], "auth_data": …, "sig": …,
"client_data_hash": …, "verdict": …}``. The verdict is informative only: every use
re-verifies the chain (a vault file edited to say "verified" proves nothing).
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tessera.core.resources import resource_dir

ATTESTATION_FACT = "attestation"
FORMAT_PIV = "piv"
FORMAT_PACKED = "packed"
OID_FIDO_AAGUID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
VERDICT_VERIFIED = "verified"
VERDICT_DEMO = "demo"
DEMO_CA_FILE = "tessera-demo-attestation-ca.pem"
# Yubico's attestation extensions (developers.yubico.com/PIV/Introduction/PIV_attestation.html).
OID_FIRMWARE = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.3")
OID_SERIAL = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.7")
OID_POLICY = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.8")
_MAX_CERT = 4096
_MAX_DEPTH = 4


@dataclass(frozen=True)
class TrustStore:
    """Attestation roots and intermediates; the demo CA is kept apart."""

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]
    demo_root: x509.Certificate | None

    @classmethod
    def load(cls, directory: Path | None = None) -> TrustStore:
        return _load_store(directory or resource_dir() / "attestation")


@cache
def _load_store(directory: Path) -> TrustStore:
    roots: list[x509.Certificate] = []
    intermediates: list[x509.Certificate] = []
    demo: x509.Certificate | None = None
    for path in sorted(directory.glob("*.pem")):
        for cert in x509.load_pem_x509_certificates(path.read_bytes()):
            if path.name == DEMO_CA_FILE:
                demo = cert
            elif cert.subject == cert.issuer:
                roots.append(cert)
            else:
                intermediates.append(cert)
    return TrustStore(tuple(roots), tuple(intermediates), demo)


@dataclass(frozen=True)
class AttestationResult:
    """What an attestation proved: ``proven`` hardware, or the ``problem`` why not."""

    proven: bool
    verdict: str  # "verified", "demo" or a short reason it failed
    problem: str = ""
    serial: int | None = None
    root: str = ""

    def describe(self) -> str:
        """One line for a list: "proven (Yubico PIV Root CA Serial 263751)" or why not."""
        if self.proven:
            return f"proven hardware ({self.root})" if self.verdict == VERDICT_VERIFIED \
                else "demo attestation (virtual key)"
        return f"not proven: {self.problem}"


def _refused(problem: str) -> AttestationResult:
    return AttestationResult(False, "refused", problem)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _anchor(cert: x509.Certificate, roots: Iterable[x509.Certificate],
            intermediates: Sequence[x509.Certificate], depth: int = 0) -> x509.Certificate | None:
    """The root ``cert`` chains to (through known intermediates), or None."""
    for root in roots:
        if _issued_by(cert, root):
            return root
    if depth >= _MAX_DEPTH:
        return None
    for middle in intermediates:
        if middle != cert and _issued_by(cert, middle):
            found = _anchor(middle, roots, intermediates, depth + 1)
            if found is not None:
                return found
    return None


def _chain_to_root(issuer_cert: x509.Certificate, extra: Sequence[x509.Certificate], *,
                   demo_vault: bool, store: TrustStore, serial: int | None = None
                   ) -> AttestationResult:
    """Where ``issuer_cert`` chains to: a trusted root, the demo CA (demo vaults), or not."""
    root = _anchor(issuer_cert, store.roots, (*extra, *store.intermediates))
    verdict = VERDICT_VERIFIED
    if root is None and store.demo_root is not None and \
            _anchor(issuer_cert, (store.demo_root,), extra) is not None:
        if not demo_vault:
            return _refused("the attestation is signed by Tessera's demo CA (a virtual "
                            "key), which only demo vaults trust")
        root, verdict = store.demo_root, VERDICT_DEMO
    if root is None:
        return _refused("the attestation does not chain to a trusted root (not a genuine "
                        "hardware key, or an unknown manufacturer CA)")
    name = root.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return AttestationResult(True, verdict, "", serial,
                             str(name[0].value) if name else root.subject.rfc4514_string())


def verify_piv(chain: Sequence[bytes], public_key: bytes, *, demo_vault: bool,
               store: TrustStore | None = None) -> AttestationResult:
    """Check a PIV attestation: ``chain`` = [slot attestation cert, F9 cert] (DER).

    The slot certificate must be for ``public_key`` (the uncompressed P-256 point the
    token is enrolled with), signed by the F9 certificate, which must chain to a
    trusted root; the demo CA counts only when ``demo_vault``.
    """
    store = store or TrustStore.load()
    if len(chain) != 2 or any(not isinstance(c, bytes) or len(c) > _MAX_CERT for c in chain):
        return _refused("the attestation must be two certificates: the slot's and the F9 one")
    try:
        slot_cert = x509.load_der_x509_certificate(chain[0])
        f9_cert = x509.load_der_x509_certificate(chain[1])
        slot_key = slot_cert.public_key()
    except ValueError:
        return _refused("an attestation certificate cannot be read")
    if not isinstance(slot_key, ec.EllipticCurvePublicKey) or slot_key.public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint) != public_key:
        return _refused("the attestation is for another key than the one enrolled")
    if not _issued_by(slot_cert, f9_cert):
        return _refused("the slot certificate is not signed by the card's attestation "
                        "(F9) certificate")
    serial = None
    try:
        ext = slot_cert.extensions.get_extension_for_oid(OID_SERIAL).value
        raw = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
        if len(raw) >= 3 and raw[0] == 0x02 and raw[1] == len(raw) - 2:
            serial = int.from_bytes(raw[2:], "big")
    except x509.ExtensionNotFound:
        pass
    return _chain_to_root(f9_cert, (), demo_vault=demo_vault, store=store, serial=serial)


def verify_packed(chain: Sequence[bytes], auth_data: bytes, client_data_hash: bytes,
                  signature: bytes, public_key: bytes, *, demo_vault: bool,
                  store: TrustStore | None = None) -> AttestationResult:
    """Check a FIDO2 *packed* attestation with an ``x5c`` chain (WebAuthn §8.2).

    The signature over ``auth_data ‖ client_data_hash`` must verify with the first
    certificate's key; the attested credential in ``auth_data`` must be
    ``public_key`` (uncompressed P-256 point); the AAGUID in the certificate (when
    present) must match the one in ``auth_data``; the chain must reach a trusted root.
    """
    from fido2.cose import CoseKey
    from fido2.webauthn import AuthenticatorData

    store = store or TrustStore.load()
    if not 1 <= len(chain) <= _MAX_DEPTH or any(
            not isinstance(c, bytes) or len(c) > _MAX_CERT for c in chain):
        return _refused("the attestation statement has no usable certificate chain (x5c)")
    try:
        certs = [x509.load_der_x509_certificate(c) for c in chain]
        parsed = AuthenticatorData(auth_data)
        credential = parsed.credential_data
        if credential is None:
            return _refused("the attestation covers no credential")
        cose = CoseKey.parse(dict(credential.public_key))
        attested = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b"\x04" + cose[-2] + cose[-3])
    except (ValueError, KeyError, TypeError, IndexError):
        return _refused("the attestation statement cannot be read")
    if attested.public_bytes(serialization.Encoding.X962,
                             serialization.PublicFormat.UncompressedPoint) != public_key:
        return _refused("the attestation is for another credential than the one enrolled")
    leaf_key = certs[0].public_key()
    if not isinstance(leaf_key, ec.EllipticCurvePublicKey):
        return _refused("the attestation certificate's key is not an EC key")
    try:
        leaf_key.verify(signature, auth_data + client_data_hash, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return _refused("the attestation signature does not verify")
    try:
        ext = certs[0].extensions.get_extension_for_oid(OID_FIDO_AAGUID).value
        raw = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
        if raw[2:] != bytes(credential.aaguid) or raw[:2] != b"\x04\x10":
            return _refused("the attestation certificate is for another key model (AAGUID)")
    except x509.ExtensionNotFound:
        pass
    for child, parent in itertools.pairwise(certs):
        if not _issued_by(child, parent):
            return _refused("the attestation chain (x5c) is not a chain")
    return _chain_to_root(certs[-1], certs[1:], demo_vault=demo_vault, store=store)


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not text")
    return base64.b64decode(value, validate=True)


def verify_evidence(evidence: Any, public_key: bytes, *, demo_vault: bool,
                    store: TrustStore | None = None) -> AttestationResult:
    """Check stored or imported evidence (the facts dict); bad form is refused."""
    if evidence is None:
        return AttestationResult(False, "none", "no attestation was given")
    if not isinstance(evidence, dict) or evidence.get("format") not in (FORMAT_PIV,
                                                                        FORMAT_PACKED):
        return _refused("the attestation evidence has an unknown form")
    chain = evidence.get("chain")
    if not isinstance(chain, list) or len(chain) > _MAX_DEPTH:
        return _refused("the attestation evidence has an unknown form")
    try:
        der = [_unb64(c) for c in chain]
        if evidence["format"] == FORMAT_PIV:
            return verify_piv(der, public_key, demo_vault=demo_vault, store=store)
        return verify_packed(der, _unb64(evidence.get("auth_data")),
                             _unb64(evidence.get("client_data_hash")),
                             _unb64(evidence.get("sig")), public_key,
                             demo_vault=demo_vault, store=store)
    except ValueError:
        return _refused("the attestation evidence is not base64")


def piv_evidence(chain: Sequence[bytes]) -> dict[str, Any]:
    """Evidence of a PIV attestation: [slot certificate, F9 certificate] (DER)."""
    return {"format": FORMAT_PIV, "chain": [_b64(c) for c in chain]}


def packed_evidence(chain: Sequence[bytes], auth_data: bytes, client_data_hash: bytes,
                    signature: bytes) -> dict[str, Any]:
    """Evidence of a FIDO2 packed attestation (the parts a verifier needs)."""
    return {"format": FORMAT_PACKED, "chain": [_b64(c) for c in chain],
            "auth_data": _b64(auth_data), "client_data_hash": _b64(client_data_hash),
            "sig": _b64(signature)}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def enrolled_key(kind: str, facts: Mapping[str, Any]) -> bytes | None:
    """The uncompressed P-256 point an attestation of this token must cover, if known."""
    try:
        if kind == "piv":
            raw = base64.b64decode(str(facts["public_key"]), validate=True)
        elif kind == "fido2":
            der = base64.b64decode(str(facts["credential_public_key"]), validate=True)
            loaded = serialization.load_der_public_key(der)
            if not isinstance(loaded, ec.EllipticCurvePublicKey):
                return None
            return loaded.public_bytes(serialization.Encoding.X962,
                                       serialization.PublicFormat.UncompressedPoint)
        else:
            return None
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except (KeyError, ValueError, TypeError):
        return None
    return point.public_bytes(serialization.Encoding.X962,
                              serialization.PublicFormat.UncompressedPoint)


def token_attestation(kind: str, facts: Mapping[str, Any], *, demo_vault: bool,
                      store: TrustStore | None = None) -> AttestationResult:
    """Whether a token of ``kind`` with ``facts`` is proven hardware (re-verified now)."""
    if kind not in ("piv", "fido2"):
        return AttestationResult(False, "software", "a software key")
    evidence = facts.get(ATTESTATION_FACT)
    if evidence is None:
        return AttestationResult(False, "none", "no attestation was given")
    key = enrolled_key(kind, facts)
    if key is None:
        return _refused("the token's public key is not known, so nothing can be attested")
    # The store is part of the cache key: a result is never reused under other roots.
    return _cached(canonical_text(evidence), key, demo_vault, store or TrustStore.load())


def canonical_text(value: Any) -> str:
    import json

    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return "null"


@lru_cache(maxsize=1024)
def _cached(evidence_text: str, key: bytes, demo_vault: bool,
            store: TrustStore) -> AttestationResult:
    import json

    return verify_evidence(json.loads(evidence_text), key, demo_vault=demo_vault, store=store)


def counts_as_hardware(kind: str, facts: Mapping[str, Any], *, demo_vault: bool) -> bool:
    """For policy: a FIDO2 or PIV token whose attestation verifies; anything else is
    software (a claimed kind proves nothing)."""
    return token_attestation(kind, facts, demo_vault=demo_vault).proven
