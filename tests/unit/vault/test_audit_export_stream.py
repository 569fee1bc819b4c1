"""The audit export is written as it is read: in chunks, identical to the whole text."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_fixtures import ACTOR, open_vault

from tessera.vault.audit import verify


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_chunked_export_is_the_whole_log_in_order(tmp_path: Path, fmt: str) -> None:
    vault = open_vault(tmp_path / "v.sqlite3")
    with vault.transaction():
        for i in range(1300):
            vault.append_audit(ACTOR, "sheet.print", f"sheet-{i}", {"serial": i})
    chunks: list[str] = []
    vault.write_audit(chunks.append, fmt)
    assert len(chunks) >= 3  # 1301 entries: never one text of the whole log
    assert "".join(chunks) == vault.export_audit(fmt)
    lines = "".join(chunks).splitlines()
    assert len(lines) == 1301 + (fmt == "csv")
    assert verify(vault._conn).ok


def test_unknown_format_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    vault = open_vault(tmp_path / "v.sqlite3")
    chunks: list[str] = []
    with pytest.raises(ValueError, match="format"):
        vault.write_audit(chunks.append, "xml")
    assert chunks == []
