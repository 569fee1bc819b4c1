"""While the page loader reads, Python's cyclic garbage collector does not run: a full
collection walks every object the app holds with the GIL taken, which at 5,000 records
froze the window 50–130 ms at a time. When the loader has delivered its last result the
collector runs again, and what the reads left alive is frozen out of later collections.

These tests drive a real VaultLoader thread over the demo vault, with reads that make
enough objects to start many collections if the collector were running."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from tessera.gui.loader import VaultLoader
from tessera.vault import Vault

pytestmark = pytest.mark.usefixtures("threaded_pages")


class Node:
    """An object in a reference cycle, the kind only the cyclic collector frees."""

    def __init__(self) -> None:
        self.me = self


def cycles(vault: Vault, count: int = 50_000) -> list[Node]:
    vault.list_records()  # a real read, on the loader's own connection
    return [Node() for _ in range(count)]


@pytest.fixture
def loader(demo_vault_path: Path, qtbot) -> Iterator[VaultLoader]:
    gui_vault = Vault.open(demo_vault_path)
    loader = VaultLoader(demo_vault_path, gui_vault)
    yield loader
    loader.shutdown()
    gui_vault.close()
    assert gc.isenabled()


@pytest.fixture
def collections() -> Iterator[list[tuple[str, int]]]:
    """(thread, generation) of every collection that starts while the test runs."""
    seen: list[tuple[str, int]] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append((threading.current_thread().name, info["generation"]))

    gc.callbacks.append(note)
    yield seen
    gc.callbacks.remove(note)


def test_no_collection_runs_while_the_loader_reads(loader, collections, qtbot) -> None:
    kept: list[list[Node]] = []
    loader.load("records", cycles, kept.append)
    loader.load("review", lambda vault: cycles(vault, 80_000), kept.append)
    assert not gc.isenabled()
    qtbot.waitUntil(lambda: loader.idle and len(kept) == 2, timeout=20_000)

    assert collections == []  # 130,000 objects made: hundreds of collections otherwise
    assert gc.isenabled()
    # What the pages now hold was frozen: no later full collection walks it again.
    assert gc.get_freeze_count() >= 130_000


def test_a_result_the_page_replaces_is_still_freed(loader, qtbot) -> None:
    """Frozen objects are freed by their reference count as always: the rows a page drops
    for newer ones do not stay in memory (only garbage held by a reference cycle would)."""

    class Rows(list):  # a page's rows, as plain tuples; a list that a weakref can follow
        pass

    def rows(vault: Vault) -> Rows:
        return Rows((f"Service account {n:05d}", n, "FIDO2") for n in range(50_000))

    held: list[Rows] = []
    loader.load("records", rows, held.append)
    qtbot.waitUntil(lambda: loader.idle and len(held) == 1, timeout=20_000)
    assert gc.get_freeze_count() >= 50_000  # the rows were frozen
    first = weakref.ref(held[0])

    loader.load("records", rows, lambda value: held.__setitem__(0, value))
    qtbot.waitUntil(lambda: loader.idle and held[0] is not first(), timeout=20_000)
    assert first() is None


def test_a_collector_someone_else_disabled_stays_disabled(loader, qtbot) -> None:
    gc.disable()
    try:
        done: list[object] = []
        loader.load("records", cycles, done.append)
        qtbot.waitUntil(lambda: loader.idle and bool(done), timeout=20_000)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_closing_the_window_mid_read_lets_the_collector_run_again(loader, qtbot) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow(vault: Vault) -> None:
        started.set()
        release.wait(10)

    loader.load("records", slow, lambda value: None)
    assert started.wait(10)
    assert not gc.isenabled()
    threading.Timer(0.2, release.set).start()
    loader.shutdown()
    assert gc.isenabled()


def test_a_read_asked_for_while_a_result_is_delivered_keeps_the_collector_paused(
        loader, collections, qtbot) -> None:
    """A page that asks for another read when its result arrives (a vault change seen
    meanwhile) keeps the loader busy: the collector stays paused until that one is in."""
    done: list[str] = []
    go_on = threading.Event()

    def held_back(vault: Vault) -> list[Node]:
        go_on.wait(10)
        return cycles(vault)

    def then_again(value: object) -> None:
        done.append("first")
        loader.load("audit", held_back, lambda value: done.append("second"))

    loader.load("records", cycles, then_again)
    qtbot.waitUntil(lambda: done == ["first"], timeout=20_000)
    qtbot.wait(50)  # whatever the first delivery set off has run
    assert not gc.isenabled() and not loader.idle
    go_on.set()
    qtbot.waitUntil(lambda: loader.idle and done == ["first", "second"], timeout=20_000)
    assert collections == []
    assert gc.isenabled()


def test_reads_give_the_window_its_turns(loader, qtbot) -> None:
    """The loader's reads give way to the GUI thread (core/turns.py): SQLite and SHA-256
    let the GIL go and take it back for every row, which starved the window 40-300 ms at
    5,000 records unless the reading thread sleeps now and then."""
    from tessera.core import turns

    seen: list[bool] = []
    loader.load("records", lambda vault: turns.is_sharing(), seen.append)
    qtbot.waitUntil(lambda: loader.idle and len(seen) == 1, timeout=20_000)
    assert seen == [True] and not turns.is_sharing()


def test_the_collector_resumes_when_the_last_busy_loader_is_idle(loader, demo_vault_path,
                                                                 qtbot) -> None:
    """Two loaders (two windows): one finishing does not restart collections under the
    other's read."""
    gui_vault = Vault.open(demo_vault_path)
    other = VaultLoader(demo_vault_path, gui_vault)
    try:
        go_on = threading.Event()
        done: list[str] = []

        def held_back(vault: Vault) -> None:
            go_on.wait(10)

        loader.load("records", held_back, lambda value: done.append("held"))
        other.load("records", cycles, lambda value: done.append("quick"))
        qtbot.waitUntil(lambda: other.idle and done == ["quick"], timeout=20_000)
        assert not gc.isenabled()  # the first loader still reads
        go_on.set()
        qtbot.waitUntil(lambda: loader.idle and done == ["quick", "held"], timeout=20_000)
        assert gc.isenabled()
    finally:
        other.shutdown()
        gui_vault.close()


