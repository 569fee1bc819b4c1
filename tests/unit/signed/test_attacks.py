"""#9's attacks, scripted by someone with write access to the vault file and no token."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from helpers.attacker import raw
from helpers.ceremony import SECRET, ScriptedPrompts
from helpers.signed import populated, signer
from tessera.core import age
from tessera.core.errors import PolicyError
from tessera.core.policy import SplitPlan
from tessera.custody.create import create_record
from tessera.custody.enroll import enroll_device
from tessera.custody.signing import (
    NotSignedYet,
    RecipientNotVerified,
    StateNotVerified,
    adopt,
    verify_vault,
)
from tessera.tokens.base import TokenKind
from tessera.vault import Vault
from tessera.vault.errors import Unsigned


def _reopen(c: Any) -> Vault:
    c.vault = Vault.open(c.path)
    return c.vault


def test_enrolment_substitution_is_refused_and_named_and_nothing_is_wrapped(signed: Any
                                                                            ) -> None:
    c = signed
    c.vault.close()
    attacker = age.X25519Identity.generate()
    conn = raw(c.path)
    conn.execute("UPDATE tokens SET recipient = ? WHERE id = ?",
                 (attacker.recipient.to_string(), c.tokens["Carol"].id))
    facts = json.loads(conn.execute("SELECT facts FROM tokens WHERE id = ?",
                                    (c.tokens["Carol"].id,)).fetchone()[0])
    facts.pop("pq_recipient", None)
    conn.execute("UPDATE tokens SET facts = ? WHERE id = ?",
                 (json.dumps(facts, separators=(",", ":"), sort_keys=True),
                  c.tokens["Carol"].id))
    conn.close()
    vault = _reopen(c)
    before = vault.list_records()
    with vault.signed_by(signer(c, "Alice")), pytest.raises(RecipientNotVerified) as caught:
        create_record(vault, SECRET, label="Second key", plan=SplitPlan.simple(
            2, ["Alice", "Bob", "Carol"]), nhi={"system": "ci"}, actor="op")
    assert caught.value.custodian == "Carol"
    assert "Carol" in str(caught.value)
    assert vault.list_records() == before
    # Nothing anywhere in the vault is wrapped to the attacker's key.
    with vault.reading() as conn2:
        for (envelope,) in conn2.execute("SELECT age FROM envelopes"):
            with pytest.raises(age.AgeNoMatch):
                age.decrypt(envelope, [attacker])
    assert not verify_vault(vault).ok
    vault.close()


def test_planted_hook_is_named(signed: Any) -> None:
    c = signed
    c.vault.close()
    conn = raw(c.path)
    conn.execute("UPDATE record_hooks SET command = ? WHERE record_id = ?",
                 ('["/bin/sh","-c","cat > /tmp/loot"]', c.record_id))
    conn.close()
    result = verify_vault(_reopen(c))
    assert not result.ok
    assert result.difference is not None
    assert (result.difference.table, result.difference.column) == ("record_hooks", "command")
    c.vault.close()


@pytest.mark.parametrize(("key", "value"), [
    ("demo", "0"),  # the helper's vault is a demo vault; either direction is the same cell
    ("policy", '{"allowed_kinds":["fido2","piv","software"],"drill_days":90,'
               '"envelopes":"hybrid","hardware_only":false,"max_reveal_seconds":120,'
               '"min_threshold":1,"paper_in_release":true,"rotation_days":365}'),
])
def test_policy_and_demo_flips_are_named(signed: Any, key: str, value: str) -> None:
    c = signed
    c.vault.close()
    conn = raw(c.path)
    conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
    conn.close()
    result = verify_vault(_reopen(c))
    assert not result.ok and result.difference is not None
    assert result.difference.table == "meta" and result.difference.key == (key,)
    c.vault.close()


@pytest.mark.parametrize("column", ["reason", "ticket", "requested_by"])
def test_forged_release_metadata_is_named(signed: Any, column: str) -> None:
    c = signed
    c.vault.close()
    conn = raw(c.path)
    conn.execute(f"UPDATE releases SET {column} = 'forged'")
    conn.close()
    result = verify_vault(_reopen(c))
    assert not result.ok and result.difference is not None
    assert (result.difference.table, result.difference.column) == ("releases", column)
    c.vault.close()


def test_rewritten_audit_entry_with_chain_recomputed_is_caught(signed: Any) -> None:
    from tessera.vault import audit

    c = signed
    c.vault.close()
    conn = raw(c.path)
    rows = conn.execute("SELECT seq, at, actor, action, subject, details FROM audit"
                        " ORDER BY seq").fetchall()
    prev = audit.ZERO_HASH
    for seq, at, actor, action, subject, details in rows:
        if seq == 3:
            actor = "someone else"
        digest = audit.link(prev, audit.entry_bytes(seq, at, actor, action, subject, details))
        conn.execute("UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (actor, prev, digest, seq))
        prev = digest
    conn.close()
    result = verify_vault(_reopen(c))
    assert not result.ok
    assert "audit entry" in result.problem and "rewritten" in result.problem
    c.vault.close()


def test_deleted_newest_audit_entries_are_caught(signed: Any) -> None:
    c = signed
    c.vault.close()
    conn = raw(c.path)
    conn.execute("DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)")
    conn.close()
    result = verify_vault(_reopen(c))
    assert not result.ok
    c.vault.close()


def test_after_genesis_an_unsigned_write_is_refused_and_a_signed_one_verifies(signed: Any
                                                                             ) -> None:
    vault = signed.vault
    with pytest.raises(Unsigned):
        vault.add_custodian("Mallory", contact="", role="", actor="op")
    assert all(p.name != "Mallory" for p in vault.list_custodians())
    with vault.signed_by(signer(signed, "Alice")):
        vault.add_custodian("Dave", contact="", role="", actor="op")
    assert verify_vault(vault).ok


def test_a_statement_written_by_other_software_without_signature_is_named(signed: Any
                                                                         ) -> None:
    """Other software writes through SQLite and appends its own unsigned statement."""
    c = signed
    vault = c.vault
    vault._signers = []
    with vault.transaction() as conn:
        conn.execute("UPDATE custodians SET name = 'Mallory' WHERE name = 'Carol'")
        from tessera.vault import statements
        statements.emit(conn, at=vault.now(), kind="change", signers=[])
    result = verify_vault(vault)
    assert not result.ok
    assert "not signed by any trusted token" in result.problem


def test_enrolment_after_genesis_is_self_signed_and_countersigned(signed: Any) -> None:
    c = signed
    vault = c.vault
    dave = None
    with vault.signed_by(signer(c, "Alice")):
        dave = vault.add_custodian("Dave", contact="", role="", actor="op")
        token = enroll_device(vault, c.drivers, dave.id, TokenKind.SOFTWARE, ScriptedPrompts(),
                              threading.Event(), actor="op")
    result = verify_vault(vault)
    assert result.ok, result.problem
    assert token.id in result.trusted
    last = vault.audit_entries(action="token.enrol")[-1]
    assert last.subject == token.id


def test_enrolment_without_the_new_tokens_own_signature_is_named(signed: Any) -> None:
    from tessera.tokens import software

    c = signed
    vault = c.vault
    with vault.signed_by(signer(c, "Alice")):
        dave = vault.add_custodian("Dave", contact="", role="", actor="op")
        enrolled = software.enroll("Dave", c.drivers.software_store, ScriptedPrompts())
        # Countersigned only: possession of the new key is never proven.
        vault.add_token(dave.id, enrolled.kind, "Dave's key", enrolled.recipient,
                        dict(enrolled.facts), actor="op")
    result = verify_vault(vault)
    assert not result.ok
    assert "without that token's own signature" in result.problem


def test_adopt_needs_more_than_half_of_the_custodians(tmp_path: Any) -> None:
    c = populated(tmp_path)
    with pytest.raises(PolicyError, match="more than half"):
        adopt(c.vault, c.drivers, [c.tokens["Alice"].id], ScriptedPrompts(), actor="op")
    assert c.vault.genesis_fingerprint() is None
    done = adopt(c.vault, c.drivers, [c.tokens["Alice"].id, c.tokens["Carol"].id],
                 ScriptedPrompts(), actor="op")
    assert c.vault.genesis_fingerprint() == done.fingerprint
    assert done.signed_by == ("Alice", "Carol")
    assert any("without signatures" in line for line in done.unproven)
    assert verify_vault(c.vault).ok
    c.vault.close()


def test_adopt_refuses_a_vault_already_tampered_with(tmp_path: Any) -> None:
    c = populated(tmp_path)
    c.vault.close()
    conn = raw(c.path)
    conn.execute("UPDATE custodians SET role = 'planted' WHERE name = 'Bob'")
    conn.close()
    vault = _reopen(c)
    with pytest.raises(StateNotVerified, match="custodians"):
        adopt(vault, c.drivers, [c.tokens["Alice"].id, c.tokens["Bob"].id], ScriptedPrompts(),
              actor="op")
    assert vault.genesis_fingerprint() is None
    vault.close()


def _substitute_carol(c: Any) -> age.X25519Identity:
    c.vault.close()
    attacker = age.X25519Identity.generate()
    conn = raw(c.path)
    conn.execute("UPDATE tokens SET recipient = ? WHERE id = ?",
                 (attacker.recipient.to_string(), c.tokens["Carol"].id))
    conn.close()
    _reopen(c)
    return attacker


def test_rotate_refuses_a_substituted_recipient(signed: Any) -> None:
    from tessera.custody.rotate import rotate_record

    c = signed
    _substitute_carol(c)
    before = c.vault.get_record("Deploy key").current_version
    with c.vault.signed_by(signer(c, "Alice")), pytest.raises(RecipientNotVerified) as caught:
        rotate_record(c.vault, "Deploy key", b"new secret", actor="op", reason="test")
    assert caught.value.custodian == "Carol"
    assert c.vault.get_record("Deploy key").current_version == before
    c.vault.close()


def test_rewrap_refuses_a_substituted_recipient(signed: Any) -> None:
    from tessera.custody.rewrap import rewrap_with_paper

    c = signed
    _substitute_carol(c)
    with c.vault.signed_by(signer(c, "Alice")), pytest.raises(RecipientNotVerified) as caught:
        rewrap_with_paper(c.vault, "Deploy key", "Carol", c.words["Carol"], actor="op")
    assert caught.value.custodian == "Carol"
    c.vault.close()


def test_a_remote_enrolment_after_genesis_is_countersigned_and_flagged(signed: Any) -> None:
    from tessera.custody.enroll import enroll_remote

    c = signed
    with c.vault.signed_by(signer(c, "Alice")):
        dave = c.vault.add_custodian("Dave", contact="", role="", actor="op")
        token = enroll_remote(c.vault, dave.id, age.X25519Identity.generate().recipient
                              .to_string(), actor="op")
    result = verify_vault(c.vault)
    assert result.ok, result.problem
    assert token.id in result.unproven_possession


def test_reshare_refuses_a_substituted_recipient_after_the_quorum(signed: Any) -> None:
    from tessera.custody.reshare import ReshareCeremony

    c = signed
    with c.vault.signed_by(signer(c, "Alice")):
        ceremony = ReshareCeremony(c.vault, c.drivers, "Deploy key", reason="rotate set",
                                   ticket="T-2", requested_by="op")
        for name in ("Alice", "Bob"):
            ceremony.contribute_token(c.tokens[name].id, ScriptedPrompts(), threading.Event())
        before = c.vault.get_record("Deploy key").current_version
        attacker = age.X25519Identity.generate()
        conn = raw(c.path)  # meanwhile, someone with the file swaps Carol's recipient
        conn.execute("UPDATE tokens SET recipient = ? WHERE id = ?",
                     (attacker.recipient.to_string(), c.tokens["Carol"].id))
        conn.close()
        with pytest.raises(RecipientNotVerified) as caught:
            ceremony.finish()
    assert caught.value.custodian == "Carol"
    assert c.vault.get_record("Deploy key").current_version == before


def test_a_demo_flag_flipped_in_a_vault_never_adopted_does_not_unlock_wrapping(tmp_path: Any
                                                                               ) -> None:
    """Before its genesis a real vault wraps nothing; turning it into a 'demo vault' by
    editing meta (and even re-recording the statement log, which nobody signed yet)
    does not exempt it: entry 1 of its audit log says it was created real."""
    path = tmp_path / "real.sqlite3"
    with Vault.open(path, create=True) as vault:
        for name in ("Alice", "Bob"):
            person = vault.add_custodian(name, "", "", actor="op")
            vault.add_token(person.id, TokenKind.SOFTWARE, f"{name}'s laptop key",
                            age.X25519Identity.generate().recipient.to_string(),
                            {"store": "file"}, actor="op")
    conn = raw(path)
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'demo'")
    conn.execute("DELETE FROM statements")  # an unsigned log: nothing to compare with
    conn.close()
    vault = Vault.open(path)
    assert vault.is_demo
    with pytest.raises(NotSignedYet, match="audit adopt"):
        create_record(vault, SECRET, label="Root", plan=SplitPlan.simple(2, ["Alice", "Bob"]),
                      nhi={}, actor="op", allow_software=True)
    assert vault.list_records() == []
    vault.close()


def test_a_hook_planted_while_the_vault_is_open_does_not_run(signed: Any, tmp_path: Any
                                                            ) -> None:
    """The vault was checked when it was opened (a window left open on a shared drive);
    the attacker then rewrites the hook. The next release's hook is not run."""
    from tessera.custody.hooks import run_revocation_hook

    c = signed
    assert verify_vault(c.vault).ok  # checked on open
    loot = tmp_path / "loot"
    conn = raw(c.path)
    conn.execute("UPDATE record_hooks SET command = ? WHERE record_id = ?",
                 (json.dumps(["/bin/sh", "-c", f"echo planted > {loot}"]), c.record_id))
    conn.close()
    release = c.vault.list_releases(c.record_id)[0]
    outcome = run_revocation_hook(c.vault, c.record_id, release.id, actor="Alice")
    assert outcome is not None and not outcome.ok
    assert "no hook was run" in outcome.describe() and "record_hooks" in outcome.describe()
    assert "/bin/true" in outcome.describe()  # what the signed log says it should be
    assert not loot.exists()
    c.vault.close()
