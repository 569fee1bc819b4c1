"""The age v1 file format (age-encryption.org/v1), in pure Python on ``cryptography``.

Tessera wraps each custodian's share in an age file so that any stock age client can
open it: mlkem768x25519 (post-quantum hybrid) or X25519 for software and
FIDO2-derived keys, piv-p256 (age-plugin-yubikey) for YubiKey PIV slots, scrypt for
passphrases.
"""

from __future__ import annotations

from .errors import (
    AgeArmorError,
    AgeError,
    AgeHeaderError,
    AgeHmacError,
    AgeKeyError,
    AgeNoMatch,
    AgePayloadError,
)
from .file import decrypt, encrypt, read_stanzas
from .mlkem768x25519 import MlKem768X25519Identity, MlKem768X25519Recipient
from .piv_p256 import PivP256Identity, PivP256Recipient
from .recipients import is_post_quantum, parse_recipient, stanza_type
from .scrypt import ScryptIdentity, ScryptRecipient
from .stanza import Identity, Recipient, Rng, Stanza
from .tagged import (
    MlKem768P256TagIdentity,
    MlKem768P256TagRecipient,
    P256TagIdentity,
    P256TagRecipient,
)
from .x25519 import X25519Identity, X25519Recipient

__all__ = [
    "AgeArmorError",
    "AgeError",
    "AgeHeaderError",
    "AgeHmacError",
    "AgeKeyError",
    "AgeNoMatch",
    "AgePayloadError",
    "Identity",
    "MlKem768P256TagIdentity",
    "MlKem768P256TagRecipient",
    "MlKem768X25519Identity",
    "MlKem768X25519Recipient",
    "P256TagIdentity",
    "P256TagRecipient",
    "PivP256Identity",
    "PivP256Recipient",
    "Recipient",
    "Rng",
    "ScryptIdentity",
    "ScryptRecipient",
    "Stanza",
    "X25519Identity",
    "X25519Recipient",
    "decrypt",
    "encrypt",
    "is_post_quantum",
    "parse_recipient",
    "read_stanzas",
    "stanza_type",
]
