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
    assert np.allclose(app.result.theta0, theta0)
    mid = len(iqp_app.SLICE) // 2
    assert app.views.slice1.get_ydata()[mid] == pytest.approx(
        iqp.mmd2_exact(theta0, gates, data, sigma), rel=1e-10)
    stats = iqp.low_order_statistics(theta0, gates, data)
    assert np.allclose(app.views.means.get_offsets()[:, 1], 1 - 2 * stats["model_mean"])


def test_bandwidth_modes_and_estimated_landscapes(app):
    app.set_state({"n": 14, "bandwidth": "constant"})
    assert app.result.sigma == pytest.approx(iqp.sigma_for_mean_weight(6, app.state["w"]))
    assert not app.result.exact and "estimated" in app.status_text
    app.set_state({"n": 10, "bandwidth": "mean weight"})
    assert app.result.exact


def test_unconfigured_hapt_file_is_explained(app, monkeypatch):
    monkeypatch.delenv(iqp_app.HAPT_ENV, raising=False)
    iqp_app.load_data.cache_clear()
    good = app.result
    app.controls["dataset"].value = "hapt file"
    assert "no .hapt file offered by this server" in app.status_text and app.result is good
    app.controls["dataset"].value = "genomic (msprime)"


def test_variance_task_covers_every_strategy(app):
    app.set_state({"n_max": 8, "draws": 20, "bandwidth": "mean weight"})
    app.start_variance()
    assert app.wait(600)
    assert set(app.variance) == set(iqp.STRATEGIES)
    full = app.variance["full_range"]
    assert list(full.n) == [6, 8] and np.all(full.exact)
    assert np.array_equal(app.views.var_lines["full_range"].get_ydata(), full.variance)


def test_training_task_draws_a_curve_per_strategy(app):
    app.set_state({"n_train": 12, "steps": 20, "lr": 0.05, "n_ops": 50})
    app.start_training()
    assert app.wait(600)
    for strategy in iqp.STRATEGIES:
        y = app.views.train_lines[strategy].get_ydata()
        assert len(y) == 21 and np.all(np.isfinite(y))


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
    app.set_state({"n_max": 6, "draws": 10, "bandwidth": "mean weight"})
    app.scheduler.value = "__import__('os')"
    app.start_variance()
    app.wait(60)
    assert "dask scheduler must look like tcp://host:port" in app.status_text
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=40) as cluster:
        app.scheduler.value = cluster.scheduler_address
        app.start_variance()
        assert app.wait(300)
        local = iqp.loss_variance([6], "identity", data=datasets.genomic(6, rng=2026),
                                  scale=10 ** app.state["log_scale"], n_draws=10,
                                  rng=np.random.default_rng([app.state["seed"], 4, 1]))
        assert np.array_equal(app.variance["identity"].variance, local.variance)
        for client in app.dask_clients.values():
            client.close()
        app.dask_clients.clear()
    app.scheduler.value = ""
