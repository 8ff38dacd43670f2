r"""The initialization lens: the same question asked of three models, with their own backends.

How much does an informed start buy over a random one? Each model answers in its own terms,
and this module holds the few pieces of math the side-by-side comparison needs that the
backends do not already offer:

- SBM (Mukherjee, Sarkar, Wang & Yan, NeurIPS 2018): :func:`sbm_accuracy_paths`, the accuracy
  of every start after each BCAVI sweep (many starts at once, memory bounded by chunking);
- IQP (Lerch et al., arXiv:2603.14576): :func:`iqp_loss` (exact MMD^2 up to
  :data:`IQP_EXACT_N` qubits, a fixed-draw estimate above) and :func:`iqp_train_job`, one
  training run as a :func:`explorer.sweep.run_sweep` job;
- NTK (Sun & Raskutti, arXiv:2602.13942): :func:`random_residuals`, residuals f* - f0 in random
  directions at a given RKHS distance R, and :func:`risk_paths`, the expected risk of kernel
  gradient descent for many residuals at once (the columns of :func:`explorer.ntk.risk_curve`).

Everything here is numpy only and deterministic given its ``rng`` (derivations: the project's
reference/sbm.md section 5, iqp.md section 5, ntk.md section 7).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import iqp, ntk, sbm
from ._common import as_rng, check_array, check_int, check_real

__all__ = ["IQP_EXACT_N", "iqp_loss", "iqp_train_job", "random_residuals", "risk_paths",
           "sbm_accuracy_paths"]

#: Largest qubit count whose MMD^2 is computed exactly (a 2^n statevector, a few ms at 12).
IQP_EXACT_N = 12
#: Operators and bit strings of the estimate above IQP_EXACT_N (its noise is about 1e-3).
IQP_ESTIMATE_DRAWS = 2000


# ---------------------------------------------------------------------------- SBM


def sbm_accuracy_paths(A, labels, psi0, *, sweeps: int, p: float | None = None,
                       q: float | None = None, estimate: bool = False, n: int | None = None,
                       tol: float = 1e-9, chunk: int = 25) -> np.ndarray:
    """Accuracy of every start after each BCAVI sweep, 0 .. ``sweeps``.

    Runs :func:`explorer.sbm.bcavi` in chunks of ``chunk`` sweeps (each chunk restarts from
    where the last ended, which is the same run: a sweep reads only psi and, with
    ``estimate``, refits (p, q) from psi first), so memory stays at ``chunk`` copies of psi
    whatever the budget. Once no entry of psi moves more than ``tol``, psi is a fixed point to
    that precision and the later sweeps repeat its accuracy.

    Parameters
    ----------
    A : sparse (n, n) matrix or "population"
        The graph (see :func:`explorer.sbm.bcavi`).
    labels : array_like, shape (n,)
        True 0/1 communities.
    psi0 : array_like, shape (n, R)
        R starts, one per column.
    sweeps : int
        Budget in BCAVI sweeps, >= 0.
    p, q : float, optional
        Known parameters; omit both with ``estimate=True`` (joint updates, the M-step first).
    estimate : bool
    n : int, optional
        Number of nodes when ``A`` is "population".
    tol : float
        A run has settled when no entry of psi moves more than this in a sweep.
    chunk : int
        Sweeps per call of the backend.

    Returns
    -------
    ndarray, shape (sweeps + 1, R)
        Share of nodes whose hard label matches the truth (up to the label swap).

    Raises
    ------
    ValueError
        If ``sweeps`` or ``chunk`` is out of range, or the backend refuses an input.

    Examples
    --------
    >>> A, labels = sbm.sample_graph(200, 0.3, 0.05, rng=1)
    >>> psi0 = sbm.initial_psi("informed", 200, 2, correlation=1.0, rng=2)
    >>> sbm_accuracy_paths(A, labels, psi0, sweeps=3, p=0.3, q=0.05)[0].tolist()
    [1.0, 1.0]
    """
    sweeps = check_int("sweeps", sweeps, 0, 1_000_000)
    chunk = check_int("chunk", chunk, 1, 10_000)
    psi = check_array("psi0", psi0, ndim=2)
    out = np.empty((sweeps + 1, psi.shape[1]))
    out[0] = sbm.accuracy(psi, labels)
    done = 0
    while done < sweeps:
        k = min(chunk, sweeps - done)
        run = sbm.bcavi(A, psi, p=p, q=q, estimate=estimate, n=n, max_iter=k, tol=tol)
        iterates = run.iterates
        for j in range(1, iterates.shape[0]):
            out[done + j] = sbm.accuracy(iterates[j], labels)
        done += iterates.shape[0] - 1
        psi = iterates[-1]
        if run.status.ok:                 # settled: the remaining sweeps change nothing
            out[done + 1:] = out[done]
            break
    return out


# ---------------------------------------------------------------------------- IQP


def iqp_loss(theta, gates, data, sigma: float, *, rng=None) -> float:
    """MMD^2 of the circuit at ``theta`` against the data, on the scale training estimates.

    Exact (the U-statistic form, which the training estimator is unbiased for) up to
    :data:`IQP_EXACT_N` qubits; above, the unbiased estimator with
    :data:`IQP_ESTIMATE_DRAWS` operators and bit strings drawn from ``rng``.

    Parameters
    ----------
    theta : array_like, shape (m,)
    gates : list of tuple of int
    data : array_like, shape (M, n)
        0/1 samples.
    sigma : float
        Kernel bandwidth.
    rng : seed or Generator
        Used above :data:`IQP_EXACT_N` only.

    Returns
    -------
    float

    Examples
    --------
    >>> data = np.array([[0, 0], [1, 1]])
    >>> exact = iqp.mmd2_exact([0.1, 0.2, 0.3], [(0,), (1,), (0, 1)], data, 1.0, unbiased=True)
    >>> iqp_loss([0.1, 0.2, 0.3], [(0,), (1,), (0, 1)], data, 1.0) == exact
    True
    """
    data = np.asarray(data)
    if data.ndim == 2 and data.shape[1] <= IQP_EXACT_N:
        return float(iqp.mmd2_exact(theta, gates, data, sigma, unbiased=True))
    return float(iqp.mmd2(theta, gates, data, sigma, n_ops=IQP_ESTIMATE_DRAWS,
                          n_samples=IQP_ESTIMATE_DRAWS, rng=as_rng(rng)))


def iqp_train_job(job: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One training run, as a :func:`explorer.sweep.run_sweep` job.

    Parameters
    ----------
    job : dict
        ``theta0``, ``gates``, ``data``, ``sigma``, ``steps``, ``lr``, ``n_ops``, and ``seed``
        (the run's own stream, so the result does not depend on how jobs are chunked or on
        the sweep's root seed); optionally ``cancel``, a ``threading.Event`` that stops the
        run between steps (only when the job runs in this process: an event does not pickle).
    rng : Generator
        Ignored in favour of ``job["seed"]`` (kept for run_sweep's signature).

    Returns
    -------
    dict
        ``curve``: the loss estimate at every Adam step (steps + 1 values); ``final``: the
        :func:`iqp_loss` of the final angles; ``status``: the run's status message
        ("cancelled" when ``cancel`` stopped it early).
    """
    del rng
    stream = np.random.default_rng(job["seed"])
    curve: list[float] = []

    def record(step, loss, theta):
        curve.append(loss)

    run = iqp.train(job["gates"], job["data"], job["theta0"], sigma=job["sigma"],
                    steps=job["steps"], learning_rate=job["lr"], n_ops=job["n_ops"],
                    n_samples=job["n_ops"], optimizer="adam", rng=stream, callback=record,
                    cancel=job.get("cancel"), record="ends")
    final = iqp_loss(run.iterates[-1], job["gates"], job["data"], job["sigma"], rng=stream)
    return {"curve": np.asarray(curve), "final": final, "status": run.status.value}


