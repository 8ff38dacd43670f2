"""The NTK explorer driven headlessly: every view shows what the backend computes."""

import numpy as np
import pytest

from explorer import ntk
from explorer.apps import ntk_app
from explorer.apps._graph import evaluate_once


@pytest.fixture(scope="module")
def app():
    return ntk_app.make_app(query_string="")


def expected_status(state):
    return evaluate_once(ntk_app.STAGES, ntk_app.summary, state)


def test_default_view_matches_the_backend(app):
    app.apply_preset("fast polynomial decay")
    s = app.state
    lam = ntk.spectrum("polynomial", s["n"], beta=s["beta"])
    st = ntk.stopping_time(lam, s["R"], s["sigma"], alpha=s["alpha"] / lam[0])
    assert app.artists["risk"].t_hat.get_xdata()[0] == st.t_hat
    assert f"T_hat={st.t_hat:.0f} steps" in app.status_text
    assert app.status_text == expected_status(s)


def test_time_slider_is_a_cheap_re_view(app):
    n = app.n_computes
    app.controls["log_t"].value = 2.5
    assert app.n_computes == n
    t = 10**2.5
    assert app.artists["risk"].now.get_xdata()[0] == pytest.approx(t)
    s = app.state
    lam = ntk.spectrum(s["source"], s["n"], beta=s["beta"])
    coef = ntk.target_coefficients(lam, r=s["r"], R=1.0,
                                   rng=np.random.default_rng([s["seed"], 0])) * s["R"]
    grid = app.result.curves.t
    b, v, _ = ntk.risk_curve(lam, coef, s["sigma"], grid, alpha=1 / lam[0])
    text = app.artists["risk"].now_text.get_text()
    assert f"risk {np.interp(t, grid, b) + np.interp(t, grid, v):.3g}" in text


def test_t_hat_moves_with_R(app):
    app.apply_preset("fast polynomial decay")
    seen = []
    for R in (0.2, 1.0, 5.0):
        app.controls["R"].value = R
        seen.append(app.result.curves.stopping["pretrained"].t_hat)
    assert seen[0] < seen[1] < seen[2]


def test_curves_are_the_straightforward_backend_computation(app):
    """The factored risk model's curves, oracle and KRR against the module functions called
    directly for both starts: the same numbers, bit for bit."""
    app.set_state({"source": "polynomial", "beta": 2.5, "R": 1.7, "R_random": 9.0,
                   "sigma": 0.4, "alpha": 1.0})
    s = app.state
    lam = ntk.spectrum("polynomial", s["n"], beta=s["beta"])
    unit = ntk.target_coefficients(lam, r=s["r"], R=1.0,
                                   rng=np.random.default_rng([s["seed"], 0]))
    step = ntk.step_size(lam, s["alpha"])
    c = app.result.curves
    for which, dist in (("pretrained", s["R"]), ("random", s["R_random"])):
        want = ntk.risk_curve(lam, unit * dist, s["sigma"], c.t, alpha=step)
        for got, ref in zip(c.curves[which], want, strict=True):
            np.testing.assert_array_equal(got, ref)
        assert c.oracle[which] == ntk.oracle_time(lam, unit * dist, s["sigma"], alpha=step)
        assert c.stopping[which] == ntk.stopping_time(lam, dist, s["sigma"], alpha=step)
    assert c.krr == ntk.krr_equivalent(lam, unit * s["R"], s["sigma"], alpha=step)
    assert c.beta_hat == ntk.decay_exponent(lam)


def test_a_change_of_R_recomputes_and_redraws_only_the_pretrained_start(app):
    app.set_state({"source": "polynomial", "R": 1.0})
    spectrum_view = app.artists["spectrum"].eig.get_ydata()
    drawn = []
    app._blit_figure = lambda name, overlay_only=True: drawn.append(name)
    app.graph.seconds.clear()
    try:
        app.controls["R"].value = 2.35
    finally:
        del app._blit_figure
    assert app.last_error is None
    assert set(app.graph.seconds) == {"pretrained", "curves"}     # the factored risk is kept
    assert drawn == ["risk"] and app.artists["spectrum"].eig.get_ydata() is spectrum_view


def test_attention_spectrum_and_task_vectors(app):
    app.apply_preset("attention eNTK")
    ak = ntk.attention_kernel(ntk_app.ATTENTION_N, blocks=("q", "k", "v", "w"),
                              theta0="pretrained", rng=np.random.default_rng([0, 1]))
    assert np.allclose(app.artists["spectrum"].eig.get_ydata(), ak.eigenvalues[ak.eigenvalues > 0])
    app.set_state({"blocks": "q,k,v", "overlap": "disjoint"})
    inter = app.artists["tasks"].inter.get_array()
    assert abs(inter[0, 1]) < 1e-12 and abs(inter[1, 0]) < 1e-12 and inter[0, 0] > 0
    app.set_state({"blocks": "q,k,v,w"})
    # a shared head couples the tasks
    assert app.artists["tasks"].inter.get_array()[0, 1] > 1e-6
    n = app.n_computes
    app.controls["c2"].value = 0.0                        # re-view: only the bars move
    assert app.n_computes == n
    errs = app.result.tasks.errors([app.state["c1"], 0.0])
    assert [b.get_height() for b in app.artists["tasks"].bars] == pytest.approx(list(errs))


