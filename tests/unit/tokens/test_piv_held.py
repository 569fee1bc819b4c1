"""A YubiKey another program holds for a moment (a program that watches the keys opens
each card over and over) is waited for; one held on is said to be in use, not removed.
Through the real pcscd: tests/pcsc, a drill beside a second process listing the keys."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from smartcard.Exceptions import CardConnectionException

from tessera.tokens import piv_devices
from tessera.tokens.piv_devices import SHARING_VIOLATION, PivDevice
from tessera.tokens.piv_errors import KeyInUse

READER = "Yubico YubiKey OTP+FIDO+CCID 00 00"


class HeldCard:
    """A card another program holds for its first ``held_for`` openings."""

    def __init__(self, held_for: int, hresult: int = SHARING_VIOLATION) -> None:
        self.held_for, self.hresult, self.tries = held_for, hresult, 0
        self.reader = SimpleNamespace(name=READER)

    def open_connection(self, _kind: object) -> str:
        self.tries += 1
        if self.tries <= self.held_for:
            raise CardConnectionException("Sharing violation", hresult=self.hresult)
        return "connection"


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(piv_devices, "RETRY_SECONDS", 0.001)
    monkeypatch.setattr(piv_devices, "BUSY_WAIT", 0.05)


def test_a_card_held_for_a_moment_is_opened_once_let_go() -> None:
    card = HeldCard(held_for=3)
    assert PivDevice(card, 5550001, "5.7.1", virtual=False).open() == "connection"
    assert card.tries == 4


def test_a_card_held_on_is_in_use_by_another_program_not_removed() -> None:
    card = HeldCard(held_for=10**9)
    with pytest.raises(KeyInUse, match=r"in use by another program \(Yubico YubiKey OTP"):
        PivDevice(card, 5550001, "5.7.1", virtual=False).open()
    assert card.tries > 1


def test_any_other_failure_to_open_is_not_waited_for() -> None:
    card = HeldCard(held_for=1, hresult=-1)  # no sharing violation: gone, or mute
    with pytest.raises(CardConnectionException):
        PivDevice(card, 5550001, "5.7.1", virtual=False).open()
    assert card.tries == 1
