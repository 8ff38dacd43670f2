"""The SBM explorer driven headlessly: every view shows what the backend computes."""

import numpy as np
import pytest

from explorer import sbm
from explorer.apps import sbm_app


@pytest.fixture(scope="module")
def app():
    return sbm_app.make_app(query_string="")


def test_phase_plane_marks_every_fixed_point(app):
    app.set_state({"n": 2000, "p": 0.3, "q": 0.1})
    fps = sbm.fixed_points(2000, 0.3, 0.1)
    for role, artist in app.views.fixed.items():
        want = np.array([[f.x, f.y] for f in fps if f.role == role]).reshape(-1, 2)
        assert np.allclose(artist.get_offsets(), want), role
    sep = sbm.basins(2000, 0.3, 0.1, grid=app.state["grid"], max_iter=300).separatrix
    assert np.allclose(np.column_stack(app.views.separatrix.get_data()), sep)


def test_bifurcation_view_matches_fixed_point_counts(app):
    app.set_state({"p": 0.3, "q": 0.1})
    offsets = np.concatenate([a.get_offsets() for a in app.views.bif.values()])
    for n in (10, 100, 2000):
        if n in sbm_app.N_GRID:
            assert np.sum(offsets[:, 0] == n) == len(sbm.fixed_points(n, 0.3, 0.1))
    th = sbm.thresholds(0.3, 0.1)
    assert [line.get_xdata()[0] for line in app.views.bif_thr] == pytest.approx(
        [th["truth"], th["all_same"], th["all_same_stable"]])


def test_known_and_estimated_from_the_same_start(app):
    app.set_state({"n": 600, "p": 0.3, "q": 0.1, "seed": 4, "init": "uniform"})
    start = sbm.initial_psi("uniform", 600, app.state["starts"],
                            rng=np.random.default_rng([4, 0]))[:, :1]
    A, labels = sbm.sample_graph(600, 0.3, 0.1, rng=np.random.default_rng([4, 1]))
    known = sbm.bcavi(A, start, p=0.3, q=0.1, max_iter=app.state["max_iter"])
    est = sbm.bcavi(A, start, estimate=True, max_iter=app.state["max_iter"])
    assert np.array_equal(app.views.acc_known.get_xdata(), known.times)
    assert np.allclose(app.views.acc_est.get_ydata(),
                       [sbm.accuracy(it, labels)[0] for it in est.iterates])
    assert np.allclose(est.final, 0.5) and "collapsed to psi = 1/2" in app.status_text


def test_degree_and_ratio_parametrisation(app):
    app.set_state({"mode": "degree, ratio", "n": 4000, "degree": 15.0, "ratio": 4.0})
    assert (app.result.p, app.result.q) == pytest.approx((0.006, 0.0015))
    assert "degree 15" in app.status_text
    good = app.result
    app.set_state({"degree": 4000.0, "n": 4000})
    assert "lower the degree or raise n" in app.status_text and app.result is good
    app.set_state({"mode": "p, q", "degree": 400.0})


def test_misspecified_mode_shows_the_heat_map_and_checks_q_hat(app):
    app.apply_preset("misspecified (p_hat, q_hat) heat map")
    assert app.views.heat.get_visible() and not app.views.semi.get_visible()
    share = sbm.misspecified_success(0.3, 0.1, *np.meshgrid(np.linspace(0.005, 0.6, 120),
                                                             np.linspace(0.005, 0.6, 120)))
    assert np.allclose(app.views.heat.get_array(), share, equal_nan=True)
    app.controls["q_hat"].value = 0.3
    assert app.status_text.startswith("q_hat must be below p_hat")


def test_presets_reach_their_regimes():
    a = sbm_app.make_app(query_string="")
    a.apply_preset("joint estimation collapses")
    assert set(a.result.population_kinds) == {"centre"}
    a.apply_preset("p + q > 1 two-cycle")
    assert "cycle" in {f.role for f in a.result.landscape.fixed_points}
    a.apply_preset("near a bifurcation")
    assert len(a.result.landscape.fixed_points) == 9
    assert a.state["n"] - 2 < sbm.thresholds(0.3, 0.1)["all_same_stable"] + 2
    a.apply_preset("sequential CAVI never lowers the ELBO")
    assert np.all(np.diff(a.result.sample.objective, axis=0) > -1e-8)
    assert "0 of" in a.views.ax_elbo.get_title()
    a.apply_preset("sparse graph (average degree ~15) degrades")
    assert a.result.n * (a.result.p + a.result.q) / 2 == pytest.approx(15)


def test_only_changed_views_are_redrawn(app):
    app.apply_preset("dense, known parameters")
    app.set_state({"seed": 11})
    assert app.last_error is None
    changed = sbm_app.render(app, app.result, app.state)
    assert changed == []                      # nothing new: nothing to draw
    app.views.keys.clear()
    assert set(sbm_app.render(app, app.result, app.state)) == set(app.figures)
    before = dict(app.views.keys)
    app.controls["seed"].value = 12           # new runs, same landscape and curves
    assert app.views.keys["bifurcation"] is before["bifurcation"]
    assert app.views.keys["phase"] is not before["phase"]


def test_live_limits_are_explained_in_the_status_line(app):
    app.apply_preset("dense, known parameters")
    good = app.result
    app.set_state({"n": 20000})
    assert "million edges" in app.status_text and app.result is good
    app.set_state({"n": 8000, "p": 0.01, "q": 0.005, "schedule": "sequential"})
    assert app.status_text.startswith("sequential CAVI updates nodes one at a time")
    app.set_state({"schedule": "batch"})
    assert app.last_error is None and app.result.n == 8000
