"""Security invariant 1 through the lifecycle: after a reshare, a revoke, a re-wrap
and a rotation, no byte sequence of either secret, any DEK or any share (old or new)
is in the vault, its WAL, the key and device folders or the temporary directory."""

from __future__ import annotations

import base64
import os
import tempfile
import threading
from pathlib import Path

import pytest

from helpers.ceremony import SECRET, ScriptedPrompts, build
from tessera.core import slip39
from tessera.custody.enroll import enroll_device
from tessera.custody.reshare import ReshareCeremony
from tessera.custody.revoke import start_revoke
from tessera.custody.rewrap import rewrap_with_paper
from tessera.custody.rotate import rotate_record
from tessera.tokens.base import TokenKind

NEW_SECRET = b"rotated-credential-7f3a9c0e5b1d"


def forms(data: bytes) -> list[bytes]:
    return [data, data.hex().encode(), base64.b64encode(data).rstrip(b"=")]


def test_nothing_secret_is_left_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    c = build(tmp_path / "v")
    words = list(c.words.values())
    prompts, cancel = ScriptedPrompts(), threading.Event()

    reshare = ReshareCeremony(c.vault, c.drivers, c.record_id, reason="r", ticket="T",
                              requested_by="op")
    for name in ("Alice", "Bob"):
        reshare.contribute_token(c.tokens[name].id, prompts, cancel)
    epoch2: dict[str, str] = {}
    reshare.finish(on_mnemonics=epoch2.update)
    names = {e.key: e.custodian for e in c.vault.get_version(c.record_id).manifest.shares}
    epoch2_by_name = {names[k]: w for k, w in epoch2.items()}
    enroll_device(c.vault, c.drivers, c.vault.get_custodian("Carol").id, TokenKind.SOFTWARE,
                  prompts, cancel, actor="op", label="Carol's second key")
    rewrap_with_paper(c.vault, c.record_id, "Carol", epoch2_by_name["Carol"], actor="Carol")
    revoke = start_revoke(c.vault, c.drivers, c.record_id, "Carol", reason="r", ticket="T",
                          requested_by="op")
    for name in ("Alice", "Bob"):
        revoke.contribute_token(c.tokens[name].id, prompts, cancel)
    epoch3: dict[str, str] = {}
    revoke.finish(on_mnemonics=epoch3.update)
    rotate_record(c.vault, c.record_id, NEW_SECRET, actor="op", reason="rotated")
    c.vault.checkpoint()

    deks = [bytes(slip39.combine([words[0], words[1]])),
            bytes(slip39.combine(list(epoch2.values())[:2])),
            bytes(slip39.combine(list(epoch3.values())[:2]))]
    needles = [f for s in (SECRET, NEW_SECRET, *deks) for f in forms(s)]
    needles += [w.encode() for w in (*words, *epoch2.values(), *epoch3.values())]
    blobs = []
    for root in (tmp_path / "v", scratch):
        for dirpath, _dirs, files in os.walk(root):
            blobs += [(Path(dirpath) / n).read_bytes() for n in files]
    assert blobs
    for blob in blobs:
        for needle in needles:
            assert needle not in blob
