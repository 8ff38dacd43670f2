"""Pieces every explorer app shares: validated controls, safe callbacks, presets, permalinks,
progress with cancel, lecture mode and export.

An app is described by data (a list of :class:`Param`, a pure ``compute``
function that calls the backend, and a ``render`` function that moves artists)
and assembled by :class:`App`. Widget values are untrusted (a Voila client can
send any trait value over the comm channel), so every value is re-validated on
the server before it reaches the backend, and URL query strings are parsed by
strict per-type rules: nothing is ever evaluated.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import functools
import html
import io
import json
import logging
import math
import os
import re
import threading
import traceback
import urllib.parse
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

from .._common import check_int, check_option, check_real

log = logging.getLogger("explorer.apps")

__all__ = ["App", "ChangeTracker", "Param", "new_figure", "parse_query", "DEBUG_ENV"]

DEBUG_ENV = "EXPLORER_DEBUG"
MAX_QUERY_LENGTH = 4000
MAX_VALUE_LENGTH = 64
SEED_MAX = 2**32 - 1
LECTURE_FONT_SCALE = 1.6
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
_STYLE = """<style>
.explorer-lecture, .explorer-lecture .widget-label, .explorer-lecture .widget-readout,
.explorer-lecture .widget-html-content, .explorer-lecture select,
.explorer-lecture button {font-size: 20px !important;}
.explorer-lecture .widget-label {min-width: 12ex;}
.explorer-status-error {color: #b00020; font-weight: bold;}
.explorer-status-warning {color: #8a5a00;}
.explorer-status-ok {color: #1b5e20;}
</style>"""


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Param:
    """One control: its type, default, range, widget and URL key.

    Parameters
    ----------
    name : str
        Key in the app state and in the URL query string.
    kind : {"float", "int", "choice", "bool"}
    default : value
    lo, hi : float, optional
        Allowed closed range for numbers (``lo_open``/``hi_open`` make it open).
    options : sequence of str, optional
        Allowed values of a choice.
    even : bool
        Integers must be even.
    step : float, optional
        Slider step.
    label, help : str
        Shown next to the control and as its tooltip.
    advanced : bool
        Hidden in lecture mode.
    recompute : bool
        False for view-only controls (log scale, which run to highlight): they
        re-render the cached result instead of recomputing.
    """

    name: str
    kind: str
    default: Any
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    options: Sequence[str] = ()
    even: bool = False
    step: float | None = None
    label: str = ""
    help: str = ""
    advanced: bool = False
    recompute: bool = True
    readout_format: str = ".3g"

    def __post_init__(self) -> None:
        check_option("kind", self.kind, ("float", "int", "choice", "bool"))
        self.validate(self.default)

    def validate(self, value: Any) -> Any:
        """Server-side check of a widget or URL value; ``ValueError`` names the control."""
        if self.kind == "float":
            lo = -math.inf if self.lo is None else self.lo
            hi = math.inf if self.hi is None else self.hi
            return check_real(self.name, value, lo, hi, lo_open=self.lo_open, hi_open=self.hi_open)
        if self.kind == "int":
            lo = None if self.lo is None else int(self.lo)
            hi = None if self.hi is None else int(self.hi)
            return check_int(self.name, value, lo, hi, even=self.even)
        if self.kind == "choice":
            return check_option(self.name, value, self.options)
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"{self.name} must be true or false; got {value!r:.40}")
        return bool(value)

    def parse(self, text: str) -> Any:
        """Parse a URL value by strict per-type rules, then :meth:`validate`. Never evaluates."""
        if len(text) > MAX_VALUE_LENGTH:
            raise ValueError(f"{self.name}: value longer than {MAX_VALUE_LENGTH} characters")
        if self.kind in ("float", "int"):
            if not _NUMBER.match(text):
                raise ValueError(f"{self.name} must be a number; got {text!r}")
            value = float(text)
            if self.kind == "int":
                if not value.is_integer():
                    raise ValueError(f"{self.name} must be an integer; got {text!r}")
                value = int(value)
            return self.validate(value)
        if self.kind == "bool":
            low = text.lower()
            if low not in _TRUE | _FALSE:
                raise ValueError(f"{self.name} must be 0 or 1; got {text!r}")
            return low in _TRUE
        return self.validate(text)

    def format(self, value: Any) -> str:
        """The URL form of a value (the inverse of :meth:`parse`)."""
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "float":
            return repr(float(value))
        return str(value)

    def make_widget(self) -> W.ValueWidget:
        common = dict(
            description=self.label or self.name,
            description_allow_html=False,
            tooltip=self.help or None,
            style={"description_width": "initial"},
        )
        if self.kind == "float":
            lo = self.lo if self.lo is not None else 0.0
            hi = self.hi if self.hi is not None else 1.0
            step = self.step or (hi - lo) / 100
            return W.FloatSlider(
                value=self.default, min=lo, max=hi, step=step, continuous_update=False,
                readout_format=self.readout_format, **common,
            )
        if self.kind == "int":
            lo = int(self.lo) if self.lo is not None else 0
            hi = int(self.hi) if self.hi is not None else 100
            step = int(self.step or (2 if self.even else 1))
            if hi - lo > 1_000_000:  # seeds and the like: a slider cannot aim that finely
                return W.BoundedIntText(value=self.default, min=lo, max=hi, step=step, **common)
            return W.IntSlider(
                value=self.default, min=lo, max=hi, step=step, continuous_update=False, **common
            )
        if self.kind == "choice":
            return W.Dropdown(options=list(self.options), value=self.default, **common)
        return W.Checkbox(value=self.default, indent=False, **common)


SEED = Param("seed", "int", 0, lo=0, hi=SEED_MAX, label="seed", help="root random seed")


def parse_query(
    query: str, params: Sequence[Param], presets: Mapping[str, Mapping[str, Any]] = ()
) -> tuple[dict[str, Any], list[str]]:
    """Turn a URL query string into validated state plus human-readable warnings.

    Unknown keys, malformed or out-of-range values, over-long input and
    anything code-like are dropped (the default stays) with a warning. Never
    raises for any input string and never evaluates it.

    Returns
    -------
    state : dict
        Validated values for the keys that parsed, plus ``preset``, ``lecture``
        and ``debug`` when given.
    warnings : list of str
    """
    state: dict[str, Any] = {}
    warnings: list[str] = []
    if not query:
        return state, warnings
    query = query.lstrip("?")
    if len(query) > MAX_QUERY_LENGTH:
        return state, [f"the URL query is longer than {MAX_QUERY_LENGTH} characters; ignored"]
    by_name = {p.name: p for p in params}
    by_name.setdefault("seed", SEED)
    flags = {"lecture": Param("lecture", "bool", False), "debug": Param("debug", "bool", False)}
    try:
        pairs = urllib.parse.parse_qsl(
            query, keep_blank_values=True, max_num_fields=len(by_name) + 8
        )
    except ValueError:
        return state, ["the URL query has too many fields; ignored"]
    for key, text in pairs:
        shown_key = key if len(key) <= 20 else key[:17] + "..."
        if key == "preset":
            if text in presets:
                state["preset"] = text
            else:
                warnings.append(f"unknown preset {text[:30]!r} ignored")
            continue
        param = by_name.get(key) or flags.get(key)
        if param is None:
            warnings.append(f"unknown key {shown_key!r} ignored")
            continue
        try:
            state[key] = param.parse(text)
        except ValueError as exc:
            warnings.append(f"{exc}; using the default")
    return state, warnings


# --------------------------------------------------------------------------- figures


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def new_figure(figsize=(9, 5), dpi=72) -> Figure:
    """A figure built once and then updated in place.

    In a kernel it gets an ipympl canvas (a widget the app lays out itself, so
    it is never auto-displayed twice); elsewhere (tests, CLI) a plain Agg
    figure with no pyplot global state.
    """
    if _in_kernel():
        import matplotlib.pyplot as plt

        plt.switch_backend("module://ipympl.backend_nbagg")
        with plt.ioff():
            fig = plt.figure(figsize=figsize, dpi=dpi)
        fig.canvas.header_visible = False
        fig.canvas.footer_visible = False
        fig.canvas.resizable = False
        fig.canvas.toolbar_visible = "fade-in-fade-out"  # zoom/pan on hover, no fixed space
        return fig
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _figure_widget(fig: Figure) -> W.Widget:
    if isinstance(fig.canvas, W.DOMWidget):
        return fig.canvas
    out = W.Output()
    return out


class ChangeTracker:
    """Remembers what each view last showed, so ``render`` redraws only views whose inputs moved.

    Inputs are compared by identity (results are immutable and cached) and plain values by
    equality; holding the references means a recycled ``id`` can never fool it.
    """

    _SCALARS = (int, float, str, bool, type(None))

    def __init__(self) -> None:
        self.keys: dict[str, tuple] = {}

    def changed(self, name: str, key: tuple) -> bool:
        """True (and remembered) when a view's inputs differ from the last render."""
        old = self.keys.get(name)
        if old is not None and len(old) == len(key) and all(
                a is b or (isinstance(a, self._SCALARS) and isinstance(b, self._SCALARS)
                           and a == b)
                for a, b in zip(old, key, strict=True)):
            return False
        self.keys[name] = key
        return True


# --------------------------------------------------------------------------- the app


@dataclass
class _Task:
    thread: threading.Thread
    cancel: threading.Event
    label: str


class App:
    """An explorer app assembled from a parameter list, a pure compute and a render function.

    Parameters
    ----------
    title : str
    params : sequence of Param
        The controls, in display order. A ``seed`` control is always added.
    compute : callable
        ``compute(state) -> result``; calls the backend only. ``ValueError`` from it
        is shown in the status line and the last good result is kept.
    figure : Figure, or mapping of str to Figure
        Built once (see :func:`new_figure`). Several named figures are separate canvases
        (linked views): only those ``render`` reports as changed are redrawn.
    render : callable
        ``render(app, result, state)``: moves artists (``set_data``); no math. It may
        return the names of the figures it changed (None means all).
    figure_layout : callable, optional
        ``figure_layout(widgets)`` arranges the figures' widgets (name -> widget); by
        default they are stacked.
    summary : callable, optional
        ``summary(result, state) -> str``: the status line after a good compute.
    columns : callable, optional
        ``columns(result) -> dict[str, 1-D array]`` for CSV/JSON export.
    presets : mapping, optional
        ``name -> {param: value}``; applied with one recompute.
    query_string : str, optional
        Initial URL state; defaults to ``$QUERY_STRING`` (set by Voila).
    debug : bool, optional
        Show full tracebacks; defaults to ``$EXPLORER_DEBUG`` or ``?debug=1``.
    extra_widgets : sequence of Widget
        Extra controls (e.g. Run buttons for long tasks) placed under the sliders.
    views : object, optional
        The app's artists, kept as ``app.views`` for ``render``.
    initial : mapping, optional
        Starting control values (validated; a bad one raises ``ValueError``).
        URL values override them.
    defer_first : bool
        Leave the first compute to :meth:`start`, so that the caller can attach
        state the render function reads.

    Attributes
    ----------
    controls : dict of str to Widget
        Every control, by name, including ``seed`` and ``preset``.
    result
        The last good result.
    state : dict
        The validated values that produced ``result``.
    n_recomputes : int
        How many times the recompute path ran (a preset costs exactly one).
    n_computes : int
        How many of those called ``compute`` (the rest were cache hits).
    """

    def __init__(
        self,
        *,
        title: str,
        params: Sequence[Param],
        compute: Callable[[dict], Any],
        figure: Figure | Mapping[str, Figure],
        render: Callable[[App, Any, dict], Any],
        summary: Callable[[Any, dict], str] | None = None,
        columns: Callable[[Any], Mapping[str, np.ndarray]] | None = None,
        presets: Mapping[str, Mapping[str, Any]] | None = None,
        query_string: str | None = None,
        debug: bool | None = None,
        extra_widgets: Sequence[W.Widget] = (),
        views: Any = None,
        initial: Mapping[str, Any] | None = None,
        cache_size: int = 32,
        defer_first: bool = False,
        figure_layout: Callable[[dict[str, W.Widget]], W.Widget] | None = None,
    ) -> None:
        self.title = title
        self.views = views
        self.params = [*params, *([] if any(p.name == "seed" for p in params) else [SEED])]
        self._by_name = {p.name: p for p in self.params}
        self._compute = compute
        self._render = render
        self._summary = summary or (lambda result, state: "ok")
        self._columns = columns
        self.figures = dict(figure) if isinstance(figure, Mapping) else {"figure": figure}
        self.figure = next(iter(self.figures.values()))
        self._figure_layout = figure_layout
        self.presets = {k: dict(v) for k, v in (presets or {}).items()}
        for name, values in self.presets.items():
            for key, value in values.items():
                if key not in self._by_name:
                    raise ValueError(f"preset {name!r} sets unknown control {key!r}")
                self._by_name[key].validate(value)
        self.result: Any = None
        self.state: dict[str, Any] = {}
        self.n_computes = 0
        self.n_recomputes = 0
        self.last_error: str | None = None
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._quiet = False
        self._task: _Task | None = None
        self._lock = threading.RLock()
        self._base_fonts: dict[int, float] = {}
        self.debug = (
            os.environ.get(DEBUG_ENV, "").strip().lower() in _TRUE if debug is None else debug
        )

        self.controls: dict[str, W.Widget] = {p.name: p.make_widget() for p in self.params}
        self.preset_names = ["(custom)", *self.presets]
        self.controls["preset"] = W.Dropdown(
            options=self.preset_names, value="(custom)", description="preset",
            style={"description_width": "initial"},
        )
        self.status = W.HTML(value="").add_class("explorer-status")
        self.warnings = W.HTML(value="").add_class("explorer-warnings")
        self.permalink = W.HTML(value="").add_class("explorer-permalink")
        self.debug_out = W.HTML(value="").add_class("explorer-debug")
        self.progress = W.IntProgress(value=0, min=0, max=1, layout={"width": "40%"})
        self.progress_label = W.Label(value="")
        self.cancel_button = W.Button(description="Cancel", icon="stop", disabled=True)
        self.lecture = W.ToggleButton(value=False, description="Lecture mode", icon="desktop")
        self.export_buttons = {
            fmt: W.Button(description=fmt.upper(), tooltip=f"export as {fmt.upper()}",
                          layout={"width": "auto"})
            for fmt in ("png", "svg", "csv", "json")
        }
        self.download = W.HTML(value="").add_class("explorer-download")
        self.export_which = W.Dropdown(options=list(self.figures), value=next(iter(self.figures)),
                                       description="view", layout={"width": "auto"},
                                       style={"description_width": "initial"})

        for name, widget in self.controls.items():
            if name == "preset":
                widget.observe(self._safe(self._on_preset), names="value")
            else:
                widget.observe(self._safe(functools.partial(self._on_control, name)), "value")
        self.cancel_button.on_click(self._safe(lambda _b: self.cancel()))
        self.lecture.observe(self._safe(lambda ch: self.set_lecture(ch["new"])), names="value")
        for fmt, button in self.export_buttons.items():
            button.on_click(self._safe(functools.partial(self._on_export, fmt)))

        self.widget = self._layout(extra_widgets)

        initial = dict(initial or {})
        for key, value in initial.items():
            if key not in self._by_name:
                raise ValueError(f"unknown control {key!r}; known: {', '.join(self._by_name)}")
            initial[key] = self._by_name[key].validate(value)
        query = os.environ.get("QUERY_STRING", "") if query_string is None else query_string
        url_state, url_warnings = parse_query(query, self.params, self.presets)
        if url_state.pop("debug", False):
            self.debug = True
        self._show_warnings(url_warnings, prefix="Ignored from the URL: ")
        self._pending = (initial, url_state)
        if not defer_first:
            self.start()

    def start(self) -> None:
        """Apply the initial and URL state, then the first compute (once)."""
        if self._pending is None:
            return
        initial, url_state = self._pending
        self._pending = None
        lecture = url_state.pop("lecture", False)
        self._safe(self._initial_state)(initial, url_state)
        if lecture:
            self.lecture.value = True

    # ------------------------------------------------------------------ layout

    def _layout(self, extra_widgets: Sequence[W.Widget]) -> W.Widget:
        control_widgets = [self.controls[p.name] for p in self.params]
        for p, w in zip(self.params, control_widgets, strict=True):
            w.layout.width = "100%"
            if p.advanced:
                w.add_class("explorer-advanced")
        left = W.VBox(
            [self.controls["preset"], *control_widgets, *extra_widgets],
            layout={"width": "300px", "min_width": "260px", "flex": "0 0 auto"},
        )
        header = W.HBox([W.HTML(f"<h3>{html.escape(self.title)}</h3>"), self.lecture],
                        layout={"justify_content": "space-between", "align_items": "center"})
        fig_widgets = {name: _figure_widget(f) for name, f in self.figures.items()}
        plots = (self._figure_layout(fig_widgets) if self._figure_layout
                 else W.VBox(list(fig_widgets.values())))
        plots.layout.flex = "1 1 auto"
        body = W.HBox([left, plots], layout={"align_items": "flex-start"})
        task_row = W.HBox([self.progress, self.progress_label, self.cancel_button])
        export_row = W.HBox([
            W.Label("Export:"),
            *([self.export_which] if len(self.figures) > 1 else []),
            *self.export_buttons.values(), self.download,
        ])
        root = W.VBox(
            [W.HTML(_STYLE), header, body, self.status, self.warnings, task_row,
             self.permalink, export_row, self.debug_out]
        ).add_class("explorer-app")
        return root

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ safe callbacks

    def _safe(self, fn: Callable) -> Callable:
        """Route every callback through one handler (in Voila an unhandled one vanishes).

        ``ValueError`` is a user mistake: its message goes to the status line and
        the last good result stays. Anything else is a bug: a short message, the
        traceback to the log, and the traceback on screen only in debug mode.
        """

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except ValueError as exc:
                self._set_status(str(exc), "error")
                self.last_error = str(exc)
            except Exception as exc:  # noqa: BLE001 - the whole point is to catch everything
                log.exception("callback %s failed", getattr(fn, "__name__", fn))
                msg = f"Internal error ({type(exc).__name__}); the last good result is kept."
                self._set_status(msg, "error")
                self.last_error = msg
                if self.debug:
                    tb = "".join(traceback.format_exception(exc))
                    self.debug_out.value = f"<pre>{html.escape(tb)}</pre>"
            return None

        return wrapper

    def _set_status(self, message: str, level: str = "ok") -> None:
        self.status.value = (
            f'<span class="explorer-status-{level}">{html.escape(message)}</span>'
        )

    def _show_warnings(self, warnings: Sequence[str], prefix: str = "") -> None:
        text = "; ".join(warnings)
        self.warnings.value = (
            f'<span class="explorer-status-warning">{html.escape(prefix + text)}</span>'
            if warnings else ""
        )

    @property
    def status_text(self) -> str:
        """The status line as plain text."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.status.value))

    @property
    def warning_text(self) -> str:
        return html.unescape(re.sub(r"<[^>]+>", "", self.warnings.value))

    # ------------------------------------------------------------------ state

    def _read_state(self) -> dict[str, Any]:
        return {p.name: p.validate(self.controls[p.name].value) for p in self.params}

    def _set_values(self, values: Mapping[str, Any]) -> None:
        """Set several widgets at once without triggering a recompute per widget."""
        self._quiet = True
        try:
            with contextlib.ExitStack() as stack:
                for key in values:
                    stack.enter_context(self.controls[key].hold_sync())
                for key, value in values.items():
                    self.controls[key].value = value
        finally:
            self._quiet = False

    def _initial_state(self, initial: dict[str, Any], url_state: dict[str, Any]) -> None:
        preset = url_state.pop("preset", None)
        values = {**initial, **(self.preset_values(preset) if preset else {}), **url_state}
        self._set_values(values)
        if preset:
            self._quiet = True
            self.controls["preset"].value = preset
            self._quiet = False
        self.recompute()

    def set_state(self, values: Mapping[str, Any]) -> None:
        """Validate and apply several control values, then recompute once.

        An unknown control or a value outside its own range raises ``ValueError``; a
        combination the backend refuses (q above p, say) is reported in the status line
        and the last good result stays, exactly as for a change made in the browser.
        """
        for key, value in values.items():
            if key not in self._by_name:
                raise ValueError(f"unknown control {key!r}")
            self._by_name[key].validate(value)
        self._set_values(values)
        self._mark_custom()
        # As from the UI: a combination the backend refuses goes to the status line.
        self._safe(self.recompute)()

    def preset_values(self, name: str) -> dict[str, Any]:
        """A preset's full state: its values over the defaults (the seed and view controls stay).

        Presets are thus reproducible whatever was on screen before.
        """
        check_option("preset", name, self.presets)
        base = {p.name: p.default for p in self.params if p.recompute and p.name != "seed"}
        return {**base, **self.presets[name]}

    def apply_preset(self, name: str) -> None:
        """Set all of a preset's values at once, with exactly one recompute."""
        self._set_values(self.preset_values(name))
        self._quiet = True
        self.controls["preset"].value = name
        self._quiet = False
        self.recompute()

    def _mark_custom(self) -> None:
        self._quiet = True
        self.controls["preset"].value = "(custom)"
        self._quiet = False

    def _on_preset(self, change) -> None:
        if self._quiet or change["new"] == "(custom)":
            return
        self.apply_preset(change["new"])

    def _on_control(self, name: str, change) -> None:
        if self._quiet:
            return
        self._mark_custom()
        if self._by_name[name].recompute:
            self.recompute()
        else:
            self.rerender()

    # ------------------------------------------------------------------ compute and render

    def _key(self, state: Mapping[str, Any]) -> tuple:
        return tuple((p.name, state[p.name]) for p in self.params if p.recompute)

    def recompute(self) -> None:
        """Validate every control, compute (or fetch from the cache), render, update status.

        Serialised with :meth:`rerender` by a lock: background tasks (a training run drawing
        its curves, say) re-render from their own thread while the user moves controls.
        """
        with self._lock:
            self._recompute()

    def rerender(self) -> None:
        """Re-view path: re-render the cached result with the current view controls."""
        with self._lock:
            self._rerender()

    def _recompute(self) -> None:
        self.n_recomputes += 1
        state = self._read_state()
        key = self._key(state)
        if key in self._cache:
            self._cache.move_to_end(key)
        else:
            # The backend's warnings (a step size past its stable range, say) are for the
            # user: they go to the status line instead of the server log.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = self._compute(state)
            self.n_computes += 1
            self._cache[key] = (result, _unique_messages(caught))
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        result, notes = self._cache[key]
        self.result, self.state = result, state
        self.last_error = None
        self._draw(self._render(self, result, state))
        summary = self._summary(result, state)
        if notes:
            self._set_status(f"{summary}. Note: {'; '.join(notes)}", "warning")
        else:
            self._set_status(summary, "ok")
        self._update_permalink()

    def _rerender(self) -> None:
        if self.result is None:
            return self._recompute()
        state = self._read_state()
        if self._key(state) != self._key(self.state):
            return self._recompute()
        self.state = state
        self._draw(self._render(self, self.result, state))
        self._update_permalink()

    def _draw(self, names=None) -> None:
        """Redraw the named figures (all when None); the others keep their pixels."""
        names = self.figures if names is None else names
        if self.lecture.value:
            self._scale_fonts(LECTURE_FONT_SCALE)
        for name in names:
            self.figures[name].canvas.draw_idle()

    # ------------------------------------------------------------------ permalink

    def query_string(self, state: Mapping[str, Any] | None = None) -> str:
        """The whole state as a URL query string (only values that differ from defaults)."""
        state = self.state if state is None else state
        items = [(p.name, p.format(state[p.name])) for p in self.params
                 if p.name in state and state[p.name] != p.default]
        preset = self.controls["preset"].value
        if preset != "(custom)":
            items.insert(0, ("preset", preset))
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
        """Hide advanced controls and enlarge fonts (widgets and figure) for a projector."""
        on = bool(on)
        if self.lecture.value != on:
            self.lecture.value = on
            return
        for p in self.params:
            self.controls[p.name].layout.display = "none" if (on and p.advanced) else None
        if on:
            self.widget.add_class("explorer-lecture")
        else:
            self.widget.remove_class("explorer-lecture")
        self._scale_fonts(LECTURE_FONT_SCALE if on else 1.0)
        self._draw()
        if self.state:
            self._update_permalink()

    def _scale_fonts(self, factor: float) -> None:
        for text in (t for f in self.figures.values() for t in f.findobj(Text)):
            base = self._base_fonts.setdefault(id(text), text.get_fontsize())
            text.set_fontsize(base * factor)

    # ------------------------------------------------------------------ long tasks

    def run_task(
        self,
        work: Callable[[Callable[[int, int], None], threading.Event], Any],
        on_done: Callable[[Any], None],
        *,
        label: str = "working",
    ) -> threading.Thread:
        """Run ``work(on_progress, cancel)`` off the kernel's main thread.

        The kernel stays free to receive the Cancel click; progress drives the
        ``IntProgress``; ``on_done(value)`` then stores the value where ``render`` reads it,
        and the views it changed are redrawn (through the safe handler, under the lock).
        """
        if self._task is not None and self._task.thread.is_alive():
            raise ValueError("a task is already running; cancel it or wait for it to finish")
        cancel = threading.Event()

        def on_progress(done: int, total: int) -> None:
            with self.progress.hold_sync():
                self.progress.max = max(total, 1)
                self.progress.value = done
            self.progress_label.value = f"{label}: {done}/{total}"

        def target() -> None:
            try:
                value = self._safe(work)(on_progress, cancel)
                if value is not None:
                    self._safe(on_done)(value)
                    self._safe(self.rerender)()
            finally:
                self.cancel_button.disabled = True
                if cancel.is_set():
                    self.progress_label.value = f"{label}: cancelled at {self.progress.value}"

        self.progress.value = 0
        self.progress_label.value = f"{label}: starting"
        self.cancel_button.disabled = False
        thread = threading.Thread(target=target, name=f"explorer-{label}", daemon=True)
        self._task = _Task(thread, cancel, label)
        thread.start()
        return thread

    def cancel(self) -> None:
        """Ask the running task to stop; it returns what it finished."""
        if self._task is not None:
            self._task.cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running task ends (for tests and the CLI); True if it ended."""
        if self._task is None:
            return True
        self._task.thread.join(timeout)
        return not self._task.thread.is_alive()

    # ------------------------------------------------------------------ export

    def export_figure(self, fmt: str = "png", name: str | None = None) -> bytes:
        """A figure (the first, or ``name``) as PNG or SVG bytes."""
        fmt = check_option("fmt", fmt, ("png", "svg"))
        fig = self.figures[check_option("name", name, self.figures)] if name else self.figure
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=150 if fmt == "png" else None,
                            bbox_inches="tight")
        return buf.getvalue()

    def export_result(self, fmt: str = "csv") -> str:
        """The current result as CSV (one column per series) or JSON (with the state)."""
        fmt = check_option("fmt", fmt, ("csv", "json"))
        if self.result is None:
            raise ValueError("nothing to export yet")
        cols = {k: np.asarray(v) for k, v in (self._columns(self.result) if self._columns
                                              else {}).items()}
        if fmt == "json":
            payload = {"app": self.title, "state": self.state, "query": self.query_string(),
                       "columns": {k: v.tolist() for k, v in cols.items()}}
            return json.dumps(payload, indent=1)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        buf.write(f"# {self.title}: ?{self.query_string()}\n")
        names = list(cols)
        writer.writerow(names)
        length = max((len(v) for v in cols.values()), default=0)
        for i in range(length):
            writer.writerow([_cell(cols[k], i) for k in names])
        return buf.getvalue()

    def _on_export(self, fmt: str, _button=None) -> None:
        slug = re.sub(r"[^a-z0-9]+", "_", self.title.lower()).strip("_") or "explorer"
        if fmt in ("png", "svg"):
            data = self.export_figure(fmt, self.export_which.value)
            slug = f"{slug}_{self.export_which.value}" if len(self.figures) > 1 else slug
            mime = "image/png" if fmt == "png" else "image/svg+xml"
        else:
            data = self.export_result(fmt).encode()
            mime = "text/csv" if fmt == "csv" else "application/json"
        b64 = base64.b64encode(data).decode("ascii")
        name = f"{slug}.{fmt}"
        self.download.value = (
            f'<a download="{name}" href="data:{mime};base64,{b64}">download {name}</a>'
        )


def _unique_messages(caught) -> list[str]:
    out: list[str] = []
    for w in caught:
        text = str(w.message)
        if text not in out:
            out.append(text)
    return out


def _cell(column: np.ndarray, i: int) -> str:
    if i >= len(column):
        return ""
    v = column[i]
    return repr(float(v)) if isinstance(v, float | np.floating) else str(v)
