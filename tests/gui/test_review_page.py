"""The Review page flags what an auditor must see, and exports CSV and PDF."""

from __future__ import annotations

import pytest

from tessera.core.policy import SplitPlan
from tessera.custody.create import create_record
from tessera.custody.review import gather_review
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
    rows = record_rows(page)
    labels = [cells[0] for cells, _ in rows]
    assert "Risky" in labels
    risky, holders = rows[labels.index("Risky")]
    assert risky[1] == "2 of 2"
    assert risky[5] == "2"  # two superseded sheets outstanding
    assert [cells[0] for cells in holders] == ["Alice", "Bob"]
    severities = {cells[0] for cells in finding_rows(page)}
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


def record_rows(page: ReviewPage) -> list[tuple[list[str], list[list[str]]]]:
    """Each record's cells as its view shows them, with each holder's beneath it."""
    model = page.records.model()

    def cells(index) -> list[str]:
        return [model.index(index.row(), c, index.parent()).data()
                for c in range(model.columnCount())]

    rows = []
    for i in range(model.rowCount()):
        record = model.index(i, 0)
        rows.append((cells(record), [cells(model.index(j, 0, record))
                                     for j in range(model.rowCount(record))]))
    return rows


def finding_rows(page: ReviewPage) -> list[list[str]]:
    model = page.findings.model()
    return [[model.index(i, c).data() for c in range(model.columnCount())]
            for i in range(model.rowCount())]


def _listed(page: ReviewPage) -> tuple[list[object], list[object]]:
    """Every row as shown: record, id, whether its findings count is coloured, holders;
    each finding's texts, whether coloured, tooltip."""
    from PySide6.QtCore import Qt

    records_model, findings_model = page.records.model(), page.findings.model()
    records = []
    for i, (cells, holders) in enumerate(record_rows(page)):
        index = records_model.index(i, 0)
        records.append((cells[0], index.data(Qt.ItemDataRole.UserRole), cells[6],
                        records_model.index(i, 6).data(Qt.ItemDataRole.ForegroundRole)
                        is not None, index.data(Qt.ItemDataRole.FontRole).bold(),
                        [holder[0] for holder in holders]))
    findings = [(cells, findings_model.index(i, 0).data(Qt.ItemDataRole.ForegroundRole)
                 is not None, findings_model.index(i, 4).data(Qt.ItemDataRole.ToolTipRole))
                for i, cells in enumerate(finding_rows(page))]
    return records, findings


def _expected(review) -> tuple[list[object], list[object]]:
    """What the page must list for ``review``, from the review itself."""
    records = []
    for record in review.records:
        found = review.findings_for(record.record_id)
        records.append((record.label, record.record_id, str(len(found)) if found else "—",
                        bool(found), True, [h.name for h in record.holders]))
    order = list(type(review.findings[0].severity)) if review.findings else []
    findings = [([f.severity.value.upper(), f.kind.heading, f.label, f.custodian, f.text],
                 True, f.text)
                for f in sorted(review.findings,
                                key=lambda f: (order.index(f.severity), f.label.casefold()))]
    return records, findings


def test_a_new_review_replaces_the_lists_row_for_row(window, context, qtbot):
    """A new review replaces what was listed: after shrinking and growing, the page lists
    exactly the new review — no row, holder, colour or tooltip left over."""
    from tessera.core.review import Review

    risky_record(context)
    window.show_page(PAGES.index("Review"))
    page = window.review
    qtbot.waitUntil(lambda: page.listing is not None)
    full = gather_review(context.vault)
    first = max(full.records, key=lambda r: len(r.holders))
    others = tuple(f for f in full.findings if f.record_id != first.record_id)[:2]
    # One record, one holder fewer, no finding of its own (its count uncoloured).
    smaller = Review(full.generated_at, (first._replace(holders=first.holders[:1]),),
                     others, ())
    assert len(full.records) > 1 and len(first.holders) > 1 and len(others) == 2
    assert full.findings_for(first.record_id)
    assert _listed(page) == _expected(full)
    for review in (smaller, full, smaller):
        page.show_review(review)
        assert _listed(page) == _expected(review)


