"""The audit chain: every change to the log is found and named."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from pathlib import Path

import pytest
from vault_fixtures import ACTOR, add_entries, open_vault, raw

from tessera.core import canonical
from tessera.vault import AuditDetailRefused, Vault
from tessera.vault.audit import ZERO_HASH, entry_bytes, link


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    v = open_vault(tmp_path / "v.sqlite3")
    for i in range(9):
        v.append_audit(ACTOR, "sheet.print", f"sheet-{i}", {"serial": i, "note": "ok"})
    return v  # 10 entries: vault.create + 9


def _swap(conn: sqlite3.Connection, a: int, b: int) -> None:
    """Swap two rows' places, as an attacker with the file can."""
    conn.execute("BEGIN")
    conn.execute("UPDATE audit SET seq = -1 WHERE seq = ?", (a,))
    conn.execute("UPDATE audit SET seq = ? WHERE seq = ?", (a, b))
    conn.execute("UPDATE audit SET seq = ? WHERE seq = -1", (b,))
    conn.execute("COMMIT")


def _forge_details(vault: Vault, seq: int, details: str) -> None:
    """Replace entry ``seq``'s details by ``details`` and give it the matching hash."""
    conn = raw(vault)
    at, actor, action, subject, prev = conn.execute(
        "SELECT at, actor, action, subject, prev_hash FROM audit WHERE seq = ?",
        (seq,)).fetchone()
    forged = link(prev, entry_bytes(seq, at, actor, action, subject, details))
    conn.execute("UPDATE audit SET details = ?, hash = ? WHERE seq = ?", (details, forged, seq))


def test_chain_is_sha256_of_previous_hash_and_canonical_entry(vault: Vault) -> None:
    entries = vault.audit_entries()
    prev = ZERO_HASH
    for e in entries:
        body = canonical.dumps({"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
                                "subject": e.subject, "details": dict(e.details)})
        assert e.prev_hash == prev
        assert e.hash == hashlib.sha256(bytes.fromhex(prev) + body).hexdigest()
        prev = e.hash
    assert vault.audit_head() == (10, prev)
    verdict = vault.verify_audit(expected_head=(10, prev))
    assert (verdict.ok, verdict.entries, verdict.head_seq, verdict.head_hash) == (True, 10, 10, prev)


def test_fast_entry_encoding_matches_canonical_json() -> None:
    details = {"ünïcode": "“quotes” \\ \n", "n": [1, {"b": None, "a": True}]}
    expected = canonical.dumps({"seq": 7, "at": "2026-01-31T12:00:00Z", "actor": "Zoë \"Z\"",
                                "action": "a.b", "subject": "\u2028", "details": details})
    assert entry_bytes(7, "2026-01-31T12:00:00Z", "Zoë \"Z\"", "a.b", "\u2028",
                       canonical.dumps(details).decode()) == expected


def test_application_cannot_update_or_delete_entries(vault: Vault) -> None:
    with pytest.raises(sqlite3.DatabaseError, match="append-only"), vault.transaction() as conn:
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 3")
    assert vault.verify_audit().ok


def test_edited_row_is_named(vault: Vault) -> None:
    raw(vault).execute("UPDATE audit SET details = '{\"note\":\"ok\",\"serial\":99}' WHERE seq = 4")
    verdict = vault.verify_audit()
    assert not verdict.ok
    assert verdict.first_bad_seq == 4
    assert "entry 4 was changed" in verdict.problem
    assert verdict.entries == 3


def test_deleted_row_is_named(vault: Vault) -> None:
    raw(vault).execute("DELETE FROM audit WHERE seq = 6")
    verdict = vault.verify_audit()
    assert (verdict.ok, verdict.first_bad_seq) == (False, 6)
    assert "entry 6 is missing" in verdict.problem


def test_deleted_first_row_is_named(vault: Vault) -> None:
    raw(vault).execute("DELETE FROM audit WHERE seq = 1")
    verdict = vault.verify_audit()
    assert (verdict.ok, verdict.first_bad_seq) == (False, 1)


def test_swapped_rows_are_named(vault: Vault) -> None:
    _swap(raw(vault), 5, 6)
    verdict = vault.verify_audit()
    assert (verdict.ok, verdict.first_bad_seq) == (False, 5)
    assert "does not follow" in verdict.problem


def test_truncation_is_found_against_the_transcript_head(vault: Vault) -> None:
    head = vault.audit_head()
    raw(vault).execute("DELETE FROM audit WHERE seq > 7")
    assert vault.verify_audit().ok  # a shortened log is self-consistent...
    verdict = vault.verify_audit(expected_head=head)  # ...but not against the paper
    assert (verdict.ok, verdict.first_bad_seq, verdict.head_seq) == (False, 8, 7)
    assert "newer entries were removed" in verdict.problem


def test_rewritten_history_is_found_against_the_transcript_head(vault: Vault) -> None:
    head = vault.audit_head()
    conn = raw(vault)
    conn.execute("DELETE FROM audit WHERE seq >= 5")
    conn.close()
    for i in range(6):  # the attacker rebuilds a valid chain of the same length
        vault.append_audit("mallory", "sheet.print", f"forged-{i}", {})
    assert vault.verify_audit().ok
    verdict = vault.verify_audit(expected_head=head)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 10)
    assert "differs from the head on the transcript" in verdict.problem


@pytest.mark.parametrize("key", ["share", "mnemonic", "PIN", "dek", "passphrase", "secret_words",
                                 "shareWords", "user-pin", "nested"])
