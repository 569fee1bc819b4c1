"""A version's fingerprint, as people compare it with their sheets, is the first 80 bits
of its manifest's SHA-256 in RFC 4648 base32, four characters a group: taken ten bits
at a time, it must read exactly as the standard encoding reads."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tessera.core.manifest import format_fingerprint, manifest_fingerprint


def _standard(digest: bytes) -> str:
    b32 = base64.b32encode(digest[:10]).decode("ascii")
    return "TSR-" + "-".join(b32[i:i + 4] for i in range(0, 16, 4))


@pytest.mark.parametrize("digest", [
    bytes(32), b"\xff" * 32, bytes(range(32)), b"\x80" + bytes(31), bytes(9) + b"\x01" + bytes(22),
    *(hashlib.sha256(str(n).encode()).digest() for n in range(200)),
])
def test_the_fingerprint_reads_as_rfc4648_base32(digest: bytes) -> None:
    assert format_fingerprint(digest) == _standard(digest)


def test_a_known_manifest_fingerprint() -> None:
    # SHA-256("abc") = ba7816bf 8f01cfea 4141...: its first 80 bits in base32.
    assert manifest_fingerprint(b"abc") == "TSR-XJ4B-NP4P-AHH6-UQKB"
