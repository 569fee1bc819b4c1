"""What a person reads on the pages of a vault with thousands of records: counts with
their thousands separated, tooltips that name a few records and say how many more, and
record labels that a narrow column still tells apart."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt

from tessera.core.wording import listed
from tessera.gui.inventory_models import custodians_model
from tessera.gui.main_window import PAGES
from tessera.gui.rows import custodian_rows


def test_listed_names_a_few_and_counts_the_rest() -> None:
    assert listed(["A", "B"]) == "A, B"
    names = [f"Record {n}" for n in range(5000)]
    text = listed(names)
    assert text.startswith("Record 0, Record 1, ") and "Record 9 … and 4,990 more" in text
    assert "Record 10" not in text
    assert listed(names[:10]) == ", ".join(names[:10])


def test_a_custodian_of_thousands_of_records(context) -> None:
    # Seen at 5,000 records: "Shares held" read 5000 and its tooltip listed every one of
    # the 5,000 labels, covering the screen.
    alice = custodian_rows(context.vault)[0]
    assert alice.records  # the demo record
    many = dataclasses.replace(alice, records=tuple(f"Service account {n:05d}"
                                                    for n in range(5000)))
    model = custodians_model()
    model.set_rows([many])
    column = model.column_titles().index("Shares held")
    index = model.index(0, column)
    assert model.data(index, Qt.ItemDataRole.DisplayRole) == "5,000"
    tip = model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert tip.endswith("… and 4,990 more") and len(tip) < 300


def test_record_labels_are_cut_in_the_middle(window) -> None:
    window.show_page(PAGES.index("Records"))
    assert window.records.table.textElideMode() == Qt.TextElideMode.ElideMiddle


def test_retiring_a_key_of_thousands_of_records_still_shows_the_advice(context) -> None:
    # Seen at 5,000 records: the Retire dialog's warning listed every label, and the
    # advice after them (re-wrap first) was cut off below the dialog's edge.
    from tessera.gui.token_state import exposure_text
    from tessera.tokens.base import TokenState

    vault = context.vault
    token = vault.list_tokens()[0]
    record = vault.list_records()[0]
    many = [dataclasses.replace(record, label=f"Service account {n:05d}") for n in range(5000)]
    text = exposure_text(token, TokenState.RETIRED, many)
    assert "share of 5,000 records: Service account 00000, " in text
    assert "… and 4,990 more." in text
    assert "Before retiring, re-wrap the share" in text and len(text) < 700
    one = exposure_text(token, TokenState.LOST, [record])
    assert f"share of 1 record: {record.label}." in one


@pytest.mark.parametrize("wizard_kind", ["drill", "rewrap"])
def test_a_record_is_found_by_typing_part_of_its_name(context, qtbot, wizard_kind) -> None:
    # Seen at 5,000 records: the Re-wrap and Drill wizards chose the record from a list
    # of 5,000 that only scrolling could search.
    from PySide6.QtWidgets import QCompleter

    from tessera.gui.drill_wizard import DrillWizard
    from tessera.gui.rewrap_wizard import RewrapWizard

    record = context.vault.list_records()[0]
    if wizard_kind == "drill":
        wizard = DrillWizard(context)
        page = wizard.choose_page
    else:
        wizard = RewrapWizard(context, None, None)
        page = wizard.whose_page
    qtbot.addWidget(wizard)
    box = page.record_box
    completer = box.completer()
    assert completer.filterMode() == Qt.MatchFlag.MatchContains
    assert completer.caseSensitivity() == Qt.CaseSensitivity.CaseInsensitive
    assert page.record_id == record.id and page.isComplete()
    box.lineEdit().clear()
    qtbot.keyClicks(box.lineEdit(), "ci deploy")  # lower case, from the middle
    assert page.record_id is None and not page.isComplete()  # typed, not yet chosen
    completer.setCompletionPrefix("ci deploy")
    assert completer.completionCount() == 1
    assert completer.currentCompletion() == record.label
    box.lineEdit().setText(record.label)  # what picking it from the list writes
    assert page.record_id == record.id
    qtbot.waitUntil(page.isComplete)
    assert completer.completionMode() == QCompleter.CompletionMode.PopupCompletion


def test_a_name_two_items_share_is_chosen_from_the_list(qtbot) -> None:
    from tessera.gui.widgets import SearchableChoice

    box = SearchableChoice("Record")
    qtbot.addWidget(box)
    for label, data in (("Alpha", "a"), ("Twin", "t1"), ("Twin", "t2")):
        box.addItem(label, data)
    assert box.value() == "a"
    box.lineEdit().setText("twin")  # not a name: typed, not chosen
    assert box.value() is None
    box.lineEdit().setText("Twin")  # two records of that name
    assert box.value() is None
    box.setCurrentIndex(2)
    assert box.value() == "t2"
    box.lineEdit().setText("Alpha")  # a name only one item has
    assert box.value() == "a"
