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
    for role, artist in app.artists["phase"].fixed.items():
        want = np.array([[f.x, f.y] for f in fps if f.role == role]).reshape(-1, 2)
        assert np.allclose(artist.get_offsets(), want), role
    sep = sbm.basins(2000, 0.3, 0.1, grid=app.state["grid"], max_iter=300).separatrix
    assert np.allclose(np.column_stack(app.artists["phase"].separatrix.get_data()), sep)


def test_bifurcation_view_matches_fixed_point_counts(app):
    app.set_state({"p": 0.3, "q": 0.1})
    offsets = np.concatenate([np.column_stack(a.get_data())
                              for a in app.artists["bifurcation"].points.values()])
    for n in (10, 100, 2000):
        if n in sbm_app.N_GRID:
            assert np.sum(offsets[:, 0] == n) == len(sbm.fixed_points(n, 0.3, 0.1))
    th = sbm.thresholds(0.3, 0.1)
    assert [line.get_xdata()[0] for line in app.artists["bifurcation"].thresholds] == pytest.approx(
        [th["truth"], th["all_same"], th["all_same_stable"]])


def test_known_and_estimated_from_the_same_start(app):
    app.set_state({"n": 600, "p": 0.3, "q": 0.1, "seed": 4, "init": "uniform"})
    start = sbm.initial_psi("uniform", 600, app.state["starts"],
                            rng=np.random.default_rng([4, 0]))[:, :1]
    A, labels = sbm.sample_graph(600, 0.3, 0.1, rng=np.random.default_rng([4, 1]))
    known = sbm.bcavi(A, start, p=0.3, q=0.1, max_iter=app.state["max_iter"])
    est = sbm.bcavi(A, start, estimate=True, max_iter=app.state["max_iter"])
    assert np.array_equal(app.artists["accuracy"].known.get_xdata(), known.times)
    assert np.allclose(app.artists["accuracy"].estimated.get_ydata(),
                       [sbm.accuracy(it, labels)[0] for it in est.iterates])
    assert np.allclose(est.final, 0.5) and "collapsed to psi = 1/2" in app.status_text


def test_degree_and_ratio_parametrisation(app):
    app.set_state({"mode": "degree, ratio", "n": 4000, "degree": 15.0, "ratio": 4.0})
    assert app.result.pq == pytest.approx((0.006, 0.0015))
    assert "degree 15" in app.status_text
    good = app.result
    app.set_state({"degree": 4000.0, "n": 4000})
    assert "lower the degree or raise n" in app.status_text and app.result is good
    app.set_state({"mode": "p, q", "degree": 400.0})


def test_misspecified_mode_shows_the_heat_map_and_checks_q_hat(app):
    app.apply_preset("misspecified (p_hat, q_hat) heat map")
    assert app.artists["success"].heat.get_visible()
    assert not app.artists["success"].semi.get_visible()
    share = sbm.misspecified_success(0.3, 0.1, *np.meshgrid(np.linspace(0.005, 0.6, 120),
                                                             np.linspace(0.005, 0.6, 120)))
    assert np.allclose(app.artists["success"].heat.get_array(), share, equal_nan=True)
    app.controls["q_hat"].value = 0.3
    assert app.status_text.startswith("q_hat must be below p_hat")


def test_presets_reach_their_regimes():
    a = sbm_app.make_app(query_string="")
    a.apply_preset("joint estimation collapses")
    assert set(a.result.population.kinds) == {"centre"}
    a.apply_preset("p + q > 1 two-cycle")
    assert "cycle" in {f.role for f in a.result.landscape.fixed_points}
    a.apply_preset("near a bifurcation")
    assert len(a.result.landscape.fixed_points) == 9
    assert a.state["n"] - 2 < sbm.thresholds(0.3, 0.1)["all_same_stable"] + 2
    a.apply_preset("sequential CAVI never lowers the ELBO")
    assert np.all(np.diff(a.result.sample.run.objective, axis=0) > -1e-8)
    assert a.artists["elbo"].drops.get_text().startswith("0 of")
    a.apply_preset("sparse graph (average degree ~15) degrades")
    assert a.state["n"] * sum(a.result.pq) / 2 == pytest.approx(15)


