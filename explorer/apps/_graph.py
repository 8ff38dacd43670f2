"""Dependencies declared once: stages, views and tasks name their inputs by their parameters.

In the spirit of holoviz ``param.depends``, but with nothing to keep in sync: a function's
parameter names *are* its inputs. ``def landscape(n, pq, grid)`` reads the controls ``n`` and
``grid`` and the stage ``pq``. From these declarations :class:`Graph` derives

- each stage's cache key (its inputs' values, or their own keys for stages), so a stage is
  recomputed only when something it reads changed, and returns the identical object otherwise;
- each view's key, so a view is redrawn only when something it shows changed;
- which controls only re-view (no stage reads them) and which tasks a change makes stale.
"""

from __future__ import annotations

import inspect
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from ._status import collect_warnings

__all__ = ["Graph", "Stage", "Task", "View", "evaluate_once", "inputs_of"]


def inputs_of(fn: Callable, skip: int = 0) -> tuple[str, ...]:
    """The names of ``fn``'s parameters after the first ``skip`` (its declared inputs)."""
    names = []
    for i, (name, par) in enumerate(inspect.signature(fn).parameters.items()):
        if par.kind in (par.VAR_POSITIONAL, par.VAR_KEYWORD):
            raise TypeError(f"{getattr(fn, '__name__', fn)}: *args/**kwargs cannot name inputs")
        if i >= skip:
            names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class Stage:
    """A compute step: a pure function of controls and earlier stages (it calls the backend).

    Parameters
    ----------
    fn : callable
        Its parameter names are its inputs. A ``ValueError`` from it is the user's to fix
        and is shown in the status line; the last good results stay.
    name : str, optional
        Defaults to ``fn.__name__``.
    cache : int
        Results kept (by input values).
    """

    fn: Callable
    name: str = ""
    cache: int = 16
    inputs: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name or self.fn.__name__)
        object.__setattr__(self, "inputs", inputs_of(self.fn))


@dataclass(frozen=True)
class View:
    """One figure: artists built once, then moved by ``draw`` when an input changed.

    Parameters
    ----------
    name : str
    build : callable
        ``build(fig) -> artists`` (any object): axes and empty artists, no data.
    draw : callable
        ``draw(artists, **inputs)``; its parameter names after the first are its inputs
        (controls, stages, tasks: a task input is its result for the current settings, or
        None). Only artists move here (``set_data``), no model math.
    figsize : (float, float)
        Size in inches at 72 dpi.
    on_press : callable, optional
        Direct manipulation: ``on_press(artists, ax, x, y) -> {control: value}`` for a click
        (and, with ``drag``, a drag) at data coordinates (x, y) of axes ``ax``; the values are
        validated and applied like any control change (so the permalink records them). Return
        an empty mapping to ignore the click.
    drag : bool
        Also follow the pointer while the button is held.
    overlay : callable, optional
        ``overlay(artists, **inputs)`` moves only the artists ``build`` made with
        ``animated=True`` (a time cursor, bars on fixed axes) and leaves titles, labels and
        limits alone. When only its inputs changed, the shell redraws just those artists
        over the figure's last full rendering (blitting) instead of rendering it all again;
        after a full draw it runs too. Its inputs count as the view's inputs.
    """

    name: str
    build: Callable[[Any], Any]
    draw: Callable[..., Any]
    figsize: tuple[float, float] = (4.4, 3.0)
    on_press: Callable[..., Mapping[str, Any]] | None = None
    drag: bool = False
    overlay: Callable[..., Any] | None = None
    inputs: tuple[str, ...] = field(init=False)
    draw_inputs: tuple[str, ...] = field(init=False)
    overlay_inputs: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        draw = inputs_of(self.draw, skip=1)
        over = inputs_of(self.overlay, skip=1) if self.overlay is not None else ()
        object.__setattr__(self, "draw_inputs", draw)
        object.__setattr__(self, "overlay_inputs", over)
        object.__setattr__(self, "inputs", tuple(dict.fromkeys(draw + over)))


