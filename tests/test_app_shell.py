"""The app shell, driven headlessly (no kernel, no browser) through the SBM app and small
apps declared in the tests.

Expected values are computed with the same pure stage functions the app declares, evaluated
by a fresh dependency graph (no shared caches), which only call the backend.
"""

import json
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer import sbm
from explorer.apps import _shell, sbm_app
from explorer.apps._graph import QUICK_SECONDS, evaluate_once
from explorer.apps._shell import App, Param, Stage, Task, View, parse_query


@pytest.fixture
def app():
    return sbm_app.make_app(query_string="")


def expected_status(state):
    return evaluate_once(sbm_app.STAGES, sbm_app.summary, state)


def test_initial_state_is_the_defaults(app):
    assert app.state == {p.name: p.default for p in app.params}
    assert app.status_text == expected_status(app.state)
    assert app.n_computes == len(sbm_app.STAGES) and app.last_error is None   # each once


def test_setting_a_control_changes_the_result(app):
    before = app.result
    app.controls["p"].value = 0.45
    assert app.result is not before and app.state["p"] == 0.45
    assert app.status_text == expected_status(app.state)
    assert app.controls["preset"].value == "(custom)"
    # The figure follows: the starts drawn are the result's.
    bm = app.result.population.run.extras["block_means"]
    assert np.array_equal(np.column_stack(app.artists["phase"].starts.get_data()), bm[0].T)


def test_view_only_control_rerenders_without_recompute(app):
    n = app.n_computes
    assert "trails" not in app.recompute_controls() and "p" in app.recompute_controls()
    app.controls["trails"].value = False
    assert app.n_computes == n and app.artists["phase"].trails.get_segments() == []
    app.controls["trails"].value = True
    assert app.n_computes == n
    assert len(app.artists["phase"].trails.get_segments()) == app.state["starts"]


def test_preset_applies_all_values_with_one_recompute(app):
    for name, values in sbm_app.PRESETS.items():
        fresh = sbm_app.make_app(query_string="")
        before = fresh.n_recomputes
        fresh.controls["preset"].value = name          # as a click in the dropdown does
        assert fresh.n_recomputes == before + 1, name
        assert {k: fresh.state[k] for k in values} == values
        assert fresh.status_text == expected_status(fresh.state)


def test_bad_value_shows_message_and_keeps_last_result(app):
    good, good_state = app.result, dict(app.state)
    app.controls["q"].value = 0.5                     # q > p: the backend refuses
    assert "q must be in (0, p)" in app.status_text and "assortative" in app.status_text
    assert app.result is good and app.state == good_state
    app.controls["q"].value = 0.1                     # recovers
    assert app.last_error is None and app.status_text == expected_status(app.state)


def test_server_revalidates_values_a_client_could_send(app):
    good = app.result
    app.controls["n"].value = 2001                    # in slider range, but odd
    assert app.status_text == "n must be an even integer in [4, 20000]; got 2001"
    assert app.result is good


def test_unexpected_exception_is_short_without_paths_unless_debug(caplog):
    def boom(a):
        raise RuntimeError("secret /srv/private/path")

    params = [Param("a", "float", 0.5, lo=0, hi=1)]
    for debug in (False, True):
        with caplog.at_level("ERROR", logger="explorer.apps"):
            a = App(title="t", params=params, stages=[Stage(boom)], views=[],
                    query_string="", debug=debug)
        assert a.status_text == "Internal error (RuntimeError); the last good result is kept."
        assert "/srv/private" not in a.status.value
        assert ("/srv/private" in a.debug_out.value) is debug
        assert "secret /srv/private/path" in caplog.text   # logged for the operator


def test_debug_from_url_or_environment(monkeypatch):
    assert sbm_app.make_app(query_string="debug=1").debug
    monkeypatch.setenv(_shell.DEBUG_ENV, "1")
    assert sbm_app.make_app(query_string="").debug


# ---------------------------------------------------------------------------- URL state


def test_state_to_query_to_new_app_is_identical(app):
    app.set_state({"n": 500, "p": 0.42, "q": 0.07, "starts": 17, "seed": 99, "trails": False,
                   "init": "bernoulli", "schedule": "damped", "damping": 0.3})
    qs = app.query_string()
    clone = sbm_app.make_app(query_string=qs)
    assert clone.state == app.state and clone.warning_text == ""
    assert clone.status_text == app.status_text
    assert np.array_equal(clone.result.population.run.iterates,
                          app.result.population.run.iterates)


