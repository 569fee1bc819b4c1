"""A real pcscd with vpcd readers, and virtual YubiKeys plugged into them, for tests.

pcscd 1.9.9 always serves ``/run/pcscd/pcscd.comm``: it needs root, and no other pcscd
may run at the same time (a file lock keeps two test runs on one machine apart). The
daemon gets its own reader configuration (``pcscd -c DIR``): one vpcd driver in server
mode on a free loopback port, named "Yubico YubiKey OTP+FIDO+CCID" because ykman only
looks at readers whose name contains "Yubico YubiKey". vpcd offers two readers (port
and port + 1); a YubiKey is "plugged in" by starting a bridge process
(``vpcd_bridge.py``) on that port and pulled out by killing it. Every process started
here is stopped by its process id.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
LOCK_FILE = Path("/tmp/tessera-pcscd-tests.lock")
READER_NAME = "Yubico YubiKey OTP+FIDO+CCID"
BRIDGE = Path(__file__).with_name("vpcd_bridge.py")


def why_not_possible() -> str | None:
    """Why a private pcscd cannot run here, or None when it can."""
    if not sys.platform.startswith("linux"):
        return "pcscd with vpcd is Linux only"
    if os.geteuid() != 0:
        return "pcscd 1.9.9 always binds /run/pcscd/pcscd.comm, which needs root"
    if shutil.which("pcscd") is None:
        return "pcscd is not installed (scripts/bootstrap.sh installs it)"
    if not VPCD_DRIVER.exists():
        return "vsmartcard-vpcd is not installed (scripts/bootstrap.sh installs it)"
    return None


def _socket_served() -> bool:
    if not PCSCD_SOCKET.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(PCSCD_SOCKET))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return int(port)
    raise RuntimeError("no two free loopback ports in a row")


class PcscdBusy(RuntimeError):
    """Another pcscd serves the socket: these tests cannot start theirs."""


class Bridge:
    """One virtual YubiKey plugged into a vpcd reader (a process)."""

    def __init__(self, port: int, state: Path, serial: int, touch: str, log: Path) -> None:
        self.serial = serial
        self.lines: queue.Queue[str] = queue.Queue()
        self._stderr = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(BRIDGE), str(port), str(state), str(serial), touch],
            stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        threading.Thread(target=self._pump, daemon=True).start()
        self.wait_for("connected", 20)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the bridge never said {text!r}")
            try:
                if self.lines.get(timeout=remaining) == text:
                    return
            except queue.Empty:
                continue

    def touch(self) -> None:
        os.kill(self.process.pid, signal.SIGUSR1)

    def pull_out(self) -> None:
        """Kill the process by its id: vpcd sees the card leave the reader."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(5)
        self._stderr.close()


class Pcscd:
    """A private pcscd with two vpcd readers; :meth:`plug_in` puts a YubiKey in one."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.bridges: dict[int, Bridge] = {}
        self._lock_file = LOCK_FILE.open("a")

    def start(self) -> None:
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)  # another run on this machine: wait
        if _socket_served():
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            raise PcscdBusy(
                "another pcscd is already serving /run/pcscd/pcscd.comm; stop it (by its "
                "process id) to run these tests")
        self.port = _free_port_pair()
        conf = self.workdir / "reader.conf.d"
        conf.mkdir()
        (conf / "tessera-vpcd").write_text(
            f'FRIENDLYNAME "{READER_NAME}"\n'
            f"DEVICENAME   /dev/null:0x{self.port:04X}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    0x{self.port:04X}\n")
        log = (self.workdir / "pcscd.log").open("wb")
        self.process = subprocess.Popen(["pcscd", "--foreground", "-c", str(conf)],
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not _socket_served():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pcscd did not start: see {self.workdir / 'pcscd.log'}")
            time.sleep(0.05)

    def plug_in(self, reader: int, serial: int, touch: str = "immediate") -> Bridge:
        """Start the card's bridge and return once pcscd itself sees the card (vpcd is
        polled: on a busy machine "connected" comes well before the reader says so)."""
        state = self.workdir / f"yubikey-{serial}.json"
        for attempt in range(3):
            bridge = Bridge(self.port + reader, state, serial, touch,
                            self.workdir / "bridge.log")
            try:
                self._wait_for_card(reader, present=True, timeout=10)
            except TimeoutError:
                # vpcd sometimes misses a card plugged back in right after a removal
                # mid-transaction: pull it out and plug it in again, as a person would.
                bridge.pull_out()
                if attempt == 2:
                    raise
                continue
            self.bridges[reader] = bridge
            return bridge
        raise AssertionError("unreachable")

    def pull_out(self, reader: int) -> None:
        self.bridges.pop(reader).pull_out()
        self._wait_for_card(reader, present=False)

    def _wait_for_card(self, reader: int, *, present: bool, timeout: float = 30) -> None:
        from smartcard import scard

        _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                _, names = scard.SCardListReaders(context, [])
                ours = sorted(n for n in names or [] if n.startswith(READER_NAME))
                if len(ours) > reader:
                    hresult, states = scard.SCardGetStatusChange(
                        context, 0, [(ours[reader], scard.SCARD_STATE_UNAWARE)])
                    if hresult == scard.SCARD_S_SUCCESS:
                        seen = bool(states[0][1] & scard.SCARD_STATE_PRESENT)
                        if seen == present:
                            return
                time.sleep(0.05)
        finally:
            scard.SCardReleaseContext(context)
        raise TimeoutError(f"pcscd never saw reader {reader} "
                           f"{'holding' if present else 'without'} a card")

    @contextlib.contextmanager
    def held(self, reader: int) -> Iterator[None]:
        """Hold the card in ``reader`` exclusively, as another program (gpg's scdaemon,
        a browser) holding a YubiKey does, until the block ends."""
        from smartcard import scard

        _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        try:
            _, names = scard.SCardListReaders(context, [])
            name = sorted(n for n in names or [] if n.startswith(READER_NAME))[reader]
            hresult, card, _ = scard.SCardConnect(
                context, name, scard.SCARD_SHARE_EXCLUSIVE,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
            if hresult != scard.SCARD_S_SUCCESS:
                raise RuntimeError(f"could not hold reader {reader}: {hresult:#x}")
            try:
                yield
            finally:
                scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        finally:
            scard.SCardReleaseContext(context)

    def wait_until_idle(self, timeout: float = 15) -> None:
        """Return once no program holds a card in our readers: pcscd releases (and
        resets) a card some time after the process that used it has exited, and on a
        busy machine the next command could otherwise find it still held (a sharing
        violation) and not list it."""
        from smartcard import scard

        busy = scard.SCARD_STATE_INUSE | scard.SCARD_STATE_EXCLUSIVE
        _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                _, names = scard.SCardListReaders(context, [])
                ours = [n for n in names or [] if n.startswith(READER_NAME)]
                hresult, states = scard.SCardGetStatusChange(
                    context, 0, [(n, scard.SCARD_STATE_UNAWARE) for n in ours])
                if hresult == scard.SCARD_S_SUCCESS and not any(s[1] & busy for s in states):
                    return
                time.sleep(0.05)
        finally:
            scard.SCardReleaseContext(context)
        raise TimeoutError("a card in pcscd's readers stayed in use")

    def stop(self) -> None:
        for reader in list(self.bridges):
            self.pull_out(reader)
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()
