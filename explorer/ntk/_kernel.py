"""Kernel gradient descent in the eigenbasis: spectra, targets, risk curves, the closed-form
predictor, the data-driven stopping time, the oracle and KRR comparisons, and rates in n.

References: Sun & Raskutti, arXiv:2602.13942 (early stopping from a non-random start);
Raskutti, Wainwright & Yu, JMLR 15 (2014) 335-366 (the stopping rule and its bound, rescaled by
the residual radius R as in Sun & Raskutti's code for arXiv:2412.01120); reference/ntk.md
sections 2, 4 and 7.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize_scalar

from .._common import as_rng, check_array, check_int, check_option, check_real
from ..sweep import run_sweep

__all__ = [
    "KINDS",
    "KRR",
    "PredictFn",
    "Prediction",
    "RateSweep",
    "RiskCurve",
    "StoppingTime",
    "decay_exponent",
    "krr_equivalent",
    "krr_risk",
    "oracle_time",
    "predict_fn",
    "gd_path",
    "rate_sweep",
    "risk_curve",
    "rkhs_norm",
    "spectrum",
    "step_size",
    "stopping_time",
    "target_coefficients",
    "theoretical_slopes",
]

KINDS = ("polynomial", "exponential", "finite_rank", "spiked")
_E = math.e
#: Relative size below which a negative eigenvalue is round-off (clipped to 0 with a warning).
_ROUNDOFF = 1e-10


# ---------------------------------------------------------------------------- inputs


def _check_lam(lam) -> np.ndarray:
    lam = check_array("lam", lam, ndim=1)
    if lam.size == 0:
        raise ValueError("lam must hold at least one eigenvalue; got none")
    top = float(np.max(np.abs(lam)))
    low = float(lam.min())
    if low < 0:
        if low < -_ROUNDOFF * max(top, 1e-300):
            raise ValueError(f"lam entries must be >= 0 (a PSD kernel); got {low:.3g}")
        warnings.warn(f"lam: clipped round-off negative eigenvalues (as low as {low:.2g}) to 0",
                      RuntimeWarning, stacklevel=3)
        lam = np.maximum(lam, 0.0)
    if not np.any(lam > 0):
        raise ValueError("lam must have a positive eigenvalue; got all zeros")
    return lam


def _check_coef(coef, n: int) -> np.ndarray:
    coef = check_array("coef", coef, ndim=1)
    if coef.shape != (n,):
        raise ValueError(f"coef must have one entry per eigenvalue ({n}); got {coef.shape[0]}")
    return coef


def _check_alpha(alpha, lam: np.ndarray) -> float:
    top = float(lam.max())
    if alpha is None:
        return 1.0 / top
    alpha = check_real("alpha", alpha, 0.0, lo_open=True)
    if alpha * top > 1.0 + 1e-12:
        state = "diverges" if alpha * top > 2.0 else "oscillates on the top mode"
        warnings.warn(f"alpha = {alpha:.3g} exceeds 1/lam_1 = {1 / top:.3g}: gradient descent "
                      f"{state} (bias is no longer monotone)", RuntimeWarning, stacklevel=3)
    return alpha


def step_size(lam, relative: float = 1.0) -> float:
    """The gradient-descent step alpha = relative / lam_1, in units of the top eigenvalue.

    ``relative`` = 1 is the default step of every function here (the largest step with
    monotone bias); in (1, 2) the top modes oscillate in sign while still converging, and
    above 2 gradient descent diverges along every mode with alpha lam_i > 2.

    Parameters
    ----------
    lam : array_like, shape (n,)
        Eigenvalues of K_n (>= 0, at least one positive).
    relative : float
        alpha lam_1, in (0, inf).

    Returns
    -------
    float
        alpha.

    Raises
    ------
    ValueError
        If ``relative`` is not in (0, inf) or ``lam`` is not a valid spectrum.

    Examples
    --------
    >>> step_size([2.0, 1.0], 1.5)
    0.75
    """
    lam = _check_lam(lam)
    relative = check_real("relative", relative, 0.0, lo_open=True)
    return relative / float(lam.max())


def _check_times(t) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    if np.any(np.isnan(t)) or np.any(t < 0):
        raise ValueError("t must contain times >= 0")
    return t


# ---------------------------------------------------------------------------- spectra, targets


def spectrum(kind: str, n: int, *, beta: float = 2.0, gamma: float = 0.05, m: int = 10,
             kappa: float = 20.0, scale: float = 1.0) -> np.ndarray:
    """Eigenvalues of a normalised kernel matrix K_n = K / n, descending, largest ``scale``.

    Parameters
    ----------
    kind : {"polynomial", "exponential", "finite_rank", "spiked"}
        ``polynomial``: i^-beta; ``exponential``: exp(-gamma (i - 1)); ``finite_rank``: m equal
        eigenvalues then zeros; ``spiked``: one spike kappa times the next eigenvalue on a
        polynomial bulk (i - 1)^-beta, the shape of real transformer eNTKs (reference/ntk.md 6).
    n : int
        Number of eigenvalues (the sample size).

    Examples
    --------
    >>> spectrum("polynomial", 4, beta=2.0).tolist()
    [1.0, 0.25, 0.1111111111111111, 0.0625]
    """
    kind = check_option("kind", kind, KINDS)
    n = check_int("n", n, 1, 100_000_000)
    scale = check_real("scale", scale, 0.0, lo_open=True)
    i = np.arange(1, n + 1, dtype=float)
    if kind == "polynomial":
        beta = check_real("beta", beta, 0.0, lo_open=True)
        lam = i ** -beta
    elif kind == "exponential":
        gamma = check_real("gamma", gamma, 0.0, lo_open=True)
        lam = np.exp(-gamma * (i - 1))
    elif kind == "finite_rank":
        m = check_int("m", m, 1)
        lam = (i <= m).astype(float)
    else:
        beta = check_real("beta", beta, 0.0, lo_open=True)
        kappa = check_real("kappa", kappa, 1.0)
        lam = np.empty(n)
        lam[0] = 1.0
        lam[1:] = (i[1:] - 1) ** -beta / kappa
    return scale * lam


def decay_exponent(lam, *, start: int = 2, stop: int | None = None) -> float:
    """Fitted beta in lam_i ~ c i^-beta: least squares of log lam on log i over [start, stop].

    Indices are 1-based; zero eigenvalues are left out; ``stop`` defaults to n / 2, where the
    bulk of an empirical spectrum is still above round-off.
    """
    lam = _check_lam(lam)
    start = check_int("start", start, 1, lam.size)
    stop = lam.size // 2 if stop is None else check_int("stop", stop, start, lam.size)
    i = np.arange(start, max(stop, start + 1) + 1)
    i = i[i <= lam.size]
    vals = lam[i - 1]
    keep = vals > 0
    if keep.sum() < 2:
        return float("nan")
    return float(-np.polyfit(np.log(i[keep]), np.log(vals[keep]), 1)[0])


def rkhs_norm(lam, coef) -> float:
    """R = ||f* - f0||_H on the sample: sqrt(sum u_i^2 / lam_i) over lam_i > 0."""
    lam = check_array("lam", lam, ndim=1)
    coef = check_array("coef", coef, shape=(lam.size,))
    pos = lam > 0
    return float(np.sqrt(np.sum(coef[pos] ** 2 / lam[pos])))


def target_coefficients(lam, *, r: float = 0.5, R: float = 1.0, eps: float = 0.1,
                        rng=None) -> np.ndarray:
    """Residual coefficients u_i of f* - f0 in the kernel's eigenbasis, with a source condition.

    u_i^2 proportional to lam_i^(2r) i^(-1-eps), with random signs, scaled so that the RKHS
    distance of the pretrained start from the target is exactly ``R`` (R = 0: f0 = f*).
    r = 1/2 is just inside the RKHS, r > 1/2 smoother (reference/ntk.md 7.3).

    Examples
    --------
    >>> lam = spectrum("polynomial", 50)
    >>> round(rkhs_norm(lam, target_coefficients(lam, R=2.0, rng=0)), 12)
    2.0
    """
    lam = _check_lam(lam)
    r = check_real("r", r, 0.0, 10.0)
    R = check_real("R", R, 0.0)
    eps = check_real("eps", eps, 0.0)
    rng = as_rng(rng)
    i = np.arange(1, lam.size + 1, dtype=float)
    signs = rng.choice([-1.0, 1.0], size=lam.size)
    mag = np.where(lam > 0, np.sqrt(np.where(lam > 0, lam, 1.0) ** (2 * r) * i ** (-1 - eps)), 0)
    coef = signs * mag
    norm = rkhs_norm(lam, coef)
    return coef * (R / norm) if norm > 0 else coef * 0.0


# ---------------------------------------------------------------------------- risk in time


def _shrink(lam, alpha, t, flow):
    """s_i(t) = (1 - alpha lam_i)^t, or exp(-alpha lam_i t) for flow; shape t.shape + (n,)."""
    t = np.asarray(t, dtype=float)[..., None]
    if flow:
        return np.exp(-alpha * lam * t)
    base = 1.0 - alpha * lam
    if np.all(base >= 0):
        with np.errstate(divide="ignore", invalid="ignore"):
            logb = np.log(base)
            # 0^0 = 1 at t = 0 (the start), 0^t = 0 after.
            return np.where(t == 0, 1.0, np.exp(t * logb))
    if np.any(t != np.round(t)):
        raise ValueError("t must be whole steps when alpha > 1/lam_1 (negative factors)")
    with np.errstate(over="ignore", invalid="ignore"):
        return np.power(base, t)


class RiskCurve(NamedTuple):
    """Expected squared error of kernel gradient descent and its two parts, each shaped like t.

    A tuple, so ``bias2, variance, risk = risk_curve(...)`` and ``risk_curve(...)[2]`` work.
    """

    bias2: np.ndarray
    variance: np.ndarray
    risk: np.ndarray


def _risk_parts(lam, coef, sigma, t, alpha, flow=False) -> RiskCurve:
    """risk_curve without validation (inputs already checked)."""
    s = _shrink(lam, alpha, t, flow)
    with np.errstate(over="ignore", invalid="ignore"):
        bias2 = np.sum(s * s * coef * coef, axis=-1)
        variance = sigma**2 / lam.size * np.sum((1.0 - s) ** 2, axis=-1)
    return RiskCurve(bias2, variance, bias2 + variance)


#: Rows per block of the factored sums: a block (64 x n) stays in cache between its passes.
_BLOCK_ROWS = 64


class _Shrinkage:
    """The parts of :func:`_risk_parts` that depend on the spectrum, step and times only.

    ``s * s`` and the variance sum are kept, so the risk for any (coef, sigma) is one
    multiply-and-sum pass, with the same floating-point operations in the same order as
    :func:`_risk_parts` (bitwise the same values).
    """

    def __init__(self, lam, alpha, t, flow=False):
        s = _shrink(lam, alpha, t, flow)
        with np.errstate(over="ignore", invalid="ignore"):
            self.ss = s * s
            self.v = np.sum((1.0 - s) ** 2, axis=-1)
        self.n = lam.size

    def parts(self, coef, sigma) -> RiskCurve:
        with np.errstate(over="ignore", invalid="ignore"):
            bias2 = _row_sums(self.ss.reshape(-1, self.n), coef, coef).reshape(self.v.shape)
            variance = sigma**2 / self.n * self.v
        return RiskCurve(bias2, variance, bias2 + variance)


def _row_sums(M: np.ndarray, *weights: np.ndarray) -> np.ndarray:
    """``np.sum(M * w1 * w2 ..., axis=-1)`` for M (rows, n), a cache-sized block at a time.

    The products are taken left to right and each row is summed alone, as the direct
    expression does: the same numbers, without (rows, n) temporaries.
    """
    out = np.empty(M.shape[0])
    buf = np.empty((min(_BLOCK_ROWS, M.shape[0]), M.shape[1]))
    for lo in range(0, M.shape[0], _BLOCK_ROWS):
        b = buf[:min(_BLOCK_ROWS, M.shape[0] - lo)]
        np.multiply(M[lo:lo + b.shape[0]], weights[0], out=b)
        for w in weights[1:]:
            b *= w
        np.sum(b, axis=-1, out=out[lo:lo + b.shape[0]])
    return out


def risk_curve(lam, coef, sigma: float, t, *, alpha: float | None = None,
               flow: bool = False) -> RiskCurve:
    """Expected squared error of kernel gradient descent after t steps, split into its parts.

    .. math::
        \\mathrm{bias}^2(t) = \\sum_i s_i(t)^2 u_i^2,\\quad
        \\mathrm{var}(t) = \\frac{\\sigma^2}{n}\\sum_i (1 - s_i(t))^2,\\quad
        s_i(t) = (1 - \\alpha\\lambda_i)^t

    Parameters
    ----------
    lam : array_like, shape (n,)
        Eigenvalues of K_n (>= 0).
    coef : array_like, shape (n,)
        Residual coefficients u = U^T (f* - f0)(X) / sqrt(n).
    sigma : float
        Noise standard deviation (>= 0).
    t : float or array_like
        Times (steps; any real >= 0 for ``flow``).
    alpha : float, optional
        Step size; 1/lam_1 by default. Above 1/lam_1 a warning; above 2/lam_1 the curves
        blow up (shown, not raised).
    flow : bool
        Gradient flow exp(-alpha lam t) instead of discrete steps.

    Returns
    -------
    RiskCurve
        ``(bias2, variance, risk)``, each an ndarray shaped like t; a named tuple.

    Raises
    ------
    ValueError
        If an input is out of range, or t is not whole steps when alpha > 1/lam_1.

    References
    ----------
    Raskutti, Wainwright & Yu (2014), section 2; Sun & Raskutti (arXiv:2602.13942).

    Examples
    --------
    >>> curve = risk_curve([1.0, 0.5], [1.0, 1.0], 0.0, [0, 1])
    >>> curve.bias2.tolist()
    [2.0, 0.25]
    """
    lam = _check_lam(lam)
    coef = _check_coef(coef, lam.size)
    sigma = check_real("sigma", sigma, 0.0)
    alpha = _check_alpha(alpha, lam)
    t = _check_times(t)
    return _risk_parts(lam, coef, sigma, t, alpha, flow)


def gd_path(lam, coef, sigma: float, t, *, alpha: float | None = None, rng=None) -> np.ndarray:
    """Empirical risk ||f_t - f*||_n^2 along one sampled noisy gradient-descent path.

    The noise w ~ N(0, sigma^2 I) is drawn once; in the eigenbasis the error is
    e_i(t) = (1 - s_i) sigma xi_i - s_i u_i sqrt(n) (reference/ntk.md 7.1).
    """
    lam = _check_lam(lam)
    coef = _check_coef(coef, lam.size)
    sigma = check_real("sigma", sigma, 0.0)
    alpha = _check_alpha(alpha, lam)
    t = _check_times(t)
    xi = as_rng(rng).standard_normal(lam.size)
    s = _shrink(lam, alpha, t, False)
    n = lam.size
    err = (1.0 - s) * sigma * xi - s * coef * np.sqrt(n)
    return np.mean(err * err, axis=-1)


# ---------------------------------------------------------------------------- predictor


class Prediction(NamedTuple):
    """Gradient-descent predictions at one time; a tuple ``(train, test)``."""

    train: np.ndarray
    #: None without a test kernel.
    test: np.ndarray | None


class PredictFn:
    """Train and test predictions of kernel gradient descent at any time, from one ``eigh``.

    Built by :func:`predict_fn`; call it with a time ``t`` (steps; ``np.inf`` for the limit).
    Like neural-tangents' ``predict.gradient_descent_mse``: factor once, then each call is
    O(n^2) for the test block and O(n) in the eigenbasis. K is never inverted, so a
    rank-deficient kernel (an eNTK with fewer parameters than examples) works.

    Attributes
    ----------
    eigenvalues : ndarray
        Eigenvalues of K_n = K / n, descending.
    alpha : float
    """

    def __init__(self, K, y, f0, alpha, K_test, f0_test):
        import scipy.linalg

        n = y.shape[0]
        # K / n is a fresh array LAPACK may overwrite (no second n x n copy); K is finite.
        lam, U = scipy.linalg.eigh(K / n, overwrite_a=True, check_finite=False,
                                   driver=_EIGH_DRIVER)
        # Kept in LAPACK's ascending order: reordering U to descending would copy n x n for
        # nothing, since every product below is a sum over the modes.
        self._lam = np.maximum(lam, 0.0)
        self.eigenvalues = self._lam[::-1].copy()
        self._U = U
        self.alpha = _check_alpha(alpha, self.eigenvalues)
        self._n = n
        self._y = y
        self._c = U.T @ (y - f0)  # residual coefficients of the data, (n,), ascending modes
        self._test = None
        if K_test is not None:
            self._test = (f0_test, (K_test @ U) / n)
        self._tol = 1e-12 * self.eigenvalues[0]

    @property
    def coefficients(self) -> np.ndarray:
        """U^T (y - f0) / sqrt(n): the data residual in the eigenbasis (eigenvalues descending)."""
        return (self._c / np.sqrt(self._n))[::-1]

    def __call__(self, t) -> Prediction:
        """``Prediction(train, test)`` at time t; ``test`` is None without a test kernel."""
        if not (isinstance(t, int | float | np.integer | np.floating) and t >= 0):
            raise ValueError(f"t must be a number of steps >= 0 (or inf); got {t!r:.40}")
        t = float(t)
        lam, a = self._lam, self.alpha
        if math.isinf(t):
            s = np.where(lam > self._tol, 0.0, 1.0)
        else:
            s = _shrink(lam, a, t, False)
        f_train = self._y - self._U @ (s * self._c)
        if self._test is None:
            return Prediction(f_train, None)
        f0_test, KU = self._test
        big = lam > self._tol
        # g(lam) = (1 - s) / lam, whose limit at lam = 0 is alpha t (zero weight at t = inf).
        g = np.where(big, (1.0 - s) / np.where(big, lam, 1.0), 0.0 if math.isinf(t) else a * t)
        return Prediction(f_train, f0_test + KU @ (g * self._c))


#: LAPACK driver of the predictor's eigendecomposition (see benchmarks/bench_ntk.py).
_EIGH_DRIVER = "evd"
#: Tile of the symmetry check: two tiles of doubles stay in cache.
_TILE = 256


def _is_symmetric(K: np.ndarray, rtol: float, atol: float) -> bool:
    """``np.allclose(K, K.T, rtol=rtol, atol=atol)`` for a finite square K, tile by tile.

    allclose asks |K_ij - K_ji| <= atol + rtol |K_ji| at (i, j) and at (j, i), that is
    |K_ij - K_ji| <= atol + rtol min(|K_ij|, |K_ji|) (rounding is monotone, so the two agree
    exactly); checked once per pair, on the upper triangle's tiles, without the n x n
    temporaries and the strided pass over K.T of the direct call.
    """
    n = K.shape[0]
    for i in range(0, n, _TILE):
        for j in range(i, n, _TILE):
            a, b = K[i:i + _TILE, j:j + _TILE], K[j:j + _TILE, i:i + _TILE].T
            limit = np.minimum(np.abs(a), np.abs(b))
            limit *= rtol
            limit += atol
            if not np.all(np.abs(a - b) <= limit):
                return False
    return True


def predict_fn(K, y, f0, *, alpha: float | None = None, K_test=None, f0_test=None) -> PredictFn:
    """Factor a kernel once; return a cheap function of time giving the GD predictions.

    Parameters
    ----------
    K : array_like, shape (n, n)
        Raw kernel matrix (e.g. J J^T), symmetric PSD; K_n = K / n is used.
    y : array_like, shape (n,)
        Training targets.
    f0 : array_like, shape (n,)
        The pretrained predictor on the training inputs (the start).
    alpha : float, optional
        Step; 1 / lam_1(K_n) by default.
    K_test : array_like, shape (n_test, n), optional
        Raw cross kernel K(X_test, X).
    f0_test : array_like, shape (n_test,), optional
        The pretrained predictor on the test inputs (zeros when omitted).

    Returns
    -------
    PredictFn
        ``predict(t) -> Prediction(train, test)`` with
        f_t(X) = y - U s(t) U^T (y - f0) and
        f_t(x) = f0(x) + (1/n) K(x, X) U [(1 - s(t)) / lam] U^T (y - f0).

    Examples
    --------
    >>> predict = predict_fn(np.eye(3) * 3, np.ones(3), np.zeros(3))
    >>> predict(1).train.tolist()
    [1.0, 1.0, 1.0]
    """
    K = check_array("K", K, ndim=2)
    n = K.shape[0]
    if K.shape != (n, n):
        raise ValueError(f"K must be square; got shape {K.shape}")
    if not _is_symmetric(K, 1e-10, 1e-12 * max(max(K.max(), -K.min()), 1e-300)):
        raise ValueError("K must be symmetric")
    y = check_array("y", y, shape=(n,))
    f0 = check_array("f0", f0, shape=(n,))
    if K_test is not None:
        K_test = check_array("K_test", K_test, ndim=2)
        if K_test.shape[1] != n:
            raise ValueError(f"K_test must have {n} columns (one per training input); "
                             f"got shape {K_test.shape}")
        f0_test = (np.zeros(K_test.shape[0]) if f0_test is None
                   else check_array("f0_test", f0_test, shape=(K_test.shape[0],)))
    return PredictFn(K, y, f0, alpha, K_test, f0_test)


# ---------------------------------------------------------------------------- stopping


@dataclass(frozen=True)
class StoppingTime:
    """The data-driven stopping rule's output.

    Attributes
    ----------
    t_hat : float
        Steps to run (an integer; ``inf`` when the rule never fires, e.g. sigma = 0).
    eps_hat : float
        The critical radius: smallest eps with R_hat(eps) <= R eps^2 / (2 e sigma).
    bound : float
        The risk bound 12 R^2 eps_hat^2 (RWY Theorem 1, rescaled by R).
    """

    t_hat: float
    eps_hat: float
    bound: float


class _SortedSpectrum:
    """sum_i min(lam_i, c) in O(log n) from sorted eigenvalues and prefix sums."""

    def __init__(self, lam):
        self.asc = np.sort(lam)
        self.prefix = np.concatenate([[0.0], np.cumsum(self.asc)])
        self.n = lam.size

    def sum_min(self, c: float) -> float:
        k = int(np.searchsorted(self.asc, c, side="right"))  # entries <= c
        return float(self.prefix[k] + c * (self.n - k))


def stopping_time(lam, R: float, sigma: float, *, alpha: float | None = None) -> StoppingTime:
    """Sun & Raskutti's stopping time: the RWY rule for a residual of RKHS radius R.

    .. math::
        \\hat T = \\min\\{t \\ge 1 : \\textstyle\\sum_i \\min(\\lambda_i, 1/(\\alpha t))
                  > n R^2 / (4 e^2 \\sigma^2 \\alpha^2 t^2)\\} - 1

    (equivalently R_hat(1/sqrt(eta_t)) > R / (2 e sigma eta_t) with eta_t = alpha t, and
    T_hat = ceil(1 / (alpha eps_hat^2)) - 1).

    Parameters
    ----------
    lam : array_like, shape (n,)
        Eigenvalues of K_n (>= 0).
    R : float
        RKHS distance of the pretrained start from the target, in [0, 1e100]; R = 0 gives 0.
    sigma : float
        Noise level, in [0, 1e100]; sigma = 0 gives inf (never stop).
    alpha : float, optional
        Step size; 1/lam_1 by default, as everywhere in this module (:func:`step_size`).
        T_hat counts steps of this size: the rule depends on alpha t only.

    Returns
    -------
    StoppingTime

    References
    ----------
    Raskutti, Wainwright & Yu, JMLR 2014, eq. (7) and Theorem 1; Sun & Raskutti,
    arXiv:2602.13942 (non-random initialization through R), whose earlier code uses this
    squared form (reference/ntk.md section 4).

    Examples
    --------
    >>> st = stopping_time(spectrum("polynomial", 1000), R=1.0, sigma=0.5)
    >>> st.t_hat == math.ceil(1 / st.eps_hat**2) - 1
    True
    """
    lam = _check_lam(lam)
    R = check_real("R", R, 0.0, 1e100)
    sigma = check_real("sigma", sigma, 0.0, 1e100)
    # any step is allowed: the rule is in alpha t (no warning above 1/lam_1, unlike the GD paths)
    alpha = (1.0 / float(lam.max()) if alpha is None
             else check_real("alpha", alpha, 0.0, lo_open=True))
    n = lam.size
    if R == 0:
        return StoppingTime(0.0, math.inf, 0.0)
    if sigma == 0:
        return StoppingTime(math.inf, 0.0, 0.0)
    spec = _SortedSpectrum(lam)
    # Both rules compare in logs, so no extreme R, sigma or alpha overflows or divides by 0.
    log_n, log_a = math.log(n), math.log(alpha)
    log_scale = math.log(R) - math.log(2 * _E * sigma)          # log(R / (2 e sigma))

    def log_sum_min(log_c: float) -> float:
        return math.log(spec.sum_min(math.exp(min(log_c, 700.0))))

    # eps_hat: R_hat(eps) <= R eps^2 / (2 e sigma)  <=>  sum min(lam, eps^2) <= n k' eps^4
    def excess(log_eps):
        return log_sum_min(2 * log_eps) - log_n - 2 * (log_scale + 2 * log_eps)

    lo, hi = -60.0, 60.0  # excess(lo) > 0 (tiny eps), excess(hi) <= 0 (huge eps)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if excess(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    eps_hat = math.exp(hi)

    # T_hat from the same rule in t: sum min(lam, 1/(alpha t)) > n k / (alpha t)^2, with
    # k = (R / (2 e sigma))^2; the integer search cross-checks the eps identity.
    def fires(t: float) -> bool:
        log_at = log_a + math.log(t)
        return log_sum_min(-log_at) > log_n + 2 * log_scale - 2 * log_at

    bound = 12 * R * R * eps_hat**2
    if fires(1.0):
        t_hat = 0.0
    else:
        lo_t, hi_t = 1.0, 2.0
        while not fires(hi_t):
            lo_t, hi_t = hi_t, hi_t * 2
            if hi_t > 1e18:
                return StoppingTime(math.inf, eps_hat, bound)
        while hi_t - lo_t > 1:
            mid = math.floor((lo_t + hi_t) / 2)
            if fires(mid):
                hi_t = mid
            else:
                lo_t = mid
        t_hat = hi_t - 1
    return StoppingTime(float(t_hat), eps_hat, bound)


def oracle_time(lam, coef, sigma: float, *, alpha: float | None = None) -> int:
    """The whole number of steps minimising the expected risk (the oracle stopping time).

    Defined for every step size. A geometric grid over [0, 10^12] brackets the minimum, then a
    ternary search over whole steps refines it. For alpha <= 1/lam_1 the risk is unimodal in
    t. For 1/lam_1 < alpha the modes with alpha lam_i > 1 flip sign every step, so the risk
    differs between even and odd t: the search runs over each parity and the better one wins.
    For alpha > 2/lam_1 those modes grow without bound and so does the risk (unless their
    coefficients and sigma vanish); the oracle is then the best step before it blows up, often
    0. Risks that overflow count as +inf.

    Parameters
    ----------
    lam : array_like, shape (n,)
        Eigenvalues of K_n (>= 0).
    coef : array_like, shape (n,)
        Residual coefficients (see :func:`risk_curve`).
    sigma : float
        Noise standard deviation (>= 0).
    alpha : float, optional
        Step size, 1/lam_1 by default; above 1/lam_1 a RuntimeWarning (as in
        :func:`risk_curve`), and the result is still the argmin described above.

    Returns
    -------
    int
        A minimising number of steps in [0, 10^12].

    Examples
    --------
    >>> lam = spectrum("polynomial", 200)
    >>> coef = target_coefficients(lam, R=1.0, rng=0)
    >>> t = oracle_time(lam, coef, 0.5)
    >>> risk = risk_curve(lam, coef, 0.5, np.arange(4 * t + 1)).risk
    >>> int(np.argmin(risk)) == t
    True
    """
    lam = _check_lam(lam)
    coef = _check_coef(coef, lam.size)
    alpha = _check_alpha(alpha, lam)
    sigma = check_real("sigma", sigma, 0.0)
    return _OracleSearch(lam, alpha)(coef, sigma)


class _OracleSearch:
    """:func:`oracle_time`'s search for one spectrum and step, its grids' factors kept.

    A geometric grid brackets the minimum (per parity when the top modes oscillate), then a
    ternary search over whole steps refines it. The grid risks come from a
    :class:`_Shrinkage` (the same values as direct evaluation), so a second call with other
    coefficients or noise skips the grid's exponentials.
    """

    def __init__(self, lam, alpha):
        self.lam, self.alpha = lam, alpha
        base = np.unique(np.r_[0, np.round(np.geomspace(1, 1e12, 400))])
        oscillating = alpha * float(lam.max()) > 1.0
        self.grids = []
        for parity in ((0, 1) if oscillating else (None,)):
            # Along one parity every s_i keeps its sign, so the sign flips drop out and the
            # risk is treated as unimodal there, as it is for alpha <= 1/lam_1.
            grid = base if parity is None else np.unique(2 * np.floor((base - parity) / 2)
                                                         + parity)
            grid = grid[grid >= 0]
            self.grids.append((parity, grid, _Shrinkage(lam, alpha, grid)))

    def __call__(self, coef, sigma) -> int:
        lam, alpha = self.lam, self.alpha

        def risk(t):
            r = _risk_parts(lam, coef, sigma, np.asarray(t, dtype=float), alpha).risk
            return np.where(np.isfinite(r), r, np.inf)

        best_t, best_r = 0, math.inf
        for parity, grid, shrinkage in self.grids:
            values = shrinkage.parts(coef, sigma).risk
            j = int(np.argmin(np.where(np.isfinite(values), values, np.inf)))
            lo, hi = int(grid[max(j - 1, 0)]), int(grid[min(j + 1, grid.size - 1)])
            t = _unimodal_argmin(risk, lo, hi, parity)
            r = float(risk([t])[0])
            if r < best_r or (r == best_r and t < best_t):
                best_t, best_r = t, r
        return best_t


def _unimodal_argmin(risk, lo: int, hi: int, parity: int | None) -> int:
    """Whole-step argmin of a unimodal risk over t in [lo, hi], or over t = lo, lo + 2, ...
    when ``parity`` is given (lo and hi then have that parity)."""
    step = 1 if parity is None else 2
    k_lo, k_hi = 0, (hi - lo) // step           # search over t = lo + k step
    while k_hi - k_lo > 64:
        a, b = k_lo + (k_hi - k_lo) // 3, k_hi - (k_hi - k_lo) // 3
        ra, rb = risk(np.array([lo + a * step, lo + b * step], dtype=float))
        if ra <= rb:
            k_hi = b
        else:
            k_lo = a
    ts = lo + step * np.arange(k_lo, k_hi + 1)
    return int(ts[int(np.argmin(risk(ts)))])


@dataclass(frozen=True)
class KRR:
    """Kernel ridge regression at its best penalty, and the GD time it corresponds to."""

    lam_reg: float
    t_equivalent: float
    risk: float


def krr_risk(lam, coef, sigma: float, lam_reg) -> np.ndarray:
    """Expected KRR risk with filter h_i = lam_i / (lam_i + lam_reg), vectorised over lam_reg."""
    lam = _check_lam(lam)
    coef = _check_coef(coef, lam.size)
    sigma = check_real("sigma", sigma, 0.0)
    return _krr_risk(lam, coef, sigma, lam_reg)


def _krr_risk(lam, coef, sigma, lam_reg) -> np.ndarray:
    """krr_risk without validation."""
    reg = np.asarray(lam_reg, dtype=float)[..., None]
    h = lam / (lam + reg)
    return np.sum((1 - h) ** 2 * coef**2, axis=-1) + sigma**2 / lam.size * np.sum(h * h, axis=-1)


def krr_equivalent(lam, coef, sigma: float, *, alpha: float | None = None) -> KRR:
    """Best KRR penalty and its GD-time equivalent t = 1 / (alpha lam_reg) (RWY: lam ~ 1/eta)."""
    lam = _check_lam(lam)
    coef = _check_coef(coef, lam.size)
    alpha = _check_alpha(alpha, lam)
    sigma = check_real("sigma", sigma, 0.0)
    return _KRRSearch(lam)(coef, sigma, alpha)


class _KRRSearch:
    """:func:`krr_equivalent` for one spectrum, the filter terms of its penalty grid kept.

    The grid risks are the same floating-point operations as :func:`krr_risk` (bitwise the
    same values); a bounded scalar search then refines the best grid penalty.
    """

    def __init__(self, lam):
        self.lam = lam
        self.grid = np.geomspace(1e-14, 1e2, 321) * lam.max()
        h = lam / (lam + self.grid[:, None])
        self.miss = (1 - h) ** 2
        self.hh = np.sum(h * h, axis=-1)

    def __call__(self, coef, sigma, alpha) -> KRR:
        lam, grid = self.lam, self.grid
        values = _row_sums(self.miss, coef**2) + sigma**2 / lam.size * self.hh
        j = int(np.argmin(values))
        lo, hi = np.log(grid[max(j - 1, 0)]), np.log(grid[min(j + 1, grid.size - 1)])
        res = minimize_scalar(lambda z: float(_krr_risk(lam, coef, sigma, math.exp(z))),
                              bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
        best = math.exp(res.x)
        return KRR(best, 1.0 / (alpha * best), float(res.fun))


# ---------------------------------------------------------------------------- rates in n


def theoretical_slopes(kind: str, *, beta: float = 2.0, r: float = 0.5) -> dict[str, float]:
    """Log-log slopes in n predicted by the theory (reference/ntk.md section 4).

    Polynomial spectra: oracle risk -2 r beta/(2 r beta + 1), oracle time beta/(2 r beta + 1),
    T_hat beta/(beta + 1), risk at T_hat at most -beta/(beta + 1). Exponential and finite-rank
    spectra: risk ~ 1/n (times log n for the exponential), T_hat ~ n (over log n).
    """
    kind = check_option("kind", kind, KINDS)
    if kind in ("polynomial", "spiked"):
        return {"risk_oracle": -2 * r * beta / (2 * r * beta + 1),
                "t_oracle": beta / (2 * r * beta + 1),
                "t_hat": beta / (beta + 1), "risk_hat": -beta / (beta + 1)}
    return {"risk_oracle": -1.0, "t_hat": 1.0, "risk_hat": -1.0, "t_oracle": float("nan")}


@dataclass(frozen=True)
class RateSweep:
    """Risk at T_hat and at the oracle time for each n, with fitted and theoretical slopes."""

    n: np.ndarray
    t_hat: np.ndarray
    risk_hat: np.ndarray
    t_oracle: np.ndarray
    risk_oracle: np.ndarray
    bound: np.ndarray
    slopes: dict
    theory: dict


def _rate_job(job: dict, rng: np.random.Generator) -> tuple:
    """Sweep worker: one sample size (importable, so cluster workers can run it)."""
    n = job["n"]
    lam = spectrum(job["kind"], n, **job["params"])
    coef = job["coef"][:n]  # the same target, truncated: fixed constant, not renormalised
    alpha = step_size(lam)
    # The rule uses the radius R of the ball the target lies in, known a priori (not its
    # truncated norm on n points, which creeps up with n when r = 1/2).
    st = stopping_time(lam, job["R"], job["sigma"], alpha=alpha)
    t_hat = st.t_hat if math.isfinite(st.t_hat) else 1e15
    risk_hat = float(risk_curve(lam, coef, job["sigma"], t_hat, alpha=alpha)[2])
    t_or = oracle_time(lam, coef, job["sigma"], alpha=alpha)
    risk_or = float(risk_curve(lam, coef, job["sigma"], t_or, alpha=alpha)[2])
    return t_hat, risk_hat, float(t_or), risk_or, st.bound


def _slope(x, y) -> float:
    ok = (np.asarray(x) > 0) & (np.asarray(y) > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(np.asarray(x)[ok]), np.log(np.asarray(y)[ok]), 1)[0])


def rate_sweep(n_values, *, kind: str = "polynomial", r: float = 0.5, R: float = 1.0,
               sigma: float = 1.0, eps: float = 0.1, rng=None, executor=None,
               on_progress=None, cancel=None, **spectrum_params) -> RateSweep:
    """Risk at the data-driven T_hat and at the oracle time as n grows, with log-log slopes.

    The target is fixed across n (coefficients drawn once at the largest n with source
    condition ``r`` and RKHS radius ``R``, then truncated), as for a fixed function observed
    with more samples. Each n is a job of :func:`explorer.sweep.run_sweep`, so an ``executor``
    (a process pool, a dask client's executor) spreads the sweep.

    Returns
    -------
    RateSweep
        Arrays over n, fitted slopes (``slopes``) and :func:`theoretical_slopes` (``theory``).
    """
    if not np.iterable(n_values) or isinstance(n_values, str):
        raise ValueError(f"n_values must be a sequence of sizes n >= 2; got {n_values!r:.40}")
    ns = np.array(sorted({check_int("n_values entries", v, 2) for v in n_values}))
    if ns.size < 2:
        raise ValueError(f"n_values must hold at least two sizes; got {ns.size}")
    kind = check_option("kind", kind, KINDS)
    sigma = check_real("sigma", sigma, 0.0, lo_open=True)
    rng = as_rng(rng)
    lam_max = spectrum(kind, int(ns[-1]), **spectrum_params)
    coef = target_coefficients(lam_max, r=r, R=R, eps=eps, rng=rng)
    jobs = [dict(n=int(n), kind=kind, params=spectrum_params, coef=coef, sigma=sigma, R=R)
            for n in ns]
    res = run_sweep(_rate_job, jobs, executor=executor, on_progress=on_progress,
                    cancel=cancel, seed=0)
    done = np.array(res.indices, dtype=int)
    cols = np.array(res.results, dtype=float).reshape(-1, 5)
    t_hat, risk_hat, t_or, risk_or, bound = cols.T
    n_done = ns[done]
    slopes = {"t_hat": _slope(n_done, t_hat), "risk_hat": _slope(n_done, risk_hat),
              "t_oracle": _slope(n_done, t_or), "risk_oracle": _slope(n_done, risk_or)}
    theory = theoretical_slopes(kind, beta=spectrum_params.get("beta", 2.0), r=r)
    return RateSweep(n_done, t_hat, risk_hat, t_or, risk_or, bound, slopes, theory)
