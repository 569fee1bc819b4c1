"""A virtual YubiKey in a card reader served by pcscd: Tessera's PIV card behind vpcd.

vsmartcard's ``vpcd`` is a pcscd reader driver that, in server mode, listens on a
loopback port for a "virtual ICC". This bridge is that ICC: it connects to the port
and answers vpcd's frames (2-byte big-endian length, then either a 1-byte control
code — power off 0, power on 1, reset 2, ATR 4 — or a command APDU) with a YubiKey 5's
ATR and responses. Two applets are served:

* PIV: :class:`~tessera.tokens.virtual.piv_card.VirtualPivCard` (state in a file);
* the YubiKey management applet, just enough for ykman's device info (version, serial,
  capabilities, form factor), so discovery reports the serial as for a real key.

Run: ``python vpcd_bridge.py PORT STATE_FILE SERIAL [TOUCH]``. It prints
``touch-waiting`` when the card waits for a touch and touches on SIGUSR1. Killing the
process is pulling the key out: vpcd sees its socket close.
"""

from __future__ import annotations

import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

from tessera.tokens.virtual.piv_card import VirtualPivCard
from tessera.tokens.virtual.touch import TouchControl

# A YubiKey 5's ATR over USB: T0 = 0xFD (the high nibble 0xF tells ykman it is USB).
YUBIKEY_ATR = bytes.fromhex("3bfd1300008131fe158073c021c057597562694b657940")
MANAGEMENT_AID = bytes.fromhex("a000000527471117")
CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4
SW_OK = b"\x90\x00"
SW_NOT_FOUND = b"\x6a\x82"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
CAPABILITIES = 0x033B  # OTP U2F OPENPGP PIV OATH HSMAUTH FIDO2


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value


class YubiKeyApplets:
    """Routes APDUs to the applet selected last, like the card's applet manager."""

    def __init__(self, card: VirtualPivCard) -> None:
        self.card = card
        self._management = False

    def device_info(self) -> bytes:
        version = bytes(self.card.version)
        tlvs = (
            _tlv(0x01, CAPABILITIES.to_bytes(2, "big"))  # USB supported
            + _tlv(0x02, self.card.serial.to_bytes(4, "big"))
            + _tlv(0x03, CAPABILITIES.to_bytes(2, "big"))  # USB enabled
            + _tlv(0x04, b"\x01")  # form factor: USB-A keychain
            + _tlv(0x05, version)
            + _tlv(0x0A, b"\x00")  # configuration not locked
        )
        return bytes([len(tlvs)]) + tlvs

    def transmit(self, apdu: bytes) -> bytes:
        if len(apdu) >= 5 and apdu[1] == 0xA4 and apdu[2] == 0x04:
            aid = apdu[5 : 5 + apdu[4]]
            if MANAGEMENT_AID.startswith(aid) and len(aid) >= 8:
                self._management = True
                text = "Virtual mgr - FW version {}.{}.{}".format(*self.card.version)
                return text.encode() + SW_OK
            self._management = False
        if self._management:
            if apdu[1] == 0x1D:  # READ CONFIG, page 0
                return self.device_info() + SW_OK
            return SW_INS_NOT_SUPPORTED
        data, sw = self.card.send_and_receive(apdu)
        return data + struct.pack(">H", sw)


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("vpcd closed the connection")
        data += chunk
    return data


def serve(port: int, card: VirtualPivCard) -> None:
    applets = YubiKeyApplets(card)
    deadline = time.monotonic() + 20
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    sock.settimeout(None)
    print("connected", flush=True)
    while True:
        (length,) = struct.unpack(">H", _read_exact(sock, 2))
        message = _read_exact(sock, length)
        if length == 1:
            if message[0] == CTRL_ATR:
                sock.sendall(struct.pack(">H", len(YUBIKEY_ATR)) + YUBIKEY_ATR)
            elif message[0] in (CTRL_OFF, CTRL_RESET):
                card.close()  # a power cycle forgets PIN and management-key state
            continue
        response = applets.transmit(message)
        sock.sendall(struct.pack(">H", len(response)) + response)


def main(argv: list[str]) -> None:
    port, state, serial = int(argv[0]), Path(argv[1]), int(argv[2])
    touch = TouchControl(argv[3] if len(argv) > 3 else "immediate")
    card = VirtualPivCard(serial=serial, touch=touch, state_path=state, touch_timeout=15)
    signal.signal(signal.SIGUSR1, lambda *_: touch.press())

    def announce() -> None:
        while True:
            touch.waiting.wait()
            print("touch-waiting", flush=True)
            while touch.waiting.is_set():
                time.sleep(0.01)

    threading.Thread(target=announce, daemon=True).start()
    serve(port, card)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except ConnectionError:
        sys.exit(0)
