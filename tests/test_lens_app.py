"""The initialization lens: its math (explorer.lens) against the backends, and the app driven
headlessly (every view shows what the backends compute, the IQP task, bad input, presets, tour).
"""

from urllib.parse import parse_qs

import numpy as np
import pytest

from explorer import iqp, lens, ntk, sbm
from explorer.apps import lens_app
from explorer.apps._graph import evaluate_once

#: Relative agreement of two evaluations of the same closed form.
RTOL = 1e-10
#: The MMD^2 estimate above the exact range (2000 draws) against the exact value.
ESTIMATE_TOL = 0.02
#: Share of random starts allowed to escape the collapse under joint (p, q) updates.
COLLAPSE_SHARE = 0.1
#: Adam steps and random starts of the task in these tests (seconds, not minutes).
TASK_BUDGET, TASK_STARTS = 8, 4


# ---------------------------------------------------------------------------- explorer.lens


def test_chunked_sbm_paths_are_one_run():
    A, labels = sbm.sample_graph(300, 0.2, 0.05, rng=3)
    psi0 = np.c_[sbm.initial_psi("informed", 300, correlation=0.1, rng=4),
                 sbm.initial_psi("uniform", 300, 5, rng=5)]
    whole = sbm.bcavi(A, psi0, p=0.2, q=0.05, max_iter=12, tol=0.0)
    want = np.array([sbm.accuracy(x, labels) for x in whole.iterates])
    for chunk in (1, 5, 100):
        got = lens.sbm_accuracy_paths(A, labels, psi0, sweeps=12, p=0.2, q=0.05, tol=0.0,
                                      chunk=chunk)
        assert np.array_equal(got, want), chunk


def test_chunked_joint_updates_are_one_run():
    A, labels = sbm.sample_graph(300, 0.2, 0.05, rng=3)
    psi0 = sbm.initial_psi("informed", 300, 3, correlation=0.3, rng=4)
    whole = sbm.bcavi(A, psi0, estimate=True, max_iter=9, tol=0.0)
    want = np.array([sbm.accuracy(x, labels) for x in whole.iterates])
    got = lens.sbm_accuracy_paths(A, labels, psi0, sweeps=9, estimate=True, tol=0.0, chunk=2)
    assert np.array_equal(got, want)


def test_settled_runs_repeat_their_accuracy_and_zero_sweeps_is_the_start():
    A, labels = sbm.sample_graph(200, 0.3, 0.05, rng=1)
    psi0 = sbm.initial_psi("uniform", 200, 4, rng=2)
    paths = lens.sbm_accuracy_paths(A, labels, psi0, sweeps=200, p=0.3, q=0.05)
    assert paths.shape == (201, 4)
    assert np.array_equal(paths[-1], paths[-50])
    assert np.array_equal(lens.sbm_accuracy_paths(A, labels, psi0, sweeps=0, p=0.3, q=0.05),
                          sbm.accuracy(psi0, labels)[None])
    with pytest.raises(ValueError, match="sweeps"):
        lens.sbm_accuracy_paths(A, labels, psi0, sweeps=-1, p=0.3, q=0.05)


def test_random_residuals_sit_at_distance_R_in_random_directions():
    lam = ntk.spectrum("polynomial", 200, beta=2.0)
    u = lens.random_residuals(lam, 6, R=7.0, rng=0)
    assert u.shape == (200, 6)
    assert [ntk.rkhs_norm(lam, u[:, j]) for j in range(6)] == pytest.approx([7.0] * 6)
    assert np.linalg.matrix_rank(u) == 6                    # six different directions
    assert not np.any(lens.random_residuals(lam, 2, R=0.0, rng=0))
    with pytest.raises(ValueError, match="size"):
        lens.random_residuals(lam, 0, R=1.0)


