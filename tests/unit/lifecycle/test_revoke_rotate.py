"""Revoke a custodian (a reshare without them, rotation required) and rotate (a new
secret, no quorum), with virtual FIDO2 and PIV keys and a software key."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from helpers.ceremony import SECRET, Ceremony, ScriptedPrompts
from tessera.core.errors import InputError, ShareMismatch, WrongToken
from tessera.core.policy import Policy
from tessera.custody.release import ReleaseCeremony
from tessera.custody.revoke import start_revoke
from tessera.custody.rotate import rotate_record
from tessera.vault import RecordState
from tessera.vault.sheet_registry import SheetRegistry

Approve = Callable[..., None]
NEW_SECRET = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRotated"


def release(c: Ceremony, *names: str) -> bytes:
    ceremony = ReleaseCeremony(c.vault, c.drivers, c.record_id, reason="restore",
                               ticket="INC-9", requested_by="op")
    try:
        for name in names:
            ceremony.contribute_token(c.tokens[name].id, ScriptedPrompts(), threading.Event())
        return bytes(ceremony.finish())
    finally:
        ceremony.abort()


def test_revoke_removes_the_custodian_and_requires_rotation(c: Ceremony,
                                                           approve: Approve) -> None:
    ceremony = start_revoke(c.vault, c.drivers, c.record_id, "Carol", reason="left the team",
                            ticket="HR-3", requested_by="op")
    approve(ceremony, "Alice", "Bob")
    result = ceremony.finish()
    assert (result.operation, result.version, result.epoch) == ("revoke", 2, 2)
    record = c.vault.get_record(c.record_id)
    assert record.state is RecordState.ROTATION_REQUIRED
    assert "Carol" in record.state_reason
    assert "only rotating the credential itself" in record.state_reason
    data = c.vault.get_version(c.record_id)
    carol = c.vault.get_custodian("Carol").id
    assert not data.manifest.shares_of(carol)
    assert all(e.custodian_id != carol for e in data.envelopes.values())
    assert all(c.tokens["Carol"].recipient not in data.recipients_of(s.key)
               for s in data.manifest.shares)
    # The remaining custodians still release the same secret.
    assert release(c, "Alice", "Bob") == SECRET
    # Carol's token opens nothing of the new version; her old words are named as old.
    ceremony2 = ReleaseCeremony(c.vault, c.drivers, c.record_id, reason="r", ticket="T",
                                requested_by="op")
    with pytest.raises(WrongToken):
        ceremony2.contribute_token(c.tokens["Carol"].id, ScriptedPrompts(), threading.Event())
    with pytest.raises(ShareMismatch, match="not a custodian"):
        ceremony2.contribute_paper(carol, c.words["Carol"])
    ceremony2.abort()
    entry = c.vault.audit_entries(action="record.revoke")[-1]
    assert entry.details["revoked_custodian"] == "Carol"


def test_revoke_checks_the_new_split_before_any_touch(c: Ceremony) -> None:
    c.vault.add_custodian("Mallory", contact="", role="", actor="op")
    before = len(c.vault.list_releases())
    with pytest.raises(InputError, match="Mallory holds no share"):
        start_revoke(c.vault, c.drivers, c.record_id, "Mallory", reason="r", ticket="T",
                     requested_by="op")
    assert len(c.vault.list_releases()) == before
    # Policy problems of the new split are known before the quorum is opened.
    c.vault.set_policy(Policy(min_threshold=3), "op")
    ceremony = start_revoke(c.vault, c.drivers, c.record_id, "Carol", reason="r", ticket="T",
                            requested_by="op")
    assert any("below the minimum of 3" in w.text for w in ceremony.warnings)
    ceremony.abort()


def test_rotate_seals_a_new_secret_and_supersedes_the_old_version(c: Ceremony) -> None:
    registry = SheetRegistry(c.vault)
    data = c.vault.get_version(c.record_id)
    for share in data.manifest.shares:
        registry.record_printed(f"S-{share.key.upper()}", c.record_id, 1, share.key, actor="op")
    assert release(c, "Alice", "Bob") == SECRET
    assert c.vault.get_record(c.record_id).state is RecordState.RELEASED
    new_words: dict[str, str] = {}
    result = rotate_record(c.vault, c.record_id, NEW_SECRET, actor="op",
                           reason="rotated after INC-9", on_mnemonics=new_words.update)
    assert (result.version, result.epoch, result.state) == (2, 2, RecordState.SEALED)
    assert sorted(s.serial for s in result.sheets_to_destroy) == ["S-G0M0", "S-G0M1",
                                                                   "S-G0M2"]
    # The old version is still readable, but only as a superseded version.
    old = c.vault.get_version(c.record_id, 1)
    assert old.superseded_at is not None
    assert [v.version for v in c.vault.list_versions(c.record_id)] == [1, 2]
    # A quorum now releases the new secret; the old words are refused by epoch.
    assert release(c, "Alice", "Bob") == NEW_SECRET
    ceremony = ReleaseCeremony(c.vault, c.drivers, c.record_id, reason="r", ticket="T",
                               requested_by="op")
    with pytest.raises(ShareMismatch, match="epoch 1"):
        ceremony.contribute_paper(c.vault.get_custodian("Alice").id, c.words["Alice"])
    ceremony.abort()
    assert len(new_words) == 3
    assert c.vault.audit_entries(action="record.rotate")[-1].details["sheets_to_destroy"] == [
        "S-G0M0", "S-G0M1", "S-G0M2"]


def test_rotate_clears_rotation_required_after_a_revoke(c: Ceremony, approve: Approve) -> None:
    ceremony = start_revoke(c.vault, c.drivers, c.record_id, "Carol", reason="r", ticket="T",
                            requested_by="op")
    approve(ceremony, "Alice", "Bob")
    ceremony.finish()
    result = rotate_record(c.vault, c.record_id, NEW_SECRET, actor="op", reason="rotated")
    assert result.state is RecordState.SEALED
    assert sorted(c.vault.get_version(c.record_id).manifest.custodian_names.values()) == [
        "Alice", "Bob"]
