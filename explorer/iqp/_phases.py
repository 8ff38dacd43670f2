r"""Phases Phi_a(z) = 2 sum_{j in S_a} theta_j s_j(z) for many operators and samples, and the
gradient of sum_{a,s} R_as Phi_as, by two interchangeable methods chosen by cost.

*dense*: S (operators x gates) and Sigma (samples x gates) as matrices, Phi = S diag(2 theta)
Sigma^T: two (L x m) x (m x N) products for the value and the gradient, whatever the gates.

*structured* (gates of at most two qubits): with s = (-1)^z, single angles t_i and the
symmetric matrix Theta of pair angles (zero diagonal),

.. math:: \Phi_a(z) = 2\Bigl[\sum_{i\in a} s_i\,(t_i + (\Theta s)_i)
          - 2\sum_{i<j;\ i,j\in a}\Theta_{ij}\,s_i s_j\Bigr],

so one n x n x N product and O(|a|^2) per (operator, sample) pair replace the (L x m x N)
product; the mean operator weight is small (about 2) in the paper's setting. The gradient
has the same structure (reference/iqp.md, appendix; derived, not quoted): one more
n x n x N product and the same sparse sums the other way. Memory: O(n^2 + n N) plus the
pair signs (at most min(L |a|^2 / 2, m) rows of N) and cache-sized blocks of operators;
no (L x m) or (m x N) array. ``phase_model`` says which method runs when. ``mmd2`` keeps
the structured path's scratch arrays (the same sizes) in a ``Workspace`` on the gate set,
so that a training loop does not fault fresh pages in at every step.

``expval``, the Monte Carlo estimator of Z-correlators, is the dense phases averaged.
"""

from __future__ import annotations

import contextlib
import math
import threading
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse import _sparsetools

from .._common import as_rng, check_int
from ._circuit import GateSet, _check_ops, _check_theta, _parities

__all__ = ["SINGLE_PRECISION_ABOVE", "expval", "phase_model"]

#: Operators x gates x samples beyond which the dense products run in single precision.
SINGLE_PRECISION_ABOVE = 2e9

#: Largest (gates x operators or samples) array of the dense path kept in a workspace, bytes.
_DENSE_KEPT = 2**24


class Workspace:
    """Scratch arrays kept from one loss evaluation to the next (one per ``GateSet``).

    An evaluation needs a few MB of temporaries at n = 20 and ~45 MB at n = 1000. Fresh
    ones fault in every 4 kB page on first touch once the allocator has handed the last
    evaluation's back to the system: measured at 12-25% of an evaluation's CPU time
    (n = 1000 and n = 20, L = N = 1000). Held by one evaluation at a time; a concurrent
    one (another thread with the same gate set) allocates afresh instead of waiting.
    Arrays taken from it must not outlive the ``hold``.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._buffers: dict[str, np.ndarray] = {}

    def __reduce__(self):
        return Workspace, ()                    # a copy in another process starts empty

    @contextlib.contextmanager
    def hold(self):
        """This workspace while no one else holds it, else None."""
        if not self._lock.acquire(blocking=False):
            yield None
            return
        try:
            yield self
        finally:
            self._lock.release()

    def empty(self, name: str, shape, dtype=np.float64) -> np.ndarray:
        """An uninitialised array in the memory of the last one called ``name`` (grown,
        with an eighth to spare, when it is too small: operator counts vary per draw)."""
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        buf = self._buffers.get(name)
        if buf is None or buf.size < nbytes:
            buf = self._buffers[name] = np.empty(nbytes + nbytes // 8, np.uint8)
        return buf[:nbytes].view(dtype).reshape(shape)


def workspace(gs) -> Workspace:
    """The gate set's workspace (made on first use)."""
    ws = gs.cache.get("workspace")
    if ws is None:
        ws = gs.cache["workspace"] = Workspace()
    return ws


def _empty(ws: Workspace | None, name: str, shape, dtype=np.float64) -> np.ndarray:
    """``ws.empty(name, shape, dtype)``, or a fresh array without a workspace."""
    return np.empty(shape, dtype) if ws is None else ws.empty(name, shape, dtype)


