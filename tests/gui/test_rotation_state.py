"""Rotation state reads the same in the records table, the detail pane and the review."""

from __future__ import annotations

import pytest

from tessera.gui.main_window import PAGES
from tessera.vault import RecordState

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


def review_rotation_cell(window, label: str) -> str:
    window.show_page(PAGES.index("Review"))
    model = window.review.records.model()
    for i in range(model.rowCount()):
        if model.index(i, 0).data() == label:
            return model.index(i, 4).data()
    raise AssertionError(f"{label} not in the review")


@pytest.mark.parametrize(("state", "words"), [(RecordState.ROTATION_REQUIRED, "required since"),
                                              (RecordState.RELEASED, "released")])
def test_a_record_to_rotate_now_says_now_everywhere(window, context, qtbot, state, words):
    record = context.vault.list_records()[0]
    context.vault.set_record_state(record.id, state, "Bob revoked", "t")
    context.notify_changed()
    today = context.vault.get_record(record.id).state_since[:10]

    window.show_page(PAGES.index("Records"))
    window.records.select_where(lambda r: r.record.id == record.id)
    detail = window.records.detail
    assert detail.rotation.text() == f"now ({words} {today})"
    assert "rotate now" in window.records.selected_row().next_due_text

    cell = review_rotation_cell(window, record.label)
    assert cell == f"now ({words} {today})"
    # The finding beside it names the same date; no future "due" date contradicts it.
    texts = [cells[4] for cells, _severity, kind in window.review.listing.findings
             if kind == "rotation_due" and cells[2] == record.label]
    assert texts and today in texts[0]
    assert "2027" not in cell and "2027" not in detail.rotation.text()


def test_a_sealed_record_shows_one_due_date_everywhere(window, context):
    record = context.vault.list_records()[0]
    window.records.select_where(lambda r: r.record.id == record.id)
    row = window.records.selected_row()
    detail_date = window.records.detail.rotation.text()
    assert detail_date == row.rotation_text
    assert f"rotate {detail_date}" in row.next_due_text
    assert review_rotation_cell(window, record.label) == detail_date
