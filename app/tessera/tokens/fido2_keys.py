"""The FIDO2 token's stored facts and the age keys Tessera derives from its PRF output.

X25519 private key = HKDF-SHA256(ikm = PRF output, salt = credential id,
info = "tessera/fido2-x25519/v1", 32 bytes) (DESIGN.md §5). Binding the credential id
in the salt means two credentials that happened to share a salt still give unrelated keys.

The post-quantum hybrid identity's seed (mlkem768x25519, ``AGE-SECRET-KEY-PQ-1…``) =
HKDF-SHA256(ikm = PRF output, salt = credential id, info = "tessera/fido2-mlkem768x25519/v1",
32 bytes): a different info string, so the two keys are independent, and the same
PRF evaluation (one touch) yields both. Nothing but the key, its PIN and a touch
gives the PRF output, so the hybrid share still needs all three.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fido2.cose import ES256, CoseKey

from tessera.core.age import Identity, MlKem768X25519Identity, X25519Identity
from tessera.core.errors import FormatError

RP_ID = "tessera-custody.invalid"
ORIGIN = "https://tessera-custody.invalid"
RP_NAME = "Tessera custody"
KDF_INFO = b"tessera/fido2-x25519/v1"
PQ_KDF_INFO = b"tessera/fido2-mlkem768x25519/v1"
PRF_SALT_LEN = 32
CHALLENGE_LEN = 32


def b64url(data: bytes) -> str:
    """Unpadded base64url, the WebAuthn convention for credential ids."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    """Strict inverse of :func:`b64url`; raises ``ValueError`` on anything else."""
    if not isinstance(text, str) or "=" in text:
        raise ValueError("not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise ValueError("not base64url") from None
    if b64url(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def from_b64(text: str) -> bytes:
    """Strict standard base64 (padding required)."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("not base64") from None


def derive_x25519_private(prf_output: bytes, credential_id: bytes) -> bytes:
    """The 32-byte X25519 private key for one credential's PRF output."""
    if len(prf_output) != 32:
        raise ValueError("a PRF output is 32 bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=credential_id, info=KDF_INFO)
    return hkdf.derive(prf_output)


def derive_identity(prf_output: bytes, credential_id: bytes) -> X25519Identity:
    """The age identity that opens shares wrapped to this FIDO2 token's recipient."""
    return X25519Identity.from_private_bytes(derive_x25519_private(prf_output, credential_id))


def derive_hybrid_identity(prf_output: bytes, credential_id: bytes) -> MlKem768X25519Identity:
    """The post-quantum hybrid identity that opens hybrid envelopes of this FIDO2 token."""
    if len(prf_output) != 32:
        raise ValueError("a PRF output is 32 bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=credential_id, info=PQ_KDF_INFO)
    return MlKem768X25519Identity(hkdf.derive(prf_output))


def derive_identities(prf_output: bytes, credential_id: bytes) -> list[Identity]:
    """Both identities of the token: hybrid first, then X25519."""
    return [derive_hybrid_identity(prf_output, credential_id),
            derive_identity(prf_output, credential_id)]


def cose_to_public_key(cose: CoseKey) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from the ES256 COSE key of a new credential."""
    if not isinstance(cose, ES256) or cose.get(3) != ES256.ALGORITHM or cose.get(-1) != 1:
        raise ValueError("the credential is not an ES256 key")
    x, y = cose.get(-2), cose.get(-3)
    if not isinstance(x, bytes) or not isinstance(y, bytes) or len(x) != 32 or len(y) != 32:
        raise ValueError("malformed ES256 key")
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
    )
    return numbers.public_key()


def public_key_der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class Fido2Facts:
    """What the vault keeps about an enrolled FIDO2 credential (public data only)."""

    credential_id: bytes
    prf_salt: bytes
    public_key: ec.EllipticCurvePublicKey
    aaguid: str
    rp_id: str = RP_ID
    device_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "credential_id": b64url(self.credential_id),
            "prf_salt": b64url(self.prf_salt),
            "credential_public_key": b64(public_key_der(self.public_key)),
            "credential_algorithm": "ES256",
            "aaguid": self.aaguid,
            "rp_id": self.rp_id,
            "device_name": self.device_name,
            "kdf": KDF_INFO.decode("ascii"),
            "pq_kdf": PQ_KDF_INFO.decode("ascii"),
        }

    @classmethod
    def from_json(cls, facts: Mapping[str, Any]) -> Fido2Facts:
        """Strictly parse stored facts; :class:`FormatError` names the bad field."""
        field = "credential_id"
        try:
            credential_id = from_b64url(facts["credential_id"])
            field = "prf_salt"
            prf_salt = from_b64url(facts["prf_salt"])
            if len(prf_salt) != PRF_SALT_LEN:
                raise ValueError("wrong length")
            field = "credential_public_key"
            if facts.get("credential_algorithm", "ES256") != "ES256":
                raise ValueError("unsupported algorithm")
            key = serialization.load_der_public_key(from_b64(facts["credential_public_key"]))
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
                key.curve, ec.SECP256R1
            ):
                raise ValueError("not a P-256 key")
            field = "rp_id"
            rp_id = facts.get("rp_id", RP_ID)
            if rp_id != RP_ID:
                raise ValueError("unexpected RP id")
            field = "aaguid"
            aaguid = facts.get("aaguid", "")
            if not isinstance(aaguid, str):
                raise ValueError("not text")
            device_name = facts.get("device_name")
        except (KeyError, ValueError, TypeError) as e:
            raise FormatError(f"FIDO2 token facts: bad {field} ({e})") from None
        if not credential_id:
            raise FormatError("FIDO2 token facts: empty credential_id")
        return cls(
            credential_id=credential_id,
            prf_salt=prf_salt,
            public_key=key,
            aaguid=aaguid,
            rp_id=rp_id,
            device_name=device_name if isinstance(device_name, str) else None,
        )