class _Dense:
    """Any gate set: explicit anticommutation and sign matrices.

    Both are kept gates-major, S^T (m x L) and Sigma^T (m x N): each gate's row is then
    contiguous, so the gradient's sum over operators, sum_a S_ak (R Sigma)_ak, is a dot
    product along rows (several times faster than the same sum down the columns of an
    L x m array), and for one- and two-qubit gates the rows are gathers of whole rows.
    S stays in bytes (0/1): the scaled copy for the phases and that dot product read it as
    fast as a float copy, which would cost a pass and four times the memory. With a
    workspace the L x N phases are kept there, and so are the m-row arrays up to
    ``_DENSE_KEPT`` bytes each (beyond, holding them between evaluations costs more memory
    than their page faults cost time).
    """

    def __init__(self, gs, ops, Z, ws=None):
        # Past ~10^9 multiply-adds the two products dominate; single precision halves them.
        # The phase error is then about 1e-7 * sqrt(m) * max|theta| (1e-4 rad at m = 10^5),
        # orders of magnitude below the estimator's own sampling error ~ 1/sqrt(n_samples).
        size = ops.shape[0] * gs.m * Z.shape[0]
        self.dtype = dt = np.float32 if size > SINGLE_PRECISION_ABOVE else np.float64
        self.L, self.N, self.ws = ops.shape[0], Z.shape[0], ws
        rows_ws = ws if gs.m * max(self.L, self.N) * np.dtype(dt).itemsize <= _DENSE_KEPT else None
        self._rows_ws = rows_ws
        if gs.max_weight <= 2:
            # For one- and two-qubit gates the parities are XORs and sign products of rows,
            # much cheaper than the (m x n) x (n x L) products of the general case.
            first = gs.first
            other = np.where(gs.weight == 2, gs.last, -1)   # -1: a row of zeros / of ones
            opsT = np.zeros((ops.shape[1] + 1, ops.shape[0]), np.uint8)
            opsT[:-1] = ops.T
            ST = opsT[first]
            ST ^= opsT[other]
            spinsT = np.ones((Z.shape[1] + 1, Z.shape[0]), np.int8)
            spinsT[:-1] -= 2 * Z.T
            SigmaT = spinsT[first]
            SigmaT *= spinsT[other]
        else:
            G = gs.dense()
            ST = _parities(G, ops).astype(np.uint8)                 # (m, L)
            SigmaT = 1.0 - 2.0 * _parities(G, Z)                    # (m, N)
        self.ST = ST
        self.SigmaT = _empty(rows_ws, "SigmaT", SigmaT.shape, dt)
        np.copyto(self.SigmaT, SigmaT)

    def set_theta(self, theta):
        # one product for all operators (thin blocks would run BLAS below its best), kept
        # for ``rows`` to hand out block by block; the factor 2 rides on the angles
        self._St = np.multiply(self.ST, (2.0 * theta).astype(self.dtype)[:, None],
                               out=_empty(self._rows_ws, "St", self.ST.shape, self.dtype))
        self._P = np.matmul(self._St.T, self.SigmaT,
                            out=_empty(self.ws, "P", (self.L, self.N), self.dtype))

    def rows(self, a0, a1, out=None):
        """Phases of operators a0 .. a1 - 1 at the angles of the last ``set_theta``
        (written to ``out``, (a1 - a0) x N double, when given)."""
        if out is None:
            return self._P[a0:a1].astype(np.float64)
        np.copyto(out, self._P[a0:a1])
        return out

    def phases(self, theta):
        self.set_theta(theta)
        return self.rows(0, self.L)

    def grad(self, R, weight=None):
        """d/dtheta of sum_{a,s} weight_a R_as Phi_as (weight: one per operator, default 1)."""
        R = R.astype(self.dtype)
        if weight is not None:
            R *= weight.astype(self.dtype)[:, None]
        # (m, L): (R Sigma)^T, into the scaled copy of S^T that the phases are done with
        # (a fresh array this size, 45 MB at n = 150, faults in every page)
        RST = np.matmul(self.SigmaT, R.T, out=getattr(self, "_St", None))
        g = np.einsum("ka,ka->k", self.ST, RST)
        return 2.0 * g.astype(np.float64)


