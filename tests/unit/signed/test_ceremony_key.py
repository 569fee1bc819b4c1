"""The ceremony key (one operator touch per quorum, FORMAT §7.1): what holding it can and
cannot do, tried as an attacker would — someone (malware in the operator's session)
who holds a quorum's ceremony key and writes whatever the vault lets them sign with it,
or edits the statements table directly. Every misuse is named by `audit verify`."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from helpers.attacker import raw
from helpers.ceremony import SECRET, ScriptedPrompts
from helpers.cli import run
from helpers.signed import signer
from tessera.core.errors import PolicyError
from tessera.core.policy import SplitPlan
from tessera.custody.create import create_record
from tessera.custody.release import ReleaseCeremony
from tessera.custody.signing import verify_vault
from tessera.vault import Vault, statements
from tessera.vault.ceremony_key import CeremonyKey, signer_id
from tessera.vault.settings import META_POLICY


def _open(c: Any, reason: str = "rotate") -> ReleaseCeremony:
    """Alice runs a release: her token signs the request (and grants the key)."""
    with c.vault.signed_by(signer(c, "Alice")):
        return ReleaseCeremony(c.vault, c.drivers, "Deploy key", reason=reason, ticket="T-9",
                               requested_by="Alice")


def _approve(c: Any, ceremony: ReleaseCeremony, *names: str) -> None:
    for name in names:
        ceremony.contribute_token(c.tokens[name].id, ScriptedPrompts(), threading.Event())


def _head(vault: Vault) -> int:
    with vault.reading() as conn:
        return statements.head(conn)[0]


def _forge(vault: Vault, key: Any, sql: str, *args: Any) -> int:
    """Write ``sql`` signed by ``key`` alone, as the vault would; the statement's seq."""
    with vault.signed_by(key, replace=True), vault.transaction() as conn:
        conn.execute(sql, args)
    return _head(vault)


def _note(vault: Vault, key: Any, subject: str) -> int:
    """An audit entry alone (no row changes), signed by ``key`` alone; the statement's seq."""
    with vault.signed_by(key, replace=True):
        vault.append_audit("Alice", "release.note", subject, {"said": "all fine"})
    return _head(vault)


def _refused(c: Any, seq: int, *words: str) -> None:
    """Incremental and full replay, and `audit verify` on the command line, name the
    statement and what it did."""
    for result in (verify_vault(c.vault), verify_vault(c.vault, full=True)):
        assert not result.ok
        assert result.bad_statement == seq, result.problem
        assert f"statement {seq}" in result.problem
        for word in words:
            assert word in result.problem, result.problem
    c.vault.close()
    verified = run("--vault", str(c.path), "audit", "verify")
    assert verified.code != 0
    assert f"statement {seq}" in verified.err and words[0] in verified.err, verified.text


def test_a_release_under_the_ceremony_key_verifies_and_records_who_authorised_it(
        signed: Any) -> None:
    c = signed
    assert verify_vault(c.vault).ok  # incremental from here on
    ceremony = _open(c)
    granted = _head(c.vault)
    _approve(c, ceremony, "Alice", "Bob")
    ceremony.finish()
    with pytest.raises(PolicyError, match="ceremony key is gone"):
        ceremony._key.sign(b"\0" * 32)  # type: ignore[union-attr]
    incremental = verify_vault(c.vault)
    assert incremental.ok, incremental.problem
    full = verify_vault(c.vault, full=True)
    assert full.ok, full.problem
    grant = full.ceremony_keys[ceremony.release_id]
    assert (grant.token_id, grant.statement) == (c.tokens["Alice"].id, granted)
    assert full.acting_token(signer_id(ceremony.release_id)) == c.tokens["Alice"].id
    assert full.acting_token(signer_id("no-such-release")) is None
    with c.vault.reading() as conn:
        signers = [json.loads(b)["signers"] for (b,) in conn.execute(
            "SELECT body FROM statements WHERE seq > ? ORDER BY seq", (granted,))]
    assert signers == [[signer_id(ceremony.release_id)]] * 3  # two approvals, the release
    c.vault.close()
    verified = run("--vault", str(c.path), "audit", "verify", "--full")
    assert verified.code == 0, verified.text


def test_an_aborted_release_under_the_ceremony_key_verifies(signed: Any) -> None:
    c = signed
    ceremony = _open(c)
    _approve(c, ceremony, "Bob")
    ceremony.abort()
    assert ceremony._key is not None and ceremony._key.wiped
    assert verify_vault(c.vault, full=True).ok


