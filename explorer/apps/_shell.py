"""The app shell: an explorer app is declarations plus drawing code, assembled by :class:`App`.

An app declares

- its controls, each one :class:`~explorer.apps._params.Param` (widget, validation, URL key);
- its compute *stages* (:class:`~explorer.apps._graph.Stage`), pure functions that call the
  backend and whose parameter names are their inputs;
- its *views* (:class:`~explorer.apps._graph.View`), one figure each, whose ``draw`` names what
  it shows;
- its background *tasks* (:class:`~explorer.apps._graph.Task`), whose ``work`` names what it
  reads.

From that the shell derives what to recompute (per-stage caches keyed by inputs), what to
redraw (a view whose inputs did not change keeps its pixels), which controls only re-view,
and which task results are stale. The parts, each readable on its own:
:mod:`._params` (controls and URL parsing), :mod:`._status` (status line, safe callbacks,
warnings), :mod:`._graph` (declarations and caches), :mod:`._tasks` (background work applied
on the kernel's event loop), :mod:`._export` (PNG/SVG/CSV/JSON); this module lays them out and
adds presets, the permalink and lecture mode.
"""

from __future__ import annotations

import contextlib
import functools
import html
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import ipywidgets as W
import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

from .._common import check_option
from ..tours import Tour
from ._export import Exporter
from ._graph import Graph, Stage, Task, View, inputs_of
from ._layers import Kept, decorations, draw_animated, layout_inputs, mark_animated, needs_layout
from ._layout import PX_PER_INCH, GridLayout
from ._params import SEED, Param, parse_query
from ._status import DEBUG_ENV, StatusLine
from ._tasks import EventLoop, TaskRecord, TaskRunner, kernel_io_loop
from ._tour import TourPlayer

__all__ = ["App", "DEBUG_ENV", "Param", "Results", "Stage", "Task", "View", "new_figure",
           "parse_query", "steady_limits"]

LECTURE_FONT_SCALE = 1.6
#: Set by Voila in the environment of a kernel it preheats (voila.utils.ENV_VARIABLE).
PREHEAT_ENV = "VOILA_PREHEAT"
#: URL keys with their own meaning, never control names.
RESERVED = ("preset", "lecture", "debug", "tour", "step")

_STYLE = """<style>
.explorer-lecture, .explorer-lecture .widget-label, .explorer-lecture .widget-readout,
.explorer-lecture .widget-html-content, .explorer-lecture select,
.explorer-lecture button {font-size: 20px !important;}
.explorer-lecture .widget-label {min-width: 12ex;}
.explorer-status-error {color: #b00020; font-weight: bold;}
.explorer-status-warning {color: #8a5a00;}
.explorer-status-ok {color: #1b5e20;}
.explorer-task-label {font-size: 90%; color: #444;}
.explorer-app .widget-button {overflow: visible; white-space: normal; height: auto;
  min-height: var(--jp-widgets-inline-height, 28px);}
.explorer-app .widget-button .widget-label-basic {overflow: visible;}
.explorer-controls .widget-dropdown > select {min-width: 0;}
.explorer-lecture .explorer-intro {display: none;}
.explorer-focus {outline: 3px solid #e8a317; outline-offset: 2px; border-radius: 2px;}
.explorer-tour-text {background: #fff8e6; border-left: 4px solid #e8a317;
  padding: 4px 10px; margin-bottom: 6px;}
.explorer-tour-text .widget-html-content {white-space: normal; line-height: 1.4;}
body:has(.explorer-lecture) .jp-MarkdownOutput {display: none;}
</style>"""


# --------------------------------------------------------------------------- figures


def new_figure(figsize=(9, 5), dpi=72) -> Figure:
    """A figure built once and then updated in place.

    In a kernel it gets an ipympl canvas (a widget the app lays out itself, so it is never
    auto-displayed twice) that shows its first rendering with the page
    (:class:`~explorer.apps._canvas.PageCanvas`); elsewhere (tests, CLI) a plain Agg figure
    with no pyplot state.
    Constrained layout keeps titles, labels and legends inside at any size and font scale.
    """
    if kernel_io_loop() is not None:
        from ._canvas import page_figure  # ipympl only where there is a page

        fig = page_figure(figsize, dpi)
        fig.canvas.header_visible = False
        fig.canvas.footer_visible = False
        fig.canvas.resizable = False
        fig.canvas.toolbar_visible = "fade-in-fade-out"  # zoom/pan on hover, no fixed space
        return fig
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def steady_limits(lo: float, hi: float, current: tuple[float, float] | None = None, *,
                  fill: float = 0.5) -> tuple[float, float]:
    """Axis limits for data spanning [lo, hi] that stay as they are while they still fit.

    ``current`` is kept when it holds [lo, hi] and [lo, hi] spans at least ``fill`` of it;
    otherwise the data range padded by 5% on each side. Limits that do not move on every
    slider step keep the tick labels too, so the view is redrawn over its cached decorations
    instead of from scratch.

    Examples
    --------
    >>> steady_limits(0.0, 10.0)
    (-0.5, 10.5)
    >>> steady_limits(2.0, 8.0, (-0.5, 10.5))
    (-0.5, 10.5)
    >>> steady_limits(2.0, 4.0, (-0.5, 10.5))
    (1.9, 4.1)
    """
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    if current is not None:
        c0, c1 = current
        if c0 <= lo and hi <= c1 and hi - lo >= fill * (c1 - c0):
            return current
    pad = 0.05 * (hi - lo) or 0.05 * abs(hi) or 0.05
    return lo - pad, hi + pad


