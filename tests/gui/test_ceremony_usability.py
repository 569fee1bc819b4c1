"""What a custodian trips over on a laptop: window sizes, focus, lost words, waiting keys.

Each test drives the widgets the way a person would (keyboard first) and checks what
they would notice.
"""

from __future__ import annotations

import pytest
import shiboken6
from PySide6.QtCore import QByteArray, QRect, Qt
from PySide6.QtWidgets import QApplication, QLabel

from tessera.gui import main_window
from tessera.gui.main_window import MainWindow

LAPTOP = QRect(0, 0, 1366, 768 - 32)  # a 1366×768 screen less a taskbar


@pytest.fixture
def laptop(monkeypatch):
    """The screen's free area is a laptop's (the offscreen screen is fixed at 800×800)."""
    monkeypatch.setattr(main_window, "available_room", lambda _w: QRect(LAPTOP))
    return LAPTOP


def inside(room: QRect, widget) -> bool:
    return room.contains(widget.frameGeometry())


@pytest.mark.parametrize("room", [QRect(0, 0, 1366, 736), QRect(0, 0, 1280, 1024)])
def test_main_window_fits_the_screen_it_opens_on(context, settings, qtbot, monkeypatch, room):
    monkeypatch.setattr(main_window, "available_room", lambda _w: QRect(room))
    window = MainWindow(context, settings=settings, poll_devices=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert inside(room, window), (window.frameGeometry(), room)
    # the keys panel and the status bar are on screen, not past its right or bottom edge
    dock = window.keys_dock
    assert dock is not None and dock.isVisible()
    right = dock.mapTo(window, dock.rect().bottomRight()).x() + window.geometry().x()
    assert right <= room.right()
    bar = window.statusBar()
    bottom = bar.mapTo(window, bar.rect().bottomLeft()).y() + window.geometry().y()
    assert bar.isVisible() and bottom <= room.bottom()
    banner = window.banner  # the DEMO line is whole, on one line
    assert banner is not None and banner.isVisible()
    assert banner.width() >= banner.sizeHint().width()
    assert banner.height() < 2 * banner.sizeHint().height()
    window.close()


def test_a_size_saved_on_a_bigger_screen_is_fitted_to_this_one(context, settings, qtbot,
                                                                laptop):
    first = MainWindow(context, settings=settings, poll_devices=False)
    qtbot.addWidget(first)
    first.show()
    first.setGeometry(0, 0, 2400, 1300)  # as if saved on a 2560×1440 monitor
    first.close()
    saved = settings.value("window/geometry")
    assert isinstance(saved, QByteArray)
    second = MainWindow(context, settings=settings, poll_devices=False)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    assert inside(laptop, second)
    second.close()


def test_the_users_own_size_is_remembered(context, settings, qtbot, laptop):
    first = MainWindow(context, settings=settings, poll_devices=False)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.resize(1100, 600)
    first.close()
    second = MainWindow(context, settings=settings, poll_devices=False)
    qtbot.addWidget(second)
    second.show()
    # (Qt clamps a restored width to the real offscreen screen, 800 wide; the height
    # shows the person's size was kept rather than refitted.)
    assert second.height() == 600
    second.close()


# -- 1. demo enrolment: the new virtual key gets its Touch button at once ----------------

def test_a_new_demo_custodians_key_can_be_touched_during_enrolment(window, context, qtbot,
                                                                   monkeypatch):
    from tessera.custody.demo import DEMO_PIN
    from tessera.gui.enrol_wizard import PAGE_RESULT, EnrolWizard
    from tessera.gui.prompts import NewPinDialog, PinDialog

    context.virtual.set_touch_mode("manual")  # a person presses Touch, as in the demo
    for dialog in (PinDialog, NewPinDialog):
        monkeypatch.setattr(dialog, "ask", lambda _p, _t, _x, done: done(DEMO_PIN))
    wizard = EnrolWizard(context, window)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.keyClicks(wizard.person_page.name, "Dana")
    wizard.next()
    wizard.next()
    qtbot.mouseClick(wizard.enrol_page.start, Qt.MouseButton.LeftButton)
    name = "Dana's security key"
    panel = window.keys_panel
    qtbot.waitUntil(lambda: name in panel.rows, timeout=20000)  # before any touch is asked
    touches = 0
    while wizard.currentId() != PAGE_RESULT and touches < 6:  # credential, then recipient
        qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT
                        or "waiting for your touch" in panel.rows[name].state.text(),
                        timeout=20000)
        if wizard.currentId() != PAGE_RESULT:
            qtbot.mouseClick(panel.rows[name].touch, Qt.MouseButton.LeftButton)
            touches += 1
            qtbot.wait(100)
    assert touches >= 2  # (manual keys: nothing completes without the Touch button)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=20000)
    assert wizard.token is not None and wizard.token.custodian_name == "Dana"
    # "A PIN is now set" is said on the result page, not left behind in a box
    assert "A PIN is now set" in wizard.result_page.summary.text()
    assert not any(b.isVisible() for b in QApplication.topLevelWidgets()
                   if b.objectName() == "tokenNotice")


