"""Post-quantum share envelopes: who gets one, what the review says, and the upgrade.

The ceremony vault: Alice on a virtual FIDO2 key, Bob on a virtual YubiKey PIV, Carol
on a software key (2 of 3), all with the real drivers.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from helpers.ceremony import SECRET, Ceremony, ScriptedPrompts, build
from tessera.core import age
from tessera.core.envelopes import EnvelopeKind, envelope_kind
from tessera.core.policy import SplitPlan
from tessera.core.review import FindingKind
from tessera.custody.create import create_record
from tessera.custody.policy_ops import set_record_setting, set_vault_setting
from tessera.custody.release import ReleaseCeremony
from tessera.custody.reshare import ReshareCeremony
from tessera.custody.review import gather_review
from tessera.custody.rewrap import upgrade_to_hybrid
from tessera.tokens.base import TokenKind


def kinds_of(c: Ceremony, record_id: str) -> dict[str, EnvelopeKind]:
    data = c.vault.get_version(record_id)
    return {e.custodian: envelope_kind(data.recipients_of(e.key)) for e in data.manifest.shares}


def stanza_types(c: Ceremony, record_id: str) -> dict[str, list[str]]:
    data = c.vault.get_version(record_id)
    return {e.custodian: sorted(s.type for s in age.read_stanzas(data.envelopes[e.key].age))
            for e in data.manifest.shares}


def pq_findings(c: Ceremony, record_id: str) -> dict[str, str]:
    review = gather_review(c.vault)
    return {f.custodian: f.text for f in review.findings_for(record_id)
            if f.kind is FindingKind.NOT_POST_QUANTUM}


def release(c: Ceremony, record_id: str, *names: str) -> bytes:
    ceremony = ReleaseCeremony(c.vault, c.drivers, record_id, reason="restore",
                               ticket="INC-9", requested_by="op")
    try:
        for name in names:
            ceremony.contribute_token(c.tokens[name].id, ScriptedPrompts(), threading.Event())
        return bytes(ceremony.finish())
    finally:
        ceremony.abort()


def test_new_records_are_post_quantum_for_fido2_and_software_custodians(c: Ceremony) -> None:
    assert kinds_of(c, c.record_id) == {"Alice": EnvelopeKind.HYBRID,
                                        "Bob": EnvelopeKind.CLASSICAL,
                                        "Carol": EnvelopeKind.HYBRID}
    # What is actually in the age files, not only what the vault says.
    assert stanza_types(c, c.record_id) == {"Alice": ["mlkem768x25519"], "Bob": ["piv-p256"],
                                            "Carol": ["mlkem768x25519"]}
    # Both kinds of hybrid custodian open their share with their token (PIN, touch).
    assert release(c, c.record_id, "Alice", "Carol") == SECRET


def test_enrolment_records_both_recipients_of_fido2_and_software_keys(c: Ceremony) -> None:
    for name in ("Alice", "Carol"):
        token = c.tokens[name]
        assert token.recipient.startswith("age1") and not age.is_post_quantum(token.recipient)
        assert token.pq_recipient is not None and token.pq_recipient.startswith("age1pq1")
        assert c.vault.token_for_recipient(token.pq_recipient) == token
    assert c.tokens["Bob"].pq_recipient is None  # a PIV slot cannot do ML-KEM


def test_the_review_names_record_and_custodian_whose_envelope_is_classical(
        c: Ceremony) -> None:
    found = pq_findings(c, c.record_id)
    assert set(found) == {"Bob"}
    assert "Deploy key" in found["Bob"] and "Bob" in found["Bob"]
    assert "YubiKey PIV" in found["Bob"]


def test_a_mixed_custodian_gets_one_classical_envelope_never_a_mixed_one(
        tmp_path: Path) -> None:
    # Alice has a FIDO2 key (hybrid-capable) and a PIV spare (classical only).
    c = build(tmp_path, {"Alice": TokenKind.FIDO2, "Carol": TokenKind.SOFTWARE,
                         "Dave": TokenKind.SOFTWARE})
    from tessera.custody.enroll import enroll_device

    key = c.devices.add(TokenKind.PIV, "Alice's spare")
    device = c.drivers.driver(TokenKind.PIV).find_device(  # type: ignore[attr-defined]
        key.device.card.serial)  # type: ignore[attr-defined]
    enroll_device(c.vault, c.drivers, c.vault.get_custodian("Alice").id, TokenKind.PIV,
                  ScriptedPrompts(), threading.Event(), actor="op", device=device)
    created = create_record(c.vault, SECRET, label="Mixed", plan=SplitPlan.simple(
        2, ["Alice", "Carol", "Dave"]), nhi={}, actor="op", encoding="binary")
    assert stanza_types(c, created.record_id)["Alice"] == ["X25519", "piv-p256"]
    assert stanza_types(c, created.record_id)["Carol"] == ["mlkem768x25519"]
    found = pq_findings(c, created.record_id)
    assert set(found) == {"Alice"} and "YubiKey" in found["Alice"]


def test_a_record_override_keeps_a_record_classical(c: Ceremony) -> None:
    set_vault_setting(c.vault, "envelopes", "classical", actor="op")
    created = create_record(c.vault, SECRET, label="Legacy", plan=SplitPlan.simple(
        2, ["Alice", "Bob", "Carol"]), nhi={}, actor="op", encoding="binary")
    assert set(kinds_of(c, created.record_id).values()) == {EnvelopeKind.CLASSICAL}
    with pytest.raises(Exception, match="hybrid or classical"):
        set_vault_setting(c.vault, "envelopes", "quantum", actor="op")
    set_vault_setting(c.vault, "envelopes", "hybrid", actor="op")
    set_record_setting(c.vault, "Legacy", "envelopes", "classical", actor="op")
    assert c.vault.record_policy(created.record_id).envelopes == "classical"
    assert "policy asks for classical" in pq_findings(c, created.record_id)["Alice"]


def test_a_classical_two_of_three_record_is_upgraded_and_released(tmp_path: Path) -> None:
    c = build(tmp_path, {"Alice": TokenKind.FIDO2, "Bob": TokenKind.FIDO2,
                         "Carol": TokenKind.SOFTWARE})
    set_vault_setting(c.vault, "envelopes", "classical", actor="op")
    created = create_record(c.vault, SECRET, label="Old deploy key", plan=SplitPlan.simple(
        2, ["Alice", "Bob", "Carol"]), nhi={}, actor="op", encoding="binary")
    record = created.record_id
    assert set(kinds_of(c, record).values()) == {EnvelopeKind.CLASSICAL}
    assert set(pq_findings(c, record)) == {"Alice", "Bob", "Carol"}
    before = c.vault.get_version(record)

    set_vault_setting(c.vault, "envelopes", "hybrid", actor="op")
    assert "tessera rewrap --upgrade" in pq_findings(c, record)["Alice"]
    for name in ("Alice", "Bob"):
        result = upgrade_to_hybrid(c.vault, c.drivers, record, c.tokens[name].id,
                                   ScriptedPrompts(), threading.Event(), actor=name)
        assert result.envelopes == "hybrid"
        assert result.removed == ()  # the same key still opens it
    after = c.vault.get_version(record)
    # Same words, manifest and fingerprint: the printed sheets stay valid.
    assert (after.version, after.fingerprint) == (before.version, before.fingerprint)
    assert stanza_types(c, record) == {"Alice": ["mlkem768x25519"], "Bob": ["mlkem768x25519"],
                                       "Carol": ["X25519"]}
    assert set(pq_findings(c, record)) == {"Carol"}
    # Audited: each upgrade is an envelope.rewrap entry saying the envelope is hybrid.
    upgrades = [e for e in c.vault.audit_entries(subject=record)
                if e.action == "envelope.rewrap"]
    assert [e.details["envelopes"] for e in upgrades] == ["hybrid", "hybrid"]
    # The two upgraded, post-quantum shares release the secret.
    assert release(c, record, "Alice", "Bob") == SECRET


def test_a_quorum_reshare_upgrades_every_envelope_it_can(c: Ceremony) -> None:
    set_vault_setting(c.vault, "envelopes", "classical", actor="op")
    created = create_record(c.vault, SECRET, label="Reshared", plan=SplitPlan.simple(
        2, ["Alice", "Bob", "Carol"]), nhi={}, actor="op", encoding="binary")
    set_vault_setting(c.vault, "envelopes", "hybrid", actor="op")
    ceremony = ReshareCeremony(c.vault, c.drivers, created.record_id, reason="post-quantum",
                               ticket="CHG-8", requested_by="op")
    for name in ("Alice", "Carol"):
        ceremony.contribute_token(c.tokens[name].id, ScriptedPrompts(), threading.Event())
    ceremony.finish()
    assert kinds_of(c, created.record_id) == {"Alice": EnvelopeKind.HYBRID,
                                              "Bob": EnvelopeKind.CLASSICAL,
                                              "Carol": EnvelopeKind.HYBRID}
    assert release(c, created.record_id, "Alice", "Carol") == SECRET


def test_remote_enrolment_accepts_a_post_quantum_recipient(c: Ceremony) -> None:
    from tessera.custody.enroll import enroll_remote

    identity = age.MlKem768X25519Identity(bytes(range(32)))
    dave = c.vault.add_custodian("Dave", contact="", role="", actor="op")
    token = enroll_remote(c.vault, dave.id, identity.recipient.to_string(), actor="op")
    assert token.remote and token.pq_recipient == identity.recipient.to_string()
    created = create_record(c.vault, SECRET, label="Remote", plan=SplitPlan.simple(
        2, ["Alice", "Dave"]), nhi={}, actor="op", encoding="binary")
    data = c.vault.get_version(created.record_id)
    entry = next(e for e in data.manifest.shares if e.custodian == "Dave")
    # Dave opens his share with nothing but his own age identity.
    words = age.decrypt(data.envelopes[entry.key].age, [identity]).decode()
    assert len(words.split()) == 33
    with pytest.raises(Exception, match="not a valid recipient"):
        enroll_remote(c.vault, dave.id, identity.recipient.to_string()[:-1], actor="op")
