"""The organisation on the sheets, set from the GUI: audited, checked, and on new sheets
(which say DEMO when the vault is a demo vault)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from tessera.core.policy import SplitPlan
from tessera.custody.create import create_record
from tessera.custody.sheets import WordsKeeper, sheets_at_creation
from tessera.gui.organisation_dialog import OrganisationDialog

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


def open_dialog(window, qtbot) -> OrganisationDialog:
    window.actions_["organisation"].trigger()
    qtbot.waitUntil(lambda: any(isinstance(w, OrganisationDialog) and w.isVisible()
                                for w in QApplication.topLevelWidgets()))
    return next(w for w in QApplication.topLevelWidgets()
                if isinstance(w, OrganisationDialog) and w.isVisible())


def test_set_from_the_audit_menu_is_audited_and_printed_on_new_sheets(window, context, qtbot):
    dialog = open_dialog(window, qtbot)
    qtbot.keyClicks(dialog.name, "Example Corp")
    qtbot.keyClicks(dialog.contact, "Dana +44 20 7946 0001")
    qtbot.keyClicks(dialog.url, "https://wiki.example.org/tessera")
    assert dialog.save() is not None
    org = context.vault.organisation
    assert (org.name, org.contact, org.instructions_url) == (
        "Example Corp", "Dana +44 20 7946 0001", "https://wiki.example.org/tessera")
    entry = context.vault.audit_entries()[-1]
    assert entry.action == "vault.organisation" and entry.actor == context.actor

    keeper = WordsKeeper()
    ids = [c.id for c in context.vault.list_custodians()]
    created = create_record(context.vault, b"s3cret", label="New", actor="t", nhi={},
                            plan=SplitPlan.simple(2, ids), on_mnemonics=keeper.collect)
    sheets = sheets_at_creation(context.vault, created.sealed, keeper.words)
    assert all(s.organisation == org and s.demo for s in sheets)  # a demo vault's sheets


def test_a_bad_url_is_named_and_nothing_changes(window, context, qtbot, shown_errors):
    dialog = open_dialog(window, qtbot)
    qtbot.keyClicks(dialog.url, "wiki.example.org")
    before = len(context.vault.audit_entries())
    assert dialog.save() is None
    assert dialog.isVisible()  # the person can correct it
    assert "https://" in str(shown_errors.reports[-1] if shown_errors.reports
                             else shown_errors.messages[-1])
    assert not context.vault.organisation.is_set
    assert len(context.vault.audit_entries()) == before
    dialog.reject()
