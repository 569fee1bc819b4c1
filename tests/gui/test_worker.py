"""The token worker: the GUI thread never waits on a device; one operation at a time."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from gui.ceremony_fixtures import (  # noqa: F401  (fixtures)
    DEMO_PIN,
    Ticker,
    answer_pin,
    demo_fixture,
    fail_on_qt_warnings_fixture,
    worker_fixture,
)
from tessera.core.errors import PinInvalid, UserCancelled
from tessera.custody.release import drill
from tessera.gui.prompts import (
    GuiPrompts,
    PinDialog,
    PromptState,
    TouchPrompt,
    ask_again_on_wrong_pin,
)

pytestmark = pytest.mark.usefixtures("fail_on_qt_warnings")


@pytest.fixture(autouse=True)
def quick_touch_prompt(monkeypatch):
    monkeypatch.setattr(GuiPrompts, "touch_delay_ms", 100)


class Outcome:
    def __init__(self) -> None:
        self.values: list[object] = []
        self.errors: list[BaseException] = []
        self.states: list[PromptState] = []

    @property
    def done(self) -> bool:
        return bool(self.values or self.errors)


def submit_drill(demo, name: str, parent: QWidget | None = None) -> tuple[object, Outcome]:
    ctx = demo.context
    out = Outcome()
    token = demo.tokens[name]
    job = ctx.worker.submit(
        lambda prompts, cancel: drill(ctx.vault, ctx.drivers, demo.record_id, token.id,
                                      prompts, cancel, actor=ctx.actor),
        on_success=out.values.append, on_failure=out.errors.append, parent=parent,
        title=f"Drill for {name}", on_state=out.states.append)
    return job, out


def touch_prompts() -> list[TouchPrompt]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, TouchPrompt) and w.isVisible()]


def test_event_loop_keeps_turning_while_a_key_waits_for_touch(qtbot, demo, monkeypatch):
    monkeypatch.setattr(PinDialog, "ask", answer_pin())
    key = demo.key("Alice")
    key.touch.set_mode("manual")
    ticker = Ticker(10)
    job, out = submit_drill(demo, "Alice")

    qtbot.waitUntil(key.touch.waiting.is_set, timeout=5000)
    ticks_when_waiting = ticker.ticks
    # The key is still waiting; the GUI thread is free: timers fire, the prompt shows.
    qtbot.waitUntil(lambda: ticker.ticks >= ticks_when_waiting + 20, timeout=5000)
    qtbot.waitUntil(lambda: len(touch_prompts()) == 1, timeout=5000)
    assert key.touch.waiting.is_set() and not out.done
    assert PromptState.TOUCH in out.states

    key.touch.press()
    qtbot.waitUntil(lambda: out.done, timeout=5000)
    assert not out.errors, out.errors
    assert out.values[0].ok and out.values[0].custodian == "Alice"
    assert touch_prompts() == []  # the prompt went away with the touch
    assert job.finished


def test_cancel_during_touch_stops_the_device_and_reports_cancelled(qtbot, demo, monkeypatch):
    monkeypatch.setattr(PinDialog, "ask", answer_pin())
    key = demo.key("Alice")
    key.touch.set_mode("manual")
    drills_before = len(demo.vault.list_drills(demo.record_id))
    _job, out = submit_drill(demo, "Alice")

    qtbot.waitUntil(lambda: len(touch_prompts()) == 1, timeout=5000)
    prompt = touch_prompts()[0]
    qtbot.mouseClick(prompt.cancel_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: out.done, timeout=5000)
    assert isinstance(out.errors[0], UserCancelled)
    assert not key.touch.waiting.is_set()
    assert touch_prompts() == []
    assert len(demo.vault.list_drills(demo.record_id)) == drills_before


def test_a_key_that_answers_at_once_never_shows_the_touch_prompt(qtbot, demo, monkeypatch):
    monkeypatch.setattr(PinDialog, "ask", answer_pin())
    _job, out = submit_drill(demo, "Carol")
    qtbot.waitUntil(lambda: out.done, timeout=5000)
    assert out.values and out.values[0].ok
    assert PromptState.TOUCH not in out.states
    assert touch_prompts() == []


def test_the_pin_is_typed_into_a_dialog_and_a_wrong_one_is_asked_again_in_place(qtbot, demo):
    def pin_dialog() -> PinDialog | None:
        found = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, PinDialog) and w.isVisible()]
        return found[0] if found else None

    ctx, token = demo.context, demo.tokens["Carol"]
    out = Outcome()
    ctx.worker.submit(
        ask_again_on_wrong_pin(
            lambda prompts, cancel: drill(ctx.vault, ctx.drivers, demo.record_id, token.id,
                                          prompts, cancel, actor=ctx.actor)),
        on_success=out.values.append, on_failure=out.errors.append, title="Drill for Carol")
    qtbot.waitUntil(lambda: pin_dialog() is not None, timeout=5000)
    dialog = pin_dialog()
    # A first ask says nothing about attempts (a fresh key's count only alarms)
    assert not dialog.attempts_label.isVisibleTo(dialog)
    qtbot.keyClicks(dialog.pin_edit, "999999")
    qtbot.keyClick(dialog.pin_edit, Qt.Key.Key_Return)

    # The same prompt comes back, saying the PIN was wrong and what is left
    qtbot.waitUntil(lambda: pin_dialog() is not None and pin_dialog() is not dialog,
                    timeout=5000)
    again = pin_dialog()
    assert again.attempts_label.isVisibleTo(again)
    assert again.attempts_label.text().startswith("Wrong PIN — try again.")
    assert "attempts left" in again.attempts_label.text()
    assert not out.done  # the step did not end in an error
    qtbot.keyClicks(again.pin_edit, DEMO_PIN)
    qtbot.mouseClick(again.buttons.buttons()[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: out.done, timeout=5000)
    assert out.values and out.values[0].ok and not out.errors


def test_cancelling_the_pin_dialog_cancels_the_operation(qtbot, demo, monkeypatch):
    monkeypatch.setattr(PinDialog, "ask", answer_pin(None))
    _job, out = submit_drill(demo, "Alice")
    qtbot.waitUntil(lambda: out.done, timeout=5000)
    assert isinstance(out.errors[0], UserCancelled)


def test_one_operation_at_a_time_in_submission_order(qtbot, worker):
    release_first = threading.Event()
    running: list[str] = []
    overlap: list[bool] = []
    lock = threading.Lock()
    results: list[str] = []

    def op(name: str):
        def run(prompts, cancel):
            with lock:
                overlap.append(bool(running))
                running.append(name)
            if name == "first":
                release_first.wait(5)
            with lock:
                running.remove(name)
            return name
        return run

    busy: list[bool] = []
    worker.busy_changed.connect(busy.append)
    for name in ("first", "second", "third"):
        worker.submit(op(name), on_success=results.append, on_failure=pytest.fail)
    ticker = Ticker(5)
    qtbot.waitUntil(lambda: running == ["first"], timeout=5000)
    qtbot.waitUntil(lambda: ticker.ticks >= 10, timeout=5000)
    assert running == ["first"] and results == []  # the others wait their turn
    release_first.set()
    qtbot.waitUntil(lambda: len(results) == 3, timeout=5000)
    assert results == ["first", "second", "third"]
    assert overlap == [False, False, False]
    assert busy == [True, False]


def test_a_cancelled_queued_job_never_runs(qtbot, worker):
    gate = threading.Event()
    ran: list[str] = []
    errors: list[BaseException] = []
    worker.submit(lambda p, c: gate.wait(5), on_success=lambda _v: ran.append("first"),
                  on_failure=errors.append)
    second = worker.submit(lambda p, c: ran.append("second"), on_success=lambda _v: None,
                           on_failure=errors.append)
    second.cancel()
    gate.set()
    qtbot.waitUntil(lambda: not worker.busy, timeout=5000)
    assert ran == ["first"]
    assert len(errors) == 1 and isinstance(errors[0], UserCancelled)


def test_callbacks_run_on_the_gui_thread_and_failures_arrive_intact(qtbot, worker):
    threads: list[bool] = []
    errors: list[BaseException] = []

    def fail(prompts, cancel):
        raise PinInvalid(2)

    def record(exc: BaseException) -> None:
        threads.append(threading.current_thread() is threading.main_thread())
        errors.append(exc)

    worker.submit(fail, on_success=pytest.fail, on_failure=record)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert threads == [True]
    assert isinstance(errors[0], PinInvalid) and errors[0].attempts_left == 2


def test_no_callback_once_the_window_that_asked_is_gone(qtbot, worker):
    gate = threading.Event()
    window = QWidget()
    calls: list[object] = []
    worker.submit(lambda p, c: gate.wait(5), on_success=calls.append,
                  on_failure=calls.append, parent=window)
    window.deleteLater()
    qtbot.waitUntil(lambda: worker.current is not None, timeout=5000)
    qtbot.wait(20)  # let deleteLater run
    gate.set()
    qtbot.waitUntil(lambda: not worker.busy, timeout=5000)
    assert calls == []


def test_shutdown_cancels_a_device_call_that_waits(qtbot, demo, monkeypatch):
    monkeypatch.setattr(PinDialog, "ask", answer_pin())
    key = demo.key("Alice")
    key.touch.set_mode("manual")
    job, _out = submit_drill(demo, "Alice")
    qtbot.waitUntil(key.touch.waiting.is_set, timeout=5000)
    demo.context.worker.shutdown()
    assert job.cancelled and not key.touch.waiting.is_set()
    with pytest.raises(RuntimeError):
        demo.context.worker.submit(lambda p, c: None, on_success=print, on_failure=print)


def test_key_operations_give_the_window_its_turns(demo, qtbot) -> None:
    """A key operation reads and writes the vault on the worker thread: it gives way to
    the GUI thread (core/turns.py), which a long read would otherwise starve."""
    from tessera.core import turns

    out = Outcome()
    demo.context.worker.submit(lambda prompts, cancel: turns.is_sharing(),
                               on_success=out.values.append, on_failure=out.errors.append,
                               title="Look")
    qtbot.waitUntil(lambda: out.done, timeout=10_000)
    assert out.values == [True] and not turns.is_sharing()
