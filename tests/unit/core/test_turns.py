"""A background thread that reads in bulk gives the window its turn (core/turns.py): past
a slice of work it sleeps briefly with the GIL released. Anywhere else — the command
line, the GUI thread — giving way costs nothing and never sleeps."""

from __future__ import annotations

import threading

import pytest

from tessera.core import turns


class Clock:
    """perf_counter and sleep for turns, on a clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(turns, "time", fake)
    return fake


def test_outside_a_sharing_thread_giving_way_never_sleeps(clock: Clock) -> None:
    for _ in range(1000):
        clock.now += 1.0
        turns.give_way()
    assert clock.slept == []
    assert not turns.is_sharing()


def test_a_sharing_thread_sleeps_once_per_slice(clock: Clock) -> None:
    with turns.sharing():
        assert turns.is_sharing()
        clock.now += turns.SLICE / 2
        turns.give_way()
        assert clock.slept == []  # within its slice: goes on
        clock.now += turns.SLICE
        turns.give_way()
        assert clock.slept == [turns.PAUSE]  # past it: lets a waiting thread run
        turns.give_way()
        assert clock.slept == [turns.PAUSE]  # a new slice starts after the pause
    assert not turns.is_sharing()
    clock.now += 1.0
    turns.give_way()
    assert clock.slept == [turns.PAUSE]


def test_sharing_nested_ends_with_the_outer_block(clock: Clock) -> None:
    with turns.sharing():
        with turns.sharing():
            pass
        assert turns.is_sharing()
    assert not turns.is_sharing()


def test_one_threads_sharing_is_its_own(clock: Clock) -> None:
    seen: list[bool] = []
    with turns.sharing():
        other = threading.Thread(target=lambda: seen.append(turns.is_sharing()))
        other.start()
        other.join()
        clock.now += 1.0
    assert seen == [False]


def test_sharing_ends_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), turns.sharing():
        raise RuntimeError("the read failed")
    assert not turns.is_sharing()


def test_a_stopped_thread_stops_at_its_next_turn(clock: Clock) -> None:
    stop = threading.Event()
    with turns.sharing(stop):
        clock.now += turns.SLICE
        turns.give_way()  # not stopped: it sleeps and goes on
        assert len(clock.slept) == 1
        stop.set()
        turns.give_way()  # within its slice: no turn, so no stop yet
        clock.now += turns.SLICE
        with pytest.raises(turns.Stopped):
            turns.give_way()
    assert not isinstance(turns.Stopped(), Exception)  # no "except Exception" swallows it
    stop.set()
    clock.now += turns.SLICE
    turns.give_way()  # outside the block the stop is forgotten


def test_without_a_stop_a_sharing_thread_never_stops(clock: Clock) -> None:
    with turns.sharing():
        for _ in range(100):
            clock.now += turns.SLICE
            turns.give_way()
    assert len(clock.slept) == 100