def test_risk_paths_are_columns_of_the_backend_risk_curve():
    lam = ntk.spectrum("spiked", 150, beta=1.5, kappa=10.0)
    u = lens.random_residuals(lam, 3, R=2.0, rng=1)
    t = np.array([0, 1, 7, 100, 5000])
    got = lens.risk_paths(lam, u, 0.4, t)
    for j in range(3):
        want = ntk.risk_curve(lam, u[:, j], 0.4, t)
        np.testing.assert_allclose(got.risk[:, j], want.risk, rtol=RTOL)
        np.testing.assert_allclose(got.bias2[:, j], want.bias2, rtol=RTOL)
    with pytest.raises(ValueError, match="whole numbers"):
        lens.risk_paths(lam, u, 0.4, [0.5])


def test_iqp_loss_is_exact_then_estimated():
    rng = np.random.default_rng(0)
    for n in (6, 14):
        data = (rng.random((300, n)) < 0.3).astype(np.uint8)
        gates = iqp.gate_set("all_pairs", n)
        theta = iqp.init_params("data", gates, data=data, scale=0.1, rng=1)
        exact = iqp.mmd2_exact(theta, gates, data, 1.5, unbiased=True)
        got = lens.iqp_loss(theta, gates, data, 1.5, rng=2)
        if n <= lens.IQP_EXACT_N:
            assert got == exact
        else:
            assert abs(got - exact) < ESTIMATE_TOL


def test_a_cancelled_training_job_says_so():
    import threading

    n = 6
    data = (np.random.default_rng(0).random((100, n)) < 0.4).astype(np.uint8)
    gates = iqp.gate_set("all_pairs", n)
    job = dict(theta0=iqp.init_params("data", gates, data=data, scale=0.1, rng=1), gates=gates,
               data=data, sigma=1.0, steps=50, lr=0.01, n_ops=20, seed=(0, 1))
    whole = lens.iqp_train_job(job, None)
    assert whole["status"] == "completed" and whole["curve"].size == 51
    stop = threading.Event()
    stop.set()
    cut = lens.iqp_train_job({**job, "cancel": stop}, None)
    assert cut["status"] == "cancelled" and cut["curve"].size < 51


# ---------------------------------------------------------------------------- the app


@pytest.fixture(scope="module")
def app():
    return lens_app.make_app(query_string="")


def expected(state, fn):
    return evaluate_once(lens_app.STAGES, fn, state)


def test_defaults_show_what_the_backends_compute(app):
    app.apply_preset("informed vs random (known p, q)")
    s = app.state
    assert app.last_error is None
    assert app.status_text == expected(s, lens_app.summary)
    # SBM: one uninterrupted BCAVI run from the same starts gives the drawn accuracies.
    A, labels = sbm.sample_graph(s["sbm_n"], s["p"], s["q"],
                                 rng=np.random.default_rng([s["seed"], 10]))
    rng = np.random.default_rng([s["seed"], 11])
    psi0 = np.c_[sbm.initial_psi("informed", s["sbm_n"], correlation=s["correlation"], rng=rng),
                 sbm.initial_psi("uniform", s["sbm_n"], s["starts"], rng=rng)]
    run = sbm.bcavi(A, psi0, p=s["p"], q=s["q"], max_iter=s["budget"], tol=0.0)
    final = sbm.accuracy(run.iterates[-1], labels)
    a = app.artists["sbm"]
    assert a.informed.get_ydata()[-1] == final[0]
    assert a.informed.get_ydata()[0] == sbm.accuracy(psi0[:, 0], labels)
    assert a.hist.get_data().values.sum() == s["starts"]
    share = np.mean(final[1:] > sbm.TRUTH_ACCURACY)
    assert f"reach the truth: {share:.0%} of random" in a.hx.get_title()
    # IQP: the drawn step-0 MMD^2 is the exact one of the start the stage drew.
    init = app.result.iqp_init
    setup = app.result.iqp_setup
    assert init.thetas.shape == (s["iqp_starts"] + 1, len(setup.gates))
    assert init.loss0[0] == iqp.mmd2_exact(init.thetas[0], setup.gates, setup.data,
                                           setup.sigma, unbiased=True)
    assert app.artists["iqp"].mark0.get_xdata()[0] == init.loss0[0]
    assert app.artists["iqp"].hist0.get_data().values.sum() == s["iqp_starts"]
    # NTK: T_hat and the risk where the pretrained start stops, from the backend.
    lam = ntk.spectrum("polynomial", s["ntk_n"], beta=s["beta"])
    coef = ntk.target_coefficients(lam, r=0.5, R=s["R"],
                                   rng=np.random.default_rng([s["seed"], 30]))
    t_hat = ntk.stopping_time(lam, s["R"], s["sigma"]).t_hat
    t_stop = min(t_hat, s["budget"])
    risk = ntk.risk_curve(lam, coef, s["sigma"], [t_stop]).risk[0]
    k = app.result.ntk_runs
    assert (k.t_hat, k.t_stop) == (t_hat, t_stop)
    assert k.risk == pytest.approx(risk, rel=RTOL)
    assert tuple(app.artists["ntk"].stop.get_xydata()[0]) == pytest.approx((t_stop, risk))
    assert app.artists["ntk"].budget.get_xdata()[0] == s["budget"]


