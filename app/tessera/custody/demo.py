"""The demo: a vault with three custodians on virtual keys, and a scripted ceremony.

Everything here runs the real code paths — the real ``Fido2Client`` and
``PivSession`` against virtual devices, the real vault and audit chain — so a new
user sees exactly what a ceremony does, with nothing real at stake.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tessera.core import slip39
from tessera.core.errors import ShareMismatch
from tessera.core.memory import wipe
from tessera.core.policy import SplitPlan
from tessera.core.private_file import private_folder
from tessera.custody.create import create_record
from tessera.custody.demo_facts import DEMO_PIN
from tessera.custody.drivers import TokenDrivers
from tessera.custody.enroll import enroll_device
from tessera.custody.release import ReleaseCeremony, drill
from tessera.custody.signing import TokenSigner, adopt, format_fingerprint, verify_vault
from tessera.tokens.base import TokenInfo, TokenKind
from tessera.tokens.virtual.devices import VirtualDevices
from tessera.tokens.virtual.piv_device import VirtualYubiKey
from tessera.vault import Vault

DEMO_RECORD = "Demo: CI deploy key"
DEMO_CUSTODIANS = (
    ("Alice", "SRE lead", TokenKind.FIDO2, "Alice's security key"),
    ("Bob", "Security engineer", TokenKind.PIV, "Bob's YubiKey"),
    ("Carol", "Platform owner", TokenKind.FIDO2, "Carol's security key"),
)
ACTOR = "demo operator"


class DemoPrompts:
    """Answers every PIN question with the demo PIN and narrates touches."""

    def __init__(self, say: Callable[[str], None] = lambda _text: None) -> None:
        self.say = say

    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        self.say(f"    (PIN for {token} entered)")
        return DEMO_PIN

    def request_new_pin(self, token: str, reason: str) -> str | None:
        self.say(f"    (a PIN is set on {token})")
        return DEMO_PIN

    def touch_needed(self, token: str) -> None:
        self.say(f"    (touching {token})")

    def touch_done(self, token: str) -> None:
        pass

    def notice(self, message: str) -> None:
        pass


@dataclass
class DemoVault:
    vault_path: Path
    devices: VirtualDevices
    record_label: str
    tokens: dict[str, TokenInfo] = field(default_factory=dict)  # custodian name -> token


def build_demo_vault(vault_path: Path, prompts: DemoPrompts | None = None, *,
                     touch: str = "immediate",
                     on_mnemonics: Callable[[Mapping[str, str]], None] | None = None,
                     say: Callable[[str], None] = lambda _text: None,
                     signed: bool = False) -> DemoVault:
    """Create a demo vault: three custodians on virtual keys and a 2-of-3 record.

    ``signed``: the three virtual keys sign the vault's genesis and Alice's key signs
    the record's creation (what `tessera demo` shows)."""
    prompts = prompts or DemoPrompts()
    vault = Vault.open(vault_path, create=True, demo=True)
    try:
        devices = VirtualDevices.for_vault(vault_path, touch=touch)
        drivers = TokenDrivers.for_vault(vault_path, demo=True, **devices.providers())
        demo = DemoVault(vault_path, devices, DEMO_RECORD)
        for name, role, kind, key_name in DEMO_CUSTODIANS:
            person = vault.add_custodian(name, contact=f"{name.lower()}@example.invalid",
                                         role=role, actor=ACTOR)
            key = devices.add(kind, key_name)
            device: object = key.device
            if isinstance(key.device, VirtualYubiKey):
                piv = drivers.driver(TokenKind.PIV)
                device = piv.find_device(key.device.card.serial)  # type: ignore[attr-defined]
            token = enroll_device(vault, drivers, person.id, kind, prompts, threading.Event(),
                                  label=key_name, actor=ACTOR, device=device)
            demo.tokens[name] = token
            say(f"  enrolled {name} ({role}) with {token.label}: {token.recipient[:24]}…")
        operator: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if signed:
            adopted = adopt(vault, drivers, [t.id for t in demo.tokens.values()], prompts,
                            actor=ACTOR)
            say(f"  the three keys signed the vault's genesis: "
                f"{format_fingerprint(adopted.fingerprint)}")
            operator = vault.signed_by(TokenSigner(drivers, demo.tokens["Alice"], prompts))
        secret = bytearray(f"ghp_demo_{secrets.token_urlsafe(24)}".encode())
        try:
            with operator:
                created = create_record(
                    vault, secret, label=DEMO_RECORD,
                    plan=SplitPlan.simple(2, [n for n, *_ in DEMO_CUSTODIANS]),
                    nhi={"system": "GitHub Actions", "account": "deploy-bot",
                         "owner": "Platform", "environment": "demo"},
                    actor=ACTOR, on_mnemonics=on_mnemonics)
        finally:
            wipe(secret)
        say(f"  created {created.label}: {created.sealed.manifest.describe_quorum()}, "
            f"fingerprint {created.fingerprint}")
        return demo
    finally:
        vault.close()


