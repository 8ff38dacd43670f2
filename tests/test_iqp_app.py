"""The IQP explorer driven headlessly: every view shows what the backend computes."""

import numpy as np
import pytest

from explorer import datasets, iqp
from explorer.apps import iqp_app


@pytest.fixture(scope="module")
def app():
    return iqp_app.make_app(query_string="")


def test_landscape_slice_is_the_exact_loss_through_the_start(app):
    app.apply_preset("exact landscape, data-dependent start")
    s = app.state
    n = s["n"]
    data = datasets.genomic(n, rng=2026)
    gates = iqp.local_gates(n)
    sigma = iqp.sigma_for_mean_weight(n, s["w"])
    theta0 = iqp.init_params("data", gates, data=data, scale=10 ** s["log_scale"],
                             rng=np.random.default_rng([s["seed"], 0]))
    assert np.allclose(app.result.start.theta0, theta0)
    mid = len(iqp_app.SLICE) // 2
    assert app.artists["landscape"].line.get_ydata()[mid] == pytest.approx(
        iqp.mmd2_exact(theta0, gates, data, sigma, unbiased=True), rel=1e-10)
    stats = iqp.low_order_statistics(theta0, gates, data)
    means = app.artists["statistics"].means.get_offsets()
    assert np.allclose(means[:, 1], 1 - 2 * stats["model_mean"])


def test_bandwidth_modes_and_estimated_landscapes(app):
    app.set_state({"n": 14, "bandwidth": "constant"})
    assert app.result.kernel_sigma == pytest.approx(iqp.sigma_for_mean_weight(6, app.state["w"]))
    assert not app.result.slices.exact and "estimated" in app.status_text
    app.set_state({"n": 10, "bandwidth": "mean_weight"})
    assert app.result.slices.exact


def test_unconfigured_hapt_file_is_explained(app, monkeypatch):
    monkeypatch.delenv(iqp_app.HAPT_ENV, raising=False)
    iqp_app.load_data.cache_clear()
    good = app.result
    app.controls["dataset"].value = "hapt file"
    assert "no .hapt file offered by this server" in app.status_text and app.result is good
    app.controls["dataset"].value = "genomic (msprime)"


def test_variance_task_covers_every_strategy(app):
    app.set_state({"n_max": 8, "draws": 20, "bandwidth": "mean_weight"})
    app.run("variance")
    assert app.wait(600)
    variance = app.task_result("variance").value
    assert set(variance) == set(iqp.STRATEGIES)
    full = variance["full_range"]
    assert list(full.n) == [6, 8] and np.all(full.exact)
    a = app.artists["variance"]
    for strategy, lv in variance.items():
        # points only where the estimate is more than 2 se above 0; bounds elsewhere
        sig = lv.variance > 2 * lv.se
        assert np.array_equal(a.lines[strategy].get_ydata(), lv.variance[sig])
        assert np.allclose(a.bounds[strategy].get_ydata(), (lv.variance + 2 * lv.se)[~sig])
    assert "variance.full_range.se" in app.export_columns()


def test_estimator_noise_is_never_drawn_as_a_variance():
    """Above the exact range, a variance estimate within 2 se of zero (or below it) is shown
    as an upper bound, never as a point on the curve."""
    from explorer.iqp._train import LossVariance

    app = iqp_app.make_app(query_string="")
    a = iqp_app.build_variance(app.figures["variance"])
    lv = LossVariance(n=np.array([6, 8, 10]), variance=np.array([1e-3, 2e-6, -1e-6]),
                      se=np.array([1e-5, 5e-6, 4e-6]), mean=np.zeros(3), grad_max=np.ones(3),
                      sigma=np.ones(3), exact=np.array([True, False, False]), n_draws=50,
                      strategy="identity")
    iqp_app.draw_variance(a, {"identity": lv})
    assert list(a.lines["identity"].get_xdata()) == [6]
    assert list(a.bounds["identity"].get_xdata()) == [8, 10]
    assert np.allclose(a.bounds["identity"].get_ydata(), [2e-6 + 1e-5, -1e-6 + 8e-6])


def test_training_task_draws_a_curve_per_strategy(app):
    app.set_state({"n_train": 12, "steps": 20, "lr": 0.05, "n_ops": 50})
    app.run("training")
    assert app.wait(600)
    curves = app.task_result("training").value
    for strategy in iqp.STRATEGIES:
        raw = app.artists["training"].raw[strategy].get_ydata()
        smooth = app.artists["training"].lines[strategy].get_ydata()
        assert np.array_equal(raw, curves[strategy]) and len(raw) == 21
        # the bold curve is the trailing mean of the last SMOOTH raw estimates, by hand
        want = [np.mean(raw[max(0, k - iqp_app.SMOOTH + 1):k + 1]) for k in range(len(raw))]
        assert np.allclose(smooth, want, rtol=1e-12)


def test_data_dependent_start_beats_unbiased_on_genomic_data():
    n = 12
    data = datasets.genomic(n, rng=2026)
    gates = iqp.local_gates(n)
    sigma = iqp.sigma_for_mean_weight(n, 2.0)
    losses = {}
    for strategy in ("data", "unbiased"):
        theta = iqp.init_params(strategy, gates, data=data, scale=0.0)
        losses[strategy] = iqp.mmd2_exact(theta, gates, data, sigma)
    assert losses["data"] < losses["unbiased"]