def test_preset_and_lecture_round_trip(app):
    app.apply_preset("p + q > 1 two-cycle")
    app.set_lecture(True)
    qs = app.query_string()
    clone = sbm_app.make_app(query_string=qs)
    assert clone.controls["preset"].value == "p + q > 1 two-cycle"
    assert clone.state == app.state and clone.lecture.value


def test_url_values_override_preset():
    a = sbm_app.make_app(query_string="preset=p+%2B+q+%3E+1+two-cycle&n=100")
    assert a.state["p"] == 0.8 and a.state["n"] == 100


JUNK = [
    "foo=1",
    "n=-5",
    "p=abc",
    "p=" + "9" * 10_000,
    "q=__import__('os').system('x')",
    "n=1e400",
    "p=nan",
    "seed=-1",
    "trails=maybe",
    "preset=nonexistent",
    "x" * 10_000,
    "%%%%&&&==",
    "p=<script>alert(1)</script>",
]


@pytest.mark.parametrize("query", JUNK)
def test_junk_query_falls_back_to_defaults_with_warning(query, monkeypatch):
    monkeypatch.setattr("builtins.eval", lambda *a: pytest.fail("eval called"))
    a = sbm_app.make_app(query_string=query)
    assert a.state == {p.name: p.default for p in a.params}
    assert a.warning_text.startswith("Ignored from the URL: ") or query == "%%%%&&&=="
    assert "<script>" not in a.warnings.value            # escaped, never injected
    assert a.last_error is None


def test_junk_mixed_with_good_keys_keeps_the_good_ones():
    a = sbm_app.make_app(query_string="n=500&p=abc&bogus=1&seed=3")
    assert a.state["n"] == 500 and a.state["seed"] == 3 and a.state["p"] == 0.3
    assert "p must be a number" in a.warning_text and "unknown key 'bogus'" in a.warning_text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parse_query_never_raises(text):
    state, warnings = parse_query(text, sbm_app.PARAMS, sbm_app.PRESETS)
    for key, value in state.items():
        if key in ("lecture", "debug"):
            assert isinstance(value, bool)
        elif key != "preset":
            next(p for p in [*sbm_app.PARAMS, _shell.SEED] if p.name == key).validate(value)


def test_permalink_shows_the_query(app, monkeypatch):
    monkeypatch.setenv("SCRIPT_NAME", "/voila/render/01_sbm_mean_field.ipynb")
    app.set_state({"n": 500})
    assert 'href="/voila/render/01_sbm_mean_field.ipynb?n=500"' in app.permalink.value


# ---------------------------------------------------------------------------- long tasks


def test_long_task_reports_progress_and_finishes(app):
    app.set_state({"n": 200})
    app.run("monte_carlo")
    assert app.wait(300)
    rec = app.task_result("monte_carlo")
    ns, shares = rec.value["n"], rec.value["share"]
    row = app.task_rows["monte_carlo"]
    assert rec.complete and len(ns) == len(shares) == row.progress.max == row.progress.value
    # The plotted shares are the backend's, n by n.
    expected = sbm.success_probability(int(ns[0]), 0.3, 0.1, n_inits=sbm_app.MC_INITS,
                                       rng=np.random.default_rng([0, 3, ns[0]]))
    assert shares[0] == expected
    assert list(app.artists["success"].mc.get_xdata()) == list(ns)
    assert row.label.value.startswith("done in")


def _counting_app(n_steps=10_000, pause=0.01):
    """A small app whose task counts, for the task runner's tests."""
    started = threading.Event()

    def count(ctx, a):
        for i in range(n_steps):
            started.set()
            if ctx.cancel.is_set():
                return i
            ctx.progress(i, n_steps)
            time.sleep(pause)
        return -1

    a = App(title="count", params=[Param("a", "float", 0.5, lo=0, hi=1)],
            stages=[Stage(lambda a: a, name="double")], views=[],
            tasks=[Task("count", count)], query_string="")
    return a, started


def test_cancel_stops_promptly_and_keeps_the_partial_result():
    app, started = _counting_app()
    app.run("count")
    started.wait(5)
    app.task_rows["count"].run.click()        # the same task again: refused, run continues
    assert "count is already running" in app.status_text
    app.task_rows["count"].cancel.click()
    assert app.wait(30)                       # the loop saw the event (it would run 100 s)
    rec = app.task_result("count")
    assert rec.cancelled and not rec.complete and 0 <= rec.value < 10_000
    assert "cancelled" in app.task_rows["count"].label.value
    assert app.task_rows["count"].cancel.disabled


