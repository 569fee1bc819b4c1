"""Waiting for a custodian's key: asked for by name, carried on by itself, cancellable."""

from __future__ import annotations

import threading

import pytest

from tessera.core.errors import UserCancelled
from tessera.custody import key_wait
from tessera.custody.key_wait import key_name, wait_for_key
from tessera.tokens.base import TokenInfo, TokenKind

CAROL = TokenInfo(id="t-carol", custodian_id="c-carol", custodian_name="Carol",
                  kind=TokenKind.FIDO2, label="Carol's security key", recipient="age1x",
                  facts={})


class Driver:
    """Plugged in after ``absent`` looks (``None`` answers: cannot tell)."""

    def __init__(self, answers: list[bool | None]) -> None:
        self.answers = answers
        self.looks = 0

    def present(self, token: TokenInfo) -> bool | None:
        self.looks += 1
        return self.answers.pop(0) if self.answers else True


class Drivers:
    def __init__(self, driver: object) -> None:
        self.driver = driver

    def for_token(self, token: TokenInfo) -> object:
        return self.driver


class Prompts:
    def __init__(self) -> None:
        self.said: list[str] = []

    def key_missing(self, which: str) -> None:
        self.said.append(f"insert {which}")

    def key_arrived(self) -> None:
        self.said.append("arrived")


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(key_wait, "POLL_SECONDS", 0.01)


def test_a_plugged_in_key_is_not_asked_for():
    prompts = Prompts()
    wait_for_key(Drivers(Driver([True])), CAROL, prompts, threading.Event())  # type: ignore[arg-type]
    assert prompts.said == []


def test_a_missing_key_is_asked_for_by_name_and_the_step_carries_on_when_it_comes():
    driver, prompts = Driver([False, False, False]), Prompts()
    wait_for_key(Drivers(driver), CAROL, prompts, threading.Event())  # type: ignore[arg-type]
    assert prompts.said == ["insert Carol's security key", "arrived"]
    assert driver.looks == 4


def test_cancel_while_waiting_is_a_cancel():
    cancel, prompts = threading.Event(), Prompts()
    threading.Timer(0.05, cancel.set).start()
    with pytest.raises(UserCancelled):
        wait_for_key(Drivers(Driver([False] * 10_000)), CAROL, prompts, cancel)  # type: ignore[arg-type]
    assert prompts.said[-1] == "arrived"  # the prompt is taken down either way


def test_when_the_driver_cannot_tell_the_step_goes_ahead():
    prompts = Prompts()
    wait_for_key(Drivers(Driver([None])), CAROL, prompts, threading.Event())  # type: ignore[arg-type]
    assert prompts.said == []


def test_the_key_is_named_as_the_custodian_knows_it():
    assert key_name(CAROL) == "Carol's security key"
    other = TokenInfo(id="t", custodian_id="c", custodian_name="Dana", kind=TokenKind.PIV,
                      label="blue YubiKey", recipient="age1x", facts={})
    assert key_name(other) == "Dana's key (blue YubiKey)"
