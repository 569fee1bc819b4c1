"""Existing vaults migrate to signed state; operators act through hardware outside demos."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from helpers.attacker import raw
from helpers.ceremony import ScriptedPrompts, build
from helpers.signed import signer
from tessera.core.errors import PolicyError
from tessera.custody.drivers import TokenDrivers
from tessera.custody.enroll import enroll_device
from tessera.custody.signing import TokenSigner, adopt, verify_vault
from tessera.tokens.base import TokenKind
from tessera.vault import Vault, schema


def test_a_vault_from_before_statements_migrates_then_a_quorum_signs_it(tmp_path: Path
                                                                        ) -> None:
    c = build(tmp_path)
    c.vault.close()
    # What a vault written by the previous release looks like: no statement log.
    conn = sqlite3.connect(str(c.path), isolation_level=None)
    conn.execute("DROP TABLE statements")
    conn.execute(f"PRAGMA user_version = {schema.STATEMENTS_SCHEMA - 1}")
    conn.close()
    vault = Vault.open(c.path)
    assert vault.schema_version == schema.schema_version()
    result = verify_vault(vault)
    assert result.ok and result.genesis is None
    assert result.statements == 1  # the migration lists every existing row
    with vault.reading() as conn2:
        kind = conn2.execute("SELECT kind FROM statements").fetchone()[0]
    assert kind == "migrate"
    done = adopt(vault, c.drivers, [c.tokens["Alice"].id, c.tokens["Bob"].id],
                 ScriptedPrompts(), actor="op")
    assert any("predate signed statements" in line for line in done.unproven)
    assert any("Carol" in line and "did not sign" in line for line in done.unproven)
    after = verify_vault(vault)
    assert after.ok and after.genesis is not None
    assert c.tokens["Carol"].id in after.trusted
    vault.close()


def test_a_later_migration_adding_a_column_keeps_a_signed_vault_open_and_covers_it(
        signed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    c = signed
    c.vault.close()

    def add_notes(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE custodians ADD COLUMN notes TEXT NOT NULL DEFAULT ''")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, add_notes])
    vault = Vault.open(c.path)
    assert verify_vault(vault).ok
    vault.close()
    conn = raw(c.path)
    conn.execute("UPDATE custodians SET notes = 'planted' WHERE name = 'Bob'")
    conn.close()
    vault = Vault.open(c.path)
    result = verify_vault(vault)
    assert not result.ok and result.difference is not None
    assert (result.difference.table, result.difference.column) == ("custodians", "notes")
    vault.close()


def test_an_unsigned_migration_that_changes_a_value_is_named(signed: Any) -> None:
    from tessera.vault import statements

    vault = signed.vault
    vault._statement_kind = "migrate"
    try:
        with vault.transaction() as conn:
            conn.execute("UPDATE meta SET value = '0' WHERE key = 'demo'")
    finally:
        vault._statement_kind = "change"
    assert statements.genesis(vault._conn) is not None
    result = verify_vault(vault)
    assert not result.ok and "unsigned migration" in result.problem


def _real_vault_with_software_keys(tmp_path: Path) -> tuple[Vault, TokenDrivers, list[Any]]:
    path = tmp_path / "real.sqlite3"
    vault = Vault.open(path, create=True)
    drivers = TokenDrivers.for_vault(path)
    tokens = []
    for name in ("Alice", "Bob"):
        person = vault.add_custodian(name, contact="", role="", actor="op")
        tokens.append(enroll_device(vault, drivers, person.id, TokenKind.SOFTWARE,
                                    ScriptedPrompts(), threading.Event(), actor="op"))
    return vault, drivers, tokens


def test_outside_demo_vaults_a_software_key_cannot_sign(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_PASSPHRASE", "correct horse battery staple")
    vault, drivers, tokens = _real_vault_with_software_keys(tmp_path)
    with pytest.raises(PolicyError, match="hardware"):
        adopt(vault, drivers, [t.id for t in tokens], ScriptedPrompts(), actor="op")
    assert vault.genesis_fingerprint() is None
    # Other software skipping that check is caught by the replay.
    with vault.signed_by(*(TokenSigner(drivers, t, ScriptedPrompts()) for t in tokens)):
        vault.record_genesis([t.id for t in tokens], "op", {})
    result = verify_vault(vault)
    assert not result.ok and "not proven hardware (software" in result.problem
    assert "signed the genesis" in result.problem
    vault.close()


def test_a_retired_token_cannot_sign_any_more(signed: Any) -> None:
    from tessera.custody.signing import require_operator_token

    c = signed
    with c.vault.signed_by(signer(c, "Alice")):
        c.vault.set_token_state(c.tokens["Carol"].id, "retired", actor="op", reason="left")
    with pytest.raises(PolicyError, match="retired"):
        require_operator_token(c.vault, c.vault.get_token(c.tokens["Carol"].id))
    # Other software signing with it anyway is named by the replay.
    with c.vault.signed_by(signer(c, "Carol")):
        c.vault.add_custodian("Mallory", contact="", role="", actor="op")
    result = verify_vault(c.vault)
    assert not result.ok and "not signed by any trusted token" in result.problem


def test_outside_demo_vaults_an_unattested_key_cannot_sign(tmp_path: Path) -> None:
    """A FIDO2 key that gave no attestation may be software dressed as a YubiKey: in a
    real vault it neither signs the genesis nor acts (#9 items 2 and 4)."""
    from helpers.attestation import attested_fido2_facts
    from tessera.core import age
    from tessera.core.attestation import ATTESTATION_FACT

    vault = Vault.open(tmp_path / "real.sqlite3", create=True)
    drivers = TokenDrivers.for_vault(tmp_path / "real.sqlite3")
    person = vault.add_custodian("Alice", contact="", role="", actor="op")
    facts = attested_fido2_facts()
    facts.pop(ATTESTATION_FACT)
    token = vault.add_token(person.id, TokenKind.FIDO2, "Alice's key",
                            age.X25519Identity.generate().recipient.to_string(), facts,
                            actor="op")
    with pytest.raises(PolicyError, match="not proven hardware"):
        adopt(vault, drivers, [token.id], ScriptedPrompts(), actor="op")
    assert vault.genesis_fingerprint() is None
    vault.close()