def test_errors_in_a_task_reach_the_status_line():
    def work(ctx):
        raise ValueError("n_starts must be >= 1; got 0")

    app = App(title="t", params=[], stages=[], views=[], tasks=[Task("bad", work)],
              query_string="")
    app.run("bad")
    assert app.wait(5)
    assert app.status_text == "n_starts must be >= 1; got 0"
    assert app.task_result("bad") is None


def test_tasks_results_are_applied_on_the_waiting_thread_never_the_worker(app, monkeypatch):
    """Failure 4 of the shell issue: artists were moved from worker threads."""
    import matplotlib.lines

    threads = set()
    original = matplotlib.lines.Line2D.set_data

    def recording(self, *args):
        threads.add(threading.current_thread().name)
        return original(self, *args)

    monkeypatch.setattr(matplotlib.lines.Line2D, "set_data", recording)
    app.set_state({"n": 200, "seed": 5})
    app.run("monte_carlo")
    assert app.wait(300)
    assert app.task_result("monte_carlo").complete
    assert threads == {threading.current_thread().name}


def test_backend_warnings_are_collected_per_thread():
    """Failure 5: ``catch_warnings`` in the recompute swapped process-wide state, so another
    thread's warnings landed in this app's status line (and filters could be lost)."""
    import warnings

    def noisy(a):
        worker = threading.Thread(target=lambda: warnings.warn("from another thread",
                                                               stacklevel=1))
        worker.start()
        worker.join()
        warnings.warn(f"from the stage at a = {a}", stacklevel=1)
        return a

    app = App(title="t", params=[Param("a", "float", 0.5, lo=0, hi=1)],
              stages=[Stage(noisy)], views=[], query_string="")
    filters = list(warnings.filters)
    app.controls["a"].value = 0.25
    assert "from the stage at a = 0.25" in app.status_text
    assert "from another thread" not in app.status_text
    assert warnings.filters == filters


def test_a_minimal_fourth_app_from_a_few_declarations():
    """The cost of a new model: controls, one stage, one view (see docs/adding_a_model.md)."""
    from types import SimpleNamespace

    def path(lr, steps):
        x = np.empty(steps + 1)
        x[0] = 1.0
        for k in range(steps):
            x[k + 1] = x[k] - lr * x[k]          # gradient descent on x^2 / 2
        return x

    def build(fig):
        ax = fig.add_subplot()
        return SimpleNamespace(line=ax.plot([], [])[0])

    def draw(a, path):
        a.line.set_data(np.arange(path.size), path)

    app = App(title="GD on a parabola",
              params=[Param("lr", "float", 0.5, lo=0.0, hi=2.0),
                      Param("steps", "int", 20, lo=1, hi=200)],
              stages=[Stage(path)], views=[View("path", build, draw)],
              summary=lambda path: f"x after {path.size - 1} steps: {path[-1]:.3g}",
              query_string="lr=1.5")
    assert app.state["lr"] == 1.5
    y = app.artists["path"].line.get_ydata()
    assert np.allclose(y, (1 - 1.5) ** np.arange(21))        # closed form of the iteration
    assert app.status_text == f"x after 20 steps: {(-0.5) ** 20:.3g}"
    with pytest.raises(ValueError, match=r"lr must be in \[0, 2\]; got 2.5"):
        app.set_state({"lr": 2.5})
    assert app.state["lr"] == 1.5


def test_undeclared_inputs_are_refused_at_build_time():
    def stage(a, missing):
        return a

    with pytest.raises(ValueError, match="reads 'missing', which is not a control"):
        App(title="t", params=[Param("a", "float", 0.5, lo=0, hi=1)],
            stages=[Stage(stage)], views=[], query_string="")


# ---------------------------------------------------------------------------- lecture, export


def test_lecture_mode_hides_advanced_controls_and_enlarges_fonts(app):
    title = app.artists["phase"].ax.title
    base = title.get_fontsize()
    app.lecture.value = True
    advanced = [p.name for p in app.params if p.advanced]
    assert advanced and all(app.controls[k].layout.display == "none" for k in advanced)
    assert app.controls["n"].layout.display is None
    assert "explorer-lecture" in app.widget._dom_classes
    assert title.get_fontsize() == pytest.approx(base * _shell.LECTURE_FONT_SCALE)
    app.lecture.value = False
    assert title.get_fontsize() == pytest.approx(base)
    assert all(app.controls[k].layout.display is None for k in advanced)
    assert sbm_app.make_app(query_string="lecture=1").lecture.value


