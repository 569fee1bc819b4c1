"""The access review keeps what it took from each manifest on this workstation, by the
SHA-256 of the manifest's bytes (vault/outline_cache.py), and reads the tables as the
check on open read them, in the same read transaction (Vault.checked_tables).

The attacker writes the vault file directly: manifests rewritten (with or without their
digest), swapped between records. Here the cache file is damaged and its entries
edited too. Whatever is kept, the review must show only what the vault's manifests
say, refuse what it refused before, and never blame the vault for a damaged cache."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from helpers.attacker import raw
from helpers.cli import run
from helpers.signed import signer
from tessera.core import canonical
from tessera.core.errors import IntegrityError
from tessera.core.manifest import manifest_fingerprint
from tessera.core.policy import SplitPlan
from tessera.custody.create import create_record
from tessera.custody.log_check import check_vault
from tessera.vault import Vault, outline
from tessera.vault.outline import VersionOutline, current_outlines
from tessera.vault.outline_cache import OutlineCache
from tessera.vault.workstation_pins import WorkstationPins


@pytest.fixture
def cache(tmp_path: Path) -> OutlineCache:
    return OutlineCache(tmp_path / "workstation" / "vault.outlines")


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The record ids whose manifest was taken apart (not found in the cache)."""
    found: list[str] = []
    real = outline._derive

    def counting(row: tuple[Any, ...], same: Any) -> Any:
        found.append(row[0])
        return real(row, same)

    monkeypatch.setattr(outline, "_derive", counting)
    return found


