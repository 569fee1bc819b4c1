"""The token worker: every device operation runs here, one at a time, never on the GUI thread.

Shaped like Anki's ``QueryOp``: a caller hands :meth:`TokenWorker.submit` a function of
``(prompts, cancel)``, a success and a failure callback, and gets a :class:`Job` back at
once. One background thread takes jobs from a queue in order (a person has one pair of
hands, and two operations on one USB key would interleave badly). The function gets a
:class:`~tessera.gui.prompts.GuiPrompts` that asks for PINs in the GUI and shows the
"Touch your key" prompt; ``Job.cancel()`` sets the ``threading.Event`` the drivers watch.
Results come back by a queued Qt signal, so callbacks always run on the GUI thread.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QWidget

from tessera.core.errors import TouchTimeout, UserCancelled
from tessera.core.turns import sharing
from tessera.gui.prompts import GuiPrompts, PromptState
from tessera.tokens.base import Prompts

logger = logging.getLogger(__name__)

T = TypeVar("T")

JOIN_SECONDS = 5.0  # how long shutdown() waits for a cancelled device call to return


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(eq=False)
class Job(Generic[T]):
    """One submitted operation. ``cancel()`` asks the device call to stop."""

    title: str
    fn: Callable[[Prompts, threading.Event], T]
    on_success: Callable[[T], None]
    on_failure: Callable[[BaseException], None]
    parent: QWidget | None
    prompts: GuiPrompts
    event: threading.Event = field(default_factory=threading.Event)
    state: JobState = JobState.QUEUED

    def cancel(self) -> None:
        """Set the job's event: a queued job never starts, a running one is told to stop."""
        self.event.set()

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()

    @property
    def finished(self) -> bool:
        return self.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class _Outcome:
    job: Job[Any]
    value: Any
    error: BaseException | None


class TokenWorker(QObject):
    """One background thread running token operations in the order they were submitted."""

    busy_changed = Signal(bool)
    job_started = Signal(object)  # Job
    job_finished = Signal(object)  # Job
    _delivered = Signal(object)  # _Outcome, emitted on the worker thread
    _started = Signal(object)  # Job, emitted on the worker thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: queue.Queue[Job[Any] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._current: Job[Any] | None = None
        self._pending: list[Job[Any]] = []  # submitted, result not yet delivered
        # Held for the whole of every job, and by the device poller while it lists keys:
        # a smart card is opened exclusively, so a job that starts while a listing holds
        # the card would not find it and say "this is not your key".
        self.device_lock = threading.Lock()
        self._stopped = False
        # Queued explicitly: the emit happens on the worker thread, the slot must run here.
        self._delivered.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._started.connect(self.job_started.emit, Qt.ConnectionType.QueuedConnection)
        self._thread = threading.Thread(target=self._run, name="tessera-token-worker",
                                        daemon=True)
        self._thread.start()

    # -- GUI thread --------------------------------------------------------------------
    def submit(self, fn: Callable[[Prompts, threading.Event], T], *,
               on_success: Callable[[T], None],
               on_failure: Callable[[BaseException], None],
               parent: QWidget | None = None, title: str = "",
               on_state: Callable[[PromptState], None] | None = None) -> Job[T]:
        """Queue ``fn`` and return at once; exactly one callback runs later on the GUI thread.

        ``parent`` owns the PIN and touch prompts; when it has been deleted by the time
        the result arrives, no callback runs. ``on_state`` hears "PIN asked", "touch
        your key" and "working" as they happen (on the GUI thread).
        """
        if self._stopped:
            raise RuntimeError("the token worker has been shut down")
        # The prompts are made here so that their Qt objects belong to the GUI thread.
        prompts = GuiPrompts(parent, on_state=on_state, title=title)
        job: Job[T] = Job(title, fn, on_success, on_failure, parent, prompts)
        prompts.cancel = job.event
        with self._lock:
            was_busy = bool(self._pending)
            self._pending.append(job)
        self._queue.put(job)
        if not was_busy:
            self.busy_changed.emit(True)
        return job

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._pending)

    @property
    def current(self) -> Job[Any] | None:
        """The job whose device call is running now, if any."""
        with self._lock:
            return self._current

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._pending)
        for job in jobs:
            job.cancel()

    def shutdown(self) -> None:
        """Cancel everything and stop the thread (waits briefly for the device to let go)."""
        if self._stopped:
            return
        self._stopped = True
        self.cancel_all()
        self._queue.put(None)
        self._thread.join(JOIN_SECONDS)
        if self._thread.is_alive():
            logger.warning("The token worker did not stop within %.0f s", JOIN_SECONDS)

    def _deliver(self, outcome: _Outcome) -> None:
        job = outcome.job
        with self._lock:
            if job in self._pending:
                self._pending.remove(job)
            idle = not self._pending
        parent_gone = job.parent is not None and not shiboken6.isValid(job.parent)
        try:
            if parent_gone or self._stopped:
                logger.info("Dropping the result of %r: its window is gone", job.title)
            elif outcome.error is None:
                job.on_success(outcome.value)
            else:
                job.on_failure(outcome.error)
        finally:
            self.job_finished.emit(job)
            if idle:
                self.busy_changed.emit(False)

    # -- worker thread -----------------------------------------------------------------
    def _run(self) -> None:
        with sharing():  # key operations read the vault too (core/turns.py)
            self._take_jobs()

    def _take_jobs(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._execute(job)

    def _execute(self, job: Job[Any]) -> None:
        if job.cancelled:
            job.state = JobState.CANCELLED
            self._delivered.emit(_Outcome(job, None, UserCancelled()))
            return
        with self._lock:
            self._current = job
        job.state = JobState.RUNNING
        self._started.emit(job)
        prompts = job.prompts
        logger.info("Token operation started: %s", job.title or "(untitled)")
        value: Any = None
        error: BaseException | None = None
        try:
            with self.device_lock:  # waits for a device listing that is under way
                value = job.fn(prompts, job.event)
            job.state = JobState.SUCCEEDED
        except BaseException as exc:  # every failure goes to on_failure, on the GUI thread
            # A key that gives up waiting for a touch just as the person cancels reports
            # a timeout; the person cancelled, and a cancel is shown to nobody.
            error = UserCancelled() if job.cancelled and isinstance(exc, TouchTimeout) else exc
            job.state = JobState.CANCELLED if isinstance(error, UserCancelled) \
                else JobState.FAILED
        finally:
            prompts.close()
            with self._lock:
                self._current = None
        logger.info("Token operation %s: %s", job.state.value, job.title or "(untitled)")
        self._delivered.emit(_Outcome(job, value, error))