def test_export_figure_and_result(app):
    assert app.export_figure("png").startswith(b"\x89PNG")
    assert b"<svg" in app.export_figure("svg")
    rows = app.export_result("csv").splitlines()
    cols = app.export_columns()
    assert rows[0].startswith("# ") and rows[1].split(",") == list(cols)
    assert len(rows) == 2 + max(len(c) for c in cols.values())
    payload = json.loads(app.export_result("json"))
    assert payload["state"] == app.state
    assert payload["columns"]["limit"] == list(app.result.population.kinds)
    for view in app.figures:
        assert app.export_figure("png", view).startswith(b"\x89PNG")
    app.export_buttons["csv"].click()
    assert 'download="' in app.download.value and "base64," in app.download.value
    with pytest.raises(ValueError, match="fmt must be one of"):
        app.export_figure("exe")


def test_independent_stages_run_at_once_and_dependents_wait_for_them(monkeypatch):
    """Two stages that read nothing of each other overlap (each waits for the other at a
    barrier, which would time out if they ran one after the other); a third reads both."""
    from explorer.apps import _graph

    monkeypatch.setattr(_graph, "machine_busy", lambda: False)   # cores to spare
    barrier = threading.Barrier(2, timeout=10)

    def left(a):
        barrier.wait()
        return a + 1

    def right(a):
        barrier.wait()
        return a + 2

    def both(left, right):
        return left * right

    app = App(title="t", params=[Param("a", "float", 0.5, lo=0, hi=1)],
              stages=[Stage(left), Stage(right), Stage(both)], views=[], query_string="")
    assert app.last_error is None and app.result.both == pytest.approx(1.5 * 2.5)


def test_on_a_busy_machine_stages_run_one_at_a_time(monkeypatch):
    """More runnable threads than cores (a class's kernels at work): the same independent
    stages run one after the other, and give the same values."""
    from explorer.apps import _graph

    running, most = [0], [0]
    lock = threading.Lock()

    def slow(name, a):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return a + len(name)

    def left(a):
        return slow("left", a)

    def right(a):
        return slow("right!", a)

    def both(left, right):
        return left * right

    def build(busy):
        monkeypatch.setattr(_graph, "machine_busy", lambda: busy)
        most[0] = 0
        for _ in range(2):       # the second evaluation knows the stages are slow
            app = App(title="t", params=[Param("a", "float", 0.5, lo=0, hi=1)],
                      stages=[Stage(left), Stage(right), Stage(both)], views=[],
                      query_string="")
        return app.result.both, most[0]

    assert build(True) == (pytest.approx(4.5 * 6.5), 1)
    assert build(False) == (pytest.approx(4.5 * 6.5), 2)


def test_a_failing_stage_keeps_the_last_good_result_while_its_sibling_is_cached():
    def fine(a):
        return a

    def picky(a):
        if a > 0.7:
            raise ValueError(f"a must be at most 0.7; got {a}")
        return a

    app = App(title="t", params=[Param("a", "float", 0.5, lo=0, hi=1)],
              stages=[Stage(fine), Stage(picky)], views=[], query_string="")
    calls = app.n_computes
    app.controls["a"].value = 0.9
    assert app.status_text == "a must be at most 0.7; got 0.9"
    assert app.state["a"] == 0.5 and app.result.picky == 0.5
    assert app.n_computes == calls + 1          # fine(0.9) ran and is cached
    app.controls["a"].value = 0.5
    assert app.last_error is None


def _pixels(fig):
    return np.asarray(fig.canvas.buffer_rgba()).astype(int)


#: Agg rounds a legend composited from its cached image by at most this much per channel.
LAYER_ROUNDING = 2