def test_only_changed_views_are_redrawn(app):
    app.apply_preset("dense, known parameters")
    app.set_state({"seed": 11})
    assert app.last_error is None
    assert app._redraw() == []                 # nothing new: nothing to draw
    assert set(app._redraw(force=True)) == set(app.figures)
    landscape = app.result.landscape
    drawn = []
    app._blit_figure = lambda name, overlay_only=True: drawn.append(name)   # every render
    app.controls["seed"].value = 12           # new runs, same landscape and curves
    assert app.result.landscape is landscape
    assert set(drawn) == {"phase", "elbo", "accuracy"}   # bifurcation, success keep pixels


def test_monte_carlo_is_hidden_when_its_inputs_change(app):
    """Failure 3 of the shell issue: the overlay was keyed by (p, q) only."""
    app.apply_preset("dense, known parameters")
    app.set_state({"n": 200, "seed": 2})
    app.run("monte_carlo")
    assert app.wait(300)
    mc = app.artists["success"].mc
    shown = list(mc.get_xdata())
    assert shown
    for change in ({"seed": 3}, {"init": "bernoulli"}, {"eps": 0.2, "init": "near_centre"}):
        app.set_state(change)
        assert list(mc.get_xdata()) == [], change
        assert "computed for other settings" in app.task_rows["monte_carlo"].label.value
        assert "monte_carlo.share" not in app.export_columns()
        app.set_state({"seed": 2, "init": "uniform", "eps": 0.1})
        assert list(mc.get_xdata()) == shown    # back to its settings: shown again
    app.set_state({"trails": False})            # a re-view control is not an input
    assert list(mc.get_xdata()) == shown and "monte_carlo.share" in app.export_columns()


def test_live_limits_are_explained_in_the_status_line(app):
    app.apply_preset("dense, known parameters")
    good = app.result
    app.set_state({"n": 20000})
    assert "million edges" in app.status_text and app.result is good
    app.set_state({"n": 8000, "p": 0.01, "q": 0.005, "schedule": "sequential"})
    assert app.status_text.startswith("sequential CAVI updates nodes one at a time")
    app.set_state({"schedule": "batch"})
    assert app.last_error is None and app.state["n"] == 8000


def test_a_click_on_the_phase_plane_starts_the_population_map_there(app):
    app.apply_preset("dense, known parameters")
    app.press("phase", 0.8, 0.3)
    s = app.state
    assert (s["placed"], s["x0"], s["y0"]) == (True, 0.8, 0.3)
    assert "placed=1" in app.query_string() and "x0=0.8" in app.query_string()
    # The drawn path is the 2-D population map iterated from the click, by hand.
    x, y = 0.8, 0.3
    path = [(x, y)]
    for _ in range(len(app.artists["phase"].clicked.get_xdata()) - 1):
        x, y = sbm.population_map(x, y, n=s["n"], p=0.3, q=0.1)
        path.append((x, y))
    drawn = np.column_stack(app.artists["phase"].clicked.get_data())
    assert np.allclose(drawn, path, atol=1e-12)
    clone = sbm_app.make_app(query_string=app.query_string())   # the permalink restores it
    assert np.allclose(np.column_stack(clone.artists["phase"].clicked.get_data()), drawn)
    app.press("phase", 1.7, -0.2)                                # clamped to the unit square
    assert (app.state["x0"], app.state["y0"]) == (1.0, 0.0)


def test_misspecified_and_joint_runs_are_classified_with_their_own_map(app):
    app.set_state({"n": 2000, "p": 0.3, "q": 0.1, "parameters": "misspecified", "p_hat": 0.8,
                   "q_hat": 0.4, "init": "uniform", "seed": 0})
    bm = app.result.population.run.extras["block_means"][-1]
    want = sbm.classify_limits(np.clip(bm[0], 0, 1), np.clip(bm[1], 0, 1), n=2000, p=0.3,
                               q=0.1, tol=1e-5, p_hat=0.8, q_hat=0.4)
    assert list(app.result.population.kinds) == list(want)
    assert "cycle" in set(want)                  # p_hat + q_hat > 1: everybody-in-one flips
    assert "runs: misspecified" in app.artists["phase"].ax.get_title()
    app.set_state({"parameters": "estimated"})
    bm = app.result.population.run.extras["block_means"][-1]
    want = sbm.classify_limits(np.clip(bm[0], 0, 1), np.clip(bm[1], 0, 1), n=2000, p=0.3,
                               q=0.1, tol=1e-5, joint=True)
    assert list(app.result.population.kinds) == list(want)
    app.set_state({"parameters": "known"})
    assert app.artists["phase"].ax.get_title() == "(1) population phase plane"