@pytest.fixture(params=["by key", "one pass"])
def reads(request: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Manifests to parse read each by its key, or all in one pass (as thousands are)."""
    if request.param == "one pass":
        monkeypatch.setattr(outline, "_ONE_PASS", 1)
    return str(request.param)


@pytest.fixture
def two(signed: Any) -> Any:
    """The signed vault with a second record (two manifests to swap)."""
    with signed.vault.signed_by(signer(signed, "Alice")):
        signed.other = create_record(signed.vault, b"second secret", label="Second key",
                                     plan=SplitPlan.simple(2, ["Alice", "Bob", "Carol"]),
                                     nhi={"system": "ci"}, actor="op").record_id
    return signed


def outlines(c: Any, cache: OutlineCache | None = None) -> dict[str, VersionOutline]:
    c.vault.outline_cache = cache
    return current_outlines(c.vault)


def _reopen(c: Any) -> Vault:
    c.vault.close()
    c.vault = Vault.open(c.path)
    return c.vault


def _attack(c: Any, *sql: tuple[str, tuple[Any, ...]]) -> Vault:
    c.vault.close()
    conn = raw(c.path)
    for statement, args in sql:
        conn.execute(statement, args)
    conn.close()
    return _reopen(c)


def _current(c: Any, record_id: str) -> tuple[int, bytes]:
    conn = sqlite3.connect(c.path)
    try:
        version, manifest = conn.execute(
            "SELECT v.version, v.manifest FROM records r JOIN versions v ON v.record_id = r.id"
            " AND v.version = r.current_version WHERE r.id = ?", (record_id,)).fetchone()
    finally:
        conn.close()
    return int(version), bytes(manifest)


def _rewritten(c: Any, record_id: str, data: bytes, *, with_digest: bool = True) -> Vault:
    """The attacker replaces a record's current manifest (and, ``with_digest``, its digest
    and fingerprint, so the row is self-consistent)."""
    import hashlib

    version, _ = _current(c, record_id)
    where = " WHERE record_id = ? AND version = ?"
    sql = [("UPDATE versions SET manifest = ?" + where, (data, record_id, version))]
    if with_digest:
        sql.append(("UPDATE versions SET digest = ?, fingerprint = ?" + where,
                    (hashlib.sha256(data).hexdigest(), manifest_fingerprint(data),
                     record_id, version)))
    return _attack(c, *sql)


def test_a_kept_outline_is_the_one_parsed(two: Any, reads: str, cache: OutlineCache,
                                          parsed: list[str]) -> None:
    c = two
    plain = outlines(c)
    parsed.clear()
    assert outlines(c, cache) == plain
    assert sorted(parsed) == sorted(plain)  # the first time, every manifest is parsed
    parsed.clear()
    assert outlines(c, cache) == plain
    assert parsed == []  # then none
    c.vault.outline_cache = cache
    assert current_outlines(c.vault, c.other) == {c.other: plain[c.other]}
    assert parsed == []


def test_a_manifest_rewritten_with_its_digest_shows_what_it_says_now(
        two: Any, reads: str, cache: OutlineCache, parsed: list[str], tmp_path: Path) -> None:
    """New bytes, a new key: the kept outline of the old bytes is never shown for them,
    and the check on open refuses the vault as before."""
    c = two
    pins = WorkstationPins(tmp_path / "pins")
    assert check_vault(c.vault, pins).ok
    before = outlines(c, cache)
    _, data = _current(c, c.record_id)
    manifest = json.loads(data)
    first, second = manifest["shares"][0], manifest["shares"][1]
    first["recipients"], second["recipients"] = second["recipients"], first["recipients"]
    vault = _rewritten(c, c.record_id, canonical.dumps(manifest))
    parsed.clear()
    after = outlines(c, cache)
    assert parsed == [c.record_id]
    shares = {s.key: s.recipients for s in after[c.record_id].shares}
    was = {s.key: s.recipients for s in before[c.record_id].shares}
    assert shares["g0m0"] == was["g0m1"] and shares["g0m1"] == was["g0m0"]
    assert after[c.other] == before[c.other]
    state = check_vault(vault, pins)
    assert not state.ok and state.difference is not None
    assert state.difference.table == "versions" and state.difference.key == (
        c.record_id, _current(c, c.record_id)[0])


def test_manifests_swapped_between_records_are_refused(two: Any, reads: str, cache: OutlineCache) -> None:
    """Each manifest moved, with its digest and fingerprint, to the other record's row:
    the kept outlines name the other record, and so do the manifests."""
    c = two
    outlines(c, cache)
    _, mine = _current(c, c.record_id)
    _, theirs = _current(c, c.other)
    _rewritten(c, c.record_id, theirs)
    _rewritten(c, c.other, mine)
    for kept in (cache, None):
        with pytest.raises(IntegrityError, match="does not match its row"):
            outlines(c, kept)


def test_a_manifest_edited_without_its_digest_is_refused(two: Any, reads: str, cache: OutlineCache) -> None:
    c = two
    outlines(c, cache)
    _, data = _current(c, c.record_id)
    _rewritten(c, c.record_id, data.replace(b'"version"', b'"versioN"'), with_digest=False)
    for kept in (cache, None):
        with pytest.raises(IntegrityError, match="changed or damaged"):
            outlines(c, kept)


def test_a_damaged_cache_file_is_no_cache(two: Any, reads: str, cache: OutlineCache,
                                          parsed: list[str]) -> None:
    c = two
    plain = outlines(c, cache)
    cache.path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    parsed.clear()
    assert outlines(c, cache) == plain
    assert sorted(parsed) == sorted(plain)
    parsed.clear()
    assert outlines(c, cache) == plain  # written afresh
    assert parsed == []


def _edit_cache(cache: OutlineCache, *sql: str) -> None:
    conn = sqlite3.connect(cache.path)
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("edit", [
    # an entry that names the other record (as a swapped manifest would)
    "UPDATE outlines SET record_id = (SELECT max(record_id) FROM outlines)"
    " WHERE record_id = (SELECT min(record_id) FROM outlines)",
    # an entry of the wrong form
    "UPDATE outlines SET version = 'one'",
    # a shape edited: its text no longer hashes to its name
    "UPDATE shapes SET shape = replace(shape, 'g0m0', 'g0m9')",
    # a shape that is not one
    "UPDATE shapes SET shape = '[1'",
    # a table gone
    "DROP TABLE shapes",
])
def test_a_kept_entry_that_is_damaged_is_not_believed(two: Any, cache: OutlineCache,
                                                      parsed: list[str], edit: str) -> None:
    """Not shown, and not blamed on the vault: the manifest is parsed again."""
    c = two
    plain = outlines(c, cache)
    _edit_cache(cache, edit)
    parsed.clear()
    assert outlines(c, cache) == plain
    assert parsed  # at least the damaged entry's manifest was parsed again
    parsed.clear()
    assert outlines(c, cache) == plain
    assert parsed == []  # and kept again


def test_the_review_reads_the_tables_the_check_read(two: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """In one read transaction with the check, the review reads what the check read and
    found signed: a write another process commits meanwhile does not show in it; out of
    that transaction, nothing the check read is used."""
    c = two
    pins = WorkstationPins(tmp_path / "pins")
    c.vault.outline_cache = OutlineCache(tmp_path / "pins" / "vault.outlines")
    assert c.vault.outline_cache is not None
    reads: list[str] = []
    real = outline._read

    def reading(*args: Any, **kwargs: Any) -> Any:
        reads.append("read")
        return real(*args, **kwargs)

    monkeypatch.setattr(outline, "_read", reading)
    with c.vault.reading() as conn:
        assert check_vault(c.vault, pins, opening=True).ok
        assert c.vault.checked_tables(conn) is not None
        other = sqlite3.connect(c.path, isolation_level=None)
        other.execute("UPDATE records SET label = 'Renamed' WHERE id = ?", (c.other,))
        other.close()
        seen = current_outlines(c.vault)
        assert reads == []  # from the tables the check read
        assert {r.label for r in c.vault.list_records()} == {"Deploy key", "Second key"}
    assert c.vault.checked_tables(conn) is None
    with c.vault.reading() as conn:
        assert c.vault.checked_tables(conn) is None  # another transaction
        assert current_outlines(c.vault) == seen
    assert reads == ["read"]
    assert not check_vault(c.vault, pins).ok  # the rename was not signed


def test_a_check_that_fails_keeps_nothing(two: Any, tmp_path: Path) -> None:
    c = two
    pins = WorkstationPins(tmp_path / "pins")
    assert check_vault(c.vault, pins).ok
    vault = _attack(c, ("UPDATE records SET label = 'Renamed' WHERE id = ?", (c.other,)))
    with vault.reading() as conn:
        assert not check_vault(vault, pins, opening=True).ok
        assert vault.checked_tables(conn) is None


def test_the_review_command_keeps_outlines_and_refuses_a_rewritten_manifest(
        two: Any, parsed: list[str]) -> None:
    c = two
    c.vault.close()
    first = run("--vault", str(c.path), "review")
    assert first.code == 0, first.text
    assert "Second key" in first.out
    parsed.clear()
    again = run("--vault", str(c.path), "review")
    assert (again.code, again.out) == (0, first.out)
    assert parsed == []
    c.vault = Vault.open(c.path)
    _, data = _current(c, c.other)
    manifest = json.loads(data)
    manifest["shares"][0]["recipients"] = manifest["shares"][1]["recipients"]
    _rewritten(c, c.other, canonical.dumps(manifest)).close()
    refused = run("--vault", str(c.path), "review")
    assert refused.code == 78, refused.text
    assert "does not verify" in refused.err


def test_the_review_command_pauses_the_collector_and_resumes_it(
        two: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its bulk read and report start no cyclic collections (they found nothing to free
    and cost ~110 ms at 5,000 records); the collector is on again afterwards."""
    import gc

    from tessera.custody import review

    real = review.gather_review
    enabled: list[bool] = []

    def gathering(vault: Vault) -> Any:
        enabled.append(gc.isenabled())
        return real(vault)

    monkeypatch.setattr(review, "gather_review", gathering)
    c = two
    c.vault.close()
    assert gc.isenabled()
    result = run("--vault", str(c.path), "review")
    assert result.code == 0, result.text
    assert enabled == [False] and gc.isenabled()
    c.vault = Vault.open(c.path)
