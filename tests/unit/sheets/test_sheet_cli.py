"""`tessera sheet …` and `tessera transcript` end to end on a demo vault."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helpers.cli import run
from tessera.vault import Vault
from tessera.vault.sheet_registry import SheetRegistry, SheetState

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from test_cli_flow import SECRET, create, setup_custodians


@pytest.fixture()
def vault_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vault.sqlite3"
    monkeypatch.setenv("TESSERA_VAULT", str(path))
    monkeypatch.setenv("TESSERA_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("TESSERA_ACTOR", "operator")
    return path


def test_print_scan_recover_seal_reprint_and_transcript(vault_path: Path, tmp_path: Path
                                                        ) -> None:
    setup_custodians()
    create(k=2)
    out = tmp_path / "sheets"
    r = run("sheet", "print", "AWS root", "--out", str(out))
    assert r.code == 0, r.text
    pdfs = sorted(out.glob("*.pdf"))
    assert len(pdfs) == 3 and "holds Alice's share in clear" in r.err
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in pdfs)

    # Two sheets alone recover the secret, without the vault.
    secret = tmp_path / "secret.txt"
    r = run("--vault", str(tmp_path / "none.sqlite3"), "sheet", "scan", str(pdfs[0]),
            str(pdfs[2]), "--dpi", "150", "--recover-to", str(secret))
    assert r.code == 0, r.text
    assert secret.read_text() == SECRET
    assert "Recovered AWS root from 2 sheets" in r.out

    r = run("sheet", "verify", str(pdfs[1]), "--dpi", "150")
    assert r.code == 0, r.text
    assert "matches AWS root v1 (epoch 1); registry: printed" in r.out

    vault = Vault.open(vault_path)
    try:
        registry = SheetRegistry(vault)
        rows = registry.outstanding()
        assert len(rows) == 3 and {s.state for s in rows} == {SheetState.PRINTED}
        first = rows[0]
    finally:
        vault.close()
    r = run("sheet", "seal", first.serial, "--envelope", "TE-0042", "--sealed-by", "Alice",
            "--witness", "Alice")
    assert r.code != 0 and "witness must be someone other" in r.err
    r = run("sheet", "seal", first.serial, "--envelope", "TE-0042", "--sealed-by", "Alice",
            "--witness", "Dan")
    assert r.code == 0, r.text
    who = next(line.split()[3] for line in run("sheet", "list").out.splitlines()
               if first.serial in line)
    r = run("sheet", "print", "AWS root", "--custodian", who, "--reprint-of", first.serial,
            "--reason", "sheet water-damaged", "--hand-copy", "--out", str(out))
    assert r.code == 0, r.text
    listing = run("sheet", "list").out
    assert f"reprint of {first.serial}" in listing and "TE-0042" in listing

    pdf = tmp_path / "transcript.pdf"
    r = run("transcript", "AWS root", "--out", str(pdf))
    assert r.code == 0, r.text
    assert pdf.read_bytes().startswith(b"%PDF")
    vault = Vault.open(vault_path)
    try:
        seq, head = vault.audit_head()
        actions = [e.action for e in vault.audit_entries()]
    finally:
        vault.close()
    assert f"audit head {seq}:{head}" in r.out
    assert actions.count("sheet.print") == 3
    assert actions[-2:] == ["sheet.seal", "sheet.reprint"]