def run_demo(say: Callable[[str], None], keep: Path | None = None) -> None:
    """The scripted ceremony of ``tessera demo``."""
    with tempfile.TemporaryDirectory(prefix="tessera-demo-") as tmp:
        folder = keep or Path(tmp)
        private_folder(folder)  # it will hold a vault and its keys
        vault_path = folder / "demo-vault.sqlite3"
        if vault_path.exists():
            raise FileExistsError(f"{vault_path} exists; choose an empty folder")
        prompts = DemoPrompts(say)
        sheets: dict[str, str] = {}
        say("Tessera demo — everything runs on virtual keys in a throw-away vault.")
        say(f"Vault: {vault_path}")
        say("")
        say("1. Enrol three custodians and split a secret 2-of-3")
        demo = build_demo_vault(vault_path, prompts, on_mnemonics=sheets.update, say=say,
                                signed=True)
        vault = Vault.open(vault_path)
        try:
            drivers = TokenDrivers.for_vault(vault_path, demo=True,
                                             **demo.devices.providers())
            # Alice operates: her virtual key signs every change from here on.
            operator = vault.signed_by(TokenSigner(drivers, demo.tokens["Alice"], prompts))
            operator.__enter__()
            record = vault.get_record(DEMO_RECORD)
            manifest = vault.get_version(record.id).manifest
            carol_key = next(e.key for e in manifest.shares if e.custodian == "Carol")
            carol_words = sheets.pop(carol_key)  # Carol's sealed sheet; the rest are shredded
            sheets.clear()

            say("")
            say("2. Drill: each custodian proves their key still opens their share")
            for name, token in demo.tokens.items():
                result = drill(vault, drivers, record.id, token.id, prompts, threading.Event(),
                               actor=ACTOR)
                say(f"  ✓ {name}: {result.token_label} opens share {result.share_key} "
                    "(nothing reconstructed)")

            say("")
            say("3. Release: Alice approves with her key, Carol reads her sealed sheet")
            ceremony = ReleaseCeremony(vault, drivers, record.id, reason="demo: rotate the "
                                       "deploy key", ticket="DEMO-1", requested_by=ACTOR)
            say(f"  request {ceremony.release_id[:8]}…, fingerprint {ceremony.fingerprint}")
            ceremony.contribute_token(demo.tokens["Alice"].id, prompts, threading.Event())
            say(f"  ✓ Alice approved with {demo.tokens['Alice'].label} — "
                f"{ceremony.progress().describe()}")
            words = carol_words.split()
            typo = list(words)
            typo[13] = slip39.WORDLIST[(slip39.WORD_INDEX_MAP[typo[13]] + 1) % 1024]
            try:
                ceremony.contribute_paper(demo.tokens["Carol"].custodian_id, " ".join(typo))
            except ShareMismatch as exc:
                say(f"  ✗ {exc}")
            ceremony.contribute_paper(demo.tokens["Carol"].custodian_id,
                                      " ".join(w[:4] for w in words))
            say("  ✓ Carol's paper share accepted (typed as four-letter prefixes) — "
                f"{ceremony.progress().describe()}")
            secret = ceremony.finish()
            try:
                shown = secret[:8].decode() + "•" * (len(secret) - 8)
                say(f"  secret released: {shown} ({len(secret)} bytes, masked)")
            finally:
                wipe(secret)
            state = vault.get_record(record.id)
            say(f"  record state: {state.state.display}")

            say("")
            say("4. Audit")
            verdict = vault.verify_audit()
            say(f"  chain {'intact' if verdict.ok else 'BROKEN'}: {verdict.entries} entries")
            say(f"  head {verdict.head_seq}:{verdict.head_hash}")
            say("  (the head is printed on every ceremony transcript; `tessera audit verify "
                "--head SEQ:HASH` detects a truncated log)")
            replay = verify_vault(vault)
            say(f"  signed state {'intact' if replay.ok else 'BROKEN: ' + replay.problem}: "
                f"{replay.statements} statements replayed, every change since the genesis signed "
                "by a virtual key")
            fingerprint = vault.genesis_fingerprint() or ""
            say(f"  genesis fingerprint {format_fingerprint(fingerprint)}")
            operator.__exit__(None, None, None)
        finally:
            vault.close()
        if keep:
            say("")
            say(f"The demo vault is kept in {folder}; try "
                f"`tessera --vault {vault_path} record show '{DEMO_RECORD}'`.")
