"""Population (expected-graph) BCAVI on the plane of block means: constants, the exact 2-D
map, its ELBO, runs from many starts, limits and basins. See the package docstring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from .._common import Status, Trajectory, as_rng, check_array, check_int, check_real

#: Labels returned by :func:`classify_limits`.
LIMIT_KINDS = ("truth", "all_same", "centre", "mixed", "cycle", "undecided")

_ASSORTATIVE_NOTE = " (the explorer covers the assortative case 0 < q < p < 1)"


def _check_pq(p: Any, q: Any) -> tuple[float, float]:
    p = check_real("p", p, 0.0, 1.0, lo_open=True, hi_open=True)
    q = check_real("q", q, 0.0, 1.0, lo_open=True, hi_open=True)
    if not q < p:
        raise ValueError(f"q must be in (0, p) = (0, {p:g}){_ASSORTATIVE_NOTE}; got {q:g}")
    return p, q


#: Largest n anything here accepts: a sampled graph of 10^8 nodes at average degree 20 already
#: holds 2e9 entries (16 GB); beyond it only an out-of-memory error could follow.
MAX_N = 10**8
#: Largest n of the dense expected adjacency (3.2 GB of float64).
MAX_DENSE_N = 20_000


def _check_n(n: Any, hi: int = MAX_N) -> int:
    return check_int("n", n, 4, hi, even=True)


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
    n = _check_n(n, MAX_DENSE_N)
    p, q = _check_pq(p, q)
    block = np.repeat([0, 1], n // 2)
    P = np.where(block[:, None] == block[None, :], p, q)
    np.fill_diagonal(P, 0.0)
    return P


def _block_coefficients(n, p, q):
    """(a, b, t, lam) with a = 4t(m-1)(p-lam) > 0 and b = 4tm(q-lam) < 0: the 2-D map is
    logit x+ = a (x - 1/2) + b (y - 1/2), logit y+ = b (x - 1/2) + a (y - 1/2)."""
    t, lam = constants(p, q)
    m = n // 2
    return 4 * t * (m - 1) * (p - lam), 4 * t * m * (q - lam), t, lam


def _block_args(x, y, n, p, q):
    a, b, _, _ = _block_coefficients(n, p, q)
    ux, uy = np.asarray(x, dtype=float) - 0.5, np.asarray(y, dtype=float) - 0.5
    return a * ux + b * uy, b * ux + a * uy


def population_map(x, y, *, n: int, p: float, q: float, p_hat: float | None = None,
                   q_hat: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One BCAVI sweep of the population dynamics on block-constant states.

    Parameters
    ----------
    x, y : array_like
        Block means of psi in [0, 1] (broadcast together).
    n : int
        Number of nodes (even, >= 4).
    p, q : float
        Edge probabilities of the graph, ``0 < q < p < 1``.
    p_hat, q_hat : float, optional
        The (misspecified) edge probabilities the update uses, both or neither
        (``0 < q_hat < p_hat < 1``); default the true ones. Derived here: the update then is
        logit x+ = 4 t_hat [(m - 1)(p - lam_hat)(x - 1/2) + m (q - lam_hat)(y - 1/2)] and
        symmetrically for y, with (t_hat, lam_hat) = constants(p_hat, q_hat).

    Returns
    -------
    x_next, y_next : ndarray
        The exact image under the 2-D map (module docstring); NumPy scalars for scalar input.

    Examples
    --------
    >>> x, y = population_map(0.5, 0.5, n=100, p=0.3, q=0.1)  # the centre is fixed
    >>> float(x), float(y)
    (0.5, 0.5)
    """
    n = _check_n(n)
    p, q = _check_pq(p, q)
    x = check_array("x", x, lo=0.0, hi=1.0)
    y = check_array("y", y, lo=0.0, hi=1.0)
    if p_hat is None and q_hat is None:
        gx, gy = _block_args(x, y, n, p, q)
    else:
        if p_hat is None or q_hat is None:
            raise ValueError("p_hat and q_hat go together: give both or neither")
        t_hat, lam_hat = constants(p_hat, q_hat)
        m = n // 2
        a, b = 4 * t_hat * (m - 1) * (p - lam_hat), 4 * t_hat * m * (q - lam_hat)
        ux, uy = np.asarray(x, dtype=float) - 0.5, np.asarray(y, dtype=float) - 0.5
        gx, gy = a * ux + b * uy, b * ux + a * uy
    return expit(gx), expit(gy)


