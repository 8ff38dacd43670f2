r"""Phases Phi_a(z) = 2 sum_{j in S_a} theta_j s_j(z) for many operators and samples, and the
gradient of sum_{a,s} R_as Phi_as, by two interchangeable methods chosen by cost.

*dense*: S (operators x gates) and Sigma (samples x gates) as matrices, Phi = 2 (S o theta)
Sigma^T: two (L x m) x (m x N) products for the value and the gradient, whatever the gates.

*structured* (gates of at most two qubits): with s = (-1)^z, single angles t_i and the
symmetric matrix Theta of pair angles (zero diagonal),

.. math:: \Phi_a(z) = 2\Bigl[\sum_{i\in a} s_i\,(t_i + (\Theta s)_i)
          - 2\sum_{i<j;\ i,j\in a}\Theta_{ij}\,s_i s_j\Bigr],

so one n x n product per sample and O(|a|^2) per (operator, sample) pair replace the
(L x m x N) product; the mean operator weight is small (about 2) in the paper's setting.
The gradient has the same structure (reference/iqp.md, appendix; derived, not quoted).

``expval``, the Monte Carlo estimator of Z-correlators, is the dense phases averaged.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._common import as_rng, check_int
from ._circuit import GateSet, _anticommuting, _check_ops, _check_theta, _gate_signs

__all__ = ["SINGLE_PRECISION_ABOVE", "expval", "phase_model"]

#: Operators x gates x samples beyond which the dense products run in single precision.
SINGLE_PRECISION_ABOVE = 2e9


class _Dense:
    """Any gate set: explicit anticommutation and sign matrices."""

    def __init__(self, gs, ops, Z):
        # Past ~10^9 multiply-adds the two products dominate; single precision halves them.
        # The phase error is then about 1e-7 * sqrt(m) * max|theta| (1e-4 rad at m = 10^5),
        # orders of magnitude below the estimator's own sampling error ~ 1/sqrt(n_samples).
        size = ops.shape[0] * gs.m * Z.shape[0]
        self.dtype = dt = np.float32 if size > SINGLE_PRECISION_ABOVE else np.float64
        if gs.max_weight <= 2:
            # For one- and two-qubit gates the parities are column XORs and sign products,
            # much cheaper than the (L x n) x (n x m) products of the general case.
            first = gs.first
            other = np.where(gs.weight == 2, gs.last, -1)   # -1: a column of zeros / of ones
            ops_pad = np.concatenate([ops, np.zeros((ops.shape[0], 1), ops.dtype)], axis=1)
            self.S = (ops_pad[:, first] ^ ops_pad[:, other]).astype(dt)
            spins = np.concatenate([1 - 2 * Z.astype(np.int8),
                                    np.ones((Z.shape[0], 1), np.int8)], axis=1)
            self.Sigma = (spins[:, first] * spins[:, other]).astype(dt)
        else:
            G = gs.dense()
            self.S = _anticommuting(ops, G).astype(dt)      # (L, m)
            self.Sigma = _gate_signs(Z, G).astype(dt)       # (N, m)

    def phases(self, theta):
        St = self.S * theta.astype(self.dtype)
        return 2.0 * (St @ self.Sigma.T).astype(np.float64)

    def grad(self, R):
        """d/dtheta of sum_{a,s} R_as Phi_as."""
        RS = R.astype(self.dtype) @ self.Sigma
        return 2.0 * np.einsum("am,am->m", self.S, RS, dtype=np.float64)


class _Structured:
    """Gates of weight 1 and 2 only."""

    def __init__(self, gs, ops, Z):
        m, n = gs.m, gs.n
        self.n = n
        self.single_gate = np.flatnonzero(gs.weight == 1)
        self.single_qubit = gs.first[self.single_gate]
        self.pair_gate = np.flatnonzero(gs.weight == 2)
        self.pi, self.pj = gs.first[self.pair_gate], gs.last[self.pair_gate]
        self.m = m
        self.s = 1.0 - 2.0 * Z.astype(np.float64)            # (N, n) spins
        self.A = sp.csr_array(ops.astype(np.float64))         # (L, n) operator supports
        self.in_pa, self.in_pi, self.in_pj = _support_pairs(ops)
        self.L = ops.shape[0]
        # s_i s_j for every in-support pair, per sample: (P, N)
        self.in_ss = (self.s[:, self.in_pi] * self.s[:, self.in_pj]).T
        self.in_sel = sp.csr_array((np.ones(self.in_pa.size), (self.in_pa,
                                                                np.arange(self.in_pa.size))),
                                   shape=(self.L, self.in_pa.size))

    def _angles(self, theta):
        # Repeated generators add their angles (exp(i a Z) exp(i b Z) = exp(i (a + b) Z)):
        # bincount sums duplicates, where an indexed assignment would keep only the last.
        n = self.n
        t = np.bincount(self.single_qubit, weights=theta[self.single_gate], minlength=n)
        Theta = np.bincount(self.pi * n + self.pj, weights=theta[self.pair_gate],
                            minlength=n * n).reshape(n, n)
        return t, Theta + Theta.T

    def phases(self, theta):
        t, Theta = self._angles(theta)
        W = self.s * (t + self.s @ Theta)                     # (N, n)
        Phi = (self.A @ W.T)                                  # (L, N) linear part
        if self.in_pa.size:
            Phi -= 2.0 * (self.in_sel @ (Theta[self.in_pi, self.in_pj][:, None] * self.in_ss))
        return 2.0 * Phi

    def grad(self, R):
        C = (self.A.T @ R).T                                  # (N, n): sum_a R_as A_ai
        SC = self.s * C
        g = np.zeros(self.m)
        g[self.single_gate] = 2.0 * SC.sum(axis=0)[self.single_qubit]
        M1 = SC.T @ self.s                                    # (n, n)
        pair = 2.0 * (M1 + M1.T)
        if self.in_pa.size:
            inner = np.sum(R[self.in_pa] * self.in_ss, axis=1)    # (P,)
            Q = np.zeros((self.n, self.n))
            np.add.at(Q, (self.in_pi, self.in_pj), inner)
            pair -= 4.0 * (Q + Q.T)
        g[self.pair_gate] = pair[self.pi, self.pj]
        return g


def _support_pairs(ops: np.ndarray):
    """Every (operator, i, j) with i < j both in the operator's support, vectorised.

    Supports are laid out as a padded (L x max weight) table of qubit indices; each of the
    few (p, q) slot pairs is then one vectorised selection across all operators.
    """
    weight = ops.sum(axis=1).astype(np.int64)
    width = int(weight.max()) if weight.size else 0
    rows, cols = np.nonzero(ops)                      # row-major: sorted by row, then qubit
    slot = np.arange(rows.size) - np.searchsorted(rows, rows)
    table = np.full((ops.shape[0], max(width, 1)), -1, dtype=np.int64)
    table[rows, slot] = cols
    pa, pi, pj = [], [], []
    for p in range(width):
        for q in range(p + 1, width):
            sel = np.flatnonzero(weight > q)
            pa.append(sel)
            pi.append(table[sel, p])
            pj.append(table[sel, q])
    if not pa:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(pa), np.concatenate(pi), np.concatenate(pj)


def phase_model(gs, ops, Z, method: str = "auto"):
    """The cheaper of the two phase computations for this gate set (a ``GateSet``) and draws."""
    if method == "dense" or gs.max_weight > 2:
        return _Dense(gs, ops, Z)
    if method == "structured":
        return _Structured(gs, ops, Z)
    L, m, N = ops.shape[0], gs.m, Z.shape[0]
    w = ops.sum(axis=1).astype(np.float64)
    in_pairs = float(np.sum(w * (w - 1) / 2))
    # elementwise work on the in-support pairs against two BLAS products of size L m N
    structured_cost = 20.0 * in_pairs * N + 4.0 * N * gs.n**2
    dense_cost = 0.25 * L * m * N
    return _Structured(gs, ops, Z) if structured_cost < dense_cost else _Dense(gs, ops, Z)


def expval(theta, gates, ops, *, n_samples: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Classical Monte Carlo estimate of <Z_a> for each row of ``ops``, valid at any n.

    <Z_a> = E_z[cos Phi_a(z)] over uniform bit strings z; the estimate averages cos Phi over
    ``n_samples`` strings shared by all operators (unbiased, each term in [-1, 1]).

    Returns
    -------
    mean : ndarray, shape (L,)
    stderr : ndarray, shape (L,)
        std(cos Phi, ddof=1) / sqrt(n_samples), as iqpopt and PennyLane report it.

    References
    ----------
    Recio-Armengol & Bowles, arXiv:2501.04776 (the estimator); reference/iqp.md section 3.
    """
    ops = _check_ops(ops)
    n = ops.shape[1]
    n_samples = check_int("n_samples", n_samples, 2, 100_000_000)
    gs = GateSet(gates, n)
    theta = _check_theta(theta, gs.m)
    rng = as_rng(rng)
    Z = rng.integers(0, 2, size=(n_samples, n), dtype=np.uint8)
    c = np.cos(phase_model(gs, ops, Z, "dense").phases(theta))
    return c.mean(axis=1), c.std(axis=1, ddof=1) / np.sqrt(n_samples)
