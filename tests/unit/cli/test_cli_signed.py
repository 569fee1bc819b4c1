"""A signed vault on the command line: adopt, act with --sign-with, verify, tamper."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from helpers.cli import run
from tessera.vault import Vault

SECRET = "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture()
def vault_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vault.sqlite3"
    monkeypatch.setenv("TESSERA_VAULT", str(path))
    monkeypatch.setenv("TESSERA_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("TESSERA_ACTOR", "operator")
    assert run("init", "--demo").code == 0
    for name in ("Alice", "Bob", "Carol"):
        assert run("custodian", "add", name, "--role", "SRE").code == 0
        assert run("token", "enroll", name, "--kind", "software").code == 0
    return path


def test_unsigned_vault_says_so_and_adopt_prints_the_genesis(vault_path: Path) -> None:
    before = run("audit", "verify")
    assert before.code == 0, before.text
    assert "not signed yet" in before.err
    sheet = vault_path.parent / "genesis.pdf"
    r = run("audit", "adopt", "--token", "Alice's software key", "--token",
            "Bob's software key", "--out", str(sheet))
    assert r.code == 0, r.text
    assert "Vault signed by Alice, Bob" in r.out
    assert sheet.read_bytes().startswith(b"%PDF")
    with Vault.open(vault_path) as vault:
        fingerprint = vault.genesis_fingerprint()
    assert fingerprint is not None
    assert fingerprint[:4] in r.out
    after = run("audit", "verify")
    assert after.code == 0, after.text
    assert "every signature verifies" in after.out and fingerprint[:4] in after.out


def test_after_adopt_changes_need_a_signer_and_the_signer_is_the_actor(vault_path: Path
                                                                      ) -> None:
    assert run("audit", "adopt", "--token", "Alice's software key", "--token",
               "Bob's software key").code == 0
    args = ("record", "create", "--label", "AWS root", "--custodian", "Alice", "--custodian",
            "Bob", "--custodian", "Carol", "--threshold", "2", "--system", "aws")
    refused = run(*args, input=SECRET + "\n")
    assert refused.code == 77 and "--sign-with" in refused.err
    assert "AWS root" not in run("record", "list").out
    r = run("--sign-with", "Carol's software key", *args, input=SECRET + "\n")
    assert r.code == 0, r.text
    with Vault.open(vault_path) as vault:
        entry = vault.audit_entries(action="record.create")[-1]
    assert entry.actor == "Carol"
    assert run("audit", "verify").code == 0


def test_a_substituted_recipient_fails_verify_and_create_names_it(vault_path: Path) -> None:
    from tessera.core import age

    assert run("audit", "adopt", "--token", "Alice's software key", "--token",
               "Bob's software key").code == 0
    attacker = age.X25519Identity.generate().recipient.to_string()
    conn = sqlite3.connect(str(vault_path))
    conn.execute("UPDATE tokens SET recipient = ? WHERE label = ?",
                 (attacker, "Bob's software key"))
    conn.commit()
    conn.close()
    v = run("audit", "verify")
    assert v.code == 3
    assert "tokens row" in v.err and "recipient" in v.err
    r = run("--sign-with", "Alice's software key", "record", "create", "--label", "X",
            "--custodian", "Alice", "--custodian", "Bob", "--threshold", "2",
            input=SECRET + "\n")
    # Opening the vault already checks it: the substituted token is named, nothing made.
    assert r.code == 78 and "Bob's software key" in r.err and "recipient" in r.err
    with Vault.open(vault_path) as vault:
        assert vault.list_records() == []


def test_commands_refuse_a_tampered_vault_and_audit_still_reports(vault_path: Path) -> None:
    conn = sqlite3.connect(str(vault_path))
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'demo'")  # already 1: no change
    conn.execute("UPDATE custodians SET role = 'planted' WHERE name = 'Bob'")
    conn.commit()
    conn.close()
    r = run("custodian", "list")
    assert r.code == 78
    assert "custodians row" in r.err and "role" in r.err and "nothing was done" in r.err
    v = run("audit", "verify")
    assert v.code == 3 and "role" in v.err
    assert run("audit", "export").code == 0


def test_in_a_signed_vault_actor_text_cannot_name_someone_other_than_the_signer(
        vault_path: Path) -> None:
    assert run("audit", "adopt", "--token", "Alice's software key", "--token",
               "Bob's software key").code == 0
    r = run("--actor", "Mallory", "--sign-with", "Carol's software key", "custodian", "add",
            "Dave")
    assert r.code == 65
    assert "--actor 'Mallory' is not who signs" in r.err and "Carol" in r.err
    assert "Dave" not in run("custodian", "list").out
    # Naming the signer is redundant but honest; TESSERA_ACTOR ("operator") gives way.
    r = run("--actor", "Carol", "--sign-with", "Carol's software key", "custodian", "add",
            "Dave")
    assert r.code == 0, r.text
    with Vault.open(vault_path) as vault:
        assert vault.audit_entries(action="custodian.add")[-1].actor == "Carol"


@pytest.mark.skipif(shutil.which("age") is None or shutil.which("age-keygen") is None,
                    reason="stock age not installed")
def test_enrolment_substitution_end_to_end_with_stock_age(vault_path: Path,
                                                          tmp_path: Path) -> None:
    """#9's first attack as the attacker runs it: their own key from stock age-keygen put
    in Bob's place with plain SQLite, then the operator's next `record create`. It is
    refused naming Bob's token, and stock age opens nothing in the vault with their key."""
    assert run("audit", "adopt", "--token", "Alice's software key", "--token",
               "Bob's software key").code == 0
    made = run("--sign-with", "Carol's software key", "record", "create", "--label", "AWS root",
               "--custodian", "Alice", "--custodian", "Bob", "--custodian", "Carol",
               "--threshold", "2", input=SECRET + "\n")
    assert made.code == 0, made.text
    key = tmp_path / "attacker.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = next(line.split(": ")[1] for line in key.read_text().splitlines()
                     if line.startswith("# public key: "))
    conn = sqlite3.connect(str(vault_path))
    conn.execute("UPDATE tokens SET recipient = ?, facts = json_remove(facts, '$.pq_recipient')"
                 " WHERE label = ?", (recipient, "Bob's software key"))
    conn.commit()
    conn.close()
    r = run("--sign-with", "Alice's software key", "record", "create", "--label", "Payroll",
            "--custodian", "Alice", "--custodian", "Bob", "--custodian", "Carol",
            "--threshold", "2", input=SECRET + "\n")
    assert r.code == 78 and "Bob's software key" in r.err
    conn = sqlite3.connect(str(vault_path))
    envelopes = [bytes(row[0]) for row in conn.execute("SELECT age FROM envelopes")]
    labels = [row[0] for row in conn.execute("SELECT label FROM records")]
    conn.close()
    assert labels == ["AWS root"] and len(envelopes) == 3  # the refused create made none
    for envelope in envelopes:
        opened = subprocess.run(["age", "-d", "-i", str(key)], input=envelope,
                                capture_output=True, check=False)
        assert opened.returncode != 0 and not opened.stdout
