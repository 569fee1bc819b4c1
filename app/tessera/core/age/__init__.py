"""The age v1 file format (age-encryption.org/v1), in pure Python on ``cryptography``.

Tessera wraps each custodian's share in an age file so that any stock age client can
open it: X25519 for software and FIDO2-derived keys, piv-p256 (age-plugin-yubikey)
for YubiKey PIV slots, scrypt for passphrases.
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
from .piv_p256 import PivP256Identity, PivP256Recipient
from .recipients import parse_recipient
from .scrypt import ScryptIdentity, ScryptRecipient
from .stanza import Identity, Recipient, Rng, Stanza
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
    "parse_recipient",
    "read_stanzas",
]
