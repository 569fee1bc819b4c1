"""Post-quantum share envelopes: who gets one, what the review says, and the upgrade.

The ceremony vault: Alice on a virtual FIDO2 key, Bob on a virtual YubiKey PIV, Carol
on a software key (2 of 3), all with the real drivers; only the devices are simulated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, mlkem
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from helpers.ceremony import PIN, SECRET, Ceremony, ScriptedPrompts, build
from tessera.core import age
from tessera.core.envelopes import EnvelopeKind, envelope_kind
from tessera.core.policy import SplitPlan
from tessera.core.review import FindingKind
from tessera.custody.create import create_record
from tessera.custody.enroll import enroll_remote
from tessera.custody.policy_ops import set_record_setting, set_vault_setting
from tessera.custody.release import ReleaseCeremony
from tessera.custody.reshare import ReshareCeremony
from tessera.custody.review import gather_review
from tessera.custody.rewrap import upgrade_to_hybrid
from tessera.tokens.base import TokenKind
from tessera.tokens.piv_pq import PQ_OBJECT, mlkem_key


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


def test_new_records_are_post_quantum_for_every_kind_of_custodian(c: Ceremony) -> None:
    assert set(kinds_of(c, c.record_id).values()) == {EnvelopeKind.HYBRID}
    # What is actually in the age files, not only what the vault says.
    assert stanza_types(c, c.record_id) == {"Alice": ["mlkem768x25519"],
                                            "Bob": ["mlkem768p256tag"],
                                            "Carol": ["mlkem768x25519"]}
    # Each kind of custodian opens their hybrid share with their token (PIN, touch).
    assert release(c, c.record_id, "Alice", "Bob") == SECRET
    assert release(c, c.record_id, "Bob", "Carol") == SECRET


def test_enrolment_records_both_recipients_of_every_token(c: Ceremony) -> None:
    for name, prefix in (("Alice", "age1pq1"), ("Carol", "age1pq1"), ("Bob", "age1tagpq1")):
        token = c.tokens[name]
        assert not age.is_post_quantum(token.recipient)
        assert token.pq_recipient is not None and token.pq_recipient.startswith(prefix)
        assert c.vault.token_for_recipient(token.pq_recipient) == token
    assert c.tokens["Bob"].recipient.startswith("age1yubikey1")


def _bob_p256_ecdh(c: Ceremony) -> tuple[bytes, Callable[[bytes], bytes]]:
    """What a quantum computer would give an attacker: Bob's P-256 private key."""
    card = c.keys["Bob"].device.card  # type: ignore[attr-defined]
    slot_key = next(iter(card.state.keys.values()))
    private = ec.derive_private_key(slot_key.private_value, ec.SECP256R1())
    compressed = private.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    def ecdh(epk: bytes) -> bytes:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), epk)
        return private.exchange(ec.ECDH(), peer)

    return compressed, ecdh


def test_a_stolen_vault_and_a_broken_p256_key_do_not_open_a_piv_hybrid_share(
        c: Ceremony) -> None:
    data = c.vault.get_version(c.record_id)
    entry = next(e for e in data.manifest.shares if e.custodian == "Bob")
    envelope = data.envelopes[entry.key].age
    compressed, ecdh = _bob_p256_ecdh(c)
    # The attacker has the envelope and Bob's P-256 key, but not the card's ML-KEM
    # key: no guess of it opens the stanza, and the classical identities find nothing.
    guessed = mlkem.MLKEM768PrivateKey.generate()
    with pytest.raises(age.AgeNoMatch):
        age.decrypt(envelope, [age.MlKem768P256TagIdentity(compressed, ecdh, lambda: guessed),
                               age.PivP256Identity(compressed, ecdh),
                               age.P256TagIdentity(compressed, ecdh)])
    # With the card's ML-KEM key as well (card + PIN) it opens: the test is not vacuous.
    card = c.keys["Bob"].device.card  # type: ignore[attr-defined]
    master = card.state.objects[PQ_OBJECT][-32:]
    real = mlkem_key(master, compressed)
    words = age.decrypt(envelope, [age.MlKem768P256TagIdentity(compressed, ecdh, lambda: real)])
    assert words.decode() == c.words["Bob"]


def test_the_cards_ml_kem_key_is_not_readable_without_the_pin(c: Ceremony) -> None:
    from yubikit.core.smartcard import ApduError
    from yubikit.piv import PivSession

    device = c.drivers.driver(TokenKind.PIV).find_device(  # type: ignore[attr-defined]
        c.keys["Bob"].device.card.serial)  # type: ignore[attr-defined]
    connection = device.open()
    try:
        session = PivSession(connection)
        with pytest.raises(ApduError):
            session.get_object(PQ_OBJECT)
        session.verify_pin(PIN)
        assert bytes(session.get_object(PQ_OBJECT)).startswith(b"tessera-pq1:")
    finally:
        connection.close()


def test_the_review_is_quiet_when_every_envelope_is_post_quantum(c: Ceremony) -> None:
    assert pq_findings(c, c.record_id) == {}