@dataclass(frozen=True)
class Task:
    """A background task: ``work(ctx, **inputs)`` off the kernel's thread.

    Parameters
    ----------
    name : str
    work : callable
        Its parameter names after ``ctx`` are its inputs, snapshotted when the task starts.
        ``ctx.progress(done, total)``, ``ctx.emit(partial)``, ``ctx.cancel`` and
        ``ctx.executor`` (see :class:`~explorer.apps._tasks.TaskContext`).
    button : str
        Label of its Run button.
    help : str
    columns : callable, optional
        ``columns(value) -> dict of 1-D arrays`` for the CSV/JSON export.
    unavailable : callable, optional
        ``unavailable(**inputs) -> str or None``: why the task cannot run with the current
        settings (its Run button is then disabled and says so), or None.
    """

    name: str
    work: Callable[..., Any]
    button: str = ""
    help: str = ""
    columns: Callable[[Any], Mapping[str, Any]] | None = None
    unavailable: Callable[..., str | None] | None = None
    inputs: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", inputs_of(self.work, skip=1))
        object.__setattr__(self, "button", self.button or f"Run {self.name}")


class Graph:
    """Resolves the declarations of one app and evaluates its stages with per-stage caches.

    Parameters
    ----------
    params : sequence of str
        Control names.
    stages, views, tasks : sequences of Stage, View, Task
        Stages in an order where each reads only controls and earlier stages.
    """

    def __init__(self, params: Sequence[str], stages: Sequence[Stage],
                 views: Sequence[View] = (), tasks: Sequence[Task] = ()) -> None:
        self.params = tuple(params)
        self.stages = {s.name: s for s in stages}
        self.views = {v.name: v for v in views}
        self.tasks = {t.name: t for t in tasks}
        seen: set[str] = set(self.params)
        for kind, names in (("stage", [s.name for s in stages]), ("task", list(self.tasks))):
            for name in names:
                if name in seen:
                    raise ValueError(f"{kind} name {name!r} is already used")
                seen.add(name)
        known = set(self.params)
        for s in stages:
            self._check(f"stage {s.name!r}", s.inputs, known)
            known.add(s.name)
        for t in tasks:
            self._check(f"task {t.name!r}", t.inputs, known)
            if t.unavailable is not None:
                self.check_reads(f"task {t.name!r} (unavailable)", t.unavailable)
        for v in views:
            self._check(f"view {v.name!r}", v.inputs, known | set(self.tasks))
        self._caches: dict[str, OrderedDict] = {s: OrderedDict() for s in self.stages}
        self._order = {name: k for k, name in enumerate(self.stages)}
        self.n_calls = 0
        #: Seconds of each stage's last computation (for the benchmarks' per-stage table).
        self.seconds: dict[str, float] = {}
        self._readers = {name: [s.name for s in stages if name in s.inputs]
                         for name in self.stages}
        read = {name for s in stages for name in s.inputs}
        self.recompute_params = frozenset(p for p in self.params if p in read)
        first = next(iter(self.views.values()), None)
        #: The stages the first view needs, itself included: they start before the others,
        #: so that view can be drawn while the rest still run (see ``evaluate``'s on_ready).
        self.first = self.upstream(first.inputs if first else ())

    def upstream(self, names: Sequence[str]) -> frozenset[str]:
        """The stages among ``names`` (tasks count by their inputs) and all they read."""
        found: set[str] = set()
        todo = [n for n in names if n in self.stages]
        todo += [i for n in names if n in self.tasks for i in self.tasks[n].inputs]
        while todo:
            name = todo.pop()
            if name in self.stages and name not in found:
                found.add(name)
                todo += [i for i in self.stages[name].inputs if i in self.stages]
        return frozenset(found)

    @staticmethod
    def _check(what: str, inputs: Sequence[str], known: set[str]) -> None:
        for name in inputs:
            if name not in known:
                raise ValueError(f"{what} reads {name!r}, which is not a control or an "
                                 f"earlier stage; known: {', '.join(sorted(known))}")

    def check_reads(self, what: str, fn: Callable) -> tuple[str, ...]:
        """Check a further function's inputs (the summary, export columns)."""
        names = inputs_of(fn)
        self._check(what, names, set(self.params) | set(self.stages))
        return names

    # ------------------------------------------------------------------ evaluation

    def _critical_paths(self) -> dict[str, float]:
        """Each stage's seconds plus the longest chain of stages that read it (last timings).

        Ready stages start longest chain first (list scheduling): with two cores, starting
        the sampled graph before three independent stages lets the runs on that graph
        overlap them instead of waiting at the end. Stages not yet timed count as 0, so the
        first evaluation keeps the declaration order. The first view's stages (``first``)
        go before all others: that view is then on the screen while the rest run.
        """
        paths: dict[str, float] = {}
        for name in reversed(list(self.stages)):   # readers come later in the declaration
            below = max((paths[r] for r in self._readers[name]), default=0.0)
            paths[name] = self.seconds.get(name, 0.0) + below
        return paths

    def key_of(self, names: Sequence[str], state: Mapping[str, Any],
               keys: Mapping[str, Hashable]) -> tuple:
        return tuple(keys[n] if n in keys else state[n] for n in names)

    def evaluate(self, state: Mapping[str, Any],
                 on_ready: Callable[[Mapping[str, Any], Mapping[str, Hashable]], None]
                 | None = None) -> tuple[dict[str, Any], dict, list[str]]:
        """All stage values for ``state`` (cached ones reused), their keys and their warnings.

        ``on_ready(values, keys)``, if given, is called on this thread with the stages resolved
        so far each time more of them are, while the others still run: the shell draws the
        views whose inputs are all there without waiting for the slowest stage. An exception
        from it is raised once every stage has ended.

        A stage's key is its inputs' keys: a control's value, and for an upstream stage its
        value itself when that is a small hashable (``(p, q)``, ``None``), else the upstream
        key. So a change that leaves an upstream value as it was (``n`` in degree-free
        ``(p, q)`` mode, say) recomputes nothing below it.

        Raises whatever a stage raises; the stages that succeeded keep their cache entries
        (valid for their own inputs).
        """
        keys: dict[str, Hashable] = {}
        stage_keys: dict[str, tuple] = {}          # each stage's own cache key
        values: dict[str, Any] = {}
        pending = dict(self.stages)                # not yet resolved, in declaration order
        running: dict = {}                         # future -> (name, key)
        error: BaseException | None = None
        callback_error: BaseException | None = None
        paths = self._critical_paths()
        reported = 0                               # stages resolved at the last on_ready

        def resolve(name: str, key: tuple) -> None:
            stage_keys[name] = key
            values[name] = self._caches[name][key][0]
            keys[name] = ("=", values[name]) if _small_hashable(values[name]) else key

        def finish(name: str, key: tuple, result: tuple) -> None:
            self.n_calls += 1
            cache = self._caches[name]
            cache[key] = result
            while len(cache) > self.stages[name].cache:
                cache.popitem(last=False)
            if error is None:
                resolve(name, key)

        ready: list[tuple[str, tuple]] = []        # inputs resolved, not started yet
        # Stages overlap while the machine has cores to spare; on a busy one (a class's
        # kernels all at work) one at a time, which costs less CPU in all (measured, SBM at
        # its defaults: 145-155 ms a change instead of 170-185) and takes no core from the
        # other kernels' stages.
        workers = 1 if machine_busy() else _WORKERS
        while pending or running or ready:
            # Every stage whose inputs are resolved: a cache hit resolves at once, a stage
            # that took under QUICK_SECONDS last time runs here (a trip through the pool
            # costs more), the others wait for a free worker (numpy and scipy release the GIL
            # in their heavy loops, so independent stages overlap on the cores).
            progress = True
            while progress and error is None:
                progress = False
                for name, stage in list(pending.items()):
                    if any(i in self.stages and i not in values for i in stage.inputs):
                        continue
                    del pending[name]
                    progress = True
                    key = self.key_of(stage.inputs, state, keys)
                    if key in self._caches[name]:
                        self._caches[name].move_to_end(key)
                        resolve(name, key)
                    elif self.seconds.get(name, 1.0) < QUICK_SECONDS:
                        try:
                            finish(name, key, self._run(name, self._args(name, state, values)))
                        except Exception as exc:  # noqa: BLE001 - re-raised once others end
                            error = exc
                    else:
                        ready.append((name, key))
            # Only as many started as there are workers, the most urgent first: the pool
            # runs what it was given in order, so a stage of the first view made ready late
            # must not queue behind long ones that could wait.
            ready.sort(key=lambda nk: (nk[0] not in self.first, -paths[nk[0]]))   # stable
            while ready and error is None and len(running) < workers:
                name, key = ready.pop(0)
                future = _pool().submit(self._run, name, self._args(name, state, values))
                running[future] = (name, key)
            if (on_ready is not None and callback_error is None and error is None
                    and len(values) > reported and (running or pending)):
                reported = len(values)
                try:
                    on_ready(values, keys)
                except Exception as exc:  # noqa: BLE001 - raised once the stages end
                    callback_error = exc
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: self._order[running[f][0]]):
                name, key = running.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - re-raised once the others end
                    error = error or exc
                    continue
                finish(name, key, result)
        if error is not None:
            raise error
        if callback_error is not None:
            raise callback_error
        notes: list[str] = []
        for name in self.stages:
            notes += [m for m in self._caches[name][stage_keys[name]][1] if m not in notes]
        return values, keys, notes

    def _args(self, name: str, state: Mapping[str, Any], values: Mapping[str, Any]) -> dict:
        return {i: values[i] if i in values else state[i] for i in self.stages[name].inputs}

    def _run(self, name: str, args: dict) -> tuple[Any, list[str]]:
        t0 = time.perf_counter()
        with collect_warnings() as caught:
            value = self.stages[name].fn(**args)
        self.seconds[name] = time.perf_counter() - t0
        return value, caught