def test_correlation_one_is_a_perfect_informed_start(app):
    app.set_state({"correlation": 1.0, "estimate": "known"})
    informed = app.result.sbm_runs.informed
    assert np.all(informed == 1.0)
    assert app.artists["sbm"].mark.get_xdata()[0] == 1.0


def test_joint_updates_collapse_random_starts_but_not_a_well_informed_one(app):
    app.set_state({"estimate": "estimated", "correlation": 0.5, "budget": 30})
    r = app.result.sbm_runs
    assert r.share <= COLLAPSE_SHARE
    assert r.informed[-1] > sbm.TRUTH_ACCURACY
    app.set_state({"correlation": 0.0})                     # an uninformed "informed" start
    assert app.result.sbm_runs.informed[-1] <= sbm.TRUTH_ACCURACY


def test_R_zero_gives_the_lowest_risk_where_it_stops(app):
    app.set_state({"R": 0.0})
    k = app.result.ntk_runs
    assert k.t_hat == 0 and k.risk == 0.0
    assert k.risk <= k.risk_random.min()
    for R in (0.5, 2.0):
        app.set_state({"R": R})
        k = app.result.ntk_runs
        assert k.risk <= np.median(k.risk_random)          # closer than R_random = 10


def test_the_budget_caps_the_stopping_time(app):
    app.set_state({"R": 1.0, "budget": 300})
    t_hat = app.result.ntk_runs.t_hat
    assert 1 < t_hat < 300 and app.result.ntk_runs.t_stop == t_hat
    app.set_state({"budget": 3})
    k = app.result.ntk_runs
    assert k.t_stop == 3 and k.t_stop_random == 3
    assert app.result.sbm_runs.acc.shape[0] == 4               # sweeps 0 .. 3


def test_data_dependent_start_begins_below_the_full_range_median(app):
    for start in ("data", "covariance"):
        app.set_state({"iqp_start": start, "iqp_random": "full_range"})
        loss0 = app.result.iqp_init.loss0
        assert loss0[0] < np.median(loss0[1:]), start


def test_training_task_runs_and_is_drawn(app):
    app.set_state({"iqp_start": "data", "budget": TASK_BUDGET, "iqp_starts": TASK_STARTS})
    assert app.task_result("training") is None
    assert app.artists["iqp"].hint.get_visible()
    app.run("training")
    assert app.wait(120)
    rec = app.task_result("training")
    assert rec is not None and rec.complete and not rec.cancelled
    v = rec.value
    assert len(v.curves) == v.final.size == TASK_STARTS + 1
    assert all(c.size == TASK_BUDGET + 1 for c in v.curves)
    # The informed run, repeated outside the app from the same start and stream.
    s, setup = app.state, app.result.iqp_setup
    job = dict(theta0=app.result.iqp_init.thetas[0], gates=setup.gates, data=setup.data,
               sigma=setup.sigma, steps=TASK_BUDGET, lr=s["iqp_lr"], n_ops=lens_app.IQP_OPS,
               seed=(s["seed"], 21, 0))
    again = lens.iqp_train_job(job, None)
    assert again["final"] == v.final[0]
    np.testing.assert_array_equal(again["curve"], v.curves[0])
    a = app.artists["iqp"]
    assert not a.hint.get_visible()
    np.testing.assert_array_equal(a.informed.get_ydata(), v.curves[0])
    assert len(a.random.get_segments()) == TASK_STARTS
    assert a.mark.get_xdata()[0] == v.final[0]
    assert "training.iqp_final_mmd2" in app.export_result("csv")
    # Other settings hide the result; coming back shows it again.
    app.set_state({"iqp_lr": 0.02})
    assert app.task_result("training") is None and a.hint.get_visible()
    app.set_state({"iqp_lr": s["iqp_lr"]})
    assert app.task_result("training") is rec and not a.hint.get_visible()