class _PairStructure(NamedTuple):
    """Index arrays of the one- and two-qubit gates of a gate set (built once per set).

    Keys are flat indices into an n x (n + 1) matrix: pair (i, j) at column j of row i,
    qubit i's own term in the last column (see ``_Structured``)."""

    single_gate: np.ndarray     # gates of weight 1
    single_qubit: np.ndarray    # ... and their qubit
    single_key: np.ndarray      # ... as i * (n + 1) + n
    pair_gate: np.ndarray       # gates of weight 2
    key: np.ndarray             # ... as i * (n + 1) + j with i < j
    key_t: np.ndarray           # ... as j * (n + 1) + i
    key_order: np.ndarray       # argsort of key (repeated generators are adjacent)
    sorted_key: np.ndarray      # key[key_order]
    sym_key: np.ndarray         # [key, key_t, single_key]: one bincount fills [Theta | t]
    distinct: bool              # no pair repeated: Theta can be filled by assignment
    single_at: np.ndarray | slice   # single_gate, or the same as a slice when it is a run
    pair_at: np.ndarray | slice     # pair_gate, likewise (local_gates: singles, then pairs)
    mask: np.ndarray | None     # n x n, True at (i, j) for each pair gate, when they are listed
    #                             in key order (as local_gates lists them): indexing with it
    #                             visits them in gate order and reads a byte per entry where
    #                             an index array reads eight (measured ~1.5 ms at n = 1000)


def _pair_structure(gs) -> _PairStructure:
    st = gs.cache.get("pairs")
    if st is None:
        n = gs.n
        single_gate = np.flatnonzero(gs.weight == 1)
        single_qubit = gs.first[single_gate]
        single_key = single_qubit * (n + 1) + n
        pair_gate = np.flatnonzero(gs.weight == 2)
        pi, pj = gs.first[pair_gate], gs.last[pair_gate]
        key, key_t = pi * (n + 1) + pj, pj * (n + 1) + pi
        order = np.argsort(key, kind="stable")
        mask = None
        if np.all(np.diff(key) > 0):
            mask = np.zeros((n, n), dtype=bool)
            mask[pi, pj] = True
        st = _PairStructure(single_gate, single_qubit, single_key, pair_gate, key, key_t,
                            order, key[order], np.concatenate([key, key_t, single_key]),
                            bool(np.all(np.diff(key[order]) > 0)),
                            _as_run(single_gate), _as_run(pair_gate), mask)
        gs.cache["pairs"] = st
    return st


def _as_run(index: np.ndarray) -> np.ndarray | slice:
    """``index`` as a slice when it is a run of consecutive integers: indexing with it is
    then a view, where an index array gathers or scatters (half a million gates at n = 1000)."""
    if index.size and index[-1] - index[0] == index.size - 1:    # sorted and distinct
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


