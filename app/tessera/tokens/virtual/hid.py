"""The virtual authenticator behind a USB HID transport that speaks CTAPHID frames.

python-fido2's :class:`~fido2.hid.CtapHidDevice` talks to a real key through a
:class:`~fido2.hid.base.CtapHidConnection` that moves 64-byte reports. This module is
such a connection for :class:`~tessera.tokens.virtual.ctap.VirtualAuthenticator`, so a
virtual key is reached exactly the way a USB key is (CTAP 2.1 §11.2):

* INIT on the broadcast channel allocates a channel and reports the capabilities
  (a CTAP1/U2F-only key reports no CBOR);
* a request arrives as an initialisation packet plus numbered continuation packets and
  is answered the same way;
* while the key works it sends KEEPALIVE every 100 ms, with status UPNEEDED once it
  waits for a touch, which is how the host learns to show "touch your key";
* the host stops a pending request with a CTAPHID_CANCEL packet (nothing else reaches
  the key), and the key answers with CTAP2_ERR_KEEPALIVE_CANCEL;
* unknown commands and busy channels are answered with an ERROR packet;
* a key pulled out makes every read and write fail with ``OSError``, as hidraw does.
"""

from __future__ import annotations

import errno
import itertools
import queue
import struct
import threading
import weakref
from collections.abc import Callable

from fido2.ctap import STATUS, CtapError
from fido2.hid import CAPABILITY, CTAPHID, TYPE_INIT, CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

from tessera.tokens.virtual.ctap import VirtualAuthenticator

PACKET_SIZE = 64
BROADCAST = 0xFFFFFFFF
KEEPALIVE_SECONDS = 0.1
DEVICE_VERSION = (5, 7, 1)
ERR_INVALID_CMD = 0x01
ERR_INVALID_SEQ = 0x04
ERR_CHANNEL_BUSY = 0x06
ERR_INVALID_CHANNEL = 0x0B
ERR_OTHER = 0x7F

_channels = itertools.count(0x01000001)