def test_cancelled_enrolment_leaves_no_stray_pin_notice(window, context, qtbot, monkeypatch,
                                                       shown_errors):
    from tessera.custody.demo import DEMO_PIN
    from tessera.gui.enrol_wizard import EnrolWizard
    from tessera.gui.prompts import NewPinDialog, PinDialog

    context.virtual.set_touch_mode("manual")
    for dialog in (PinDialog, NewPinDialog):
        monkeypatch.setattr(dialog, "ask", lambda _p, _t, _x, done: done(DEMO_PIN))
    wizard = EnrolWizard(context, window)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.keyClicks(wizard.person_page.name, "Dana")
    wizard.next()
    wizard.next()
    page = wizard.enrol_page
    qtbot.mouseClick(page.start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.job is not None and page.job.prompts.touch_prompt is not None,
                    timeout=20000)
    notices = list(page.job.prompts.notices)
    assert any("PIN is now set" in box.text() for box in notices)
    qtbot.mouseClick(page.job.prompts.touch_prompt.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.running, timeout=20000)
    assert not any(shiboken6.isValid(b) and b.isVisible() for b in notices)
    assert shown_errors.messages == []  # a cancel is nobody's error: no "No touch detected"
    assert "not enrolled" in page.status.text()


# -- 4. ceremony windows belong to the main window and open clear of the Touch buttons ---

@pytest.mark.parametrize("action", ["release", "revoke", "reshare", "drill"])
def test_ceremony_windows_are_parented_placed_and_clear_of_the_keys(window, context, qtbot,
                                                                    laptop, action):
    from tessera.custody.demo import DEMO_RECORD

    window.setGeometry(QRect(laptop.left(), laptop.top() + 30, laptop.width(),
                             laptop.height() - 30))
    record_id = context.vault.get_record(DEMO_RECORD).id
    window.records.select_record(record_id)
    before = set(window.open_windows)
    if action in ("release", "drill"):
        window.actions_[action].trigger()
    else:
        window.open_lifecycle(action, record_id)
    opened = [w for w in window.open_windows if w not in before][-1]
    qtbot.waitExposed(opened)
    # a child of the main window, so the window manager keeps it in front of it
    assert opened.parentWidget() is window and opened.isWindow()
    assert opened.windowHandle().transientParent() is window.windowHandle()
    frame = opened.frameGeometry()
    assert laptop.contains(frame), (frame, laptop)
    assert frame.topLeft() != laptop.topLeft()  # not flung into the screen's corner
    dock = window.keys_dock
    dock_rect = QRect(dock.mapToGlobal(dock.rect().topLeft()), dock.size())
    assert not frame.intersects(dock_rect), (frame, dock_rect)
    opened.close()


# -- 6. focus goes to the next sensible action ----------------------------------------------

def test_after_an_approval_or_a_wrong_pin_focus_is_on_a_custodian_not_on_abort(
        window, context, qtbot, monkeypatch):
    from tessera.custody.demo import DEMO_PIN, DEMO_RECORD
    from tessera.gui.prompts import PinDialog
    from tessera.gui.release_window import ReleaseWindow

    monkeypatch.setattr(ReleaseWindow, "confirm_abort", staticmethod(lambda _p: True))
    answers = iter(["000000", DEMO_PIN])  # a slip of the finger, then the right PIN
    monkeypatch.setattr(PinDialog, "ask", lambda _p, _t, _a, done: done(next(answers)))
    window.records.select_record(context.vault.get_record(DEMO_RECORD).id)
    window.actions_["release"].trigger()
    release = [w for w in window.open_windows if isinstance(w, ReleaseWindow)][-1]
    qtbot.waitExposed(release)
    release.activateWindow()
    qtbot.keyClicks(release.reason_edit, "deploy key lost")
    qtbot.keyClicks(release.ticket_edit, "INC-7")
    qtbot.keyClick(release.ticket_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: release.pages.currentIndex() == 1, timeout=5000)
    rows = list(release.rows.values())
    assert release.focusWidget() is rows[0].key_button  # the first custodian's turn
    qtbot.keyClick(rows[0].key_button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: rows[0].approvals == 1 or rows[0].state.value == "failed",
                    timeout=20000)
    qtbot.waitUntil(lambda: release.job is None, timeout=20000)
    assert release.focusWidget() is not release.close_button
    assert rows[0].approvals == 1  # the wrong PIN was asked again in place, then approved
    assert release.focusWidget() is rows[1].key_button
    assert not release.close_button.autoDefault()