_POOL: list = []
#: Stage threads: one per core (two at least, four at most).
_WORKERS = max(2, min(4, os.cpu_count() or 2))
#: A stage this quick (its last run) runs on the evaluating thread, not in the pool.
QUICK_SECONDS = 1e-3


def machine_busy(loadavg: str = "/proc/loadavg") -> bool:
    """More threads ready to run right now than the machine has cores.

    Read from the kernel's instantaneous count of runnable threads (the fourth field of
    ``/proc/loadavg``, "running/total", this thread included); False where there is none.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".loadavg", delete=False) as f:
    ...     _ = f.write(f"3.10 2.00 1.50 {(os.cpu_count() or 1) + 1}/412 9876")
    >>> machine_busy(f.name), machine_busy("/no/such/file")
    (True, False)
    >>> os.remove(f.name)
    """
    try:
        with open(loadavg) as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return False
    return running > (os.cpu_count() or 1)


def _pool():
    """One small thread pool per process for independent stages (created on first use)."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=_WORKERS,
                                        thread_name_prefix="explorer-stage"))
    return _POOL[0]


def _small_hashable(value: Any, depth: int = 0) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, tuple) and len(value) <= 8 and depth < 2:
        return all(_small_hashable(v, depth + 1) for v in value)
    return False


def evaluate_once(stages: Sequence[Stage], fn: Callable, state: Mapping[str, Any]) -> Any:
    """``fn``'s value for ``state``, its inputs computed by a fresh graph (no shared caches).

    For tests and scripts: what an app would show for a state, computed independently of it.
    """
    values, _, _ = Graph(list(state), stages).evaluate(state)
    return fn(**{k: values[k] if k in values else state[k] for k in inputs_of(fn)})
