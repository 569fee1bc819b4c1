"""The genesis fingerprint travels on paper: every recovery sheet and transcript."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from helpers.ceremony import ScriptedPrompts
from helpers.signed import signer
from tessera.custody.sheets import sheet_with_token, transcript_for
from tessera.sheets.layout import Paper
from tessera.sheets.render import write_pdf, write_transcript_pdf


def test_sheets_and_transcripts_carry_the_genesis_fingerprint(signed: Any,
                                                              tmp_path: Path) -> None:
    c = signed
    genesis = c.vault.genesis_fingerprint()
    assert genesis is not None
    with c.vault.signed_by(signer(c, "Alice")):
        sheet = sheet_with_token(c.vault, c.drivers, "Deploy key", c.tokens["Bob"].id,
                                 ScriptedPrompts(), threading.Event(), actor="op")
        transcript = transcript_for(c.vault, "Deploy key", actor="op")
    assert sheet.genesis == genesis
    assert transcript.genesis == genesis
    assert write_pdf([sheet], tmp_path / "sheet.pdf", Paper.A4) >= 1
    assert write_transcript_pdf(transcript, tmp_path / "t.pdf", Paper.A4) >= 1
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler) missing: the printed text is not checked")
    groups = " ".join(genesis[i:i + 4] for i in range(0, 32, 4))
    for pdf in ("sheet.pdf", "t.pdf"):
        text = subprocess.run(["pdftotext", "-raw", str(tmp_path / pdf), "-"],
                              capture_output=True, text=True, check=True).stdout
        # What a custodian compares: the genesis as printed on the page itself. In
        # drawing order (-raw): a layout reading interleaves the DEMO watermark
        # with the text under it.
        assert "genesis" in text.lower() and groups in " ".join(text.split()), pdf


def test_an_unsigned_vault_prints_no_genesis(tmp_path: Path) -> None:
    from helpers.ceremony import build

    c = build(tmp_path)
    assert transcript_for(c.vault, "Deploy key", actor="op").genesis == ""
    c.vault.close()


def test_the_genesis_sheet_names_the_signers_and_what_is_not_proven(tmp_path: Path) -> None:
    from helpers.ceremony import build
    from tessera.custody.sheets import genesis_transcript
    from tessera.custody.signing import adopt

    c = build(tmp_path)
    done = adopt(c.vault, c.drivers, [c.tokens["Alice"].id, c.tokens["Bob"].id],
                 ScriptedPrompts(), actor="op")
    sheet = genesis_transcript(c.vault, done.fingerprint, done.signed_by, done.unproven,
                               actor="op")
    assert sheet.genesis == done.fingerprint == c.vault.genesis_fingerprint()
    assert ("Signed by", "Alice, Bob") in sheet.facts
    assert any(label == "Not proven" and "Carol" in text for label, text in sheet.facts)
    assert sheet.signatures == ("Custodian Alice", "Custodian Bob")
    assert write_transcript_pdf(sheet, tmp_path / "genesis.pdf", Paper.A4) == 1
    c.vault.close()
