"""One touch per custodian per release (issue #14), counted as a person would count them.

Each person has their own prompts: a touch prompt is what they see, and they touch
their key when it asks (a thread presses the virtual key once the device waits). The
virtual YubiKeys run on a virtual clock, so the 15 s touch cache of touch policy
CACHED is exercised without sleeping. Everything goes through the real fido2 and
yubikit stacks; only the devices are simulated.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers.ceremony import PIN, SECRET
from helpers.cli import run
from tessera.core.errors import TouchTimeout
from tessera.core.policy import SplitPlan
from tessera.core.request import new_request
from tessera.core.review import FindingKind
from tessera.custody.create import create_record
from tessera.custody.demo import DEMO_RECORD, build_demo_vault
from tessera.custody.drivers import TokenDrivers
from tessera.custody.enroll import enroll_device
from tessera.custody.release import ReleaseCeremony
from tessera.custody.review import gather_review
from tessera.custody.signing import TokenSigner, verify_vault
from tessera.tokens.base import TokenInfo, TokenKind
from tessera.tokens.virtual.devices import VirtualDevices, VirtualKey
from tessera.tokens.virtual.piv_device import VirtualYubiKey
from tessera.vault import Vault


class Clock:
    """The virtual YubiKeys' clock: minutes pass between steps of a ceremony."""

    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Person:
    """A custodian (or the operator) at their key: answers the PIN, touches when asked."""

    name: str
    key: VirtualKey | None = None
    prompts_seen: list[str] = field(default_factory=list)

    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        return PIN

    def request_new_pin(self, token: str, reason: str) -> str | None:
        return PIN

    def touch_needed(self, token: str) -> None:
        self.prompts_seen.append(token)
        key = self.key
        assert key is not None, f"{self.name} has no key to touch"

        def touch() -> None:
            if key.touch.waiting.wait(10):
                key.touch.press()

        threading.Thread(target=touch, daemon=True).start()

    def touch_done(self, token: str) -> None:
        pass

    def notice(self, message: str) -> None:
        pass

    @property
    def touches(self) -> int:
        """Touch prompts this person saw (each one a touch they made)."""
        return len(self.prompts_seen)

    def device_touches(self) -> int:
        return self.key.touch.touches if self.key else 0


def _people(devices: VirtualDevices, tokens: dict[str, TokenInfo], clock: Clock
            ) -> dict[str, Person]:
    """Each custodian with their own key, set to wait for a real (pressed) touch."""
    people: dict[str, Person] = {}
    for name in tokens:
        key = next((k for k in devices.keys if k.name.startswith(f"{name}'s")), None)
        if key is not None:
            key.touch.set_mode("manual")
            if isinstance(key.device, VirtualYubiKey):
                key.device.card.set_clock(clock)
        people[name] = Person(name, key)
    return people


def _reset_counts(people: dict[str, Person]) -> dict[str, int]:
    for p in people.values():
        p.prompts_seen.clear()
    return {n: p.device_touches() for n, p in people.items()}


def _release(vault: Vault, drivers: TokenDrivers, record: str, people: dict[str, Person],
             tokens: dict[str, TokenInfo], approvers: list[str], clock: Clock,
             requested_by: str = "op") -> ReleaseCeremony:
    ceremony = ReleaseCeremony(vault, drivers, record, reason="rotate", ticket="CHG-14",
                               requested_by=requested_by)
    for name in approvers:
        clock.advance(60)  # custodians come one after another, minutes apart
        ceremony.contribute_token(tokens[name].id, people[name], threading.Event())
    clock.advance(60)
    secret = ceremony.finish()
    assert secret == SECRET or record == DEMO_RECORD
    return ceremony


# -- an unsigned vault: FIDO2, PIV (new enrolment: CACHED) and a software key ---------

@dataclass
class Setup:
    vault: Vault
    path: Path
    devices: VirtualDevices
    drivers: TokenDrivers
    tokens: dict[str, TokenInfo]
    record: str
    clock: Clock
    people: dict[str, Person]


def _build(tmp_path: Path, piv_touch: str | None = None) -> Setup:
    kinds = {"Alice": TokenKind.FIDO2, "Bob": TokenKind.PIV, "Carol": TokenKind.SOFTWARE}
    path = tmp_path / "vault.sqlite3"
    vault = Vault.open(path, create=True, demo=True)
    devices = VirtualDevices.for_vault(path, touch="immediate")
    drivers = TokenDrivers.for_vault(path, demo=True, **devices.providers())
    clock = Clock()
    tokens: dict[str, TokenInfo] = {}
    for name, kind in kinds.items():
        person = vault.add_custodian(name, contact="", role="", actor="op")
        device: object = None
        if kind is not TokenKind.SOFTWARE:
            key = devices.add(kind, f"{name}'s key")
            device = key.device
            if isinstance(key.device, VirtualYubiKey):
                key.device.card.set_clock(clock)
                device = drivers.driver(TokenKind.PIV).find_device(  # type: ignore[attr-defined]
                    key.device.card.serial)
        tokens[name] = enroll_device(vault, drivers, person.id, kind, Person(name),
                                     threading.Event(), actor="op", device=device,
                                     piv_touch=piv_touch)
    create_record(vault, SECRET, label="Deploy key", plan=SplitPlan.simple(3, list(kinds)),
                  nhi={"system": "ci"}, actor="op", encoding="binary")
    clock.advance(3600)  # the release comes long after the enrolment's touches
    return Setup(vault, path, devices, drivers, tokens, "Deploy key", clock,
                 _people(devices, tokens, clock))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    s = _build(tmp_path)
    yield s
    s.vault.close()


