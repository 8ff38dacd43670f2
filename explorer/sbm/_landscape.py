"""The landscape of the population map: every fixed point with its stability, the period-2 orbit,
the bifurcation thresholds in n, and the misspecified-parameter rule.

All work is done in logit coordinates X = logit(x), Y = logit(y), where the fixed-point equations
read

    X = a s(X) + b s(Y),    Y = b s(X) + a s(Y),    s(z) = sigma(z) - 1/2 = tanh(z/2)/2,

with a = 4t(m-1)(p-lam) > 0 and b = 4t m (q-lam) < 0. Saturated points (x within 1e-300 of 1,
common at n = 10^6) are then ordinary numbers (X ~ 10^5) instead of rounding to 1.0.
Derivations: reference/sbm.md sections 4 and 5 (derived, not quoted from the paper).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from .._common import check_int
from ._population import _block_coefficients, _check_n, _check_pq, constants, truth_threshold

__all__ = [
    "FixedPoint", "bifurcation_diagram", "fixed_points", "misspecified_success", "thresholds",
]

#: Eigenvalue magnitudes within this distance of 1 count as neither stable nor unstable.
_MARGINAL = 1e-12


@dataclass(frozen=True)
class FixedPoint:
    """A fixed point (or a point of the period-2 orbit) of the population 2-D BCAVI map.

    Attributes
    ----------
    x, y : float
        Block means of psi (may round to exactly 0 or 1 when saturated).
    logit_x, logit_y : float
        The same point in logit coordinates (exact even when saturated).
    kind : {"sink", "saddle", "source"}
        Stability under the map (of the 2-step map for ``period == 2``).
    eigenvalues : ndarray, shape (2,)
        Eigenvalues of the Jacobian in the block plane, largest magnitude first.
    role : {"centre", "truth", "all_same", "mixed", "cycle"}
        Which family the point belongs to.
    period : int
        1 for a fixed point, 2 for a point of the 1_n <-> 0_n orbit (p + q > 1).
    transverse : ndarray, shape (2,)
        Jacobian eigenvalues of the n-dimensional population map along zero-sum
        perturbations inside block 1 and inside block 2; negative and below -1 in
        magnitude means the within-block oscillation of batch updates.
    """

    x: float
    y: float
    logit_x: float
    logit_y: float
    kind: str
    eigenvalues: np.ndarray
    role: str
    period: int = 1
    transverse: np.ndarray = None


def _s(z):
    return 0.5 * np.tanh(0.5 * np.asarray(z, dtype=float))


def _dsigma(z):
    """sigma'(z) without overflow at |z| ~ 1e5."""
    e = np.exp(-np.abs(np.asarray(z, dtype=float)))
    return e / (1.0 + e) ** 2


def _symmetric_root(c: float) -> float | None:
    """The positive root of X = c s(X) (it exists iff c > 4, where the slope at 0 passes 1)."""
    if c <= 4.0:
        return None

    def f(X):
        return 0.5 * c * math.tanh(0.5 * X) - X

    hi = c / 2.0
    lo = min(1.0, 0.5 * np.sqrt(48.0 * (c / 4.0 - 1.0) / c))
    while f(lo) <= 0.0 and lo > 1e-300:  # near c = 4 the root is tiny
        lo *= 0.5
    if f(hi) >= 0.0:  # saturated in double precision: X* = c/2 exactly
        return hi
    return brentq(f, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)


def _dsigma_scalar(z: float) -> float:
    e = math.exp(-abs(z))
    return e / (1.0 + e) ** 2


def _jacobian(X, Y, a, b):
    dx, dy = _dsigma_scalar(float(X)), _dsigma_scalar(float(Y))
    return np.array([[dx * a, dx * b], [dy * b, dy * a]])


def _kind(eigs) -> str:
    mags = np.abs(eigs)
    if np.all(mags < 1 - _MARGINAL):
        return "sink"
    if np.all(mags > 1 + _MARGINAL):
        return "source"
    return "saddle"


def _eig_sorted(J):
    """Eigenvalues of a 2 x 2 Jacobian, largest magnitude first.

    J = D M with D > 0 diagonal and M symmetric (or a product of two such, for the
    2-step map), which is similar to a symmetric matrix: the eigenvalues are real, so the
    closed form T/2 +- sqrt(T^2/4 - det) applies (a rounding-negative discriminant is 0).
    Written out because it runs for every point of every bifurcation-diagram column.
    """
    (j11, j12), (j21, j22) = J.tolist()
    return np.array(_eig_pair(j11, j12, j21, j22))


