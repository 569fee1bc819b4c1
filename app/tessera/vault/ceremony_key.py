"""Ceremony keys: one operator touch per quorum ceremony (FORMAT §7.1, TOKENS.md).

A quorum ceremony writes several statements (the request, each approval, the
completion). The request is signed by the operator's token as every write is; it also
authorises a fresh in-memory Ed25519 key for that one release (the body's ``ceremony``
field). The ceremony's later writes are signed by that key alone, so the operator
touches once. Replay accepts such a statement only inside the release's scope and
checks every token approval it records against the release's request itself
(:func:`tessera.vault.statements.check_ceremony_statement`), so holding the key adds
nothing a custodian's token has to prove.

The private key lives only in this process: 32 bytes in a ``bytearray`` that
:meth:`CeremonyKey.wipe` zeroes when the ceremony finishes or aborts; it is never
written anywhere.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tessera.core.errors import PolicyError

PREFIX = "ceremony:"
METHOD = "ceremony"
ALGORITHM = "Ed25519"


def signer_id(release_id: str) -> str:
    """The name a ceremony key signs under in a statement's ``signers`` list."""
    return PREFIX + release_id


def release_of(signer: str) -> str | None:
    """The release a ``signers`` entry's ceremony key is scoped to (None: a token)."""
    return signer[len(PREFIX):] if signer.startswith(PREFIX) else None


class CeremonyKey:
    """The ceremony's own statement signer (a :class:`StatementSigner`)."""

    def __init__(self, release_id: str) -> None:
        self.release_id = release_id
        self.token_id = signer_id(release_id)
        key = Ed25519PrivateKey.generate()
        self.public_hex = key.public_key().public_bytes_raw().hex()
        self._seed = bytearray(key.private_bytes_raw())
        del key

    @property
    def wiped(self) -> bool:
        return not self._seed

    def grant(self) -> dict[str, str]:
        """The request statement's ``ceremony`` field that authorises this key."""
        return {"release": self.release_id, "key": self.public_hex}

    def sign(self, challenge: bytes) -> Mapping[str, Any]:
        if self.wiped:
            raise PolicyError(f"the quorum {self.release_id} is over; its ceremony key is gone")
        key = Ed25519PrivateKey.from_private_bytes(bytes(self._seed))
        signature = key.sign(challenge)
        del key
        return {"method": METHOD, "token_id": None, "algorithm": ALGORITHM,
                "signature": base64.b64encode(signature).decode("ascii"),
                "data": {"release": self.release_id}}

    def wipe(self) -> None:
        """Zero and drop the private key: nothing signs for this ceremony any more."""
        for i in range(len(self._seed)):
            self._seed[i] = 0
        self._seed = bytearray()


def verifies(public_hex: str, challenge: bytes, evidence: Mapping[str, Any]) -> bool:
    """Does ``evidence`` carry the ceremony key's signature of ``challenge``?"""
    if set(evidence) != {"method", "token_id", "algorithm", "signature", "data"} or (
            evidence.get("method"), evidence.get("algorithm"), evidence.get("token_id")
    ) != (METHOD, ALGORITHM, None) or not isinstance(evidence.get("signature"), str):
        return False
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
        public.verify(base64.b64decode(evidence["signature"], validate=True), challenge)
    except (ValueError, binascii.Error, InvalidSignature):
        return False
    return True
