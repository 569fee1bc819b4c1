"""`tessera` refuses an older copy or another vault at the same path, says how to accept
it, and `tessera vault accept` puts the acceptance on the audit record."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers.cli import run
from tessera.vault import Vault
from tessera.vault.genesis import format_fingerprint


def _restore(copy: Path, path: Path) -> None:
    shutil.copyfile(copy, path)
    for side in ("-wal", "-shm"):
        Path(str(path) + side).unlink(missing_ok=True)


def test_cli_refuses_a_rolled_back_vault_until_accepted(tmp_path: Path) -> None:
    path, old = tmp_path / "vault.sqlite3", tmp_path / "old.sqlite3"
    v = ("--vault", str(path))
    assert run(*v, "init").code == 0
    shutil.copyfile(path, old)
    assert run(*v, "custodian", "add", "Alice").code == 0
    head = run(*v, "audit", "verify")
    assert head.code == 0, head.text
    _restore(old, path)

    refused = run(*v, "custodian", "list")
    assert refused.code == 76
    assert "older copy" in refused.err and "tessera vault accept" in refused.err
    assert "Alice" not in refused.out

    status = run(*v, "vault", "status")
    assert status.code == 0 and "older copy" in status.err

    accepted = run(*v, "--actor", "carol", "vault", "accept", "--reason",
                   "restored the backup on purpose", "--yes")
    assert accepted.code == 0, accepted.text
    log = run(*v, "audit", "export", "--format", "jsonl")
    assert '"action":"vault.accept"' in log.out and "restored the backup on purpose" in log.out
    assert run(*v, "custodian", "list").code == 0
    after = run(*v, "audit", "verify")  # the accepted log verifies in full and is pinned
    assert after.code == 0, after.text


def test_cli_refuses_another_vault_at_the_same_path(tmp_path: Path) -> None:
    path, other = tmp_path / "vault.sqlite3", tmp_path / "other.sqlite3"
    assert run("--vault", str(path), "init").code == 0
    assert run("--vault", str(other), "init").code == 0
    _restore(other, path)
    refused = run("--vault", str(path), "record", "list")
    assert refused.code == 76 and "not the vault this computer knew here" in refused.err


def test_audit_verify_head_still_checks_a_printed_head(tmp_path: Path) -> None:
    v = ("--vault", str(tmp_path / "vault.sqlite3"))
    assert run(*v, "init").code == 0
    good = run(*v, "audit", "verify")
    head = good.out.split("head ")[-1].split()[0]
    assert run(*v, "audit", "verify", "--head", head).code == 0
    seq, digest = head.split(":")
    wrong = run(*v, "audit", "verify", "--head", f"{int(seq) + 5}:{digest}")
    assert wrong.code != 0 and "removed" in wrong.text


@pytest.mark.usefixtures("trust_demo_ca")
def test_adopting_is_no_replacement_and_one_genesis_fingerprint_is_shown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "vault.sqlite3"
    monkeypatch.setenv("TESSERA_VAULT", str(path))
    monkeypatch.setenv("TESSERA_ACTOR", "operator")
    pin = "314159"
    assert run("init").code == 0  # a real vault: pinned by this computer from now on
    for name in ("Alice", "Bob", "Carol"):
        assert run("custodian", "add", name).code == 0
        r = run("--virtual", "--virtual-touch", "immediate", "token", "enroll", name,
                "--kind", "fido2", input=f"{pin}\n{pin}\n")
        assert r.code == 0, r.text
    before = run("vault", "status")
    assert before.code == 0, before.text
    assert "Not signed yet" in before.out and "TSR-" not in before.out
    with Vault.open(path) as vault:
        ids = {t.custodian_name: t.id for t in vault.list_tokens()}
    adopted = run("--virtual", "--virtual-touch", "immediate", "audit", "adopt", "--token",
                  ids["Alice"], "--token", ids["Bob"], input=f"{pin}\n{pin}\n")
    assert adopted.code == 0, adopted.text
    with Vault.open(path) as vault:
        fingerprint = vault.genesis_fingerprint()
    assert fingerprint is not None
    shown = format_fingerprint(fingerprint)
    assert f"Genesis fingerprint: {shown}" in adopted.out
    opened = run("custodian", "list")  # the signed vault is the same vault moving forward
    assert opened.code == 0, opened.text
    status = run("vault", "status")
    assert f"Genesis fingerprint: {shown}" in status.out
    assert "matches this computer's pins" in status.out and "TSR-" not in status.out
    verify = run("--virtual", "audit", "verify")
    assert verify.code == 0 and f"Genesis fingerprint: {shown}" in verify.out
