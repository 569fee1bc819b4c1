"""Custodians, tokens, records, releases and drills; atomicity and read-back checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from vault_fixtures import (
    ACTOR,
    World,
    build_sealed,
    create,
    dump,
    evidence,
    next_sealed,
    open_vault,
    populate,
    raw,
    release_request,
)

from tessera.core import age
from tessera.core.errors import (
    InputError,
    IntegrityError,
    NotFound,
    PolicyError,
    QuorumNotMet,
)
from tessera.tokens.base import ApprovalMethod, Evidence, TokenKind, TokenState
from tessera.vault import Conflict, RecordState, ReleaseState, audit


@pytest.fixture
def world(tmp_path: Path) -> World:
    return populate(open_vault(tmp_path / "v.sqlite3"))


# -- custodians and tokens ------------------------------------------------------------

def test_custodian_names_are_unique_ignoring_case(world: World) -> None:
    with pytest.raises(Conflict, match="already a custodian named Alice"):
        world.vault.add_custodian("  ALICE ", "", "", ACTOR)
    assert world.vault.get_custodian("bob").name == "Bob"
    assert world.vault.get_custodian(world.custodians[2].id).name == "Carol"
    with pytest.raises(NotFound, match="no custodian 'Dave'"):
        world.vault.get_custodian("Dave")


def test_a_key_is_enrolled_once(world: World) -> None:
    bob_key = world.tokens[1].recipient
    with pytest.raises(Conflict, match="already enrolled for Bob"):
        world.vault.add_token(world.custodians[0].id, TokenKind.FIDO2, "copy", bob_key, {}, ACTOR)


def test_token_recipients_are_checked(world: World) -> None:
    alice = world.custodians[0].id
    with pytest.raises(InputError, match="not a valid"):
        world.vault.add_token(alice, TokenKind.SOFTWARE, "bad", "age1notakey", {}, ACTOR)
    x25519 = age.X25519Identity.generate().recipient.to_string()
    with pytest.raises(InputError, match="YubiKey PIV recipient"):
        world.vault.add_token(alice, TokenKind.PIV, "wrong kind", x25519, {}, ACTOR)


def test_tokens_list_with_custodian_names_and_states(world: World) -> None:
    tokens = world.vault.list_tokens()
    assert [(t.custodian_name, t.kind) for t in tokens] == [
        ("Alice", TokenKind.FIDO2), ("Bob", TokenKind.FIDO2), ("Carol", TokenKind.FIDO2)]
    lost = world.vault.set_token_state(world.tokens[0].id, TokenState.LOST, ACTOR, "left on a train")
    assert lost.state is TokenState.LOST
    assert len(world.vault.list_tokens()) == 2
    assert len(world.vault.list_tokens(include_inactive=True)) == 3
    with pytest.raises(PolicyError, match="enrol the key again"):
        world.vault.set_token_state(lost.id, TokenState.ACTIVE, ACTOR, "found it")
    record = world.vault.get_token_record(lost.id)
    assert record.state_reason == "left on a train"


# -- records and versions -------------------------------------------------------------

def test_create_record_stores_everything_and_logs_it(world: World) -> None:
    sealed = build_sealed(world)
    record = world.vault.create_record(sealed, actor=ACTOR, owner="platform team",
                                       allow_software=False)
    assert (record.label, record.state, record.current_version) == ("Root CA key",
                                                                    RecordState.SEALED, 1)
    assert (record.system, record.account, record.owner) == ("aws", "root", "platform team")
    data = world.vault.get_version("root ca KEY")
    assert data.manifest_bytes == sealed.manifest_bytes
    assert data.ciphertext == sealed.ciphertext
    assert {k: e.age for k, e in data.envelopes.items()} == dict(sealed.envelopes)
    assert data.sealed() == sealed
    entry = world.vault.audit_entries(action="record.create")[0]
    assert entry.details["fingerprint"] == sealed.fingerprint
    assert entry.details["allow_software"] is False


def test_create_record_refuses_bad_input(world: World) -> None:
    sealed = build_sealed(world)
    with pytest.raises(InputError, match="differs from the manifest"):
        world.vault.create_record(sealed, actor=ACTOR, system="gcp")
    short = type(sealed)(sealed.manifest, sealed.manifest_bytes, sealed.ciphertext[:-1],
                         sealed.envelopes)
    with pytest.raises(InputError, match="ciphertext"):
        world.vault.create_record(short, actor=ACTOR)
    create(world)
    with pytest.raises(Conflict, match="already labelled"):
        create(world, label="ROOT CA KEY")


def test_hardware_only_record_refuses_software_keys(world: World) -> None:
    dave = world.vault.add_custodian("Dave", "", "", ACTOR)
    soft = world.vault.add_token(dave.id, TokenKind.SOFTWARE, "laptop",
                                 age.X25519Identity.generate().recipient.to_string(), {}, ACTOR)
    world.custodians.append(dave)
    world.tokens.append(soft)
    with pytest.raises(PolicyError, match="hardware-only"):
        create(world)
    record = world.vault.create_record(build_sealed(world), actor=ACTOR, allow_software=True)
    assert record.allow_software


def test_add_version_supersedes_and_keeps_rotation_due(world: World) -> None:
    record = create(world)
    world.vault.set_record_state(record.id, RecordState.RELEASED, "used", ACTOR)
    current = world.vault.get_version(record.id)
    reshared = world.vault.add_version(next_sealed(world, current), ACTOR, "Bob left")
    assert reshared.current_version == 2
    assert reshared.state is RecordState.RELEASED  # same secret: still to be rotated
    versions = world.vault.list_versions(record.id)
    assert [(v.version, v.superseded_at is not None) for v in versions] == [(1, True), (2, False)]
    rotated = world.vault.add_version(next_sealed(world, world.vault.get_version(record.id)),
                                      ACTOR, "rotated", new_secret=True)
    assert rotated.state is RecordState.SEALED


def test_add_version_checks_the_chain(world: World) -> None:
    record = create(world)
    current = world.vault.get_version(record.id)
    skipping = build_sealed(world, record_id=record.id, version=3,
                            previous=current.manifest.digest.hex())
    with pytest.raises(InputError, match="next version must be 2"):
        world.vault.add_version(skipping, ACTOR, "x")
    unlinked = build_sealed(world, record_id=record.id, version=2, previous="ab" * 32)
    with pytest.raises(IntegrityError, match="previous version"):
        world.vault.add_version(unlinked, ACTOR, "x")


def test_retired_is_final(world: World) -> None:
    record = create(world)
    world.vault.set_record_state(record.id, RecordState.RETIRED, "decommissioned", ACTOR)
    with pytest.raises(PolicyError, match="retired"):
        world.vault.set_record_state(record.id, RecordState.SEALED, "", ACTOR)


# -- releases and drills --------------------------------------------------------------

def test_release_needs_the_quorum_and_marks_rotation_due(world: World) -> None:
    record = create(world)
    release_id, request = release_request(world.vault, record)
    release = world.vault.start_release(record.id, request, release_id, "CA compromise drill",
                                        "INC-42", ACTOR)
    assert release.state is ReleaseState.OPEN
    alice, bob = world.tokens[0], world.tokens[1]
    world.vault.add_approval(release_id, alice.custodian_id, alice.id, evidence(alice), ACTOR)
    with pytest.raises(Conflict, match="Alice has already approved"):
        world.vault.add_approval(release_id, alice.custodian_id, alice.id, evidence(alice), ACTOR)
    with pytest.raises(QuorumNotMet):
        world.vault.finish_release(release_id, "released", ACTOR)
    paper = Evidence(ApprovalMethod.PAPER, None, "share-commitment", b"", {})
    world.vault.add_approval(release_id, bob.custodian_id, None, paper, ACTOR)
    done = world.vault.finish_release(release_id, "released", ACTOR)
    assert done.state is ReleaseState.RELEASED
    assert [a.method for a in done.approvals] == [ApprovalMethod.FIDO2, ApprovalMethod.PAPER]
    assert done.approvals[0].evidence == evidence(alice)
    after = world.vault.get_record(record.id)
    assert after.state is RecordState.RELEASED and after.last_release_at is not None
    assert after.state.display == "released — rotation due"
    assert [e.action for e in world.vault.audit_entries(action="release.")] == [
        "release.start", "release.approve", "release.approve", "release.complete"]
    assert world.vault.list_releases(record.id) == [done]


def test_release_request_must_describe_the_release(world: World) -> None:
    record = create(world)
    release_id, request = release_request(world.vault, record)
    with pytest.raises(InputError, match="ticket"):
        world.vault.start_release(record.id, request, release_id, "CA compromise drill",
                                  "INC-43", ACTOR)
    with pytest.raises(InputError, match="request_id"):
        world.vault.start_release(record.id, request, "another-id", "CA compromise drill",
                                  "INC-42", ACTOR)


def test_approval_token_must_be_the_custodians(world: World) -> None:
    record = create(world)
    release_id, request = release_request(world.vault, record)
    world.vault.start_release(record.id, request, release_id, "CA compromise drill", "INC-42",
                              ACTOR)
    bob_token = world.tokens[1]
    with pytest.raises(PolicyError, match="belongs to Bob"):
        world.vault.add_approval(release_id, world.custodians[0].id, bob_token.id,
                                 evidence(bob_token), ACTOR)
    aborted = world.vault.finish_release(release_id, "aborted", ACTOR)
    assert aborted.state is ReleaseState.ABORTED
    assert world.vault.get_record(record.id).state is RecordState.SEALED


def test_drill_updates_last_drill_dates(world: World) -> None:
    record = create(world)
    token = world.tokens[2]
    drill = world.vault.record_drill(record.id, 1, token.custodian_id, token.id, "fido2", True,
                                     evidence(token), ACTOR)
    assert drill.ok
    assert world.vault.get_token_record(token.id).last_drill_at == drill.at
    assert world.vault.get_record(record.id).last_drill_at == drill.at
    assert world.vault.list_drills(record.id) == [drill]
    assert world.vault.audit_entries(action="drill.pass")[0].details["custodian"] == "Carol"


# -- atomicity ------------------------------------------------------------------------

Write = Callable[[World], object]


def _release_started(w: World) -> str:
    record = create(w)
    release_id, request = release_request(w.vault, record)
    w.vault.start_release(record.id, request, release_id, "CA compromise drill", "INC-42", ACTOR)
    return release_id


def _approve(w: World, release_id: str) -> None:
    t = w.tokens[0]
    w.vault.add_approval(release_id, t.custodian_id, t.id, evidence(t), ACTOR)


WRITES: dict[str, tuple[Callable[[World], object], Callable[[World, object], object]]] = {
    "add_custodian": (lambda w: None, lambda w, _: w.vault.add_custodian("Dave", "", "", ACTOR)),
    "add_token": (lambda w: None, lambda w, _: w.vault.add_token(
        w.custodians[0].id, "software", "spare",
        age.X25519Identity.generate().recipient.to_string(), {}, ACTOR)),
    "set_token_state": (lambda w: None, lambda w, _: w.vault.set_token_state(
        w.tokens[0].id, "retired", ACTOR, "old")),
    "create_record": (lambda w: build_sealed(w),
                      lambda w, s: w.vault.create_record(s, actor=ACTOR)),  # type: ignore[arg-type]
    "add_version": (lambda w: next_sealed(w, w.vault.get_version(create(w).id)),
                    lambda w, s: w.vault.add_version(s, ACTOR, "reshare")),  # type: ignore[arg-type]
    "set_record_state": (lambda w: create(w).id, lambda w, rid: w.vault.set_record_state(
        rid, "rotation_required", "Bob left", ACTOR)),  # type: ignore[arg-type]
    "start_release": (lambda w: (create(w),), lambda w, a: w.vault.start_release(
        a[0].id, *_req(w, a[0]), "CA compromise drill", "INC-42", ACTOR)),  # type: ignore[index]
    "add_approval": (_release_started, lambda w, rid: _approve(w, rid)),  # type: ignore[arg-type]
    "finish_release": (lambda w: _approved_twice(w), lambda w, rid: w.vault.finish_release(
        rid, "released", ACTOR)),  # type: ignore[arg-type]
    "record_drill": (lambda w: create(w).id, lambda w, rid: w.vault.record_drill(
        str(rid), 1, w.tokens[0].custodian_id, w.tokens[0].id, "fido2", True,
        evidence(w.tokens[0]), ACTOR)),
    "append_audit": (lambda w: None, lambda w, _: w.vault.append_audit(ACTOR, "sheet.print",
                                                                       "s", {})),
}


def _req(w: World, record: object) -> tuple[bytes, str]:
    release_id, request = release_request(w.vault, record)  # type: ignore[arg-type]
    return request, release_id


def _approved_twice(w: World) -> str:
    release_id = _release_started(w)
    for t in w.tokens[:2]:
        w.vault.add_approval(release_id, t.custodian_id, t.id, evidence(t), ACTOR)
    return release_id


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_crash_before_commit_leaves_the_previous_state(world: World, name: str) -> None:
    prepare, write = WRITES[name]
    arg = prepare(world)
    before = dump(world.vault)

    def crash() -> None:
        raise KeyboardInterrupt("power cut")

    world.vault._before_commit = crash
    with pytest.raises(KeyboardInterrupt):
        write(world, arg)
    world.vault._before_commit = None
    assert dump(world.vault) == before
    write(world, arg)  # and the same write then succeeds
    assert dump(world.vault) != before
    assert world.vault.verify_audit().ok


@pytest.mark.parametrize("name", ["create_record", "add_version", "finish_release"])
def test_a_failing_audit_append_undoes_the_data(world: World, name: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    prepare, write = WRITES[name]
    arg = prepare(world)
    before = dump(world.vault)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(audit, "append", refuse)
    with pytest.raises(OSError):
        write(world, arg)
    assert dump(world.vault) == before


def test_nested_transactions_are_one_unit(world: World) -> None:
    record = create(world)
    before = dump(world.vault)
    with pytest.raises(RuntimeError), world.vault.transaction():
        world.vault.set_record_state(record.id, "rotation_required", "Bob left", ACTOR)
        world.vault.add_custodian("Erin", "", "", ACTOR)
        raise RuntimeError("the reshare failed")
    assert dump(world.vault) == before
    with world.vault.transaction():  # an inner failure undoes only the inner part
        world.vault.add_custodian("Erin", "", "", ACTOR)
        with pytest.raises(Conflict):
            world.vault.add_custodian("erin", "", "", ACTOR)
    assert world.vault.get_custodian("Erin").name == "Erin"
    assert world.vault.verify_audit().ok


# -- damage in the file ---------------------------------------------------------------

@pytest.mark.parametrize("table,column", [("versions", "manifest"), ("versions", "ciphertext"),
                                          ("envelopes", "age"), ("versions", "digest")])
def test_a_flipped_byte_is_named(world: World, table: str, column: str) -> None:
    record = create(world)
    conn = raw(world.vault)
    (blob,) = conn.execute(f"SELECT {column} FROM {table} LIMIT 1").fetchone()
    data = bytearray(blob if isinstance(blob, bytes) else blob.encode())
    data[len(data) // 2] ^= 0x01
    value = bytes(data) if isinstance(blob, bytes) else data.decode()
    conn.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = (SELECT min(rowid) FROM {table})",
                 (value,))
    conn.close()
    with pytest.raises(IntegrityError, match="'Root CA key' version 1"):
        world.vault.get_version(record.id)


def test_a_damaged_token_row_is_named(world: World) -> None:
    raw(world.vault).execute("UPDATE tokens SET facts = '{broken' WHERE id = ?",
                             (world.tokens[0].id,))
    with pytest.raises(IntegrityError, match=f"token {world.tokens[0].id}"):
        world.vault.get_token(world.tokens[0].id)
