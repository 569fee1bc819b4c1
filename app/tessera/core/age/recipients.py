"""Parse a recipient string of any type Tessera supports."""

from __future__ import annotations

import os

from . import bech32
from .errors import AgeKeyError
from .mlkem768x25519 import RECIPIENT_HRP as PQ_HRP
from .mlkem768x25519 import STANZA_TYPE as MLKEM_STANZA
from .mlkem768x25519 import MlKem768X25519Recipient
from .piv_p256 import RECIPIENT_HRP as PIV_HRP
from .piv_p256 import STANZA_TYPE as PIV_STANZA
from .piv_p256 import PivP256Recipient
from .stanza import Recipient, Rng
from .tagged import (
    P256TAG_HRP,
    P256TAG_STANZA,
    PQTAG_HRP,
    PQTAG_STANZA,
    MlKem768P256TagRecipient,
    P256TagRecipient,
)
from .x25519 import RECIPIENT_HRP as X25519_HRP
from .x25519 import STANZA_TYPE as X25519_STANZA
from .x25519 import X25519Recipient


def parse_recipient(text: str, *, rng: Rng = os.urandom) -> Recipient:
    """Parse ``age1pq1…`` (ML-KEM-768 + X25519 hybrid), ``age1…`` (X25519),
    ``age1yubikey1…`` (PIV P-256, piv-p256), ``age1tag1…`` (P-256, p256tag) or
    ``age1tagpq1…`` (ML-KEM-768 + P-256, mlkem768p256tag); raise AgeKeyError otherwise.

    Strict: no surrounding whitespace, no uppercase, valid checksum and key. ``rng``
    supplies the classical recipients' ephemeral keys (injectable for repeatable
    tests); the hybrid's HPKE encapsulation draws its own randomness.
    """
    hrp, _ = bech32.decode(text)
    if hrp == X25519_HRP:
        return X25519Recipient.from_string(text, rng=rng)
    if hrp == PQ_HRP:
        return MlKem768X25519Recipient.from_string(text)
    if hrp == PQTAG_HRP:
        return MlKem768P256TagRecipient.from_string(text, rng=rng)
    if hrp == P256TAG_HRP:
        return P256TagRecipient.from_string(text, rng=rng)
    if hrp == PIV_HRP:
        return PivP256Recipient.from_string(text, rng=rng)
    raise AgeKeyError("unsupported recipient type (expected age1pq1…, age1…, age1yubikey1…, age1tag1… or age1tagpq1…)")


def stanza_type(recipient: str) -> str:
    """The stanza type a recipient string produces (by its prefix; not validated)."""
    if recipient.startswith(PQ_HRP + "1"):
        return MLKEM_STANZA
    if recipient.startswith(PQTAG_HRP + "1"):
        return PQTAG_STANZA
    if recipient.startswith(P256TAG_HRP + "1"):
        return P256TAG_STANZA
    if recipient.startswith(PIV_HRP + "1"):
        return PIV_STANZA
    return X25519_STANZA


def is_post_quantum(recipient: str) -> bool:
    """True for a recipient whose stanzas resist a quantum computer (``age1pq1…``, or the
    hardware hybrid ``age1tagpq1…``)."""
    return recipient.startswith((PQ_HRP + "1", PQTAG_HRP + "1"))
