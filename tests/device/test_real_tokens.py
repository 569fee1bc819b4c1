"""The enrol → unlock → verify flows against real hardware.

Destructive: they set PINs, migrate management keys and fill PIV slots. Skipped unless
``--device SERIAL`` names the YubiKey to use (``--device fido2`` for the one FIDO2 key
plugged in). The PIN is read from ``TESSERA_DEVICE_PIN``.
"""

from __future__ import annotations

import os
import threading

import pytest

from tessera.core import age
from tessera.core.token_types import TokenInfo

pytestmark = pytest.mark.device


class EnvPrompts:
    def __init__(self) -> None:
        self.pin = os.environ.get("TESSERA_DEVICE_PIN", "")

    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        return self.pin or None

    def request_new_pin(self, token: str, reason: str) -> str | None:
        return self.pin or None

    def touch_needed(self, token: str) -> None:
        print(f"Touch {token} now")

    def touch_done(self, token: str) -> None:
        pass

    def notice(self, message: str) -> None:
        print(message)


def _round_trip(driver, enrolled, kind) -> None:  # type: ignore[no-untyped-def]
    token = TokenInfo("device-test", "c", "Device tester", kind, enrolled.label,
                      enrolled.recipient, enrolled.facts)
    envelope = age.encrypt(b"device test share", [age.parse_recipient(enrolled.recipient)])
    challenge = os.urandom(32)
    unlocked = driver.unlock(token, envelope, challenge, EnvPrompts(), threading.Event())
    assert bytes(unlocked.share) == b"device test share"
    assert driver.verify(token, challenge, unlocked.evidence)
    assert not driver.verify(token, os.urandom(32), unlocked.evidence)


def test_fido2_key(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--device") != "fido2":
        pytest.skip("--device fido2 selects the FIDO2 test")
    from tessera.tokens.base import TokenKind
    from tessera.tokens.fido2 import Fido2Driver

    driver = Fido2Driver()
    enrolled = driver.enroll(None, "Device tester", EnvPrompts(), threading.Event())
    _round_trip(driver, enrolled, TokenKind.FIDO2)


def test_yubikey_piv(request: pytest.FixtureRequest) -> None:
    serial = request.config.getoption("--device")
    if not str(serial).isdigit():
        pytest.skip("--device SERIAL selects the PIV test")
    from tessera.tokens.base import TokenKind
    from tessera.tokens.piv import PivDriver

    driver = PivDriver()
    card = driver.find_device(int(serial))
    assert card is not None, f"no YubiKey with serial {serial}"
    connection = card.open()
    try:
        enrolled = driver.enroll(connection, "Device tester", EnvPrompts(), threading.Event())
    finally:
        connection.close()
    _round_trip(driver, enrolled, TokenKind.PIV)