def test_every_custodian_touches_once_in_a_release_of_an_unsigned_vault(setup: Setup) -> None:
    s = setup
    before = _reset_counts(s.people)
    assert s.tokens["Bob"].facts["touch_policy"] == "cached"  # new enrolments
    _release(s.vault, s.drivers, s.record, s.people, s.tokens, ["Alice", "Bob", "Carol"],
             s.clock)
    seen = {n: p.touches for n, p in s.people.items()}
    made = {n: p.device_touches() - before[n] for n, p in s.people.items()}
    # FIDO2: one assertion (PRF + approval); PIV: the approval signature, then the
    # unwrap inside the 15 s cache; a software key asks for no touch.
    assert seen == {"Alice": 1, "Bob": 1, "Carol": 0}
    assert made == {"Alice": 1, "Bob": 1, "Carol": 0}


def test_the_one_touch_approval_is_bound_to_its_request_and_verifies(setup: Setup) -> None:
    s = setup
    ceremony = _release(s.vault, s.drivers, s.record, s.people, s.tokens, ["Bob", "Alice",
                                                                           "Carol"], s.clock)
    release = s.vault.get_release(ceremony.release_id)
    bob = next(a for a in release.approvals if a.token_id == s.tokens["Bob"].id)
    challenge = hashlib.sha256(release.request).digest()
    driver = s.drivers.for_token(s.tokens["Bob"])
    assert driver.verify(s.tokens["Bob"], challenge, bob.evidence)
    manifest = s.vault.get_version(s.vault.get_record(s.record).id).manifest
    other = new_request("release", manifest, reason="rotate", ticket="CHG-14",
                        requested_by="op")  # the same request but for its nonce
    assert not driver.verify(s.tokens["Bob"], other.challenge, bob.evidence)
    s.vault.close()
    verified = run("--vault", str(s.path), "audit", "verify")
    assert verified.code == 0, verified.text


def test_a_cached_touch_signs_nothing_for_another_request_after_the_window(setup: Setup) -> None:
    s = setup
    bob, token = s.people["Bob"], s.tokens["Bob"]
    assert bob.key is not None and isinstance(bob.key.device, VirtualYubiKey)
    card = bob.key.device.card
    _release(s.vault, s.drivers, s.record, s.people, s.tokens, ["Alice", "Bob", "Carol"],
             s.clock)
    driver = s.drivers.for_token(token)
    manifest = s.vault.get_version(s.vault.get_record(s.record).id).manifest
    forged = new_request("release", manifest, reason="exfiltrate", ticket="-",
                         requested_by="malware")

    # Malware on the workstation that knows Bob's PIN, right after his touch: within
    # the 15 s the card signs without a touch (the residual risk TOKENS.md names)...
    touches = bob.device_touches()
    card.touch.set_mode("never")
    card.touch_timeout = 0.05
    assert card.last_touch is not None
    s.clock.now = card.last_touch + 14.0
    assert card.touch_cached()
    quiet = Person("malware")
    assert driver.verify(token, forged.challenge,
                         driver.sign(token, forged.challenge, quiet, threading.Event()))
    assert bob.device_touches() == touches and quiet.touches == 0
    # ...and once the window has passed, nothing without Bob touching again.
    s.clock.advance(1.0)
    assert not card.touch_cached()
    with pytest.raises(TouchTimeout):
        driver.sign(token, forged.challenge, quiet, threading.Event())
    ceremony = ReleaseCeremony(s.vault, s.drivers, s.record, reason="exfiltrate",
                               ticket="-", requested_by="malware")
    with pytest.raises(TouchTimeout):
        ceremony.contribute_token(token.id, quiet, threading.Event())
    ceremony.abort()
    assert not s.vault.get_release(ceremony.release_id).approvals
    assert bob.device_touches() == touches


def test_old_always_enrolments_still_release_with_two_touches_and_are_named(
        tmp_path: Path) -> None:
    s = _build(tmp_path, piv_touch="always")
    try:
        assert s.tokens["Bob"].facts["touch_policy"] == "always"
        before = _reset_counts(s.people)
        _release(s.vault, s.drivers, s.record, s.people, s.tokens, ["Alice", "Bob", "Carol"],
                 s.clock)
        assert {n: p.touches for n, p in s.people.items()} == {"Alice": 1, "Bob": 2,
                                                                "Carol": 0}
        assert s.people["Bob"].device_touches() - before["Bob"] == 2
        findings = [f for f in gather_review(s.vault).findings
                    if f.kind is FindingKind.TWO_TOUCHES]
        assert [(f.custodian, f.token) for f in findings] == [("Bob", s.tokens["Bob"].label)]
        assert "re-enrol" in findings[0].text
    finally:
        s.vault.close()