def test_a_large_review_lists_records_closed_and_keeps_the_ones_opened(
        window, context, qtbot, monkeypatch):
    """Past EXPAND_UP_TO records the holders start closed (thousands of records would
    otherwise be a wall of holder rows); a record the user opened stays open, and the
    others closed, when a vault change brings a new review — of the same records (cells
    rewritten in place) or with a record more (the list laid out again)."""
    from tessera.core.review import Review
    from tessera.gui import review_page

    risky_record(context)
    window.show_page(PAGES.index("Review"))
    page = window.review
    qtbot.waitUntil(lambda: page.listing is not None)
    view, model = page.records, page.records.model()
    assert model.rowCount() == 2
    assert all(view.isExpanded(model.index(i, 0)) for i in range(2))  # a small vault: open

    monkeypatch.setattr(review_page, "EXPAND_UP_TO", 1)
    full = gather_review(context.vault)
    page.show_review(Review(full.generated_at, full.records[:1], (), ()))
    page.show_review(full)
    assert not any(view.isExpanded(model.index(i, 0)) for i in range(2))
    view.expand(model.index(1, 0))
    opened = model.index(1, 0).data()

    def open_labels() -> set[str]:
        return {model.index(i, 0).data() for i in range(model.rowCount())
                if view.isExpanded(model.index(i, 0))}

    view.setCurrentIndex(model.index(0, 0))
    context.notify_changed()  # the same records: rewritten in place
    qtbot.waitUntil(lambda: context.loader.idle)
    assert open_labels() == {opened}
    assert view.currentIndex().row() == 0 and view.selectionModel().isRowSelected(0)
    vault = context.vault
    ids = [c.id for c in vault.list_custodians()][:2]
    create_record(vault, b"more", label="Another", actor="t", plan=SplitPlan.simple(2, ids),
                  nhi={"system": "AWS"})
    context.notify_changed()  # a record more: laid out again
    qtbot.waitUntil(lambda: context.loader.idle)
    assert model.rowCount() == 3
    assert open_labels() == {opened}


def test_columns_fit_the_text_until_the_user_sizes_one(window, context, qtbot, monkeypatch):
    """Each column is at least as wide as the widest sampled cell (a record's bold label
    and its arrow included), so no label is cut; a column the user sized keeps its width
    when a new review is listed."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QFontMetrics

    risky_record(context)
    window.show_page(PAGES.index("Review"))
    page = window.review
    qtbot.waitUntil(lambda: page.listing is not None)
    header, model = page.records.header(), page.records.model()
    bold = QFontMetrics(page.records_model.bold_font)
    labels = [model.index(i, 0).data() for i in range(model.rowCount())]
    assert header.sectionSize(0) >= max(bold.horizontalAdvance(t) for t in labels) \
        + page.records.indentation()
    details = [model.index(i, 2).data() for i in range(model.rowCount())]
    assert header.sectionSize(2) >= max(page.records.fontMetrics().horizontalAdvance(t)
                                        for t in details)
    page.show()  # laid out on screen: the header resizes its sections itself
    qtbot.waitExposed(page)
    header.resizeSection(0, 40)  # as the view laying itself out does: not the user
    page.show_review(gather_review(context.vault))
    assert header.sectionSize(0) >= max(bold.horizontalAdvance(t) for t in labels)
    from PySide6.QtTest import QTest

    QTest.mousePress(header.viewport(), Qt.MouseButton.LeftButton)
    header.resizeSection(1, 333)  # a drag on the header's edge
    QTest.mouseRelease(header.viewport(), Qt.MouseButton.LeftButton)
    page.show_review(gather_review(context.vault))
    assert header.sectionSize(1) == 333


def test_the_columns_are_measured_again_only_when_their_cells_changed(window, context, qtbot,
                                                                      monkeypatch):
    """After most vault changes the first rows read the same: measuring their text again
    cost 10-30 ms of the window's time at 5,000 records."""
    from tessera.gui import review_page

    window.show_page(PAGES.index("Review"))
    page = window.review
    qtbot.waitUntil(lambda: page.listing is not None)
    measured: list[int] = []
    real = review_page.text_widths
    monkeypatch.setattr(review_page, "text_widths",
                        lambda *a, **k: measured.append(1) or real(*a, **k))
    page.show_review(gather_review(context.vault))
    assert measured == []  # the same cells, the same widths
    risky_record(context)  # a new record among the first rows
    page.show_review(gather_review(context.vault))
    assert measured


