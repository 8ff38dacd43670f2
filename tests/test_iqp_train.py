"""Training and the loss variance over initializations (the barren-plateau measurement)."""

import concurrent.futures as cf
import threading

import numpy as np
import pytest

from explorer import iqp
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
