"""``tessera organisation``: set once, audited, and on the sheets printed afterwards."""

from __future__ import annotations

import json
import shutil
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
    assert run("init").code == 0
    return path


def test_set_show_and_audit(vault_path: Path) -> None:
    assert "No organisation set" in run("organisation", "show").out
    r = run("organisation", "set", "--name", "Example Corp", "--contact",
            "Security on-call +44 20 7946 0000", "--url", "https://wiki.example.org/tessera")
    assert r.code == 0, r.text
    assert "Example Corp" in r.out and "every page" in r.out
    r = run("organisation", "set", "--contact", "Dana, +44 20 7946 0001")  # others kept
    assert r.code == 0, r.text
    shown = run("organisation", "show").out
    assert "Example Corp" in shown and "Dana, +44 20 7946 0001" in shown
    assert "https://wiki.example.org/tessera" in shown
    entries = [json.loads(line) for line in run("audit", "export").out.splitlines()]
    changes = [e for e in entries if e["action"] == "vault.organisation"]
    assert len(changes) == 2
    assert changes[1]["details"]["changes"] == {
        "contact": {"from": "Security on-call +44 20 7946 0000", "to": "Dana, +44 20 7946 0001"}}


def test_a_bad_url_is_refused_and_changes_nothing(vault_path: Path) -> None:
    assert run("organisation", "set", "--name", "Example Corp").code == 0
    r = run("organisation", "set", "--url", "wiki.example.org")
    assert r.code != 0
    assert "https://" in r.err
    with Vault.open(vault_path) as vault:
        assert vault.organisation.name == "Example Corp"
        assert vault.organisation.instructions_url == ""


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler) missing")
@pytest.mark.usefixtures("trust_demo_ca")  # virtual keys stand for attested hardware
def test_sheets_printed_afterwards_carry_it(vault_path: Path, tmp_path: Path) -> None:
    run("organisation", "set", "--name", "Example Corp", "--contact", "Dana +44 20 7946 0001",
        "--url", "https://wiki.example.org/tessera")
    virtual, pins = ("--virtual", "--virtual-touch", "immediate"), "314159\n" * 4
    for name in ("Alice", "Bob"):
        assert run("custodian", "add", name).code == 0
        r = run(*virtual, "token", "enroll", name, "--kind", "fido2", input=pins)
        assert r.code == 0, r.text
    tokens = [line.split()[0] for line in run("token", "list").out.splitlines()
              if "fido2" in line]
    # A real vault wraps shares only once its custodians signed it (its genesis).
    adopted = run(*virtual, "audit", "adopt", "--token", tokens[0], "--token", tokens[1],
                  input=pins)
    assert adopted.code == 0, adopted.text
    sheets = tmp_path / "sheets"
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    r = run(*virtual, "--sign-with", tokens[0], "record", "create", "--label", "AWS root",
            "--custodian", "Alice", "--custodian", "Bob", "--threshold", "2", "--system",
            "aws", "--secret-file", str(secret), "--sheets", str(sheets), input=pins)
    assert r.code == 0, r.text
    pdf = sorted(sheets.glob("*.pdf"))[0]
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 2
    for page in pages:
        assert "Example Corp" in page and "https://wiki.example.org/tessera" in page
        assert "DEMO" not in page  # a real vault's sheet
