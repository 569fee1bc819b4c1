"""Security invariant 1: after a full ceremony no byte sequence of the secret, the DEK
or any share exists in the vault file, its WAL, the key and device folders, or the
temporary directory — in raw, hex or base64 form."""

from __future__ import annotations

import base64
import os
import tempfile
import threading
from pathlib import Path

import pytest

from helpers.ceremony import SECRET, ScriptedPrompts, build
from tessera.core import slip39
from tessera.custody.release import ReleaseCeremony, drill
from tessera.vault.exchange import export_version


def forms(data: bytes) -> list[bytes]:
    return [data, data.hex().encode(), data.hex().upper().encode(),
            base64.b64encode(data).rstrip(b"="), base64.urlsafe_b64encode(data).rstrip(b"=")]


def files_under(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            found.extend(Path(dirpath) / n for n in names)
    return [p for p in found if p.is_file()]


def test_nothing_secret_is_left_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    c = build(tmp_path / "v")
    dek = bytes(slip39.combine([c.words["Alice"], c.words["Bob"]]))
    for name in ("Alice", "Bob", "Carol"):
        drill(c.vault, c.drivers, c.record_id, c.tokens[name].id, ScriptedPrompts(),
              threading.Event(), actor="op")
    ceremony = ReleaseCeremony(c.vault, c.drivers, c.record_id, reason="r", ticket="T",
                               requested_by="op")
    ceremony.contribute_token(c.tokens["Bob"].id, ScriptedPrompts(), threading.Event())
    ceremony.contribute_paper(c.tokens["Carol"].custodian_id, c.words["Carol"])
    secret = ceremony.finish()
    assert bytes(secret) == SECRET
    (tmp_path / "export.tessera").write_bytes(export_version(c.vault, c.record_id, actor="op"))
    # Keep the WAL around (no checkpoint) so its pages are scanned too.
    needles: dict[str, list[bytes]] = {"secret": forms(SECRET), "DEK": forms(dek)}
    for name, words in c.words.items():
        needles[f"{name}'s share"] = [words.encode(), " ".join(words.split()[3:9]).encode()]
    files = files_under(tmp_path, scratch)
    assert any(p.name.endswith("-wal") for p in files), "the WAL should be scanned"
    for path in files:
        data = path.read_bytes()
        for what, patterns in needles.items():
            for pattern in patterns:
                assert pattern not in data, f"{what} found in {path.relative_to(tmp_path)}"
    c.vault.close()