ATTACKS: dict[str, tuple[str, Callable[[Any, ReleaseCeremony], tuple[str, tuple[Any, ...]]]]] = {
    "a token": ("tokens", lambda c, _: (
        "UPDATE tokens SET label = 'Mallory' WHERE id = ?", (c.tokens["Carol"].id,))),
    "a hook": ("record_hooks", lambda c, _: (
        "UPDATE record_hooks SET command = '[\"/bin/sh\",\"-c\",\"cat > /tmp/loot\"]'"
        " WHERE record_id = ?", (c.record_id,))),
    "the vault's policy": ("meta", lambda c, _: (
        "UPDATE meta SET value = '{}' WHERE key = ?", (META_POLICY,))),
    "its record's policy": ("records", lambda c, _: (
        "UPDATE records SET policy_overrides = '{\"paper_in_release\":true}' WHERE id = ?",
        (c.record_id,))),
    "another release": ("releases", lambda c, ceremony: (
        "UPDATE releases SET reason = 'nothing happened' WHERE id != ?",
        (ceremony.release_id,))),
    "another release's approvals": ("approvals", lambda c, ceremony: (
        "DELETE FROM approvals WHERE release_id != ?", (ceremony.release_id,))),
    "its request": ("releases", lambda c, ceremony: (
        "UPDATE releases SET ticket = 'T-0' WHERE id = ?", (ceremony.release_id,))),
}


@pytest.mark.parametrize("what", sorted(ATTACKS))
def test_the_ceremony_key_cannot_change_anything_outside_its_release(signed: Any,
                                                                      what: str) -> None:
    c = signed
    assert verify_vault(c.vault).ok
    ceremony = _open(c)
    table, attack = ATTACKS[what]
    sql, args = attack(c, ceremony)
    seq = _forge(c.vault, ceremony._key, sql, *args)
    _refused(c, seq, f"signed by the ceremony key of release {ceremony.release_id} but "
                     f"changes {table} row")


def test_another_record_is_out_of_scope_even_when_the_release_completes(signed: Any) -> None:
    """A forged completion that also marks a second record released."""
    c = signed
    with c.vault.signed_by(signer(c, "Alice")):
        other = create_record(c.vault, SECRET, label="Second key", plan=SplitPlan.simple(
            2, ["Alice", "Bob", "Carol"]), nhi={"system": "ci"}, actor="op")
    ceremony = _open(c)
    _approve(c, ceremony, "Alice", "Bob")
    with c.vault.signed_by(ceremony._key, replace=True), \
            c.vault.transaction() as conn:  # type: ignore[arg-type]
        c.vault.finish_release(ceremony.release_id, "released", "Alice")
        conn.execute("UPDATE records SET state = 'released', state_reason = 'released for T-9'"
                     " WHERE id = ?", (other.record_id,))
    _refused(c, _head(c.vault), f"changes records row {other.record_id}")


def test_after_the_release_finished_the_key_changes_nothing(signed: Any) -> None:
    c = signed
    ceremony = _open(c)
    _approve(c, ceremony, "Alice", "Bob")
    key = ceremony._key
    ceremony.finish(keep_key=True)  # the key is kept for the hook's audit entry...
    _note(c.vault, key, ceremony.release_id)
    assert verify_vault(c.vault).ok  # ...which it may sign (an audit entry, no row)
    seq = _forge(c.vault, key, "UPDATE releases SET state = 'aborted' WHERE id = ?",
                 ceremony.release_id)
    _refused(c, seq, "changes releases row", "after release")


def test_after_an_abort_the_key_signs_nothing_at_all(signed: Any) -> None:
    c = signed
    ceremony = _open(c)
    key = CeremonyKey(ceremony.release_id)
    key._seed[:] = ceremony._key._seed  # type: ignore[union-attr]  # a copy taken before
    ceremony.abort()
    _refused(c, _note(c.vault, key, ceremony.release_id), "after that release was aborted")


def test_a_key_nobody_authorised_is_refused(signed: Any) -> None:
    c = signed
    ceremony = _open(c)
    _approve(c, ceremony, "Alice")
    # The attacker's own key, named after the open release...
    own = CeremonyKey(ceremony.release_id)
    seq = _forge(c.vault, own, "UPDATE releases SET state = 'aborted' WHERE id = ?",
                 ceremony.release_id)
    _refused(c, seq, "signature of the ceremony key")


def test_a_key_for_a_release_never_opened_is_refused(signed: Any) -> None:
    c = signed
    assert verify_vault(c.vault).ok
    _refused(c, _note(c.vault, CeremonyKey("f" * 32), c.record_id),
             "no earlier statement authorised")