class _Firmware:
    """The key's one processor: a thread per virtual key that runs its transactions.

    One thread for the key's whole life (not one per request), as a key has one CPU:
    whatever the key calls back (the demo's touch light in the GUI) always comes from
    the same long-lived thread. It ends when the key object is garbage collected.
    """

    def __init__(self) -> None:
        self.busy = threading.Lock()  # one transaction at a time, whichever channel
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="virtual-fido2-key",
                                        daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()

    def run(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def stop(self) -> None:
        self._jobs.put(None)


_firmware: weakref.WeakKeyDictionary[object, _Firmware] = weakref.WeakKeyDictionary()
_firmware_guard = threading.Lock()


def _firmware_of(authenticator: object) -> _Firmware:
    with _firmware_guard:
        firmware = _firmware.get(authenticator)
        if firmware is None:
            firmware = _firmware[authenticator] = _Firmware()
            weakref.finalize(authenticator, firmware.stop)
        return firmware


def _frames(channel: int, cmd: int, payload: bytes) -> list[bytes]:
    """A message as an initialisation packet and continuation packets, 64 bytes each."""
    header = struct.pack(">IBH", channel, TYPE_INIT | cmd, len(payload))
    first, rest = payload[: PACKET_SIZE - 7], payload[PACKET_SIZE - 7 :]
    packets = [(header + first).ljust(PACKET_SIZE, b"\0")]
    for seq in itertools.count():
        if not rest:
            break
        chunk, rest = rest[: PACKET_SIZE - 5], rest[PACKET_SIZE - 5 :]
        packets.append((struct.pack(">IB", channel, seq) + chunk).ljust(PACKET_SIZE, b"\0"))
    return packets


class VirtualHidConnection(CtapHidConnection):
    """One open hidraw-like handle on a virtual key.

    ``capabilities`` overrides what INIT reports (``CAPABILITY.WINK`` alone is a
    CTAP1/U2F-only key, which then refuses CBOR like such a key does).
    """

    def __init__(self, authenticator: VirtualAuthenticator, *, capabilities: int | None = None) -> None:
        self.authenticator = authenticator
        self._capabilities = (
            authenticator.capabilities if capabilities is None else capabilities
        )
        self._out: queue.Queue[bytes] = queue.Queue()
        self._channel: int | None = None
        self._assembling: tuple[int, int, int, bytearray] | None = None  # cmd, len, seq, data
        self._cancel = threading.Event()
        self._pending = threading.Event()  # a request of this channel is being processed
        self._closed = False

    # -- CtapHidConnection -----------------------------------------------------------
    def write_packet(self, data: bytes) -> None:
        self._check_present()
        if len(data) != PACKET_SIZE:
            raise OSError(errno.EINVAL, "a HID report is 64 bytes")
        channel = struct.unpack_from(">I", data)[0]
        kind = data[4]
        if kind & TYPE_INIT:
            cmd = kind & ~TYPE_INIT
            length = struct.unpack_from(">H", data, 5)[0]
            if cmd == CTAPHID.CANCEL:
                if channel == self._channel:
                    self._cancel.set()  # the pending request ends with KEEPALIVE_CANCEL
                return
            if cmd == CTAPHID.INIT:
                self._init(channel, bytes(data[7 : 7 + length]))
                return
            if channel != self._channel:
                self._send(channel, CTAPHID.ERROR, bytes([ERR_INVALID_CHANNEL]))
                return
            if self._pending.is_set():
                self._send(channel, CTAPHID.ERROR, bytes([ERR_CHANNEL_BUSY]))
                return
            self._assembling = (cmd, length, 0, bytearray(data[7 : 7 + length]))
        else:
            if self._assembling is None or channel != self._channel:
                return  # a stray continuation packet is ignored, as the spec says
            cmd, length, seq, body = self._assembling
            if kind != seq:
                self._assembling = None
                self._send(channel, CTAPHID.ERROR, bytes([ERR_INVALID_SEQ]))
                return
            body += data[5 : 5 + length - len(body)]
            self._assembling = (cmd, length, seq + 1, body)
        cmd, length, _, body = self._assembling
        if len(body) >= length:
            self._assembling = None
            self._start(channel, cmd, bytes(body[:length]))

    def read_packet(self) -> bytes:
        while True:
            try:
                return self._out.get(timeout=0.05)
            except queue.Empty:
                self._check_present()

    def close(self) -> None:
        self._closed = True
        self._cancel.set()

    # -- the device side -------------------------------------------------------------
    def _check_present(self) -> None:
        if self._closed or self.authenticator.removed:
            raise OSError(errno.ENODEV, "No such device")

    def _send(self, channel: int, cmd: int, payload: bytes) -> None:
        for packet in _frames(channel, cmd, payload):
            self._out.put(packet)

    def _init(self, channel: int, nonce: bytes) -> None:
        if len(nonce) != 8:
            self._send(channel, CTAPHID.ERROR, bytes([ERR_INVALID_CMD]))
            return
        if channel == BROADCAST or self._channel is None:
            self._channel = next(_channels)
        self._cancel.clear()
        response = nonce + struct.pack(">IBBBBB", self._channel, 2, *DEVICE_VERSION,
                                       self._capabilities)
        self._send(channel, CTAPHID.INIT, response)

    def _start(self, channel: int, cmd: int, payload: bytes) -> None:
        self._cancel.clear()
        firmware = _firmware_of(self.authenticator)
        if not firmware.busy.acquire(blocking=False):
            self._send(channel, CTAPHID.ERROR, bytes([ERR_CHANNEL_BUSY]))
            return
        self._pending.set()

        def job() -> None:
            try:
                self._run(channel, cmd, payload)
            except Exception:  # a fault inside the key: answer ERR_OTHER, keep the thread
                self._send(channel, CTAPHID.ERROR, bytes([ERR_OTHER]))
            finally:
                self._pending.clear()
                firmware.busy.release()

        firmware.run(job)

    def _run(self, channel: int, cmd: int, payload: bytes) -> None:
        if cmd == CTAPHID.CBOR and not self._capabilities & CAPABILITY.CBOR:
            self._send(channel, CTAPHID.ERROR, bytes([ERR_INVALID_CMD]))
            return
        if cmd == CTAPHID.MSG and self._capabilities & CAPABILITY.NMSG:
            self._send(channel, CTAPHID.ERROR, bytes([ERR_INVALID_CMD]))
            return
        status = [STATUS.PROCESSING]
        done = threading.Event()

        def keepalive() -> None:
            while not done.wait(KEEPALIVE_SECONDS):
                self._send(channel, CTAPHID.KEEPALIVE, bytes([status[0]]))

        def on_keepalive(value: STATUS) -> None:
            status[0] = value

        ticker = threading.Thread(target=keepalive, name="virtual-hid-keepalive", daemon=True)
        ticker.start()
        try:
            if cmd == CTAPHID.MSG:  # a U2F-only key: its APDUs are not modelled; "INS unknown"
                response = b"\x6d\x00"
            else:
                response = self.authenticator.call(cmd, payload, self._cancel, on_keepalive)
        except CtapError as e:
            done.set()
            self._send(channel, CTAPHID.ERROR, bytes([int(e.code)]))
            return
        except OSError:
            return  # pulled out: the host's next read fails
        finally:
            done.set()
            ticker.join()
        self._send(channel, cmd, response)


def hid_device(
    authenticator: VirtualAuthenticator,
    *,
    product_name: str | None = None,
    capabilities: int | None = None,
    connection: VirtualHidConnection | None = None,
) -> CtapHidDevice:
    """A :class:`CtapHidDevice` (python-fido2's own USB class) for a virtual key."""
    if connection is None:
        connection = VirtualHidConnection(authenticator, capabilities=capabilities)
    name = product_name or getattr(authenticator, "product_name", None)
    descriptor = HidDescriptor(
        path=f"virtual:{id(authenticator):x}",
        vid=0x1050,
        pid=0x0407,
        report_size_in=PACKET_SIZE,
        report_size_out=PACKET_SIZE,
        product_name=name,
        serial_number=getattr(authenticator, "serial_number", None),
    )
    return CtapHidDevice(descriptor, connection)


def virtual_authenticator(device: object) -> VirtualAuthenticator | None:
    """The virtual key behind ``device`` (a CtapHidDevice from :func:`hid_device`), if any."""
    connection = getattr(device, "_connection", None)
    if isinstance(connection, VirtualHidConnection):
        return connection.authenticator
    return None

