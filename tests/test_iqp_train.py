"""Training and the loss variance over initializations (the barren-plateau measurement)."""

import concurrent.futures as cf
import threading

import numpy as np
import pytest

from explorer import datasets, iqp
from explorer._common import Status


def toy_data(n=8, rng=0):
    rng = np.random.default_rng(rng)
    return (rng.random((300, n)) < np.linspace(0.15, 0.85, n)).astype(np.uint8)


def test_adam_matches_the_textbook_update():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    opt = iqp.adam(lr, b1, b2, eps)
    theta = np.array([1.0, -2.0])
    state = opt.init(theta)
    m = v = np.zeros(2)
    for t, g in enumerate([np.array([0.5, -1.0]), np.array([0.2, 0.3])], start=1):
        step, state = opt.update(g, state)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        want = -lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        assert np.allclose(step, want, rtol=1e-14)
    step, _ = iqp.sgd(0.5).update(np.array([2.0]), None)
    assert step[0] == -1.0


def test_training_lowers_the_exact_loss():
    data = toy_data()
    gates = iqp.local_gates(8)
    sigma = iqp.sigma_for_mean_weight(8, 2.0)
    theta0 = iqp.init_params("identity", gates, data=data, scale=0.05, rng=1)
    tr = iqp.train(gates, data, theta0, sigma=sigma, steps=60, learning_rate=0.05, n_ops=150,
                   n_samples=150, rng=2)
    assert tr.status is Status.COMPLETED and tr.n_records == 61
    assert np.array_equal(tr.iterates[0], theta0)
    before = iqp.mmd2_exact(theta0, gates, data, sigma)
    after = iqp.mmd2_exact(tr.final, gates, data, sigma)
    assert after < 0.3 * before
    assert tr.extras["grad_norm"].shape == (61,)


def test_training_stops_early_on_callback_and_on_cancel():
    data = toy_data(6)
    gates = iqp.local_gates(6)
    kw = dict(sigma=1.0, steps=50, learning_rate=0.05, n_ops=20, n_samples=20, rng=3)
    theta0 = np.zeros(len(gates))
    tr = iqp.train(gates, data, theta0, callback=lambda k, loss, th: k >= 4, **kw)
    assert tr.status is Status.STOPPED_EARLY and tr.n_records == 5
    stop = threading.Event()
    stop.set()
    tr = iqp.train(gates, data, theta0, cancel=stop, **kw)
    assert tr.status is Status.CANCELLED and tr.n_records == 1
    tr = iqp.train(gates, data, theta0, record="ends", **kw)
    assert tr.iterates.shape == (2, len(gates)) and tr.times[-1] == 50


def test_full_range_variance_decays_exponentially_identity_does_not():
    data = toy_data(10, rng=4)
    full = iqp.loss_variance([6, 8, 10], "full_range", data=data, n_draws=60, rng=5)
    assert np.all(full.exact)
    rate = -np.polyfit(full.n, np.log(full.variance), 1)[0]
    assert rate > 0.5 * np.log(2)                      # at least halving every two qubits
    ident = iqp.loss_variance([6, 8, 10], "identity", data=data, scale=0.05, n_draws=60,
                              rng=6)
    assert ident.variance.max() / ident.variance.min() < 4   # no exponential collapse
    assert ident.variance[-1] > 10 * full.variance[-1]


def test_loss_variance_is_identical_on_a_process_pool():
    data = toy_data(8, rng=7)
    kw = dict(data=data, n_draws=12, chunk=4, exact_up_to=6, n_ops=30, n_samples=30, rng=8)
    serial = iqp.loss_variance([6, 8], "unbiased", scale=0.1, **kw)
    with cf.ProcessPoolExecutor(2) as pool:
        pooled = iqp.loss_variance([6, 8], "unbiased", scale=0.1, executor=pool, **kw)
    assert np.array_equal(serial.variance, pooled.variance)
    assert np.array_equal(serial.grad_max, pooled.grad_max)
    assert list(serial.exact) == [True, False]


def test_training_and_variance_validation():
    data = toy_data(6)
    with pytest.raises(ValueError, match="optimizer must be one of 'adam', 'sgd'"):
        iqp.train(iqp.local_gates(6), data, np.zeros(21), sigma=1.0, steps=1,
                  learning_rate=0.1, n_ops=5, n_samples=5, optimizer="lbfgs")
    with pytest.raises(ValueError, match="bandwidth must be one of"):
        iqp.loss_variance([6], "identity", data=data, bandwidth="median")
    with pytest.raises(ValueError, match=r"n_values entries must be an integer in \[2, 6\]"):
        iqp.loss_variance([8], "identity", data=data)


def test_standard_error_of_the_variance_matches_its_spread_over_repeats():
    """_covariance_se against the spread of the estimate over independent repeats and the
    normal-theory value sqrt(2 / N) s^2 (X = Y, Gaussian draws)."""
    from explorer.iqp._train import _covariance_se

    rng = np.random.default_rng(0)
    N, s2 = 400, 2.5
    estimates, ses = [], []
    for _ in range(300):
        x = rng.normal(0.0, np.sqrt(s2), N)
        estimates.append(np.cov(x, x)[0, 1])
        ses.append(_covariance_se(x, x))
    assert np.mean(ses) == pytest.approx(np.std(estimates), rel=0.1)
    assert np.mean(ses) == pytest.approx(np.sqrt(2 / N) * s2, rel=0.1)
    # independent X and Y: the covariance is 0 and its se is s^2 / sqrt(N)
    x, y = rng.normal(0, 1, 10_000), rng.normal(0, 1, 10_000)
    assert _covariance_se(x, y) == pytest.approx(1 / np.sqrt(10_000), rel=0.05)


def test_loss_variance_reports_standard_errors():
    data = datasets.genomic(8, rng=2026)
    lv = iqp.loss_variance([6, 8], "identity", data=data, scale=0.5, n_draws=40,
                           exact_up_to=6, rng=1)
    assert lv.se.shape == lv.variance.shape and np.all(lv.se > 0)
    assert list(lv.exact) == [True, False]
