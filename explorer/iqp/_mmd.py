r"""The squared MMD loss with a Gaussian kernel: exact (n <= 20) and its unbiased estimator with
the analytic gradient from the same random draws.

On bit strings the Gaussian kernel factorises over qubits, so
:math:`k(x, y) = E_{a\sim P_\sigma}[(-1)^{a\cdot x}(-1)^{a\cdot y}]` with every bit of the
operator a drawn Bernoulli(p_sigma), :math:`p_\sigma = (1 - e^{-1/(2\sigma^2)})/2`, and

.. math:: \mathrm{MMD}^2(p, q_\theta) = E_{a\sim P_\sigma}[(\langle Z_a\rangle_\theta - t_a)^2],
          \qquad t_a = E_{x\sim p}(-1)^{a\cdot x}.

The mean operator weight is w = n p_sigma; :func:`sigma_for_mean_weight` inverts it.
References: Lerch et al., arXiv:2603.14576; Recio-Armengol & Bowles, arXiv:2501.04776 (the
estimator); reference/iqp.md section 4 (including the gradient, derived there).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from .._common import as_rng, check_array, check_int, check_option, check_real
from ._circuit import (
    EXACT_MAX_N,
    GateSet,
    _check_theta,
    _gate_signs,
    _kron_apply,
    exact_probs,
)
from ._phases import BLOCK_ENTRIES, _empty, _support, phase_model, workspace

__all__ = ["BANDWIDTHS", "SINGLE_TRIG_ABOVE", "SINGLE_TRIG_ERROR", "bandwidth",
           "empirical_distribution", "mmd2", "mmd2_exact", "operator_probability",
           "sigma_for_mean_weight"]


def sigma_for_mean_weight(n: int, w: float) -> float:
    """The bandwidth sigma whose operator distribution has mean weight w: n p_sigma = w.

    sigma = [-2 ln(1 - 2 w / n)]^(-1/2), defined for 0 < w < n / 2.

    Examples
    --------
    >>> bool(np.isclose(sigma_for_mean_weight(6, 2.0), (-2 * np.log(1 / 3)) ** -0.5))
    True
    """
    n = check_int("n", n, 1)
    w = check_real("w", w, 0.0, n / 2, lo_open=True, hi_open=True)
    # log1p keeps a tiny w from rounding 1 - 2w/n to 1 (and the power from dividing by 0)
    return float((-2.0 * math.log1p(-2.0 * w / n)) ** -0.5)


BANDWIDTHS = ("mean_weight", "constant", "sigma")


def bandwidth(mode: str, n: int, *, w: float = 2.0, sigma: float | None = None,
              n_ref: int = 6) -> float:
    """The kernel bandwidth sigma at n qubits under one of the explorer's bandwidth rules.

    Parameters
    ----------
    mode : {"mean_weight", "constant", "sigma"}
        "mean_weight": the sigma whose mean operator weight is w at this n,
        ``sigma_for_mean_weight(n, min(w, n/2 - 0.01))`` (w is capped just below n/2, where
        the rule is defined, so small n still work); "constant": sigma fixed for every n at
        its mean-weight-w value at ``n_ref`` qubits, ``sigma_for_mean_weight(n_ref, w)`` (the
        paper's "constant_bandwidth", whose sweeps start at n_ref = 6); "sigma": the given
        ``sigma``.
    n : int
        Number of qubits (>= 1; the mean-weight rule needs n >= 1 with w capped below n/2).
    w : float
        Mean operator weight, in (0, n/2) after the cap ("mean_weight"), or in (0, n_ref/2)
        ("constant").
    sigma : float, optional
        The bandwidth for mode "sigma", in (0, inf); not used by the other modes.
    n_ref : int
        Reference qubit count of mode "constant" (>= 1).

    Returns
    -------
    float
        sigma > 0.

    Raises
    ------
    ValueError
        Unknown ``mode`` (the options are listed), "sigma" without a valid ``sigma``, or a
        ``w``, ``n`` or ``n_ref`` out of range.

    References
    ----------
    reference/iqp.md section 4 (the two bandwidth settings of the paper).

    Examples
    --------
    >>> bandwidth("constant", 150) == bandwidth("mean_weight", 6) == sigma_for_mean_weight(6, 2.0)
    True
    >>> bandwidth("sigma", 10, sigma=0.7)
    0.7
    """
    mode = check_option("mode", mode, BANDWIDTHS)
    n = check_int("n", n, 1)
    if mode == "sigma":
        if sigma is None:
            raise ValueError("sigma must be a number in (0, inf) when mode is 'sigma'; got None")
        return check_real("sigma", sigma, 0.0, lo_open=True)
    w = check_real("w", w, 0.0, lo_open=True)
    if mode == "constant":
        return sigma_for_mean_weight(check_int("n_ref", n_ref, 1), w)
    return sigma_for_mean_weight(n, min(w, n / 2 - 0.01))


def _inverse_two_sigma2(sigma: float) -> float:
    """1 / (2 sigma^2), inf when sigma^2 underflows (the kernel is then the identity)."""
    two_s2 = 2.0 * sigma * sigma
    return math.inf if two_s2 == 0.0 else 1.0 / two_s2


def operator_probability(sigma: float) -> float:
    """p_sigma = (1 - exp(-1 / (2 sigma^2))) / 2, the chance that an operator acts on a qubit."""
    sigma = check_real("sigma", sigma, 0.0, lo_open=True)
    return float(-np.expm1(-_inverse_two_sigma2(sigma)) / 2.0)


def _check_data(data, n: int | None = None) -> np.ndarray:
    if isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 \
            and (data.size == 0 or data.max() <= 1):
        pass      # already 0/1 bytes (what training passes at every step): one cheap pass
    else:
        data = check_array("data", data, ndim=2, lo=0, hi=1)
        if not np.all((data == 0) | (data == 1)):
            raise ValueError("data must be a 0/1 array (samples x bits)")
    if data.shape[0] < 2:
        raise ValueError(f"data must hold at least 2 samples; got {data.shape[0]}")
    if n is not None and data.shape[1] != n:
        raise ValueError(f"data must have n = {n} columns (one per qubit); got {data.shape[1]}")
    return data.astype(np.uint8, copy=False)


def empirical_distribution(data) -> np.ndarray:
    """The empirical distribution of 0/1 rows over all 2^n strings (qubit 0 most significant)."""
    data = _check_data(data)
    n = data.shape[1]
    if n > EXACT_MAX_N:
        raise ValueError(f"data must have at most {EXACT_MAX_N} bits for exact work; got {n}")
    index = data.astype(np.int64) @ (1 << np.arange(n - 1, -1, -1, dtype=np.int64))
    return np.bincount(index, minlength=2**n) / data.shape[0]


def _kernel_quadratic(d: np.ndarray, n: int, sigma: float):
    """d^T K d with K = (x) [[1, g], [g, 1]], g = exp(-1/(2 sigma^2)) (a Kronecker power).

    ``d`` of shape (2^n,) gives a float; of shape (P, 2^n), one value per row.
    """
    g = math.exp(-_inverse_two_sigma2(sigma))
    Kd = _kron_apply(d, ((1.0, g), (g, 1.0)), n)
    if d.ndim == 1:
        return float(d @ Kd)
    return np.einsum("...k,...k->...", d, Kd)


def mmd2_exact(theta, gates, data, sigma: float, *, unbiased: bool = False) -> float:
    """Exact squared MMD between the circuit's distribution and the data's (n <= 20).

    By default the V-statistic (q - p_hat)^T K (q - p_hat) with the Gaussian kernel on bit
    strings, p_hat the empirical distribution. With ``unbiased=True`` the data-data term
    p_hat^T K p_hat becomes its U-statistic (pairs of distinct samples), which is what
    :func:`mmd2` estimates without bias: the two then differ only by sampling noise. Derived
    here: with k(x, x) = 1, U = V + (p_hat^T K p_hat - 1) / (M - 1) for M samples.

    Examples
    --------
    >>> data = np.array([[0, 0], [1, 1]])
    >>> mmd2_exact([0.0, 0.0, 0.0], [(0,), (1,), (0, 1)], data, 1.0) > 0
    True
    """
    data = _check_data(data)
    n = data.shape[1]
    sigma = check_real("sigma", sigma, 0.0, lo_open=True)
    q = exact_probs(theta, gates, n)          # checks n <= 20 before 2^n memory is used
    p_hat = empirical_distribution(data)
    value = _kernel_quadratic(q - p_hat, n, sigma)
    return value + unbiased_shift(p_hat, data.shape[0], n, sigma) if unbiased else value


def unbiased_shift(p_hat: np.ndarray, M: int, n: int, sigma: float) -> float:
    """U minus V statistic of MMD^2 for data with empirical distribution ``p_hat``:
    (p_hat^T K p_hat - 1) / (M - 1) (derived here; k(x, x) = 1). Zero for M = 1."""
    if M < 2:
        return 0.0
    return (_kernel_quadratic(p_hat, n, sigma) - 1.0) / (M - 1)


def mmd2(theta, gates, data, sigma: float, *, n_ops: int, n_samples: int, rng=None,
         grad: bool = False, method: str = "auto", precision: str = "auto"):
    """Unbiased estimate of the squared MMD, and optionally its gradient from the same draws.

    Draws ``n_ops`` operators a ~ P_sigma and ``n_samples`` uniform strings z shared by them;
    with c_s = cos Phi_a(z_s), m1 = mean c, m2 = mean c^2 and t_a the data correlator,

    .. math:: \\ell_a = \\frac{N m_1^2 - m_2}{N - 1} - 2 m_1 t_a + \\frac{M t_a^2 - 1}{M - 1},

    averaged over the operators (N samples, M data points). It is unbiased for the population
    MMD^2 of the data's distribution and can be negative. Operators drawn more than once are
    evaluated once and weighted by their count (the same numbers, to round-off).

    Parameters
    ----------
    theta : array_like, shape (m,)
    gates : list of tuple of int
        Or the internal validated ``GateSet`` of them (what :func:`train` passes, so that its
        index arrays are built once, not at every step, and its scratch arrays are reused).
    data : array_like, shape (M, n)
        0/1 training samples.
    sigma : float
        Kernel bandwidth (> 0).
    n_ops, n_samples : int
        Operators and bit strings drawn.
    rng : seed or Generator
    grad : bool
        Also return the gradient with respect to theta (the exact derivative of this
        estimate with the draws held fixed).
    method : {"auto", "dense", "structured"}
        How the phases are computed (same numbers; see ``explorer.iqp._phases.phase_model``):
        "auto" takes the cheaper for the gate set and the drawn operators.
    precision : {"auto", "double", "single"}
        Precision of cos Phi, sin Phi and of what is computed from them (the gradient's
        products with R). The phases themselves are always double. "single" bounds every
        cosine and sine to within ``SINGLE_TRIG_ERROR`` of its double value (the phase is
        reduced modulo 2 pi in double first when it is large), over 200 times below the
        estimator's own sampling error 1/sqrt(n_samples) at any n_samples <= 10^6; it is
        about ten times faster. "auto": single when ``n_ops * n_samples >=
        SINGLE_TRIG_ABOVE``, double below (where the cosines are cheap anyway), so small
        estimates stay exactly differentiable by finite differences.

    Returns
    -------
    float, or (float, ndarray of shape (m,)) when ``grad``

    References
    ----------
    Recio-Armengol & Bowles, arXiv:2501.04776 (iqpopt's ``mmd_loss_iqp``); the gradient
    R_as = (-2/N)[(2N m1_a/(N-1) - 2 t_a)/L sin Phi_as - sin 2 Phi_as / ((N-1) L)],
    dL/dtheta_k = sum_a S_ak (R Sigma)_ak is derived in reference/iqp.md section 4.
    """
    data = _check_data(data)
    M, n = data.shape
    gs = _gate_set(gates, n)
    theta = _check_theta(theta, gs.m)
    sigma = check_real("sigma", sigma, 0.0, lo_open=True)
    L = check_int("n_ops", n_ops, 1, 10_000_000)
    N = check_int("n_samples", n_samples, 2, 10_000_000)
    rng = as_rng(rng)
    method = check_option("method", method, ("auto", "dense", "structured"))
    precision = check_option("precision", precision, ("auto", "double", "single"))
    if method == "structured" and gs.max_weight > 2:
        raise ValueError("method 'structured' needs gates of at most two qubits")
    single = precision == "single" or (precision == "auto" and L * N >= SINGLE_TRIG_ABOVE)
    # the gate set's scratch arrays: train passes one GateSet for every step
    with workspace(gs).hold() as ws:
        return _estimate(theta, gs, data, sigma, L, N, rng, grad, method, single, ws)


def _estimate(theta, gs, data, sigma, L, N, rng, grad, method, single, ws):
    """mmd2 on validated arguments, its large temporaries from the workspace ``ws``."""
    M, n = data.shape
    ops, Z = _draw(rng, L, N, n, sigma, ws)
    # Equal operators have equal phases, moments, loss terms and rows of R: each distinct
    # one is computed once and weighted by its count (at mean weight 2 about half the draws
    # repeat one another: weight 0 and 1 have only 1 + n values).
    ops, count = _distinct_rows(ops)
    L_u = ops.shape[0]
    support = _support(ops)
    t = _data_correlators(data, ops, support)
    model = phase_model(gs, ops, Z, method, support, ws)
    model.set_theta(theta)
    m1, m2 = np.empty(L_u), np.empty(L_u)
    dt = np.float32 if single else np.float64
    R = _empty(ws, "R", (L_u, N), dt) if grad else None
    v = 2.0 / (N * (N - 1) * L)
    # Operators in blocks of about BLOCK_ENTRIES phases: every step from the phases to the
    # loss weights R is row by row, and buffers reused by every block stay in cache and
    # spare the page faults of fresh (L x N) temporaries (several ms at L = N = 1000).
    step = min(L_u, max(1, BLOCK_ENTRIES // N))
    buffers = (_empty(ws, "Phi", (step, N)), _empty(ws, "cos", (step, N), dt),
               _empty(ws, "sin", (step, N), dt))
    for a0 in range(0, L_u, step):
        a1 = min(L_u, a0 + step)
        Phi, cb, sb = (b[:a1 - a0] for b in buffers)
        c, sin = _cos_sin(model.rows(a0, a1, out=Phi), single, need_sin=grad, out=(cb, sb))
        m1[a0:a1], m2[a0:a1] = _moments(c)
        if grad:
            # dL/dPhi_as = sin Phi_as (u_a + v cos Phi_as), from sin 2Phi = 2 sin Phi cos Phi;
            # R holds it divided by v (two passes instead of three), v goes on the gradient
            u_v = -(2 * N * m1[a0:a1] / (N - 1) - 2 * t[a0:a1]) * (N - 1) / 2
            c += u_v.astype(dt)[:, None]
            np.multiply(c, sin, out=R[a0:a1])
    ell = (N * m1 * m1 - m2) / (N - 1) - 2 * m1 * t + (M * t * t - 1) / (M - 1)
    value = float(count @ ell) / L
    if not grad:
        return value
    g = model.grad(R, count)
    g *= v
    return value, g


def _draw(rng: np.random.Generator, L: int, N: int, n: int, sigma: float, ws=None):
    """The estimator's draws: L operators a ~ P_sigma (0/1 rows), then N uniform bit strings.

    The same numbers as ``rng.random((L, n)) < p`` followed by ``rng.integers(0, 2, (N, n),
    dtype=np.uint8)`` (benchmarks/report.py repeats those calls for its peers); the
    uniforms come a block of rows at a time into one cache-sized buffer instead of an
    L x n double array (8 MB at n = 1000, whose fresh pages cost more than the compares).
    """
    p = operator_probability(sigma)
    ops = np.empty((L, n), np.uint8)
    step = min(L, max(1, BLOCK_ENTRIES // n))
    u = _empty(ws, "uniforms", (step, n))
    for a0 in range(0, L, step):
        a1 = min(L, a0 + step)
        rng.random(out=u[:a1 - a0])
        np.less(u[:a1 - a0], p, out=ops[a0:a1].view(np.bool_))
    return ops, rng.integers(0, 2, size=(N, n), dtype=np.uint8)


#: n_ops * n_samples from which ``precision="auto"`` takes single-precision cosines and sines.
SINGLE_TRIG_ABOVE = 2**17

#: Phases larger than this in magnitude are reduced modulo 2 pi (in double) before rounding.
_REDUCE_ABOVE = 64.0

#: Largest |error| of a single-precision cosine or sine from :func:`_cos_sin`:
#: _REDUCE_ABOVE * 2^-24 = 3.8e-6 from rounding a phase to single, plus a few units in the
#: last place of numpy's single-precision functions (~2e-7); the tests measure it.
SINGLE_TRIG_ERROR = 4.2e-6


def _cos_sin(Phi: np.ndarray, single: bool, need_sin: bool = True, out=None):
    """cos Phi and (if asked) sin Phi, in double or in single precision (overwrites Phi).

    Single precision keeps the absolute error below ``SINGLE_TRIG_ERROR``: rounding a phase
    to single loses |Phi| 2^-24, so phases beyond ``_REDUCE_ABOVE`` are first brought into
    [-pi, pi] in double (derived here; three extra passes, only when needed); whether any is
    that large is read from the single copy (half the bytes of the double; rounding cannot
    move a phase across the threshold by much).
    ``out``: two arrays of Phi's shape in the result's precision to write cos and sin to.
    """
    dt = np.float32 if single else np.float64
    c, s = out if out is not None else (np.empty(Phi.shape, dt), np.empty(Phi.shape, dt))
    if single:
        np.copyto(c, Phi, casting="same_kind")
        if c.size and max(c.max(), -c.min()) > _REDUCE_ABOVE:
            # the turns, rounded in double, land in c (integers, exact in single below
            # 2^24): no fresh temporary, whose page faults cost more than these passes
            Phi *= 1.0 / (2.0 * math.pi)
            np.rint(Phi, out=c)
            Phi -= c
            Phi *= 2.0 * math.pi
            np.copyto(c, Phi, casting="same_kind")
        Phi = c
    if need_sin:
        np.sin(Phi, out=s)
    return np.cos(Phi, out=c), (s if need_sin else None)


def _moments(c: np.ndarray):
    """Row means of c and of c^2, accumulated in double whatever c's precision."""
    N = c.shape[1]
    if c.dtype == np.float64:
        return c.mean(axis=1), np.einsum("as,as->a", c, c) / N
    # single: numpy's pairwise sums keep the relative error near 1e-7 (log2 N roundings)
    return (c.sum(axis=1).astype(np.float64) / N,
            np.einsum("as,as->a", c, c).astype(np.float64) / N)


def _distinct_rows(ops: np.ndarray):
    """The distinct rows of a 0/1 matrix (in an order of their own) and how often each occurs.

    Rows are compared as packed bytes (n / 8 per row), one sort of L short keys.
    """
    packed = np.packbits(ops, axis=1)
    keys = packed.view(np.dtype((np.void, packed.shape[1])))[:, 0]
    _, first, count = np.unique(keys, return_index=True, return_counts=True)
    return ops[first], count.astype(np.float64)


def _data_correlators(data: np.ndarray, ops: np.ndarray, support=None) -> np.ndarray:
    """t_a = mean over the data rows x of (-1)^{a.x}, one per operator (row of ``ops``).

    The parity of a.x, a count of shared ones, is all that matters, so a sparse product over
    the operators' supports may count in uint8: wrapping modulo 256 keeps the parity. That
    costs |a| per (operator, data row); one dense product (n per pair, at BLAS speed, plus
    a floating-point remainder) is cheaper when the operators are heavy.
    """
    (L, n), M = ops.shape, data.shape[0]
    rows, cols = _support(ops) if support is None else support
    if rows.size * M > 0.05 * L * n * M + 10.0 * L * M:
        return _gate_signs(data, ops).mean(axis=0)
    A = sp.csr_array((np.ones(rows.size, np.uint8), cols, np.searchsorted(rows, np.arange(L + 1))),
                     shape=(L, n))                   # rows are sorted: CSR directly
    counts = A @ np.ascontiguousarray(data.T, dtype=np.uint8)   # (L, M), modulo 256
    counts &= 1
    return 1.0 - 2.0 * counts.sum(axis=1, dtype=np.int32) / M


def _gate_set(gates, n: int) -> GateSet:
    """``gates`` validated for n qubits; a ``GateSet`` (as :func:`train` passes, built once
    for thousands of steps) is taken as it is."""
    if isinstance(gates, GateSet):
        if gates.n != n:
            raise ValueError(f"gates must act on n = {n} qubits (the data's columns); "
                             f"got a gate set on {gates.n}")
        return gates
    return GateSet(gates, n)