def _eig_pair(j11: float, j12: float, j21: float, j22: float) -> tuple[float, float]:
    """:func:`_eig_sorted` of [[j11, j12], [j21, j22]] as two floats."""
    half = 0.5 * (j11 + j22)
    root = math.sqrt(max(0.25 * (j11 - j22) ** 2 + j12 * j21, 0.0))
    # The larger-magnitude root first, the other from det / it (no cancellation).
    big = half + math.copysign(root, half) if half != 0.0 else root
    det = j11 * j22 - j12 * j21
    small = det / big if big != 0.0 else 0.0
    return big, small


def _point(X, Y, a, b, t, p, lam, role, period=1, J=None):
    J = _jacobian(X, Y, a, b) if J is None else J
    eigs = _eig_sorted(J)
    X, Y = float(X), float(Y)
    transverse = -4 * t * (p - lam) * np.array([_dsigma_scalar(X), _dsigma_scalar(Y)])
    return FixedPoint(
        x=0.5 + 0.5 * math.tanh(0.5 * X), y=0.5 + 0.5 * math.tanh(0.5 * Y),
        logit_x=X, logit_y=Y, kind=_kind(eigs), eigenvalues=eigs, role=role, period=period,
        transverse=transverse,
    )


def _mixed_roots(a, b, grid: int = 24001) -> list[list[tuple[float, float]]]:
    """Fixed points off both symmetry lines, for one map or many (``a``, ``b`` broadcast).

    Each map's fixed points are found by scanning the less saturated block's logit Y. Given
    Y, the second equation fixes s(X) = r(Y) = (Y - a s(Y)) / b, so X = logit(1/2 + r); the
    first equation gives X = a r + b s(Y). A root of H(Y), the difference of the two, is a
    fixed point. Where |r| >= 1/2 the first X is infinite, so H is extended by -/+ infinity:
    a saturated block (X ~ 60 or 10^5, s(X) = 1/2 in double precision) then shows up as a
    sign change at the edge of the domain instead of being lost. Each point (X, Y) has a
    mirror (Y, X), added by the caller.

    All maps are scanned as one (maps, grid) array and every bracket is bisected at once
    (bisection, not Brent: H jumps to -/+ infinity at the domain's edge, where Brent's
    interpolation degenerates to bisection anyway), so a bifurcation diagram over many n
    costs a few array passes instead of a root-finder call per point.

    Returns
    -------
    list, one per map, of (X, Y) pairs.
    """
    a, b = (np.atleast_1d(np.asarray(v, dtype=float)) for v in np.broadcast_arrays(a, b))
    big = np.finfo(float).max

    def H(Y, a, b):
        sy = _s(Y)
        r = (Y - a * sy) / b
        inside = np.abs(r) < 0.5
        rr = np.where(inside, r, 0.0)
        x_logit = np.log1p(2 * rr) - np.log1p(-2 * rr)
        return np.where(inside, a * r + b * sy - x_logit, np.where(r >= 0.5, -big, big))

    ymax = np.minimum((a + np.abs(b)) / 2.0, 60.0)
    Ys = np.linspace(-ymax, ymax, grid, axis=-1)               # (maps, grid)
    A, B = a[:, None], b[:, None]
    h = H(Ys, A, B)
    k, i = np.nonzero(np.sign(h[:, :-1]) * np.sign(h[:, 1:]) < 0)
    lo, hi = Ys[k, i], Ys[k, i + 1]
    h_lo = h[k, i]
    ak, bk = a[k], b[k]
    # Halve until the bracket is below 1e-13 (as Brent's xtol was): the grid step is
    # at most 120 / grid, so ~50 halvings suffice; stop early once all are that narrow.
    for _ in range(64):
        if lo.size == 0 or np.max(hi - lo) <= 1e-13:
            break
        mid = 0.5 * (lo + hi)
        h_mid = H(mid, ak, bk)
        left = np.sign(h_mid) == np.sign(h_lo)
        lo, h_lo = np.where(left, mid, lo), np.where(left, h_mid, h_lo)
        hi = np.where(left, hi, mid)
    zk, zi = np.nonzero(h == 0)
    maps = np.concatenate([k, zk])
    Y = np.concatenate([0.5 * (lo + hi), Ys[zk, zi]])
    sy = _s(Y)
    r = np.clip((Y - a[maps] * sy) / b[maps], -0.5, 0.5)
    X = a[maps] * r + b[maps] * sy
    out: list[list[tuple[float, float]]] = [[] for _ in range(a.size)]
    for j, x, y in zip(maps.tolist(), X.tolist(), Y.tolist(), strict=True):
        scale = 1.0 + abs(x) + abs(y)
        if abs(x - y) > 1e-7 * scale and abs(x + y) > 1e-7 * scale:
            out[j].append((x, y))
    return out