# ---------------------------------------------------------------------------- NTK


def random_residuals(lam, size: int, *, R: float, r: float = 0.5, eps: float = 0.1,
                     rng=None) -> np.ndarray:
    """Residuals f* - f0 in random directions, each at RKHS distance exactly ``R``.

    Column j has u_ij = g_ij sqrt(lam_i^(2r) i^(-1-eps)), g_ij ~ N(0, 1), rescaled to
    sqrt(sum_i u_ij^2 / lam_i) = R: the source condition of
    :func:`explorer.ntk.target_coefficients` with Gaussian instead of +-1 amplitudes, so
    the starts differ in how their residual spreads over the eigenvectors, not in R
    (derived here).

    Parameters
    ----------
    lam : array_like, shape (n,)
        Eigenvalues of K_n (>= 0, at least one positive).
    size : int
        Number of residuals S, >= 1.
    R : float
        RKHS distance, >= 0.
    r : float in [0, 10]
        Smoothness (1/2: just inside the RKHS).
    eps : float >= 0
    rng : seed or Generator

    Returns
    -------
    ndarray, shape (n, S)

    Raises
    ------
    ValueError
        If an argument is out of range.

    Examples
    --------
    >>> lam = ntk.spectrum("polynomial", 50)
    >>> u = random_residuals(lam, 3, R=2.0, rng=0)
    >>> [round(ntk.rkhs_norm(lam, u[:, j]), 12) for j in range(3)]
    [2.0, 2.0, 2.0]
    """
    base = ntk.target_coefficients(lam, r=r, R=1.0, eps=eps, rng=0)   # validates lam, r, eps
    size = check_int("size", size, 1, 1_000_000)
    R = check_real("R", R, 0.0, 1e100)
    lam = np.asarray(lam, dtype=float)
    g = as_rng(rng).standard_normal((lam.size, size))
    u = np.abs(base)[:, None] * g
    pos = lam > 0
    norms = np.sqrt(np.sum(u[pos] ** 2 / lam[pos, None], axis=0))
    return u * np.where(norms > 0, R / np.where(norms > 0, norms, 1.0), 0.0)