def test_success_view_names_the_starts_it_shows(app):
    app.set_state({"parameters": "known", "init": "bernoulli"})
    assert app.artists["success"].ax.get_title() == "(5) success of bernoulli starts"
    app.set_state({"init": "informed"})          # not an i.i.d. start: the uniform curve, said
    assert app.artists["success"].ax.get_title() == "(5) success of uniform starts"
    app.set_state({"init": "uniform"})


def test_a_first_sweep_gap_starts_joint_estimation_from_the_guess(app):
    app.set_state({"n": 600, "p": 0.3, "q": 0.1, "seed": 4, "init": "uniform",
                   "parameters": "estimated", "gap": 0.5})
    m = 300
    rho = (2 * m * (m - 1) / 2 * 0.3 + m * m * 0.1) / (600 * 599 / 2)    # pairs by hand
    want = (rho * 1.5, rho * 0.5)
    assert app.result.guess == pytest.approx(want)
    assert app.result.updates == {"estimate": True, "p": pytest.approx(want[0]),
                                  "q": pytest.approx(want[1])}
    start = sbm.initial_psi("uniform", 600, app.state["starts"],
                            rng=np.random.default_rng([4, 0]))[:, :1]
    A, _ = sbm.sample_graph(600, 0.3, 0.1, rng=np.random.default_rng([4, 1]))
    est = sbm.bcavi(A, start, estimate=True, p=want[0], q=want[1], max_iter=app.state["max_iter"])
    assert np.allclose(app.result.known_vs_estimated.estimated.final, est.final)
    assert f"first sweep p_hat={want[0]:.3g}" in app.status_text
    app.set_state({"gap": 0.0})                  # 0: an M-step first, as before
    assert app.result.guess is None and app.result.updates == {"estimate": True}
    assert "first sweep" not in app.status_text
    app.set_state({"p": 0.8, "q": 0.4, "gap": 0.9})   # rho (1 + g) > 1: explained
    assert app.status_text.startswith("gap must be below 1/rho - 1")
    app.set_state({"p": 0.3, "q": 0.1, "gap": 0.0, "parameters": "known"})
    assert app.last_error is None


def test_the_escape_scan_shows_the_backends_shares_against_the_gap(app):
    app.set_state({"n": 200, "p": 0.3, "q": 0.1, "seed": 5, "init": "uniform", "gap": 0.3})
    a = app.artists["escape"]
    assert list(a.sampled.get_xdata()) == [] and "press Run escape scan" in a.ax.get_title()
    app.run("escape_scan")
    assert app.wait(300)
    for k, (dynamics, line) in enumerate((("population", a.population),
                                          ("sampled", a.sampled))):
        want = sbm.escape_share(200, 0.3, 0.1, sbm_app.ESCAPE_GAPS, dynamics=dynamics,
                                starts=sbm_app.ESCAPE_STARTS, rng=np.random.default_rng([5, 4, k]))
        assert np.array_equal(line.get_xdata(), want["gap"])
        assert np.array_equal(line.get_ydata(), want["truth"]), dynamics
        assert want["truth"][0] == 0.0           # g = 0 collapses every start
    assert a.gap.get_xdata()[0] == 0.3 and a.truth.get_xdata()[0] == pytest.approx(0.5)
    assert "escape_scan.sampled_truth" in app.export_columns()
    app.set_state({"gap": 0.6})                  # not an input of the scan: still shown
    assert len(a.sampled.get_xdata()) == sbm_app.ESCAPE_GAPS.size
    app.set_state({"seed": 6})                   # another graph and starts: hidden
    assert list(a.sampled.get_xdata()) == []
    app.set_state({"seed": 5, "gap": 0.0})


def test_the_basin_image_shows_each_grid_point_in_the_colour_of_its_limit(app):
    from matplotlib.colors import to_rgba

    kind = app.result.landscape.basins.kind
    shown = app.artists["phase"].image.get_array()
    assert shown.shape == (*kind.shape, 4)
    for k in np.unique(kind):
        expected = np.round(255 * np.array(to_rgba(sbm_app.KIND_COLOURS[k])))
        assert np.array_equal(shown[kind == k], np.broadcast_to(expected, shown[kind == k].shape))