def test_the_first_pages_open_with_the_cursor_where_you_type(window, context, qtbot):
    from tessera.gui.create_wizard import PAGE_SECRET, CreateRecordWizard
    from tessera.gui.enrol_wizard import EnrolWizard

    enrol = EnrolWizard(context, window)
    qtbot.addWidget(enrol)
    enrol.show()
    qtbot.waitExposed(enrol)
    qtbot.waitUntil(lambda: enrol.focusWidget() is enrol.person_page.name)
    enrol.close()
    create = CreateRecordWizard(context, window)
    qtbot.addWidget(create)
    create.show()
    create.setStartId(PAGE_SECRET)
    create.restart()
    qtbot.waitUntil(lambda: create.focusWidget() is create.secret_page.typed)
    create.close()


def test_the_drill_cannot_be_finished_before_it_ran(window, context, qtbot):
    from PySide6.QtWidgets import QWizard

    from tessera.custody.demo import DEMO_RECORD
    from tessera.gui.drill_wizard import DrillWizard

    wizard = DrillWizard(context, context.vault.get_record(DEMO_RECORD).id, parent=window)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    assert not finish.isEnabled()
    qtbot.waitUntil(lambda: wizard.focusWidget() is wizard.run_page.start_button)


def test_the_view_menu_access_keys_are_unique(window):
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    keys = []
    for action in view.actions():
        text = action.text()
        if "&" in text:
            keys.append(text[text.index("&") + 1].lower())
    assert len(keys) == len(set(keys)), keys


# -- 8. a wrong PIN is asked again in place, in enrolment as in a release ----------------------

def test_a_wrong_pin_while_testing_a_new_key_asks_again_in_place(window, context, qtbot,
                                                                 monkeypatch, shown_errors):
    from tessera.custody.demo import DEMO_PIN
    from tessera.gui.enrol_wizard import PAGE_RESULT, EnrolWizard
    from tessera.gui.prompts import NewPinDialog, PinDialog

    monkeypatch.setattr(NewPinDialog, "ask", lambda _p, _t, _r, done: done(DEMO_PIN))
    asked: list[int | None] = []
    answers = iter(["000000", DEMO_PIN])  # (enrolment used the PIN just set) a slip, right

    def ask(_parent, _token, attempts_left, done):
        asked.append(attempts_left)
        done(next(answers))

    monkeypatch.setattr(PinDialog, "ask", ask)
    wizard = EnrolWizard(context, window)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.keyClicks(wizard.person_page.name, "Dana")
    wizard.next()
    wizard.next()
    qtbot.mouseClick(wizard.enrol_page.start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=20000)
    result = wizard.result_page
    qtbot.mouseClick(result.test, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.test_outcome is not None, timeout=20000)
    assert result.test_result.text().startswith("✓")
    assert shown_errors.messages == []  # no "Wrong PIN" box, no "Try again"
    assert len(asked) == 2 and asked[0] is None and isinstance(asked[1], int)


# -- 7 and "key prompts that wait for the key" ----------------------------------------------

def insert_prompts():
    from PySide6.QtWidgets import QApplication

    from tessera.gui.key_prompts import InsertKeyPrompt

    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, InsertKeyPrompt) and w.isVisible()]


