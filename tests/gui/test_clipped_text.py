"""Text is not clipped: dialogs grow with their messages, tables show names whole."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from tessera.gui.main_window import PAGES
from tessera.gui.prompts import NewPinDialog
from tessera.gui.widgets import share_widths

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


def fully_inside(child: QWidget, top: QWidget) -> bool:
    rect = child.geometry()
    rect.moveTopLeft(child.mapTo(top, child.rect().topLeft()))
    return top.rect().contains(rect) and child.height() >= child.minimumSizeHint().height()


def cut_with_room_left(table) -> list[str]:
    """Columns narrower than their contents while the last column holds empty space."""
    header = table.horizontalHeader()
    last = header.count() - 1
    spare = header.sectionSize(last) - max(table.sizeHintForColumn(last),
                                           header.sectionSizeHint(last))
    title = table.model().headerData
    return [f"{title(c, Qt.Orientation.Horizontal)} cut by "
            f"{table.sizeHintForColumn(c) - header.sectionSize(c)}px, {spare}px spare"
            for c in range(last) if table.sizeHintForColumn(c) > header.sectionSize(c)
            and spare > 8]


def test_choose_a_pin_dialog_grows_when_the_pins_differ(qtbot):
    dialog = NewPinDialog("Dana's security key", "This key has no PIN yet. Choose one of 4 to "
                          "63 characters; you type it each time the key is used.")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.pin_edit.setText("2468")
    dialog.confirm_edit.setText("24")
    assert dialog.mismatch.isVisible()
    for widget in (dialog.mismatch, dialog.buttons, dialog.pin_edit, dialog.confirm_edit):
        assert fully_inside(widget, dialog), widget.objectName() or widget.accessibleName()
    assert dialog.mismatch.height() >= dialog.mismatch.sizeHint().height()
    assert dialog.buttons.height() >= dialog.buttons.sizeHint().height()
    dialog.confirm_edit.setText("2468")  # and shrinks back when they agree
    assert not dialog.mismatch.isVisible()
    assert dialog.height() <= dialog.layout().totalSizeHint().height() + 2


def test_share_widths_trims_only_the_widest_columns():
    assert share_widths([100, 50, 80], 400) == [100, 50, 80]
    assert share_widths([300, 50, 80], 300) == [170, 50, 80]
    assert sum(share_widths([300, 280, 50], 330)) <= 330
    # Floors win over fitting: the table then scrolls sideways.
    assert share_widths([300, 280, 50], 330, [200, 90, 0]) == [200, 90, 40]
    assert share_widths([300, 280, 50], 200, [200, 90, 0]) == [200, 90, 0]


def test_a_long_name_added_later_is_shown_whole_while_there_is_room(window, context, qtbot):
    window.resize(1300, 760)
    window.show_page(PAGES.index("Custodians"))
    long_name = "Dana Kowalska-Lindqvist-Oyelaran"
    context.vault.add_custodian(long_name, "dana@example.org", "Incident commander", "t")
    context.notify_changed()
    table = window.custodians.table
    qtbot.waitUntil(lambda: table.model().rowCount() == 4)
    assert not cut_with_room_left(table)


def test_records_table_uses_its_room_before_cutting_a_label(window, context, qtbot):
    from tessera.core.policy import SplitPlan
    from tessera.custody.create import create_record

    ids = [c.id for c in context.vault.list_custodians()]
    create_record(context.vault, b"s3cret", label="Production AWS root account — break-glass", nhi={},
                  actor="t", plan=SplitPlan.simple(2, ids))
    context.notify_changed()
    window.resize(1360, 760)
    window.show_page(PAGES.index("Records"))
    table = window.records.table
    qtbot.waitUntil(lambda: table.model().rowCount() == 2)
    assert not cut_with_room_left(table)


def cut_lines(tree) -> list[str]:
    """Lines of a short list's cells wider than their column (shown cut, with "…")."""
    margin = 2 * tree.style().pixelMetric(tree.style().PixelMetric.PM_FocusFrameHMargin) + 2
    advance = tree.fontMetrics().horizontalAdvance
    return [f"{line!r} needs {advance(line) + margin}px of {tree.columnWidth(column)}px"
            for row in range(tree.topLevelItemCount()) for column in range(tree.columnCount())
            for line in tree.topLevelItem(row).text(column).splitlines()
            if advance(line) + margin > tree.columnWidth(column)]


def test_a_records_custodians_and_sheets_are_read_whole_in_the_detail_pane(
        window, context, qtbot):
    """At 1366×768, with the demo's virtual keys beside it, the detail pane is ~300 px
    wide: each holder's share, token, last drill and envelope, and each sheet's serial,
    envelope and state, must still be read whole."""
    from tessera.sheets.model import new_serial
    from tessera.vault.sheet_registry import SheetRegistry

    vault = context.vault
    record = vault.list_records()[0]
    data = vault.get_version(record.id)
    registry = SheetRegistry(vault)
    for n, entry in enumerate(data.manifest.shares):
        serial = new_serial()
        registry.record_printed(serial, record.id, data.version, entry.key, actor="t")
        registry.mark_sealed(serial, envelope_no=f"TE-2026-00012{n}", sealed_by="Alice Smith",
                             witness="Bob Jones", actor="t")
        registry.mark_confirmed(serial, how="scanned", actor="t")
    context.notify_changed()
    window.resize(1366, 740)
    window.show_page(PAGES.index("Records"))
    detail = window.records.detail
    tree = detail.holders
    qtbot.waitUntil(lambda: tree.topLevelItemCount() == 3 and detail.sheets.topLevelItemCount() == 3)
    qtbot.waitUntil(lambda: tree.isVisible())
    assert cut_lines(tree) == []
    assert cut_lines(detail.sheets) == []
    shown = " ".join(tree.topLevelItem(row).text(column) for row in range(3)
                     for column in range(tree.columnCount()))
    for fact in ("Alice", "Alice's security key", "post-quantum", "Share 1"):
        assert fact in shown
    rows = sum(tree.visualItemRect(tree.topLevelItem(row)).height() for row in range(3))
    assert tree.viewport().height() >= rows  # every line of every holder, none hidden