def test_secret_named_details_are_refused(vault: Vault, key: str) -> None:
    details = {"nested": {"seed": "x"}} if key == "nested" else {key: "x"}
    head = vault.audit_head()
    with pytest.raises(AuditDetailRefused, match="secret"):
        vault.append_audit(ACTOR, "test.event", "s", details)
    assert vault.audit_head() == head


def test_public_share_names_are_allowed(vault: Vault) -> None:
    entry = vault.append_audit(ACTOR, "sheet.print", "s", {"share_key": "g0m1", "shipping": 1})
    assert entry.details["share_key"] == "g0m1"


def test_oversized_details_are_refused(vault: Vault) -> None:
    with pytest.raises(AuditDetailRefused, match="4096"):
        vault.append_audit(ACTOR, "test.event", "s", {"note": "x" * 5000})
    with pytest.raises(AuditDetailRefused):
        vault.append_audit(ACTOR, "test.event", "s", {"blob": b"raw bytes"})


def test_filters(vault: Vault) -> None:
    assert [e.seq for e in vault.audit_entries(action="vault.")] == [1]
    assert [e.subject for e in vault.audit_entries(subject="sheet-3")] == ["sheet-3"]
    assert [e.seq for e in vault.audit_entries(after_seq=8)] == [9, 10]
    assert len(vault.audit_entries(action="sheet.print", limit=2)) == 2
    first = vault.audit_entries()[2].at
    assert all(e.at >= first for e in vault.audit_entries(since=first))


def test_jsonl_export_verifies_without_tessera(vault: Vault) -> None:
    prev = ZERO_HASH
    lines = vault.export_audit("jsonl").splitlines()
    assert len(lines) == 10
    for line in lines:
        obj = json.loads(line)
        stored_hash, stored_prev = obj.pop("hash"), obj.pop("prev_hash")
        body = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert stored_prev == prev
        assert stored_hash == hashlib.sha256(bytes.fromhex(prev) + body.encode()).hexdigest()
        prev = stored_hash


def test_csv_export_neutralises_formulas(vault: Vault) -> None:
    vault.append_audit("=HYPERLINK(\"http://evil\")", "sheet.print", "@SUM(A1)", {})
    rows = list(csv.reader(io.StringIO(vault.export_audit("csv"))))
    assert rows[0] == ["seq", "at", "actor", "action", "subject", "details", "prev_hash", "hash"]
    assert rows[-1][2].startswith("'=") and rows[-1][4].startswith("'@")
    with pytest.raises(ValueError, match="format"):
        vault.export_audit("xml")


def test_a_long_log_is_judged_by_compiled_code(vault: Vault,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """msgspec costs ~13 ms to load: a verify of a few entries leaves it to the stdlib."""
    monkeypatch.setattr(canonical, "_compiled", None)
    assert vault.verify_audit().ok
    assert canonical._compiled is None
    add_entries(vault, canonical._WORTH_BUILDING)
    _forge_details(vault, 400, '{"serial":390 }')
    verdict = vault.verify_audit()
    assert canonical._compiled is not None
    assert (verdict.ok, verdict.first_bad_seq) == (False, 400)
    assert "not canonical" in verdict.problem


def test_non_canonical_details_are_damage_even_with_a_matching_hash(vault: Vault) -> None:
    _forge_details(vault, 10, '{"serial": 8}')
    verdict = vault.verify_audit()
    assert (verdict.ok, verdict.first_bad_seq) == (False, 10)
    assert "not canonical" in verdict.problem


# Logs repeat a few shapes of details: a repeated text must not let a forged or
# reordered entry through.

@pytest.fixture
def same_details(tmp_path: Path) -> Vault:
    v = open_vault(tmp_path / "same.sqlite3")
    for i in range(9):
        v.append_audit(ACTOR, "version.export", f"rec-{i % 3}",
                       {"format": "tessera", "version": 1})
    return v  # 10 entries; 2 to 10 have the same details text


def test_a_non_canonical_copy_of_repeated_details_is_damage(same_details: Vault) -> None:
    # The same object with its keys out of order.
    _forge_details(same_details, 7, '{"version":1,"format":"tessera"}')
    verdict = same_details.verify_audit()
    assert (verdict.ok, verdict.first_bad_seq, verdict.entries) == (False, 7, 6)
    assert "not canonical" in verdict.problem


def test_repeated_details_stored_as_bytes_are_damage(same_details: Vault) -> None:
    conn = raw(same_details)
    conn.execute("UPDATE audit SET details = CAST(details AS BLOB) WHERE seq = 8")
    verdict = same_details.verify_audit()
    assert (verdict.ok, verdict.first_bad_seq) == (False, 8)
    assert "wrong form" in verdict.problem


def test_a_changed_field_beside_repeated_details_is_named(same_details: Vault) -> None:
    raw(same_details).execute("UPDATE audit SET subject = 'rec-9' WHERE seq = 6")
    verdict = same_details.verify_audit()
    assert (verdict.ok, verdict.first_bad_seq) == (False, 6)
    assert "entry 6 was changed" in verdict.problem


def test_entries_with_repeated_details_cannot_be_reordered(same_details: Vault) -> None:
    _swap(raw(same_details), 4, 5)
    verdict = same_details.verify_audit()
    assert (verdict.ok, verdict.first_bad_seq) == (False, 4)
    assert "does not follow" in verdict.problem
