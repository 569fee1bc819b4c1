"""Who acted is who signed (#9 items 2 and 4): the audit log names the custodian whose
token signed each change, hardware is judged by attestation in the replay too, and a
statement nobody signed cannot add to the log."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from helpers.attacker import raw
from helpers.ceremony import ScriptedPrompts
from helpers.signed import signed_real_vault, signer
from tessera.core.attestation import ATTESTATION_FACT
from tessera.custody import enroll
from tessera.custody.drivers import TokenDrivers
from tessera.custody.signing import TokenSigner, verify_vault
from tessera.tokens.base import TokenKind
from tessera.tokens.virtual.devices import VirtualDevices
from tessera.vault import Vault, audit, statements


def test_the_audit_log_names_who_signed_not_the_name_the_caller_passed(signed: Any) -> None:
    c = signed
    with c.vault.signed_by(signer(c, "Bob")):
        c.vault.add_custodian("Dave", contact="", role="", actor="somebody else")
    entry = c.vault.audit_entries(newest=1)[0]
    assert (entry.action, entry.actor) == ("custodian.add", "Bob")
    assert verify_vault(c.vault, full=True).ok


def test_an_entry_naming_someone_other_than_the_signer_is_reported(
        signed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Other software (or a modified Tessera) writes the name it was given, not the
    signer's: replay names the entry, who it claims and who signed."""
    c = signed
    monkeypatch.setattr(Vault, "_acting_custodian", lambda self, conn: None)
    with c.vault.signed_by(signer(c, "Alice")):
        c.vault.add_custodian("Dave", contact="", role="", actor="Bob")
    seq = c.vault.audit_head()[0]
    result = verify_vault(c.vault, full=True)
    assert not result.ok
    assert f"audit entry {seq} (custodian.add) names 'Bob' as who acted" in result.problem
    assert "signed by Alice" in result.problem


def test_an_unsigned_statement_cannot_add_entries_to_the_log(signed: Any) -> None:
    """The attacker appends audit entries (chain recomputed) and covers them with a
    statement nobody signed, dressed as a schema migration."""
    c = signed
    c.vault.close()
    conn = raw(c.path)
    statements.install_capture(conn)
    conn.execute("BEGIN")
    audit.append(conn, at="2026-12-03T00:00:00Z", actor="Alice", action="release.complete",
                 subject="forged", details={"label": "Deploy key"})
    statements.emit(conn, at="2026-12-03T00:00:00Z", kind="migrate", signers=[])
    conn.execute("COMMIT")
    conn.close()
    c.vault = Vault.open(c.path)
    result = verify_vault(c.vault, full=True)
    assert not result.ok
    assert "is an unsigned migration, but audit entry" in result.problem
    assert "(release.complete) is not its one vault.migrate entry" in result.problem


def test_a_key_without_valid_attestation_cannot_act_in_a_real_vault(
        tmp_path: Path, trust_demo_ca: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key enrolled as FIDO2 that gave no attestation may be software: other software
    signing a change with it alone (skipping the signing-time check) is named by the
    replay, not accepted because its row says ``fido2``."""
    path = tmp_path / "real.sqlite3"
    vault, olivia = signed_real_vault(path)
    devices = VirtualDevices.for_vault(path, touch="immediate")
    drivers = TokenDrivers.for_vault(path, demo=False, **devices.providers())
    # The key gives no attestation (its evidence is dropped as it is enrolled).
    real = enroll.with_verdict
    monkeypatch.setattr(enroll, "with_verdict", lambda kind, facts, **kw: real(
        kind, {k: v for k, v in facts.items() if k != ATTESTATION_FACT}, **kw))
    with vault.signed_by(olivia):
        mallory = vault.add_custodian("Mallory", contact="", role="", actor="op")
        key = devices.add(TokenKind.FIDO2, "Mallory's key")
        token = enroll.enroll_device(vault, drivers, mallory.id, TokenKind.FIDO2,
                                     ScriptedPrompts(), threading.Event(), actor="op",
                                     device=key.device)
    assert ATTESTATION_FACT not in token.facts
    assert verify_vault(vault, full=True).ok
    with vault.signed_by(TokenSigner(drivers, token, ScriptedPrompts())):
        vault.add_custodian("Eve", contact="", role="", actor="Mallory")
    result = verify_vault(vault, full=True)
    assert not result.ok
    assert "signed only by keys not proven hardware" in result.problem
    vault.close()