def test_a_mixed_custodian_gets_one_classical_envelope_never_a_mixed_one(
        tmp_path: Path) -> None:
    # Alice has a FIDO2 key (hybrid-capable) and a spare YubiKey enrolled remotely from
    # its age1yubikey1… recipient: no post-quantum half is known for the spare.
    c = build(tmp_path, {"Alice": TokenKind.FIDO2, "Carol": TokenKind.SOFTWARE,
                         "Dave": TokenKind.SOFTWARE})
    spare = age.PivP256Recipient.from_public_key(
        ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            Encoding.X962, PublicFormat.CompressedPoint))
    enroll_remote(c.vault, c.vault.get_custodian("Alice").id, spare.to_string(),
                  label="Alice's spare YubiKey", actor="op")
    created = create_record(c.vault, SECRET, label="Mixed", plan=SplitPlan.simple(
        2, ["Alice", "Carol", "Dave"]), nhi={}, actor="op", encoding="binary")
    assert stanza_types(c, created.record_id)["Alice"] == ["X25519", "piv-p256"]
    assert stanza_types(c, created.record_id)["Carol"] == ["mlkem768x25519"]
    found = pq_findings(c, created.record_id)
    assert set(found) == {"Alice"}
    assert "Mixed" in found["Alice"] and "Alice's spare YubiKey" in found["Alice"]
    assert "no post-quantum key" in found["Alice"]


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
    assert set(kinds_of(c, created.record_id).values()) == {EnvelopeKind.HYBRID}
    assert release(c, created.record_id, "Alice", "Bob") == SECRET


def test_remote_enrolment_accepts_a_post_quantum_recipient(c: Ceremony) -> None:
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


def test_the_cli_sets_the_policy_upgrades_a_share_and_the_review_says_so(
        c: Ceremony) -> None:
    from helpers.cli import run

    vault = str(c.path)
    c.vault.close()
    r = run("--vault", vault, "policy", "set", "envelopes", "classical", "--record",
            "Deploy key")
    assert r.code == 0, r.text
    r = run("--vault", vault, "--virtual-touch", "immediate", "rewrap", "Deploy key", "Alice",
            "--from-token", c.tokens["Alice"].id[:8], "--upgrade", input="314159\n")
    assert r.code == 0, r.text
    assert "(classical envelope)" in r.out  # the record's override still says classical
    r = run("--vault", vault, "review")
    assert "Share envelopes not post-quantum" in r.out and "Alice" in r.out
    r = run("--vault", vault, "policy", "set", "envelopes", "default", "--record",
            "Deploy key")
    assert r.code == 0, r.text
    r = run("--vault", vault, "--virtual-touch", "immediate", "rewrap", "Deploy key", "Alice",
            "--from-token", c.tokens["Alice"].id[:8], "--upgrade", input="314159\n")
    assert r.code == 0, r.text
    assert "(hybrid envelope)" in r.out and "no longer opens it" not in r.out
    r = run("--vault", vault, "review")
    assert "Share envelopes not post-quantum" not in r.out
    r = run("--vault", vault, "policy", "set", "envelopes", "quantum")
    assert r.code != 0 and "hybrid or classical" in r.err


def test_remote_yubikey_recipients_of_the_tagged_types_are_enrolled_as_piv(
        c: Ceremony) -> None:
    card = ec.generate_private_key(ec.SECP256R1())
    point = card.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    def ecdh(epk: bytes) -> bytes:
        return card.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), epk))

    ml = mlkem.MLKEM768PrivateKey.generate()
    tag = age.P256TagRecipient(point).to_string()
    tagpq = age.MlKem768P256TagRecipient.from_parts(ml.public_key().public_bytes_raw(),
                                                    point).to_string()
    erin = c.vault.add_custodian("Erin", contact="", role="", actor="op")
    frank = c.vault.add_custodian("Frank", contact="", role="", actor="op")
    on_tag = enroll_remote(c.vault, erin.id, tag, actor="op")
    on_tagpq = enroll_remote(c.vault, frank.id, tagpq, actor="op")
    assert on_tag.kind is TokenKind.PIV and on_tagpq.kind is TokenKind.PIV
    assert on_tag.pq_recipient is None and on_tagpq.pq_recipient == tagpq
    created = create_record(c.vault, SECRET, label="Tagged", plan=SplitPlan.simple(
        2, ["Erin", "Frank"]), nhi={}, actor="op", encoding="binary")
    assert stanza_types(c, created.record_id) == {"Erin": ["p256tag"],
                                                  "Frank": ["mlkem768p256tag"]}
    assert set(pq_findings(c, created.record_id)) == {"Erin"}
    data = c.vault.get_version(created.record_id)
    by_name = {e.custodian: data.envelopes[e.key].age for e in data.manifest.shares}
    # The custodians' own keys open what Tessera wrapped (their plugin would do the same).
    erin_words = age.decrypt(by_name["Erin"], [age.P256TagIdentity(point, ecdh)])
    frank_words = age.decrypt(by_name["Frank"],
                              [age.MlKem768P256TagIdentity(point, ecdh, lambda: ml)])
    assert len(erin_words.split()) == len(frank_words.split()) == 33