_TINY = np.finfo(float).tiny
_LN2 = float(np.log(2.0))


def _entropy(z: np.ndarray, out: np.ndarray | None = None,
             work: np.ndarray | None = None) -> np.ndarray:
    """Binary entropy H(z) elementwise, with 0 log 0 = 0 (saturated psi is common).

    Written as -ln 2 [z log2 z + (1 - z) log2(1 - z)] with both arguments clamped to the
    smallest normal float, so exact 0s and 1s need no mask. numpy's log2 is vectorised on
    AVX2 machines where its natural log and log1p are not (the entropy costs 0.6x as much
    as with log and log1p, measured); the result is accurate to a few units of 1e-16 in
    absolute terms, which is what the ELBO's sums need. ``out`` and ``work`` (arrays shaped
    like z) let the BCAVI loop reuse memory instead of faulting in fresh pages.

    >>> bool(np.isclose(_entropy(np.array([0.5]))[0], np.log(2), rtol=1e-15, atol=0))
    True
    >>> _entropy(np.array([0.0, 1.0])).tolist() == [0.0, 0.0]
    True
    """
    z = np.asarray(z, dtype=float)
    if z.ndim == 0:
        return _entropy(z.reshape(1))[0]
    h = np.maximum(z, _TINY, out=out)
    np.log2(h, out=h)
    h *= z                                          # z log2 z
    lw = np.subtract(1.0, z, out=work)
    np.maximum(lw, _TINY, out=lw)
    np.log2(lw, out=lw)
    h += lw
    lw *= z
    h -= lw                                         # + (1 - z) log2(1 - z)
    h *= -_LN2
    return h


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


def _logit_coefficients(p_hat, q_hat):
    """(4t, 4t lam) in the no-division form, safe when p_hat = q_hat (then both are 0)."""
    eps = 1e-300
    p_hat = np.clip(p_hat, eps, 1 - 1e-16)
    q_hat = np.clip(q_hat, eps, 1 - 1e-16)
    l1 = np.log(p_hat) - np.log(q_hat) + np.log1p(-q_hat) - np.log1p(-p_hat)  # 2t
    l2 = np.log1p(-q_hat) - np.log1p(-p_hat)  # 2t lam
    return 2 * l1, 2 * l2


def joint_population_map(x, y, *, n: int, p: float, q: float):
    """One joint update (M-step, then the psi step) of the population dynamics on the block plane.

    The M-step refits (p_hat, q_hat) to the expected graph of the true (p, q) under the current
    block-constant psi; the psi step then uses them. Vectorised over arrays x, y.

    Returns
    -------
    x_next, y_next, p_hat, q_hat : ndarray
    """
    n = _check_n(n)
    p, q = _check_pq(p, q)
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    m = n // 2
    xb, yb = 1 - x, 1 - y
    within = p * m * (m - 1)
    # psi' P psi + (1-psi)' P (1-psi), and (1-psi)' P psi, for block-constant psi
    same = within * (x * x + y * y + xb * xb + yb * yb) + 2 * q * m * m * (x * y + xb * yb)
    cross = within * (xb * x + yb * y) + q * m * m * (xb * y + yb * x)
    s, sb = m * (x + y), m * (xb + yb)
    same_pairs = s * s - m * (x * x + y * y) + sb * sb - m * (xb * xb + yb * yb)
    cross_pairs = sb * s - m * (xb * x + yb * y)
    p_hat, q_hat = same / same_pairs, cross / cross_pairs
    c1, c2 = _logit_coefficients(p_hat, q_hat)
    ux, uy = x - 0.5, y - 0.5
    fx = c1 * (p * (m - 1) * ux + q * m * uy) - c2 * ((m - 1) * ux + m * uy)
    fy = c1 * (q * m * ux + p * (m - 1) * uy) - c2 * (m * ux + (m - 1) * uy)
    return expit(fx), expit(fy), p_hat, q_hat


