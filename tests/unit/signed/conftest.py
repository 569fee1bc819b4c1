"""The signed vault fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.ceremony import Ceremony
from helpers.signed import populated, sign_genesis


@pytest.fixture
def signed(tmp_path: Path) -> Iterator[Ceremony]:
    c = populated(tmp_path)
    sign_genesis(c)
    yield c
    c.vault.close()


@pytest.fixture
def statements_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The seq of every statement a replay reads from the vault, in order."""
    from tessera.vault import statements

    read: list[int] = []
    real = statements._iter

    def counting(conn: Any, after: int, until: Any) -> Any:
        for row in real(conn, after, until):
            read.append(row[0])
            yield row

    monkeypatch.setattr(statements, "_iter", counting)
    return read
