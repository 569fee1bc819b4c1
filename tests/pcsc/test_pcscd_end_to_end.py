"""YubiKey PIV through the real PC/SC stack: tessera → pyscard → pcscd → vpcd → card.

A private pcscd (Debian's) gets two vpcd readers named like a YubiKey's; a bridge
process serves Tessera's virtual PIV card plus a minimal YubiKey management applet in
each (see ``helpers/pcscd.py``). Everything else is the product as a custodian runs it:
the ``tessera`` command in a real (hardware-only, non-demo) vault, no ``--virtual``, and
``ykman`` against the same cards. Needs root (pcscd binds /run/pcscd/pcscd.comm); where
that is impossible the tests say why and skip — except in CI, where they must run.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.attestation import resources_trusting_demo_ca
from helpers.pcscd import Pcscd, PcscdBusy, why_not_possible
from tessera.core.age.bech32 import decode

ALICE, BOB = 5550001, 5550002
ALICE_PIN, BOB_PIN = "31415926", "27182818"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


@dataclass
class World:
    pcscd: Pcscd
    env: dict[str, str]
    enrol_output: dict[str, str]
    tmp: Path

    def tessera(self, *args: str, input: str = "", timeout: float = 120, idle: bool = True
                ) -> subprocess.CompletedProcess[str]:
        if idle:
            self.pcscd.wait_until_idle()  # the previous command's card session has ended
        return subprocess.run([BIN / "tessera", *args], input=input, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def ykman(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([BIN / "ykman", *args], env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    def impossible(reason: str) -> None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the pcscd tests, but: {reason}")
        pytest.skip(reason)

    reason = why_not_possible()
    if reason is not None:
        impossible(reason)
    tmp = tmp_path_factory.mktemp("pcscd")
    pcscd = Pcscd(tmp)
    try:
        try:
            pcscd.start()
        except PcscdBusy as e:
            impossible(str(e))
        pcscd.plug_in(0, ALICE)
        pcscd.plug_in(1, BOB)
        # The virtual cards attest (ATTEST, F9) under the demo CA; this workstation
        # trusts it as a root (tests/helpers/attestation.py), so the real vault counts
        # them as proven hardware and the attestation runs through pcscd end to end.
        env = {**os.environ, "TESSERA_VAULT": str(tmp / "vault.sqlite3"),
               "TESSERA_ACTOR": "operator", "PYTHON_KEYRING_BACKEND":
               "keyring.backends.fail.Keyring",
               "TESSERA_RESOURCES": str(resources_trusting_demo_ca(tmp))}
        env.pop("PCSCLITE_CSOCK_NAME", None)
        world = World(pcscd, env, {}, tmp)
        assert world.tessera("init").returncode == 0
        for name in ("Alice", "Bob"):
            assert world.tessera("custodian", "add", name).returncode == 0
        for name, serial, pin in (("Alice", ALICE, ALICE_PIN), ("Bob", BOB, BOB_PIN)):
            r = world.tessera("token", "enroll", name, "--kind", "piv", "--serial", str(serial),
                              input=f"{pin}\n{pin}\n")
            assert r.returncode == 0, r.stderr
            world.enrol_output[name] = r.stdout + r.stderr
        # Both custodians' tokens sign the vault (its genesis): no share is wrapped
        # before. From then on Alice's key signs every change (TESSERA_SIGN_WITH), so
        # each command also asks for her PIN after the ones it asked before.
        alice = world.tessera("token", "list").stdout.split("Alice")[0].split()[-1]
        bob = world.tessera("token", "list").stdout.split("Bob")[0].split()[-1]
        r = world.tessera("audit", "adopt", "--token", alice, "--token", bob,
                          input=f"{ALICE_PIN}\n{BOB_PIN}\n")
        assert r.returncode == 0, r.stderr
        world.env["TESSERA_SIGN_WITH"] = alice
        (tmp / "secret-in").write_text("s3cr3t")
        r = world.tessera("record", "create", "--label", "Root", "--custodian", "Alice",
                          "--custodian", "Bob", "-k", "2", "--secret-file",
                          str(tmp / "secret-in"), input=f"{ALICE_PIN}\n" * 3)
        assert r.returncode == 0, r.stderr
        yield world
    finally:
        pcscd.stop()


def test_enrolment_migrates_the_factory_credentials_through_pcscd(world: World):
    out = world.enrol_output["Alice"]
    assert "factory-default PIN and management key" in out
    assert "Enrolled Alice's YubiKey 5550001, slot 82" in out and "age1yubikey1" in out


def test_discovery_reports_both_keys_by_serial(world: World):
    r = world.tessera("token", "list")
    assert r.returncode == 0, r.stderr
    enrolled = r.stdout.split("Connected now:")[0]
    # PIV attestation (INS F9 and the F9 certificate) went through pcscd and verified
    assert enrolled.count("proven hardware (Tessera DEMO attestation CA") == 2, r.stdout
    connected = r.stdout.split("Connected now:")[1]
    assert "YubiKey 5550001" in connected and "YubiKey 5550002" in connected
    assert "virtual" not in connected  # real discovery, real readers


def test_ykman_sees_the_same_card_and_tesseras_slot(world: World):
    r = world.ykman("--device", str(ALICE), "piv", "info")
    assert r.returncode == 0, r.stderr
    assert "PIV version:              5.7.2" in r.stdout
    assert "Management key algorithm: TDES" in r.stdout  # what age-plugin-yubikey can use
    assert "Management key is stored on the YubiKey, protected by PIN" in r.stdout
    assert "Slot 82" in r.stdout
    assert "CN=Tessera: Alice,OU=Tessera,O=age-plugin-yubikey" in r.stdout
    listing = world.ykman("list", "--serials")
    assert listing.stdout.split() == [str(ALICE), str(BOB)]


def test_drill_and_release_through_pcscd(world: World):
    r = world.tessera("drill", "Root", "Alice", input=f"{ALICE_PIN}\n" * 3)
    assert r.returncode == 0, r.stderr
    assert "opens share" in r.stdout
    out = world.tmp / "secret"
    # Alice signs the request (authorising the quorum's ceremony key), Alice approves,
    # Bob approves; the ceremony key signs the rest: one PIN each per card session.
    r = world.tessera("release", "Root", "--reason", "DR test", "--ticket", "CHG-1",
                      "--approve", "Alice", "--approve", "Bob", "--out", str(out),
                      input=f"{ALICE_PIN}\n" * 2 + f"{BOB_PIN}\n")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("PIN for Alice's") == 2 and r.stderr.count("PIN for Bob's") == 1
    assert out.read_text() == "s3cr3t"
    verify = world.tessera("audit", "verify")
    assert verify.returncode == 0 and "All approval signatures verify" in verify.stdout


def test_wrong_pin_through_pcscd(world: World):
    r = world.tessera("drill", "Root", "Bob", input="00000000\n")
    assert r.returncode != 0
    assert "Wrong PIN — 2 attempts left" in r.stderr
    ok = world.tessera("drill", "Root", "Bob",  # the counter resets; Alice signs
                       input=f"{BOB_PIN}\n" + f"{ALICE_PIN}\n" * 3)
    assert ok.returncode == 0, ok.stderr


def test_a_key_another_program_holds_is_called_busy_not_wrong(world: World):
    """gpg's scdaemon or a browser can hold a YubiKey; Tessera cannot open it then and
    must say so — not "this is not Bob's key" — and change nothing."""
    def written() -> tuple[int, int]:
        conn = sqlite3.connect(world.env["TESSERA_VAULT"])
        try:
            return (conn.execute("SELECT count(*) FROM audit").fetchone()[0],
                    conn.execute("SELECT count(*) FROM statements").fetchone()[0])
        finally:
            conn.close()

    before = written()
    with world.pcscd.held(1):  # Bob's card
        r = world.tessera("drill", "Root", "Bob", idle=False,
                          input=f"{BOB_PIN}\n" + f"{ALICE_PIN}\n" * 3)
        listing = world.tessera("token", "list", idle=False)
    assert r.returncode != 0
    assert "not Bob's key" not in r.stderr
    assert "in use by another program" in r.stderr, r.stderr
    assert "Bob's YubiKey (serial 5550002)" in r.stderr
    assert "in use by another program" in listing.stdout + listing.stderr
    assert written() == before  # nothing was written
    ok = world.tessera("drill", "Root", "Bob", input=f"{BOB_PIN}\n" + f"{ALICE_PIN}\n" * 3)
    assert ok.returncode == 0, ok.stderr


def test_key_pulled_out_while_waiting_for_touch(world: World):
    world.pcscd.pull_out(0)
    bridge = world.pcscd.plug_in(0, ALICE, touch="manual")
    drill = subprocess.Popen([BIN / "tessera", "drill", "Root", "Alice"], env=world.env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert drill.stdin is not None
    drill.stdin.write(f"{ALICE_PIN}\n")
    drill.stdin.flush()
    bridge.wait_for("touch-waiting", 60)  # the card holds GENERAL AUTHENTICATE
    world.pcscd.pull_out(0)
    _out, err = drill.communicate(timeout=60)
    assert drill.returncode != 0
    assert "was removed during the operation" in err, err
    world.pcscd.plug_in(0, ALICE)  # plugged back in, the key works again
    r = world.tessera("drill", "Root", "Alice", input=f"{ALICE_PIN}\n" * 3)
    assert r.returncode == 0, r.stderr


def test_the_printed_identity_names_the_card_as_age_plugin_yubikey_does(world: World):
    token = world.tessera("token", "list").stdout.split("Alice")[0].split()[-1]
    r = world.tessera("token", "export-identity", token)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"#       Serial: {ALICE}, Slot: 1"
    hrp, data = decode(lines[-1])
    assert hrp == "AGE-PLUGIN-YUBIKEY-"
    assert int.from_bytes(data[:4], "little") == ALICE and data[4] == 0x82


class PinPrompts:
    def __init__(self, pin: str) -> None:
        self.pin = pin

    def request_pin(self, token, attempts_left):
        return self.pin

    def request_new_pin(self, token, reason):
        return self.pin

    def touch_needed(self, token): ...

    def touch_done(self, token): ...

    def notice(self, message): ...


def test_drills_beside_the_gui_device_poller_never_say_wrong_key(world: World, qtbot):
    """The poller race through the real stack: ykman opens each card exclusively.

    First forced: the poller's listing holds Alice's card open (a real exclusive PC/SC
    connection) while a drill is submitted; then real timings: drills one after another
    beside a poller listing every 50 ms.
    """
    import threading

    from yubikit.core.smartcard import SmartCardConnection

    from tessera.custody.drivers import TokenDrivers
    from tessera.custody.release import drill
    from tessera.custody.signing import TokenSigner
    from tessera.gui.device_poller import DevicePoller
    from tessera.gui.worker import TokenWorker
    from tessera.tokens.piv_devices import list_real_devices
    from tessera.vault import Vault

    vault_path = Path(world.env["TESSERA_VAULT"])
    vault = Vault.open(vault_path)
    worker = TokenWorker()
    drivers = TokenDrivers.for_vault(vault_path)
    listing, release = threading.Event(), threading.Event()
    release.set()

    def slow_listing():
        found = list_real_devices()
        if not release.is_set():
            alice = next(d for d, info in found if info.serial == ALICE)
            with alice.open_connection(SmartCardConnection):  # held as a listing holds it
                listing.set()
                release.wait(30)
        return found

    poller_drivers = TokenDrivers.for_vault(vault_path, piv_devices=slow_listing)
    token = next(t for t in vault.list_tokens() if t.custodian_name == "Alice")
    outcomes: list[object] = []
    jobs = []

    def signed_drill(cancel: threading.Event) -> object:
        # The vault is signed: Alice's key also signs the drill's result.
        with vault.signed_by(TokenSigner(drivers, token, PinPrompts(ALICE_PIN), cancel)):
            return drill(vault, drivers, "Root", token.id, PinPrompts(ALICE_PIN), cancel,
                         actor="Alice")

    def submit() -> None:
        jobs.append(worker.submit(
            lambda prompts, cancel: signed_drill(cancel),
            on_success=outcomes.append, on_failure=outcomes.append))

    poller = DevicePoller(poller_drivers, busy=lambda: worker.busy, lock=worker.device_lock,
                          interval=0.05)
    try:
        release.clear()
        poller.start()
        assert listing.wait(30)
        submit()  # while the listing holds the card
        release.set()
        qtbot.waitUntil(lambda: len(outcomes) == 1, timeout=60000)
        for n in range(1, 9):
            submit()
            qtbot.waitUntil(lambda n=n: len(outcomes) > n, timeout=60000)
    finally:
        release.set()
        poller.stop()
        worker.shutdown()
        vault.close()
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes


# What a second program does that watches the keys (another Tessera window's status bar,
# a password manager): open each YubiKey exclusively for a moment, over and over.
POLLING_PROGRAM = """
import time
from ykman.device import list_all_devices
from yubikit.core.smartcard import SmartCardConnection
while True:
    list_all_devices([SmartCardConnection])  # each key held ~0.2 s (0.05 s a real one)
    time.sleep(1.0)
"""


def test_drills_beside_another_program_polling_the_keys(world: World):
    """Seen with the app left open beside the CLI: a drill found Alice's card held for a
    moment and said "This is not Alice's key", or "removed during the operation". Each
    look and each opening now waits out a hold that ends (up to 1.5 s)."""
    poller = subprocess.Popen([sys.executable, "-c", POLLING_PROGRAM], env=world.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(5):
            r = world.tessera("drill", "Root", "Alice", input=f"{ALICE_PIN}\n" * 3,
                              idle=False)
            assert r.returncode == 0, r.stderr
            assert "opens share" in r.stdout, r.stdout
    finally:
        poller.terminate()
        poller.wait(10)
