"""PCI DSS 3.7.8 on the command line: custodians acknowledge their responsibilities,
signed by their key at enrolment or later, or on a witnessed paper form; the access
review flags whoever has not; `audit verify` re-checks every signature."""

from __future__ import annotations

import base64
import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from helpers.cli import run

SECRET = "s3cret-value"


@pytest.fixture()
def vault_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vault.sqlite3"
    monkeypatch.setenv("TESSERA_VAULT", str(path))
    monkeypatch.setenv("TESSERA_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("TESSERA_ACTOR", "operator")
    assert run("init", "--demo").code == 0
    for name in ("Alice", "Bob"):
        assert run("custodian", "add", name).code == 0
    return path


def acknowledgement_entries(path: Path) -> list[dict[str, object]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT subject, details FROM audit"
                            " WHERE action = 'custodian.acknowledge'").fetchall()
    finally:
        conn.close()
    return [{"subject": s, **json.loads(d)} for s, d in rows]


def review_rows(tmp_path: Path) -> list[dict[str, str]]:
    out = tmp_path / "review.csv"
    r = run("review", "--csv", str(out))
    assert r.code == 0, r.text
    return list(csv.DictReader(io.StringIO(out.read_text())))


def test_enrolment_signs_the_acknowledgement_and_the_review_flags_the_rest(
        vault_path: Path, tmp_path: Path) -> None:
    r = run("token", "enroll", "Alice", "--kind", "software", "--acknowledge")
    assert r.code == 0, r.text
    assert "never show, copy" in r.out and "acknowledged the custodian responsibilities" in r.out
    r = run("token", "enroll", "Bob", "--kind", "software")
    assert r.code == 0, r.text
    assert "no acknowledgement" in r.err
    [entry] = acknowledgement_entries(vault_path)
    assert entry["method"] == "software" and entry["custodian"] == "Alice"
    assert b"tessera/acknowledgement/v1" in base64.b64decode(str(entry["acknowledgement"]))

    r = run("record", "create", "--label", "Root", "--custodian", "Alice", "--custodian", "Bob",
            "--threshold", "2", input=SECRET + "\n")
    assert r.code == 0, r.text
    rows = {row["custodian"]: row for row in review_rows(tmp_path)}
    assert rows["Alice"]["acknowledged"].startswith("20")
    assert "Responsibilities not acknowledged" not in rows["Alice"]["findings"]
    assert rows["Bob"]["acknowledged"] == "no"
    assert "Responsibilities not acknowledged" in rows["Bob"]["findings"]
    assert "not acknowledged" in run("review").out.lower()

    # Bob acknowledges later with his enrolled key; the finding goes away.
    r = run("custodian", "acknowledge", "Bob")
    assert r.code == 0, r.text
    rows = {row["custodian"]: row for row in review_rows(tmp_path)}
    assert "Responsibilities not acknowledged" not in rows["Bob"]["findings"]
    verify = run("audit", "verify")
    assert verify.code == 0 and "All approval signatures verify" in verify.out


def test_a_forged_acknowledgement_fails_audit_verify(vault_path: Path) -> None:
    assert run("token", "enroll", "Alice", "--kind", "software", "--acknowledge").code == 0
    conn = sqlite3.connect(vault_path)
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    (details,) = conn.execute("SELECT details FROM audit WHERE action = "
                              "'custodian.acknowledge'").fetchone()
    obj = json.loads(details)
    ack = json.loads(base64.b64decode(obj["acknowledgement"]))
    ack["nonce"] = "00" * 16  # a different acknowledgement than the key signed
    obj["acknowledgement"] = base64.b64encode(
        json.dumps(ack, separators=(",", ":"), sort_keys=True).encode()).decode()
    conn.execute("UPDATE audit SET details = ? WHERE action = 'custodian.acknowledge'",
                 (json.dumps(obj, separators=(",", ":"), sort_keys=True),))
    conn.commit()
    conn.close()
    r = run("audit", "verify")
    assert r.code == 3
    assert "acknowledgement of Alice" in r.err and "does not verify" in r.err


def test_a_remote_custodian_acknowledges_on_a_witnessed_paper_form(
        vault_path: Path, tmp_path: Path) -> None:
    from tessera.core import age
    recipient = age.X25519Identity.generate().recipient.to_string()
    r = run("token", "enroll", "Alice", "--recipient", recipient, "--acknowledge")
    assert r.code == 0 and "cannot sign here" in r.err
    assert acknowledgement_entries(vault_path) == []
    r = run("custodian", "acknowledge", "Alice")
    assert r.code == 65 and "--witness" in r.err
    r = run("custodian", "acknowledge", "Alice", "--witness", "Olivia")
    assert r.code == 65 and "--reference" in r.err
    r = run("custodian", "acknowledge", "Alice", "--witness", "Olivia", "--reference",
            "HR-2026-17")
    assert r.code == 0, r.text
    [entry] = acknowledgement_entries(vault_path)
    assert (entry["method"], entry["witness"], entry["reference"]) == (
        "witnessed", "Olivia", "HR-2026-17")


def test_the_review_counts_read_with_thousands_separated(vault_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from tessera.core.review import Finding, FindingKind, Severity
    from tessera.custody import review as custody_review

    real = custody_review.gather_review
    drills = [Finding(FindingKind.NEVER_DRILLED, Severity.MEDIUM, f"r{n}", f"Record {n}",
                      "never drilled") for n in range(1234)]

    def many(vault):  # type: ignore[no-untyped-def]
        return dataclasses.replace(real(vault), findings=tuple(drills))

    monkeypatch.setattr(custody_review, "gather_review", many)
    out = run("review").out
    line = next(text for text in out.splitlines() if text.startswith("Findings:"))
    numbers = [word for word in line.split() if word[0].isdigit()]
    assert all(n == f"{int(n.replace(',', '')):,}" for n in numbers), line
    assert any("," in n for n in numbers), line
