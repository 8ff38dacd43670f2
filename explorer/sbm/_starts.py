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
from scipy.special import expit

from .._common import as_rng, check_array, check_int, check_option, check_real
from ..sweep import run_sweep
from ._population import (
    _check_n,
    _check_pq,
    _logit_coefficients,
    classify_limits,
    constants,
    joint_population_map,
)
from ._sample import _as_graph, accuracy, bcavi, expected_graph, sample_graph

__all__ = [
    "DYNAMICS",
    "INITS",
    "SUCCESS_METHODS",
    "escape_share",
    "escape_threshold",
    "first_sweep_guess",
    "truth_gap",
    "initial_psi",
    "joint_population_map",
    "success_curve",
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
               record="ends", elbo=False)
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
    return float(_semianalytic_shares([n], p, q, init, eps, n_inits, rng, max_iter)[0])


#: Group values per pass of the dynamics (2^15, 256 kB an array): several n at once while
#: their arrays stay in cache; all twelve n of the app's curve in one pass were slower.
_GROUP_BLOCK = 2**15


def _semianalytic_shares(ns, p, q, init, eps, n_inits, rng, max_iter) -> np.ndarray:
    """:func:`_semianalytic` at each n of ``ns``, its draws taken from ``rng`` n after n; as
    many n as fit in a cache-sized block share one pass of the dynamics."""
    S, weights = [], []
    for n in ns:
        m = n // 2
        if init == "bernoulli":
            k = rng.binomial(m, 0.5, size=(n_inits, 2))          # ones in each block
            weights.append(np.stack([(m - k) / m, k / m], axis=-1))  # (draw, block, group)
            S.append(k - m / 2.0)
        else:
            S.append(np.sqrt(m * _init_variance(init, eps)) * rng.standard_normal((n_inits, 2)))
    if init == "bernoulli":
        nodes = np.array([-0.5, 0.5])
    else:
        z, w = _gauss_legendre()
        nodes = (0.5 if init == "uniform" else eps) * z
        weights = [np.broadcast_to(w / 2, (n_inits, 2, z.size))] * len(ns)
    per_pass = max(1, _GROUP_BLOCK // (n_inits * 2 * nodes.size))
    shares = []
    for i in range(0, len(ns), per_pass):
        part = ns[i:i + per_pass]
        sizes = np.repeat(np.asarray(part, dtype=np.int64), n_inits)
        x, y = _group_dynamics(np.concatenate(S[i:i + per_pass]), nodes,
                               np.concatenate(weights[i:i + per_pass]), sizes, p, q, max_iter)
        shares += [np.mean(classify_limits(x[j:j + n_inits], y[j:j + n_inits], n=int(n), p=p,
                                           q=q, tol=1e-6) == "truth")
                   for n, j in zip(part, range(0, x.size, n_inits), strict=True)]
    return np.array(shares, dtype=float)


@functools.cache
def _gauss_legendre(order: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (an eigenproblem: computed once)."""
    z, w = np.polynomial.legendre.leggauss(order)
    z.flags.writeable = w.flags.writeable = False
    return z, w


def _group_dynamics(S, nodes, weights, n, p, q, max_iter):
    """Block means after population BCAVI from starts made of groups of equal nodes.

    ``S`` (draws, 2) are the first block sums of psi - 1/2; ``nodes`` (G,) the groups' start
    values minus 1/2; ``weights`` (draws, 2, G) each group's share of its block; ``n`` the
    number of nodes, one for all draws or one per draw. Each draw stops on its own once no
    group moves more than 1e-12 in a sweep (or after ``max_iter`` sweeps): the draws still
    moving are the only ones updated, so a few slow ones do not keep the rest iterating.
    """
    t, lam = constants(p, q)
    a, b = 4 * t * (p - lam), 4 * t * (q - lam)
    m = np.broadcast_to(np.asarray(n, dtype=np.int64) // 2, (weights.shape[0],))
    final = np.empty(weights.shape)                        # u = psi - 1/2 per group, at the end
    moving = np.arange(weights.shape[0])
    U, W = np.broadcast_to(nodes, weights.shape), weights
    for sweep in range(max_iter):
        if sweep > 0:
            S = m[:, None] * np.einsum("dbg,dbg->db", U, W)
        new = np.subtract(S[:, :, None], U)                # sigmoid(a (own - U) + b other) - 1/2
        new *= a
        new += b * S[:, ::-1, None]
        expit(new, out=new)
        new -= 0.5
        moved = np.max(np.abs(new - U), axis=(1, 2))
        U = new
        still = moved >= 1e-12
        if not still.all():
            final[moving[~still]] = U[~still]
            moving, U, W, m = moving[still], U[still], W[still], m[still]
            if moving.size == 0:
                break
    final[moving] = U
    return 0.5 + np.sum(final[:, 0] * weights[:, 0], axis=-1), \
        0.5 + np.sum(final[:, 1] * weights[:, 1], axis=-1)


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


def success_curve(ns, p: float, q: float, *, init: str = "uniform", n_inits: int = 1000,
                  eps: float = 0.1, max_iter: int = 200, rng=None) -> np.ndarray:
    """The semi-analytic share of random starts reaching the truth, at each n of ``ns``.

    The numbers of ``success_probability(n, p, q, method="semianalytic", ...)`` for each n in
    turn on one random stream, computed in one pass of the group dynamics over all the draws
    (a slider that moves p redraws the whole curve: one pass costs less than one per n).

    Parameters
    ----------
    ns : sequence of int
        Numbers of nodes (each even, >= 4).
    p, q, init, n_inits, eps, max_iter, rng
        As for :func:`success_probability` (``init`` one of :data:`INITS`).

    Returns
    -------
    ndarray, shape (len(ns),)

    Examples
    --------
    >>> curve = success_curve([20, 200], 0.3, 0.1, n_inits=50, rng=0)
    >>> rng = np.random.default_rng(0)
    >>> curve.tolist() == [success_probability(n, 0.3, 0.1, method="semianalytic",
    ...                                        n_inits=50, rng=rng) for n in (20, 200)]
    True
    """
    ns = [_check_n(n) for n in np.atleast_1d(np.asarray(ns)).tolist()]
    if not ns:
        raise ValueError("ns must hold at least one number of nodes; got none")
    p, q = _check_pq(p, q)
    init = check_option("init", init, INITS)
    n_inits = check_int("n_inits", n_inits, 1, 100_000_000)
    eps = check_real("eps", eps, 0.0, 0.5, lo_open=True)
    max_iter = check_int("max_iter", max_iter, 1, 1_000_000)
    return _semianalytic_shares(ns, p, q, init, eps, n_inits, as_rng(rng), max_iter)


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


#: The graphs :func:`escape_share` runs on: the expected graph, or one sampled graph.
DYNAMICS = ("population", "sampled")
#: A run has reached the truth when its hard labels agree with it on this share of the nodes
#: (the truth corner has accuracy 1, the collapsed centre and the all-same points 1/2).
TRUTH_ACCURACY = 0.9
#: A run has collapsed when every psi_i is within this of 1/2 (the joint fixed point is
#: reached to machine precision within a few sweeps, reference/sbm.md section 6).
COLLAPSED = 1e-6


def first_sweep_guess(gap, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """A first-sweep guess (p_hat, q_hat) = (rho (1 + g), rho (1 - g)) around the edge density.

    Joint (p, q) estimation needs a (p, q) for its first psi step. Refitting them by an M-step
    from a random start gives p_hat ~ q_hat (no signal yet), so the first step is already
    uninformative; a guess split by the relative gap ``g`` around the edge density rho keeps
    the mean edge probability right and sets how far the first step is from p = q. ``g = 0``
    is the collapse point p_hat = q_hat (t = 0); the truth has g close to (p - q)/(p + q).
    Negative g gives a disassortative guess (p_hat < q_hat), the label swap of -g's first
    step.

    Parameters
    ----------
    gap : float or array_like
        Relative gap g in (-1, 1).
    rho : float
        Edge density in (0, 1); ``rho (1 + |g|)`` must be below 1.

    Returns
    -------
    p_hat, q_hat : ndarray
        Shaped like ``gap``.

    Raises
    ------
    ValueError
        If ``gap`` is outside (-1, 1), ``rho`` outside (0, 1), or the guess leaves (0, 1).

    References
    ----------
    The collapse this guards against: Mukherjee, Sarkar, Wang & Yan (NeurIPS 2018), abstract
    ("random initialization" of joint updates reaches an uninformative local optimum); the
    guess itself is the project's, not the paper's.

    Examples
    --------
    >>> [float(v) for v in first_sweep_guess(0.5, 0.2)]
    [0.30000000000000004, 0.1]
    """
    g = check_array("gap", gap)
    if np.any(np.abs(g) >= 1):
        raise ValueError(f"gap must be in (-1, 1); got {float(g.flat[np.argmax(np.abs(g))]):g}")
    rho = check_real("rho", rho, 0.0, 1.0, lo_open=True, hi_open=True)
    widest = float(np.max(np.abs(g), initial=0.0))
    if rho * (1 + widest) >= 1:
        raise ValueError(f"gap must be below 1/rho - 1 = {1 / rho - 1:.3g} in magnitude "
                         f"(p_hat = rho (1 + |g|) < 1); got {widest:g}")
    return rho * (1 + g), rho * (1 - g)


def truth_gap(p: float, q: float) -> float:
    """The first-sweep gap whose guess is the true (p, q) when rho = (p + q) / 2.

    g = (p - q) / (p + q) solves rho (1 + g) = p, rho (1 - g) = q; the edge density of n nodes
    is ((n - 2) p + n q) / (2 (n - 1)), within O(1/n) of (p + q) / 2 (derived here).

    Examples
    --------
    >>> truth_gap(0.3, 0.1)
    0.5
    """
    p, q = _check_pq(p, q)
    return (p - q) / (p + q)


def _first_sweep(g, psi, p_hat, q_hat):
    """One batch psi step with fixed (p_hat, q_hat), safe at p_hat = q_hat (then psi = 1/2).

    The no-division form of reference/sbm.md section 3: logit psi_i^+ = c1 (A u)_i -
    c2 (1'u - u_i), with c1 = 4t, c2 = 4t lam both 0 when p_hat = q_hat.
    """
    c1, c2 = _logit_coefficients(p_hat, q_hat)
    u = psi - 0.5
    field = c1 * g.centred_matvec(psi) - c2 * (u.sum(axis=0) - u)
    return expit(field)


def escape_share(
    n: int,
    p: float,
    q: float,
    gaps,
    *,
    dynamics: str = "population",
    init: str = "uniform",
    starts: int = 64,
    max_iter: int = 100,
    rng=None,
    on_progress=None,
    cancel=None,
) -> dict:
    """Share of random starts that escape the joint-update collapse, against the first-sweep gap.

    Each start runs joint (p, q) estimation whose first psi step uses the guess
    :func:`first_sweep_guess` (g, rho) instead of an M-step (rho the graph's edge density),
    then alternates M-steps and BCAVI steps, as ``bcavi(A, psi0, estimate=True, p=p_hat,
    q=q_hat)`` does. The same starts (and, for sampled dynamics, the same graph) are used at
    every gap, so the curve's steps are the gap's effect, not new randomness.

    Parameters
    ----------
    n, p, q
        The model (``n`` even, ``0 < q < p < 1``).
    gaps : array_like, shape (G,)
        Relative gaps g in (-1, 1).
    dynamics : {"population", "sampled"}
        The expected graph (O(n R) per sweep), or one graph sampled with ``rng``.
    init : {"uniform", "bernoulli", "near_centre"}
        The i.i.d. starts (:func:`initial_psi`).
    starts : int
        Number of starts R.
    max_iter : int
        Joint sweeps after the first step.
    rng, on_progress, cancel
        Randomness; ``on_progress(done, total)`` after each gap; a ``threading.Event`` that
        stops the scan after the current gap (the arrays then cover the gaps done).

    Returns
    -------
    dict
        ``gap`` (G,), ``truth`` (G,) the share reaching the truth or its label swap (hard
        labels agree on at least :data:`TRUTH_ACCURACY` of the nodes), ``collapsed`` (G,) the
        share ending at psi = 1/2 (within :data:`COLLAPSED`), ``p_hat``, ``q_hat`` (G,) the
        first-sweep guesses, ``rho`` the edge density used, ``gap_truth`` = (p - q)/(p + q),
        the gap whose guess is close to the true (p, q).

    Notes
    -----
    At g = 0 the first step has t = 0 and sends every start to psi = 1/2, which is a joint
    fixed point for any graph: the share is 0. A gap g and -g give label-swapped first steps
    (sigma(-z) = 1 - sigma(z)) and the joint updates are label-swap equivariant, so their
    shares are equal. Derived here (reference/sbm.md section 6), not taken from the paper.

    References
    ----------
    Mukherjee, Sarkar, Wang & Yan (NeurIPS 2018), abstract: with (p, q) estimated, a random
    initialization converges to an uninformative local optimum.

    Examples
    --------
    >>> r = escape_share(400, 0.3, 0.1, [0.0, 0.5], starts=8, rng=0)
    >>> float(r["truth"][0]), float(r["collapsed"][0])
    (0.0, 1.0)
    """
    n = _check_n(n)
    p, q = _check_pq(p, q)
    dynamics = check_option("dynamics", dynamics, DYNAMICS)
    init = check_option("init", init, INITS)
    starts = check_int("starts", starts, 1, 100_000)
    max_iter = check_int("max_iter", max_iter, 1, 1_000_000)
    gaps = check_array("gaps", gaps, ndim=(0, 1)).reshape(-1)
    rng = as_rng(rng)
    if dynamics == "population":
        g = expected_graph(n, p, q)
        labels = np.repeat([0, 1], n // 2)
    else:
        A, labels = sample_graph(n, p, q, rng=rng)
        g = _as_graph(A)
    rho = g.n_edges / (n * (n - 1) / 2)
    p_hat, q_hat = first_sweep_guess(gaps, rho)
    psi0 = initial_psi(init, n, starts, rng=rng)
    truth, collapsed = [], []
    for k in range(gaps.size):
        if cancel is not None and cancel.is_set():
            break
        psi1 = _first_sweep(g, psi0, p_hat[k], q_hat[k])
        end = bcavi(g, psi1, estimate=True, max_iter=max_iter, tol=1e-10, record="ends",
                    elbo=False).final
        truth.append(float(np.mean(accuracy(end, labels) >= TRUTH_ACCURACY)))
        collapsed.append(float(np.mean(np.max(np.abs(end - 0.5), axis=0) < COLLAPSED)))
        if on_progress is not None:
            on_progress(k + 1, gaps.size)
    done = len(truth)
    return {"gap": gaps[:done], "truth": np.array(truth), "collapsed": np.array(collapsed),
            "p_hat": p_hat[:done], "q_hat": q_hat[:done], "rho": float(rho),
            "gap_truth": truth_gap(p, q)}