def fixed_points(n: int, p: float, q: float, *, resolution: int = 24001) -> list[FixedPoint]:
    """Every fixed point of the population 2-D BCAVI map, with its stability.

    Parameters
    ----------
    n : int
        Number of nodes (even, >= 4).
    p, q : float
        Edge probabilities, ``0 < q < p < 1``.

    resolution : int
        Points of the scan that brackets the mixed fixed points (coarser is faster; only
        pairs born within one step of each other, right at n2*, need it fine).

    Returns
    -------
    list of FixedPoint
        The centre; the truth pair (1, 0), (0, 1) once ``t mu_v > 1``; the all-same pair
        once ``t mu_1 > 1`` (p + q < 1); the four mixed saddles once the all-same pair is
        stable; and, for p + q > 1, the two points of the 1_n <-> 0_n period-2 orbit
        (``period == 2``). Ordered centre, truth, all-same, mixed, cycle.

    Notes
    -----
    The symmetric families solve the exact 1-D equation X = c s(X) (c = a + b on the
    diagonal, a - b on the anti-diagonal); the mixed points come from a fine scan of a 1-D
    reduction refined by Brent's method, so two mixed points closer than the scan step
    (just after their birth at n2*) can be missed.

    References
    ----------
    Mukherjee, Sarkar, Wang & Yan (NeurIPS 2018), "complete characterization of all the
    critical points"; the classification used here is derived in reference/sbm.md section 5.

    Examples
    --------
    >>> [fp.role for fp in fixed_points(2000, 0.3, 0.1)]
    ['centre', 'truth', 'truth', 'all_same', 'all_same', 'mixed', 'mixed', 'mixed', 'mixed']
    """
    n = _check_n(n)
    p, q = _check_pq(p, q)
    a, b, _, _ = _block_coefficients(n, p, q)
    mixed = _mixed_roots(a, b, check_int("resolution", resolution, 101, 10_000_001))[0]
    return _fixed_points(n, p, q, mixed)


def _period_one(a, b, mixed: list[tuple[float, float]]) -> list[tuple[float, float, str]]:
    """(X, Y, role) of each period-1 fixed point of the map with coefficients (a, b), in the
    order :func:`fixed_points` lists them, given its mixed roots (one of each mirror pair or
    both)."""
    out = [(0.0, 0.0, "centre")]
    x_truth = _symmetric_root(a - b)
    if x_truth is not None:
        out += [(x_truth, -x_truth, "truth"), (-x_truth, x_truth, "truth")]
    x_same = _symmetric_root(a + b)
    if x_same is not None:
        out += [(x_same, x_same, "all_same"), (-x_same, -x_same, "all_same")]
    seen: list[tuple[float, float]] = []
    for X, Y in mixed + [(Y, X) for X, Y in mixed]:
        if all(abs(X - u) > 1e-6 * (1 + abs(u)) or abs(Y - v) > 1e-6 * (1 + abs(v))
               for u, v in seen):
            seen.append((X, Y))
    seen.sort(key=lambda z: (-z[0], -z[1]))
    return out + [(X, Y, "mixed") for X, Y in seen]


def _kind_at(X: float, Y: float, a, b) -> str:
    """``_point(X, Y, ...).kind`` without building the point: the same Jacobian entries,
    eigenvalues and comparisons in plain floats (for the many points of a diagram)."""
    dx, dy = _dsigma_scalar(float(X)), _dsigma_scalar(float(Y))
    big, small = _eig_pair(float(dx * a), float(dx * b), float(dy * b), float(dy * a))
    mags = (abs(big), abs(small))
    if all(m < 1 - _MARGINAL for m in mags):
        return "sink"
    if all(m > 1 + _MARGINAL for m in mags):
        return "source"
    return "saddle"


def _fixed_points(n: int, p: float, q: float, mixed: list[tuple[float, float]]):
    """The fixed points of one map, given its mixed roots (one of each mirror pair or both)."""
    a, b, t, lam = _block_coefficients(n, p, q)
    out = [_point(X, Y, a, b, t, p, lam, role) for X, Y, role in _period_one(a, b, mixed)]
    x_cycle = _symmetric_root(-(a + b))
    if x_cycle is not None:
        z1, z2 = (x_cycle, x_cycle), (-x_cycle, -x_cycle)
        J1, J2 = _jacobian(*z1, a, b), _jacobian(*z2, a, b)
        out += [_point(*z1, a, b, t, p, lam, "cycle", period=2, J=J2 @ J1),
                _point(*z2, a, b, t, p, lam, "cycle", period=2, J=J1 @ J2)]
    return out


