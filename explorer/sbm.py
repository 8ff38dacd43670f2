r"""Two-class stochastic blockmodel, mean-field BCAVI: the population (expected-graph) dynamics.

Model (Mukherjee, Sarkar, Wang & Yan, NeurIPS 2018): n nodes in two equal
communities, edges with probability p inside and q < p across. The mean-field
posterior :math:`\psi_i = Q(i \in C_1)` is updated in parallel (BCAVI) by

.. math:: \psi^+ = \sigma\bigl(4t\,(A - \lambda(J - I))(\psi - \tfrac12)\bigr),

with :math:`t = \tfrac12\log\frac{p(1-q)}{q(1-p)}` and
:math:`2t\lambda = \log\frac{1-q}{1-p}`. Replacing A by its expectation, the
block-constant states :math:`\psi = (x 1_m, y 1_m)`, m = n/2, are invariant and
carry every critical point; on them the update is the exact 2-D map

.. math::
    x^+ = \sigma(4t[(m-1)(p-\lambda)(x-\tfrac12) + m(q-\lambda)(y-\tfrac12)]),\quad
    y^+ = \sigma(4t[m(q-\lambda)(x-\tfrac12) + (m-1)(p-\lambda)(y-\tfrac12)]).

Symbols: ``t``, ``lam`` are the paper's t, lambda; ``x``, ``y`` the block
means of psi. The truth is (1, 0) or its label swap (0, 1). The derivations
(population reduction, ELBO on the block plane) are in the project's
``reference/sbm.md``, sections 2 to 5; they are derived, not quoted from the paper.

This module currently holds the population 2-D dynamics used by the demo app;
the sampled-graph BCAVI and the full critical-point analysis build on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from ._common import Status, Trajectory, as_rng, check_array, check_int, check_option, check_real

__all__ = [
    "LIMIT_KINDS",
    "Basins",
    "basin_shares",
    "basins",
    "basin_shares_job",
    "classify_limits",
    "constants",
    "population_elbo",
    "population_map",
    "population_matrix",
    "population_run",
    "truth_threshold",
]

#: Labels returned by :func:`classify_limits`.
LIMIT_KINDS = ("truth", "all_same", "centre", "mixed", "cycle", "undecided")

_ASSORTATIVE_NOTE = " (the explorer covers the assortative case 0 < q < p < 1)"


def _check_pq(p: Any, q: Any) -> tuple[float, float]:
    p = check_real("p", p, 0.0, 1.0, lo_open=True, hi_open=True)
    q = check_real("q", q, 0.0, 1.0, lo_open=True, hi_open=True)
    if not q < p:
        raise ValueError(f"q must be in (0, p) = (0, {p:g}){_ASSORTATIVE_NOTE}; got {q:g}")
    return p, q


def _check_n(n: Any) -> int:
    return check_int("n", n, 4, even=True)


def constants(p: float, q: float) -> tuple[float, float]:
    """The BCAVI constants ``(t, lam)`` of a two-class SBM.

    Parameters
    ----------
    p, q : float
        Within- and between-community edge probabilities, ``0 < q < p < 1``.

    Returns
    -------
    t : float
        ``0.5 * log(p (1 - q) / (q (1 - p)))`` (> 0).
    lam : float
        ``log((1 - q) / (1 - p)) / (2 t)``, the edge-probability threshold (q < lam < p).

    References
    ----------
    Mukherjee, Sarkar, Wang & Yan (NeurIPS 2018), the BCAVI update; reference/sbm.md section 2.

    Examples
    --------
    >>> t, lam = constants(0.3, 0.1)
    >>> bool(0.1 < lam < 0.3)
    True
    """
    p, q = _check_pq(p, q)
    # log1p keeps full precision when p or q is tiny or close to 1.
    l1 = np.log(p) - np.log(q) + np.log1p(-q) - np.log1p(-p)
    l2 = np.log1p(-q) - np.log1p(-p)
    return float(0.5 * l1), float(l2 / l1)


def truth_threshold(p: float, q: float) -> float:
    """The n above which the truth pair exists in the population map: ``t mu_v > 1``.

    ``mu_v = n (p - q) / 2 - (p - lam)`` is the eigenvalue of ``P - lam (J - I)``
    along the community vector; solving ``t mu_v = 1`` for n gives
    ``n = 2 (1/t + p - lam) / (p - q)`` (reference/sbm.md section 5.2).
    """
    t, lam = constants(p, q)
    return 2.0 * (1.0 / t + p - lam) / (p - q)


def population_matrix(n: int, p: float, q: float) -> np.ndarray:
    """Dense expected adjacency ``E[A | Z]`` with zero diagonal (first half is block 0).

    Only for small n (checks and teaching): the population dynamics never need it.
    """
    n = _check_n(n)
    p, q = _check_pq(p, q)
    block = np.repeat([0, 1], n // 2)
    P = np.where(block[:, None] == block[None, :], p, q)
    np.fill_diagonal(P, 0.0)
    return P


def _block_args(x, y, n, p, q):
    t, lam = constants(p, q)
    m = n // 2
    a, b = (m - 1) * (p - lam), m * (q - lam)
    ux, uy = np.asarray(x, dtype=float) - 0.5, np.asarray(y, dtype=float) - 0.5
    return 4 * t * (a * ux + b * uy), 4 * t * (b * ux + a * uy)


def population_map(x, y, *, n: int, p: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """One BCAVI sweep of the population dynamics on block-constant states.

    Parameters
    ----------
    x, y : array_like
        Block means of psi in [0, 1] (broadcast together).
    n : int
        Number of nodes (even, >= 4).
    p, q : float
        Edge probabilities, ``0 < q < p < 1``.

    Returns
    -------
    x_next, y_next : ndarray
        The exact image under the 2-D map (module docstring).

    Examples
    --------
    >>> population_map(0.5, 0.5, n=100, p=0.3, q=0.1)
    (array(0.5), array(0.5))
    """
    n = _check_n(n)
    p, q = _check_pq(p, q)
    x = check_array("x", x, lo=0.0, hi=1.0)
    y = check_array("y", y, lo=0.0, hi=1.0)
    gx, gy = _block_args(x, y, n, p, q)
    return expit(gx), expit(gy)


def _entropy(z: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(z * np.log(z) + (1 - z) * np.log1p(-z))
    return np.where((z <= 0) | (z >= 1), 0.0, h)


def population_elbo(x, y, *, n: int, p: float, q: float) -> np.ndarray:
    r"""The population ELBO on the block plane, up to a constant independent of psi.

    .. math:: 2t\,u^\top (P - \lambda(J - I))u + m\,[H(x) + H(y)],
        \quad u = \psi - \tfrac12

    which for block-constant u equals
    :math:`2t[m(m-1)(p-\lambda)(u_x^2 + u_y^2) + 2m^2(q-\lambda)u_x u_y] + m[H(x) + H(y)]`.
    Its stationary points are exactly the fixed points of :func:`population_map`.
    """
    n = _check_n(n)
    p, q = _check_pq(p, q)
    x = check_array("x", x, lo=0.0, hi=1.0)
    y = check_array("y", y, lo=0.0, hi=1.0)
    t, lam = constants(p, q)
    m = n // 2
    ux, uy = x - 0.5, y - 0.5
    quad = m * (m - 1) * (p - lam) * (ux**2 + uy**2) + 2 * m * m * (q - lam) * ux * uy
    return 2 * t * quad + m * (_entropy(x) + _entropy(y))


def population_run(
    x0,
    y0,
    *,
    n: int,
    p: float,
    q: float,
    max_iter: int = 200,
    tol: float = 1e-10,
) -> Trajectory:
    """Iterate the population 2-D map from R starts at once.

    Parameters
    ----------
    x0, y0 : array_like, shape (R,) or scalar
        Starting block means in [0, 1].
    n, p, q
        As in :func:`population_map`.
    max_iter : int
        Maximum number of sweeps.
    tol : float
        Converged when every run moves by less than ``tol`` (max norm) in one sweep.

    Returns
    -------
    Trajectory
        ``iterates`` of shape (K, R, 2) with ``iterates[0]`` the starts; ``objective``
        (K, R) the population ELBO; ``times`` the sweep index. Status ``CONVERGED``
        or ``MAX_ITER`` (a 2-cycle never converges).

    Examples
    --------
    >>> tr = population_run([0.9], [0.2], n=200, p=0.3, q=0.1)
    >>> tr.status.value, bool(tr.final[0, 0] > 0.99)
    ('converged', True)
    """
    n = _check_n(n)
    p, q = _check_pq(p, q)
    max_iter = check_int("max_iter", max_iter, 1, 1_000_000)
    tol = check_real("tol", tol, 0.0, lo_open=True)
    x = np.atleast_1d(check_array("x0", x0, ndim=(0, 1), lo=0.0, hi=1.0))
    y = np.atleast_1d(check_array("y0", y0, ndim=(0, 1), lo=0.0, hi=1.0))
    if x.shape != y.shape:
        raise ValueError(f"x0 and y0 must have the same shape; got {x.shape} and {y.shape}")
    path = [np.stack([x, y], axis=-1)]
    status = Status.MAX_ITER
    for _ in range(max_iter):
        gx, gy = _block_args(x, y, n, p, q)
        xn, yn = expit(gx), expit(gy)
        path.append(np.stack([xn, yn], axis=-1))
        step = max(np.max(np.abs(xn - x), initial=0.0), np.max(np.abs(yn - y), initial=0.0))
        x, y = xn, yn
        if step < tol:
            status = Status.CONVERGED
            break
    iterates = np.asarray(path)
    elbo = population_elbo(iterates[..., 0], iterates[..., 1], n=n, p=p, q=q)
    return Trajectory(
        times=np.arange(len(path), dtype=float),
        iterates=iterates,
        objective=elbo,
        status=status,
    )


def classify_limits(x, y, *, n: int, p: float, q: float, tol: float = 1e-6) -> np.ndarray:
    """Name the limit each end point has reached.

    A point is *fixed* when one sweep moves it by less than ``tol``; fixed points
    are then sorted by geometry, since the label-swap symmetry places the truth
    pair on the anti-diagonal x + y = 1 and the all-same pair on the diagonal.

    Returns
    -------
    ndarray of str
        One of :data:`LIMIT_KINDS` per point: ``"truth"`` (either labelling),
        ``"all_same"``, ``"centre"``, ``"mixed"`` (one of the four mixed saddles),
        ``"cycle"`` (a period-2 orbit) or ``"undecided"`` (not settled).
    """
    x = check_array("x", x, lo=0.0, hi=1.0)
    y = check_array("y", y, lo=0.0, hi=1.0)
    x1, y1 = population_map(x, y, n=n, p=p, q=q)
    x2, y2 = population_map(x1, y1, n=n, p=p, q=q)
    fixed = np.maximum(np.abs(x1 - x), np.abs(y1 - y)) < tol
    cycle = ~fixed & (np.maximum(np.abs(x2 - x), np.abs(y2 - y)) < tol)
    s, d = np.abs(x + y - 1), np.abs(x - y)
    # Geometric tolerance: saturated points sit within tol of their exact line.
    geo = max(tol, 1e-9) * 10
    out = np.full(np.shape(x), "undecided", dtype=object)
    out[fixed] = "mixed"
    out[fixed & (s < geo)] = "truth"
    out[fixed & (d < geo)] = "all_same"
    out[fixed & (s < geo) & (d < geo)] = "centre"
    out[cycle] = "cycle"
    return out.astype(str)


def basin_shares(
    n: int,
    p: float,
    q: float,
    *,
    n_starts: int = 400,
    max_iter: int = 500,
    rng=None,
) -> dict[str, float]:
    """Share of uniform random block-mean starts (x0, y0) ~ U(0, 1)^2 reaching each limit.

    This is the area of each basin of the population 2-D map, estimated by Monte
    Carlo; it is not the success probability of i.i.d. node-level starts (whose
    block means concentrate near 1/2).

    Returns
    -------
    dict
        ``{kind: share}`` over :data:`LIMIT_KINDS`; shares sum to 1.
    """
    rng = as_rng(rng)
    n_starts = check_int("n_starts", n_starts, 1, 10_000_000)
    x0, y0 = rng.random(n_starts), rng.random(n_starts)
    tr = population_run(x0, y0, n=n, p=p, q=q, max_iter=max_iter)
    kinds = classify_limits(tr.final[:, 0], tr.final[:, 1], n=n, p=p, q=q)
    return {k: float(np.mean(kinds == k)) for k in LIMIT_KINDS}


def basin_shares_job(job: dict, rng: np.random.Generator) -> dict[str, float]:
    """Sweep worker: ``basin_shares(**job, rng=rng)`` (importable, so workers can run it)."""
    return basin_shares(rng=rng, **job)



@dataclass(frozen=True)
class Basins:
    """Which limit each start on a grid of block means reaches.

    Attributes
    ----------
    x, y : ndarray, shape (grid,)
        Grid coordinates (block means of psi), from 0 to 1.
    kind : ndarray of str, shape (grid, grid)
        ``kind[i, j]`` is the limit (one of :data:`LIMIT_KINDS`) reached from
        ``(x[j], y[i])``: rows follow y, as an image does.
    """

    x: np.ndarray
    y: np.ndarray
    kind: np.ndarray


def basins(n: int, p: float, q: float, *, grid: int = 401, max_iter: int = 500) -> Basins:
    """Basins of attraction of the population 2-D map on a ``grid x grid`` lattice.

    Parameters
    ----------
    n, p, q
        As in :func:`population_map`.
    grid : int
        Points per axis (the square [0, 1]^2 including its edges).
    max_iter : int
        Sweeps before a start that has not settled is called ``"undecided"``.

    Examples
    --------
    >>> b = basins(200, 0.3, 0.1, grid=5)
    >>> str(b.kind[0, 4]), str(b.kind[2, 2])
    ('truth', 'centre')
    """
    n = _check_n(n)
    p, q = _check_pq(p, q)
    grid = check_int("grid", grid, 2, 4001)
    max_iter = check_int("max_iter", max_iter, 1, 1_000_000)
    axis = np.linspace(0.0, 1.0, grid)
    gx, gy = np.meshgrid(axis, axis)
    x, y = _settle(gx.ravel(), gy.ravel(), n, p, q, max_iter, tol=1e-10)
    kind = classify_limits(x, y, n=n, p=p, q=q)
    return Basins(x=axis, y=axis, kind=kind.reshape(grid, grid))


def _settle(x, y, n, p, q, max_iter, tol):
    """End points only: iterate each start until it stops moving (the settled ones are frozen).

    Saves the (K, R) path and ELBO a full :func:`population_run` records, which
    matters for a basin grid of 10^5 starts.
    """
    x, y = np.array(x, dtype=float), np.array(y, dtype=float)
    active = np.arange(x.size)
    for _ in range(max_iter):
        gx, gy = _block_args(x[active], y[active], n, p, q)
        xn, yn = expit(gx), expit(gy)
        moving = np.maximum(np.abs(xn - x[active]), np.abs(yn - y[active])) >= tol
        x[active], y[active] = xn, yn
        active = active[moving]
        if active.size == 0:
            break
    return x, y


# --------------------------------------------------------------------------- sampled graphs


def sample_graph(n: int, p: float, q: float, *, rng=None):
    """Sample a two-block SBM adjacency in O(edges) time and memory.

    Parameters
    ----------
    n : int
        Number of nodes (even, >= 4); nodes ``0 .. n/2 - 1`` form block 0.
    p, q : float
        Within- and between-block edge probabilities, ``0 < q < p < 1``.
    rng : seed or Generator, optional

    Returns
    -------
    A : scipy.sparse.csr_array, shape (n, n)
        Symmetric 0/1 adjacency (float64 data, so ``A @ U`` needs no conversion)
        with zero diagonal.
    labels : ndarray of int8, shape (n,)
        0 for the first half, 1 for the second.

    Notes
    -----
    For each of the three block pairs the edge count is Binomial(pairs, prob)
    and the edges are that many distinct pair indices drawn uniformly, which is
    exactly the law of independent Bernoulli edges. No n x n array is ever formed,
    so n = 10^6 at average degree 20 takes about a second.

    Examples
    --------
    >>> A, labels = sample_graph(100, 0.3, 0.05, rng=0)
    >>> A.shape, bool((A != A.T).nnz == 0), float(A.diagonal().sum())
    ((100, 100), True, 0.0)
    """
    import scipy.sparse as sp

    n = _check_n(n)
    p, q = _check_pq(p, q)
    rng = as_rng(rng)
    m = n // 2
    within = m * (m - 1) // 2
    rows, cols = [], []
    for offset in (0, m):  # the two diagonal blocks: pairs i < j inside one block
        k = rng.choice(within, size=rng.binomial(within, p), replace=False)
        i, j = _triangular_pair(k)
        rows.append(i + offset)
        cols.append(j + offset)
    k = rng.choice(m * m, size=rng.binomial(m * m, q), replace=False)
    rows.append(k // m)
    cols.append(k % m + m)
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    index = np.int32 if n < 2**31 else np.int64
    A = sp.coo_array(
        (np.ones(2 * r.size), (np.r_[r, c].astype(index), np.r_[c, r].astype(index))),
        shape=(n, n),
    ).tocsr()
    labels = np.repeat(np.array([0, 1], dtype=np.int8), m)
    return A, labels


def _triangular_pair(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear index k of the pairs (i < j), ordered by j then i, back to (i, j)."""
    k = np.asarray(k, dtype=np.int64)
    j = ((1 + np.sqrt(1 + 8 * k.astype(float))) / 2).astype(np.int64)
    # Float rounding can be off by one for k ~ 1e11; fix it exactly in integers.
    j -= (j * (j - 1) // 2 > k).astype(np.int64)
    j += ((j + 1) * j // 2 <= k).astype(np.int64)
    i = k - j * (j - 1) // 2
    return i, j


class _Graph:
    """What BCAVI needs from A: products A @ U, and edge counts (sampled or expected)."""

    def __init__(self, A, n=None, p=None, q=None):
        if isinstance(A, str):
            if A != "population":
                raise ValueError(f"A must be a sparse/dense matrix or 'population'; got {A!r}")
            if n is None:
                raise ValueError("n is required when A is 'population'")
            self.n = _check_n(n)
            self.p_true, self.q_true = _check_pq(p, q)
            self.population = True
            m = self.n // 2
            self.n_edges = m * (m - 1) * self.p_true + m * m * self.q_true
        else:
            import scipy.sparse as sp

            shape = getattr(A, "shape", None)
            if shape is None or len(shape) != 2 or shape[0] != shape[1]:
                raise ValueError(f"A must be a square matrix; got shape {shape}")
            if n is not None and n != shape[0]:
                raise ValueError(f"n must match A's size {shape[0]}; got {n}")
            self.n = _check_n(shape[0])
            self.A = sp.csr_array(A, dtype=float) if sp.issparse(A) else np.asarray(A, float)
            self.population = False
            self.n_edges = float(self.A.sum()) / 2

    def matvec(self, U: np.ndarray) -> np.ndarray:
        """A @ U for U of shape (n, R); for the population, the expected graph in O(n R)."""
        if not self.population:
            return self.A @ U
        m = self.n // 2
        s1, s2 = U[:m].sum(axis=0), U[m:].sum(axis=0)
        p, q = self.p_true, self.q_true
        out = np.empty_like(U)
        out[:m] = p * (s1 - U[:m]) + q * s2
        out[m:] = p * (s2 - U[m:]) + q * s1
        return out

    def row_dot(self, i: int, U: np.ndarray) -> np.ndarray:
        """(A @ U)[i] for one node (the sequential schedule)."""
        if not self.population:
            if isinstance(self.A, np.ndarray):
                return self.A[i] @ U
            lo, hi = self.A.indptr[i], self.A.indptr[i + 1]
            return self.A.data[lo:hi] @ U[self.A.indices[lo:hi]]
        m = self.n // 2
        own, other = (slice(0, m), slice(m, None)) if i < m else (slice(m, None), slice(0, m))
        return self.p_true * (U[own].sum(axis=0) - U[i]) + self.q_true * U[other].sum(axis=0)


def _as_graph(A, n=None, p_true=None, q_true=None) -> _Graph:
    return A if isinstance(A, _Graph) else _Graph(A, n, p_true, q_true)


def _xlogy_terms(k: float, total: float, r: np.ndarray) -> np.ndarray:
    """k log r + (total - k) log(1 - r), with 0 log 0 = 0."""
    from scipy.special import xlog1py, xlogy

    return xlogy(k, r) + xlog1py(total - k, -r)


def elbo(A, psi, p: float, q: float, *, n: int | None = None) -> np.ndarray | float:
    r"""The mean-field ELBO of the two-class SBM (prior 1/2 on each label).

    .. math:: \mathrm{ELBO} = C(A; p, q) + 2t\,u^\top(A - \lambda(J - I))u
              + \sum_i H(\psi_i) - n\log 2,\qquad u = \psi - \tfrac12,

    with :math:`C = \tfrac12\sum_{i<j}[\ell_p(A_{ij}) + \ell_q(A_{ij})]`.

    Parameters
    ----------
    A : sparse or dense (n, n) matrix, or "population"
        The adjacency; ``"population"`` uses the expected graph of the model
        with the same (p, q) and needs ``n``.
    psi : array_like, shape (n,) or (n, R)
    p, q : float
        The parameters the ELBO is evaluated at.

    Returns
    -------
    float or ndarray of shape (R,)

    References
    ----------
    reference/sbm.md section 2 (closed form derived there from the pair sum).
    """
    p, q = _check_pq(p, q)
    g = _as_graph(A, n, p, q)
    psi = _check_psi(psi, g.n)
    t, lam = constants(p, q)
    U = psi - 0.5
    col = U.ndim == 1
    U2 = U[:, None] if col else U
    quad = np.einsum("ir,ir->r", U2, g.matvec(U2)) - lam * (U2.sum(axis=0) ** 2
                                                           - (U2**2).sum(axis=0))
    pairs = g.n * (g.n - 1) / 2
    const = 0.5 * (_xlogy_terms(g.n_edges, pairs, p) + _xlogy_terms(g.n_edges, pairs, q))
    ent = _entropy(psi if not col else psi[:, None]).sum(axis=0)
    value = const + 2 * t * quad + ent - g.n * np.log(2.0)
    return float(value[0]) if col else value


def _check_psi(psi, n: int) -> np.ndarray:
    psi = check_array("psi0", psi, ndim=(1, 2), lo=0.0, hi=1.0)
    if psi.shape[0] != n:
        raise ValueError(f"psi0 must have n = {n} rows; got shape {psi.shape}")
    return psi


def m_step(A, psi, *, n: int | None = None, p_true=None, q_true=None):
    r"""Maximise the ELBO over (p, q) for fixed psi (variational EM).

    .. math::
        \hat p = \frac{\psi^\top A\psi + (1-\psi)^\top A(1-\psi)}
                      {\psi^\top(J-I)\psi + (1-\psi)^\top(J-I)(1-\psi)},\qquad
        \hat q = \frac{(1-\psi)^\top A\psi}{(1-\psi)^\top(J-I)\psi}

    Returns ``(p_hat, q_hat)``, arrays of shape (R,) for psi of shape (n, R).
    """
    g = _as_graph(A, n, p_true, q_true)
    psi = np.asarray(psi, dtype=float)
    P = psi[:, None] if psi.ndim == 1 else psi
    Q = 1.0 - P
    AP, AQ = g.matvec(P), g.matvec(Q)

    def pair(a, b):  # a^T (J - I) b
        return a.sum(axis=0) * b.sum(axis=0) - (a * b).sum(axis=0)

    same = np.einsum("ir,ir->r", P, AP) + np.einsum("ir,ir->r", Q, AQ)
    cross = np.einsum("ir,ir->r", Q, AP)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_hat = same / (pair(P, P) + pair(Q, Q))
        q_hat = cross / pair(Q, P)
    # Hard labels all in one class leave no cross pairs: fall back to the edge density.
    rho = g.n_edges / (g.n * (g.n - 1) / 2)
    p_hat = np.where(np.isfinite(p_hat), p_hat, rho)
    q_hat = np.where(np.isfinite(q_hat), q_hat, rho)
    if psi.ndim == 1:
        return float(p_hat[0]), float(q_hat[0])
    return p_hat, q_hat


def _logit_coefficients(p_hat, q_hat):
    """(4t, 4t lam) in the no-division form, safe when p_hat = q_hat (then both are 0)."""
    eps = 1e-300
    p_hat = np.clip(p_hat, eps, 1 - 1e-16)
    q_hat = np.clip(q_hat, eps, 1 - 1e-16)
    l1 = np.log(p_hat) - np.log(q_hat) + np.log1p(-q_hat) - np.log1p(-p_hat)  # 2t
    l2 = np.log1p(-q_hat) - np.log1p(-p_hat)  # 2t lam
    return 2 * l1, 2 * l2


SCHEDULES = ("batch", "sequential")


def bcavi(
    A,
    psi0,
    *,
    p: float | None = None,
    q: float | None = None,
    max_iter: int = 100,
    tol: float = 1e-8,
    schedule: str = "batch",
    damping: float = 0.0,
    estimate: bool = False,
    n: int | None = None,
    rng=None,
) -> Trajectory:
    r"""Mean-field coordinate ascent for the two-class SBM, from one or R starts at once.

    Batch (BCAVI, every node from the previous sweep):

    .. math:: \psi^+ = (1-\eta)\,\sigma\bigl(4t\,[Au - \lambda((1^\top u)1 - u)]\bigr) + \eta\,\psi

    with ``eta = damping``; sequential (classical CAVI) updates node by node with
    the latest values, which never decreases the ELBO. With ``estimate=True`` each
    sweep first refits (p, q) by :func:`m_step` (variational EM; if ``p`` and ``q``
    are given they are used for the first sweep instead).

    Parameters
    ----------
    A : sparse or dense (n, n) matrix, or "population"
        Adjacency, or the expected graph (then ``n``, ``p`` and ``q`` give the model,
        and one sweep costs O(n R)).
    psi0 : array_like, shape (n,) or (n, R)
        Starting membership probabilities in [0, 1]; R columns run at once with
        one sparse times dense-block product per sweep.
    p, q : float, optional
        Parameters used by the updates; required unless ``estimate=True``.
    max_iter : int
        Maximum number of sweeps.
    tol : float
        Converged when no entry of psi (nor p_hat, q_hat) moves more than ``tol``.
    schedule : {"batch", "sequential"}
    damping : float in [0, 1)
        Weight kept on the previous psi (batch schedule only).
    estimate : bool
        Joint updates of (p, q); ``extras`` then holds ``p_hat`` and ``q_hat`` (K, R).
    n : int, optional
        Number of nodes when ``A == "population"``.
    rng : ignored
        Accepted for a uniform signature; the updates are deterministic.

    Returns
    -------
    Trajectory
        ``iterates`` (K, n) or (K, n, R); ``objective`` the ELBO after each sweep
        at the parameters in use; ``extras["block_means"]`` (K, 2, R) the mean of
        psi on each true block (the phase-plane coordinates).

    References
    ----------
    Mukherjee, Sarkar, Wang & Yan (NeurIPS 2018); Zhang & Zhou (Ann. Statist. 2020)
    for BCAVI; reference/sbm.md sections 3 and 6.

    Examples
    --------
    >>> A, _ = sample_graph(200, 0.3, 0.05, rng=1)
    >>> tr = bcavi(A, np.random.default_rng(2).random(200), p=0.3, q=0.05)
    >>> tr.status.value
    'converged'
    """
    schedule = check_option("schedule", schedule, SCHEDULES)
    damping = check_real("damping", damping, 0.0, 1.0, hi_open=True)
    max_iter = check_int("max_iter", max_iter, 1, 1_000_000)
    tol = check_real("tol", tol, 0.0, lo_open=True)
    if not isinstance(estimate, bool | np.bool_):
        raise ValueError(f"estimate must be True or False; got {estimate!r}")
    if (p is None) != (q is None):
        raise ValueError("give both p and q, or neither (with estimate=True)")
    if p is None and not estimate:
        raise ValueError("p and q are required unless estimate=True")
    if p is not None:
        p, q = _check_pq(p, q)
    if isinstance(A, str) and p is None:
        raise ValueError("A='population' needs the model's p and q")
    g = _as_graph(A, n, p, q)
    psi = _check_psi(psi0, g.n)
    single = psi.ndim == 1
    psi = psi[:, None].copy() if single else psi.copy()
    R = psi.shape[1]
    m = g.n // 2

    if p is not None:
        p_cur, q_cur = np.full(R, p), np.full(R, q)
    else:
        p_cur, q_cur = m_step(g, psi)
    path, p_path, q_path = [psi.copy()], [p_cur.copy()], [q_cur.copy()]
    status = Status.MAX_ITER
    for sweep in range(max_iter):
        if estimate and (sweep > 0 or p is None):
            p_new, q_new = m_step(g, psi)
        else:
            p_new, q_new = p_cur, q_cur
        c1, c2 = _logit_coefficients(p_new, q_new)  # 4t, 4t lam per run
        old = psi.copy()
        if schedule == "batch":
            U = psi - 0.5
            field = c1 * g.matvec(U) - c2 * (U.sum(axis=0) - U)
            update = expit(field)
            psi = damping * psi + (1 - damping) * update if damping else update
        else:
            U = psi - 0.5
            total = U.sum(axis=0)
            for i in range(g.n):
                field = c1 * g.row_dot(i, U) - c2 * (total - U[i])
                new = expit(field) - 0.5
                total += new - U[i]
                U[i] = new
            psi = U + 0.5
        if not np.all(np.isfinite(psi)):
            status = Status.DIVERGED
            break
        path.append(psi.copy())
        p_path.append(np.asarray(p_new, float))
        q_path.append(np.asarray(q_new, float))
        moved = np.max(np.abs(psi - old))
        moved = max(moved, np.max(np.abs(p_new - p_cur)), np.max(np.abs(q_new - q_cur)))
        p_cur, q_cur = p_new, q_new
        if moved < tol:
            status = Status.CONVERGED
            break
    iterates = np.asarray(path)
    p_arr, q_arr = np.asarray(p_path), np.asarray(q_path)
    objective = np.array([
        [_elbo_at(g, it[:, r], pr[r], qr[r]) for r in range(R)]
        for it, pr, qr in zip(iterates, p_arr, q_arr, strict=True)
    ])
    block_means = np.stack([iterates[:, :m].mean(axis=1), iterates[:, m:].mean(axis=1)], axis=1)
    extras = {"block_means": block_means}
    if estimate:
        extras.update(p_hat=p_arr, q_hat=q_arr)
    if single:
        iterates, objective = iterates[..., 0], objective[:, 0]
        extras = {k: v[..., 0] for k, v in extras.items()}
    return Trajectory(times=np.arange(len(path), dtype=float), iterates=iterates,
                      objective=objective, status=status, extras=extras)


def _elbo_at(g: _Graph, psi: np.ndarray, p: float, q: float) -> float:
    """ELBO at possibly equal (p, q) (the collapsed state of joint updates has p = q)."""
    if p > q:
        return elbo(g, psi, p, q)
    # p_hat <= q_hat: t <= 0; use the no-division form of the quadratic term.
    c1, c2 = _logit_coefficients(p, q)
    U = psi - 0.5
    quad = U @ g.matvec(U)
    pairs = g.n * (g.n - 1) / 2
    const = 0.5 * (_xlogy_terms(g.n_edges, pairs, p) + _xlogy_terms(g.n_edges, pairs, q))
    lin = 0.5 * (c1 * quad - c2 * (U.sum() ** 2 - (U**2).sum()))
    return float(const + lin + _entropy(psi).sum() - g.n * np.log(2.0))
