"""The inventory table models: Qt's model contract, sorting, filtering, and what rows say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt

from tessera.gui.inventory_models import audit_model, custodians_model, records_model, tokens_model
from tessera.gui.rows import audit_summary, custodian_rows, record_rows, token_rows
from tessera.gui.table_model import ROW_ROLE, RowFilterProxy

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


def texts(model, column: int) -> list[str]:
    return [model.index(r, column).data() for r in range(model.rowCount())]


def test_every_model_keeps_the_qt_model_contract(context, qtmodeltester):
    vault = context.vault
    for make, rows in ((records_model, record_rows(vault)),
                       (custodians_model, custodian_rows(vault)),
                       (tokens_model, token_rows(vault)),
                       (audit_model, vault.audit_entries())):
        model = make()
        model.set_rows(rows)
        assert model.rowCount() == len(rows) > 0
        qtmodeltester.check(model, force_py=True)
        proxy = RowFilterProxy()
        proxy.setSourceModel(model)
        qtmodeltester.check(proxy, force_py=True)


def test_record_row_shows_quorum_state_and_due_dates(context):
    [row] = record_rows(context.vault)
    model = records_model()
    model.set_rows([row])
    cells = dict(zip(model.column_titles(), texts_row(model, 0), strict=True))
    assert cells["Label"] == "Demo: CI deploy key"
    assert cells["Quorum"] == "2 of 3"
    assert cells["State"] == "sealed"
    assert cells["System / account"] == "GitHub Actions / deploy-bot"
    assert cells["Version"] == "version 1"
    # the demo record was made without sheets, and the list says so before the dates
    assert cells["Next due"].startswith("no sheets printed · drill ")
    assert row.custodians == ("Alice", "Bob", "Carol")
    # the next drill is due one drill period after creation (90 days by default)
    expected = datetime.now(UTC) + timedelta(days=context.vault.policy.drill_days)
    assert abs((row.next_drill - expected).total_seconds()) < 3600
    assert not row.drill_overdue


def texts_row(model, row: int) -> list[str]:
    return [model.index(row, c).data() for c in range(model.columnCount())]


def test_custodians_and_tokens_name_what_people_hold(context):
    model = custodians_model()
    model.set_rows(custodian_rows(context.vault))
    assert texts(model, 0) == ["Alice", "Bob", "Carol"]
    assert texts(model, 3) == ["Alice's security key", "Bob's YubiKey", "Carol's security key"]
    assert texts(model, 4) == ["1", "1", "1"]
    tokens = tokens_model()
    tokens.set_rows(token_rows(context.vault))
    kinds = dict(zip(texts(tokens, 0), texts(tokens, 2), strict=True))
    assert kinds == {"Alice": "FIDO2 key", "Bob": "YubiKey PIV", "Carol": "FIDO2 key"}
    # the demo's virtual keys are proven by the demo CA (trusted in demo vaults only)
    assert set(texts(tokens, 3)) == {"demo attestation (virtual key)"}
    full = tokens.index(0, 4).data(Qt.ItemDataRole.ToolTipRole)
    shown = tokens.index(0, 4).data()
    assert shown.startswith("age1") and full.endswith(shown)  # the whole public key
    assert "age recipient" in full  # its technical name, in the tooltip


def test_proxy_searches_all_columns_and_sorts_numbers_as_numbers(context):
    model = audit_model()
    model.set_rows(context.vault.audit_entries())
    proxy = RowFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(0, Qt.SortOrder.DescendingOrder)
    seqs = [proxy.index(r, 0).data(ROW_ROLE).seq for r in range(proxy.rowCount())]
    assert seqs == sorted(seqs, reverse=True)
    assert len(seqs) >= 8  # so 8 sorts after 10 would have shown, had it been text
    proxy.set_search("bob enrol")
    shown = [proxy.index(r, 0).data(ROW_ROLE) for r in range(proxy.rowCount())]
    assert [e.action for e in shown] == ["token.enrol"]
    assert "Bob" in audit_summary(shown[0])
    proxy.set_search("")
    proxy.set_predicate(lambda e: e.action.startswith("custodian."))
    assert proxy.rowCount() == 3


def test_audit_summary_leaves_out_ids(context):
    enrol = next(e for e in context.vault.audit_entries() if e.action == "token.enrol")
    summary = audit_summary(enrol)
    assert summary.startswith("Key: Alice's security key, Custodian: Alice")
    assert "security key (FIDO2)" in summary  # the kind in words, not "fido2"
    assert "custodian_id" not in summary and "Custodian id" not in summary
    assert "age1" not in summary  # the public key is a technical detail