def _figure_widget(fig: Figure) -> W.Widget:
    return fig.canvas if isinstance(fig.canvas, W.DOMWidget) else W.Output()


class Results(Mapping):
    """The stage values behind what is on screen, by stage name (also as attributes)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class _TaskRow:
    """A task's Run button, progress bar, Cancel button and one-line report."""

    def __init__(self, task: Task) -> None:
        self.run = W.Button(description=task.button, icon="play", tooltip=task.help or None,
                            layout={"width": "auto", "max_width": "100%"})
        self.progress = W.IntProgress(value=0, min=0, max=1, layout={"width": "auto",
                                                                      "flex": "1 1 auto"})
        self.cancel = W.Button(description="Cancel", icon="stop", disabled=True,
                               layout={"width": "auto"})
        self.label = W.HTML(value="").add_class("explorer-task-label")
        self.widget = W.VBox([W.HBox([self.run, self.cancel]), self.progress, self.label],
                             layout={"width": "100%"}).add_class(f"explorer-task-{task.name}")


# --------------------------------------------------------------------------- the app


class App:
    """An explorer app assembled from declarations.

    Parameters
    ----------
    title : str
    params : sequence of Param
        The controls, in display order. A ``seed`` control is always added.
    stages : sequence of Stage
        Compute steps, each reading controls and earlier stages.
    views : sequence of View
        The figures.
    tasks : sequence of Task
        Background tasks, each with its Run button.
    summary : callable, optional
        The status line after a good compute; its parameter names are its inputs.
    columns : callable, optional
        Export columns (``dict of 1-D arrays``); its parameter names are its inputs.
    presets : mapping, optional
        ``name -> {control: value}``; applied with one recompute.
    layout : sequence of sequences, optional
        The grid of views: rows of cells, a cell a view name or a tuple of names stacked in
        one column (see :class:`~explorer.apps._layout.GridLayout`); one column by default.
    intro : str, optional
        HTML (with $...$ math): the model in a few lines, above the app (hidden in lecture
        mode, which puts the app first).
    about : str, optional
        HTML (with $...$ math) explaining the views, folded behind "read more" (and folded
        away in lecture mode).
    query_string : str, optional
        Initial URL state; defaults to ``$QUERY_STRING`` (set by Voila).
    debug : bool, optional
        Show full tracebacks; defaults to ``$EXPLORER_DEBUG`` or ``?debug=1``.
    initial : mapping, optional
        Starting control values (validated; a bad one raises ``ValueError``); URL values
        override them.
    executor : Executor or callable, optional
        Where tasks' sweeps run (``ctx.executor``); a callable is resolved when a task starts
        (a ``ValueError`` from it goes to the status line).
    extra_widgets : sequence of Widget
        Further controls placed under the tasks (not part of the URL state).
    tours : mapping of str to Tour, optional
        Guided tours (:mod:`explorer.tours`), each checked against this app; a tour's
        position is part of the permalink (``tour=NAME&step=K``).

    Attributes
    ----------
    controls : dict of str to Widget
        Every control by name, including ``seed`` and ``preset``.
    result : Results
        The stage values behind the screen (the last good ones).
    state : dict
        The validated control values that produced ``result``.
    artists : dict
        Each view's artists, as its ``build`` returned them.
    n_recomputes : int
        Evaluations run (a preset costs exactly one).
    n_computes : int
        Stage function calls (the rest were cache hits).
    n_blits, n_layered : int
        Redraws of only the animated artists over a view's last full rendering: when only
        its overlay moved, and when its data changed but not its decorations.
    n_reframed : int
        Layered redraws that first drew again the decorations of the axes whose limits
        moved, in their part of the kept rendering (:meth:`Kept.redraw_axes`).
    """

    def __init__(
        self,
        *,
        title: str,
        params: Sequence[Param],
        stages: Sequence[Stage],
        views: Sequence[View],
        tasks: Sequence[Task] = (),
        summary: Callable[..., str] | None = None,
        columns: Callable[..., Mapping[str, Any]] | None = None,
        presets: Mapping[str, Mapping[str, Any]] | None = None,
        layout: Sequence[Sequence] | None = None,
        intro: str = "",
        about: str = "",
        query_string: str | None = None,
        debug: bool | None = None,
        initial: Mapping[str, Any] | None = None,
        executor: Any = None,
        extra_widgets: Sequence[W.Widget] = (),
        tours: Mapping[str, Tour] | None = None,
    ) -> None:
        self.title = title
        self.params = [*params, *([] if any(p.name == "seed" for p in params) else [SEED])]
        self._by_name = {p.name: p for p in self.params}
        for reserved in RESERVED:
            if reserved in self._by_name:
                raise ValueError(f"a control cannot be named {reserved!r}: the permalink "
                                 f"uses it (reserved: {', '.join(RESERVED)})")
        self.graph = Graph(list(self._by_name), stages, views, tasks)
        #: The stages each view needs (drawn as soon as they are done).
        self._needs = {name: self.graph.upstream(v.inputs) for name, v in self.graph.views.items()}
        for what, fn in (("summary", summary), ("columns", columns)):
            if fn is not None:
                self.graph.check_reads(what, fn)
        self._summary, self._columns = summary, columns
        self._executor = executor
        self.presets = {k: dict(v) for k, v in (presets or {}).items()}
        for name, values in self.presets.items():
            for key, value in values.items():
                if key not in self._by_name:
                    raise ValueError(f"preset {name!r} sets unknown control {key!r}")
                self._by_name[key].validate(value)

        self.result: Results = Results({})
        self.state: dict[str, Any] = {}
        self._keys: dict = {}
        self.n_recomputes = 0
        self._quiet = False
        self._drawn: dict[str, tuple] = {}
        self._layout_keys: dict[str, tuple] = {}
        self._kept: dict[str, Kept] = {}    # each view's last full rendering, for blitting
        self.n_blits = 0
        self.n_layered = 0
        self.n_reframed = 0
        self._base_fonts: dict[int, float] = {}

        self.status_line = StatusLine(debug)
        self.loop = EventLoop()
        safe = self.status_line.safe
        self.tasks = TaskRunner(self.loop, on_update=safe(self._on_task_update),
                                on_progress=safe(self._on_task_progress),
                                on_error=self.status_line.error)
        self.figures: dict[str, Figure] = {}
        self.artists: dict[str, Any] = {}
        for view in self.graph.views.values():
            fig = new_figure(figsize=view.figsize)
            self.figures[view.name] = fig
            # Titles at a fixed height: no view has ticks or labels above its axes, and
            # matplotlib's search for them costs 7 ms on every redraw of an axes.
            with matplotlib.rc_context({"axes.titley": 1.0}):
                self.artists[view.name] = view.build(fig)
        self.figure = next(iter(self.figures.values()), None)
        for view in self.graph.views.values():
            if view.on_press is not None:
                self._connect_pointer(view)
            self.figures[view.name].canvas.mpl_connect(
                "draw_event", functools.partial(self._on_full_draw, view.name))
        self.exporter = Exporter(self)

        self.controls: dict[str, W.Widget] = {p.name: p.make_widget() for p in self.params}
        self.preset_names = ["(custom)", *self.presets]
        self.controls["preset"] = W.Dropdown(
            options=self.preset_names, value="(custom)", description="preset",
            style={"description_width": "initial"})
        for name, widget in self.controls.items():
            if name == "preset":
                widget.observe(safe(self._on_preset), names="value")
            else:
                widget.observe(safe(functools.partial(self._on_control, name)), "value")
        self.task_rows = {name: _TaskRow(t) for name, t in self.graph.tasks.items()}
        for name, row in self.task_rows.items():
            row.run.on_click(safe(lambda _b, name=name: self.run(name)))
            row.cancel.on_click(safe(lambda _b, name=name: self.cancel(name)))
        self.tour_player = TourPlayer(tours or {}, self.go_to_step, safe)
        self.lecture = W.ToggleButton(value=False, description="Lecture", icon="desktop",
                                      tooltip="lecture mode: larger text, advanced hidden",
                                      layout={"width": "auto"})
        self.lecture.observe(safe(lambda ch: self.set_lecture(ch["new"])), names="value")
        self.permalink = W.HTML(value="").add_class("explorer-permalink")
        self.intro = W.HTMLMath(intro).add_class("explorer-intro") if intro else None
        self.about = W.Accordion([W.HTMLMath(about)], titles=("About these views (read more)",),
                                 selected_index=None) if about else None
        self.widget = self._layout(layout, extra_widgets)

        initial = dict(initial or {})
        for key, value in initial.items():
            if key not in self._by_name:
                raise ValueError(f"unknown control {key!r}; known: {', '.join(self._by_name)}")
            initial[key] = self._by_name[key].validate(value)
        query = os.environ.get("QUERY_STRING", "") if query_string is None else query_string
        self._apply_query(query, initial)
        if query_string is None and os.environ.get(PREHEAT_ENV, "False") != "False":
            # A preheated Voila kernel ran this before anyone asked for the page: the
            # visitor's query string arrives with the request. Wait for it off the kernel's
            # thread, then restore the permalink's state on the kernel's event loop.
            threading.Thread(target=self._await_request, name="explorer-request",
                             daemon=True).start()

    def _apply_query(self, query: str, initial: Mapping[str, Any]) -> None:
        """Controls from ``initial``, then the query's preset, tour step and values; one
        recompute (or none when a preheated page's visitor brought no query)."""
        tours = {name: len(t) for name, t in self.tour_player.tours.items()}
        url_state, url_warnings = parse_query(query, self.params, self.presets, tours)
        if url_state.pop("debug", False):
            self.status_line.debug = True
        lecture = url_state.pop("lecture", False)
        preset = url_state.pop("preset", None)
        tour, step = url_state.pop("tour", None), url_state.pop("step", None)
        if step is not None and (tour is None or step > tours[tour]):
            url_warnings.append(f"step {step} needs a tour with that many steps; "
                                + ("ignored" if tour is None else "starting at step 1"))
            step = None if tour is None else 1
        self.status_line.show_warnings(url_warnings, prefix="Ignored from the URL: ")
        at_step = self._step_values(tour, step or 1) if tour else {}
        values = {**initial, **(self.preset_values(preset) if preset else {}), **at_step,
                  **url_state}
        if self.state and not (values or preset or tour):
            self._update_permalink()             # the request's page address, same state
        else:
            self._set_values(values)
            if preset:
                self._set_quietly("preset", preset)
            if tour:
                self._show_step(tour, step or 1)
            self.status_line.safe(self.recompute)()
        if lecture:
            self.lecture.value = True

    def apply_query(self, query: str) -> None:
        """Restore the state a permalink's query string names (unknown or bad parts are
        ignored with a warning in the status line, as when the page is opened)."""
        self._apply_query(query, {})

    def _await_request(self) -> None:
        from voila.utils import wait_for_request

        wait_for_request()                         # blocks this thread until a visitor
        query = os.environ.get("QUERY_STRING", "")
        self.loop.post(lambda: self.status_line.safe(self.apply_query)(query))

    # ------------------------------------------------------------------ public helpers

    @property
    def debug(self) -> bool:
        return self.status_line.debug

    @property
    def status(self) -> W.HTML:
        return self.status_line.status

    @property
    def warnings(self) -> W.HTML:
        return self.status_line.warnings

    @property
    def debug_out(self) -> W.HTML:
        return self.status_line.debug_out

    @property
    def status_text(self) -> str:
        """The status line as plain text."""
        return self.status_line.text

    @property
    def warning_text(self) -> str:
        return self.status_line.warning_text

    @property
    def last_error(self) -> str | None:
        return self.status_line.last_error

    @property
    def n_computes(self) -> int:
        return self.graph.n_calls

    def recompute_controls(self) -> frozenset[str]:
        """Controls some stage reads (the others only re-view)."""
        return self.graph.recompute_params

    # ------------------------------------------------------------------ layout

    def _layout(self, layout, extra_widgets) -> W.Widget:
        control_widgets = [self.controls[p.name] for p in self.params]
        for p, w in zip(self.params, control_widgets, strict=True):
            w.layout.width = "100%"
            if p.advanced:
                w.add_class("explorer-advanced")
        left = W.VBox(
            [self.controls["preset"],
             *([self.tour_player.controls] if self.tour_player.tours else []),
             *control_widgets,
             *[row.widget for row in self.task_rows.values()], *extra_widgets],
            layout={"width": "300px", "min_width": "260px", "flex": "0 0 auto"},
        ).add_class("explorer-controls")
        header = W.HBox([W.HTML(f"<h3>{html.escape(self.title)}</h3>"), self.lecture],
                        layout={"justify_content": "space-between", "align_items": "center"})
        self._fig_widgets = {name: _figure_widget(f) for name, f in self.figures.items()}
        rows = layout if layout else [(name,) for name in self.figures]
        self.grid = GridLayout(rows, self._fig_widgets,
                               {n: v.figsize for n, v in self.graph.views.items()})
        self.grid.probe.observe(self.status_line.safe(self._on_measure),
                                names=["width", "viewport_height"])
        right = W.VBox([self.tour_player.narration, self.grid.widget],
                       layout={"flex": "1 1 auto", "min_width": "0"})
        body = W.HBox([left, right], layout={"align_items": "flex-start", "width": "100%"})
        return W.VBox(
            [W.HTML(_STYLE), header, *([self.intro] if self.intro else []),
             *([self.about] if self.about else []), body,
             self.status, self.warnings, self.permalink, self.exporter.widget, self.debug_out]
        ).add_class("explorer-app")

    def _on_measure(self, _change=None) -> None:
        probe = self.grid.probe
        if self.grid.measured(probe.width, probe.viewport_height):
            self.resize(probe.width, probe.viewport_height)

    def resize(self, width: int, viewport_height: int | None = None) -> None:
        """Size every view for a plot area ``width`` CSS pixels wide (what the page reports)."""
        for name, (w, h) in self.grid.view_sizes(width, viewport_height).items():
            fig = self.figures[name]
            fig.set_size_inches(w / PX_PER_INCH, h / PX_PER_INCH, forward=True)
            self._draw_figure(name)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ controls and presets

    def _read_state(self) -> dict[str, Any]:
        return {p.name: p.validate(self.controls[p.name].value) for p in self.params}

    def _set_quietly(self, name: str, value: Any) -> None:
        self._quiet = True
        try:
            self.controls[name].value = value
        finally:
            self._quiet = False

    def _set_values(self, values: Mapping[str, Any]) -> None:
        """Set several widgets at once without an evaluation per widget."""
        self._quiet = True
        try:
            with contextlib.ExitStack() as stack:
                for key in values:
                    stack.enter_context(self.controls[key].hold_sync())
                for key, value in values.items():
                    self.controls[key].value = value
        finally:
            self._quiet = False

    def set_state(self, values: Mapping[str, Any]) -> None:
        """Validate and apply several control values, then recompute once.

        An unknown control or a value outside its own range raises ``ValueError``; a
        combination the backend refuses is reported in the status line and the last good
        result stays, exactly as for a change made in the browser.
        """
        for key, value in values.items():
            if key not in self._by_name:
                raise ValueError(f"unknown control {key!r}")
            self._by_name[key].validate(value)
        self._set_values(values)
        self._set_quietly("preset", "(custom)")
        self.status_line.safe(self.recompute)()

    def preset_values(self, name: str) -> dict[str, Any]:
        """A preset's full state: its values over the defaults of every control a stage reads
        (the seed and re-view controls keep their values), so presets are reproducible."""
        check_option("preset", name, self.presets)
        base = {p.name: p.default for p in self.params
                if p.name in self.graph.recompute_params and p.name != "seed"}
        return {**base, **self.presets[name]}

    def apply_preset(self, name: str) -> None:
        """Set all of a preset's values at once, with exactly one recompute."""
        self._set_values(self.preset_values(name))
        self._set_quietly("preset", name)
        self.recompute()

    def _on_preset(self, change) -> None:
        if not self._quiet and change["new"] != "(custom)":
            self.apply_preset(change["new"])

    def _on_control(self, name: str, change) -> None:
        if self._quiet:
            return
        self._set_quietly("preset", "(custom)")
        self.recompute()

    # ------------------------------------------------------------------ evaluate and draw

    def recompute(self) -> None:
        """Validate every control, evaluate the stages (cached ones reused), redraw what changed.

        Runs on the kernel's thread only (a control change or a preset); background tasks
        never call it. A ``ValueError`` leaves the last good state, results and pixels.
        """
        self.n_recomputes += 1
        state = self._read_state()
        last_good = (self.state, self.result, self._keys)
        seen: set[str] = set()

        def draw_ready(values, keys) -> None:
            # A view whose stages are all done is drawn now (the first view's stages start
            # first), while the slower stages still run on the other core.
            ready = [name for name, needs in self._needs.items()
                     if name not in seen and needs <= values.keys()]
            if ready:
                seen.update(ready)
                self.state, self.result, self._keys = state, Results(values), dict(keys)
                self._redraw(only=ready)

        try:
            values, keys, notes = self.graph.evaluate(state, draw_ready)
        except Exception:
            if seen:            # views drawn early show the last good result again
                self.state, self.result, self._keys = last_good
                self._redraw()
            raise
        self.state, self.result, self._keys = state, Results(values), keys
        self._redraw()
        summary = self._call(self._summary) if self._summary else "ok"
        if notes:
            self.status_line.set(f"{summary}. Note: {'; '.join(notes)}", "warning")
        else:
            self.status_line.set(summary, "ok")
        for name in self.task_rows:
            self._update_task_label(name)
        self._update_permalink()

    def _inputs(self, names: Sequence[str]) -> dict[str, Any]:
        """Stage values and control values by name, as the current settings give them."""
        return {i: self.result[i] if i in self.result else self.state[i] for i in names}

    def _call(self, fn: Callable) -> Any:
        """``fn`` applied to the inputs its parameter names declare."""
        return fn(**self._inputs(inputs_of(fn)))

    def task_key(self, name: str) -> tuple:
        """The key of task ``name``'s inputs under the current settings."""
        return self.graph.key_of(self.graph.tasks[name].inputs, self.state, self._keys)

    def task_result(self, name: str) -> TaskRecord | None:
        """Task ``name``'s result for the current settings (partial while running), or None."""
        check_option("task", name, self.graph.tasks)
        return self.tasks.record(name, self.task_key(name))

    def _view_inputs(self, names: Sequence[str]) -> tuple[tuple, dict]:
        key, args = [], {}
        for name in names:
            if name in self.graph.tasks:
                rec = self.task_result(name)
                key.append(None if rec is None else (id(rec), rec.version))
                args[name] = None if rec is None else rec.value
            elif name in self.result:
                key.append(self._keys[name])
                args[name] = self.result[name]
            else:
                key.append(self.state[name])
                args[name] = self.state[name]
        return tuple(key), args

    def _redraw(self, force: bool = False, only: Sequence[str] | None = None) -> list[str]:
        """Draw the views whose inputs changed since they were drawn; return their names.

        A view whose changed inputs all belong to its ``overlay`` is blitted: only its
        animated artists are drawn again, over its last full rendering. A view whose data
        changed is drawn again over that rendering too when its decorations (texts, limits,
        ticks, size) are as they were; otherwise it gets a full draw. ``only``: look at these
        views alone (those whose stages are done while others still run).
        """
        data, blit = [], []
        for name, view in self.graph.views.items():
            if only is not None and name not in only:
                continue
            key, args = self._view_inputs(view.draw_inputs)
            over_key, over_args = self._view_inputs(view.overlay_inputs)
            drawn = self._drawn.get(name)
            if force or drawn is None or drawn[0] != key:
                view.draw(self.artists[name], **args)
                data.append(name)
            elif drawn[1] != over_key:
                blit.append(name)
            else:
                continue
            if view.overlay is not None:
                view.overlay(self.artists[name], **over_args)
            self._drawn[name] = (key, over_key)
        if self.lecture.value and (data or blit):
            self._scale_fonts(LECTURE_FONT_SCALE)
        # In the order of the views: the first (the one a page shows first) is on the
        # screen before the others are drawn.
        for name in self.graph.views:
            if name in data or name in blit:
                self._blit_figure(name, overlay_only=name in blit)
        return data + blit

    def _on_full_draw(self, name: str, event) -> None:
        """After a full rendering: keep it without the animated artists, then draw them."""
        canvas = self.figures[name].canvas
        if not hasattr(canvas, "copy_from_bbox") or canvas.is_saving():
            return                  # an export (other dpi, other canvas): nothing to keep
        self._kept[name] = Kept.keep(self.figures[name], event.renderer)

    def _blit_figure(self, name: str, overlay_only: bool = True) -> None:
        """Draw the animated artists over the last full rendering, or fall back to a full draw.

        An axes whose limits moved has its decorations drawn again in its own part of the
        kept rendering first, unless the figure must be laid out again. The fallback covers
        a figure never rendered yet, and a change of a title, a label, a legend's entries or
        the size. ``overlay_only``: only a view's overlay moved (counted in ``n_blits``; a
        data change in ``n_layered``, and in ``n_reframed`` too if limits moved).
        """
        fig = self.figures[name]
        mark_animated(fig)
        kept = self._kept.get(name)
        if kept is None:
            self._draw_figure(name)
            return
        canvas = fig.canvas
        now = decorations(fig)
        if now == kept.decorations:
            canvas.restore_region(kept.region)
        elif (needs_layout(self._layout_keys.get(name), layout_inputs(fig))
              or not kept.redraw_axes(fig, now)):
            self._draw_figure(name)
            return
        else:
            self.n_reframed += 1        # the buffer holds the kept rendering, just redrawn
        draw_animated(fig, canvas.get_renderer(), kept.layers, kept.texts)
        canvas.blit(fig.bbox)
        if overlay_only:
            self.n_blits += 1
        else:
            self.n_layered += 1

    def _draw_figure(self, name: str) -> None:
        """Ask for a redraw; lay the figure out again only if :func:`needs_layout` says so.

        Constrained layout doubles the cost of a draw, and most changes (new data, limits
        that move with it, a cursor) leave titles, legends and tick-label sizes as they were:
        the layout is then kept (engine "none") and only the artists are drawn.
        """
        fig = self.figures[name]
        mark_animated(fig)
        key = layout_inputs(fig)
        if needs_layout(self._layout_keys.get(name), key):
            fig.set_layout_engine("constrained")
            self._layout_keys[name] = key
        else:
            fig.set_layout_engine("none")
        fig.canvas.draw_idle()

    # ------------------------------------------------------------------ direct manipulation

    def _connect_pointer(self, view: View) -> None:
        canvas = self.figures[view.name].canvas
        safe = self.status_line.safe

        def on_event(event) -> None:
            if event.inaxes is None or event.xdata is None:
                return
            if event.name == "motion_notify_event" and not (view.drag and event.button):
                return
            toolbar = getattr(canvas, "toolbar", None)
            if toolbar is not None and getattr(toolbar, "mode", ""):
                return                               # zoom or pan owns the pointer
            self.press(view.name, event.xdata, event.ydata, ax=event.inaxes)

        canvas.mpl_connect("button_press_event", safe(on_event))
        if view.drag:
            canvas.mpl_connect("motion_notify_event", safe(on_event))

    def press(self, view: str, x: float, y: float, ax=None) -> None:
        """A click at data coordinates (x, y) of a view (its first axes unless ``ax``).

        What the browser's pointer events call; tests call it directly.
        """
        v = self.graph.views[check_option("view", view, self.graph.views)]
        if v.on_press is None:
            raise ValueError(f"view {view!r} does not take clicks")
        artists = self.artists[view]
        ax = ax if ax is not None else self.figures[view].axes[0]
        values = dict(v.on_press(artists, ax, float(x), float(y)) or {})
        if values:
            self.set_state(values)

    # ------------------------------------------------------------------ tasks

    def unavailable(self, name: str) -> str | None:
        """Why task ``name`` cannot run with the current settings, or None."""
        task = self.graph.tasks[check_option("task", name, self.graph.tasks)]
        if task.unavailable is None:
            return None
        return self._call(task.unavailable)

    def run(self, name: str) -> None:
        """Start task ``name`` on the current (last good) settings."""
        reason = self.unavailable(name)
        if reason:
            raise ValueError(reason)
        task = self.graph.tasks[check_option("task", name, self.graph.tasks)]
        inputs = self._inputs(task.inputs)
        executor = self._executor() if callable(self._executor) else self._executor
        self.tasks.start(name, task.work, inputs, self.task_key(name), executor)
        row = self.task_rows[name]
        row.cancel.disabled = False
        row.progress.value = 0
        row.label.value = "starting"

    def cancel(self, name: str | None = None) -> None:
        """Ask a running task (all when None) to stop; it keeps what it finished."""
        self.tasks.cancel(name)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every task ended and its results were applied (tests and the CLI)."""
        return self.tasks.wait(timeout)

    def _on_task_update(self, name: str) -> None:      # on the event loop
        self._redraw()
        self._update_task_label(name)

    def _on_task_progress(self, name: str, done: int, total: int, running: bool) -> None:
        row = self.task_rows[name]
        with row.progress.hold_sync():
            row.progress.max = max(total, 1)
            row.progress.value = min(done, row.progress.max)
        row.cancel.disabled = not running
        if running:
            row.label.value = html.escape(f"{done} of {total}")
        else:
            self._update_task_label(name)

    def _update_task_label(self, name: str) -> None:
        row = self.task_rows[name]
        if self.tasks.running(name):
            return
        reason = self.unavailable(name)
        row.run.disabled = bool(reason)
        row.run.tooltip = reason or (self.graph.tasks[name].help or None)
        if reason:
            row.label.value = html.escape(reason)
            return
        rec = self.task_result(name)
        others = self.tasks.records.get(name, {})
        if rec is not None:
            how = "cancelled; partial result shown" if rec.cancelled else (
                f"done in {rec.seconds:.1f} s" if rec.complete else "running")
            text = how + (f" (note: {'; '.join(rec.notes)})" if rec.notes else "")
        elif others:
            last = next(reversed(others.values()))
            changed = [i for i in self.graph.tasks[name].inputs
                       if i in self.state and last.inputs.get(i) != self.state[i]]
            text = ("result hidden: computed for other settings"
                    + (f" ({', '.join(changed)})" if changed else "") + "; press Run")
        else:
            text = ""
        row.label.value = html.escape(text)

    # ------------------------------------------------------------------ tours

    def _step_values(self, name: str, step: int) -> dict[str, Any]:
        """The controls a tour step sets: its preset's full state, then its own values."""
        s = self.tour_player.tours[name].steps[step - 1]
        return {**(self.preset_values(s.preset) if s.preset else {}),
                **{k: self._by_name[k].validate(v) for k, v in s.values.items()}}

    def _show_step(self, name: str | None, step: int) -> None:
        self.tour_player.show(name, step)
        view = self.tour_player.tour.steps[step - 1].view if name else None
        for vname, widget in self._fig_widgets.items():
            if vname == view:
                widget.add_class("explorer-focus")
            else:
                widget.remove_class("explorer-focus")

    def go_to_step(self, name: str | None, step: int = 1) -> None:
        """Show step ``step`` (1-based) of tour ``name``: its controls with one recompute,
        its narration and its view highlighted; ``name=None`` closes the tour."""
        if name is None:
            self._show_step(None, 0)
            self._update_permalink()
            return
        tour = self.tour_player.tours.get(name)
        if tour is None:
            raise ValueError(f"unknown tour {name!r}; known: "
                             f"{', '.join(self.tour_player.tours) or '(none)'}")
        if not 1 <= step <= len(tour):
            raise ValueError(f"step must be in [1, {len(tour)}] for tour {name!r}; got {step}")
        s = tour.steps[step - 1]
        self._set_values(self._step_values(name, step))
        self._set_quietly("preset", s.preset if s.preset and not s.values else "(custom)")
        self._show_step(name, step)
        self.status_line.safe(self.recompute)()

    def next_step(self) -> None:
        """The tour's next step (the Next button)."""
        self.tour_player._move(+1)

    def previous_step(self) -> None:
        """The tour's previous step (the Back button)."""
        self.tour_player._move(-1)

    # ------------------------------------------------------------------ permalink

    def query_string(self, state: Mapping[str, Any] | None = None) -> str:
        """The whole state as a URL query string (only values that differ from defaults)."""
        state = self.state if state is None else state
        items = [(p.name, p.format(state[p.name])) for p in self.params
                 if p.name in state and state[p.name] != p.default]
        preset = self.controls["preset"].value
        if preset != "(custom)":
            items.insert(0, ("preset", preset))
        if self.tour_player.tour is not None:
            items += [("tour", self.tour_player.name), ("step", str(self.tour_player.step))]
        if self.lecture.value:
            items.append(("lecture", "1"))
        return urllib.parse.urlencode(items)

    def _update_permalink(self) -> None:
        qs = self.query_string()
        base = os.environ.get("SCRIPT_NAME", "")
        href = f"{base}?{qs}" if qs else (base or "?")
        self.permalink.value = (
            f'Permalink: <a class="explorer-permalink-link" href="{html.escape(href)}" '
            f'target="_blank">{html.escape("?" + qs if qs else "(defaults)")}</a>'
        )

    # ------------------------------------------------------------------ lecture mode

    def set_lecture(self, on: bool) -> None:
        """Hide advanced controls and enlarge fonts (widgets and figures) for a projector."""
        on = bool(on)
        if self.lecture.value != on:
            self.lecture.value = on
            return
        for p in self.params:
            self.controls[p.name].layout.display = "none" if (on and p.advanced) else None
        if on:
            self.widget.add_class("explorer-lecture")
            if self.about is not None:
                self.about.selected_index = None      # the app first; the text on demand
        else:
            self.widget.remove_class("explorer-lecture")
        self._scale_fonts(LECTURE_FONT_SCALE if on else 1.0)
        for name in self.figures:
            self._draw_figure(name)
        if self.state:
            self._update_permalink()

    def _scale_fonts(self, factor: float) -> None:
        for text in (t for f in self.figures.values() for t in f.findobj(Text)):
            base = self._base_fonts.setdefault(id(text), text.get_fontsize())
            text.set_fontsize(base * factor)

    # ------------------------------------------------------------------ export

    def export_figure(self, fmt: str = "png", name: str | None = None) -> bytes:
        """A figure (the first, or ``name``) as PNG or SVG bytes."""
        return self.exporter.figure(fmt, name)

    def export_result(self, fmt: str = "csv") -> str:
        """The current result, task results included, as CSV or JSON (with the state)."""
        return self.exporter.result(fmt)

    @property
    def export_buttons(self) -> dict[str, W.Button]:
        return self.exporter.buttons

    @property
    def download(self) -> W.HTML:
        return self.exporter.download

    def export_columns(self) -> dict[str, np.ndarray]:
        """The export columns: the app's, then each task's current result, prefixed."""
        cols = {k: np.atleast_1d(v) for k, v in
                (self._call(self._columns) if self._columns
                 else {}).items()}
        for name, task in self.graph.tasks.items():
            rec = self.task_result(name)
            if rec is not None and task.columns is not None and rec.value is not None:
                cols.update({f"{name}.{k}": np.atleast_1d(v)
                             for k, v in task.columns(rec.value).items()})
        return cols

    def export_tasks(self) -> dict[str, Any]:
        """Each task's current result status and inputs (for the JSON export)."""
        out = {}
        for name in self.graph.tasks:
            rec = self.task_result(name)
            if rec is not None:
                out[name] = {"complete": rec.complete, "cancelled": rec.cancelled,
                             "seconds": rec.seconds}
        return out
