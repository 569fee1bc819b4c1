"""The age payload: a 16-byte nonce, then STREAM chunks of ChaCha20-Poly1305.

Chunks carry 64 KiB of plaintext; the AEAD nonce is an 11-byte big-endian chunk
counter followed by 0x01 on the final chunk and 0x00 before it. The final chunk may
be full-size but is empty only when the whole plaintext is empty, and nothing may
follow it.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .errors import AgePayloadError
from .primitives import TAG_SIZE, hkdf_sha256

NONCE_SIZE = 16
CHUNK_SIZE = 64 * 1024
_SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE


def _chunk_nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _payload_aead(file_key: bytes, nonce: bytes) -> ChaCha20Poly1305:
    return ChaCha20Poly1305(hkdf_sha256(file_key, nonce, b"payload"))


def encrypt_payload(file_key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    """Return ``nonce`` followed by the sealed chunks of ``plaintext``."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError("payload nonce must be 16 bytes")
    aead = _payload_aead(file_key, nonce)
    out = [nonce]
    starts = range(0, len(plaintext), CHUNK_SIZE) if plaintext else range(1)
    for counter, start in enumerate(starts):
        last = start + CHUNK_SIZE >= len(plaintext)
        chunk = plaintext[start : start + CHUNK_SIZE]
        out.append(aead.encrypt(_chunk_nonce(counter, last), chunk, None))
    return b"".join(out)


def decrypt_payload(file_key: bytes, payload: bytes) -> bytes:
    """Decrypt a payload (nonce and chunks); raise AgePayloadError unless it is intact."""
    aead = _payload_aead(file_key, payload[:NONCE_SIZE])
    pos = NONCE_SIZE
    out = bytearray()
    counter = 0
    while True:
        remaining = len(payload) - pos
        if remaining == 0:
            raise AgePayloadError("the payload is truncated: the final chunk is missing")
        size = min(remaining, _SEALED_CHUNK_SIZE)
        if size < TAG_SIZE:
            raise AgePayloadError("the payload ends with a truncated chunk")
        if size == TAG_SIZE and counter > 0:
            raise AgePayloadError("the payload ends with an empty final chunk")
        last = remaining <= _SEALED_CHUNK_SIZE
        chunk = payload[pos : pos + size]
        try:
            out += aead.decrypt(_chunk_nonce(counter, last), chunk, None)
        except InvalidTag:
            raise AgePayloadError(_describe_bad_chunk(aead, counter, chunk, last)) from None
        pos += size
        counter += 1
        if last:
            return bytes(out)


def _describe_bad_chunk(aead: ChaCha20Poly1305, counter: int, chunk: bytes, last: bool) -> str:
    # A full-size chunk at the end that opens as a non-final chunk means the
    # file was cut at a chunk boundary; say so rather than "corrupted".
    if last and len(chunk) == _SEALED_CHUNK_SIZE:
        try:
            aead.decrypt(_chunk_nonce(counter, False), chunk, None)
        except InvalidTag:
            pass
        else:
            return "the payload is truncated: the final chunk is missing"
    return f"payload chunk {counter} does not authenticate (corrupted or extended file)"
