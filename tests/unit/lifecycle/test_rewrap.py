"""Re-wrap: a custodian moves their share to a new token without a quorum; the old
token's stanza is gone, the words, manifest and fingerprint stay the same."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from helpers.ceremony import SECRET, Ceremony, ScriptedPrompts
from helpers.cli import run
from tessera.core.errors import PolicyError, ShareMismatch, TesseraError, WrongToken
from tessera.core.request import new_request
from tessera.custody.enroll import enroll_device
from tessera.custody.evidence import verify_approvals
from tessera.custody.release import open_share
from tessera.custody.reshare import ReshareCeremony
from tessera.custody.rewrap import rewrap_with_paper, rewrap_with_token
from tessera.tokens.base import TokenInfo, TokenKind, TokenState


def new_fido2(c: Ceremony, name: str) -> TokenInfo:
    key = c.devices.add(TokenKind.FIDO2, f"{name}'s new key")
    return enroll_device(c.vault, c.drivers, c.vault.get_custodian(name).id, TokenKind.FIDO2,
                         ScriptedPrompts(), threading.Event(), actor="op", device=key.device,
                         label=f"{name}'s new key")


def opens(c: Ceremony, token: TokenInfo) -> bool:
    data = c.vault.get_version(c.record_id)
    request = new_request("drill", data.manifest, reason="check", ticket="", requested_by="op")
    try:
        unlocked, _ = open_share(c.drivers, token, data, request.challenge,
                                     ScriptedPrompts(), threading.Event())
    except WrongToken:
        return False
    unlocked.wipe()
    return True


def test_rewrap_from_the_old_token_to_a_new_one(c: Ceremony) -> None:
    before = c.vault.get_version(c.record_id)
    new = new_fido2(c, "Alice")
    result = rewrap_with_token(c.vault, c.drivers, c.record_id, c.tokens["Alice"].id,
                               ScriptedPrompts(), threading.Event(), actor="Alice")
    assert result.added == ("Alice's new key",)
    assert result.removed == (c.tokens["Alice"].label,)
    after = c.vault.get_version(c.record_id)
    # Same version, same manifest and fingerprint: every printed sheet stays valid.
    assert (after.version, after.fingerprint, after.manifest_bytes) == (
        before.version, before.fingerprint, before.manifest_bytes)
    key = after.manifest.shares_of(c.vault.get_custodian("Alice").id)[0].key
    # The new FIDO2 key takes a post-quantum envelope (policy default: hybrid).
    assert after.recipients_of(key) == (new.pq_recipient,)
    assert new.pq_recipient is not None and new.pq_recipient.startswith("age1pq1")
    assert after.envelopes[key].age != before.envelopes[key].age
    assert opens(c, new)
    assert not opens(c, c.tokens["Alice"])
    # Even handed the new envelope directly, the old token cannot open it.
    with pytest.raises(TesseraError):
        c.drivers.for_token(c.tokens["Alice"]).unlock(
            c.tokens["Alice"], after.envelopes[key].age, b"\0" * 32, ScriptedPrompts(),
            threading.Event())
    # The new token approves a quorum; the re-wrap's signature verifies in the audit.
    ceremony = ReshareCeremony(c.vault, c.drivers, c.record_id, reason="r", ticket="T",
                               requested_by="op")
    ceremony.contribute_token(new.id, ScriptedPrompts(), threading.Event())
    ceremony.contribute_token(c.tokens["Bob"].id, ScriptedPrompts(), threading.Event())
    assert ceremony.finish().version == 2
    assert verify_approvals(c.vault, c.drivers) == []
    rewrap = c.vault.list_rewraps(c.record_id)[0]
    assert (rewrap.method.value, rewrap.token_id) == ("fido2", c.tokens["Alice"].id)
    entry = c.vault.audit_entries(action="envelope.rewrap")[-1]
    assert entry.details["removed_recipients"] == [c.tokens["Alice"].pq_recipient]


def test_rewrap_from_the_sheet_after_the_token_was_lost(c: Ceremony) -> None:
    old = c.tokens["Bob"]
    c.vault.set_token_state(old.id, TokenState.LOST, "op", "left on a train")
    with pytest.raises(PolicyError, match="lost"):
        rewrap_with_token(c.vault, c.drivers, c.record_id, old.id, ScriptedPrompts(),
                          threading.Event(), actor="Bob")
    new = new_fido2(c, "Bob")
    result = rewrap_with_paper(c.vault, c.record_id, "Bob", c.words["Bob"], actor="Bob")
    assert result.method == "paper"
    assert opens(c, new)
    data = c.vault.get_version(c.record_id)
    assert all(old.recipient not in data.recipients_of(s.key) for s in data.manifest.shares)
    assert verify_approvals(c.vault, c.drivers) == []


def test_someone_elses_words_change_nothing(c: Ceremony) -> None:
    new_fido2(c, "Bob")
    before = c.vault.get_version(c.record_id)
    head = c.vault.audit_head()
    with pytest.raises(ShareMismatch, match="Alice's words"):
        rewrap_with_paper(c.vault, c.record_id, "Bob", c.words["Alice"], actor="Bob")
    assert c.vault.get_version(c.record_id) == before
    assert c.vault.audit_head() == head


def test_rewrap_follows_the_records_allowed_token_kinds(c: Ceremony) -> None:
    software = enroll_device(c.vault, c.drivers, c.vault.get_custodian("Alice").id,
                             TokenKind.SOFTWARE, ScriptedPrompts(), threading.Event(),
                             actor="op")
    c.vault.set_record_policy(c.record_id, {"allowed_kinds": ["fido2", "piv"]}, "op")
    with pytest.raises(PolicyError, match="software tokens are not allowed"):
        rewrap_with_token(c.vault, c.drivers, c.record_id, c.tokens["Alice"].id,
                          ScriptedPrompts(), threading.Event(), actor="Alice",
                          new_token_ids=[software.id])


def test_rewrap_through_the_cli(c: Ceremony, tmp_path: Path) -> None:
    new = new_fido2(c, "Alice")
    c.vault.close()
    r = run("--vault", str(c.path), "--virtual-touch", "immediate", "rewrap", "Deploy key",
            "Alice", "--from-token", c.tokens["Alice"].id[:8], "--token", new.id[:8],
            input="314159\n")
    assert r.code == 0, r.text
    assert "to Alice's new key" in r.out
    assert "The words, the fingerprint and the printed sheet are unchanged" in r.out
    r = run("--vault", str(c.path), "rewrap", "Deploy key", "Alice")
    assert r.code != 0 and "--from-token OLD or --paper" in r.err
    assert SECRET  # the secret itself never appears in the CLI's output
    assert SECRET.decode() not in r.text


def test_a_rewrapped_version_travels_in_an_export(c: Ceremony, tmp_path: Path) -> None:
    from tessera.vault import Vault
    from tessera.vault.exchange import export_version, import_version, parse_export

    plain = export_version(c.vault, c.record_id, actor="op")
    assert b'"rewrapped"' not in plain  # files of never re-wrapped versions are unchanged
    new = new_fido2(c, "Alice")
    rewrap_with_token(c.vault, c.drivers, c.record_id, c.tokens["Alice"].id,
                      ScriptedPrompts(), threading.Event(), actor="Alice")
    data = export_version(c.vault, c.record_id, actor="op")
    parsed = parse_export(data)
    key = next(iter(parsed.rewrapped))
    assert parsed.rewrapped[key] == (new.pq_recipient,)
    with Vault.open(tmp_path / "air-gapped.sqlite3", create=True, demo=True) as other:
        result = import_version(other, data, "op")
        assert result.created_record
        assert other.get_version(c.record_id).recipients_of(key) == (new.pq_recipient,)
        assert import_version(other, data, "op").already_imported
    # A file claiming a re-wrap to another custodian's key is refused.
    tampered = data.replace(new.recipient.encode(), c.tokens["Bob"].recipient.encode(), 1)
    with pytest.raises(TesseraError):
        parse_export(tampered)


def test_after_a_rewrap_release_and_drill_use_the_new_token(c: Ceremony) -> None:
    from tessera.custody.release import ReleaseCeremony, custodian_slots, drill

    new = new_fido2(c, "Alice")
    rewrap_with_token(c.vault, c.drivers, c.record_id, c.tokens["Alice"].id,
                      ScriptedPrompts(), threading.Event(), actor="Alice")
    alice = c.vault.get_custodian("Alice").id
    slot = next(s for s in custodian_slots(c.vault, c.vault.get_version(c.record_id))
                if s.custodian_id == alice)
    assert [t.id for t in slot.tokens] == [new.id]
    assert drill(c.vault, c.drivers, c.record_id, new.id, ScriptedPrompts(),
                 threading.Event(), actor="Alice").ok
    ceremony = ReleaseCeremony(c.vault, c.drivers, c.record_id, reason="r", ticket="T",
                               requested_by="op")
    with pytest.raises(WrongToken):
        ceremony.contribute_token(c.tokens["Alice"].id, ScriptedPrompts(), threading.Event())
    ceremony.contribute_token(new.id, ScriptedPrompts(), threading.Event())
    ceremony.contribute_token(c.tokens["Bob"].id, ScriptedPrompts(), threading.Event())
    assert bytes(ceremony.finish()) == SECRET
