"""Verifying only what is new since this computer last verified the log, and the pins
that make it safe: a rolled-back or rewritten log is reported, never accepted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from vault_fixtures import ACTOR, open_vault, raw

from tessera.core import canonical
from tessera.core.errors import FormatError
from tessera.custody.log_check import check_log
from tessera.vault import Vault
from tessera.vault.audit import _canonical_details, entry_bytes, link
from tessera.vault.head_pins import HeadPinStore, PinStoreDamaged


def add(vault: Vault, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        vault.append_audit(ACTOR, "sheet.print", f"sheet-{i}", {"serial": i})


@pytest.fixture
def pins(tmp_path: Path) -> HeadPinStore:
    return HeadPinStore(tmp_path / "pins")


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    v = open_vault(tmp_path / "v.sqlite3")
    add(v, 9)
    return v  # 10 entries


def test_second_check_recomputes_only_the_new_entries(vault: Vault, pins: HeadPinStore) -> None:
    first = check_log(vault, pins)
    assert (first.ok, first.entries, first.from_seq) == (True, 10, 0)
    add(vault, 5, start=100)
    second = check_log(vault, pins)
    assert (second.ok, second.entries, second.from_seq, second.head_seq) == (True, 5, 10, 15)
    assert second.head_hash == vault.audit_head()[1]
    full = check_log(vault, pins, full=True)
    assert (full.ok, full.entries, full.from_seq) == (True, 15, 0)


def test_an_edit_to_an_old_row_is_found_by_the_full_check(vault: Vault,
                                                          pins: HeadPinStore) -> None:
    assert check_log(vault, pins).ok
    raw(vault).execute("UPDATE audit SET details = '{\"serial\":77}' WHERE seq = 4")
    # The incremental check trusts what was verified before (that is its point) …
    assert check_log(vault, pins).ok
    # … and the full check finds the edit.
    full = check_log(vault, pins, full=True)
    assert (full.ok, full.first_bad_seq) == (False, 4)
    assert "entry 4 was changed" in full.problem


def test_an_older_copy_of_the_vault_is_reported_and_the_pin_stays(tmp_path: Path,
                                                                   vault: Vault,
                                                                   pins: HeadPinStore) -> None:
    assert check_log(vault, pins).ok
    vault.checkpoint()
    shutil.copy(vault.path, tmp_path / "old.sqlite3")
    add(vault, 3, start=50)
    assert check_log(vault, pins).head_seq == 13
    vault.close()
    shutil.copy(tmp_path / "old.sqlite3", vault.path)
    old = Vault.open(vault.path)
    for full in (False, True):
        verdict = check_log(old, pins, full=full)
        assert not verdict.ok
        assert "verified it up to entry 13" in verdict.problem
        assert "older copy" in verdict.problem
    pin = pins.get(old.vault_id)
    assert pin is not None and pin.seq == 13


def test_a_rewritten_chain_is_reported(vault: Vault, pins: HeadPinStore) -> None:
    assert check_log(vault, pins).ok
    conn = raw(vault)
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    prev = conn.execute("SELECT hash FROM audit WHERE seq = 5").fetchone()[0]
    for seq, at, actor, action, subject in conn.execute(
            "SELECT seq, at, actor, action, subject FROM audit WHERE seq > 5 ORDER BY seq"
    ).fetchall():
        details = canonical.dumps({"serial": 1000 + seq}).decode()
        digest = link(prev, entry_bytes(seq, at, actor, action, subject, details))
        conn.execute("UPDATE audit SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (details, prev, digest, seq))
        prev = digest
    assert vault.verify_audit().ok  # a consistent chain on its own …
    verdict = check_log(vault, pins)
    assert not verdict.ok and verdict.first_bad_seq == 10  # … but not the one seen before
    assert "rewritten" in verdict.problem


def test_another_log_under_the_same_vault_id_is_reported(tmp_path: Path, vault: Vault,
                                                        pins: HeadPinStore) -> None:
    assert check_log(vault, pins).ok
    other = open_vault(tmp_path / "other.sqlite3")
    raw(other).execute("UPDATE meta SET value = ? WHERE key = 'vault_id'", (vault.vault_id,))
    verdict = check_log(other, pins)
    assert not verdict.ok
    assert "begins differently" in verdict.problem


def test_a_damaged_pin_file_is_named_not_ignored(vault: Vault, pins: HeadPinStore) -> None:
    assert check_log(vault, pins).ok
    path = pins.path_for(vault.vault_id)
    data = json.loads(path.read_text())
    data["verified"]["seq"] = "ten"
    path.write_text(json.dumps(data))
    with pytest.raises(PinStoreDamaged, match="--full"):
        check_log(vault, pins)
    path.write_text("{not json")
    with pytest.raises(PinStoreDamaged, match="damaged"):
        check_log(vault, pins)


def test_a_pin_is_private_and_names_the_log(vault: Vault, pins: HeadPinStore) -> None:
    check_log(vault, pins)
    pin = pins.get(vault.vault_id)
    assert pin is not None
    assert (pin.seq, pin.hash, pin.genesis) == (10, vault.audit_head()[1], vault.audit_hash(1))
    assert pins.path_for(vault.vault_id).stat().st_mode & 0o077 == 0
    with pytest.raises(FormatError):
        pins.path_for("../elsewhere")


def test_a_broken_log_does_not_move_the_pin(vault: Vault, pins: HeadPinStore) -> None:
    assert check_log(vault, pins).ok
    add(vault, 2, start=30)
    raw(vault).execute("UPDATE audit SET actor = 'mallory' WHERE seq = 12")
    verdict = check_log(vault, pins)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 12)
    pin = pins.get(vault.vault_id)
    assert pin is not None and pin.seq == 10


@pytest.mark.parametrize("text", [
    '{"a":1,"b":"x"}', '{"b":1,"a":2}', '{"a": 1}', ' {"a":1}', '{"a":1} ', '{"a":1.5}',
    '{"a":9007199254740992}', '{"a":9007199254740991}', '{"a":-0}', '{"a":1,"a":1}',
    '{"a":"\\u00e9"}', '{"a":"é"}', '{"a":"\\/"}', '[1]', '"x"', '{"a":NaN}',
    '{"a":[1,{"c":null,"b":true}]}', '{"a":"\\ud800"}', '{}', '', '{"a":1}{"b":2}',
])
def test_the_fast_details_check_agrees_with_canonical_loads(text: str) -> None:
    try:
        strict = isinstance(canonical.loads(text.encode("utf-8"), what="details"), dict)
    except (FormatError, UnicodeEncodeError):  # a lone surrogate cannot be UTF-8
        strict = False
    assert _canonical_details(text) is strict
