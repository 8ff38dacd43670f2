"""Risk curves, oracle times and KRR equivalents of one spectrum and step, factored once.

In the style of neural-tangents' ``predict.gradient_descent_mse`` (and :func:`predict_fn`):
the work that depends only on the eigenvalues, the step and the times (the shrink factors
(1 - alpha lam_i)^t and their variance sums) is done once; the returned object then gives
the curves of any residual and noise level in one multiply-and-sum pass. An app moving R or
sigma pays that pass, not the exponentials.
"""

from __future__ import annotations

import numpy as np

from .._common import check_real
from ._kernel import (
    KRR,
    RiskCurve,
    _check_alpha,
    _check_coef,
    _check_lam,
    _check_times,
    _KRRSearch,
    _OracleSearch,
    _Shrinkage,
)

__all__ = ["RiskFn", "risk_fn"]


class RiskFn:
    """Expected risk of kernel gradient descent for one spectrum and step, factored once.

    Built by :func:`risk_fn`. Each method gives exactly (bitwise) what the module function
    of the same name gives for the same spectrum and step: :func:`risk_curve` on the times
    given at construction, :func:`oracle_time`, :func:`krr_equivalent`.

    Attributes
    ----------
    eigenvalues : ndarray, shape (n,)
    t : ndarray
        The times of the curves (steps).
    alpha : float
        The step size.
    """

    def __init__(self, lam: np.ndarray, t: np.ndarray, alpha: float) -> None:
        self.eigenvalues, self.t, self.alpha = lam, t, alpha
        self._curves = _Shrinkage(lam, alpha, t)
        self._oracle = _OracleSearch(lam, alpha)
        self._krr = _KRRSearch(lam)

    def _inputs(self, coef, sigma) -> tuple[np.ndarray, float]:
        return _check_coef(coef, self.eigenvalues.size), check_real("sigma", sigma, 0.0)

    def __call__(self, coef, sigma: float) -> RiskCurve:
        """``risk_curve(lam, coef, sigma, t, alpha=alpha)``: bias², variance and risk at t."""
        return self._curves.parts(*self._inputs(coef, sigma))

    def oracle_time(self, coef, sigma: float) -> int:
        """``oracle_time(lam, coef, sigma, alpha=alpha)``: the whole-step risk minimiser."""
        return self._oracle(*self._inputs(coef, sigma))

    def krr_equivalent(self, coef, sigma: float) -> KRR:
        """``krr_equivalent(lam, coef, sigma, alpha=alpha)``: the best KRR penalty."""
        return self._krr(*self._inputs(coef, sigma), self.alpha)


def risk_fn(lam, t, *, alpha: float | None = None) -> RiskFn:
    """Factor the risk of kernel gradient descent for a spectrum, times and step once.

    Parameters
    ----------
    lam : array_like, shape (n,)
        Eigenvalues of K_n (>= 0).
    t : float or array_like
        Times of the curves (whole steps when alpha > 1/lam_1).
    alpha : float, optional
        Step size; 1/lam_1 by default. Above 1/lam_1 a RuntimeWarning, as in
        :func:`risk_curve`.

    Returns
    -------
    RiskFn
        ``fn(coef, sigma)`` is ``risk_curve(lam, coef, sigma, t, alpha=alpha)``;
        ``fn.oracle_time(coef, sigma)`` and ``fn.krr_equivalent(coef, sigma)`` those of
        :func:`oracle_time` and :func:`krr_equivalent`, each the same numbers bit for bit.
        Holds about (t.size + 721) n floats.

    Raises
    ------
    ValueError
        If an input is out of range, or t is not whole steps when alpha > 1/lam_1.

    Examples
    --------
    >>> from explorer.ntk import risk_curve, spectrum, target_coefficients
    >>> lam = spectrum("polynomial", 100)
    >>> fn = risk_fn(lam, [0, 10, 100])
    >>> coef = target_coefficients(lam, R=2.0, rng=0)
    >>> bool(np.array_equal(fn(coef, 0.5).risk, risk_curve(lam, coef, 0.5, [0, 10, 100]).risk))
    True
    """
    lam = _check_lam(lam)
    alpha = _check_alpha(alpha, lam)
    t = _check_times(t)
    return RiskFn(lam, t, alpha)
