"""Everything a custodian will hit during a release, with virtual keys driving the real
fido2 and yubikit code: each problem gets a clear message, changes nothing in the
vault, and the release session can go on."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from helpers.ceremony import PIN, SECRET, Ceremony, ScriptedPrompts, build
from tessera.core.errors import (
    PinBlocked,
    PinInvalid,
    TouchTimeout,
    UserCancelled,
    WrongToken,
)
from tessera.custody.release import ReleaseCeremony, drill
from tessera.vault import RecordState


@pytest.fixture()
def c(tmp_path: Path) -> Ceremony:
    return build(tmp_path)


def start(c: Ceremony) -> ReleaseCeremony:
    return ReleaseCeremony(c.vault, c.drivers, c.record_id, reason="restore", ticket="INC-1",
                           requested_by="op")


def snapshot(c: Ceremony) -> tuple[int, str, int]:
    head = c.vault.audit_head()
    return head[0], c.vault.get_record(c.record_id).state.value, len(c.vault.list_releases())


def test_release_with_fido2_and_piv(c: Ceremony) -> None:
    ceremony = start(c)
    prompts = ScriptedPrompts()
    ceremony.contribute_token(c.tokens["Alice"].id, prompts, threading.Event())
    ceremony.contribute_token(c.tokens["Bob"].id, prompts, threading.Event())
    assert ceremony.complete
    assert bytes(ceremony.finish()) == SECRET
    assert c.vault.get_record(c.record_id).state is RecordState.RELEASED
    approvals = c.vault.get_release(ceremony.release_id).approvals
    assert [a.method.value for a in approvals] == ["fido2", "piv"]


@pytest.mark.parametrize("who", ["Alice", "Bob"])
def test_wrong_pin_shows_attempts_left_and_the_session_goes_on(c: Ceremony, who: str) -> None:
    ceremony = start(c)
    before = snapshot(c)
    with pytest.raises(PinInvalid) as err:
        ceremony.contribute_token(c.tokens[who].id, ScriptedPrompts(["000000"]),
                                  threading.Event())
    assert err.value.attempts_left is not None and err.value.attempts_left >= 1
    assert "attempt" in str(err.value)
    assert snapshot(c) == before
    assert ceremony.progress().describe() == "0 of 2"
    ceremony.contribute_token(c.tokens[who].id, ScriptedPrompts([PIN]), threading.Event())
    assert ceremony.progress().describe() == "1 of 2"


def test_pin_blocked_names_the_way_out(c: Ceremony) -> None:
    ceremony = start(c)
    bob = c.tokens["Bob"]
    with pytest.raises(PinBlocked) as err:
        for _ in range(4):
            try:
                ceremony.contribute_token(bob.id, ScriptedPrompts(["000000"]),
                                          threading.Event())
            except PinInvalid:
                continue
    assert "PUK" in str(err.value)
    # The others can still complete the quorum; Carol brings her paper sheet.
    ceremony.contribute_token(c.tokens["Alice"].id, ScriptedPrompts(), threading.Event())
    ceremony.contribute_paper(c.tokens["Carol"].custodian_id, c.words["Carol"])
    assert bytes(ceremony.finish()) == SECRET


def test_touch_timeout_then_a_touch(c: Ceremony) -> None:
    ceremony = start(c)
    key = c.keys["Alice"]
    key.touch.set_mode("never")
    key.device.touch_timeout = 0.3  # type: ignore[union-attr]
    before = snapshot(c)
    with pytest.raises(TouchTimeout):
        ceremony.contribute_token(c.tokens["Alice"].id, ScriptedPrompts(), threading.Event())
    assert snapshot(c) == before
    key.touch.set_mode("immediate")
    ceremony.contribute_token(c.tokens["Alice"].id, ScriptedPrompts(), threading.Event())
    assert ceremony.progress().describe() == "1 of 2"


@pytest.mark.parametrize("who", ["Alice", "Bob"])
def test_cancel_while_waiting_for_touch(c: Ceremony, who: str) -> None:
    ceremony = start(c)
    c.later()  # the touch is not cached from the enrolment
    key = c.keys[who]
    key.touch.set_mode("never")
    cancel = threading.Event()
    key.touch.on_waiting = lambda waiting: cancel.set() if waiting else None
    with pytest.raises(UserCancelled):
        ceremony.contribute_token(c.tokens[who].id, ScriptedPrompts(), cancel)
    key.touch.on_waiting = None
    key.touch.set_mode("immediate")
    ceremony.contribute_token(c.tokens[who].id, ScriptedPrompts(), threading.Event())
    assert ceremony.progress().describe() == "1 of 2"


@pytest.mark.parametrize("who", ["Alice", "Bob"])
def test_device_pulled_out_mid_touch(c: Ceremony, who: str) -> None:
    from tessera.core.errors import DeviceRemoved

    ceremony = start(c)
    c.later()  # the touch is not cached from the enrolment
    key = c.keys[who]
    key.touch.set_mode("never")
    key.touch.on_waiting = lambda waiting: key.pull_out() if waiting else None
    before = snapshot(c)
    with pytest.raises((DeviceRemoved, WrongToken)) as err:
        ceremony.contribute_token(c.tokens[who].id, ScriptedPrompts(), threading.Event())
    assert "removed" in str(err.value) or "insert" in str(err.value)
    assert snapshot(c) == before
    key.touch.on_waiting = None
    key.touch.set_mode("immediate")
    key.plug_in()
    ceremony.contribute_token(c.tokens[who].id, ScriptedPrompts(), threading.Event())
    assert ceremony.progress().describe() == "1 of 2"


def test_a_token_that_is_not_among_the_recipients(c: Ceremony, tmp_path: Path) -> None:
    """Alice enrols a spare key after the record was made: it holds no stanza."""
    from tessera.custody.enroll import enroll_device
    from tessera.tokens.base import TokenKind

    spare = c.devices.add(TokenKind.FIDO2, "Alice's spare")
    token = enroll_device(c.vault, c.drivers, c.tokens["Alice"].custodian_id, TokenKind.FIDO2,
                          ScriptedPrompts(), threading.Event(), actor="op", device=spare.device)
    ceremony = start(c)
    with pytest.raises(WrongToken, match="Alice"):
        ceremony.contribute_token(token.id, ScriptedPrompts(), threading.Event())
    assert ceremony.progress().describe() == "0 of 2"


def test_two_custodians_keys_confused(tmp_path: Path) -> None:
    """Carol's key is plugged in when Alice's is asked for; Dave's YubiKey for Bob's."""
    from tessera.tokens.base import TokenKind

    c = build(tmp_path, {"Alice": TokenKind.FIDO2, "Bob": TokenKind.PIV,
                         "Carol": TokenKind.FIDO2, "Dave": TokenKind.PIV})
    ceremony = start(c)
    c.keys["Alice"].pull_out()
    with pytest.raises(WrongToken, match="not Alice's key"):
        ceremony.contribute_token(c.tokens["Alice"].id, ScriptedPrompts(), threading.Event())
    c.keys["Bob"].pull_out()
    with pytest.raises(WrongToken, match="Bob's YubiKey"):
        ceremony.contribute_token(c.tokens["Bob"].id, ScriptedPrompts(), threading.Event())
    assert ceremony.progress().describe() == "0 of 2"
    c.keys["Alice"].plug_in()
    ceremony.contribute_token(c.tokens["Alice"].id, ScriptedPrompts(), threading.Event())
    assert ceremony.progress().describe() == "1 of 2"


def test_a_token_cannot_be_enrolled_twice(c: Ceremony) -> None:
    from tessera.core.errors import TesseraError

    before = snapshot(c)
    bob = c.tokens["Bob"]
    with pytest.raises(TesseraError, match="already enrolled"):
        c.vault.add_token(c.tokens["Alice"].custodian_id, bob.kind, "again", bob.recipient,
                          dict(bob.facts), actor="op")
    assert snapshot(c) == before


def test_drill_each_kind(c: Ceremony) -> None:
    for name in ("Alice", "Bob", "Carol"):
        result = drill(c.vault, c.drivers, c.record_id, c.tokens[name].id, ScriptedPrompts(),
                       threading.Event(), actor="op")
        assert result.ok
    assert c.vault.get_record(c.record_id).state is RecordState.SEALED


def test_every_approval_signature_verifies(c: Ceremony) -> None:
    from tessera.custody.evidence import verify_approvals

    ceremony = start(c)
    ceremony.contribute_token(c.tokens["Bob"].id, ScriptedPrompts(), threading.Event())
    ceremony.contribute_token(c.tokens["Carol"].id, ScriptedPrompts(), threading.Event())
    ceremony.finish()
    drill(c.vault, c.drivers, c.record_id, c.tokens["Alice"].id, ScriptedPrompts(),
          threading.Event(), actor="op")
    assert verify_approvals(c.vault, c.drivers) == []