def bifurcation_diagram(p: float, q: float, ns, *, resolution: int = 2001) -> dict:
    """Every period-1 fixed point of the population map for each n of a grid.

    Parameters
    ----------
    p, q : float
        Edge probabilities, ``0 < q < p < 1``.
    ns : array_like of int
        Even sizes n >= 4.
    resolution : int
        Points of each n's scan for the mixed points (see :func:`fixed_points`); the
        scans of all n run as one array.

    Returns
    -------
    dict
        Parallel arrays with one entry per fixed point: ``n``, ``x``, ``y`` (block means),
        ``role`` and ``kind`` (as in :class:`FixedPoint`); and ``thresholds`` (see
        :func:`thresholds`), where the diagram's branches are born.

    Examples
    --------
    >>> d = bifurcation_diagram(0.3, 0.1, [20, 2000])
    >>> [str(r) for r, n in zip(d["role"], d["n"]) if n == 2000] == [
    ...     fp.role for fp in fixed_points(2000, 0.3, 0.1) if fp.period == 1]
    True
    """
    p, q = _check_pq(p, q)
    ns = [_check_n(v) for v in np.atleast_1d(np.asarray(ns, dtype=object)).tolist()]
    resolution = check_int("resolution", resolution, 101, 10_000_001)
    coef = [_block_coefficients(n, p, q)[:2] for n in ns]
    mixed = _mixed_roots(*np.array(coef).reshape(-1, 2).T, resolution)
    # The points' positions and kinds as fixed_points gives them, without the points.
    rows = [(n, 0.5 + 0.5 * math.tanh(0.5 * float(X)), 0.5 + 0.5 * math.tanh(0.5 * float(Y)),
             role, _kind_at(X, Y, a, b))
            for n, (a, b), roots in zip(ns, coef, mixed, strict=True)
            for X, Y, role in _period_one(a, b, roots)]
    n_, x, y, role, kind = (np.array(c) for c in zip(*rows, strict=True))
    return {"n": n_, "x": x, "y": y, "role": role, "kind": kind,
            "thresholds": thresholds(p, q)}


def thresholds(p: float, q: float) -> dict[str, float]:
    """The sizes n at which the population landscape changes (reference/sbm.md section 5.2).

    Returns
    -------
    dict
        ``truth``: the truth pair exists for n above it (t mu_v = 1);
        ``all_same``: the all-same pair is born, as saddles, above it (t mu_1 = 1; p + q < 1);
        ``all_same_stable``: above it the all-same pair is stable and the four mixed saddles
        exist (no closed form; found by bisection on the eigenvalue criterion).
        The last two are ``inf`` when p + q >= 1.
    """
    p, q = _check_pq(p, q)
    t, lam = constants(p, q)
    out = {"truth": truth_threshold(p, q)}
    gap = (p + q) / 2 - lam
    if gap <= 0:
        out.update(all_same=np.inf, all_same_stable=np.inf)
        return out
    n1 = (1.0 / t + p - lam) / gap
    out["all_same"] = n1

    def v_eigen_minus_one(n_real: float) -> float:
        m = n_real / 2
        a, b = 4 * t * (m - 1) * (p - lam), 4 * t * m * (q - lam)
        X = _symmetric_root(a + b)
        if X is None:
            return 1.0
        return float(_dsigma(X)) * (a - b) - 1.0

    lo, hi = n1, 2 * n1
    while v_eigen_minus_one(hi) > 0:
        lo, hi = hi, 2 * hi
        if hi > 1e15:
            out["all_same_stable"] = np.inf
            return out
    out["all_same_stable"] = brentq(v_eigen_minus_one, lo * (1 + 1e-12), hi, rtol=1e-12)
    return out



def misspecified_success(p: float, q: float, p_hat, q_hat) -> np.ndarray:
    """Asymptotic share of random starts reaching the truth when BCAVI uses fixed (p_hat, q_hat).

    With the update's threshold lam_hat = lam(p_hat, q_hat) and the data's (p, q), the
    first-step sign rule gives (2/pi) arctan((p - q)/|p + q - 2 lam_hat|): above 1/2 exactly
    when lam_hat lies in (q, p). For lam_hat < q the all-same pair attracts the rest; for
    lam_hat > p the 1_n <-> 0_n two-cycle does (reference/sbm.md section 5.5, derived).

    Parameters
    ----------
    p, q : float
        The model generating the graph.
    p_hat, q_hat : array_like
        The parameters BCAVI is run with (broadcast together); cells with p_hat <= q_hat
        (no assortative update) are NaN.

    Returns
    -------
    ndarray
    """
    p, q = _check_pq(p, q)
    ph, qh = np.broadcast_arrays(np.asarray(p_hat, float), np.asarray(q_hat, float))
    ok = (qh > 0) & (ph > qh) & (ph < 1)
    phs, qhs = np.where(ok, ph, 0.5), np.where(ok, qh, 0.25)
    l1 = np.log(phs) - np.log(qhs) + np.log1p(-qhs) - np.log1p(-phs)
    lam_hat = (np.log1p(-qhs) - np.log1p(-phs)) / l1
    gap = np.abs(p + q - 2 * lam_hat)
    with np.errstate(divide="ignore"):
        share = 2 / np.pi * np.arctan((p - q) / gap)
    return np.where(ok, share, np.nan)
