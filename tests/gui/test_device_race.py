"""The device poller and the token worker never race for a smart card.

ykman opens each card exclusively while it lists it (PC/SC ``SCARD_SHARE_EXCLUSIVE``),
and a card held by someone else is skipped from the listing. So a drill that starts
while the status-bar poller lists keys would not find the custodian's YubiKey and say
"This is not Alice's key" with the right key plugged in. Listings and jobs share the
worker's ``device_lock``; these tests force the interleaving and also run drills
against a poller listing every few milliseconds. The same drills go through a real
pcscd in ``tests/unit/tokens/test_pcscd_end_to_end.py``.
"""

from __future__ import annotations

import os
import random
import threading
import time

import pytest
from smartcard.Exceptions import CardConnectionException
from yubikit.core.smartcard import SmartCardConnection

from tessera.core.age import encrypt, parse_recipient
from tessera.core.errors import WrongToken
from tessera.custody.drivers import TokenDrivers
from tessera.gui.device_poller import DevicePoller
from tessera.gui.worker import TokenWorker
from tessera.tokens.base import TokenInfo, TokenKind
from tessera.tokens.piv import PivDriver
from tessera.tokens.software import SoftwareKeyStore
from tessera.tokens.virtual.piv_card import VirtualPivCard
from tessera.tokens.virtual.piv_device import VirtualYubiKey
from tessera.tokens.virtual.touch import TouchControl

PIN = "31415926"


class HeldConnection(SmartCardConnection):
    """The card while one client holds it exclusively; closing lets go."""

    def __init__(self, card: VirtualPivCard, held: threading.Lock) -> None:
        self._card, self._held = card, held

    @property
    def transport(self):
        return self._card.transport

    def send_and_receive(self, apdu: bytes):
        return self._card.send_and_receive(apdu)

    def set_cancel(self, cancel) -> None:
        self._card.set_cancel(cancel)

    def close(self) -> None:
        self._card.close()
        self._held.release()


class ExclusiveYubiKey(VirtualYubiKey):
    """A virtual YubiKey behind a reader that, like pcscd, lets one client in at a time."""

    def __init__(self, card: VirtualPivCard) -> None:
        super().__init__(card)
        self.held = threading.Lock()
        self.listing_hold = threading.Event()
        self.listing_hold.set()  # set: a listing passes straight through
        self.listing_started = threading.Event()

    def open_connection(self, connection_type):
        if not self.held.acquire(blocking=False):
            raise CardConnectionException("Sharing violation")  # SCARD_E_SHARING_VIOLATION
        return HeldConnection(self.card, self.held)

    def ykman_listing(self):
        """What list_all_devices() does per reader: open, read the device info, close."""
        if not self.held.acquire(blocking=False):
            return []  # ykman logs the failure and leaves the key out
        try:
            self.listing_started.set()
            self.listing_hold.wait(10)
            time.sleep(0.002)  # a few APDUs to read the device info
            return [(self, self.info)]
        finally:
            self.held.release()


class AutoPrompts:
    def request_pin(self, token, attempts_left):
        return PIN

    def request_new_pin(self, token, reason):
        return PIN

    def touch_needed(self, token): ...

    def touch_done(self, token): ...

    def notice(self, message): ...


@pytest.fixture
def rig(tmp_path, qtbot):
    card = VirtualPivCard(serial=5550001, touch=TouchControl("immediate"))
    key = ExclusiveYubiKey(card)
    driver = PivDriver(devices=key.ykman_listing)
    connection = key.open_connection(SmartCardConnection)
    try:
        enrolled = driver.enroll(connection, "Alice", AutoPrompts(), threading.Event())
    finally:
        connection.close()
    token = TokenInfo(id="tok-1", custodian_id="c-alice", custodian_name="Alice",
                      kind=TokenKind.PIV, label=enrolled.label, recipient=enrolled.recipient,
                      facts=enrolled.facts)
    drivers = TokenDrivers(SoftwareKeyStore(tmp_path / "keys"), piv_devices=key.ykman_listing)
    worker = TokenWorker()
    jobs: list[object] = []
    yield key, driver, token, drivers, worker, jobs
    worker.shutdown()


def drill_job(driver, token, envelope, outcomes, worker, jobs):
    """Submit one drill; the job is kept, as a window keeps its jobs, until the test ends."""
    jobs.append(worker.submit(
        lambda prompts, cancel: driver.unlock(token, envelope, os.urandom(32), AutoPrompts(),
                                              cancel),
        on_success=lambda unlocked: outcomes.append(bytes(unlocked.share)),
        on_failure=outcomes.append))


def test_a_drill_that_starts_during_a_listing_waits_for_it(rig, qtbot):
    key, driver, token, drivers, worker, jobs = rig
    envelope = encrypt(b"share", [parse_recipient(token.recipient)])
    poller = DevicePoller(drivers, busy=lambda: worker.busy, lock=worker.device_lock,
                          interval=600)
    key.listing_hold.clear()  # the next listing stops while it holds the card
    poller.start()
    assert key.listing_started.wait(5)
    outcomes: list[object] = []
    drill_job(driver, token, envelope, outcomes, worker, jobs)  # submitted mid-listing
    key.listing_hold.set()
    qtbot.waitUntil(lambda: bool(outcomes), timeout=10000)
    poller.stop()
    assert outcomes == [b"share"]


def test_forty_drills_beside_a_busy_poller_never_say_wrong_key(rig, qtbot):
    _key, driver, token, drivers, worker, jobs = rig
    envelope = encrypt(b"share", [parse_recipient(token.recipient)])
    poller = DevicePoller(drivers, busy=lambda: worker.busy, lock=worker.device_lock,
                          interval=0.001)
    poller.start()
    outcomes: list[object] = []
    chance = random.Random(10)  # timing jitter, not crypto
    for n in range(40):
        time.sleep(chance.uniform(0, 0.004))
        drill_job(driver, token, envelope, outcomes, worker, jobs)
        qtbot.waitUntil(lambda n=n: len(outcomes) > n, timeout=10000)
    poller.stop()
    wrong = [o for o in outcomes if isinstance(o, WrongToken)]
    assert not wrong and outcomes == [b"share"] * 40
