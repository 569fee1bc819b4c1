"""Streamed private files (the audit export): 0600 under any umask, a link replaced
rather than followed, nothing left behind by a failed write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tessera.core.private_file import private_writer


def test_streamed_file_is_private_and_replaces_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "audit.jsonl"
    out.symlink_to(victim)
    old = os.umask(0)
    try:
        with private_writer(out) as write:
            write(b"one\n")
            write(b"two\n")
    finally:
        os.umask(old)
    assert not out.is_symlink()
    assert out.read_bytes() == b"one\ntwo\n"
    assert out.stat().st_mode & 0o777 == 0o600
    assert victim.read_text() == "keep me"


def test_a_failed_stream_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    with pytest.raises(RuntimeError), private_writer(out) as write:
        write(b"half")
        raise RuntimeError("disk gone")
    assert list(tmp_path.iterdir()) == []