# -- a signed demo vault: every change is also signed (the operator touches once) --------

def test_touches_in_a_signed_demo_vault_release(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite3"
    demo = build_demo_vault(path, signed=True)
    vault = Vault.open(path)
    try:
        drivers = TokenDrivers.for_vault(path, demo=True, **demo.devices.providers())
        clock = Clock()
        people = _people(demo.devices, demo.tokens, clock)
        assert demo.tokens["Bob"].facts["touch_policy"] == "cached"
        before = _reset_counts(people)
        operator = people["Alice"]  # Alice runs the ceremony; Bob and Carol approve
        with vault.signed_by(TokenSigner(drivers, demo.tokens["Alice"], operator)):
            _release(vault, drivers, DEMO_RECORD, people, demo.tokens, ["Bob", "Carol"],
                     clock, requested_by="Alice")
        seen = {n: p.touches for n, p in people.items()}
        assert {n: p.device_touches() - before[n] for n, p in people.items()} == seen
        # Custodians: one touch each. The operator's token signs the request once; it
        # authorises the ceremony's key, which signs each approval and the release.
        assert seen == {"Alice": 1, "Bob": 1, "Carol": 1}
        assert verify_vault(vault, full=True).ok
    finally:
        vault.close()
    verified = run("--vault", str(path), "audit", "verify")
    assert verified.code == 0, verified.text


def test_token_enroll_chooses_the_touch_policy(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "vault.sqlite3"
    monkeypatch.setenv("TESSERA_VAULT", str(path))
    monkeypatch.setenv("TESSERA_ACTOR", "operator")
    assert run("init", "--demo").code == 0
    for name in ("Alice", "Bob"):
        assert run("custodian", "add", name).code == 0
    pins = f"{PIN}\n" * 6  # the new PIN (twice), then the PIN
    done = run("--virtual-touch", "immediate", "token", "enroll", "Alice", "--kind", "piv",
               input=pins)
    assert done.code == 0, done.text
    done = run("--virtual-touch", "immediate", "token", "enroll", "Bob", "--kind", "piv",
               "--touch-policy", "always", input=pins)
    assert done.code == 0, done.text
    refused = run("token", "enroll", "Bob", "--kind", "software", "--touch-policy", "always")
    assert refused.code != 0 and "--touch-policy goes with --kind piv" in refused.err
    vault = Vault.open(path)
    try:
        policies = {t.custodian_name: t.facts["touch_policy"] for t in vault.list_tokens()}
    finally:
        vault.close()
    assert policies == {"Alice": "cached", "Bob": "always"}


def test_touches_of_a_cli_release_in_a_signed_demo_vault(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """`tessera --sign-with … release run`: the operator's key is touched once (the
    request; the approvals, the release and the hook's audit entry are signed by the
    ceremony key), each approving custodian's once; `audit verify` passes, full and not."""
    from tessera.custody.demo_facts import DEMO_PIN

    path = tmp_path / "demo.sqlite3"
    demo = build_demo_vault(path, signed=True)
    vault = Vault.open(path)
    try:  # the record's revocation hook runs after the release; its outcome is audited
        drivers = TokenDrivers.for_vault(path, demo=True, **demo.devices.providers())
        with vault.signed_by(TokenSigner(drivers, demo.tokens["Alice"], Person("Alice"))):
            vault.set_revocation_hook(vault.get_record(DEMO_RECORD).id, ["/bin/true"], 30,
                                      actor="Alice")
    finally:
        vault.close()
    keys: list[VirtualKey] = []  # every virtual key the command opens
    real_open = VirtualDevices._open

    def opening(self: VirtualDevices, *args: object) -> VirtualKey:
        key = real_open(self, *args)  # type: ignore[arg-type]
        keys.append(key)
        return key

    monkeypatch.setattr(VirtualDevices, "_open", opening)
    released = run("--vault", str(path), "--virtual-touch", "immediate", "--sign-with",
                   demo.tokens["Alice"].label, "release", "run", DEMO_RECORD, "--reason",
                   "rotate", "--ticket", "CHG-14", "--approve", "Bob", "--approve", "Carol",
                   "--out", str(tmp_path / "secret"), input=f"{DEMO_PIN}\n" * 8)
    assert released.code == 0, released.text
    assert "✓" in released.out and "hook" in released.out.lower(), released.out
    made: dict[str, int] = {}
    for key in keys:
        made[key.name] = made.get(key.name, 0) + key.touch.touches
    assert made == {demo.tokens[n].label: 1 for n in ("Alice", "Bob", "Carol")}
    asked = [line for line in released.err.splitlines() if line.startswith("PIN for ")]
    assert len(asked) == 3, released.err  # and one PIN each
    for args in ((), ("--full",)):
        verified = run("--vault", str(path), "audit", "verify", *args)
        assert verified.code == 0, verified.text