def test_a_changed_record_is_rewritten_in_place_and_only_it_is_repainted(window, context,
                                                                         qtbot):
    """The same records with one of them changed: the list shows the new cells, the
    view keeps its layout, and only that record and its holders are said to have
    changed (telling the view that all of thousands did made it walk every one)."""
    from tessera.core.review import Review

    risky_record(context)
    window.show_page(PAGES.index("Review"))
    page = window.review
    qtbot.waitUntil(lambda: page.listing is not None)
    full = gather_review(context.vault)
    changed = full.records[1]._replace(state="released", state_display="released (test)")
    review = Review(full.generated_at, (full.records[0], changed, *full.records[2:]),
                    full.findings, full.drills)
    model = page.records.model()
    told: list[tuple[int, int, int]] = []  # (parent row or -1, first row, last row)
    model.dataChanged.connect(lambda a, b, _roles=(): told.append(
        (a.parent().row(), a.row(), b.row())))
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    page.show_review(review)
    assert _listed(page) == _expected(review)
    assert [cells[2] for cells, _ in record_rows(page)][1] == "released (test)"
    assert not resets
    assert told == [(-1, 1, 1), (1, 0, len(changed.holders) - 1)]
    told.clear()
    page.show_review(review)  # nothing changed: nothing to repaint
    assert told == []


def test_a_page_opened_with_a_mouse_click_fits_its_columns(window, context, qtbot):
    """Found in a real window: a click on the sidebar shows the page while the button is
    down, the page lays itself out, and its columns were taken as sized by the person
    (a resize with the left button down) — never fitted again, every label cut. Only a
    press on the header itself starts a person's sizing."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QFontMetrics
    from PySide6.QtTest import QTest

    risky_record(context)
    sidebar = window.sidebar
    for name in ("Review", "Custodians"):  # each built when first shown
        item = sidebar.visualItemRect(sidebar.item(PAGES.index(name))).center()
        QTest.mousePress(sidebar.viewport(), Qt.MouseButton.LeftButton, pos=item)
        qtbot.wait(100)  # shown and laid out while the button is down
        QTest.mouseRelease(sidebar.viewport(), Qt.MouseButton.LeftButton, pos=item)
    page = window.review
    qtbot.waitUntil(lambda: page.listing is not None and context.loader.idle)
    header, model = page.records.header(), page.records.model()
    bold = QFontMetrics(page.records_model.bold_font)
    labels = [model.index(i, 0).data() for i in range(model.rowCount())]
    assert header.sectionSize(0) >= max(bold.horizontalAdvance(t) for t in labels)
    custodians = window.custodians
    fitter_sized = custodians.table.horizontalHeader().sectionSize(0)
    names = [custodians.proxy.index(r, 0).data() for r in range(custodians.proxy.rowCount())]
    assert names and fitter_sized >= max(custodians.table.fontMetrics().horizontalAdvance(n)
                                         for n in names)
    from tessera.gui.widgets import ColumnFitter

    assert not custodians.table.findChild(ColumnFitter).user_sized

    # A press on the header and a section resized meanwhile: the person's width, kept.
    records_header = page.records.header()
    QTest.mousePress(records_header.viewport(), Qt.MouseButton.LeftButton)
    records_header.resizeSection(1, 333)
    QTest.mouseRelease(records_header.viewport(), Qt.MouseButton.LeftButton)
    page.show_review(gather_review(context.vault))
    assert records_header.sectionSize(1) == 333
    table = custodians.table.horizontalHeader()
    QTest.mousePress(table.viewport(), Qt.MouseButton.LeftButton)
    table.resizeSection(0, 41)
    QTest.mouseRelease(table.viewport(), Qt.MouseButton.LeftButton)
    assert custodians.table.findChild(ColumnFitter).user_sized


def test_the_counts_read_with_thousands_separated(context) -> None:
    # Seen at 5,000 records: "5,000 records · findings: 0 high, 15000 medium, 15000 low".
    import dataclasses

    from tessera.gui.review_models import list_review

    review = gather_review(context.vault)
    assert review.findings
    many = dataclasses.replace(review, findings=tuple(review.findings) * 1200)
    counts = list_review(many).counts
    numbers = [word for word in counts.split() if word[0].isdigit()]
    assert all(n == f"{int(n.replace(',', '')):,}" for n in numbers), counts
    assert any("," in n for n in numbers[1:]), counts
