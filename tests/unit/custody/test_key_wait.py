"""Waiting for a custodian's key: asked for by name, carried on by itself, cancellable;
looked for only after a step failed the way a missing key makes it fail."""

from __future__ import annotations

import threading

import pytest

from tessera.core.errors import PinInvalid, UserCancelled, WrongToken
from tessera.custody import key_wait
from tessera.custody.key_wait import key_name, run_with_key, wait_for_key
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
    monkeypatch.setattr(key_wait, "SETTLE_SECONDS", 0.0)


def test_a_plugged_in_key_is_not_asked_for():
    prompts = Prompts()
    assert not wait_for_key(Drivers(Driver([True])), CAROL, prompts, threading.Event())  # type: ignore[arg-type]
    assert prompts.said == []


def test_a_missing_key_is_asked_for_by_name_and_the_step_carries_on_when_it_comes():
    driver, prompts = Driver([False, False, False]), Prompts()
    assert wait_for_key(Drivers(driver), CAROL, prompts, threading.Event())  # type: ignore[arg-type]
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


class Step:
    """A device step that fails as a missing key does until the key is back."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.runs = 0

    def __call__(self) -> str:
        self.runs += 1
        if self.failures:
            raise self.failures.pop(0)
        return "approved"


def test_a_step_that_works_looks_for_nothing():
    driver, prompts, step = Driver([False]), Prompts(), Step([])
    assert run_with_key(Drivers(driver), CAROL, prompts, threading.Event(), step) == "approved"  # type: ignore[arg-type]
    assert driver.looks == 0 and prompts.said == []


def test_a_step_failing_for_a_missing_key_asks_for_it_and_runs_again():
    driver, prompts = Driver([False, False]), Prompts()
    step = Step([WrongToken("Carol", "none of the plugged-in keys holds this credential")])
    assert run_with_key(Drivers(driver), CAROL, prompts, threading.Event(), step) == "approved"  # type: ignore[arg-type]
    assert step.runs == 2 and prompts.said == ["insert Carol's security key", "arrived"]


def test_the_wrong_key_plugged_in_is_still_the_wrong_key():
    prompts, step = Prompts(), Step([WrongToken("Carol")])
    with pytest.raises(WrongToken):
        run_with_key(Drivers(Driver([True])), CAROL, prompts, threading.Event(), step)  # type: ignore[arg-type]
    assert step.runs == 1 and prompts.said == []


def test_other_failures_are_not_a_missing_key():
    driver, step = Driver([False]), Step([PinInvalid(7)])
    with pytest.raises(PinInvalid):
        run_with_key(Drivers(driver), CAROL, Prompts(), threading.Event(), step)  # type: ignore[arg-type]
    assert driver.looks == 0
