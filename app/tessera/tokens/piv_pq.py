"""The ML-KEM half of a YubiKey PIV custodian's post-quantum identity.

A PIV slot holds a P-256 key and cannot do ML-KEM. Tessera keeps the ML-KEM-768 key
on the same YubiKey instead: a random 32-byte master secret in the PIV data object
0x5FC121 ("Cardholder Iris Images"), which the YubiKey — like the virtual card —
returns only after the PIN was verified. Each slot's ML-KEM-768 seed is derived from
it: HKDF-SHA256(ikm = master, salt = the slot's compressed P-256 key,
info = "tessera/piv-mlkem768/v1", 64 bytes). The token's post-quantum recipient is the
age ``mlkem768p256tag`` recipient (``age1tagpq1…``) of that ML-KEM key and the slot key.

So a copy of the vault or an export alone never opens the envelope, not even with a
quantum computer: the ML-KEM key needs the card and its PIN, the P-256 half the card,
PIN and touch. See docs/TOKENS.md for what this does not protect against.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from yubikit.core.smartcard import SW, ApduError
from yubikit.piv import PivSession

from tessera.core.age import MlKem768P256TagRecipient
from tessera.core.errors import TokenError

PQ_OBJECT = 0x5FC121  # PIN-protected for reading on a YubiKey (SP 800-73 access rule)
_MAGIC = b"tessera-pq1:"  # our content, so an object someone else filled is left alone
_MASTER_SIZE = 32
_INFO = b"tessera/piv-mlkem768/v1"


def _read(session: PivSession) -> bytes | None:
    try:
        return bytes(session.get_object(PQ_OBJECT))
    except ApduError as e:
        if e.sw in (SW.FILE_NOT_FOUND, SW.REFERENCE_DATA_NOT_FOUND):
            return None
        raise


def _master_of(data: bytes | None) -> bytes | None:
    if data is None or not data.startswith(_MAGIC) or len(data) != len(_MAGIC) + _MASTER_SIZE:
        return None
    return data[len(_MAGIC):]


def master_for_enrolment(session: PivSession,
                         rng: Callable[[int], bytes] = os.urandom) -> bytes | None:
    """The card's master secret, created if the object is empty (PIN and management key
    must be verified). None when the object holds data that is not Tessera's: then the
    slot stays classical rather than overwrite it."""
    data = _read(session)
    if data is None:
        master = rng(_MASTER_SIZE)
        if len(master) != _MASTER_SIZE:
            raise ValueError("the random source returned the wrong number of bytes")
        session.put_object(PQ_OBJECT, _MAGIC + master)
        return master
    return _master_of(data)


def read_master(session: PivSession, label: str) -> bytes:
    """The master secret of an enrolled card (the PIN must be verified)."""
    master = _master_of(_read(session))
    if master is None:
        raise TokenError(f"{label} no longer holds Tessera's post-quantum key (PIV object "
                         "5FC121 was cleared or overwritten): re-wrap the share from the "
                         "paper sheet")
    return master


def mlkem_key(master: bytes, compressed_public_key: bytes) -> mlkem.MLKEM768PrivateKey:
    """The ML-KEM-768 decapsulation key of one slot."""
    seed = HKDF(algorithm=hashes.SHA256(), length=64, salt=compressed_public_key,
                info=_INFO).derive(master)
    return mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)


def pq_recipient(master: bytes, compressed_public_key: bytes) -> str:
    """The slot's ``age1tagpq1…`` recipient."""
    ml_public = mlkem_key(master, compressed_public_key).public_key().public_bytes_raw()
    return MlKem768P256TagRecipient.from_parts(ml_public, compressed_public_key).to_string()