def risk_paths(lam, coefs, sigma: float, t) -> ntk.RiskCurve:
    """Expected risk of kernel gradient descent (step 1/lam_1) for S residuals at once.

    Column j is :func:`explorer.ntk.risk_curve` ``(lam, coefs[:, j], sigma, t)``: with
    s_i(t) = (1 - lam_i / lam_1)^t, bias^2 = sum_i s_i^2 u_ij^2 and
    variance = sigma^2 / n sum_i (1 - s_i)^2 (which does not depend on the residual). The
    shrink factors are computed once for all columns.

    Parameters
    ----------
    lam : array_like, shape (n,)
    coefs : array_like, shape (n, S)
    sigma : float >= 0
    t : array_like, shape (T,)
        Whole numbers of steps, >= 0.

    Returns
    -------
    RiskCurve
        ``bias2`` (T, S), ``variance`` (T, 1), ``risk`` (T, S).

    Examples
    --------
    >>> lam = ntk.spectrum("polynomial", 20)
    >>> u = random_residuals(lam, 2, R=1.0, rng=0)
    >>> got = risk_paths(lam, u, 0.5, [0, 5]).risk[:, 1]
    >>> bool(np.allclose(got, ntk.risk_curve(lam, u[:, 1], 0.5, [0, 5]).risk))
    True
    """
    lam = check_array("lam", lam, ndim=1)
    if lam.size == 0 or np.any(lam < 0) or not np.any(lam > 0):
        raise ValueError("lam must be eigenvalues >= 0 with at least one positive")
    coefs = check_array("coefs", coefs, ndim=2)
    if coefs.shape[0] != lam.size:
        raise ValueError(f"coefs must have one row per eigenvalue ({lam.size}); "
                         f"got {coefs.shape[0]}")
    sigma = check_real("sigma", sigma, 0.0)
    t = check_array("t", t, ndim=1)
    if np.any(t < 0) or np.any(t != np.round(t)):
        raise ValueError("t must be whole numbers of steps >= 0")
    # 1 - lam_i / lam_1 is in [0, 1): its powers never overflow, and 0^0 = 1 at the start.
    s = np.power(1.0 - lam / lam.max(), t[:, None])
    bias2 = (s * s) @ (coefs * coefs)
    variance = sigma**2 / lam.size * np.sum((1.0 - s) ** 2, axis=1, keepdims=True)
    return ntk.RiskCurve(bias2, variance, bias2 + variance)
