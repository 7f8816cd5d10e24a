"""The one Qt adapter for long work (Orange3's TaskState; README, Architecture: "Long work").

Long work in Scrubline is a plain function taking a `TaskState` (`progress(fraction, message)`
and `cancelled()`), e.g. `scrubline.core.analysis.analyse_video`. `TaskRunner` runs one such
function at a time on a Python worker thread and turns its calls into queued Qt signals, so the
GUI thread only ever receives small messages. Cancelling sets a flag the function checks
between batches; nothing is ever killed (no `QThread.terminate`), and `shutdown()` cancels and
waits, which is what closing the window does.

`LatestJob` runs short background reads (rebuilding the timeline from the case file while the
analysis streams results in): at most one runs, and requests that arrive meanwhile collapse
into one more run with the newest request.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger("scrubline.ui.tasks")


class QtTaskState(QObject):
    """A `TaskState` whose progress calls become a queued signal (emitted on the worker thread,
    delivered on the GUI thread)."""

    progressed = Signal(float, str)

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()

    def progress(self, fraction: float, message: str) -> None:
        self.progressed.emit(float(fraction), str(message))

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()


class TaskRunner(QObject):
    """Runs one `fn(state)` at a time off the GUI thread."""

    progressed = Signal(float, str)
    finished = Signal(object)  # what fn returned
    failed = Signal(object, str)  # the exception, its traceback as text
    _done = Signal(object, object, str)  # worker -> GUI thread: result, exception, traceback

    def __init__(self, name: str = "task", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._thread: threading.Thread | None = None
        self._state: QtTaskState | None = None
        self._done.connect(self._on_done_changed)

    def running(self) -> bool:
        """A task is under way (its finished/failed signal may still be queued after it ends)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, fn: Callable[[QtTaskState], Any]) -> bool:
        """Start `fn` unless a task is already running (then False: one task at a time)."""
        if self._thread is not None:
            return False
        state = QtTaskState()
        state.progressed.connect(self.progressed)
        self._state = state

        def work() -> None:
            try:
                result = fn(state)
            except BaseException as exc:  # reported to the GUI thread, never swallowed
                self._done.emit(None, exc, traceback.format_exc())
                return
            self._done.emit(result, None, "")

        self._thread = threading.Thread(target=work, name=f"scrubline-{self.name}", daemon=True)
        self._thread.start()
        return True

    def cancel(self) -> None:
        if self._state is not None:
            self._state.cancel()

    def cancelled(self) -> bool:
        return self._state is not None and self._state.cancelled()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker thread ends (True) or `timeout` passes (False). Signals it
        queued are still delivered by the event loop afterwards."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def shutdown(self, timeout: float = 60.0) -> bool:
        self.cancel()
        finished = self.wait(timeout)
        if not finished:
            log.warning("%s did not stop within %.0f s", self.name, timeout)
        return finished

    def _on_done_changed(self, result: object, error: object, details: str) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(5.0)  # it has emitted its last signal and is returning
        self._thread = None
        self._state = None
        if error is not None:
            self.failed.emit(error, details)
        else:
            self.finished.emit(result)


class LatestJob(QObject):
    """Background runs of short read-only jobs where only the newest request matters.

    One long-lived thread serves every run: starting a thread per run would make the GUI thread
    wait for the new thread to be scheduled, which on a busy machine is tens of milliseconds."""

    done = Signal(object)
    failed = Signal(object, str)

    def __init__(self, name: str = "job", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._cv = threading.Condition()
        self._pending: Callable[[], Any] | None = None
        self._running = False
        self._stop = False
        self._thread = threading.Thread(target=self._serve, name=f"scrubline-{name}", daemon=True)
        self._thread.start()

    def busy(self) -> bool:
        with self._cv:
            return self._running or self._pending is not None

    def submit(self, fn: Callable[[], Any]) -> None:
        """Run `fn` soon; a request not yet started is replaced (only the newest matters)."""
        with self._cv:
            self._pending = fn
            self._cv.notify()

    def _serve(self) -> None:
        while True:
            with self._cv:
                while self._pending is None and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                fn, self._pending = self._pending, None
                self._running = True
            assert fn is not None  # the wait above ends only with a request or a stop
            try:
                result = fn()
            except Exception as exc:
                self.failed.emit(exc, traceback.format_exc())
            else:
                self.done.emit(result)
            finally:
                with self._cv:
                    self._running = False

    def shutdown(self, timeout: float = 30.0) -> None:
        """Drop what has not started, let the running job finish, end the thread."""
        with self._cv:
            self._pending = None
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout)
