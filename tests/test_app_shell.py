"""The app shell, driven headlessly (no kernel, no browser) through the SBM demo app.

Expected values are computed with the same pure functions the callbacks use
(``sbm_app.compute`` / ``summary``, which only call the backend).
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
from explorer.apps._shell import App, Param, new_figure, parse_query


@pytest.fixture
def app():
    return sbm_app.make_app(query_string="")


def expected_status(state):
    return sbm_app.summary(sbm_app.compute(state), state)


def test_initial_state_is_the_defaults(app):
    assert app.state == {p.name: p.default for p in app.params}
    assert app.status_text == expected_status(app.state)
    assert app.n_computes == 1 and app.last_error is None


def test_setting_a_control_changes_the_result(app):
    before = app.result
    app.controls["p"].value = 0.45
    assert app.result is not before and app.state["p"] == 0.45
    assert app.status_text == expected_status(app.state)
    assert app.controls["preset"].value == "(custom)"
    # The figure follows: the starts drawn are the result's.
    bm = app.result.population.extras["block_means"]
    assert np.array_equal(app.views.starts.get_offsets(), bm[0].T)


def test_view_only_control_rerenders_without_recompute(app):
    n = app.n_computes
    app.controls["trails"].value = False
    assert app.n_computes == n and app.views.trails.get_segments() == []
    app.controls["trails"].value = True
    assert app.n_computes == n and len(app.views.trails.get_segments()) == app.state["starts"]


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
    def boom(state):
        raise RuntimeError("secret /srv/private/path")

    params = [Param("a", "float", 0.5, lo=0, hi=1)]
    for debug in (False, True):
        with caplog.at_level("ERROR", logger="explorer.apps"):
            a = App(title="t", params=params, compute=boom, figure=new_figure(),
                    render=lambda *_: None, query_string="", debug=debug)
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
    assert np.array_equal(clone.result.population.iterates, app.result.population.iterates)


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
    app.start_monte_carlo()
    assert app.wait(300)
    (pq, (ns, shares)) = app.mc_result
    assert pq == (0.3, 0.1) and len(ns) == len(shares) == app.progress.max == app.progress.value
    # The plotted shares are the backend's, n by n.
    expected = sbm.success_probability(ns[0], 0.3, 0.1, n_inits=sbm_app.MC_INITS,
                                       rng=np.random.default_rng([0, 3, ns[0]]))
    assert shares[0] == expected
    assert list(app.views.mc.get_xdata()) == list(ns)


def test_cancel_stops_promptly(app):
    started = threading.Event()

    def work(on_progress, cancel):
        for i in range(10_000):
            started.set()
            if cancel.is_set():
                return i
            on_progress(i, 10_000)
            time.sleep(0.01)
        return -1

    got = []
    app.run_task(work, got.append, label="test")
    started.wait(5)
    with pytest.raises(ValueError, match="already running"):
        app.run_task(work, got.append)
    app.cancel_button.click()
    assert app.wait(30)                       # the loop saw the event (it would run 100 s)
    assert got and got[0] < 10_000 and "cancelled" in app.progress_label.value
    assert app.cancel_button.disabled


def test_errors_in_a_task_reach_the_status_line(app):
    def work(on_progress, cancel):
        raise ValueError("n_starts must be >= 1; got 0")

    app.run_task(work, lambda v: None)
    assert app.wait(5)
    assert app.status_text == "n_starts must be >= 1; got 0"


# ---------------------------------------------------------------------------- lecture, export


def test_lecture_mode_hides_advanced_controls_and_enlarges_fonts(app):
    title = app.views.ax_phase.title
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
    cols = sbm_app.columns(app.result)
    assert rows[0].startswith("# ") and rows[1].split(",") == list(cols)
    assert len(rows) == 2 + max(len(c) for c in cols.values())
    payload = json.loads(app.export_result("json"))
    assert payload["state"] == app.state
    assert payload["columns"]["limit"] == list(app.result.population_kinds)
    for view in app.figures:
        assert app.export_figure("png", view).startswith(b"\x89PNG")
    app.export_buttons["csv"].click()
    assert 'download="' in app.download.value and "base64," in app.download.value
    with pytest.raises(ValueError, match="fmt must be one of"):
        app.export_figure("exe")