def classify_limits(x, y, *, n: int, p: float, q: float, tol: float = 1e-6,
                    p_hat: float | None = None, q_hat: float | None = None,
                    joint: bool = False) -> np.ndarray:
    """Name the limit each end point has reached, under the map that was iterated.

    A point is *fixed* when one sweep moves it by less than ``tol``; fixed points
    are then sorted by geometry, since the label-swap symmetry places the truth
    pair on the anti-diagonal x + y = 1 and the all-same pair on the diagonal.

    Parameters
    ----------
    x, y : array_like
        End points (block means).
    n, p, q
        The graph, as in :func:`population_map`.
    tol : float
    p_hat, q_hat : float, optional
        Classify under the misspecified map with these fixed update parameters.
    joint : bool
        Classify under the joint map (M-step then psi step, :func:`joint_population_map`).

    Returns
    -------
    ndarray of str
        One of :data:`LIMIT_KINDS` per point: ``"truth"`` (either labelling),
        ``"all_same"``, ``"centre"``, ``"mixed"`` (one of the four mixed saddles),
        ``"cycle"`` (a period-2 orbit) or ``"undecided"`` (not settled).
    """
    x = check_array("x", x, lo=0.0, hi=1.0)
    y = check_array("y", y, lo=0.0, hi=1.0)
    try:
        x, y = np.broadcast_arrays(x, y)
    except ValueError:
        raise ValueError(f"x and y must have the same shape (or broadcast together); got "
                         f"{x.shape} and {y.shape}") from None
    if joint and (p_hat is not None or q_hat is not None):
        raise ValueError("joint estimation refits (p_hat, q_hat): do not pass them with joint")
    if joint:
        def step(u, v):
            return joint_population_map(u, v, n=n, p=p, q=q)[:2]
    else:
        def step(u, v):
            return population_map(u, v, n=n, p=p, q=q, p_hat=p_hat, q_hat=q_hat)
    return _kind_names(_limit_codes(x, y, step, tol))


#: LIMIT_KINDS as an object array, indexed by the codes of :func:`_limit_codes`.
_KIND_NAMES = np.array(LIMIT_KINDS, dtype=object)


def _kind_names(codes: np.ndarray) -> np.ndarray:
    """The names of limit codes, a str array shaped like them (0-d for one point)."""
    return np.asarray(_KIND_NAMES[codes], dtype=object).astype(str)


def _limit_codes(x, y, step, tol) -> np.ndarray:
    """classify_limits as indices into LIMIT_KINDS (no strings: the basin refinement
    classifies every bisection step and only compares the results)."""
    truth, all_same, centre, mixed, cycle_, undecided = range(len(LIMIT_KINDS))
    x1, y1 = step(x, y)
    x2, y2 = step(np.clip(x1, 0, 1), np.clip(y1, 0, 1))
    fixed = np.maximum(np.abs(x1 - x), np.abs(y1 - y)) < tol
    cycle = ~fixed & (np.maximum(np.abs(x2 - x), np.abs(y2 - y)) < tol)
    s, d = np.abs(x + y - 1), np.abs(x - y)
    # Geometric tolerance: saturated points sit within tol of their exact line.
    geo = max(tol, 1e-9) * 10
    out = np.full(np.shape(x), undecided)
    out[fixed] = mixed
    out[fixed & (s < geo)] = truth
    out[fixed & (d < geo)] = all_same
    out[fixed & (s < geo) & (d < geo)] = centre
    out[cycle] = cycle_
    return out


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
    separatrix : ndarray, shape (K, 2)
        Points (x, y) on the basin boundaries (the separatrices), each located by
        bisection to ``1e-9`` between two neighbouring grid points that reach
        different limits (the two truth labellings count as different limits).
    """

    x: np.ndarray
    y: np.ndarray
    kind: np.ndarray
    separatrix: np.ndarray


def basins(n: int, p: float, q: float, *, grid: int = 401, max_iter: int = 500,
           separatrix_tol: float = 1e-9) -> Basins:
    """Basins of attraction of the population 2-D map on a ``grid x grid`` lattice.

    Parameters
    ----------
    n, p, q
        As in :func:`population_map`.
    grid : int
        Points per axis (the square [0, 1]^2 including its edges).
    max_iter : int
        Sweeps before a start that has not settled is called ``"undecided"``.
    separatrix_tol : float
        Width of the final bracket of each separatrix point, in (0, 1/(grid - 1)]; the
        bisections near a saddle cost sweeps in proportion to ``log(1/separatrix_tol)``, so
        a figure asks for about a pixel's worth (1e-6 is below a pixel on any screen).

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
    separatrix_tol = check_real("separatrix_tol", separatrix_tol, 0.0, 1.0 / (grid - 1),
                                lo_open=True)
    axis = np.linspace(0.0, 1.0, grid)
    gx, gy = np.meshgrid(axis, axis)
    a, b, _, _ = _block_coefficients(n, p, q)
    x, y = _settle(gx.ravel(), gy.ravel(), a, b, max_iter, tol=1e-10)
    codes = _limit_codes(x, y, _map_step(n, p, q), 1e-6)
    ids = _limit_ids(x, y, codes).reshape(grid, grid)
    sep = _refine_boundaries(axis, ids, n, p, q, max_iter, tol=separatrix_tol)
    return Basins(x=axis, y=axis, kind=_kind_names(codes).reshape(grid, grid), separatrix=sep)


