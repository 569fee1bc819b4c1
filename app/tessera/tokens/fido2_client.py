"""How the FIDO2 driver talks to python-fido2: client data, user interaction, client choice.

* :class:`TesseraClientData` fixes the origin to ``https://tessera-custody.invalid`` and
  accepts only Tessera's RP id, so nothing else can ever be asked of the key through us.
* :class:`PromptsInteraction` bridges fido2's :class:`~fido2.client.UserInteraction`
  to our :class:`~tessera.tokens.base.Prompts` (no Qt here).
* :func:`windows_platform_client` returns a factory for the Windows WebAuthn API client
  when the process cannot open FIDO HID devices itself (Windows 10 1903+ without admin).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from fido2.client import DefaultClientDataCollector, UserInteraction, WebAuthnClient
from fido2.ctap2.pin import ClientPin

from tessera.tokens.base import Prompts
from tessera.tokens.fido2_keys import ORIGIN, RP_ID

PlatformClientFactory = Callable[[DefaultClientDataCollector], WebAuthnClient]


def _only_tessera(rp_id: str, origin: str) -> bool:
    return rp_id == RP_ID and origin == ORIGIN


class TesseraClientData(DefaultClientDataCollector):
    """Client data for origin ``https://tessera-custody.invalid``, RP id checked exactly."""

    def __init__(self) -> None:
        super().__init__(ORIGIN, verify=_only_tessera)


class PromptsInteraction(UserInteraction):
    """fido2's prompts answered through ours, for one driver operation.

    The PIN the person typed (or just chose) is kept in memory for the rest of this
    one operation, so an enrolment (two requests to the key) asks for it once; it is
    dropped by :meth:`finish`. ``read_retries`` reads the key's PIN retry counter so
    the PIN dialog can say how many attempts are left.
    """

    def __init__(
        self,
        prompts: Prompts,
        label: str,
        read_retries: Callable[[], int | None],
        pin: str | None = None,
    ) -> None:
        self._prompts = prompts
        self._label = label
        self._read_retries = read_retries
        self._pin = pin
        self.touch_prompted = False

    def prompt_up(self) -> None:
        self.touch_prompted = True
        self._prompts.touch_needed(self._label)

    def request_pin(self, permissions: ClientPin.PERMISSION, rp_id: str | None) -> str | None:
        if self._pin:
            return self._pin
        pin = self._prompts.request_pin(self._label, self._read_retries())
        self._pin = pin or None
        return self._pin

    def request_uv(self, permissions: ClientPin.PERMISSION, rp_id: str | None) -> bool:
        return True

    def forget_pin(self) -> None:
        """Drop a remembered PIN (after the key rejected it)."""
        self._pin = None

    def touch_finished(self) -> None:
        """Tell the front end the key no longer waits for a touch."""
        if self.touch_prompted:
            self.touch_prompted = False
            self._prompts.touch_done(self._label)

    def finish(self) -> None:
        self.touch_finished()
        self._pin = None


def _is_admin() -> bool:
    if sys.platform == "win32":
        import ctypes

        return bool(ctypes.windll.shell32.IsUserAnAdmin())
    return False


def _windows_client_available() -> bool:
    if sys.platform != "win32":
        return False
    from fido2.client.windows import WindowsClient

    return bool(WindowsClient.is_available())


def _make_windows_client(collector: DefaultClientDataCollector) -> WebAuthnClient:
    from fido2.client.windows import WindowsClient

    client: WebAuthnClient = WindowsClient(collector)
    return client


def windows_platform_client(
    *,
    available: Callable[[], bool] = _windows_client_available,
    is_admin: Callable[[], bool] = _is_admin,
) -> PlatformClientFactory | None:
    """The Windows WebAuthn client factory when it must be used, else ``None``.

    Since Windows 10 1903 only administrators may talk to FIDO HID devices directly;
    everyone else goes through the Windows WebAuthn API, which shows its own PIN and
    touch dialogs.
    """
    if available() and not is_admin():
        return _make_windows_client
    return None
