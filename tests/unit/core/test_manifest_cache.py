"""Parsed manifests are kept by their bytes: the same bytes give the same (immutable)
manifest without parsing again, and bad bytes are refused every time."""

from __future__ import annotations

import pytest

from helpers.sealed import make_sealed
from tessera.core.errors import FormatError
from tessera.core.manifest import Manifest


def test_same_bytes_same_manifest_and_damage_always_refused() -> None:
    data = make_sealed(b"secret", 2, 3).sealed.manifest_bytes
    first = Manifest.from_bytes(data)
    assert Manifest.from_bytes(bytearray(data)) is first
    assert first.to_bytes() == data
    damaged = data.replace(b'"version":1', b'"version":1.0')
    for _ in range(2):
        with pytest.raises(FormatError):
            Manifest.from_bytes(damaged)
