"""The Review page flags what an auditor must see, and exports CSV and PDF."""

from __future__ import annotations

import pytest

from tessera.core.policy import SplitPlan
from tessera.custody.create import create_record
from tessera.custody.rotate import rotate_record
from tessera.gui.main_window import PAGES
from tessera.gui.review_page import ReviewPage
from tessera.sheets.model import new_serial
from tessera.vault import RecordState
from tessera.vault.sheet_registry import SheetRegistry

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


def risky_record(context) -> str:
    """2-of-2 (Alice, Bob) owned by Alice, sheets printed then rotated, then released."""
    vault = context.vault
    ids = {c.name: c.id for c in vault.list_custodians()}
    created = create_record(vault, b"s3cret", label="Risky", actor="t",
                            plan=SplitPlan.simple(2, [ids["Alice"], ids["Bob"]]),
                            nhi={"owner": "Alice", "system": "AWS"})
    data = vault.get_version(created.record_id)
    for entry in data.manifest.shares:
        SheetRegistry(vault).record_printed(new_serial(), created.record_id, data.version,
                                            entry.key, actor="t")
    rotate_record(vault, created.record_id, b"n3w", actor="t", reason="test")
    vault.set_record_state(created.record_id, RecordState.RELEASED, "test release", "t")
    context.notify_changed()
    return created.record_id


def test_review_flags_each_finding_and_exports(window, context, qtbot, tmp_path, monkeypatch):
    risky_record(context)
    window.show_page(PAGES.index("Review"))
    page = window.review
    assert window.stack.currentWidget() is page
    kinds = page.finding_kinds("Risky")
    assert {"loss_below_threshold", "custodian_is_owner", "sheets_outstanding",
            "rotation_due", "never_drilled"} <= kinds
    labels = [page.records.topLevelItem(i).text(0)
              for i in range(page.records.topLevelItemCount())]
    assert "Risky" in labels
    risky = page.records.topLevelItem(labels.index("Risky"))
    assert risky.text(1) == "2 of 2"
    assert risky.text(5) == "2"  # two superseded sheets outstanding
    assert [risky.child(i).text(0) for i in range(risky.childCount())] == ["Alice", "Bob"]
    severities = {page.findings.topLevelItem(i).text(0)
                  for i in range(page.findings.topLevelItemCount())}
    assert "HIGH" in severities
    assert "high" in page.counts.text()

    targets = {"csv": tmp_path / "review.csv", "pdf": tmp_path / "review.pdf"}
    monkeypatch.setattr(ReviewPage, "ask_export_path", staticmethod(lambda _p, k: targets[k]))
    page.csv_button.click()
    page.pdf_button.click()
    text = targets["csv"].read_text()
    assert "Risky" in text and "Single point of loss" in text
    assert targets["pdf"].read_bytes().startswith(b"%PDF")
    assert targets["csv"].stat().st_mode & 0o077 == 0
