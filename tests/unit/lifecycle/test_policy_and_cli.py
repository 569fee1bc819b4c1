"""Policy show/set (vault and per-record overrides take effect), and rotate, reshare,
revoke end to end through the command line with virtual keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.ceremony import SECRET, Ceremony
from helpers.cli import run
from tessera.vault import RecordState, Vault

PINS = "314159\n314159\n"


@pytest.fixture()
def vault(c: Ceremony) -> list[str]:
    c.vault.close()
    return ["--vault", str(c.path), "--virtual-touch", "immediate", "--actor", "op"]


def test_policy_show_and_set(vault: list[str], c: Ceremony) -> None:
    r = run(*vault, "policy", "set", "drill_days", "30")
    assert r.code == 0 and "drill_days for the vault is now 30" in r.out
    r = run(*vault, "policy", "set", "paper_in_release", "no", "--record", "Deploy key")
    assert r.code == 0, r.text
    shown = run(*vault, "policy", "show", "Deploy key").out
    assert "drill_days           30" in shown
    assert "paper_in_release     no" in shown and "(this record)" in shown
    assert "paper_in_release     yes" in run(*vault, "policy", "show").out
    assert run(*vault, "policy", "set", "drill_days", "0").code != 0
    assert "unknown policy setting" in run(*vault, "policy", "set", "colour", "1").err
    # The override takes effect: a quorum refuses paper on this record.
    r = run(*vault, "reshare", "Deploy key", "--reason", "r", "--ticket", "T", "--approve",
            "Alice", "--paper", "Carol", input="314159\n" + c.words["Carol"] + "\n")
    assert r.code != 0 and "does not accept paper shares" in r.err
    assert run(*vault, "policy", "set", "paper_in_release", "default", "--record",
               "Deploy key").code == 0
    assert "(this record)" not in run(*vault, "policy", "show", "Deploy key").out
    with Vault.open(c.path) as v:
        actions = [e.action for e in v.audit_entries()]
    assert actions.count("record.policy") == 2 and "vault.policy" in actions


def test_reshare_revoke_rotate_through_the_cli(vault: list[str], c: Ceremony,
                                               tmp_path: Path) -> None:
    r = run(*vault, "reshare", "Deploy key", "--custodians", "Alice,Bob,Carol",
            "--threshold", "3", "--reason", "tighten", "--ticket", "CHG-1", "--approve",
            "Alice", "--approve", "Bob", "--sheets-pdf", str(tmp_path / "new.pdf"),
            input=PINS)
    assert r.code == 0, r.text
    assert "version 2 (epoch 2), any 3 of 3" in r.out
    assert (tmp_path / "new.pdf").read_bytes().startswith(b"%PDF")
    r = run(*vault, "revoke", "Deploy key", "Carol", "--reason", "left", "--ticket", "HR-1",
            "--approve", "Alice", "--approve", "Bob", "--approve", "Carol",
            input=PINS + "314159\n")
    assert r.code == 0, r.text
    assert "Carol no longer holds a share of Deploy key" in r.out
    assert "only rotating the credential itself closes that path" in r.err
    assert "rotation required" in run(*vault, "record", "show", "Deploy key").out
    # Remaining custodians release; the secret is what was sealed at the start.
    out = tmp_path / "secret"
    r = run(*vault, "release", "Deploy key", "--reason", "r", "--ticket", "T", "--approve",
            "Alice", "--approve", "Bob", "--out", str(out), input=PINS)
    assert r.code == 0, r.text
    assert out.read_bytes() == SECRET
    r = run(*vault, "rotate", "Deploy key", "--reason", "rotated after INC", "--binary",
            input=b"new credential bytes")
    assert r.code == 0, r.text
    assert "version 4 (epoch 4)" in r.out and "state       sealed" in r.out
    assert run(*vault, "rotate", "Deploy key", "--reason", "x", input=b"").code != 0
    verified = run(*vault, "audit", "verify")
    assert verified.code == 0 and "All approval signatures verify" in verified.out
    with Vault.open(c.path) as v:
        assert v.get_record(c.record_id).state is RecordState.SEALED
        assert [x.superseded_at is None for x in v.list_versions(c.record_id)] == [
            False, False, False, True]


def test_sheet_list_after_reshare_names_what_to_destroy(vault: list[str], c: Ceremony,
                                                        tmp_path: Path) -> None:
    from tessera.vault.sheet_registry import SheetRegistry

    with Vault.open(c.path) as v:
        SheetRegistry(v).record_printed("SHEET-1", c.record_id, 1, "g0m0", actor="op")
    r = run(*vault, "reshare", "Deploy key", "--reason", "r", "--ticket", "T", "--approve",
            "Alice", "--approve", "Bob", input=PINS)
    assert r.code == 0, r.text
    assert "Sheets of the superseded version(s) to destroy" in r.out and "SHEET-1" in r.out
    r = run(*vault, "sheet", "destroy", "SHEET-1", "--by", "op", "--witness", "Carol")
    assert r.code == 0, r.text
    with Vault.open(c.path) as v:
        from tessera.custody.lifecycle import sheets_to_destroy

        assert sheets_to_destroy(v, c.record_id) == []
