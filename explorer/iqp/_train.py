"""Training IQP Born machines on the MMD^2 estimator, and the loss variance over initializations.

Optimizers are pure ``(init, update)`` pairs in the style of optax: the loop is written once
in :func:`train` around them. :func:`loss_variance` measures the barren plateau: the variance
of MMD^2 over initial angles drawn by a strategy, as n grows (Lerch et al., arXiv:2603.14576;
reference/iqp.md sections 5 to 7).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .._common import (
    Status,
    Trajectory,
    as_rng,
    check_array,
    check_int,
    check_option,
    check_real,
)
from ..sweep import run_sweep
from ._circuit import EXACT_MAX_N, GateSet, local_gates
from ._init import STRATEGIES, init_params
from ._mmd import BANDWIDTHS, _check_data, mmd2, mmd2_exact
from ._mmd import bandwidth as _bandwidth  # loss_variance has an argument of that name

__all__ = ["LossVariance", "OPTIMIZERS", "adam", "loss_variance", "running_mean", "sgd",
           "train"]

OPTIMIZERS = ("adam", "sgd")


def running_mean(values, window: int) -> np.ndarray:
    """Trailing running mean over the last ``window`` values (fewer at the start).

    Training curves of the MMD^2 estimator are one noisy estimate per step; their running mean
    shows the trend (the raw values are drawn faintly beside it).

    Parameters
    ----------
    values : array_like, shape (K,)
    window : int
        >= 1.

    Returns
    -------
    ndarray, shape (K,)

    Examples
    --------
    >>> running_mean([1.0, 3.0, 5.0, 7.0], 2).tolist()
    [1.0, 2.0, 4.0, 6.0]
    """
    y = check_array("values", values, ndim=1)
    window = check_int("window", window, 1)
    c = np.concatenate([[0.0], np.cumsum(y)])
    k = np.arange(1, y.size + 1)
    lo = np.maximum(k - window, 0)
    return (c[k] - c[lo]) / (k - lo)


class Optimizer(NamedTuple):
    """``state = init(theta)``; ``step, state = update(grad, state)`` (theta += step)."""

    init: Callable[[np.ndarray], Any]
    update: Callable[[np.ndarray, Any], tuple[np.ndarray, Any]]


def sgd(learning_rate: float) -> Optimizer:
    """Plain gradient descent: step = -learning_rate * grad."""
    lr = check_real("learning_rate", learning_rate, 0.0, lo_open=True)
    return Optimizer(lambda theta: None, lambda grad, state: (-lr * grad, state))


def adam(learning_rate: float, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> Optimizer:
    """Adam (Kingma & Ba, 2015) with bias correction, as a pure (init, update) pair."""
    lr = check_real("learning_rate", learning_rate, 0.0, lo_open=True)
    b1 = check_real("b1", b1, 0.0, 1.0, hi_open=True)
    b2 = check_real("b2", b2, 0.0, 1.0, hi_open=True)

    def init(theta):
        return (0, np.zeros_like(theta), np.zeros_like(theta))

    def update(grad, state):
        count, mu, nu = state
        count += 1
        mu = b1 * mu + (1 - b1) * grad
        nu = b2 * nu + (1 - b2) * grad * grad
        mu_hat = mu / (1 - b1**count)
        nu_hat = nu / (1 - b2**count)
        return -lr * mu_hat / (np.sqrt(nu_hat) + eps), (count, mu, nu)

    return Optimizer(init, update)


def train(gates, data, theta0, *, sigma: float, steps: int, learning_rate: float, n_ops: int,
          n_samples: int, optimizer: str = "adam", rng=None,
          callback: Callable[[int, float, np.ndarray], Any] | None = None,
          cancel: threading.Event | None = None, record: str = "all") -> Trajectory:
    """Minimise the MMD^2 estimator from ``theta0`` with fresh random draws at every step.

    Parameters
    ----------
    gates : list of tuple of int
    data : array_like, shape (M, n)
        0/1 training samples.
    theta0 : array_like, shape (m,)
        The initialization (see :func:`init_params`).
    sigma : float
        Kernel bandwidth.
    steps : int
        Optimizer steps.
    learning_rate : float
    n_ops, n_samples : int
        Operators and bit strings per loss estimate.
    optimizer : {"adam", "sgd"}
    rng : seed or Generator
    callback : callable, optional
        ``callback(step, loss, theta)`` after each estimate; returning True stops early.
    cancel : threading.Event, optional
        Set from another thread to stop (status ``CANCELLED``).
    record : {"all", "ends"}
        Keep theta at every step, or only the first and the last (losses are always kept).

    Returns
    -------
    Trajectory
        ``iterates[k]`` the angles before step k, ``objective[k]`` the loss estimate there,
        ``extras["grad_norm"]``; status ``COMPLETED``, ``STOPPED_EARLY`` or ``CANCELLED``.
    """
    data = _check_data(data)
    gates = GateSet(gates, data.shape[1])     # validated once, not at every step
    theta = np.array(theta0, dtype=float)
    steps = check_int("steps", steps, 0, 10_000_000)
    opt = {"adam": adam, "sgd": sgd}[check_option("optimizer", optimizer, OPTIMIZERS)](
        learning_rate)
    record = check_option("record", record, ("all", "ends"))
    rng = as_rng(rng)
    state = opt.init(theta)
    thetas, losses, norms = [theta.copy()], [], []
    status = Status.COMPLETED
    for step in range(steps + 1):
        value, grad = mmd2(theta, gates, data, sigma, n_ops=n_ops, n_samples=n_samples,
                           rng=rng, grad=True)
        losses.append(value)
        # not np.linalg.norm: its BLAS dot wakes the BLAS threads (m > 10^4) to spin
        norms.append(float(np.sqrt(np.einsum("k,k->", grad, grad))))
        stop = callback(step, value, theta) if callback is not None else False
        if step == steps:
            break
        if cancel is not None and cancel.is_set():
            status = Status.CANCELLED
            break
        if stop:
            status = Status.STOPPED_EARLY
            break
        delta, state = opt.update(grad, state)
        theta = theta + delta
        if record == "all":
            thetas.append(theta.copy())
        else:
            thetas[1:] = [theta.copy()]
    k = len(losses)
    if record == "ends":
        times = np.array([0.0, k - 1.0]) if k > 1 else np.array([0.0])
        objective = np.array([losses[0], losses[-1]])[: times.size]
        norms_rec = np.array([norms[0], norms[-1]])[: times.size]
        return Trajectory(times=times, iterates=np.asarray(thetas[: times.size]),
                          objective=objective, status=status,
                          extras={"grad_norm": norms_rec})
    return Trajectory(times=np.arange(k, dtype=float), iterates=np.asarray(thetas[:k]),
                      objective=np.asarray(losses), status=status,
                      extras={"grad_norm": np.asarray(norms)})


# ---------------------------------------------------------------------------- loss variance


@dataclass(frozen=True)
class LossVariance:
    """Variance of MMD^2 over initializations, per number of qubits.

    Attributes
    ----------
    n : ndarray
        Qubit counts.
    variance : ndarray
        Var over theta0 of the exact MMD^2 (n <= exact_up_to) or of its estimator's mean,
        the latter from the covariance of two independent estimates per draw (unbiased: the
        estimator's own noise cancels).
    se : ndarray
        Standard error of ``variance``: the standard deviation of the centred products
        (X_i - mean X)(Y_i - mean Y) over sqrt(draws) (derived here; the delta method for a
        sample covariance, X = Y for exact values). Above the exact range it can exceed the
        variance by orders of magnitude: a value within 2 se of zero is only an upper bound.
    mean : ndarray
        Mean MMD^2 over the draws.
    grad_max : ndarray
        Mean over draws of max_k |dL/dtheta_k| (the estimator's gradient).
    sigma : ndarray
        The bandwidth used at each n.
    exact : ndarray of bool
    n_draws : int
    strategy : str
    """

    n: np.ndarray
    variance: np.ndarray
    se: np.ndarray
    mean: np.ndarray
    grad_max: np.ndarray
    sigma: np.ndarray
    exact: np.ndarray
    n_draws: int
    strategy: str


def _covariance_se(x, y) -> float:
    """Standard error of the sample covariance of paired draws (derived here)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    products = (x - x.mean()) * (y - y.mean())
    return float(products.std(ddof=1) / np.sqrt(x.size))


def _variance_job(job: dict, rng: np.random.Generator) -> tuple:
    """Sweep worker: ``count`` initializations at one n (importable by cluster workers)."""
    n, data = job["n"], job["data"]
    gates = local_gates(n)
    gs = GateSet(gates, n)                    # validated once for every draw of the chunk
    values, second, grads = [], [], []
    for _ in range(job["count"]):
        theta = init_params(job["strategy"], gates, data=data, scale=job["scale"],
                            normalisation=job["normalisation"], rng=rng)
        kw = dict(n_ops=job["n_ops"], n_samples=job["n_samples"])
        est, grad = mmd2(theta, gs, data, job["sigma"], rng=rng, grad=True, **kw)
        if job["exact"]:
            v = mmd2_exact(theta, gates, data, job["sigma"])
            values.append(v)
            second.append(v)
        else:
            values.append(est)
            second.append(mmd2(theta, gs, data, job["sigma"], rng=rng, **kw))
        grads.append(float(np.max(np.abs(grad))))
    return n, values, second, grads


def loss_variance(n_values: Sequence[int], strategy: str, *, data, bandwidth: str = "mean_weight",
                  w: float = 2.0, sigma: float | None = None, n_ref: int = 6,
                  scale: float = 1.0,
                  normalisation: str = "unit",
                  n_draws: int = 200, exact_up_to: int = 12, n_ops: int = 200,
                  n_samples: int = 200, chunk: int = 25, rng=None, executor=None,
                  on_progress=None, cancel=None) -> LossVariance:
    """Var over initial angles of MMD^2 as the number of qubits grows (the barren plateau).

    Parameters
    ----------
    n_values : sequence of int
        Qubit counts; the model uses all one- and two-qubit gates and the first n data bits.
    strategy : one of STRATEGIES
    data : array_like, shape (M, n_max)
        0/1 training samples with at least max(n_values) columns.
    bandwidth : {"mean_weight", "constant", "sigma"}
        sigma at each n by :func:`bandwidth` (``bandwidth(mode, n, w=w, sigma=sigma,
        n_ref=n_ref)``): "mean_weight" re-chosen at each n for mean operator weight ``w``;
        "constant" fixed at its mean-weight-``w`` value at ``n_ref`` qubits; "sigma" fixed at
        ``sigma``. "constant" with a ``sigma`` given is the same as "sigma" (as before that
        mode existed).
    w, sigma, n_ref
        As in :func:`bandwidth`.
    scale, normalisation
        As in :func:`init_params`.
    n_draws : int
        Initializations per n.
    exact_up_to : int
        Exact MMD^2 for n up to this (<= 20); the unbiased estimator above.
    n_ops, n_samples : int
        Draws of the estimator (and of the gradient).
    rng, executor, on_progress, cancel
        Randomness and the sweep engine's options: the draws run in chunks, on any executor.

    Returns
    -------
    LossVariance
    """
    data = _check_data(data)
    ns = sorted({check_int("n_values entries", v, 2, data.shape[1]) for v in n_values})
    strategy = check_option("strategy", strategy, STRATEGIES)
    mode = check_option("bandwidth", bandwidth, BANDWIDTHS)
    if mode == "constant" and sigma is not None:
        mode = "sigma"
    n_draws = check_int("n_draws", n_draws, 2)
    exact_up_to = check_int("exact_up_to", exact_up_to, 0, EXACT_MAX_N)
    chunk = check_int("chunk", chunk, 1)
    rng = as_rng(rng)
    sigmas = {n: _bandwidth(mode, n, w=w, sigma=sigma, n_ref=n_ref) for n in ns}
    jobs = []
    for n in ns:
        for start in range(0, n_draws, chunk):
            jobs.append(dict(n=n, data=data[:, :n], strategy=strategy, scale=scale,
                             normalisation=normalisation, sigma=sigmas[n],
                             exact=n <= exact_up_to, count=min(chunk, n_draws - start),
                             n_ops=n_ops, n_samples=n_samples))
    res = run_sweep(_variance_job, jobs, executor=executor, on_progress=on_progress,
                    cancel=cancel, seed=np.random.SeedSequence(rng.integers(2**63)))
    by_n: dict[int, list] = {n: [[], [], []] for n in ns}
    for n, v, v2, g in res.results:
        by_n[n][0] += v
        by_n[n][1] += v2
        by_n[n][2] += g
    done = [n for n in ns if len(by_n[n][0]) >= 2]
    variance = np.array([np.cov(by_n[n][0], by_n[n][1])[0, 1] for n in done])
    return LossVariance(
        n=np.array(done), variance=variance,
        se=np.array([_covariance_se(by_n[n][0], by_n[n][1]) for n in done]),
        mean=np.array([np.mean(by_n[n][0]) for n in done]),
        grad_max=np.array([np.mean(by_n[n][2]) for n in done]),
        sigma=np.array([sigmas[n] for n in done]),
        exact=np.array([n <= exact_up_to for n in done]), n_draws=n_draws, strategy=strategy)