def test_a_grant_signed_only_by_the_key_itself_is_refused(signed: Any) -> None:
    c = signed
    ceremony = _open(c)
    other = CeremonyKey("e" * 32)
    with c.vault.signed_by(ceremony._key, replace=True), \
            c.vault.authorising(other.grant()):  # type: ignore[arg-type]
        c.vault.append_audit("Alice", "release.note", ceremony.release_id, {})
    _refused(c, _head(c.vault), "signs alone")


def _approval_row(c: Any, release_id: str, name: str) -> tuple[str, Any]:
    with c.vault.reading() as conn:
        row = conn.execute("SELECT evidence FROM approvals WHERE release_id != ? AND"
                           " token_id = ? ORDER BY id LIMIT 1",
                           (release_id, c.tokens[name].id)).fetchone()
    return str(row[0]), c.tokens[name]


@pytest.mark.parametrize("name", ["Alice", "Bob"])
def test_the_key_cannot_forge_an_approval(signed: Any, name: str) -> None:
    """An approval a token gave an earlier release (a real signature of another request),
    recorded for this one under the ceremony key: refused, naming the token."""
    c = signed
    ceremony = _open(c)
    evidence, token = _approval_row(c, ceremony.release_id, name)
    seq = _forge(c.vault, ceremony._key,
                 "INSERT INTO approvals (release_id, custodian_id, token_id, method, evidence,"
                 " at) VALUES (?, ?, ?, ?, ?, '2030-01-01T00:00:00Z')",
                 ceremony.release_id, token.custodian_id, token.id, token.kind.value, evidence)
    _refused(c, seq, "changes approvals row",
             f"approval evidence of token {token.id} does not verify")


def test_an_approval_under_another_custodian_is_refused(signed: Any) -> None:
    """Bob's real approval of this very request, recorded as Carol's."""
    c = signed
    ceremony = _open(c)
    _approve(c, ceremony, "Bob")
    with c.vault.reading() as conn:
        evidence = conn.execute("SELECT evidence FROM approvals WHERE release_id = ?",
                                (ceremony.release_id,)).fetchone()[0]
    seq = _forge(c.vault, ceremony._key,
                 "INSERT INTO approvals (release_id, custodian_id, token_id, method, evidence,"
                 " at) VALUES (?, ?, ?, 'piv', ?, '2030-01-01T00:00:00Z')",
                 ceremony.release_id, c.tokens["Carol"].custodian_id, c.tokens["Bob"].id,
                 evidence)
    _refused(c, seq, "changes approvals row")


def test_a_grant_edited_into_the_statements_table_is_refused(signed: Any) -> None:
    """The attacker rewrites the request's statement to grant their own key: the chain
    breaks at that statement."""
    c = signed
    ceremony = _open(c)
    granted = _head(c.vault)
    ceremony.abort()
    c.vault.close()
    conn = raw(c.path)
    body = json.loads(conn.execute("SELECT body FROM statements WHERE seq = ?",
                                   (granted,)).fetchone()[0])
    body["ceremony"]["key"] = CeremonyKey(ceremony.release_id).public_hex
    conn.execute("UPDATE statements SET body = ? WHERE seq = ?",
                 (json.dumps(body, separators=(",", ":"), sort_keys=True,
                             ensure_ascii=False), granted))
    conn.close()
    c.vault = Vault.open(c.path)
    result = verify_vault(c.vault, full=True)
    assert not result.ok and result.bad_statement == granted
    assert f"statement {granted} was changed" in result.problem
    c.vault.close()


def _reshare(c: Any) -> Any:
    from tessera.custody.reshare import ReshareCeremony

    with c.vault.signed_by(signer(c, "Alice")):
        return ReshareCeremony(c.vault, c.drivers, "Deploy key", reason="new set",
                               ticket="T-10", requested_by="Alice")


def test_a_reshare_costs_the_operator_two_touches_the_request_and_the_new_set(
        signed: Any) -> None:
    """The approvals are signed by the ceremony key; the new share set by the operator's
    token (a new version is more than the key may sign)."""
    c = signed
    c.later()  # Bob's YubiKey's cached touch from the fixture's release has lapsed
    before = {name: key.touch.touches for name, key in c.keys.items()}
    ceremony = _reshare(c)
    _approve(c, ceremony, "Bob", "Carol")
    with c.vault.signed_by(signer(c, "Alice")):
        done = ceremony.finish()
    assert done.version == done.old_version + 1
    assert ceremony._key.wiped
    made = {name: key.touch.touches - before[name] for name, key in c.keys.items()}
    assert made == {"Alice": 2, "Bob": 1}  # Carol's is a software key: no touch
    assert verify_vault(c.vault).ok and verify_vault(c.vault, full=True).ok


