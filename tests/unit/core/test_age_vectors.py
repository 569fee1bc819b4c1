"""The C2SP CCTV age test vectors: succeed exactly where they say, fail with the named kind.

The vectors are copied into ``tests/vectors/age-testkit/`` (origin in its README); a
missing folder fails the run instead of skipping it.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.paths import VECTORS
from tessera.core.age import (
    AgeArmorError,
    AgeError,
    AgeHeaderError,
    AgeHmacError,
    AgeNoMatch,
    AgePayloadError,
    Identity,
    MlKem768X25519Identity,
    ScryptIdentity,
    X25519Identity,
    decrypt,
    read_stanzas,
)

TESTKIT = VECTORS / "age-testkit"
PQ_IDENTITY_PREFIX = "AGE-SECRET-KEY-PQ-1"

EXPECTED_ERRORS: dict[str, type[AgeError]] = {
    "header failure": AgeHeaderError,
    "HMAC failure": AgeHmacError,
    "armor failure": AgeArmorError,
    "payload failure": AgePayloadError,
    "no match": AgeNoMatch,
}


@dataclass(frozen=True)
class Vector:
    name: str
    expect: str
    payload_sha256: str | None
    identities: tuple[str, ...]
    passphrases: tuple[str, ...]
    armored: bool
    data: bytes


def _parse_vector(path: Path) -> Vector:
    raw = path.read_bytes()
    head, sep, body = raw.partition(b"\n\n")
    assert sep, f"{path.name}: no blank line after the vector header"
    fields: dict[str, list[str]] = {}
    for line in head.decode("utf-8").splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    known = {
        "expect",
        "payload",
        "file key",
        "identity",
        "passphrase",
        "armored",
        "compressed",
        "comment",
    }
    assert set(fields) <= known, f"{path.name}: unknown vector fields {set(fields) - known}"
    compression = fields.get("compressed", [None])[0]
    if compression is not None:
        # The testkit README: large vectors are stored zlib-compressed.
        assert compression == "zlib", f"{path.name}: unknown compression {compression}"
        body = zlib.decompress(body)
    return Vector(
        name=path.name,
        expect=fields["expect"][0],
        payload_sha256=fields.get("payload", [None])[0],
        identities=tuple(fields.get("identity", [])),
        passphrases=tuple(fields.get("passphrase", [])),
        armored=fields.get("armored", ["no"])[0] == "yes",
        data=body,
    )


def _vector_files() -> list[Path]:
    if not TESTKIT.is_dir():
        return []
    return sorted(p for p in TESTKIT.iterdir() if p.is_file() and not p.name.startswith("."))


def _params() -> list[object]:
    # Every vector runs, the post-quantum hybrid_* and armor_hybrid ones included.
    return [pytest.param(path, id=path.name) for path in _vector_files()]


def _identities(vector: Vector) -> list[Identity]:
    identities: list[Identity] = [
        MlKem768X25519Identity.from_string(s)
        if s.startswith(PQ_IDENTITY_PREFIX)
        else X25519Identity.from_string(s)
        for s in vector.identities
    ]
    identities += [ScryptIdentity(p) for p in vector.passphrases]
    return identities


def test_testkit_is_present() -> None:
    assert TESTKIT.is_dir(), (
        f"age test vectors not found at {TESTKIT} (see tests/vectors/README.md)"
    )
    assert len(_vector_files()) > 100
    hybrid = [p.name for p in _vector_files() if "hybrid" in p.name.split("_")]
    assert len(hybrid) >= 19, hybrid


@pytest.mark.parametrize("path", _params())
def test_vector(path: Path) -> None:
    vector = _parse_vector(path)
    identities = _identities(vector)
    if vector.expect == "success":
        plaintext = decrypt(vector.data, identities, armored=vector.armored)
        assert hashlib.sha256(plaintext).hexdigest() == vector.payload_sha256
        # Format detection must reach the same result without the hint.
        assert decrypt(vector.data, identities) == plaintext
        assert read_stanzas(vector.data)
    else:
        expected = EXPECTED_ERRORS[vector.expect]
        with pytest.raises(AgeError) as caught:
            decrypt(vector.data, identities, armored=vector.armored)
        assert type(caught.value) is expected, f"{vector.expect} expected, got {caught.value!r}"
        # Without the hint, text before the PEM block means "not an age file at all".
        detected = AgeHeaderError if vector.name == "armor_garbage_leading" else expected
        with pytest.raises(detected):
            decrypt(vector.data, identities)