def test_a_data_change_is_drawn_over_the_cached_decorations_with_the_pixels_of_a_plain_render():
    """Lines under a legend inside the axes, over an image: the layered redraw (data over the
    cached rendering of ticks, labels and titles; the legend from its own image) gives the
    pixels of a render in which nothing is animated, and a new title means a full draw."""
    from types import SimpleNamespace

    def curve(k):
        return np.sin(np.linspace(0, 6, 200) * k)

    def build(fig):
        ax = fig.add_subplot()
        a = SimpleNamespace(ax=ax, image=ax.imshow(np.zeros((2, 2)), extent=(0, 6, -1, 1),
                                                   aspect="auto", vmin=-1, vmax=1))
        (a.line,) = ax.plot([], [], lw=4, label="a curve")
        ax.set(xlim=(0, 6), ylim=(-1, 1), title="fixed")
        ax.legend(loc="lower right")
        return a

    def draw(a, curve, label):
        a.line.set_data(np.linspace(0, 6, 200), curve)
        a.image.set_data(np.outer(curve[:20], curve[:20]))
        a.ax.set_title(label)

    app = App(title="t", params=[Param("k", "float", 1.0, lo=0.5, hi=3.0),
                                 Param("label", "choice", "fixed", options=("fixed", "new"))],
              stages=[Stage(curve)], views=[View("v", build, draw)], query_string="")
    fig = app.figures["v"]
    before = _pixels(fig)
    app.controls["k"].value = 2.5
    assert app.n_layered == 1 and app.n_blits == 0
    layered = _pixels(fig)
    assert not np.array_equal(layered, before)
    for artist in fig.findobj(lambda a: a.get_animated()):
        artist.set_animated(False)                       # the plain way: all in one pass
    fig.set_layout_engine("none")
    fig.canvas.draw()
    off = np.abs(layered - _pixels(fig)).max(axis=2) > LAYER_ROUNDING
    # The one difference: the inner end of a tick mark, half a pixel inside the axes, is
    # under the data instead of over it (one edge pixel per tick at most).
    ax = app.artists["v"].ax
    assert off.sum() <= len(ax.get_xticks()) + len(ax.get_yticks())
    app.controls["label"].value = "new"                  # a decoration: a full draw
    assert app.n_layered == 1 and app.artists["v"].ax.get_title() == "new"


def test_an_export_keeps_the_animated_artists_and_not_its_rendering_for_blitting(app):
    saved = app._kept["phase"]
    png = app.export_figure("png", "phase")
    assert png[:4] == b"\x89PNG" and app._kept["phase"] is saved


def _two_speed_app(drawn_early: threading.Event):
    """A fast stage for the first view and a slow one (which may fail) for the second."""
    from types import SimpleNamespace

    def fast(a):
        return a * 2.0

    def slow(a, fail):
        # Ends when the first view was drawn (the guard only stops a broken shell hanging);
        # never quick enough to be run on the evaluating thread itself.
        time.sleep(2 * QUICK_SECONDS)
        was_drawn = drawn_early.wait(10)
        if fail:
            raise ValueError("fail is on")
        return was_drawn

    def build(fig):
        ax = fig.add_subplot()
        return SimpleNamespace(ax=ax, line=ax.plot([], [])[0])

    def draw_fast(v, fast):
        v.line.set_data([0, 1], [0, fast])
        drawn_early.set()

    def draw_slow(v, slow):
        v.line.set_data([0, 1], [0, float(slow)])

    return App(title="t", params=[Param("a", "float", 1.0, lo=0.0, hi=5.0),
                                  Param("fail", "bool", False)],
               stages=[Stage(fast), Stage(slow)],
               views=[View("first", build, draw_fast), View("second", build, draw_slow)],
               query_string="")


def test_the_first_view_is_drawn_while_a_slower_stage_still_runs():
    drawn_early = threading.Event()
    app = _two_speed_app(drawn_early)
    assert app.result.slow is True                  # the first view was drawn meanwhile
    drawn_early.clear()
    app.controls["a"].value = 2.0
    assert app.result.slow is True and app.result.fast == 4.0
    assert app.artists["first"].line.get_ydata()[1] == 4.0


def test_a_view_drawn_early_shows_the_last_good_result_again_when_a_later_stage_fails():
    drawn_early = threading.Event()
    app = _two_speed_app(drawn_early)
    drawn_early.clear()
    app.set_state({"a": 3.0, "fail": True})
    assert drawn_early.is_set() and app.last_error is not None
    assert "fail is on" in app.status_text
    assert app.state["a"] == 1.0 and app.result.fast == 2.0
    assert app.artists["first"].line.get_ydata()[1] == 2.0   # drawn at 6.0, then put back


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(0, 1e6), st.floats(-1e3, 1e3), st.floats(0.0, 1.0))
def test_steady_limits_hold_the_data_and_stay_while_it_fits(lo, span, shift, shrink):
    from explorer.apps._shell import steady_limits

    hi = lo + span
    first = steady_limits(lo, hi)
    assert first[0] <= lo and hi <= first[1] and first[0] < first[1]
    assert steady_limits(lo, hi, first) == first                     # the same data: kept
    # Data moved within the limits, still spanning more than half of them: kept.
    a, b = lo + shrink * 0.25 * span, hi - (1 - shrink) * 0.25 * span
    assert steady_limits(a, b, first) == first or b - a < 0.5 * (first[1] - first[0])
    # Data beyond them: new limits that hold it.
    c, d = lo + shift, hi + shift + span + 1
    new = steady_limits(c, d, first)
    assert new[0] <= c and d <= new[1]
