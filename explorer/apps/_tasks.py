"""Background tasks of an app: inputs snapshotted at start, work off the kernel's thread,
results keyed by their inputs and applied on the kernel's own event loop.

Widgets and artists are touched from one thread only. A worker never draws, never reads a
control and never recomputes: it reports progress, partial results and its value through
:class:`EventLoop`, which runs the handlers on the kernel's IO loop (in a Jupyter or Voila
kernel) or, headless, in whichever thread calls :meth:`EventLoop.drain` (tests and the CLI,
through :meth:`TaskRunner.wait`).
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from ._status import collect_warnings

__all__ = ["EventLoop", "TaskContext", "TaskRecord", "TaskRunner"]


def kernel_io_loop():
    """The running kernel's IO loop, or None outside a kernel (tests, the command line)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    return getattr(kernel, "io_loop", None)


class EventLoop:
    """Where results from workers are applied: the kernel's IO loop, or a queue drained here.

    ``post`` is safe from any thread. In a kernel, tornado's ``add_callback`` hands the call
    to the kernel's main thread, the one that also runs the widgets' comm handlers; headless,
    calls wait in a queue until :meth:`drain` runs them on the caller's thread.
    """

    def __init__(self, io_loop=None) -> None:
        self._io_loop = io_loop if io_loop is not None else kernel_io_loop()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    @property
    def in_kernel(self) -> bool:
        return self._io_loop is not None

    def post(self, fn: Callable[[], None]) -> None:
        if self._io_loop is not None:
            self._io_loop.add_callback(fn)
        else:
            self._queue.put(fn)

    def drain(self) -> int:
        """Run the queued calls (headless only); returns how many ran."""
        count = 0
        while True:
            try:
                fn = self._queue.get_nowait()
            except queue.Empty:
                return count
            fn()
            count += 1


@dataclass
class TaskContext:
    """What a task's work function gets besides its inputs.

    Attributes
    ----------
    cancel : threading.Event
        Set when the user presses Cancel; the work returns what it finished.
    executor : concurrent.futures.Executor or None
        Where sweeps may run (``sweep.run_sweep(..., executor=ctx.executor)``).
    """

    cancel: threading.Event
    executor: Any
    _progress: Callable[[int, int], None]
    _emit: Callable[[Any], None]

    def progress(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` units (thread-safe; coalesced on the event loop)."""
        self._progress(int(done), int(total))

    def emit(self, partial: Any) -> None:
        """Publish a partial result (live curves): the views that read the task redraw."""
        self._emit(partial)


@dataclass
class TaskRecord:
    """A task's result for one snapshot of its inputs."""

    key: Hashable
    inputs: dict
    value: Any = None
    complete: bool = False
    cancelled: bool = False
    version: int = 0
    seconds: float = 0.0
    notes: list = field(default_factory=list)


@dataclass
class _Run:
    thread: threading.Thread
    cancel: threading.Event
    done: int = 0
    total: int = 1
    progress_posted: bool = False


class TaskRunner:
    """Starts, tracks and applies one app's background tasks (one run per task at a time).

    Parameters
    ----------
    loop : EventLoop
    on_update : callable
        ``on_update(task_name)`` on the event loop whenever a task's record changed (partial,
        final, cancelled): the app redraws the views that read it.
    on_progress : callable
        ``on_progress(task_name, done, total, running)`` on the event loop.
    on_error : callable
        ``on_error(exc)`` on the event loop when the work raised.
    keep : int
        Results kept per task (by input snapshot), so switching back shows them again.
    """

    def __init__(self, loop: EventLoop, *, on_update, on_progress, on_error,
                 keep: int = 8) -> None:
        self.loop = loop
        self._on_update, self._on_progress, self._on_error = on_update, on_progress, on_error
        self._keep = keep
        self.records: dict[str, OrderedDict] = {}
        self._runs: dict[str, _Run] = {}

    def record(self, name: str, key: Hashable) -> TaskRecord | None:
        """The result of task ``name`` for inputs ``key`` (partial while running), or None."""
        return self.records.get(name, {}).get(key)

    def running(self, name: str | None = None) -> bool:
        runs = [self._runs.get(name)] if name else list(self._runs.values())
        return any(r is not None and r.thread.is_alive() for r in runs)

    def start(self, name: str, work: Callable, inputs: dict, key: Hashable, executor=None,
              ) -> threading.Thread:
        """Run ``work(ctx, **inputs)`` on a thread; ``inputs`` is already a snapshot."""
        run = self._runs.get(name)
        if run is not None and run.thread.is_alive():
            raise ValueError(f"{name} is already running; cancel it or wait for it to finish")
        cancel = threading.Event()
        records = self.records.setdefault(name, OrderedDict())
        started = time.perf_counter()
        # A run's record is created (and shown) only when its first partial or its value
        # arrives: until then a finished result for the same inputs stays on screen.
        mine: list[TaskRecord] = []

        def apply(value, *, final: bool, notes=()) -> None:   # on the event loop
            if not mine:
                mine.append(TaskRecord(key=key, inputs=dict(inputs)))
            rec = records[key] = mine[0]
            records.move_to_end(key)
            while len(records) > self._keep:
                records.popitem(last=False)
            rec.value = value
            rec.version += 1
            rec.complete = final and not cancel.is_set()
            rec.cancelled = final and cancel.is_set()
            rec.seconds = time.perf_counter() - started
            rec.notes = list(notes)
            self._on_update(name)

        def post_progress() -> None:                      # on the event loop
            this.progress_posted = False
            self._on_progress(name, this.done, this.total, this.thread.is_alive())

        def progress(done: int, total: int) -> None:      # on the worker
            this.done, this.total = done, max(total, 1)
            if not this.progress_posted:                  # coalesce: one pending update
                this.progress_posted = True
                self.loop.post(post_progress)

        def emit(partial) -> None:                        # on the worker
            self.loop.post(lambda: apply(partial, final=False))

        def target() -> None:
            ctx = TaskContext(cancel=cancel, executor=executor, _progress=progress, _emit=emit)
            try:
                with collect_warnings() as notes:
                    value = work(ctx, **inputs)
            except Exception as exc:  # noqa: BLE001 - reported on the event loop
                self.loop.post(functools.partial(self._on_error, exc))
            else:
                self.loop.post(lambda: apply(value, final=True, notes=notes))
            finally:
                self.loop.post(lambda: self._on_progress(name, this.done, this.total, False))

        thread = threading.Thread(target=target, name=f"explorer-{name}", daemon=True)
        this = _Run(thread=thread, cancel=cancel)
        self._runs[name] = this
        thread.start()
        return thread

    def cancel(self, name: str | None = None) -> None:
        """Ask a running task (every running task when None) to stop."""
        for task, run in self._runs.items():
            if name in (None, task):
                run.cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every task ended and its results were applied; True if they did.

        Headless, this thread is the event loop: queued updates are applied here.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.loop.drain()
            alive = [r.thread for r in self._runs.values() if r.thread.is_alive()]
            if not alive:
                self.loop.drain()   # the workers' last posts (nothing queued in a kernel)
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            alive[0].join(0.02 if remaining is None else min(0.02, remaining))