def test_cancel_keeps_the_finished_runs(app):
    app.set_state({"budget": 300, "iqp_starts": 64})
    app.run("training")
    app.cancel("training")
    assert app.wait(120)
    rec = app.task_result("training")
    assert rec is not None and rec.cancelled
    # Only whole runs are kept: every kept curve has all its steps.
    assert rec.value.final.size < 65
    assert all(c.size == 301 for c in rec.value.curves)


def test_bad_values_keep_the_last_good_result(app):
    app.set_state({"p": 0.3, "q": 0.1, "budget": 10, "iqp_starts": 12})
    good, text = app.result, app.status_text
    app.set_state({"q": 0.4})
    assert "q must be below p = 0.3" in app.status_text
    assert "explorer-status-error" in app.status.value
    assert app.result is good
    assert app.artists["sbm"].informed.get_ydata().size == 11   # still the good picture
    app.set_state({"q": 0.1})
    assert app.status_text == text
    with pytest.raises(ValueError, match=r"correlation must be in \[-1, 1\]; got 3"):
        app.set_state({"correlation": 3.0})


def test_url_values_are_parsed_never_evaluated():
    app = lens_app.make_app(query_string="R=2.5&budget=__import__('os')&iqp_start=data")
    assert app.state["R"] == 2.5 and app.state["budget"] == 30
    assert "budget" in app.warning_text


@pytest.mark.parametrize("name", list(lens_app.PRESETS))
def test_presets_apply_with_one_recompute(app, name):
    n = app.n_recomputes
    app.apply_preset(name)
    assert app.n_recomputes == n + 1
    assert app.last_error is None, app.status_text
    want = app.preset_values(name)
    assert {k: app.state[k] for k in want} == want
    assert app.status_text == expected(app.state, lens_app.summary)


def test_perfect_information_preset(app):
    app.apply_preset("perfectly informed starts")
    assert np.all(app.result.sbm_runs.informed == 1.0)
    assert app.result.ntk_runs.risk == 0.0


def test_the_tour_walks_and_is_in_the_permalink(app):
    tour = app.tour_player.tours["lens_informed_vs_random"]
    assert 5 <= len(tour) <= 8
    for k, step in enumerate(tour.steps, start=1):
        app.go_to_step("lens_informed_vs_random", k)
        want = {**(app.preset_values(step.preset) if step.preset else {}), **step.values}
        assert {key: app.state[key] for key in want} == want
        assert app.last_error is None, app.status_text
        assert "explorer-focus" in app._fig_widgets[step.view]._dom_classes
        query = parse_qs(app.query_string())
        assert query["step"] == [str(k)]
    # What the narration claims, checked on the steps' own states.
    app.go_to_step("lens_informed_vs_random", 3)
    assert app.result.sbm_runs.share <= COLLAPSE_SHARE
    assert app.result.sbm_runs.informed[-1] > sbm.TRUTH_ACCURACY
    app.go_to_step("lens_informed_vs_random", 4)
    assert app.result.sbm_runs.informed[-1] <= sbm.TRUTH_ACCURACY
    app.go_to_step(None)


def test_permalink_restores_the_state(app):
    app.set_state({"correlation": 0.4, "iqp_start": "covariance", "R": 3.5, "budget": 12})
    again = lens_app.make_app(query_string=app.query_string())
    assert again.state == app.state
    assert again.status_text == app.status_text
