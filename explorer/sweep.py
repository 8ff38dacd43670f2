"""Run many independent jobs: serially by default, on any ``concurrent.futures.Executor``.

One call serves a laptop (serial, or a ``ProcessPoolExecutor``) and a cluster
(``dask.distributed.Client(...).get_executor()``). Job ``i`` always receives a
generator built from the ``i``-th child of ``SeedSequence(seed)``, so results
are bit-identical whatever the executor and the chunking.

Jobs are grouped into chunks (one task per chunk) because a cluster task costs
about a millisecond of overhead; ``fn`` must be importable from the package so
that worker processes can unpickle it.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import Status, check_int

__all__ = ["SweepResult", "run_sweep"]


@dataclass(frozen=True)
class SweepResult:
    """What a sweep produced.

    Attributes
    ----------
    results : tuple
        Results of the finished jobs, in job order.
    indices : tuple of int
        The job index of each entry of ``results`` (all of ``range(n_jobs)``
        unless the sweep was cancelled).
    n_jobs : int
        Number of jobs asked for.
    status : Status
        ``COMPLETED``, or ``CANCELLED`` when ``cancel`` was set before the end.
    seed : int
        Root entropy of the seed sequence, enough to reproduce every job's stream.
    """

    results: tuple
    indices: tuple
    n_jobs: int
    status: Status
    seed: int

    def __len__(self) -> int:
        return len(self.results)


def _lost(exc: BaseException) -> bool:
    """Whether a chunk failed because its executor lost it (a dead worker or pool, a task
    cancelled under it), not because a job raised: dask retries a chunk on other workers
    when one dies and gives up with ``KilledWorker`` only after repeated deaths."""
    if isinstance(exc, cf.BrokenExecutor | cf.CancelledError):
        return True
    return any(c.__name__ in ("KilledWorker", "CommClosedError")
               and c.__module__.startswith("distributed") for c in type(exc).__mro__)


def _run_chunk(fn: Callable, items: Sequence[tuple[Any, np.random.SeedSequence]]) -> list:
    """Worker side: run one chunk of (job, seed) pairs in order."""
    return [fn(job, np.random.default_rng(ss)) for job, ss in items]


def _default_chunk_size(n_jobs: int, n_workers: int) -> int:
    # About four chunks per worker balances load without paying per-task overhead per job.
    return max(1, min(256, math.ceil(n_jobs / (4 * n_workers))))


def _n_workers(executor: cf.Executor) -> int:
    n = getattr(executor, "_max_workers", None)
    return int(n) if n else (os.cpu_count() or 1)


def run_sweep(
    fn: Callable[[Any, np.random.Generator], Any],
    jobs: Sequence[Any],
    *,
    executor: cf.Executor | None = None,
    chunk_size: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    seed: Any = None,
) -> SweepResult:
    """Apply ``fn(job, rng)`` to every job, each with its own independent random stream.

    Parameters
    ----------
    fn : callable
        ``fn(job, rng) -> result``. Must be a module-level function of an
        importable module when an executor with worker processes is used.
    jobs : sequence
        The jobs (picklable when an executor is used).
    executor : concurrent.futures.Executor, optional
        ``None`` runs serially in this thread. Otherwise chunks are submitted to
        it, e.g. a ``ProcessPoolExecutor`` or ``distributed.Client(...).get_executor()``.
    chunk_size : int, optional
        Jobs per submitted task; by default about four tasks per worker.
        Chunking never changes the results.
    on_progress : callable, optional
        ``on_progress(done, total)``, called in the calling thread as jobs finish.
    cancel : threading.Event, optional
        When set, no further work is started; the jobs finished so far are
        returned with status ``CANCELLED``.
    seed : int, SeedSequence or None
        Root seed; job ``i`` uses ``SeedSequence(seed).spawn(n_jobs)[i]``.

    Returns
    -------
    SweepResult

    Examples
    --------
    >>> from explorer.sweep import run_sweep
    >>> def draw(scale, rng):
    ...     return scale * rng.random()
    >>> r = run_sweep(draw, [1.0, 10.0], seed=0)
    >>> r.status.value, len(r)
    ('completed', 2)
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function of (job, rng); got {type(fn).__name__}")
    if not np.iterable(jobs) or isinstance(jobs, str):
        raise TypeError(f"jobs must be a sequence of jobs; got {type(jobs).__name__}")
    jobs = list(jobs)
    n_jobs = len(jobs)
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    children = root.spawn(n_jobs)
    items = list(zip(jobs, children, strict=True))
    results: dict[int, Any] = {}

    def report() -> None:
        if on_progress is not None:
            on_progress(len(results), n_jobs)

    def finish() -> SweepResult:
        order = sorted(results)
        status = Status.COMPLETED if len(order) == n_jobs else Status.CANCELLED
        return SweepResult(
            results=tuple(results[i] for i in order),
            indices=tuple(order),
            n_jobs=n_jobs,
            status=status,
            seed=int(root.entropy) if root.entropy is not None else 0,
        )

    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    if executor is None:
        for i, (job, ss) in enumerate(items):
            if cancelled():
                break
            results[i] = fn(job, np.random.default_rng(ss))
            report()
        return finish()

    n_workers = _n_workers(executor)
    size = (
        _default_chunk_size(n_jobs, n_workers)
        if chunk_size is None
        else check_int("chunk_size", chunk_size, 1)
    )
    starts = list(range(0, n_jobs, size))
    # Keep only a bounded window of tasks in flight so that Cancel stops new work promptly.
    window = 2 * n_workers
    pending: dict[cf.Future, int] = {}
    next_chunk = 0

    def submit_more() -> None:
        nonlocal next_chunk
        while next_chunk < len(starts) and len(pending) < window and not cancelled():
            s = starts[next_chunk]
            pending[executor.submit(_run_chunk, fn, items[s : s + size])] = s
            next_chunk += 1

    submit_more()
    try:
        while pending:
            done, _ = cf.wait(pending, timeout=0.1, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                s = pending.pop(fut)
                try:
                    values = fut.result()
                except Exception as exc:
                    if not _lost(exc):
                        raise                     # the job's own error, as serially
                    last = min(s + size, n_jobs) - 1
                    raise RuntimeError(
                        f"sweep jobs {s} to {last} were lost: the executor could not run "
                        f"them ({type(exc).__name__}: {exc}); {len(results)} of {n_jobs} "
                        f"jobs had finished") from exc
                for offset, value in enumerate(values):
                    results[s + offset] = value
                report()
            if cancelled():
                break
            submit_more()
    finally:
        for fut in pending:
            fut.cancel()
    return finish()
