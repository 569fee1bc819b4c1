"""What Tessera adds to a release per custodian, with virtual devices.

The virtual keys answer touch at once, so each figure is everything except the
person: PIN handling, the real fido2 / yubikit client code, the (simulated) device's
cryptography, age unwrapping, the commitment check and the vault writes. A second
run with a 1-second touch shows the same ceremony as a person experiences it.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from tessera.custody.demo import DEMO_PIN, DemoPrompts, build_demo_vault
from tessera.custody.drivers import TokenDrivers
from tessera.custody.release import ReleaseCeremony
from tessera.vault import Vault


def one_release(folder: Path, touch: str) -> dict[str, float]:
    path = folder / "vault.sqlite3"
    demo = build_demo_vault(path, DemoPrompts(), touch=touch)
    vault = Vault.open(path)
    try:
        drivers = TokenDrivers.for_vault(path, demo=True, **demo.devices.providers())
        times: dict[str, float] = {}
        start = time.perf_counter()
        ceremony = ReleaseCeremony(vault, drivers, demo.record_label, reason="bench",
                                   ticket="B-1", requested_by="bench")
        times["start"] = time.perf_counter() - start
        for name in ("Alice", "Bob"):
            t0 = time.perf_counter()
            ceremony.contribute_token(demo.tokens[name].id, DemoPrompts(), threading.Event())
            times[f"{name} ({demo.tokens[name].kind.value})"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        secret = ceremony.finish()
        times["combine + decrypt + record"] = time.perf_counter() - t0
        secret[:] = bytes(len(secret))
        times["total"] = time.perf_counter() - start
        return times
    finally:
        vault.close()


def fido2_unlock_times(repeat: int = 15) -> tuple[float, float]:
    """One FIDO2 unlock (PIN, PRF assertion, age unwrap) handing the virtual key to
    python-fido2 directly (the yardstick) and through CTAPHID framing; median seconds."""
    import os

    from tessera.core.age import encrypt, parse_recipient
    from tessera.tokens.base import TokenInfo, TokenKind
    from tessera.tokens.fido2 import Fido2Driver
    from tessera.tokens.virtual.ctap import VirtualAuthenticator
    from tessera.tokens.virtual.hid import hid_device

    key = VirtualAuthenticator(pin=DEMO_PIN)
    direct = Fido2Driver(lambda: [key], platform_client=None)
    framed = Fido2Driver(lambda: [hid_device(key)], platform_client=None)
    quiet = DemoPrompts(say=lambda _text: None)
    enrolled = framed.enroll(None, "Alice", quiet, threading.Event())
    token = TokenInfo(id="t", custodian_id="c", custodian_name="Alice", kind=TokenKind.FIDO2,
                      label=enrolled.label, recipient=enrolled.recipient, facts=enrolled.facts)
    envelope = encrypt(b"share", [parse_recipient(token.recipient)])
    figures = []
    for driver in (direct, framed):
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            driver.unlock(token, envelope, os.urandom(32), quiet, threading.Event())
            samples.append(time.perf_counter() - t0)
        figures.append(statistics.median(samples))
    return figures[0], figures[1]


def main() -> None:
    direct, framed = fido2_unlock_times()
    print("FIDO2 unlock on a virtual key (median of 15, ms):")
    print(f"  {'device handed over directly':<28} {direct * 1000:8.1f}   (yardstick)")
    print(f"  {'through CTAPHID framing':<28} {framed * 1000:8.1f}")
    runs = []
    for _ in range(5):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_release(Path(tmp), "immediate"))
    print("Release of a 2-of-3 record, virtual keys touched at once (median of 5, ms):")
    for key in runs[0]:
        print(f"  {key:<28} {statistics.median(r[key] for r in runs) * 1000:8.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        slow = one_release(Path(tmp), "delay:1.0")
    print("Same ceremony with a 1 s touch per touch request (what a person sees, ms):")
    for key, value in slow.items():
        print(f"  {key:<28} {value * 1000:8.1f}")
    print("(a YubiKey with touch policy ALWAYS asks for two touches: ECDH and signature)")


if __name__ == "__main__":
    main()
