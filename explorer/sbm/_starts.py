"""Random and informed starts, the share of random starts that recover the communities, and the
collapse of joint (p, q) updates with its escape threshold.

Derivations (not quoted from the paper; reference/sbm.md sections 5.3 and 6): an i.i.d. start has
block sums S1, S2 ~ N(0, m sigma^2) with a uniform angle, which gives the asymptotic share
(2/pi) arctan((p - q) / |p + q - 2 lam|); joint updates from 1/2 + delta v collapse to the
uninformative 1/2 (p_hat = q_hat) when delta is below about sqrt(rho (1 - rho) / n) / (p - q).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.optimize import brentq

from .._common import as_rng, check_int, check_option, check_real
from ..sweep import run_sweep
from ._population import (
    _check_n,
    _check_pq,
    _sigmoid,
    classify_limits,
    constants,
    joint_population_map,
)
from ._sample import bcavi

__all__ = [
    "INITS",
    "SUCCESS_METHODS",
    "escape_threshold",
    "initial_psi",
    "joint_population_map",
    "success_probability",
]

#: Random initializations of psi (``initial_psi`` also offers "informed" and "one_class").
INITS = ("uniform", "bernoulli", "near_centre")
SUCCESS_METHODS = ("montecarlo", "semianalytic", "asymptotic")
_ALL_INITS = (*INITS, "informed", "one_class")


def initial_psi(init: str, n: int, size: int | None = None, *, eps: float = 0.1,
                correlation: float = 0.5, rng=None) -> np.ndarray:
    """Starting membership probabilities psi^(0).

    Parameters
    ----------
    init : {"uniform", "bernoulli", "near_centre", "informed", "one_class"}
        ``uniform``: psi_i ~ U(0, 1); ``bernoulli``: hard random labels, psi_i ~ Bernoulli(1/2);
        ``near_centre``: psi_i ~ U(1/2 - eps, 1/2 + eps); ``informed``: hard labels equal to the
        truth (block 0 -> 1) with probability (1 + correlation) / 2, so that the mean of
        (2 psi_i - 1) v_i is ``correlation``; ``one_class``: psi_i ~ U(1 - eps, 1), everyone
        nearly in community 1.
    n : int
        Number of nodes (even, >= 4); nodes 0 .. n/2 - 1 form block 0.
    size : int, optional
        Number of starts R; the result then has shape (n, R).
    eps : float in (0, 1/2]
    correlation : float in [-1, 1]

    Examples
    --------
    >>> initial_psi("bernoulli", 6, rng=0).tolist()
    [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    """
    init = check_option("init", init, _ALL_INITS)
    n = _check_n(n)
    eps = check_real("eps", eps, 0.0, 0.5, lo_open=True)
    correlation = check_real("correlation", correlation, -1.0, 1.0)
    shape = (n,) if size is None else (n, check_int("size", size, 1))
    rng = as_rng(rng)
    if init == "uniform":
        return rng.random(shape)
    if init == "bernoulli":
        return (rng.random(shape) < 0.5).astype(float)
    if init == "near_centre":
        return 0.5 + eps * (2 * rng.random(shape) - 1)
    if init == "one_class":
        return 1.0 - eps * rng.random(shape)
    truth = np.repeat([1.0, 0.0], n // 2).reshape((n,) + (1,) * (len(shape) - 1))
    right = rng.random(shape) < (1 + correlation) / 2
    return np.where(right, truth, 1 - truth)


def _init_variance(init: str, eps: float) -> float:
    return {"uniform": 1 / 12, "bernoulli": 1 / 4, "near_centre": eps * eps / 3}[init]


def _montecarlo_chunk(job: dict, rng: np.random.Generator) -> tuple[int, int, int]:
    """Sweep worker: population BCAVI in n dimensions from ``count`` random starts."""
    n, p, q = job["n"], job["p"], job["q"]
    psi = initial_psi(job["init"], n, job["count"], eps=job["eps"], rng=rng)
    tr = bcavi("population", psi, p=p, q=q, n=n, max_iter=job["max_iter"], tol=1e-10,
               record="ends")
    x, y = tr.extras["block_means"][-1]
    kinds = classify_limits(np.clip(x, 0, 1), np.clip(y, 0, 1), n=n, p=p, q=q, tol=1e-6)
    return int(np.sum(kinds == "truth")), int(x.size), int(np.sum(kinds == "undecided"))


def _semianalytic(n, p, q, init, eps, n_inits, rng, max_iter) -> float:
    """Population dynamics reduced to groups of nodes that share a start value.

    In the population map a node's update depends on the block sums and on its own value
    (the self term is excluded), so nodes with equal starts stay equal forever. Each block is
    a mixture of G groups: for a Bernoulli start the two values, weighted by the drawn counts
    k/m and 1 - k/m of each block, which makes it exact for the population dynamics; for a
    uniform or near-centre start 24 Gauss-Legendre nodes with their fixed weights, the block
    sums S1, S2 ~ N(0, m sigma^2) in the first step (an approximation).
    """
    m = n // 2
    if init == "bernoulli":
        k = rng.binomial(m, 0.5, size=(n_inits, 2))          # ones in each block
        nodes = np.array([-0.5, 0.5])
        weights = np.stack([(m - k) / m, k / m], axis=-1)      # (draw, block, group)
        S = k - m / 2.0
    else:
        S = np.sqrt(m * _init_variance(init, eps)) * rng.standard_normal((n_inits, 2))
        half = 0.5 if init == "uniform" else eps
        z, w = _gauss_legendre()
        nodes, weights = half * z, np.broadcast_to(w / 2, (n_inits, 2, z.size))
    x, y = _group_dynamics(S, nodes, weights, n, p, q, max_iter)
    return float(np.mean(classify_limits(x, y, n=n, p=p, q=q, tol=1e-6) == "truth"))


@functools.cache
def _gauss_legendre(order: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (an eigenproblem: computed once)."""
    z, w = np.polynomial.legendre.leggauss(order)
    z.flags.writeable = w.flags.writeable = False
    return z, w


def _group_dynamics(S, nodes, weights, n, p, q, max_iter):
    """Block means after population BCAVI from starts made of groups of equal nodes.

    ``S`` (draws, 2) are the first block sums of psi - 1/2; ``nodes`` (G,) the groups' start
    values minus 1/2; ``weights`` (draws, 2, G) each group's share of its block.
    """
    t, lam = constants(p, q)
    m = n // 2
    a, b = 4 * t * (p - lam), 4 * t * (q - lam)
    U = np.broadcast_to(nodes, weights.shape)              # u = psi - 1/2 per group
    for sweep in range(max_iter):
        if sweep > 0:
            S = m * np.einsum("dbg,dbg->db", U, weights)
        own, other = S[:, :, None], S[:, ::-1, None]
        new = _sigmoid(a * (own - U) + b * other) - 0.5
        moved = np.max(np.abs(new - U))
        U = new
        if moved < 1e-12:
            break
    return 0.5 + np.sum(U[:, 0] * weights[:, 0], axis=-1), \
        0.5 + np.sum(U[:, 1] * weights[:, 1], axis=-1)


def success_probability(
    n: int,
    p: float,
    q: float,
    *,
    init: str = "uniform",
    method: str = "montecarlo",
    n_inits: int = 1000,
    eps: float = 0.1,
    max_iter: int = 200,
    chunk: int = 64,
    rng=None,
    executor=None,
    on_progress=None,
    cancel=None,
) -> float:
    """The share of random initializations that reach the truth or its label swap.

    Parameters
    ----------
    n, p, q
        The model (``0 < q < p < 1``; population dynamics, parameters known).
    init : {"uniform", "bernoulli", "near_centre"}
        The i.i.d. start (see :func:`initial_psi`; ``eps`` sets the near-centre width).
    method : {"montecarlo", "semianalytic", "asymptotic"}
        ``montecarlo``: population BCAVI in n dimensions from ``n_inits`` starts (O(n) per
        sweep per start; run in chunks through :func:`explorer.sweep.run_sweep`, so an
        ``executor`` spreads it); ``semianalytic``: the dynamics of groups of nodes sharing
        a start value, the 2-D map refined by the nodes' own terms (cheap at any n): exact
        for Bernoulli starts (binomial counts, groups weighted k/m and 1 - k/m), an
        approximation for the others (Gaussian block sums, 24 quadrature groups);
        ``asymptotic``: the n -> infinity limit
        (2/pi) arctan((p - q)/|p + q - 2 lam|).
    n_inits : int
        Number of random starts (not used by "asymptotic").
    rng, executor, on_progress, cancel
        Randomness and the sweep engine's options (Monte Carlo only).

    Returns
    -------
    float
        A share in [0, 1]. A cancelled Monte Carlo run returns the share over the
        starts it finished.

    Notes
    -----
    A Bernoulli start ties its block sums (S1 = S2, no signal along the truth) with
    probability about 1/sqrt(pi n/2). The exact population dynamics then stay on the
    diagonal and never reach the truth; "semianalytic" reproduces that exactly, while the
    n-dimensional Monte Carlo can have such ties broken by floating-point round-off when the
    diagonal is unstable along the truth direction (n below the ``all_same_stable``
    threshold of :func:`thresholds`), and then reports a slightly higher share.

    References
    ----------
    Mukherjee, Sarkar, Wang & Yan (NeurIPS 2018): "a significant proportion of random
    initializations" reach the truth; the formulas are derived in reference/sbm.md 5.3.
    """
    n = _check_n(n)
    p, q = _check_pq(p, q)
    init = check_option("init", init, INITS)
    method = check_option("method", method, SUCCESS_METHODS)
    n_inits = check_int("n_inits", n_inits, 1, 100_000_000)
    eps = check_real("eps", eps, 0.0, 0.5, lo_open=True)
    if method == "asymptotic":
        t, lam = constants(p, q)
        gap = abs(p + q - 2 * lam)
        return 1.0 if gap == 0 else float(2 / np.pi * np.arctan((p - q) / gap))
    rng = as_rng(rng)
    if method == "semianalytic":
        return _semianalytic(n, p, q, init, eps, n_inits, rng, max_iter)
    chunk = check_int("chunk", chunk, 1)
    sizes = [min(chunk, n_inits - i) for i in range(0, n_inits, chunk)]
    jobs = [dict(n=n, p=p, q=q, init=init, eps=eps, count=c, max_iter=max_iter) for c in sizes]
    seed = np.random.SeedSequence(rng.integers(2**63))
    res = run_sweep(_montecarlo_chunk, jobs, executor=executor, on_progress=on_progress,
                    cancel=cancel, seed=seed)
    hits = sum(r[0] for r in res.results)
    total = sum(r[1] for r in res.results)
    return hits / total if total else float("nan")


def _joint_outcome(delta, n, p, q, max_iter=2000):
    """+1 if joint updates from 1/2 + delta v reach the truth, -1 if they collapse to 1/2."""
    x, y = 0.5 + delta, 0.5 - delta
    for _ in range(max_iter):
        x, y, _, _ = joint_population_map(x, y, n=n, p=p, q=q)
        d = float(x - y) / 2
        if d > 0.49:
            return 1.0
        if d < 1e-12:
            return -1.0
    return 1.0 if float(x - y) / 2 > delta else -1.0


def escape_threshold(n: int, p: float, q: float) -> float:
    """The truth-aligned offset delta* below which joint (p, q) updates collapse.

    Starting from psi = 1/2 + delta v (v = +1 on block 0, -1 on block 1), joint population
    updates (M-step first) go to the truth for delta > delta* and collapse to the
    uninformative psi = 1/2 with p_hat = q_hat for delta < delta*. Found by bisection on the
    exact block-plane dynamics (:func:`joint_population_map`). The small-deviation expansion
    of reference/sbm.md section 6 gives delta* ~ sqrt(rho (1 - rho) / n) / (p - q).

    Examples
    --------
    >>> d = escape_threshold(2000, 0.3, 0.1)
    >>> bool(0.001 < d < 0.05)
    True
    """
    n = _check_n(n)
    p, q = _check_pq(p, q)
    lo, hi = 1e-9, 0.49
    if _joint_outcome(hi, n, p, q) < 0:
        return 0.5
    if _joint_outcome(lo, n, p, q) > 0:
        return 0.0
    return float(brentq(lambda d: _joint_outcome(d, n, p, q), lo, hi, xtol=1e-12, rtol=1e-10))
