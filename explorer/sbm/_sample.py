"""Sampled graphs and mean-field updates on them: ``sample_graph``, the closed-form ELBO, the
M-step and BCAVI (batch, sequential, damped, joint). See the package docstring."""

from __future__ import annotations

import os
import threading

import numpy as np
from scipy.special import expit

from .._common import Status, Trajectory, as_rng, check_array, check_int, check_option, check_real
from ._population import _check_n, _check_pq, _entropy, _logit_coefficients


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
    Each of the three block pairs is a sequence of independent Bernoulli trials over its
    pairs in a fixed order; the gaps between successes are Geometric(prob), so their running
    sums give the edges already sorted, which is exactly the law of independent Bernoulli
    edges. In the order used (by the larger endpoint, then the smaller) the sorted edges are
    the lower triangle in CSR order, so the adjacency is assembled without any sort: the lower
    triangle's blocks as drawn, plus its transpose (a counting pass). No n x n array is ever
    formed: n = 10^6 at average degree 20 takes about a second, n = 2000 at p = 0.3 (800,000
    entries) about 12 ms.

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
    index = np.int32 if n < 2**31 else np.int64
    # The lower triangle L = [[B0, 0], [C, B1]]: each block's successes come in CSR order
    # (B0, B1 by the larger endpoint, then the smaller; C row-major), so L's arrays are the
    # drawn positions written in place, C's and B1's rows interleaved.
    k0 = _bernoulli_positions(within, p, rng)                                  # block 0
    k1 = _bernoulli_positions(within, p, rng)                                  # block 1
    kb = _bernoulli_positions(m * m, q, rng)                                   # across
    # Row i's first pair index in a block's lower triangle, and where each row's entries
    # start among the successes: one search per block, the positions stay as drawn.
    first = np.arange(m + 1, dtype=np.int64)
    first *= first - 1
    first //= 2
    ip0, ip1 = np.searchsorted(k0, first), np.searchsorted(k1, first)
    ipc = np.searchsorted(kb, np.arange(m + 1, dtype=np.int64) * m)
    # L's rows: block 0's rows as drawn; row m + r is C's row r, then block 1's row r.
    nnz = k0.size + k1.size + kb.size
    indptr = np.empty(n + 1, dtype=index)
    indptr[:m + 1] = ip0
    indptr[m + 1:] = ipc[1:] + ip1[1:] + k0.size
    cols = np.empty(nnz, dtype=index)
    cols[:k0.size] = k0 - np.repeat(first[:m], np.diff(ip0))
    rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(ipc))
    # C's entry e of row r lands after block 1's entries of the rows before r (ip1[r]).
    cols[np.arange(kb.size) + ip1[rows] + k0.size] = kb - rows * m
    rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(ip1))
    cols[np.arange(k1.size) + ipc[rows + 1] + k0.size] = k1 - first[rows] + m
    L = sp.csr_array((np.ones(nnz), cols, indptr), shape=(n, n))
    L.has_sorted_indices = True
    A = (L + L.T.tocsr()).tocsr()
    labels = np.repeat(np.array([0, 1], dtype=np.int8), m)
    return A, labels