def test_a_read_never_starts_before_the_collector_is_paused(loader, monkeypatch,
                                                            qtbot) -> None:
    """The loader thread, woken for a read, must find the collector paused: it was paused
    after the thread was woken, so a read could start (and collect) first when the GUI
    thread lost the interpreter at that moment — what made a test of this file fail once
    in a whole run. Here the GUI thread is held there until the read has started, if it
    can start."""
    seen: list[bool] = []
    started = threading.Event()

    def read(vault: Vault) -> int:
        started.set()
        seen.append(gc.isenabled())
        return 1

    real_pause = VaultLoader._pause_collector

    def late_pause(self: VaultLoader) -> None:
        started.wait(1.0)  # the loader thread gets there first, if it can
        real_pause(self)

    done: list[int] = []
    loader.load("first", lambda vault: 0, done.append)  # the thread exists and waits
    qtbot.waitUntil(lambda: loader.idle and done == [0], timeout=20_000)
    monkeypatch.setattr(VaultLoader, "_pause_collector", late_pause)
    loader.load("records", read, done.append)
    qtbot.waitUntil(lambda: loader.idle and done == [0, 1], timeout=20_000)
    assert seen == [False]


def test_after_shutdown_a_request_reads_nothing_and_says_nothing(loader, demo_vault_path,
                                                                 caplog) -> None:
    # A page asking once the window is closing (its vault closed after the loader) used
    # to read the closed vault on the GUI thread and log "A page could not read the
    # vault: Cannot operate on a closed database".
    loader.shutdown()
    loader._gui_vault.close()
    outcomes: list[object] = []
    loader.load("records", lambda vault: vault.list_records(), outcomes.append,
                outcomes.append)
    loader.load("audit", lambda vault: vault.audit_head(), outcomes.append)
    assert outcomes == []
    assert "could not read" not in caplog.text
    assert loader.idle


def test_a_long_read_stops_when_the_window_closes(loader, qtbot) -> None:
    # A full verify of a million entries runs for seconds on the loader thread; closing
    # the window used to wait for it (up to 10 s) before the app could exit.
    import time

    from tessera.core.turns import give_way

    started = threading.Event()
    outcomes: list[object] = []

    def endless(vault: Vault) -> None:
        started.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            give_way()

    loader.load("verify", endless, outcomes.append, outcomes.append)
    assert started.wait(5)
    begun = time.monotonic()
    loader.shutdown()
    assert time.monotonic() - begun < 2
    assert loader._thread is not None and not loader._thread.is_alive()
    qtbot.wait(50)
    assert outcomes == []  # nobody is told of a read that was stopped