def test_large_steps_show_divergence_without_crashing(app):
    app.apply_preset("step too large (diverges)")
    assert app.last_error is None
    assert "diverges" in app.status_text
    assert "Note: alpha = " in app.status_text           # the backend's warning, shown
    assert "explorer-status-warning" in app.status.value
    assert app.result.curves.curves["pretrained"][2][-1] > 1e6


def test_rates_task_reports_fitted_slopes(app):
    app.apply_preset("fast polynomial decay")
    app.run("rates")
    assert app.wait(300)
    rs = app.task_result("rates").value
    assert rs is not None and len(rs.n) == len(ntk_app.RATE_NS)
    assert abs(rs.slopes["risk_oracle"] - rs.theory["risk_oracle"]) < 0.05
    assert f"{rs.slopes['risk_oracle']:.2f}" in app.artists["rates"].ax.get_title()


def test_url_round_trip(app):
    app.set_state({"source": "spiked", "kappa": 30.0, "R": 0.4, "sigma": 0.2, "seed": 3})
    clone = ntk_app.make_app(query_string=app.query_string())
    assert clone.state == app.state and clone.status_text == app.status_text


def test_real_language_model_preset_uses_the_shipped_kernel(app):
    lm = ntk.language_model_kernel()
    app.apply_preset("real language model")
    assert np.array_equal(app.result.spectrum.lam, lm.eigenvalues)
    assert app.state["R"] == pytest.approx(lm.R, abs=0.05)   # the preset's R is the real one
    st = ntk.stopping_time(lm.eigenvalues, app.state["R"], app.state["sigma"],
                           alpha=app.state["alpha"] / lm.eigenvalues[0])
    assert app.result.curves.stopping["pretrained"].t_hat == st.t_hat


def test_dragging_on_the_risk_plot_moves_the_time_cursor(app):
    n = app.n_computes
    app.press("risk", 1234.0, 0.1)
    assert app.state["log_t"] == pytest.approx(round(np.log10(1234.0), 2))
    assert app.artists["risk"].now.get_xdata()[0] == pytest.approx(10 ** app.state["log_t"])
    assert app.n_computes == n and "log_t=" in app.query_string()


def test_rates_are_disabled_with_a_reason_for_a_fixed_kernel():
    app = ntk_app.make_app(query_string="")
    assert not app.task_rows["rates"].run.disabled
    app.apply_preset("real language model")
    row = app.task_rows["rates"]
    assert row.run.disabled and "pick a synthetic kernel" in row.label.value
    with pytest.raises(ValueError, match="one fixed matrix"):
        app.run("rates")
    app.set_state({"source": "exponential"})
    assert not row.run.disabled and "fixed matrix" not in row.label.value


def _pixels(fig):
    return np.asarray(fig.canvas.buffer_rgba()).copy()


@pytest.mark.parametrize("view,control,value", [("risk", "log_t", 3.3), ("tasks", "c1", -0.4)])
def test_cursor_and_weights_are_blitted_and_match_a_full_redraw(view, control, value):
    """Only the animated artists are drawn again, and the pixels are those of a full render."""
    app = ntk_app.make_app(query_string="")
    fig = app.figures[view]
    old, blits = _pixels(fig), app.n_blits
    app.controls[control].value = value
    assert app.n_blits == blits + 1
    blitted = _pixels(fig)
    assert not np.array_equal(blitted, old)              # the cursor or the bars moved
    fig.canvas.draw()                                    # everything rendered from scratch
    assert np.array_equal(blitted, _pixels(fig))


def test_a_change_of_the_curves_is_a_full_draw_not_a_blit():
    app = ntk_app.make_app(query_string="")
    blits = app.n_blits
    app.controls["R"].value = 3.0
    assert app.n_blits == blits
    fig = app.figures["risk"]
    drawn = _pixels(fig)
    fig.canvas.draw()
    assert np.array_equal(drawn, _pixels(fig))


def test_the_task_model_is_the_pretrained_theta0_and_comes_back_from_the_cache(tmp_path,
                                                                              monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    want = ntk.attention_theta0(ntk_app.ATTENTION_N, theta0="pretrained",
                                rng=np.random.default_rng([3, 1]))[0]
    first = ntk_app.task_model(3)
    (kept,) = (tmp_path / "explorer-data").glob("attention_*.npy")
    original = ntk.attention_theta0

    def random_only(*args, theta0, **kwargs):
        assert theta0 == "random", "pretrained again although the cache holds the weights"
        return original(*args, theta0=theta0, **kwargs)

    monkeypatch.setattr(ntk, "attention_theta0", random_only)
    again = ntk_app.task_model(3)
    for model in (first, again):
        np.testing.assert_array_equal(model.theta, want.theta)
        np.testing.assert_array_equal(model.forward(np.ones((2, 8, 16))),
                                      want.forward(np.ones((2, 8, 16))))
    assert kept.is_file()
