"""Reshare: a quorum makes a new share set for the same secret, nothing is shown."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from helpers.ceremony import SECRET, Ceremony, ScriptedPrompts
from tessera.core import slip39
from tessera.core.errors import InvalidMnemonic, PolicyError, ShareMismatch
from tessera.core.policy import SplitPlan
from tessera.custody.enroll import enroll_device
from tessera.custody.evidence import verify_approvals
from tessera.custody.release import ReleaseCeremony
from tessera.custody.reshare import ReshareCeremony
from tessera.tokens.base import TokenKind
from tessera.vault import RecordState, ReleaseState

Approve = Callable[..., None]


def reshare(c: Ceremony, approve: Approve, plan: SplitPlan | None = None) -> ReshareCeremony:
    ceremony = ReshareCeremony(c.vault, c.drivers, c.record_id, reason="new custodians",
                               ticket="CHG-7", requested_by="op", plan=plan)
    approve(ceremony, "Alice", "Bob")
    return ceremony


def release_with_paper(c: Ceremony, words: dict[str, str], *names: str) -> bytes:
    ceremony = ReleaseCeremony(c.vault, c.drivers, c.record_id, reason="restore",
                               ticket="INC-1", requested_by="op")
    try:
        for name in names:
            ceremony.contribute_paper(c.vault.get_custodian(name).id, words[name])
        return bytes(ceremony.finish())
    finally:
        ceremony.abort()


def test_reshare_makes_a_new_epoch_and_the_old_shares_are_named(c: Ceremony,
                                                               approve: Approve) -> None:
    new_words: dict[str, str] = {}
    ceremony = reshare(c, approve)
    result = ceremony.finish(on_mnemonics=new_words.update)
    assert (result.old_version, result.version, result.epoch) == (1, 2, 2)
    assert result.state is RecordState.SEALED
    manifest = c.vault.get_version(c.record_id).manifest
    names = {e.key: e.custodian for e in manifest.shares}
    by_name = {names[k]: w for k, w in new_words.items()}

    # The new words release the same secret.
    assert release_with_paper(c, by_name, "Alice", "Carol") == SECRET
    # An old share is refused and named by its epoch.
    ceremony2 = ReleaseCeremony(c.vault, c.drivers, c.record_id, reason="restore",
                                ticket="INC-2", requested_by="op")
    with pytest.raises(ShareMismatch, match="from epoch 1"):
        ceremony2.contribute_paper(c.vault.get_custodian("Carol").id, c.words["Carol"])
    ceremony2.abort()
    # Old and new shares never combine, whatever tool is used.
    with pytest.raises(InvalidMnemonic):
        slip39.combine([c.words["Alice"], by_name["Bob"]])
    # The old version is kept, superseded; the quorum is on record with its approvals.
    assert c.vault.get_version(c.record_id, 1).superseded_at is not None
    quorum = c.vault.get_release(ceremony.request_id)
    assert (quorum.purpose, quorum.state) == ("reshare", ReleaseState.RELEASED)
    assert [a.method.value for a in quorum.approvals] == ["fido2", "piv"]
    assert verify_approvals(c.vault, c.drivers) == []
    actions = [e.action for e in c.vault.audit_entries(subject=c.record_id)]
    assert "record.reshare" in actions


def test_reshare_to_other_custodians_and_threshold(c: Ceremony, approve: Approve) -> None:
    c.vault.add_custodian("Dave", contact="", role="", actor="op")
    enroll_device(c.vault, c.drivers, c.vault.get_custodian("Dave").id, TokenKind.SOFTWARE,
                  ScriptedPrompts(), threading.Event(), actor="op")
    plan = SplitPlan.simple(3, ["Alice", "Bob", "Carol", "Dave"])
    result = reshare(c, approve, plan).finish()
    manifest = c.vault.get_version(c.record_id).manifest
    assert result.quorum == "any 3 of 4" == manifest.describe_quorum()
    assert sorted(manifest.custodian_names.values()) == ["Alice", "Bob", "Carol", "Dave"]


def test_a_plan_the_policy_refuses_opens_no_quorum(c: Ceremony) -> None:
    before = len(c.vault.list_releases())
    with pytest.raises(PolicyError, match="threshold of 1"):
        ReshareCeremony(c.vault, c.drivers, c.record_id, reason="x", ticket="CHG-1",
                        requested_by="op", plan=SplitPlan.simple(1, ["Alice", "Bob"]))
    assert len(c.vault.list_releases()) == before


def test_reshare_does_not_mark_the_record_released(c: Ceremony, approve: Approve) -> None:
    reshare(c, approve).finish()
    record = c.vault.get_record(c.record_id)
    assert record.state is RecordState.SEALED
    assert record.last_release_at is None


def test_crash_while_storing_the_new_version_leaves_the_old_one(
        c: Ceremony, approve: Approve, monkeypatch: pytest.MonkeyPatch) -> None:
    ceremony = reshare(c, approve)
    real_audit = type(c.vault)._audit

    def crash(self: object, actor: str, action: str, subject: str, details: object) -> object:
        if action == "record.version":  # after the new version's rows were inserted
            raise OSError("disk full")
        return real_audit(self, actor, action, subject, details)  # type: ignore[arg-type]

    monkeypatch.setattr(type(c.vault), "_audit", crash)
    with pytest.raises(OSError):
        ceremony.finish()
    monkeypatch.undo()
    ceremony.abort()
    assert [v.version for v in c.vault.list_versions(c.record_id)] == [1]
    assert c.vault.get_version(c.record_id).superseded_at is None
    assert c.vault.verify_audit().ok
    # The old shares still work, and the reshare can simply be run again.
    assert release_with_paper(c, c.words, "Alice", "Carol") == SECRET
    c.vault.set_record_state(c.record_id, RecordState.SEALED, "", "op")
    assert reshare(c, approve).finish().version == 2