def test_dask_scheduler_address_is_validated_and_used(app):
    distributed = pytest.importorskip("distributed")
    app.set_state({"n_max": 6, "draws": 10, "bandwidth": "mean_weight"})
    app.dask.widget.value = "__import__('os')"
    app.task_rows["variance"].run.click()
    app.wait(60)
    assert "dask scheduler must look like tcp://host:port" in app.status_text
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=40) as cluster:
        app.dask.widget.value = cluster.scheduler_address
        app.run("variance")
        assert app.wait(300)
        local = iqp.loss_variance([6], "identity", data=datasets.genomic(6, rng=2026),
                                  scale=10 ** app.state["log_scale"], n_draws=10,
                                  rng=np.random.default_rng([app.state["seed"], 4, 1]))
        got = app.task_result("variance").value["identity"]
        assert np.array_equal(got.variance, local.variance)
        for client in app.dask.clients.values():
            client.close()
        app.dask.clients.clear()
    app.dask.widget.value = ""


def test_a_bad_control_during_training_neither_aborts_nor_recomputes_it(monkeypatch):
    """Failure 1 of the shell issue: a bad value set while training ran stopped the curves."""
    monkeypatch.delenv(iqp_app.HAPT_ENV, raising=False)
    app = iqp_app.make_app(query_string="", n_train=8, steps=60, n_ops=20, lr=0.05)
    computes = app.n_computes
    app.run("training")
    app.controls["dataset"].value = "hapt file"          # refused: no file on this server
    assert "no .hapt file offered" in app.status_text
    assert app.wait(600)
    app.controls["dataset"].value = "genomic (msprime)"
    rec = app.task_result("training")
    assert rec.complete
    assert all(len(rec.value[s]) == 61 for s in iqp.STRATEGIES)
    assert app.n_computes == computes                     # nothing recomputed on the worker


def test_starting_one_task_never_wipes_another(monkeypatch):
    """Failure 2: pressing "Run training" while the variance ran wiped the finished curves."""
    app = iqp_app.make_app(query_string="", n_train=6, steps=20, n_ops=20, n_max=8, draws=20)
    app.run("training")
    assert app.wait(600)
    curves = app.task_result("training").value
    app.run("variance")
    app.task_rows["training"].run.click()      # a second training while the variance runs
    app.task_rows["training"].run.click()      # and a third: refused while one runs
    assert "training is already running" in app.status_text
    assert app.wait(600)
    again = app.task_result("training").value
    variance = app.task_result("variance").value
    assert set(variance) == set(iqp.STRATEGIES)
    # The same settings and seed give the same curves: nothing was lost or mixed.
    assert all(np.array_equal(curves[s], again[s]) for s in iqp.STRATEGIES)
    y = app.artists["training"].raw["data"].get_ydata()
    assert np.array_equal(y, curves["data"])


def test_a_click_on_the_2d_slice_moves_the_start_there():
    app = iqp_app.make_app(query_string="", n=8)
    a = app.artists["landscape"]
    plane = app.result.slices.plane
    i, j = 3, 11                                   # grid point (v = GRID[i], u = GRID[j])
    u, v = float(iqp_app.GRID[j]), float(iqp_app.GRID[i])
    app.press("landscape", u, v, ax=a.ax2)
    assert (app.state["shift_u"], app.state["shift_v"]) == (u, v)
    assert f"shift_u={u!r}" in app.query_string()
    # The new start's exact loss is the old plane's value at the clicked point.
    assert app.result.slices.loss0 == pytest.approx(plane[i, j], rel=1e-9)
    app.press("landscape", 0.5, 0.01, ax=a.ax)     # the 1-D slice does not move the start
    assert app.state["shift_u"] == u


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_training_tells_the_papers_story(seed):
    """The app's default training (learning rate, scale, normalisation, kernel) at a short size
    shows the paper's order (Lerch et al., training at 150 qubits): the data-dependent starts
    are lowest from the first step to the last, the unbiased start trains, identity stalls
    above it, and the full-range start stays on the plateau."""
    app = iqp_app.make_app(query_string="", n_train=50, steps=200, n_ops=200, seed=seed)
    defaults = {p.name: p.default for p in iqp_app.PARAMS}
    assert all(app.state[k] == defaults[k] for k in ("lr", "log_scale", "normalisation",
                                                     "bandwidth", "w", "gate_set", "dataset"))
    app.run("training")
    assert app.wait(600)
    curves = app.task_result("training").value
    smooth = {s: iqp.running_mean(c, iqp_app.SMOOTH) for s, c in curves.items()}
    first = {s: c[0] for s, c in smooth.items()}
    last = {s: c[-1] for s, c in smooth.items()}
    informed = max(last["data"], last["covariance"])
    assert informed < last["unbiased"] < last["identity"] < last["full_range"], last
    assert max(first["data"], first["covariance"]) < min(
        first[s] for s in ("unbiased", "identity", "full_range")), first
    assert last["unbiased"] < 0.5 * first["unbiased"]          # it trains
    assert last["full_range"] > 0.8 * first["full_range"]      # it does not