def test_the_ceremony_key_of_a_reshare_cannot_seal_a_new_share_set(signed: Any) -> None:
    c = signed
    ceremony = _reshare(c)
    _approve(c, ceremony, "Bob", "Carol")
    with c.vault.signed_by(ceremony._key, replace=True):
        ceremony.finish()
    _refused(c, _head(c.vault), f"signed by the ceremony key of release {ceremony.release_id}"
                                " but changes")


def test_a_workstation_that_verified_mid_quorum_resumes_with_the_key_it_saw_granted(
        signed: Any, tmp_path: Any, statements_read: list[int]) -> None:
    """Another workstation verifies the vault (and keeps that) while a quorum is open; the
    next time it opens the vault it replays only the newer statements — the ceremony
    key's — and checks them against the grant it kept, not one read from the file."""
    from helpers.signed import pin_as_real
    from tessera.custody.log_check import check_vault
    from tessera.vault.workstation_pins import WorkstationPins

    c = signed
    pins = WorkstationPins(tmp_path / "workstation")
    ceremony = _open(c)
    granted = _head(c.vault)
    elsewhere = Vault.open(c.path)
    try:
        assert check_vault(elsewhere, pins).ok
        pin_as_real(pins, elsewhere)
    finally:
        elsewhere.close()
    _approve(c, ceremony, "Alice", "Bob")
    ceremony.finish()
    statements_read.clear()
    elsewhere = Vault.open(c.path)
    try:
        again = check_vault(elsewhere, pins)
        assert again.ok, again.problem
        assert again.resumed_from == granted and statements_read == [
            granted + 1, granted + 2, granted + 3]
        assert again.ceremony_keys[ceremony.release_id].token_id == c.tokens["Alice"].id
    finally:
        elsewhere.close()


def test_a_store_of_the_first_format_gains_the_ceremony_keys(signed: Any, tmp_path: Any
                                                              ) -> None:
    import sqlite3

    from tessera.custody.log_check import check_vault
    from tessera.vault.workstation_pins import STORE_FORMAT, WorkstationPins

    c = signed
    pins = WorkstationPins(tmp_path / "workstation")
    assert check_vault(c.vault, pins).ok
    path = pins.path_for(c.vault.vault_id)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE ceremony_keys")
    conn.execute("ALTER TABLE verified DROP COLUMN tables_digest")  # format 3's
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    assert pins.verified(c.vault) is not None  # read as it is
    ceremony = _open(c)
    assert check_vault(c.vault, pins).ok  # written: upgraded
    kept = pins.verified(c.vault)
    assert kept is not None and ceremony.release_id in kept.ceremony_keys
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == STORE_FORMAT == 3
    conn.close()
    ceremony.abort()


@pytest.mark.parametrize("finished", [False, True])
def test_the_key_cannot_write_audit_entries_about_anything_else(signed: Any,
                                                                finished: bool) -> None:
    c = signed
    ceremony = _open(c)
    key = ceremony._key
    if finished:
        _approve(c, ceremony, "Alice", "Bob")
        ceremony.finish(keep_key=True)
    seq = _note(c.vault, key, c.record_id)  # about the record, naming no release
    _refused(c, seq, f"signed by the ceremony key of release {ceremony.release_id} but "
                     "covers audit entry")


def test_a_refused_request_leaves_no_key_behind(signed: Any, monkeypatch: Any) -> None:
    """A second quorum of a record with one open is refused: the key made for it is
    wiped, and nothing can sign with it."""
    made: list[CeremonyKey] = []
    real_init = CeremonyKey.__init__

    def keep(self: CeremonyKey, release_id: str) -> None:
        real_init(self, release_id)
        made.append(self)

    monkeypatch.setattr(CeremonyKey, "__init__", keep)
    c = signed
    first = _open(c)
    with pytest.raises(PolicyError, match="still open"):
        _open(c, reason="again")
    assert len(made) == 2 and made[1].wiped and not made[0].wiped
    first.abort()
    assert made[0].wiped


def test_a_quorum_cannot_start_inside_another_transaction(signed: Any) -> None:
    """The grant goes into the request's own statement; inside an outer transaction it
    would miss it, and every later statement of the quorum would fail verification."""
    c = signed
    with c.vault.signed_by(signer(c, "Alice")), pytest.raises(RuntimeError, match="own"), \
            c.vault.transaction():
        ReleaseCeremony(c.vault, c.drivers, "Deploy key", reason="r", ticket="T-9",
                        requested_by="Alice")
    assert not [r for r in c.vault.list_releases() if r.state.value == "open"]
    assert verify_vault(c.vault).ok
