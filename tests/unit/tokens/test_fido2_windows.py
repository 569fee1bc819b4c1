"""The Windows WebAuthn path, with the Windows client replaced by a stand-in.

The stand-in plays Windows: it receives the same options the driver would send to
``WindowsClient`` and answers them with a virtual key (Windows shows its own PIN and
touch dialogs, so the driver's prompts are never used for them).
"""

from __future__ import annotations

import os
import threading

import pytest
from fido2.client import ClientError, Fido2Client, UserInteraction

from tessera.core.age import encrypt, parse_recipient
from tessera.core.errors import TokenError, UserCancelled
from tessera.tokens.base import TokenInfo, TokenKind
from tessera.tokens.fido2 import Fido2Driver
from tessera.tokens.fido2_client import windows_platform_client
from tessera.tokens.fido2_errors import PrfUnsupported
from tessera.tokens.virtual.ctap import VirtualAuthenticator

PIN = "2468"


class SilentPrompts:
    def request_pin(self, token, attempts_left):
        raise AssertionError("Windows asks for the PIN itself")

    def request_new_pin(self, token, reason):
        raise AssertionError("Windows sets up a PIN itself")

    def touch_needed(self, token):
        pass

    def touch_done(self, token):
        pass

    def notice(self, message):
        pass


class WindowsDialogs(UserInteraction):
    def request_pin(self, permissions, rp_id):
        return PIN


class FakeWindowsClient:
    """Stands in for fido2.client.windows.WindowsClient(collector)."""

    def __init__(self, collector, device: VirtualAuthenticator, fail: Exception | None = None):
        self.collector = collector
        self.calls: list[tuple[str, object]] = []
        self._client = Fido2Client(device, collector, WindowsDialogs())
        self._fail = fail

    def make_credential(self, options, event=None):
        self.calls.append(("make_credential", options))
        return self._client.make_credential(options, event)

    def get_assertion(self, options, event=None):
        self.calls.append(("get_assertion", options))
        if self._fail is not None:
            raise self._fail
        return self._client.get_assertion(options, event)


def windows_driver(
    device: VirtualAuthenticator, made: list[FakeWindowsClient], fail=None
) -> Fido2Driver:
    def factory(collector):
        client = FakeWindowsClient(collector, device, fail)
        made.append(client)
        return client

    def no_devices():
        raise AssertionError("with the Windows client the driver must not open HID devices")

    return Fido2Driver(no_devices, platform_client=factory)


def test_windows_client_is_chosen_only_without_admin_rights():
    assert windows_platform_client(available=lambda: True, is_admin=lambda: False) is not None
    assert windows_platform_client(available=lambda: True, is_admin=lambda: True) is None
    assert windows_platform_client(available=lambda: False, is_admin=lambda: False) is None
    assert windows_platform_client() is None  # not Windows here


def test_enrol_and_unlock_through_the_windows_client():
    device = VirtualAuthenticator(pin=PIN)
    made: list[FakeWindowsClient] = []
    driver = windows_driver(device, made)
    enrolled = driver.enroll(None, "Alice", SilentPrompts(), threading.Event())
    kinds = [name for client in made for name, _ in client.calls]
    assert kinds == ["make_credential", "get_assertion"]
    create = made[0].calls[0][1]
    assert create.rp.id == "tessera-custody.invalid"
    assert create.authenticator_selection.user_verification == "required"
    assert create.extensions == {"prf": {}}

    token = TokenInfo(
        "t", "c", "Alice", TokenKind.FIDO2, enrolled.label, enrolled.recipient, enrolled.facts
    )
    envelope = encrypt(b"alice share", [parse_recipient(enrolled.recipient)])
    challenge = os.urandom(32)
    unlocked = driver.unlock(token, envelope, challenge, SilentPrompts(), threading.Event())
    assert bytes(unlocked.share) == b"alice share"
    assert driver.verify(token, challenge, unlocked.evidence)
    request = made[-1].calls[-1][1]
    assert request.challenge == challenge
    assert request.user_verification == "required"
    assert [c.id for c in request.allow_credentials] == [_cred_id(token)]
    assert request.extensions["prf"]["eval"]["first"] is not None


def _cred_id(token: TokenInfo) -> bytes:
    from tessera.tokens.fido2_keys import from_b64url

    return from_b64url(token.facts["credential_id"])


def test_windows_refuses_a_key_without_prf():
    device = VirtualAuthenticator(pin=PIN, hmac_secret=False)
    with pytest.raises(PrfUnsupported):
        windows_driver(device, []).enroll(None, "Alice", SilentPrompts(), threading.Event())


class _WinError(OSError):
    def __init__(self, winerror: int) -> None:
        super().__init__("windows")
        self.winerror = winerror


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (ClientError(ClientError.ERR.OTHER_ERROR, _WinError(-2147023673)), UserCancelled),
        (ClientError(ClientError.ERR.OTHER_ERROR, _WinError(-2147024809)), TokenError),
    ],
)
def test_windows_dialog_errors_are_translated(failure, expected):
    device = VirtualAuthenticator(pin=PIN)
    driver = windows_driver(device, [])
    enrolled = driver.enroll(None, "Alice", SilentPrompts(), threading.Event())
    token = TokenInfo(
        "t", "c", "Alice", TokenKind.FIDO2, enrolled.label, enrolled.recipient, enrolled.facts
    )
    failing = windows_driver(device, [], fail=failure)
    with pytest.raises(expected):
        failing.unlock(token, b"", os.urandom(32), SilentPrompts(), threading.Event())
