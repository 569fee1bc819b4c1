"""The vault's bulk reads give way in a sharing thread (core/turns.py): every version
read or outlined, every row of the tables' digest and of the audit chain's verify is a
point where the thread may sleep so the window gets its turn. On a clock where every
reading is a slice later, each such point sleeps: counting the sleeps counts the points."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_fixtures import create, open_vault, populate

from tessera.core import turns
from tessera.vault import audit, statements
from tessera.vault.outline import current_outlines

RECORDS = 7


class SliceEachReading:
    """A clock whose every reading is a whole slice after the one before."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def perf_counter(self) -> float:
        self.now += turns.SLICE
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SliceEachReading:
    fake = SliceEachReading()
    monkeypatch.setattr(turns, "time", fake)
    return fake


@pytest.fixture
def vault(tmp_path: Path):  # type: ignore[no-untyped-def]
    vault = open_vault(tmp_path / "vault.sqlite3")
    world = populate(vault)
    for n in range(RECORDS):
        create(world, label=f"Record {n}")
    yield vault
    vault.close()


def sleeps_in(clock: SliceEachReading, read) -> int:  # type: ignore[no-untyped-def]
    clock.sleeps = 0
    with turns.sharing():
        read()
    return clock.sleeps


def test_reading_every_version_gives_way_per_version(vault, clock) -> None:
    assert sleeps_in(clock, vault.current_versions) >= RECORDS
    assert sleeps_in(clock, lambda: current_outlines(vault)) >= RECORDS


def test_the_tables_digest_and_comparison_give_way_per_row(vault, clock) -> None:
    rows = vault._conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    assert sleeps_in(clock, lambda: statements.tables_digest(vault._conn)) >= rows
    replay = statements.replay(vault._conn, None, compare=False)
    assert sleeps_in(clock, lambda: statements.compare_tables(
        vault._conn, replay.tables)) >= rows


def test_the_audit_chain_gives_way_while_it_streams(vault, clock) -> None:
    for n in range(600):
        with vault.transaction() as conn:
            audit.append(conn, at="2026-02-01T00:00:00Z", actor="op", action="note.add",
                         subject="", details={"n": n})
    assert sleeps_in(clock, lambda: audit.verify(vault._conn)) >= 2  # every 256 entries
    assert sleeps_in(clock, lambda: vault.audit_entries()) >= 2


def test_outside_a_sharing_thread_the_reads_never_sleep(vault, clock) -> None:
    vault.current_versions()
    current_outlines(vault)
    statements.tables_digest(vault._conn)
    audit.verify(vault._conn)
    assert clock.sleeps == 0


def test_a_full_replay_gives_way_per_statement(vault, clock) -> None:
    # Verify chain in the app replays every statement on the loader thread: at 5,000
    # records, 60-130 ms without a turn for the window before each statement gave way.
    count = vault._conn.execute("SELECT count(*) FROM statements").fetchone()[0]
    assert sleeps_in(clock, lambda: statements.replay(vault._conn, None, compare=False)) >= count
