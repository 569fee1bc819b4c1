"""The signed vault fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.ceremony import Ceremony
from helpers.signed import populated, sign_genesis


@pytest.fixture
def signed(tmp_path: Path) -> Iterator[Ceremony]:
    c = populated(tmp_path)
    sign_genesis(c)
    yield c
    c.vault.close()
