r"""IQP circuits: gate sets, exact distributions and correlators, and parity helpers.

Circuit (Lerch et al., arXiv:2603.14576; Recio-Armengol & Bowles, arXiv:2501.04776):
:math:`U(\theta) = \prod_j \exp(i\theta_j X^{g_j}) = H^{\otimes n}\exp(i\sum_j\theta_j Z^{g_j})
H^{\otimes n}` on :math:`|0^n\rangle`, so the amplitudes are a Walsh-Hadamard transform of a
phase vector, :math:`\psi(x) = 2^{-n}\sum_z (-1)^{x\cdot z}\exp(i\sum_j\theta_j s_j(z))` with
:math:`s_j(z) = (-1)^{g_j\cdot z}`. Every Z-correlator is an average over uniform bit strings,
:math:`\langle Z_a\rangle = E_z[\cos\Phi_a(z)]` with :math:`\Phi_a(z) = 2\sum_{j\in S_a}\theta_j
s_j(z)` over the gates that anticommute with :math:`Z_a`, which is what makes classical
training possible at any n (the Monte Carlo estimator itself, ``expval``, is in ``_phases``).
Conventions: a gate set is a list of tuples of qubit indices; bit strings index qubit 0 as
the most significant bit; the sign of theta changes no probability.
Derivations: reference/iqp.md sections 2 and 3.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from .._common import check_array, check_int, check_option

__all__ = [
    "exact_expval",
    "exact_probs",
    "GATE_SETS",
    "GateSet",
    "gate_matrix",
    "gate_set",
    "local_gates",
    "nearest_neighbour_gates",
]

#: Largest n for the exact (2^n) computations.
EXACT_MAX_N = 20

#: Largest number of qubits a gate set may name (all pairs of 10^5 qubits are 5e9 gates).
MAX_QUBITS = 100_000


# ---------------------------------------------------------------------------- gate sets


def local_gates(n: int, max_weight: int = 2) -> list[tuple[int, ...]]:
    """Every generator of 1 to ``max_weight`` qubits: singles in index order, then pairs in
    lexicographic order, then larger sets (the gate set of the paper's experiments).

    Examples
    --------
    >>> local_gates(3)
    [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    """
    n = check_int("n", n, 1, 100_000)
    max_weight = check_int("max_weight", max_weight, 1, n)
    return [g for w in range(1, max_weight + 1) for g in itertools.combinations(range(n), w)]


def nearest_neighbour_gates(n: int, distance: int = 1,
                            max_weight: int = 2) -> list[tuple[int, ...]]:
    """Generators whose qubits all lie within ``distance`` of each other on a line.

    Singles, then pairs (i, j) with j - i <= distance in lexicographic order, then larger sets
    of span <= distance.

    Examples
    --------
    >>> nearest_neighbour_gates(4)
    [(0,), (1,), (2,), (3,), (0, 1), (1, 2), (2, 3)]
    """
    n = check_int("n", n, 1, 100_000)
    distance = check_int("distance", distance, 1, max(n - 1, 1))
    max_weight = check_int("max_weight", max_weight, 1, n)
    return [g for w in range(1, max_weight + 1) for g in itertools.combinations(range(n), w)
            if g[-1] - g[0] <= distance]


GATE_SETS = ("all_pairs", "nearest_neighbour")


def gate_set(kind: str, n: int) -> list[tuple[int, ...]]:
    """One of the explorer's named gate sets on n qubits (one- and two-qubit generators).

    Parameters
    ----------
    kind : {"all_pairs", "nearest_neighbour"}
        "all_pairs": :func:`local_gates` (every single and every pair, the paper's setting);
        "nearest_neighbour": :func:`nearest_neighbour_gates` (singles and pairs (i, i + 1)).
    n : int
        Number of qubits (>= 1).

    Returns
    -------
    list of tuple of int
        Singles in index order, then pairs in lexicographic order.

    Raises
    ------
    ValueError
        Unknown ``kind`` (the options are listed) or ``n`` out of range.

    Examples
    --------
    >>> gate_set("nearest_neighbour", 3)
    [(0,), (1,), (2,), (0, 1), (1, 2)]
    """
    kind = check_option("kind", kind, GATE_SETS)
    return local_gates(n) if kind == "all_pairs" else nearest_neighbour_gates(n)


class GateSet:
    """A validated gate set: each gate's weight and its lowest and highest qubit, and the dense
    0/1 generator matrix only when asked for.

    Built from one flat array of qubit indices: at n = 1000 all one- and two-qubit gates are
    half a million, so neither a Python loop per gate nor an (m x n) matrix per loss
    evaluation is affordable; one- and two-qubit gates need only (first, last).

    Attributes
    ----------
    n, m : int
        Qubits and gates.
    weight, first, last : ndarray of int, shape (m,)
        Qubits per gate, its lowest and its highest qubit.
    max_weight : int
    """

    def __init__(self, gates: Sequence[Sequence[int]], n: int):
        n = check_int("n", n, 1, MAX_QUBITS)
        if isinstance(gates, str | bytes | Mapping) or not isinstance(gates, Sequence | np.ndarray):
            raise ValueError(f"gates must be a sequence of tuples of qubits; got "
                             f"{type(gates).__name__}")
        if len(gates) == 0:
            raise ValueError("gates must hold at least one generator; got none")
        try:
            # map(len, ...) runs in C: at n = 1000 the half million gates are validated
            # in a fraction of a loss evaluation's time, a generator took longer than it
            lengths = np.fromiter(map(len, gates), dtype=np.int64, count=len(gates))
            flat = np.fromiter(itertools.chain.from_iterable(gates), dtype=np.int64,
                               count=int(lengths.sum()))
        except (TypeError, ValueError):
            bad = next((j for j, g in enumerate(gates) if not _is_qubit_tuple(g)), 0)
            raise ValueError(f"gates[{bad}] must be a non-empty tuple of qubits in "
                             f"[0, {n - 1}]; got {gates[bad]!r}") from None
        rows = np.repeat(np.arange(len(gates)), lengths)
        bad_rows = np.union1d(np.flatnonzero(lengths == 0), rows[(flat < 0) | (flat >= n)])
        if bad_rows.size:
            j = int(bad_rows[0])
            raise ValueError(f"gates[{j}] must be a non-empty tuple of qubits in [0, {n - 1}]; "
                             f"got {gates[j]!r}")
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        first = np.minimum.reduceat(flat, starts)
        last = np.maximum.reduceat(flat, starts)
        # A repeated qubit: first == last for a pair; a sort only for the (rare) larger gates.
        repeats = np.flatnonzero((lengths == 2) & (first == last))
        heavy = (lengths >= 3)[rows]
        if heavy.any():
            r, f = rows[heavy], flat[heavy]
            order = np.lexsort((f, r))
            same = (r[order][1:] == r[order][:-1]) & (f[order][1:] == f[order][:-1])
            repeats = np.union1d(repeats, r[order][1:][same])
        if repeats.size:
            j = int(repeats.min())
            raise ValueError(f"gates[{j}] repeats a qubit; got {gates[j]!r}")
        self.n, self.m = n, len(gates)
        self.weight = lengths
        self.first, self.last = first, last
        self.max_weight = int(lengths.max())
        self._rows, self._flat = rows, flat
        self._dense = None
        #: Index arrays the estimators derive from the gates, kept so that a training loop
        #: (one gate set, thousands of loss evaluations) derives them once.
        self.cache: dict = {}

    def dense(self) -> np.ndarray:
        """The 0/1 generator matrix G (m x n), built once."""
        if self._dense is None:
            G = np.zeros((self.m, self.n), dtype=np.uint8)
            G[self._rows, self._flat] = 1
            self._dense = G
        return self._dense


def gate_matrix(gates: Sequence[Sequence[int]], n: int) -> np.ndarray:
    """The 0/1 generator matrix G (m x n) of a gate set, validating every gate."""
    return GateSet(gates, n).dense()


def _is_qubit_tuple(g) -> bool:
    try:
        return len(g) > 0 and all(isinstance(q, int | np.integer) for q in g)
    except TypeError:
        return False


def _check_theta(theta, m: int) -> np.ndarray:
    theta = check_array("theta", theta, ndim=1)
    if theta.shape[0] != m:
        raise ValueError(f"theta must have one angle per gate ({m}); got {theta.shape[0]}")
    return theta


def _check_ops(ops, n: int | None = None) -> np.ndarray:
    ops = check_array("ops", ops, ndim=(1, 2), lo=0, hi=1)
    ops = np.atleast_2d(ops)
    if not np.all((ops == 0) | (ops == 1)):
        raise ValueError("ops must be a 0/1 array (one row per Z-operator)")
    if n is not None and ops.shape[1] != n:
        raise ValueError(f"ops must have n = {n} columns; got {ops.shape[1]}")
    return ops.astype(np.uint8)


# ---------------------------------------------------------------------------- exact (n <= 20)


def _parity_signs(masks: np.ndarray, bits: int) -> np.ndarray:
    """(-1)^{popcount(z & mask)} for every z in [0, 2^bits) (rows) and mask (columns)."""
    z = np.arange(2**bits, dtype=np.int64)[:, None]
    x = z & masks[None, :]
    parity = np.zeros_like(x)
    for b in range(bits):
        parity ^= (x >> b) & 1
    return (1 - 2 * parity).astype(np.float64)


def _masks(G: np.ndarray, cols: slice) -> np.ndarray:
    part = G[:, cols].astype(np.int64)
    weights = 1 << np.arange(part.shape[1] - 1, -1, -1, dtype=np.int64)
    return part @ weights


def _phase_exponent(theta: np.ndarray, G: np.ndarray) -> np.ndarray:
    """E(z) = sum_j theta_j s_j(z) on all 2^n strings, as a (2^h, 2^l) array.

    Splitting the qubits into a high and a low half factorises every sign,
    s_j(z) = s_j^high(z_h) s_j^low(z_l), so E = A diag(theta) B^T is one matrix product of
    size 2^h x m x 2^l instead of m passes over 2^n entries.
    """
    n = G.shape[1]
    h = n // 2
    A = _parity_signs(_masks(G, slice(0, h)), h)
    B = _parity_signs(_masks(G, slice(h, n)), n - h)
    return (A * theta) @ B.T


#: Bits per factor when a Kronecker power is applied: 32 x 32 blocks, products BLAS runs well.
_GROUP_BITS = 5
_HADAMARD = ((1.0, 1.0), (1.0, -1.0))


@functools.lru_cache(maxsize=64)
def _kron_power(m: tuple[tuple[float, float], tuple[float, float]], bits: int) -> np.ndarray:
    """M^(x bits) for a 2 x 2 matrix M, read-only (a few kB, built once per M and size)."""
    out = np.ones((1, 1))
    for _ in range(bits):
        out = np.kron(out, np.array(m, dtype=float))
    out.flags.writeable = False
    return out


def _kron_apply(v: np.ndarray, m: tuple[tuple[float, float], tuple[float, float]],
                n: int) -> np.ndarray:
    """(M^(x n)) v along the last axis of real v, of length 2^n (leading axes are a batch).

    M^(x n) factors into M^(x 5) blocks acting on groups of five bits, so the transform is a
    few matrix products (O(32 n/5) flops per entry, in BLAS) instead of n elementwise
    passes in numpy: 3-5x faster, measured, at 10 to 20 qubits.

    >>> _kron_apply(np.array([1.0, 0.0, 0.0, 0.0]), _HADAMARD, 2).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    v = np.ascontiguousarray(v, dtype=float)
    y = v.reshape(-1, 2**n)
    pre, post = y.shape[0], 2**n
    for start in range(0, n, _GROUP_BITS):
        bits = min(_GROUP_BITS, n - start)
        d = 2**bits
        post //= d
        block = _kron_power(m, bits)     # acts on the axis of these bits: (pre, d, post)
        y = (y.reshape(pre, d) @ block.T if post == 1
             else np.matmul(block, y.reshape(pre, d, post)))
        pre *= d
    return y.reshape(v.shape)


def _born_probabilities(E: np.ndarray, n: int) -> np.ndarray:
    """|2^-n WHT(exp(iE))|^2 along the last axis, unnormalised: the Born probabilities of
    phase exponents E (..., 2^n), computed on the real and imaginary parts (no complex
    arrays: cos and sin go straight into the two halves the transform reads)."""
    parts = np.empty((2, *E.shape))
    np.cos(E, out=parts[0])
    np.sin(E, out=parts[1])
    w = _kron_apply(parts, _HADAMARD, n)
    q = np.square(w[0], out=w[0])
    q += np.square(w[1], out=w[1])
    q /= 4.0**n
    return q


def exact_probs(theta, gates, n: int) -> np.ndarray:
    """The Born distribution q_theta over all 2^n bit strings (n <= 20), exactly.

    Parameters
    ----------
    theta : array_like, shape (m,)
        One angle per gate.
    gates : list of tuple of int
        Generators (see :func:`local_gates`).
    n : int
        Number of qubits, 1 <= n <= 20.

    Returns
    -------
    ndarray, shape (2**n,)
        q[x] with qubit 0 the most significant bit of x.

    References
    ----------
    reference/iqp.md section 9.1 (the Walsh-Hadamard form of the amplitudes).

    Examples
    --------
    >>> exact_probs([np.pi / 4], [(0,)], 1).round(12).tolist()
    [0.5, 0.5]
    """
    n = check_int("n", n, 1, EXACT_MAX_N)
    G = gate_matrix(gates, n)
    theta = _check_theta(theta, G.shape[0])
    q = _born_probabilities(_phase_exponent(theta, G).reshape(-1), n)
    return q / q.sum()  # the transform is unitary; renormalising removes round-off only


def _op_index(ops: np.ndarray) -> np.ndarray:
    n = ops.shape[1]
    return ops.astype(np.int64) @ (1 << np.arange(n - 1, -1, -1, dtype=np.int64))


def exact_expval(theta, gates, ops) -> np.ndarray:
    """Exact Z-correlators <Z_a> = sum_x q(x) (-1)^{a.x} for each row a of ``ops`` (n <= 20).

    All 2^n correlators are the Walsh-Hadamard transform of q; the requested rows are picked.

    Examples
    --------
    >>> exact_expval([0.3], [(0,)], [[1]]).round(12).tolist() == [round(np.cos(0.6), 12)]
    True
    """
    ops = _check_ops(ops)
    n = ops.shape[1]
    q = exact_probs(theta, gates, n)
    return _kron_apply(q, _HADAMARD, n)[_op_index(ops)]   # all correlators: WHT of q


# ---------------------------------------------------------------------------- estimator


def _parities(X: np.ndarray, G: np.ndarray) -> np.ndarray:
    """(X G^T) mod 2 for 0/1 matrices. Floating-point BLAS is exact for these small integer
    counts and far faster than numpy's integer matmul."""
    counts = X.astype(np.float64) @ G.T.astype(np.float64)
    return np.fmod(counts, 2.0)


def _gate_signs(Z: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Sigma[s, j] = (-1)^{g_j . z_s}."""
    return 1.0 - 2.0 * _parities(Z, G)