@pytest.mark.parametrize("name", ["Carol", "Bob"])  # a FIDO2 key and a YubiKey (PIV)
def test_a_drill_with_the_key_pulled_out_asks_for_it_and_carries_on(window, context, qtbot,
                                                                    monkeypatch, name):
    from tessera.custody.demo import DEMO_PIN, DEMO_RECORD
    from tessera.gui.drill_wizard import DrillWizard
    from tessera.gui.prompts import PinDialog

    monkeypatch.setattr(PinDialog, "ask", lambda _p, _t, _a, done: done(DEMO_PIN))
    token = next(t for t in context.vault.list_tokens() if t.custodian_name == name)
    row = window.keys_panel.rows[token.label]
    qtbot.mouseClick(row.plug, Qt.MouseButton.LeftButton)  # pulled out
    wizard = DrillWizard(context, context.vault.get_record(DEMO_RECORD).id, token.id,
                         parent=window)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    run = wizard.run_page
    qtbot.mouseClick(run.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(insert_prompts()), timeout=5000)
    prompt = insert_prompts()[0]
    assert prompt.findChild(QLabel, "insertKeyTitle").text() == f"Insert {token.label}"
    assert run.state.text() == "Plug in your key…"
    assert "not " + name not in run.state.text()  # never "This is not Carol's key"
    qtbot.mouseClick(row.plug, Qt.MouseButton.LeftButton)  # plugged in again
    qtbot.waitUntil(lambda: run.result is not None, timeout=20000)
    assert run.state.text().startswith("✓") and not insert_prompts()


def test_cancelling_the_wait_for_a_key_is_a_cancel_not_an_error(window, context, qtbot,
                                                                shown_errors):
    from tessera.custody.demo import DEMO_RECORD
    from tessera.gui.drill_wizard import DrillWizard

    token = next(t for t in context.vault.list_tokens() if t.custodian_name == "Carol")
    next(k for k in context.virtual.keys if k.name == token.label).pull_out()
    wizard = DrillWizard(context, context.vault.get_record(DEMO_RECORD).id, token.id,
                         parent=window)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    qtbot.mouseClick(wizard.run_page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(insert_prompts()), timeout=5000)
    qtbot.mouseClick(insert_prompts()[0].cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.run_page.job is None, timeout=5000)
    assert wizard.run_page.state.text() == "Cancelled."
    assert shown_errors.messages == [] and not insert_prompts()
    assert context.vault.list_drills(context.vault.get_record(DEMO_RECORD).id) == []


def test_a_touch_timeout_racing_a_cancel_is_reported_as_the_cancel(qtbot, context):
    from tessera.core.errors import TouchTimeout, UserCancelled

    failures: list[BaseException] = []

    def fn(_prompts, cancel):
        cancel.set()  # the person pressed Cancel…
        raise TouchTimeout()  # …just as the key gave up waiting

    context.worker.submit(fn, on_success=lambda _v: None, on_failure=failures.append)
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    assert isinstance(failures[0], UserCancelled)


def test_the_touch_prompt_shows_a_blinking_key(qtbot):
    from tessera.gui.key_prompts import BlinkingKey
    from tessera.gui.prompts import TouchPrompt

    prompt = TouchPrompt("Carol's security key", lambda: None)
    qtbot.addWidget(prompt)
    prompt.show()
    key = prompt.findChild(BlinkingKey)
    assert key is not None and key.isVisible()
    lit = key.lit
    qtbot.waitUntil(lambda: key.lit != lit, timeout=2000)  # it blinks


def test_pressing_touch_brings_the_ceremony_back_in_front(window, context, qtbot,
                                                          monkeypatch):
    from tessera.custody.demo import DEMO_RECORD
    from tessera.gui.release_window import ReleaseWindow

    window.records.select_record(context.vault.get_record(DEMO_RECORD).id)
    window.actions_["release"].trigger()
    release = [w for w in window.open_windows if isinstance(w, ReleaseWindow)][-1]
    # a dialog-type child: window managers keep it above the main window
    assert release.windowType() == Qt.WindowType.Dialog
    raised: list[object] = []
    monkeypatch.setattr(release, "raise_", lambda: raised.append("raised"))
    monkeypatch.setattr(release, "activateWindow", lambda: raised.append("activated"))
    row = next(iter(window.keys_panel.rows.values()))
    qtbot.mouseClick(row.touch, Qt.MouseButton.LeftButton)
    assert raised == ["raised", "activated"]  # in front, and the keyboard goes back to it


def test_a_blinking_key_does_not_move_the_touch_buttons(window, context, qtbot):
    panel = window.keys_panel
    row = next(iter(panel.rows.values()))
    before = (panel.sizeHint().width(), row.touch.mapTo(panel, row.touch.rect().topLeft()))
    row.show_waiting(True)
    qtbot.wait(50)
    after = (panel.sizeHint().width(), row.touch.mapTo(panel, row.touch.rect().topLeft()))
    assert "Blinking" in row.state.text()
    # the panel keeps its width; the button stays put (the highlight border is 1 px thicker)
    assert after[0] <= before[0] and abs(after[1].x() - before[1].x()) <= 2