class _Structured:
    r"""Gates of weight 1 and 2 only: sparse sums over each operator's support (derived here).

    With W = s o (t + Theta s) (qubits x samples; one n x n x N product) and
    SS_u = s_i s_j for each gate pair u = (i, j) inside some operator's support,

    .. math:: \Phi_{as} = 2\sum_{i\in a} W_{is} - 4\sum_{u\subset a}\Theta_u\,SS_{us},

    a sparse (operators x qubits) product with W plus a sparse (operators x in-support
    pairs) product with SS: about L (|a| + |a|^2 / 2) multiply-adds per sample. The gradient
    needs the same sums the other way: C = A^T R for the qubits (then one n x n x N product)
    and, per in-support pair, sum_s R_as SS_us. Pairs that are not gates carry no angle and
    no derivative and are left out, so nearest-neighbour gate sets pay for their own pairs.

    Both products run on [s; 1], s with a row of ones under it: [Theta | t] [s; 1] =
    Theta s + t, and (C o s) [s; 1]^T carries sum_s C_is s_is, the single-qubit derivative,
    in its last column; each saves a pass over an n x N array (n = 1000: 10^6 entries).

    The signs SS are kept in int8 (exact for +-1, one byte per entry). A double copy,
    stacked under W, serves every block of operators while it is small or pairs repeat
    across operators; otherwise each block expands its own rows: fresh (pairs x samples)
    float arrays would cost more in page faults than the arithmetic. The gradient runs in
    the precision of R (single when ``mmd2`` takes single-precision cosines).
    """

    def __init__(self, gs, ops, Z, support=None, ws=None):
        n, L, N = gs.n, ops.shape[0], Z.shape[0]
        st = _pair_structure(gs)
        self.n, self.m, self.L, self.st, self.ws = n, gs.m, L, st, ws
        rows, cols = _support(ops) if support is None else support
        pa, pi, pj = _support_pairs(ops, rows, cols)
        ukey, up = np.unique(pi * (n + 1) + pj, return_inverse=True)
        # Keep the in-support pairs that are gates; a repeated generator maps one pair to
        # several gates (the run [lo, hi) of the sorted gate keys).
        lo = np.searchsorted(st.sorted_key, ukey, "left")
        hi = np.searchsorted(st.sorted_key, ukey, "right")
        gate = hi > lo
        keep = gate[up]
        pa, up = pa[keep], (np.cumsum(gate) - 1)[up[keep]]
        ukey, lo, hi = ukey[gate], lo[gate], hi[gate]
        self.ukey = ukey
        self.u_rep = np.repeat(np.arange(ukey.size), hi - lo)
        self.u_gates = st.pair_gate[st.key_order[_ranges(lo, hi - lo)]]
        order = np.argsort(pa, kind="stable")            # pair entries by operator
        self.pa, self.up = pa[order], up[order]
        self.pair_ptr = np.searchsorted(self.pa, np.arange(L + 1))
        # s = (-1)^z as (n + 1) x N with a last row of ones (see the class docstring)
        s8 = _empty(ws, "s8", (n + 1, N), np.int8)
        s8[:n] = Z.T
        s8[:n] *= -2
        s8[:n] += 1
        s8[n] = 1
        ui, uj = np.divmod(ukey, n + 1)
        # mode="clip" (the indices are valid): with "raise", take buffers ``out`` (4x slower)
        self.ss8 = np.take(s8, ui, axis=0, out=_empty(ws, "ss8", (ui.size, N), np.int8),
                           mode="clip")
        self.ss8 *= np.take(s8, uj, axis=0, out=_empty(ws, "ss8_j", (uj.size, N), np.int8),
                            mode="clip")
        # One double copy of the pair signs serves every block while it is small (up to
        # 8 MB) or while pairs repeat across operators (small n or heavy operators: U << P);
        # otherwise each block expands its own rows, in a buffer that stays in cache
        # instead of a big fresh array.
        self.B = None
        if ukey.size * Z.shape[0] <= 2**20 or 4 * ukey.size <= self.pa.size:
            # Small: B = [W; SS] in one array, so one kernel call sums each operator's
            # qubits and pairs while its row of phases is hot; W is written per theta.
            self.B = _empty(ws, "B", (n + ukey.size, N))
            self.B[n:] = self.ss8
            row = np.concatenate([rows, self.pa])
            order = np.argsort(row, kind="stable")
            self.k_indices = np.concatenate([cols, n + self.up])[order].astype(np.int32)
            self.k_ptr = np.searchsorted(row[order], np.arange(L + 1)).astype(np.int32)
            pair = order >= rows.size
            self.k_pair_pos, self.k_lin_pos = np.flatnonzero(pair), np.flatnonzero(~pair)
            self.k_pair_src = order[self.k_pair_pos] - rows.size
        self.s8, self._s32 = s8, None
        self.sT = _empty(ws, "sT", s8.shape)
        np.copyto(self.sT, s8)
        self.cols = cols.astype(np.int32)
        self.ptr = np.searchsorted(rows, np.arange(L + 1)).astype(np.int32)
        self.up32 = self.up.astype(np.int32)
        self.pair_ptr32 = self.pair_ptr.astype(np.int32)
        self.two = np.full(cols.size, 2.0)
        # the same patterns transposed, for the gradient's sums over operators
        by_qubit = np.argsort(cols, kind="stable")
        self.qubit_ops = rows[by_qubit].astype(np.int32)
        self.qubit_ptr = np.searchsorted(cols[by_qubit], np.arange(n + 1)).astype(np.int32)
        by_pair = np.argsort(self.up, kind="stable")
        self.pair_ops = self.pa[by_pair].astype(np.int32)
        self.pair_ops_ptr = np.searchsorted(self.up[by_pair],
                                            np.arange(ukey.size + 1)).astype(np.int32)

    def _signs(self, dt):
        """[s; 1] ((n + 1) x samples) in double or single precision (exact either way)."""
        if dt == np.float64:
            return self.sT
        if self._s32 is None:
            self._s32 = _empty(self.ws, "s32", self.s8.shape, np.float32)
            np.copyto(self._s32, self.s8)
        return self._s32

    def _angles(self, theta):
        """[Theta | t], n x (n + 1): pair angles (symmetric, zero diagonal), single angles.

        Repeated generators add their angles (exp(i a Z) exp(i b Z) = exp(i (a + b) Z)):
        bincount sums duplicates, where an indexed assignment would keep only the last."""
        n, st = self.n, self.st
        pair, single = theta[st.pair_at], theta[st.single_at]
        if not st.distinct:
            Theta = np.bincount(st.sym_key, weights=np.concatenate([pair, pair, single]),
                                minlength=n * (n + 1))
            return Theta.reshape(n, n + 1)
        Theta = _empty(self.ws, "Theta", (n, n + 1))   # two scatters: half a bincount's time
        Theta.fill(0.0)
        if st.mask is not None:
            Theta[:, :n][st.mask] = pair
            Theta[:, :n].T[st.mask] = pair
        else:
            Theta.reshape(-1)[st.key] = pair
            Theta.reshape(-1)[st.key_t] = pair
        Theta[:, n] = np.bincount(st.single_qubit, weights=single, minlength=n)
        return Theta

    def set_theta(self, theta):
        Theta = self._angles(theta)
        # t + Theta s as one product: the row of ones under s picks up t
        if self.B is None:
            W = _matmul(Theta, self.sT, out=_empty(self.ws, "W", (self.n, self.sT.shape[1])))
        else:
            W = _matmul(Theta, self.sT, out=self.B[:self.n])
        W *= self.sT[:self.n]
        self.W = W
        self.coef = -4.0 * Theta.reshape(-1)[self.ukey][self.up]   # per pair entry
        if self.B is not None:
            self.k_data = np.empty(self.k_indices.size)
            self.k_data[self.k_lin_pos] = 2.0
            self.k_data[self.k_pair_pos] = self.coef[self.k_pair_src]

    def rows(self, a0, a1, out=None):
        """Phases of operators a0 .. a1 - 1 at the angles of the last ``set_theta``
        (written to ``out``, (a1 - a0) x N double, when given)."""
        if out is None:
            Phi = np.zeros((a1 - a0, self.W.shape[1]))
        else:
            Phi = out
            Phi.fill(0.0)
        if self.B is not None:
            k0 = self.k_ptr[a0]
            _csr_accumulate(self.k_ptr[a0:a1 + 1] - k0, self.k_indices[k0:], self.k_data[k0:],
                            self.B, Phi)
            return Phi
        p0, q0 = self.ptr[a0], self.pair_ptr32[a0]
        _csr_accumulate(self.ptr[a0:a1 + 1] - p0, self.cols[p0:], self.two[p0:], self.W, Phi)
        k = self.pair_ptr32[a1] - q0
        if k:
            SS = _empty(self.ws, "pair_rows", (k, Phi.shape[1]))
            np.copyto(SS, self.ss8[self.up[q0:q0 + k]])
            _csr_accumulate(self.pair_ptr32[a0:a1 + 1] - q0, np.arange(k, dtype=np.int32),
                            self.coef[q0:], SS, Phi)
        return Phi

    def phases(self, theta):
        self.set_theta(theta)
        return self.rows(0, self.L)

    def grad(self, R, weight=None):
        """d/dtheta of sum_{a,s} weight_a R_as Phi_as (weight: one per operator, default 1),
        in R's precision (float32 or float64)."""
        dt = np.float32 if R.dtype == np.float32 else np.float64
        R = np.ascontiguousarray(R, dtype=dt)
        n, st, N = self.n, self.st, R.shape[1]
        weight = np.ones(self.L, dt) if weight is None else weight.astype(dt)
        sT = self._signs(dt)
        SC = _empty(self.ws, "SC", (n, N), dt)
        SC.fill(0.0)                                     # C = A^T R ...
        _csr_accumulate(self.qubit_ptr, self.qubit_ops, weight[self.qubit_ops], R, SC)
        SC *= sT[:n]                                     # ... times s
        # The sparse pair sums first: after a product large enough for BLAS threads the
        # workers spin for a while, and on a busy machine that slows what follows.
        per_pair = self._pair_sums(R, weight)
        # n x (n + 1): M1_ij = sum_s C_i s_i s_j, and M1_in = sum_s C_i s_i (the row of
        # ones), single qubit i's derivative over 2; a pair's is 2 (M1_ij + M1_ji). Two
        # gathers (one of them strided) cost less than symmetrising all n^2 entries first.
        M1 = _matmul(SC, sT.T, out=_empty(self.ws, "M1", (n, n + 1), dt))
        g = np.empty(self.m)                             # every gate is a single or a pair
        g[st.single_at] = 2.0 * M1[:, n][st.single_qubit]
        if st.mask is not None:
            pair = M1[:, :n][st.mask]
            pair += M1[:, :n].T[st.mask]
        else:
            pair = M1.reshape(-1)[st.key]
            pair += M1.reshape(-1)[st.key_t]
        pair *= 2.0
        g[st.pair_at] = pair
        if per_pair.size:
            g[self.u_gates] -= 4.0 * per_pair[self.u_rep]
        return g

    def _pair_sums(self, R, weight):
        """Per in-support pair u: sum_s SS_us Y_us with Y_u = sum_{a contains u} weight_a R_a,
        a block of pairs at a time in buffers that stay in cache."""
        U, N, dt = self.ukey.size, R.shape[1], R.dtype
        per_pair = np.empty(U)
        step = max(1, BLOCK_ENTRIES // N)
        Y = _empty(self.ws, "pair_Y", (min(step, U), N), dt)
        SS = _empty(self.ws, "pair_SS", (min(step, U), N), dt)
        ptr, ops = self.pair_ops_ptr, self.pair_ops
        # each pair inside one operator only (large n: supports rarely share a pair): Y_u
        # is that operator's row, a plain copy, and its weight goes on the sum
        alone = ops.size == U
        w_pair = weight[ops]
        for u0 in range(0, U, step):
            u1 = min(U, u0 + step)
            Yb, SSb = Y[:u1 - u0], SS[:u1 - u0]
            if alone:
                np.take(R, ops[u0:u1], axis=0, out=Yb, mode="clip")
            else:
                Yb.fill(0.0)
                _csr_accumulate(ptr[u0:u1 + 1] - ptr[u0], ops[ptr[u0]:], w_pair[ptr[u0]:],
                                R, Yb)
            np.copyto(SSb, self.ss8[u0:u1])
            per_pair[u0:u1] = np.einsum("us,us->u", SSb, Yb)
        if alone:
            per_pair *= w_pair
        return per_pair


#: Entries per block of the blocked passes (512 kB in double): they stay in cache and their
#: memory is reused instead of fresh (operators x samples) arrays.
BLOCK_ENTRIES = 2**16


#: OpenBLAS runs a product on one thread when rows x inner x columns <= 4 * 65536.
_ONE_THREAD_MNK = 4 * 65536
#: Products up to this many multiply-adds go in one-thread-sized pieces (below).
_SMALL_PRODUCT = 2**26


def _matmul(A, B, out=None):
    """A @ B; a small product (<= _SMALL_PRODUCT multiply-adds) in column pieces that
    OpenBLAS runs on the calling thread.

    A threaded product of this size takes well under a millisecond but wakes BLAS worker
    threads, which then spin for a while after it; on a machine whose cores are shared
    that spinning takes the cores from everything else this process does (measured: a
    training step at 150 qubits 6x slower than with one BLAS thread). Pieces keep the
    workers asleep at a small cost in BLAS efficiency; large products keep the threads.
    """
    (p, q), N = A.shape, B.shape[1]
    if out is None:
        out = np.empty((p, N), np.result_type(A, B))
    if p * q * N > _SMALL_PRODUCT:
        return np.matmul(A, B, out=out)
    step = max(1, _ONE_THREAD_MNK // (p * q))
    for c in range(0, N, step):
        np.matmul(A, B[:, c:c + step], out=out[:, c:c + step])
    return out


def _csr_accumulate(indptr, indices, data, X, out):
    """out += K @ X for the CSR matrix K = (data, indices, indptr) of out.shape[0] rows.

    scipy's own kernel accumulates into its output; calling it directly spares the fresh
    (rows x samples) array and the addition that ``out += K @ X`` costs. Falls back to that
    if the private kernel is unavailable.
    """
    try:
        kernel = _sparsetools.csr_matvecs
    except AttributeError:                      # pragma: no cover - a future scipy
        out += sp.csr_array((data[:indptr[-1]], indices[:indptr[-1]], indptr),
                            shape=(out.shape[0], X.shape[0])) @ X
        return
    kernel(out.shape[0], X.shape[0], X.shape[1], indptr, indices, data, X.reshape(-1),
           out.reshape(-1))


def _support(ops: np.ndarray):
    """(rows, cols) of the ones of a 0/1 matrix, row-major (sorted by operator).

    A flat search of the boolean view is about ten times faster than ``np.nonzero`` of the
    uint8 matrix, which matters at n = 1000 (10^6 entries, a few thousand ones).
    """
    ops = np.ascontiguousarray(ops, dtype=np.uint8)
    return np.divmod(np.flatnonzero(ops.view(np.bool_)), ops.shape[1])


def _ranges(lo: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """concatenate([arange(l, l + k) for l, k in zip(lo, lengths)]), vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.repeat(lo - np.cumsum(lengths) + lengths, lengths)
    return starts + np.arange(total)


def _support_pairs(ops: np.ndarray, rows: np.ndarray, cols: np.ndarray):
    """Every (operator, i, j) with i < j both in the operator's support, vectorised.

    ``rows, cols = _support(ops)``. Supports are laid out as a padded (L x max weight) table
    of qubit indices (ascending along each row); the operators of each weight w then give
    their pairs in one selection of the w (w - 1) / 2 slot pairs (a handful of weights).
    """
    weight = np.bincount(rows, minlength=ops.shape[0])
    width = int(weight.max()) if weight.size else 0
    slot = np.arange(rows.size) - np.searchsorted(rows, rows)
    table = np.full((ops.shape[0], max(width, 1)), -1, dtype=np.int64)
    table[rows, slot] = cols
    pa, pi, pj = [], [], []
    for w in range(2, width + 1):
        sel = np.flatnonzero(weight == w)
        if sel.size:
            p, q = np.triu_indices(w, 1)
            sub = table[sel, :w]
            pa.append(np.repeat(sel, p.size))
            pi.append(sub[:, p].reshape(-1))
            pj.append(sub[:, q].reshape(-1))
    if not pa:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(pa), np.concatenate(pi), np.concatenate(pj)


def phase_model(gs, ops, Z, method: str = "auto", support=None, ws=None):
    """The cheaper of the two phase computations for this gate set (a ``GateSet``) and draws.

    Which path runs:

    - gates of weight 3 or more: always *dense* (the structured identity covers pairs only);
    - ``method="dense"`` / ``"structured"``: that path (structured needs weight <= 2);
    - ``"auto"`` with weight <= 2: *structured* unless its estimated cost (sparse work on
      the L (|a| + |a|^2 / 2) support entries and pairs per sample, plus two n x n x N
      products) exceeds the dense path's two L x m x N products. At mean operator weight
      about 2 (the paper's setting) that is structured at every n; at the constant
      bandwidth (mean weight n / 3) the in-support pairs grow as L n^2 / 18: the two cost
      about the same at n = 20 to 50 and dense is chosen (L = N = 1000), and dense wins
      clearly beyond.

    Both paths give the same phases and gradients to round-off in double precision (the
    dense one switches to single precision past ``SINGLE_PRECISION_ABOVE``). ``support``:
    ``_support(ops)`` when the caller has it already.

    The model computes ``phases(theta)`` (operators x samples), or ``set_theta(theta)``
    then ``rows(a0, a1)`` block by block, and ``grad(R)``, d/dtheta of sum R_as Phi_as.
    """
    if method == "dense" or gs.max_weight > 2:
        return _Dense(gs, ops, Z, ws)
    support = _support(ops) if support is None else support
    if method == "structured":
        return _Structured(gs, ops, Z, support, ws)
    L, m, N, n = ops.shape[0], gs.m, Z.shape[0], gs.n
    w = np.bincount(support[0], minlength=L).astype(np.float64)
    n_pairs = _pair_structure(gs).pair_gate.size
    entries = float(w.sum()) + min(float(np.sum(w * (w - 1) / 2)), float(L * n_pairs))
    # In units of one double BLAS multiply-add, measured on this project's 2-core machine:
    # each support entry or pair costs ~18 per sample over both directions (scipy's sparse
    # kernel, ~9 in double for the phases and ~6 in single for the gradient, plus the
    # per-pair passes), an elementwise pass ~8 per entry. At the constant bandwidth the
    # paths cost about the same for n = 20 to 50 (dense is chosen) and dense wins beyond.
    structured_cost = 18.0 * entries * N + 2.0 * N * n * n + 8.0 * 6 * n * N
    size = L * m * N
    dense_cost = ((1.0 if size > SINGLE_PRECISION_ABOVE else 2.0) * size
                  + 8.0 * (L + N) * m + 8.0 * L * m)
    if structured_cost < dense_cost:
        return _Structured(gs, ops, Z, support, ws)
    return _Dense(gs, ops, Z, ws)


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
