"""Initialization strategies for IQP Born machines, as in the paper's code.

Lerch et al., arXiv:2603.14576 (recipes in their repository ``XanaduAI/iqp_initializations``,
``common.py``; reference/iqp.md section 5). Every strategy is a centre plus uniform noise
epsilon = pi s u, u ~ U(-1/nu, 1/nu), independently per gate, with the normalisation nu = 1
("unit"), sqrt(M) ("sqrt") or M ("linear") for M parameters:

============  ==================================  =============================================
strategy      single-qubit gate {i}               two-qubit gate {i, j}
============  ==================================  =============================================
full_range    U(-pi, pi)  (no scale, no nu)       U(-pi, pi)
identity      0 + eps                             0 + eps
unbiased      pi/4 + eps  (uniform distribution)  0 + eps
data          arcsin sqrt(mu_i) + eps             0 + eps
covariance    arcsin sqrt(mu_i)  (no noise)       c pi C_ij / max|C|, c ~ U(-s/nu, s/nu) once
                                                  per draw
============  ==================================  =============================================

mu_i is the mean of bit i in the data; C the covariance of the +-1 encoded data (ddof 1) with a
zero diagonal. Gates on three or more qubits get 0 + eps for identity and unbiased, and exactly
0 for the two data-dependent starts (as the paper's code does: no noise there). The covariance
factor c uses the same normalisation nu as the noise (reference/iqp.md section 5, corrected:
earlier versions drew c from U(-s, s) whatever nu).
"""

from __future__ import annotations

import numpy as np

from .._common import as_rng, check_option, check_real
from ._circuit import GateSet
from ._mmd import _check_data

__all__ = ["NORMALISATIONS", "STRATEGIES", "init_params"]

STRATEGIES = ("full_range", "identity", "unbiased", "data", "covariance")
NORMALISATIONS = ("unit", "sqrt", "linear")


def init_params(strategy: str, gates, *, data=None, scale: float = 1.0,
                normalisation: str = "unit", n: int | None = None, rng=None) -> np.ndarray:
    """Initial angles for a gate set by one of the paper's strategies.

    Parameters
    ----------
    strategy : {"full_range", "identity", "unbiased", "data", "covariance"}
        See the module docstring; "data" and "covariance" need ``data``.
    gates : list of tuple of int
    data : array_like, shape (M, n), optional
        0/1 training samples (their number of columns fixes n).
    scale : float
        s >= 0: the noise half-width is pi s / nu; for "covariance" the shared factor c is
        drawn from U(-s / nu, s / nu). Ignored by "full_range", which is U(-pi, pi) whatever
        the scale (as is ``normalisation``).
    normalisation : {"unit", "sqrt", "linear"}
    n : int, optional
        Number of qubits when no data is given (default: 1 + the largest qubit in ``gates``).
    rng : seed or Generator

    Returns
    -------
    ndarray, shape (m,)

    Examples
    --------
    >>> init_params("unbiased", [(0,), (1,), (0, 1)], scale=0.0).round(6).tolist()
    [0.785398, 0.785398, 0.0]
    """
    strategy = check_option("strategy", strategy, STRATEGIES)
    normalisation = check_option("normalisation", normalisation, NORMALISATIONS)
    scale = check_real("scale", scale, 0.0)
    rng = as_rng(rng)
    if data is not None:
        data = _check_data(data)
        n = data.shape[1]
    elif strategy in ("data", "covariance"):
        raise ValueError(f"strategy {strategy!r} needs data (a 0/1 array, samples x bits)")
    if n is None:
        n = 1 + max(max(g) for g in gates)
    gs = GateSet(gates, n)
    m = gs.m
    single = gs.weight == 1
    pair = gs.weight == 2
    first = gs.first

    if strategy == "full_range":
        return rng.uniform(-np.pi, np.pi, size=m)
    nu = {"unit": 1.0, "sqrt": np.sqrt(m), "linear": float(m)}[normalisation]
    noise = np.pi * scale * rng.uniform(-1.0 / nu, 1.0 / nu, size=m)
    centre = np.zeros(m)
    if strategy == "unbiased":
        centre[single] = np.pi / 4
    elif strategy in ("data", "covariance"):
        mu = data.mean(axis=0)
        centre[single] = np.arcsin(np.sqrt(mu[first[single]]))
    if strategy == "data":
        noise[gs.weight >= 3] = 0.0          # data-dependent starts leave them at 0
    if strategy != "covariance":
        return centre + noise
    pm = 2.0 * data.astype(float) - 1.0
    C = np.cov(pm, rowvar=False, ddof=1) if data.shape[0] > 1 else np.zeros((n, n))
    C = np.atleast_2d(C)
    np.fill_diagonal(C, 0.0)
    top = np.max(np.abs(C))
    c = rng.uniform(-scale / nu, scale / nu)  # one factor per draw, shared by all pairs
    if top > 0 and np.any(pair):
        centre[pair] = c * np.pi * C[gs.first[pair], gs.last[pair]] / top
    return centre
