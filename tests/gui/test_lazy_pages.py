"""Pages are built when first shown, and a hidden page catches up with a vault change
when it is next shown (one write does not make every page re-read the vault)."""

from __future__ import annotations

import pytest

from tessera.gui.audit_page import AuditPage
from tessera.gui.main_window import PAGES

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


def names(page) -> list[str]:
    return [page.model.row_at(r).custodian.name for r in range(page.model.rowCount())]


def test_only_the_records_page_is_built_at_start(window) -> None:
    assert window.stack.currentIndex() == 0
    assert not any(isinstance(window.stack.widget(i), AuditPage) for i in range(len(PAGES)))
    window.show_page(PAGES.index("Audit"))
    assert isinstance(window.stack.currentWidget(), AuditPage)
    assert window.sidebar.currentRow() == PAGES.index("Audit")


def test_a_hidden_page_refreshes_when_shown_a_visible_one_at_once(window, context,
                                                                  qtbot) -> None:
    custodians = window.custodians  # built, but Records is the page on screen
    reads: list[int] = []
    original = custodians.refresh

    def counting_refresh() -> None:
        reads.append(1)
        original()

    custodians.refresh = counting_refresh
    context.vault.add_custodian("Dana", contact="dana@example.invalid", role="Auditor",
                                actor="test")
    context.notify_changed()
    assert reads == []  # hidden: nothing re-read yet
    window.show_page(PAGES.index("Custodians"))
    qtbot.waitUntil(lambda: "Dana" in names(custodians))
    assert reads == [1]
    context.vault.add_custodian("Erin", contact="erin@example.invalid", role="Auditor",
                                actor="test")
    context.notify_changed()
    assert "Erin" in names(custodians)  # visible: re-read at once
    assert reads == [1, 1]


def test_the_audit_page_lists_the_newest_entries_that_match(window, context, monkeypatch,
                                                              qtbot) -> None:
    from tessera.gui import audit_page

    monkeypatch.setattr(audit_page, "PAGE", 5)
    for i in range(7):
        context.vault.append_audit("Zed", "sheet.print", f"sheet-{i}", {"serial": i})
    window.show_page(PAGES.index("Audit"))
    page = window.audit
    page.refresh()
    head = context.vault.audit_head()[0]
    seqs = [page.model.row_at(r).seq for r in range(page.model.rowCount())]
    assert sorted(seqs) == list(range(head - 4, head + 1))
    assert f"the newest 5 matching entries of {head}" in page.count.text()
    page.action_filter.setCurrentIndex(page.action_filter.findData("custodian."))
    shown = [page.model.row_at(r) for r in range(page.model.rowCount())]
    assert shown and {e.action for e in shown} == {"custodian.add"}  # older, found by SQL
