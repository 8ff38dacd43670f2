"""Slices of the MMD^2 landscape through a starting point, and the model's low-order statistics.

The phases are linear in theta, Phi(theta0 + u d1 + v d2) = Phi(theta0) + u Phi(d1) + v Phi(d2),
so a whole 1-D or 2-D slice costs three phase computations plus one cosine pass per grid point;
the random draws are shared by every point (common random numbers), so an estimated slice is a
smooth function (reference/iqp.md section 11). For n <= 20 the slice can be exact instead.
"""

from __future__ import annotations

import numpy as np

from .._common import as_rng, check_array, check_int, check_option, check_real
from ._circuit import (
    EXACT_MAX_N,
    GateSet,
    _born_probabilities,
    _check_theta,
    _phase_exponent,
    exact_expval,
)
from ._mmd import (
    SINGLE_TRIG_ABOVE,
    _check_data,
    _cos_sin,
    _data_correlators,
    _draw,
    _kernel_quadratic,
    _moments,
    empirical_distribution,
    unbiased_shift,
)
from ._phases import phase_model

__all__ = ["loss_slice", "low_order_statistics"]

#: Amplitudes per block of an exact slice (2^14, 256 KiB for the real and imaginary parts:
#: each product of the batched transform stays in cache; measured fastest of 2^14-2^18 at n = 10).
EXACT_BLOCK = 2**14


def loss_slice(theta0, directions, coords, gates, data, sigma: float, *, exact: bool | None = None,
               n_ops: int = 500, n_samples: int = 500, rng=None,
               precision: str = "auto") -> np.ndarray:
    """MMD^2 on a grid theta0 + sum_k c_k d_k, exactly or with common random numbers.

    Parameters
    ----------
    theta0 : array_like, shape (m,)
    directions : array_like, shape (D, m)
        One or two directions (D = 1 or 2).
    coords : array_like, shape (P, D)
        Grid points, one row per point.
    gates, data, sigma
        As in :func:`mmd2`.
    exact : bool, optional
        Exact MMD^2 (n <= 20); default: exact when n <= 12. Both paths give the same
        quantity, the MMD^2 with the data-data term over distinct samples
        (``mmd2_exact(..., unbiased=True)``), which the estimator estimates without bias, so
        the slices agree across the switch up to sampling noise.
    n_ops, n_samples, rng
        Draws of the estimator, shared by all grid points.
    precision : {"auto", "double", "single"}
        Precision of the estimated slice's cosines, as in :func:`mmd2` (each within
        ``SINGLE_TRIG_ERROR`` of double in single); "auto" takes single when the slice's
        cosines, points x n_ops x n_samples, reach ``SINGLE_TRIG_ABOVE``.

    Returns
    -------
    ndarray, shape (P,)
    """
    data = _check_data(data)
    M, n = data.shape
    gs = GateSet(gates, n)
    theta0 = _check_theta(theta0, gs.m)
    D = check_array("directions", directions, ndim=(1, 2))
    D = np.atleast_2d(D)
    if D.shape[1] != gs.m or D.shape[0] not in (1, 2):
        raise ValueError(f"directions must have shape (1 or 2, {gs.m}); got {D.shape}")
    C = check_array("coords", coords, ndim=(1, 2))
    C = C.reshape(-1, D.shape[0])
    sigma = check_real("sigma", sigma, 0.0, lo_open=True)
    exact = n <= 12 if exact is None else bool(exact)
    if exact:
        if n > EXACT_MAX_N:
            raise ValueError(f"exact slices need n <= {EXACT_MAX_N}; got n = {n}")
        G = gs.dense()
        E0 = _phase_exponent(theta0, G).reshape(-1)
        Ek = np.stack([_phase_exponent(d, G).reshape(-1) for d in D])
        p_hat = empirical_distribution(data)
        shift = unbiased_shift(p_hat, M, n, sigma)
        out = np.empty(C.shape[0])
        # The grid points in blocks of EXACT_BLOCK complex numbers, each block one batched
        # transform (a loop over points costs a Python pass per point).
        rows = max(1, EXACT_BLOCK >> n)
        for i in range(0, C.shape[0], rows):
            q = _born_probabilities(E0 + C[i:i + rows] @ Ek, n)
            d = q / q.sum(axis=1, keepdims=True) - p_hat
            out[i:i + rows] = _kernel_quadratic(d, n, sigma) + shift
        return out
    L = check_int("n_ops", n_ops, 1)
    N = check_int("n_samples", n_samples, 2)
    precision = check_option("precision", precision, ("auto", "double", "single"))
    single = precision == "single" or (precision == "auto"
                                       and C.shape[0] * L * N >= SINGLE_TRIG_ABOVE)
    rng = as_rng(rng)
    ops, Z = _draw(rng, L, N, n, sigma)
    t = _data_correlators(data, ops)
    model = phase_model(gs, ops, Z)
    P0 = model.phases(theta0)
    Pk = [model.phases(d) for d in D]
    out = np.empty(C.shape[0])
    Phi, step = np.empty_like(P0), np.empty_like(P0)
    for i, c in enumerate(C):
        np.copyto(Phi, P0)
        for ck, p in zip(c, Pk, strict=True):
            Phi += np.multiply(p, ck, out=step)
        cos, _ = _cos_sin(Phi, single, need_sin=False)       # overwrites Phi
        m1, m2 = _moments(cos)
        ell = (N * m1 * m1 - m2) / (N - 1) - 2 * m1 * t + (M * t * t - 1) / (M - 1)
        out[i] = ell.mean()
    return out


def low_order_statistics(theta, gates, data) -> dict[str, np.ndarray]:
    """Model vs data: bit means and pair correlations <Z_i Z_j> (exact; n <= 20).

    Returns
    -------
    dict
        ``model_mean``, ``data_mean`` (n,); ``model_pair``, ``data_pair`` (n (n - 1) / 2,) for
        the pairs i < j in lexicographic order.
    """
    data = _check_data(data)
    n = check_int("number of bits in data", data.shape[1], 1, EXACT_MAX_N)
    eye = np.eye(n, dtype=np.uint8)
    i, j = np.triu_indices(n, 1)
    pairs = eye[i] | eye[j]
    z_single = exact_expval(theta, gates, eye)
    z_pair = exact_expval(theta, gates, pairs) if pairs.size else np.empty(0)
    spins = 1.0 - 2.0 * data
    return {
        "model_mean": (1 - z_single) / 2, "data_mean": data.mean(axis=0),
        "model_pair": z_pair, "data_pair": np.mean(spins[:, i] * spins[:, j], axis=0),
    }