def _bernoulli_positions(trials: int, prob: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of the successes among ``trials`` independent Bernoulli(prob) trials.

    Gaps between successes are Geometric(prob) (support 1, 2, ...), so the running sum of
    such gaps, minus one, lists the successes in order; draws continue until one passes
    ``trials``. Expected cost O(trials * prob).
    """
    if trials == 0 or prob == 0:
        return np.empty(0, dtype=np.int64)
    mean = trials * prob
    parts, last = [], -1
    while True:
        size = int(mean + 6 * np.sqrt(mean) + 16) if not parts else int(0.1 * mean + 64)
        # Gaps past the end change nothing; capping them keeps the sums from overflowing
        # (at prob ~ 1e-300 a Geometric draw is beyond int64).
        pos = _geometric(prob, size, rng)
        np.minimum(pos, trials + 1, out=pos)
        np.cumsum(pos, out=pos)
        pos += last
        if pos[-1] >= trials:
            parts.append(pos[:np.searchsorted(pos, trials)])
            return np.concatenate(parts)
        parts.append(pos)
        last = int(pos[-1])


def _geometric(prob: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Geometric(prob) draws (support 1, 2, ...) as 1 + floor(E / -log(1 - prob)), E ~ Exp(1).

    P(floor(E / lam) >= k) = exp(-lam k) = (1 - prob)^k, the geometric law; the ziggurat
    exponential sampler makes this about 3x cheaper than ``Generator.geometric``.
    """
    lam = -np.log1p(-prob)
    draws = rng.standard_exponential(size)
    # A huge quotient (prob ~ 1e-300, even inf) would overflow int64; the caller caps gaps.
    with np.errstate(over="ignore", divide="ignore"):
        draws /= lam
    np.minimum(draws, 2.0**62, out=draws)
    gaps = np.floor(draws, out=draws).astype(np.int64)
    gaps += 1
    return gaps


def _triangular_pair(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear index k of the pairs (i < j), ordered by j then i, back to (i, j)."""
    k = np.asarray(k, dtype=np.int64)
    j = ((1 + np.sqrt(1 + 8 * k.astype(float))) / 2).astype(np.int64)
    # Float rounding can be off by one for k ~ 1e11; fix it exactly in integers.
    j -= (j * (j - 1) // 2 > k).astype(np.int64)
    j += ((j + 1) * j // 2 <= k).astype(np.int64)
    i = k - j * (j - 1) // 2
    return i, j


#: Nonzeros above which sparse products are split over the cores (below, threads cost more).
_THREADED_NNZ = 2_000_000


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
            # A float CSR array is used as it is: wrapping it again would drop what scipy
            # learnt about it (canonical format), to be checked again at every product.
            if isinstance(A, sp.csr_array) and A.dtype == np.float64:
                self.A = A
            else:
                self.A = sp.csr_array(A, dtype=float) if sp.issparse(A) else np.asarray(A, float)
            self.population = False
            self.n_edges = float(self.A.sum()) / 2
        self._half_degree = None
        self._row_blocks = self._split_rows() if not self.population else None

    def _split_rows(self):
        """Row blocks of a large sparse A with about equal nonzeros, one per core.

        scipy's sparse product runs on one core and releases the GIL, so the blocks are
        multiplied in threads. The blocks are views of A's arrays (no copy of the graph).
        """
        import scipy.sparse as sp

        cores = min(os.cpu_count() or 1, 4)
        if not sp.issparse(self.A) or cores < 2 or self.A.nnz < _THREADED_NNZ:
            return None
        indptr = self.A.indptr
        cuts = np.searchsorted(indptr, np.linspace(0, indptr[-1], cores + 1)[1:-1])
        bounds = [0, *sorted(set(int(c) for c in cuts)), self.n]
        blocks = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            a, b = indptr[lo], indptr[hi]
            blocks.append((lo, hi, sp.csr_array(
                (self.A.data[a:b], self.A.indices[a:b], indptr[lo:hi + 1] - a),
                shape=(hi - lo, self.n))))
        return blocks

    def _product(self, U: np.ndarray) -> np.ndarray:
        """A @ U, on every core for large graphs (row blocks in threads)."""
        if self._row_blocks is None:
            return self.A @ U
        out = np.empty((self.n, U.shape[1]))

        def block(item):
            lo, hi, B = item
            out[lo:hi] = B @ U

        threads = [threading.Thread(target=block, args=(item,)) for item in self._row_blocks[1:]]
        for t in threads:
            t.start()
        block(self._row_blocks[0])
        for t in threads:
            t.join()
        return out

    def degree(self) -> np.ndarray:
        """A @ 1, shape (n, 1) (computed once)."""
        if self._half_degree is None:
            ones = np.ones((self.n, 1))
            self._half_degree = 0.5 * (self.matvec(ones) if self.population else
                                       np.asarray(self.A.sum(axis=1)).reshape(-1, 1))
        return 2.0 * self._half_degree

    def centred_matvec(self, P: np.ndarray) -> np.ndarray:
        """A @ (P - 1/2) without forming P - 1/2: A @ P minus half the degrees, in place."""
        if self.population:
            return self.matvec(P - 0.5)
        if self._half_degree is None:
            self.degree()
        out = self._product(P)
        out -= self._half_degree
        return out

    def matvec(self, U: np.ndarray) -> np.ndarray:
        """A @ U for U of shape (n, R); for the population, the expected graph in O(n R)."""
        if not self.population:
            return self._product(U)
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


def expected_graph(n: int, p: float, q: float) -> _Graph:
    """The expected adjacency E[A | Z] of an SBM(n, p, q), as an operator usable as ``A``.

    Pass it to :func:`bcavi`, :func:`elbo` or :func:`m_step` to run the population dynamics
    with update parameters that differ from the graph's (misspecified p_hat, q_hat); each
    product costs O(n R) and no n x n matrix is formed. ``A="population"`` is the shorthand
    for ``expected_graph(n, p, q)`` with the same (p, q) as the updates.
    """
    return _Graph("population", n, p, q)


def pq_from_degree(n: int, degree: float, ratio: float) -> tuple[float, float]:
    """Edge probabilities (p, q) from the average degree and the ratio p / q.

    With n/2 nodes per block the average degree is n (p + q) / 2 (self pairs aside), so
    q = 2 degree / (n (1 + ratio)) and p = ratio q.

    Parameters
    ----------
    n : int
        Number of nodes (even, >= 4).
    degree : float
        Average degree n (p + q) / 2, in (0, inf).
    ratio : float
        p / q, in (1, inf) (assortative).

    Returns
    -------
    p, q : float
        With ``0 < q < p < 1``.

    Raises
    ------
    ValueError
        If an argument is out of range, or the pair needs p >= 1 (the degree is too high
        for this n and ratio).

    Examples
    --------
    >>> pq_from_degree(1000, 20.0, 3.0)
    (0.03, 0.01)
    """
    n = _check_n(n)
    degree = check_real("degree", degree, 0.0, lo_open=True)
    ratio = check_real("ratio", ratio, 1.0, lo_open=True)
    q = 2.0 * degree / (n * (1.0 + ratio))
    p = ratio * q
    if not p < 1.0:
        raise ValueError(f"average degree {degree:g} with ratio {ratio:g} needs p = {p:.3g} < 1 "
                         f"at n = {n}; lower the degree or raise n")
    return p, q


def expected_edges(n: int, p: float, q: float) -> float:
    """Expected number of edges of a two-block SBM(n, p, q) with n/2 nodes per block.

    n (n - 2) / 4 pairs lie inside a block and n^2 / 4 across: E|E| = n (n - 2) p / 4 +
    n^2 q / 4.

    Parameters
    ----------
    n : int
        Number of nodes (even, >= 4).
    p, q : float
        Within- and between-block edge probabilities, each in [0, 1].

    Returns
    -------
    float

    Examples
    --------
    >>> expected_edges(4, 1.0, 1.0)      # the complete graph on 4 nodes
    6.0
    """
    n = _check_n(n)
    p = check_real("p", p, 0.0, 1.0)
    q = check_real("q", q, 0.0, 1.0)
    return n * (n - 2) / 4 * p + n * n / 4 * q


def expected_density(n: int, p: float, q: float) -> float:
    """Expected edge density rho = E|E| / (n (n - 1) / 2) of a two-block SBM(n, p, q).

    What the M-step's p_hat = q_hat converges to under joint updates (reference/sbm.md
    section 6), and the centre of a first-sweep guess (:func:`first_sweep_guess`); close to
    (p + q) / 2, exactly ((n - 2) p + n q) / (2 (n - 1)).

    Examples
    --------
    >>> expected_density(4, 0.5, 0.2)     # 2 pairs inside the blocks, 4 across
    0.3
    """
    return expected_edges(n, p, q) / (n * (n - 1) / 2)


def accuracy(psi, labels) -> np.ndarray | float:
    """Share of nodes whose hard label (psi > 1/2) matches the truth, up to the label swap.

    ``labels`` are 0/1 community labels (block 0 has psi = 1 at the truth). Returns a float,
    or one value per column for psi of shape (n, R).
    """
    psi = check_array("psi", psi, ndim=(1, 2))
    labels = check_array("labels", labels, ndim=1, lo=0, hi=1)
    if labels.shape[0] != psi.shape[0]:
        raise ValueError(f"labels must have {psi.shape[0]} entries (one per node of psi); "
                         f"got {labels.shape[0]}")
    hard = psi > 0.5
    truth = (labels == 0).reshape((-1,) + (1,) * (psi.ndim - 1))
    agree = np.mean(hard == truth, axis=0)
    out = np.maximum(agree, 1 - agree)
    return float(out) if np.ndim(out) == 0 else out


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
    psi = _check_psi(psi, g.n, "psi")
    col = psi.ndim == 1
    P = psi[:, None] if col else psi
    R = P.shape[1]
    value = _elbo_kernel(g, P, g.matvec(P - 0.5), np.full(R, p), np.full(R, q))
    return float(value[0]) if col else value


def _elbo_kernel(g, P, AU, p, q, stats=None) -> np.ndarray:
    """ELBO of each column of P (n, R) given AU = A @ (P - 1/2) and per-column (p, q).

    Uses the no-division form 2t u'(A - lam(J - I))u = (c1 u'Au - c2 ((1'u)^2 - u'u)) / 2,
    valid for p_hat <= q_hat too (the collapsed state of joint updates has p_hat = q_hat).
    ``stats`` are the column sums (entropy, 1'u, u'u) when the caller already has them.
    """
    c1, c2 = _logit_coefficients(p, q)
    ent, su, uu = _column_stats(P) if stats is None else stats
    # u'Au = psi'AU - 1'AU / 2 needs no temporary u.
    quad = np.einsum("ir,ir->r", P, AU) - 0.5 * AU.sum(axis=0)
    pairs = g.n * (g.n - 1) / 2
    const = 0.5 * (_xlogy_terms(g.n_edges, pairs, p) + _xlogy_terms(g.n_edges, pairs, q))
    return const + 0.5 * (c1 * quad - c2 * (su * su - uu)) + ent - g.n * np.log(2.0)


_CHUNK = 1 << 15  # elements per row block (256 kB): the elementwise passes then stay in cache


def _row_blocks(n: int, R: int):
    rows = max(1, _CHUNK // R)
    return [slice(i, min(i + rows, n)) for i in range(0, n, rows)]


def _column_stats(P: np.ndarray, elbo: bool = True):
    """Column sums of H(psi), u and u^2 (u = psi - 1/2), one cache-sized row block at a time;
    with ``elbo=False`` only those of u (what the sweeps need), the others None."""
    if not elbo:
        return None, (P - 0.5).sum(axis=0), None
    R = P.shape[1]
    ent, su, uu = np.zeros(R), np.zeros(R), np.zeros(R)
    for blk in _row_blocks(P.shape[0], R):
        u = P[blk] - 0.5
        su += u.sum(axis=0)
        uu += np.einsum("ir,ir->r", u, u)
        ent += _entropy(P[blk]).sum(axis=0)
    return ent, su, uu


def _batch_sweep(psi, AU, su_old, c1, c2, damping, out=None, want_stats=True):
    """One BCAVI sweep from AU = A @ (psi - 1/2) and su_old = 1'(psi - 1/2), fused block by block.

    Returns the new psi, the largest change, 1'u of the new psi and, when ``want_stats``,
    its entropy and u'u column sums, so that its ELBO needs no further pass over (n, R).
    """
    n, R = psi.shape
    new = np.empty_like(psi) if out is None else out
    ent, su, uu = np.zeros(R), np.zeros(R), np.zeros(R)
    moved = 0.0
    for blk in _row_blocks(n, R):
        old = psi[blk]
        # field = c1 (A u)_i - c2 (1'u - u_i)
        f = AU[blk] * c1
        f -= c2 * su_old
        f += c2 * (old - 0.5)
        out = expit(f, out=f)
        if damping:
            out *= 1 - damping
            out += damping * old
        d = np.abs(out - old)
        new[blk] = out
        moved = max(moved, float(d.max()))
        u = np.subtract(out, 0.5, out=d)
        su += u.sum(axis=0)
        if want_stats:
            uu += np.einsum("ir,ir->r", u, u)
            ent += _entropy(out, work=d).sum(axis=0)
    return new, moved, su, ((ent, uu) if want_stats else None)


def _check_psi(psi, n: int, name: str = "psi0") -> np.ndarray:
    psi = check_array(name, psi, ndim=(1, 2), lo=0.0, hi=1.0)
    if psi.shape[0] != n:
        raise ValueError(f"{name} must have n = {n} rows; got shape {psi.shape}")
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
    p_hat, q_hat = _m_step(g, P, g.matvec(P))
    if psi.ndim == 1:
        return float(p_hat[0]), float(q_hat[0])
    return p_hat, q_hat


def _m_step(g: _Graph, P: np.ndarray, AP: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`m_step` for P (n, R) given AP = A @ P: A @ (1 - P) is the degrees minus AP, so
    BCAVI, which has A @ (P - 1/2) from its last sweep, refits (p, q) with no product."""
    Q = 1.0 - P
    AQ = g.degree() - AP

    def pair(a, b):  # a^T (J - I) b
        return a.sum(axis=0) * b.sum(axis=0) - (a * b).sum(axis=0)

    same = np.einsum("ir,ir->r", P, AP) + np.einsum("ir,ir->r", Q, AQ)
    cross = np.einsum("ir,ir->r", Q, AP)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_hat = same / (pair(P, P) + pair(Q, Q))
        q_hat = cross / pair(Q, P)
    # Hard labels all in one class leave no cross pairs: fall back to the edge density.
    rho = g.n_edges / (g.n * (g.n - 1) / 2)
    return np.where(np.isfinite(p_hat), p_hat, rho), np.where(np.isfinite(q_hat), q_hat, rho)


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
    record: str = "all",
    elbo: bool = True,
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
        Converged when no entry of psi (nor p_hat, q_hat) moves more than ``tol``; 0 runs
        exactly ``max_iter`` sweeps (a common way to ask for a fixed number).
    schedule : {"batch", "sequential"}
    damping : float in [0, 1)
        Weight kept on the previous psi (batch schedule only).
    estimate : bool
        Joint updates of (p, q); ``extras`` then holds ``p_hat`` and ``q_hat`` (K, R).
    n : int, optional
        Number of nodes when ``A == "population"``.
    record : {"all", "ends"}
        Keep every sweep, or only the start and the end (``times`` then says
        which sweeps were kept); "ends" needs memory for two copies of psi only.
    elbo : bool
        Compute the ELBO after each kept sweep; False leaves ``objective`` NaN and saves an
        entropy pass over psi per sweep (for callers that need only the path, such as the
        phase-plane trajectories). The sweeps themselves are the same.
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
    tol = check_real("tol", tol, 0.0)
    if not isinstance(estimate, bool | np.bool_):
        raise ValueError(f"estimate must be True or False; got {estimate!r}")
    if not isinstance(elbo, bool | np.bool_):
        raise ValueError(f"elbo must be True or False; got {elbo!r}")
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

    record = check_option("record", record, RECORDS)
    AU = g.centred_matvec(psi)
    if p is not None:
        p_cur, q_cur = np.full(R, p), np.full(R, q)
    else:
        p_cur, q_cur = _m_step(g, psi, AU + 0.5 * g.degree())
    stats = _column_stats(psi, elbo)
    su = stats[1]
    spare = None  # the buffer of the psi before last, reused (the recorder keeps copies)
    # With "ends" only the last ELBO is needed: computed after the loop.
    every = record == "all" and elbo
    rec = _Recorder(record)
    no_elbo = np.full(R, np.nan)
    rec.add(0, psi, p_cur, q_cur, _elbo_kernel(g, psi, AU, p_cur, q_cur, stats) if elbo
            else no_elbo)
    status = Status.MAX_ITER
    for sweep in range(1, max_iter + 1):
        if estimate and (sweep > 1 or p is None):
            p_new, q_new = _m_step(g, psi, AU + 0.5 * g.degree())   # AU is A @ (psi - 1/2)
        else:
            p_new, q_new = p_cur, q_cur
        c1, c2 = _logit_coefficients(p_new, q_new)  # 4t, 4t lam per run
        if schedule == "batch":
            new, moved, su, extra = _batch_sweep(psi, AU, su, c1, c2, damping, out=spare,
                                                 want_stats=every)
            stats = (extra[0], su, extra[1]) if every else None
        else:
            U = psi - 0.5
            total = U.sum(axis=0)
            for i in range(g.n):
                value = expit(c1 * g.row_dot(i, U) - c2 * (total - U[i])) - 0.5
                total += value - U[i]
                U[i] = value
            new = U + 0.5
            moved = float(np.max(np.abs(new - psi)))
            stats = _column_stats(new, every)
            su = stats[1]
        moved = max(moved, np.max(np.abs(p_new - p_cur)), np.max(np.abs(q_new - q_cur)))
        if not np.isfinite(moved):  # a NaN anywhere propagates into the max
            status = Status.DIVERGED
            break
        old, psi, p_cur, q_cur = psi, new, p_new, q_new
        AU = g.centred_matvec(psi)
        rec.add(sweep, psi, p_cur, q_cur,
                _elbo_kernel(g, psi, AU, p_cur, q_cur, stats) if every else no_elbo)
        spare = old if rec.unreferenced(old) else None
        if moved < tol:
            status = Status.CONVERGED
            break
    if elbo and not every:
        rec.set_last_objective(_elbo_kernel(g, psi, AU, p_cur, q_cur))
    return rec.trajectory(status, m, estimate, single)


RECORDS = ("all", "ends")


class _Recorder:
    """Collects the records of a run: every sweep, or the start and the latest one."""

    def __init__(self, mode: str):
        self.mode = mode
        self.rows: list[tuple] = []

    def set_last_objective(self, objective) -> None:
        self.rows[-1] = (*self.rows[-1][:4], objective)

    def unreferenced(self, psi) -> bool:
        """True when no record holds ``psi`` itself, so its memory can be reused."""
        return all(row[1] is not psi for row in self.rows)

    def add(self, sweep, psi, p, q, objective):
        row = (sweep, psi.copy() if self.mode == "all" or not self.rows else psi,
               np.array(p, float), np.array(q, float), objective)
        if self.mode == "ends" and len(self.rows) == 2:
            self.rows[1] = row
        else:
            self.rows.append(row)

    def trajectory(self, status, m, estimate, single) -> Trajectory:
        times, paths, ps, qs, objs = zip(*self.rows, strict=True)
        iterates = np.asarray(paths)
        block_means = np.stack([iterates[:, :m].mean(axis=1), iterates[:, m:].mean(axis=1)],
                               axis=1)
        extras = {"block_means": block_means}
        if estimate:
            extras.update(p_hat=np.asarray(ps), q_hat=np.asarray(qs))
        objective = np.asarray(objs)
        if single:
            iterates, objective = iterates[..., 0], objective[:, 0]
            extras = {k: v[..., 0] for k, v in extras.items()}
        return Trajectory(times=np.asarray(times, dtype=float), iterates=iterates,
                          objective=objective, status=status, extras=extras)
