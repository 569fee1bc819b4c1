"""Running a PIV card call that may wait for a touch.

PIV has no keepalive: the card simply does not answer until it is touched (or its
15 s touch timeout passes). Like ykman's ``prompt_timeout``, Tessera shows "touch
your key" only when a call has been pending for half a second, so keys without a
touch policy never flash a prompt. A call on a real card cannot be interrupted, so
cancel is honoured before and after it; a virtual card's touch wait observes the
cancel event itself (see :func:`bind_cancel`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar, runtime_checkable

from tessera.core.errors import UserCancelled
from tessera.tokens.base import Prompts

TOUCH_PROMPT_DELAY = 0.5

T = TypeVar("T")


@runtime_checkable
class CancellableConnection(Protocol):
    """A connection whose pending touch wait can be ended by an event (virtual cards)."""

    def set_cancel(self, cancel: threading.Event | None) -> None: ...


@contextmanager
def bind_cancel(connection: object, cancel: threading.Event) -> Iterator[None]:
    """Let a virtual card's touch wait see ``cancel`` for the duration of the block."""
    if not isinstance(connection, CancellableConnection):
        yield
        return
    connection.set_cancel(cancel)
    try:
        yield
    finally:
        connection.set_cancel(None)


def check_cancel(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise UserCancelled()


def run_card_call(
    call: Callable[[], T], *, label: str, prompts: Prompts, cancel: threading.Event
) -> T:
    """Run ``call`` on this thread; prompt for touch if it is still pending after 0.5 s."""
    check_cancel(cancel)
    lock = threading.Lock()
    finished = False
    prompted = False

    def prompt() -> None:
        nonlocal prompted
        with lock:  # held while prompting so touch_done can never overtake touch_needed
            if finished:
                return
            prompted = True
            prompts.touch_needed(label)

    timer = threading.Timer(TOUCH_PROMPT_DELAY, prompt)
    timer.daemon = True
    timer.start()
    try:
        result = call()
    finally:
        timer.cancel()
        with lock:
            finished = True
            was_prompted = prompted
        if was_prompted:
            prompts.touch_done(label)
    check_cancel(cancel)
    return result
