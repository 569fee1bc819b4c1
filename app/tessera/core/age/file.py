"""Encrypt and decrypt whole age files, binary or armored."""

from __future__ import annotations

import os
from collections.abc import Sequence

from .armor import decode_armor, encode_armor, looks_armored
from .errors import AgeHeaderError, AgeHmacError, AgeNoMatch
from .header import encode_header, parse_header, verify_mac
from .primitives import FILE_KEY_SIZE
from .scrypt import STANZA_TYPE as SCRYPT_TYPE
from .scrypt import check_scrypt_alone
from .stanza import Identity, Recipient, Rng, Stanza
from .stream import NONCE_SIZE, decrypt_payload, encrypt_payload


def _random(rng: Rng, size: int) -> bytes:
    data = rng(size)
    if len(data) != size:
        raise ValueError(f"the random source returned {len(data)} bytes, expected {size}")
    return data


def encrypt(
    plaintext: bytes,
    recipients: Sequence[Recipient],
    *,
    armor: bool = False,
    rng: Rng = os.urandom,
) -> bytes:
    """Encrypt ``plaintext`` to every recipient; ``rng`` supplies the file key and nonce."""
    if not recipients:
        raise ValueError("at least one recipient is needed")
    file_key = _random(rng, FILE_KEY_SIZE)
    stanzas = [stanza for recipient in recipients for stanza in recipient.wrap(file_key)]
    if not stanzas:
        raise ValueError("the recipients produced no stanzas")
    if len(stanzas) != 1 and any(s.type == SCRYPT_TYPE for s in stanzas):
        raise ValueError("a passphrase recipient cannot be combined with other recipients")
    data = encode_header(stanzas, file_key) + encrypt_payload(
        file_key, _random(rng, NONCE_SIZE), bytes(plaintext)
    )
    return encode_armor(data) if armor else data


def _binary(data: bytes, armored: bool | None) -> bytes:
    if armored is None:
        armored = looks_armored(data)
    return decode_armor(data) if armored else bytes(data)


def read_stanzas(data: bytes, *, armored: bool | None = None) -> list[Stanza]:
    """Parse only the header (no MAC check), e.g. to see whether a file is for a given key."""
    return list(parse_header(_binary(data, armored)).stanzas)


def _unwrap(stanzas: Sequence[Stanza], identities: Sequence[Identity]) -> bytes:
    for identity in identities:
        file_key = identity.unwrap(stanzas)
        if file_key is None:
            continue
        if len(file_key) != FILE_KEY_SIZE:
            raise AgeHeaderError("the unwrapped file key must be 16 bytes")
        return file_key
    raise AgeNoMatch([s.type for s in stanzas])


def decrypt(data: bytes, identities: Sequence[Identity], *, armored: bool | None = None) -> bytes:
    """Decrypt a binary or armored age file (``armored=None`` detects which).

    Identities are tried in order; the first that unwraps the file key wins. The
    header is checked before any identity is asked, so a malformed file never
    reaches a token; with no identities a well-formed file gives AgeNoMatch.
    """
    binary = _binary(data, armored)
    header = parse_header(binary)
    check_scrypt_alone(header.stanzas)
    file_key = _unwrap(header.stanzas, identities)
    if not verify_mac(file_key, header):
        raise AgeHmacError("the header MAC does not verify: the header was modified")
    payload = binary[header.payload_offset :]
    if len(payload) < NONCE_SIZE:
        raise AgeHeaderError("the file ends before the payload nonce")
    return decrypt_payload(file_key, payload)
