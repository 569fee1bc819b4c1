"""A vault with a row in every table, signed by its custodians (genesis)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from helpers.ceremony import Ceremony, ScriptedPrompts, build
from tessera.custody.drivers import TokenDrivers
from tessera.custody.enroll import enroll_device
from tessera.custody.release import ReleaseCeremony, drill
from tessera.custody.signing import TokenSigner, adopt
from tessera.tokens.base import TokenKind
from tessera.tokens.virtual.devices import VirtualDevices
from tessera.vault import Vault
from tessera.vault.sheet_registry import SheetRegistry


def populated(tmp_path: Path) -> Ceremony:
    c = build(tmp_path)
    vault = c.vault
    ceremony = ReleaseCeremony(vault, c.drivers, "Deploy key", reason="test", ticket="T-1",
                               requested_by="op")
    prompts = ScriptedPrompts()
    for name in ("Alice", "Bob"):
        ceremony.contribute_token(c.tokens[name].id, prompts, threading.Event())
    ceremony.finish()
    drill(vault, c.drivers, "Deploy key", c.tokens["Carol"].id, prompts, threading.Event(),
          actor="op")
    vault.set_revocation_hook(c.record_id, ["/bin/true"], 30, actor="op")
    data = vault.get_version(c.record_id)
    SheetRegistry(vault).record_printed("S-0001", c.record_id, data.manifest.version,
                                        data.manifest.shares[0].key, actor="op")
    from tessera.custody.rewrap import rewrap_with_paper

    carol = data.manifest.shares_of(c.tokens["Carol"].custodian_id)[0]
    rewrap_with_paper(vault, "Deploy key", "Carol", c.words["Carol"], actor="op")
    assert carol.key
    return c


def sign_genesis(c: Ceremony) -> str:
    prompts = ScriptedPrompts()
    return adopt(c.vault, c.drivers, [c.tokens["Alice"].id, c.tokens["Bob"].id], prompts,
                 actor="op").fingerprint


def signer(c: Ceremony, name: str) -> TokenSigner:
    return TokenSigner(c.drivers, c.tokens[name], ScriptedPrompts())


def signed_real_vault(path: Path, operator: str = "Olivia") -> tuple[Vault, TokenSigner]:
    """A real (not demo) vault signed by its operator's attested virtual FIDO2 key: what a
    vault must be before any share is wrapped in it. Needs the ``trust_demo_ca`` fixture
    (the workstation trusts the virtual keys' attestation). Returns the vault and the
    operator's signer; wrap writes in ``vault.signed_by(signer)``."""
    vault = Vault.open(path, create=True)
    devices = VirtualDevices.for_vault(path, touch="immediate")
    drivers = TokenDrivers.for_vault(path, demo=False, **devices.providers())
    person = vault.add_custodian(operator, "", "Operator", actor="op")
    key = devices.add(TokenKind.FIDO2, f"{operator}'s key")
    token = enroll_device(vault, drivers, person.id, TokenKind.FIDO2, ScriptedPrompts(),
                          threading.Event(), actor="op", device=key.device)
    adopt(vault, drivers, [token.id], ScriptedPrompts(), actor="op")
    return vault, TokenSigner(drivers, token, ScriptedPrompts())


def pin_as_real(pins: Any, vault: Any) -> None:
    """Make this workstation's store of a (demo) test vault a pinned one, as a real vault's
    is: what was verified then holds the vault to it instead of only saving time."""
    import sqlite3

    seq, digest = vault.audit_head()
    conn = sqlite3.connect(pins.path_for(vault.vault_id))
    conn.execute("UPDATE pin SET seen_seq = ?, seen_hash = ?", (seq, digest))
    conn.commit()
    conn.close()
