"""A virtual YubiKey as discovery sees it: the ``(device, DeviceInfo)`` pair of ykman.

``ykman.device.list_all_devices()`` returns ``(YkmanDevice, DeviceInfo)`` tuples.
:class:`VirtualYubiKey` is a ``YkmanDevice`` whose smart-card connection is a
:class:`~tessera.tokens.virtual.piv_card.VirtualPivCard`, so the PIV driver can list
and open virtual and real YubiKeys with the same code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from smartcard.Exceptions import NoCardException
from ykman.base import REINSERT_STATUS, YkmanDevice
from yubikit.core import TRANSPORT, Version
from yubikit.management import CAPABILITY, FORM_FACTOR, DeviceConfig, DeviceInfo

from tessera.tokens.virtual.piv_card import VirtualPivCard


class VirtualYubiKey(YkmanDevice):
    """A YubiKey 5 whose only working application is the virtual PIV card."""

    def __init__(self, card: VirtualPivCard, form_factor: FORM_FACTOR = FORM_FACTOR.USB_A_KEYCHAIN):
        super().__init__(card.transport, ("tessera-virtual-piv", card.serial), None)
        self.card = card
        self.form_factor = form_factor

    @property
    def info(self) -> DeviceInfo:
        """Device info as the management application would report it."""
        capabilities = {self.card.transport: CAPABILITY.PIV}
        return DeviceInfo(
            config=DeviceConfig(enabled_capabilities=dict(capabilities)),
            serial=self.card.serial,
            version=Version(*self.card.version),
            form_factor=self.form_factor,
            supported_capabilities=capabilities,
            is_locked=False,
        )

    def listing(self) -> tuple[VirtualYubiKey, DeviceInfo]:
        """This key as one entry of ``list_all_devices()``."""
        return self, self.info

    def supports_connection(self, connection_type: type[Any]) -> bool:
        return issubclass(VirtualPivCard, connection_type)

    def open_connection(self, connection_type: Any) -> Any:
        """Open the card; like a reader with no card in it when the card is pulled out."""
        if not (isinstance(connection_type, type) and self.supports_connection(connection_type)):
            raise ValueError("Unsupported Connection type")
        if not self.card.present:
            raise NoCardException("Card not present", hresult=-1)
        return self.card

    def _do_reinsert(
        self, reinsert_cb: Callable[[REINSERT_STATUS], None], event: threading.Event
    ) -> None:
        """A virtual key is removed and reinserted at once when ykman asks for it."""
        reinsert_cb(REINSERT_STATUS.REMOVE)
        self.card.pull_out()
        reinsert_cb(REINSERT_STATUS.REINSERT)
        self.card.plug_in()

    @property
    def transport(self) -> TRANSPORT:
        return self.card.transport


def virtual_listing(keys: list[VirtualYubiKey]) -> list[tuple[YkmanDevice, DeviceInfo]]:
    """The present virtual keys, shaped like ``list_all_devices()``'s result."""
    return [(key, key.info) for key in keys if key.card.present]
