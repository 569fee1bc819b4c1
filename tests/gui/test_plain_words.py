"""A custodian reads words, not codes: share names, versions, actions; the technical
value stays one click away (tooltips, the audit entry's technical details)."""

from __future__ import annotations

import re

import pytest
from PySide6.QtWidgets import QAbstractButton, QLabel, QTreeWidget, QWizard

from tessera.core.request import new_request
from tessera.core.wording import describe, detail_lines, share_label, version_text
from tessera.gui.enrol_wizard import EnrolWizard
from tessera.gui.main_window import PAGES
from tessera.tokens.base import ApprovalMethod, Evidence

pytestmark = pytest.mark.usefixtures("no_qt_warnings")

# Words the issue found on screen that custodians do not use.
JARGON = re.compile(r"\bg\d{1,2}m\d{1,2}\b|\bepoch\b|\brecipient\b|\bciphertext\b|\bcredential\b"
                    r"|Release released|\bshare_key\b|\bshare-commitment\b|\bCommit\b", re.I)


def released_with_paper(context) -> str:
    """A completed release of the demo record, approved by two typed sheets."""
    vault = context.vault
    record = vault.list_records()[0]
    manifest = vault.get_version(record.id).manifest
    request = new_request("release", manifest, reason="Rotate after leak", ticket="INC-7",
                          requested_by="t")
    vault.start_release(record.id, request.to_bytes(), request.request_id, "Rotate after leak",
                        "INC-7", "t")
    paper = Evidence(ApprovalMethod.PAPER, None, "share-commitment", b"", {})
    for custodian in vault.list_custodians()[:2]:
        vault.add_approval(request.request_id, custodian.id, None, paper, "t")
    vault.finish_release(request.request_id, "released", "t")
    context.notify_changed()
    return record.id


def visible_texts(top) -> list[str]:
    texts = []
    for widget in top.findChildren(QLabel) + top.findChildren(QAbstractButton):
        if widget.isVisible() and widget.text():
            texts.append(widget.text())
    for tree in top.findChildren(QTreeWidget):
        if tree.isVisible():
            for i in range(tree.topLevelItemCount()):
                item = tree.topLevelItem(i)
                texts += [item.text(c) for c in range(tree.columnCount())]
    return texts


def table_texts(table) -> list[str]:
    model = table.model()
    return [str(model.index(r, c).data() or "") for r in range(model.rowCount())
            for c in range(model.columnCount())]


def test_wording_helpers():
    assert share_label("g0m1") == "share 2"
    assert share_label("g1m0", groups=2) == "group 2, share 1"
    assert version_text(1, 1) == "version 1"
    line = describe("t", "release.approve", {"custodian": "Bob", "method": "paper",
                                              "progress": "2 of 2", "label": "CI key"})
    assert line == "Release approved: Bob with typed sheet words (2 of 2) — CI key"
    # A record's machine identity reads as the record pane names it, not as "Nhi".
    nhi = {"account": "deploy-bot", "system": "GitHub Actions"}
    assert [(d.title, d.text) for d in detail_lines({"nhi": nhi}, "record.create")] == [
        ("Identity", "Account: deploy-bot; System: GitHub Actions")]


def test_no_codes_on_the_main_pages_after_a_release(window, context, qtbot):
    released_with_paper(context)
    window.resize(1366, 740)
    for page in PAGES:
        window.show_page(PAGES.index(page))
        current = window.stack.currentWidget()
        if page == "Records":
            window.records.table.selectRow(0)
        if page == "Audit":
            window.audit.table.selectRow(0)
        found = [t for t in visible_texts(current) if JARGON.search(t)]
        table = getattr(current, "table", None)
        if table is not None:
            found += [t for t in table_texts(table) if JARGON.search(t)]
        assert not found, f"{page}: {found}"
    review = window.review.records.model()
    record = review.index(0, 0)
    keys = [review.index(i, 2, record).data() for i in range(review.rowCount(record))]
    assert "Alice's security key (FIDO2 key)" in keys  # not "(fido2)"
    history = window.records.detail.history
    whats = [history.topLevelItem(i).text(1) for i in range(history.topLevelItemCount())]
    assert "Secret released" in whats


def test_an_audit_entry_reads_in_full_with_the_technical_record_a_click_away(window, context,
                                                                            qtbot):
    released_with_paper(context)
    window.show_page(PAGES.index("Audit"))
    page = window.audit
    assert page.select_where(lambda e: e.action == "release.approve")
    detail = page.detail
    entry = detail.entry
    assert entry is not None and entry.action == "release.approve"
    assert detail.title.text() == f"Entry {entry.seq}: Release approved by a custodian"
    qtbot.waitUntil(lambda: "Checked with" in " ".join(visible_texts(detail)))
    readable = " ".join(visible_texts(detail))
    assert "typed sheet words" in readable and "Checked with" in readable
    assert "share-commitment" not in readable and entry.hash not in readable
    # One click shows the codes and the full hashes, selectable.
    assert not detail.technical.isVisible()
    detail.technical_button.click()
    assert detail.technical.isVisible()
    qtbot.waitUntil(lambda: entry.hash in " ".join(visible_texts(detail.technical)))
    technical = " ".join(visible_texts(detail.technical))
    assert "release.approve" in technical
    assert entry.hash in technical and entry.prev_hash in technical
    assert "share-commitment" in technical


def test_verify_shows_the_chain_head_whole(window, qtbot):
    window.show_page(PAGES.index("Audit"))
    verdict = window.audit.verify()
    assert verdict is not None and verdict.ok
    assert verdict.head_hash in window.audit.verdict.text()
    assert window.audit.detail.entry is not None
    assert window.audit.detail.entry.seq == verdict.head_seq


def test_enrol_wizard_says_enrol_not_commit(context, qtbot):
    wizard = EnrolWizard(context)
    qtbot.addWidget(wizard)
    for page in (wizard.enrol_page, wizard.recipient_page):
        assert "Commit" not in page.buttonText(QWizard.WizardButton.CommitButton)
