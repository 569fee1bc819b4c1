"""The main window as a person uses it: pages, details, audit, demo extras, errors."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from PySide6.QtCore import QSettings, Qt

from tessera.core.errors import PinInvalid, PolicyError, UserCancelled
from tessera.custody.enroll import ConnectedDevice
from tessera.gui import audit_page
from tessera.gui.errors import scrubbed_report, show_error
from tessera.gui.main_window import PAGES, MainWindow
from tessera.tokens.base import TokenKind

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


def test_sidebar_and_shortcuts_switch_pages(window, qtbot):
    assert [window.sidebar.item(i).text() for i in range(window.sidebar.count())] == list(PAGES)
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.tokens
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.audit
    window.sidebar.setFocus()
    qtbot.keyClick(window.sidebar, Qt.Key.Key_Home)
    assert window.stack.currentWidget() is window.records


def test_records_page_shows_the_selected_record(window, qtbot):
    page = window.records
    assert page.count.text() == "1 in this vault"
    detail = page.detail
    assert detail.title.text() == "Demo: CI deploy key"
    assert detail.fingerprint.text().startswith("TSR-")
    assert "any 2 of 3" in detail.quorum.text()
    holders = [detail.holders.topLevelItem(i).text(0)
               for i in range(detail.holders.topLevelItemCount())]
    assert holders == ["Alice", "Bob", "Carol"]
    history = [detail.history.topLevelItem(i).text(1)
               for i in range(detail.history.topLevelItemCount())]
    assert history == ["Version 1 sealed"]
    qtbot.keyClicks(page.search, "no such thing")
    assert page.count.text() == "0 of 1 shown"
    page.search.clear()
    page.state_filter.setCurrentIndex(page.state_filter.findData("released"))
    assert page.proxy.rowCount() == 0
    page.state_filter.setCurrentIndex(0)
    assert page.proxy.rowCount() == 1


def test_views_follow_vault_changes(window, context):
    context.vault.add_custodian("Dana", contact="dana@example.invalid", role="Auditor",
                                actor="test")
    context.notify_changed()
    names = [window.custodians.proxy.index(r, 0).data()
             for r in range(window.custodians.proxy.rowCount())]
    assert "Dana" in names
    actions = [window.audit.model.row_at(r).action for r in range(window.audit.model.rowCount())]
    assert actions.count("custodian.add") == 4


def test_verify_chain_reports_intact_then_names_the_first_bad_entry(window, context, qtbot):
    window.show_page(PAGES.index("Audit"))
    qtbot.mouseClick(window.audit.verify_button, Qt.MouseButton.LeftButton)
    assert window.audit.verdict.text().startswith("✓ Chain intact")
    with sqlite3.connect(context.vault_path) as conn:  # someone edits the file directly
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 3")
    context.notify_changed()
    qtbot.mouseClick(window.audit.verify_button, Qt.MouseButton.LeftButton)
    assert window.audit.verdict.text().startswith("✗ Chain broken at entry 3")
    assert window.audit.selected_row().seq == 3


def test_audit_filters_and_export(window, monkeypatch, tmp_path, qtbot):
    page = window.audit
    page.action_filter.setCurrentIndex(page.action_filter.findData("token."))
    shown = {page.proxy.row_at(r).action for r in range(page.proxy.rowCount())}
    assert shown == {"token.enrol"}
    target = tmp_path / "audit.jsonl"
    monkeypatch.setattr(audit_page, "ask_export_path", lambda _parent: (target, "jsonl"))
    window.show_page(PAGES.index("Audit"))
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert str(target) in page.verdict.text()


def test_demo_banner_and_touch_button_light_up_while_a_key_waits(window, context, qtbot):
    assert window.banner is not None and window.banner.isVisible()
    assert "DEMO" in window.banner.text()
    key = context.virtual.keys[0]
    key.touch.set_mode("manual")
    row = window.keys_panel.rows[key.name]
    assert "Plugged in" in row.state.text()
    touched = []
    waiter = threading.Thread(target=lambda: touched.append(key.touch.wait(10)))
    waiter.start()
    qtbot.waitUntil(lambda: "waiting for your touch" in row.state.text())
    qtbot.mouseClick(row.touch, Qt.MouseButton.LeftButton)
    waiter.join(5)
    assert touched == [True]
    qtbot.waitUntil(lambda: row.state.text() == "Plugged in")


def test_pulling_out_a_virtual_key_and_the_status_bar(window, context, qtbot):
    key = context.virtual.keys[0]
    row = window.keys_panel.rows[key.name]
    qtbot.mouseClick(row.plug, Qt.MouseButton.LeftButton)
    assert not key.present and row.state.text() == "Pulled out"
    assert not row.touch.isEnabled()
    window.show_devices([ConnectedDevice(TokenKind.PIV, "virtual YubiKey 31000001", "1", True)])
    assert window.devices_label.text() == "1 key: virtual YubiKey 31000001"
    window.show_devices([])
    assert window.devices_label.text() == "No keys plugged in"


def test_device_poller_reports_keys_off_the_gui_thread(window, context, qtbot):
    seen = []
    window.poller._interval = 600  # only a look on demand can report within the test
    window.poller.devices_changed.connect(seen.append)
    with qtbot.waitSignal(window.poller.devices_changed, timeout=5000):
        window.poller.start()
    assert len(seen[0]) == len(context.virtual.keys) == 3
    assert "3 keys" in window.devices_label.text()
    row = window.keys_panel.rows[context.virtual.keys[1].name]
    with qtbot.waitSignal(window.poller.devices_changed, timeout=5000):
        qtbot.mouseClick(row.plug, Qt.MouseButton.LeftButton)  # pulled out: looked at once
    assert "2 keys" in window.devices_label.text()


def test_window_state_is_kept_in_settings(context, settings, qtbot):
    first = MainWindow(context, settings=settings, poll_devices=False)
    qtbot.addWidget(first)
    first.show_page(2)
    first.close()
    again = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    second = MainWindow(context, settings=again, poll_devices=False)
    qtbot.addWidget(second)
    assert second.stack.currentIndex() == 2
    keys = again.allKeys()
    assert set(keys) <= {"window/geometry", "window/state", "records/splitter", "window/page",
                         "ui/theme"}


def test_every_action_has_a_name_and_widgets_have_accessible_names(window):
    for action in window.actions_.values():
        assert action.text()
    for key in ("enrol", "new-record", "release", "drill", "verify", "refresh", "quit"):
        assert not window.actions_[key].shortcut().isEmpty(), key
    for widget in (window.sidebar, window.records.table, window.records.search,
                   window.audit.verify_button, window.devices_label, window.keys_panel):
        assert widget.accessibleName() or widget.text()


def test_error_handler_words_errors_for_a_person(shown_errors, qtbot):
    show_error(None, UserCancelled())
    assert shown_errors.messages == [] and shown_errors.reports == []
    show_error(None, PinInvalid(2))
    show_error(None, PolicyError("the threshold must be at least 2"))
    assert shown_errors.messages == [("Wrong PIN", "Wrong PIN — 2 attempts left."),
                                     ("Not allowed by policy",
                                      "The threshold must be at least 2.")]
    show_error(None, ValueError("share words: abandon ability"))
    assert len(shown_errors.reports) == 1


def test_the_report_of_an_unexpected_error_holds_no_message_or_locals():
    def parse(words: str) -> None:
        pin = "123456"  # a local that must not appear
        raise ValueError(f"bad words {words} {pin}")

    try:
        parse("academic acid acne")
    except ValueError as exc:
        report = scrubbed_report(exc)
    assert "builtins.ValueError" in report
    assert "in parse" in report
    assert "academic" not in report and "123456" not in report


def test_release_and_drill_open_from_the_detail_pane(window, qtbot):
    from tessera.gui.drill_wizard import DrillWizard
    from tessera.gui.release_window import ReleaseWindow

    detail = window.records.detail
    qtbot.mouseClick(detail.release_button, Qt.MouseButton.LeftButton)
    releases = [w for w in window.open_windows if isinstance(w, ReleaseWindow)]
    assert len(releases) == 1 and releases[0].isVisible()
    qtbot.mouseClick(detail.drill_button, Qt.MouseButton.LeftButton)
    drills = [w for w in window.open_windows if isinstance(w, DrillWizard)]
    assert len(drills) == 1 and drills[0].isVisible()
    for w in (*releases, *drills):
        w.close()


def test_detail_pane_lists_sheets_and_envelopes(window, context):
    from tessera.vault.sheet_registry import SheetRegistry

    detail = window.records.detail
    assert detail.no_sheets.isVisibleTo(detail) and not detail.sheets.isVisibleTo(detail)
    record = context.vault.get_record("Demo: CI deploy key")
    registry = SheetRegistry(context.vault)
    registry.record_printed("SH-AAAA-BBBB", record.id, 1, "g0m0", actor="test")
    registry.mark_sealed("SH-AAAA-BBBB", envelope_no="TE-77", sealed_by="Ann", witness="Ben",
                         actor="test")
    context.notify_changed()
    item = detail.sheets.topLevelItem(0)
    assert [item.text(c) for c in range(2)] == ["Alice", "SH-AAAA-BBBB\nEnvelope TE-77\nSealed"]
    assert detail.sheets.isVisibleTo(detail)


def test_dark_theme_is_applied_remembered_and_icons_follow(window, settings, qtbot):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from tessera.gui.theme import Theme, apply_theme

    light_icon = window.audit.verify_button.icon().pixmap(20, 20).toImage()
    try:
        window.actions_["theme-dark"].trigger()
        palette = QApplication.palette()
        assert palette.color(QPalette.ColorRole.Window).lightness() < 80
        assert palette.color(QPalette.ColorRole.WindowText).lightness() > 180
        assert settings.value("ui/theme") == "dark"
        dark_icon = window.audit.verify_button.icon().pixmap(20, 20).toImage()
        assert dark_icon != light_icon  # re-tinted to read on the dark palette
    finally:
        apply_theme(QApplication.instance(), Theme.LIGHT)


def test_enter_on_a_custodian_opens_add_key_for_them(window, qtbot):
    from tessera.gui.enrol_wizard import EnrolWizard

    window.show_page(PAGES.index("Custodians"))
    table = window.custodians.table
    table.setFocus()
    table.selectRow(1)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    [wizard] = [w for w in window.open_windows if isinstance(w, EnrolWizard)]
    assert wizard.person_page.old.isChecked()
    assert wizard.person_page.people.currentText() == "Bob"
    wizard.close()


def test_verify_names_a_table_edit_and_shows_the_genesis_once_signed(window, context, qtbot):
    from tessera.custody.signing import adopt
    from tessera.tokens.base import TokenState

    window.show_page(PAGES.index("Audit"))
    qtbot.mouseClick(window.audit.verify_button, Qt.MouseButton.LeftButton)
    assert "Not signed yet" in window.audit.verdict.text()
    with sqlite3.connect(context.vault_path) as conn:  # someone edits a custodian directly
        conn.execute("UPDATE custodians SET role = 'planted' WHERE name = 'Bob'")
    context.notify_changed()
    qtbot.mouseClick(window.audit.verify_button, Qt.MouseButton.LeftButton)
    text = window.audit.verdict.text()
    assert text.startswith("✗ The vault does not match its signed log")
    assert "custodians row" in text and "role" in text  # the attack above: a role edit
    with sqlite3.connect(context.vault_path) as conn:
        conn.execute("UPDATE custodians SET role = 'Security engineer' WHERE name = 'Bob'")
    tokens = [t.id for t in context.vault.list_tokens() if t.state is TokenState.ACTIVE]
    from tessera.custody.demo import DemoPrompts

    done = adopt(context.vault, context.drivers, tokens, DemoPrompts(), actor="test")
    context.notify_changed()
    qtbot.mouseClick(window.audit.verify_button, Qt.MouseButton.LeftButton)
    assert done.fingerprint[:4] in window.audit.verdict.text()


def test_a_tampered_vault_is_not_opened(demo_vault_path, tmp_path):
    import pytest

    from tessera.custody.signing import StateNotVerified
    from tessera.gui.context import AppContext

    with sqlite3.connect(demo_vault_path) as conn:
        conn.execute("UPDATE records SET owner = 'mallory'")
    with pytest.raises(StateNotVerified, match=r"records row .* column owner"):
        AppContext.open(demo_vault_path, touch="immediate")