def _map_step(n, p, q):
    """The known-parameter population map as ``step(x, y)`` for :func:`_limit_codes`."""
    def step(u, v):
        return population_map(u, v, n=n, p=p, q=q)
    return step


#: Per code of LIMIT_KINDS: its rank among the sorted kinds, and whether it comes in pairs.
_KIND_RANK = np.argsort(np.argsort(np.array(LIMIT_KINDS)))
_PAIRED = np.isin(np.array(LIMIT_KINDS), ("truth", "all_same", "mixed"))


def _limit_ids(x, y, codes) -> np.ndarray:
    """An integer per distinct attractor: the kind, plus the quadrant for paired limits."""
    return _KIND_RANK[codes] * 4 + _PAIRED[codes] * (2 * (np.asarray(x) > 0.5)
                                                     + (np.asarray(y) > 0.5))


def _refine_boundaries(axis, ids, n, p, q, max_iter, tol=1e-9) -> np.ndarray:
    """Bisect every grid edge whose two ends reach different attractors (rows and columns).

    Row and column edges are bisected together, one batch per halving: the runs near a
    separatrix linger by a saddle for many sweeps, so the cost is the number of sweeps,
    not the number of points.
    """
    a, b, _, _ = _block_coefficients(n, p, q)
    step = _map_step(n, p, q)
    rows = np.nonzero(ids[:, :-1] != ids[:, 1:])        # y fixed (row i), x between j, j+1
    cols = np.nonzero(ids.T[:, :-1] != ids.T[:, 1:])    # x fixed (column i), y between
    if rows[0].size + cols[0].size == 0:
        return np.empty((0, 2))
    vertical = np.repeat([False, True], [rows[0].size, cols[0].size])
    i = np.concatenate([rows[0], cols[0]])
    j = np.concatenate([rows[1], cols[1]])
    fixed = axis[i]
    lo, hi = axis[j].copy(), axis[j + 1].copy()
    lo_id = np.where(vertical, ids.T[i, j], ids[i, j])
    for _ in range(int(np.ceil(np.log2((axis[1] - axis[0]) / tol)))):
        mid = 0.5 * (lo + hi)
        xs, ys = np.where(vertical, fixed, mid), np.where(vertical, mid, fixed)
        fx, fy = _settle(xs, ys, a, b, max_iter, tol=1e-10)
        same = _limit_ids(fx, fy, _limit_codes(fx, fy, step, 1e-6)) == lo_id
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    mid = 0.5 * (lo + hi)
    return np.column_stack([np.where(vertical, fixed, mid), np.where(vertical, mid, fixed)])


def _settle(x, y, a, b, max_iter, tol):
    """End points only: iterate each start until it stops moving (the settled ones are frozen).

    ``a, b`` are the map's block coefficients (:func:`_block_coefficients`), computed once
    by the caller. Saves the (K, R) path and ELBO a full :func:`population_run` records,
    which matters for a basin grid of 10^5 starts.
    """
    x, y = np.array(x, dtype=float), np.array(y, dtype=float)
    active = np.arange(x.size)
    for _ in range(max_iter):
        xa, ya = x[active], y[active]
        ux, uy = xa - 0.5, ya - 0.5
        xn, yn = expit(a * ux + b * uy), expit(b * ux + a * uy)
        moving = np.maximum(np.abs(xn - xa), np.abs(yn - ya)) >= tol
        x[active], y[active] = xn, yn
        active = active[moving]
        if active.size == 0:
            break
    return x, y
