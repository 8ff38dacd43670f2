r"""A single-head softmax attention read-out and its empirical NTK, by hand.

Model (the toy attention network of Sun & Raskutti, arXiv:2602.13942): an input is a token
sequence :math:`X \in \mathbb{R}^{L \times d}` and the scalar output is

.. math::
    Q = X W_Q,\quad K = X W_K,\quad V = X W_V,\quad
    A = \operatorname{softmax}_{\text{rows}}(Q K^\top / \sqrt{d_k}),\quad
    f(X) = w^\top V^\top A^\top p,

with the pooling vector p = (1/L) 1 (``"mean"``), e_L (``"last"``) or e_1 (``"first"``).
Gradients are written out in closed form (reference/ntk.md sections 3 and 7.5; derived for this
project and checked against finite differences, not quoted from the paper): with v = V w,
the pooled attention row :math:`\pi = p^\top A` and :math:`\bar a = \pi X`,

.. math::
    (G_S)_{lm} = p_l A_{lm} \bigl(v_m - (A v)_l\bigr),\quad
    \partial_{W_Q} f = X^\top G_S K / \sqrt{d_k},\quad
    \partial_{W_K} f = X^\top G_S^\top Q / \sqrt{d_k},\quad
    \partial_{W_V} f = \bar a^\top w^\top,\quad \partial_w f = W_V^\top \bar a^\top .

The empirical NTK at the (pretrained, non-random) weights theta0 is
K(x, x') = <grad f(x; theta0), grad f(x'; theta0)>, a sum of one kernel per trained block.
Task vectors built on this model live in :mod:`explorer.ntk._taskvectors`.

Symbols: ``W_Q, W_K, W_V, w`` as above; blocks ``"q", "k", "v", "w"`` name them; ``theta`` is
their row-major concatenation in that order; ``J`` the per-example Jacobian, ``K`` the raw
(unnormalised) kernel J J^T, ``alpha`` the step size, ``a_k`` the coefficients of task k.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._common import as_rng, check_array, check_int, check_option, check_real

__all__ = ["BLOCKS", "POOLINGS", "AttentionModel"]

#: Parameter blocks in their canonical (flattening) order: W_Q, W_K, W_V, w.
BLOCKS = ("q", "k", "v", "w")
#: Pooling of the attended tokens into the read-out: p = (1/L) 1, e_L or e_1.
POOLINGS = ("mean", "last", "first")

_ATTRIBUTES = {"q": "W_Q", "k": "W_K", "v": "W_V", "w": "w"}


def _check_blocks(blocks: Any) -> tuple[str, ...]:
    """Normalise a block selection to a non-empty tuple in canonical q, k, v, w order."""
    allowed = ", ".join(repr(b) for b in BLOCKS)
    names = (blocks,) if isinstance(blocks, str) else blocks
    try:
        chosen = set(names)
    except TypeError:
        raise ValueError(
            f"blocks must be a non-empty subset of {allowed}; got {blocks!r}"
        ) from None
    unknown = sorted(str(b) for b in chosen - set(BLOCKS))
    if not chosen or unknown:
        detail = f" (unknown: {', '.join(unknown)})" if unknown else ""
        raise ValueError(f"blocks must be a non-empty subset of {allowed}; got {blocks!r}{detail}")
    return tuple(b for b in BLOCKS if b in chosen)


def _pooling_vector(pooling: str, length: int) -> np.ndarray:
    if pooling == "mean":
        return np.full(length, 1.0 / length)
    p = np.zeros(length)
    p[-1 if pooling == "last" else 0] = 1.0
    return p


def _softmax_rows(S: np.ndarray) -> np.ndarray:
    # Subtracting the row max leaves the softmax unchanged and keeps exp() from overflowing.
    E = np.exp(S - S.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class _Pass:
    """Forward-pass intermediates of a batch, kept for the backward pass."""

    X: np.ndarray  # (N, L, d)
    Q: np.ndarray  # (N, L, d_k)
    K: np.ndarray  # (N, L, d_k)
    V: np.ndarray  # (N, L, d_v)
    A: np.ndarray  # (N, L, L) attention, rows sum to one
    v: np.ndarray  # (N, L) per-token value score V w
    p: np.ndarray  # (L,) pooling vector
    a_bar: np.ndarray  # (N, d) attention-weighted pooled token p^T A X
    f: np.ndarray  # (N,)


class AttentionModel:
    r"""Single-head softmax attention with a linear read-out and hand-written gradients.

    ``f(X) = w . (p^T A V)`` with ``A = row-softmax(X W_Q (X W_K)^T / sqrt(d_k))`` and
    ``V = X W_V``; see the module docstring for the closed-form gradients.

    Parameters
    ----------
    d : int
        Token (feature) dimension, >= 1.
    d_k : int
        Query/key dimension, >= 1.
    d_v : int
        Value dimension, >= 1.
    pooling : {"mean", "last", "first"}
        Pooling vector p: (1/L) 1 (sentence-embedding style), e_L (GPT style, last token) or
        e_1 (CLS style, first token).
    rng : None, int, SeedSequence or Generator
        Source of the initial weights: every entry of W_Q, W_K (d x d_k), W_V (d x d_v) and
        w (d_v,) is drawn i.i.d. N(0, 1/d).

    Attributes
    ----------
    W_Q, W_K : ndarray, shape (d, d_k)
    W_V : ndarray, shape (d, d_v)
    w : ndarray, shape (d_v,)
    pooling : str

    Raises
    ------
    ValueError
        If a dimension is not a positive integer or ``pooling`` is unknown.

    Notes
    -----
    The model is treated as a value: :meth:`with_theta` and :meth:`pretrain` return new models
    and never modify this one. Use :meth:`from_params` for given weights (e.g. pretrained ones).

    References
    ----------
    Z. Sun and G. Raskutti, "A Theoretical Framework for LLM Fine-tuning Using Early Stopping
    for Non-random Initialization", arXiv:2602.13942 (2026): the attention NTK. The gradients
    are derived in the project's reference/ntk.md, sections 3 and 7.5.

    Examples
    --------
    >>> model = AttentionModel(4, 2, 3, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((5, 6, 4))
    >>> model.forward(X).shape, model.jacobian(X).shape, model.n_params()
    ((5,), (5, 31), 31)
    """

    def __init__(self, d: int, d_k: int, d_v: int, *, pooling: str = "mean", rng=None) -> None:
        d = check_int("d", d, 1)
        d_k = check_int("d_k", d_k, 1)
        d_v = check_int("d_v", d_v, 1)
        self.pooling = check_option("pooling", pooling, POOLINGS)
        rng = as_rng(rng)
        scale = 1.0 / math.sqrt(d)
        self.W_Q = scale * rng.standard_normal((d, d_k))
        self.W_K = scale * rng.standard_normal((d, d_k))
        self.W_V = scale * rng.standard_normal((d, d_v))
        self.w = scale * rng.standard_normal(d_v)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_params(
        cls,
        W_Q: Any,
        W_K: Any,
        W_V: Any,
        w: Any,
        *,
        pooling: str = "mean",
    ) -> AttentionModel:
        """A model with the given weights (copied).

        Parameters
        ----------
        W_Q, W_K : array_like, shape (d, d_k)
        W_V : array_like, shape (d, d_v)
        w : array_like, shape (d_v,)
        pooling : {"mean", "last", "first"}

        Raises
        ------
        ValueError
            If a weight is not a finite array or the shapes do not fit together.

        Examples
        --------
        >>> m = AttentionModel.from_params(np.ones((3, 2)), np.ones((3, 2)), np.eye(3), np.ones(3))
        >>> float(m.forward(np.eye(3)))
        1.0
        """
        W_Q = check_array("W_Q", W_Q, ndim=2)
        d, d_k = W_Q.shape
        W_K = check_array("W_K", W_K, shape=(d, d_k))
        W_V = check_array("W_V", W_V, shape=(d, None))
        w = check_array("w", w, shape=(W_V.shape[1],))
        for name, size in (("d", d), ("d_k", d_k), ("d_v", w.size)):
            check_int(name, size, 1)
        pooling = check_option("pooling", pooling, POOLINGS)
        return cls._trusted(W_Q.copy(), W_K.copy(), W_V.copy(), w.copy(), pooling)

    @classmethod
    def _trusted(cls, W_Q, W_K, W_V, w, pooling) -> AttentionModel:
        # Internal fast path: the caller guarantees shapes, dtype and ownership of the arrays.
        model = cls.__new__(cls)
        model.W_Q, model.W_K, model.W_V, model.w, model.pooling = W_Q, W_K, W_V, w, pooling
        return model

    def copy(self) -> AttentionModel:
        """An independent copy (the weights are copied)."""
        return AttentionModel.from_params(self.W_Q, self.W_K, self.W_V, self.w,
                                          pooling=self.pooling)

    def __repr__(self) -> str:
        return (f"AttentionModel(d={self.d}, d_k={self.d_k}, d_v={self.d_v}, "
                f"pooling={self.pooling!r})")

    # ------------------------------------------------------------------ parameters

    @property
    def d(self) -> int:
        """Token dimension."""
        return int(self.W_Q.shape[0])

    @property
    def d_k(self) -> int:
        """Query/key dimension."""
        return int(self.W_Q.shape[1])

    @property
    def d_v(self) -> int:
        """Value dimension."""
        return int(self.W_V.shape[1])

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Copies of the weights keyed by block name, in order q, k, v, w."""
        return {b: getattr(self, _ATTRIBUTES[b]).copy() for b in BLOCKS}

    @property
    def theta(self) -> np.ndarray:
        """All weights as one flat vector: row-major W_Q, W_K, W_V, then w."""
        return np.concatenate([getattr(self, _ATTRIBUTES[b]).ravel() for b in BLOCKS])

    def _block_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"q": self.W_Q.shape, "k": self.W_K.shape, "v": self.W_V.shape, "w": self.w.shape}

    def n_params(self, blocks: Sequence[str] = BLOCKS) -> int:
        """Number of parameters in the chosen blocks, P = 2 d d_k + d d_v + d_v for all four.

        Raises
        ------
        ValueError
            If ``blocks`` is not a non-empty subset of ("q", "k", "v", "w").
        """
        shapes = self._block_shapes()
        return sum(math.prod(shapes[b]) for b in _check_blocks(blocks))

    def block_slices(self, blocks: Sequence[str] = BLOCKS) -> dict[str, slice]:
        """Where each chosen block sits in a flat vector (``theta``, a Jacobian row, a task vector).

        Examples
        --------
        >>> AttentionModel(4, 2, 3, rng=0).block_slices(("v", "q"))
        {'q': slice(0, 8, None), 'v': slice(8, 20, None)}
        """
        shapes = self._block_shapes()
        out, start = {}, 0
        for b in _check_blocks(blocks):
            size = math.prod(shapes[b])
            out[b] = slice(start, start + size)
            start += size
        return out

    def with_theta(self, theta: Any, *, blocks: Sequence[str] = BLOCKS) -> AttentionModel:
        """A new model whose chosen blocks are read from the flat vector ``theta``.

        Parameters
        ----------
        theta : array_like, shape (n_params(blocks),)
            Concatenated row-major weights of the chosen blocks, in order q, k, v, w.
        blocks : subset of ("q", "k", "v", "w")
            Blocks to replace; the others are copied from this model.

        Returns
        -------
        AttentionModel
            This model is not modified.

        Raises
        ------
        ValueError
            If ``theta`` has the wrong length or ``blocks`` is invalid.

        Examples
        --------
        >>> m = AttentionModel(4, 2, 3, rng=0)
        >>> bool(np.array_equal(m.with_theta(m.theta).theta, m.theta))
        True
        """
        blocks = _check_blocks(blocks)
        theta = check_array("theta", theta, shape=(self.n_params(blocks),))
        return self._replace(theta, blocks)

    def _replace(self, theta: np.ndarray, blocks: tuple[str, ...]) -> AttentionModel:
        weights = self.params
        for b, s in self.block_slices(blocks).items():
            weights[b] = theta[s].reshape(weights[b].shape).copy()
        return AttentionModel._trusted(*weights.values(), self.pooling)

    # ------------------------------------------------------------------ forward and backward

    def _check_inputs(self, name: str, X: Any, *, single: bool = False) -> np.ndarray:
        X = check_array(name, X, ndim=(2, 3) if single else 3)
        if X.shape[-1] != self.d or X.shape[-2] < 1:
            lead = "(L, d) or (N, L, d)" if single else "(N, L, d)"
            raise ValueError(
                f"{name} must have shape {lead} with L >= 1 and d = {self.d}; got {X.shape}"
            )
        return X

    def _pass(self, X: np.ndarray) -> _Pass:
        Q, K, V = X @ self.W_Q, X @ self.W_K, X @ self.W_V
        A = _softmax_rows(Q @ K.transpose(0, 2, 1) / math.sqrt(self.d_k))
        p = _pooling_vector(self.pooling, X.shape[1])
        pooled_row = np.einsum("l,nlm->nm", p, A)
        a_bar = np.einsum("nm,nmd->nd", pooled_row, X)
        v = V @ self.w
        f = np.einsum("nm,nm->n", pooled_row, v)
        return _Pass(X=X, Q=Q, K=K, V=V, A=A, v=v, p=p, a_bar=a_bar, f=f)

    def _gradients(
        self, fp: _Pass, blocks: tuple[str, ...], weights: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Per-example gradients (leading axis N), or sum_n weights[n] grad f(X_n) if weighted.

        The weighted form is J^T weights without building J, which is what gradient descent
        needs; both share the closed forms so the two cannot drift apart.
        """
        summed = weights is not None
        a_bar = fp.a_bar * weights[:, None] if summed else fp.a_bar
        out: dict[str, np.ndarray] = {}
        if "q" in blocks or "k" in blocks:
            mean_v = np.einsum("nlm,nm->nl", fp.A, fp.v)  # attention-weighted score per row
            G = fp.p[None, :, None] * fp.A * (fp.v[:, None, :] - mean_v[:, :, None])
            if summed:
                G = G * weights[:, None, None]
            scale = 1.0 / math.sqrt(self.d_k)
            if "q" in blocks:
                out["q"] = _x_transpose_times(fp.X, G @ fp.K, summed) * scale
            if "k" in blocks:
                out["k"] = _x_transpose_times(fp.X, G.transpose(0, 2, 1) @ fp.Q, summed) * scale
        if "v" in blocks:
            out["v"] = np.multiply.outer(a_bar.sum(axis=0) if summed else a_bar, self.w)
        if "w" in blocks:
            out["w"] = (a_bar.sum(axis=0) if summed else a_bar) @ self.W_V
        return {b: out[b] for b in blocks}

    def forward(self, X: Any) -> np.ndarray:
        """Outputs f(X) = w . (p^T A V).

        Parameters
        ----------
        X : array_like, shape (N, L, d) or (L, d)
            A batch of token sequences, or a single one.

        Returns
        -------
        ndarray, shape (N,) or ()
            One output per sequence; a 0-d array for a single (L, d) input.

        Raises
        ------
        ValueError
            If ``X`` is not a finite array of shape (N, L, d) or (L, d) with this model's d.

        References
        ----------
        Sun & Raskutti, arXiv:2602.13942; reference/ntk.md section 3 ("Model").

        Examples
        --------
        >>> model = AttentionModel(4, 2, 3, rng=0)
        >>> X = np.random.default_rng(1).standard_normal((5, 6, 4))
        >>> bool(np.isclose(model.forward(X[2]), model.forward(X)[2]))
        True
        """
        X = self._check_inputs("X", X, single=True)
        if X.ndim == 2:
            return self._pass(X[None]).f.reshape(())
        return self._pass(X).f

    def jacobian(self, X: Any, blocks: Sequence[str] = BLOCKS) -> np.ndarray:
        """Per-example gradients of f with respect to the chosen blocks.

        Parameters
        ----------
        X : array_like, shape (N, L, d) or (L, d)
        blocks : subset of ("q", "k", "v", "w")
            Blocks to differentiate; any order is normalised to q, k, v, w.

        Returns
        -------
        ndarray, shape (N, P) or (P,)
            Row n is grad f(X_n), each block flattened row-major and the blocks concatenated
            in order q, k, v, w (``block_slices`` gives the positions); P = n_params(blocks).

        Raises
        ------
        ValueError
            If ``X`` has the wrong shape or ``blocks`` is invalid.

        References
        ----------
        Closed forms of reference/ntk.md sections 3 ("Backward pass") and 7.5.

        Examples
        --------
        >>> model = AttentionModel(4, 2, 3, rng=0)
        >>> X = np.random.default_rng(1).standard_normal((5, 6, 4))
        >>> model.jacobian(X, blocks=("w", "v")).shape
        (5, 15)
        """
        blocks = _check_blocks(blocks)
        X = self._check_inputs("X", X, single=True)
        single = X.ndim == 2
        Xb = X[None] if single else X
        grads = self._gradients(self._pass(Xb), blocks)
        J = np.concatenate([g.reshape(Xb.shape[0], -1) for g in grads.values()], axis=1)
        return J[0] if single else J

    def entk(self, X1: Any, X2: Any = None, blocks: Sequence[str] = BLOCKS) -> np.ndarray:
        """Raw empirical NTK K(X1, X2) = J(X1) J(X2)^T at the current weights.

        Parameters
        ----------
        X1 : array_like, shape (N1, L1, d)
        X2 : array_like, shape (N2, L2, d), optional
            Defaults to ``X1``; the result is then exactly symmetric.
        blocks : subset of ("q", "k", "v", "w")
            Trained blocks; the kernel is the sum of their block kernels.

        Returns
        -------
        ndarray, shape (N1, N2)
            Unnormalised kernel; divide by n for the K_n of kernel gradient descent.

        Raises
        ------
        ValueError
            If an input has the wrong shape or ``blocks`` is invalid.

        References
        ----------
        Sun & Raskutti, arXiv:2602.13942; reference/ntk.md sections 2 and 3.

        Examples
        --------
        >>> model = AttentionModel(4, 2, 3, rng=0)
        >>> X = np.random.default_rng(1).standard_normal((5, 6, 4))
        >>> K = model.entk(X)
        >>> K.shape, bool(np.array_equal(K, K.T)), bool(np.linalg.eigvalsh(K).min() > -1e-10)
        ((5, 5), True, True)
        """
        blocks = _check_blocks(blocks)
        X1 = self._check_inputs("X1", X1)
        J1 = self.jacobian(X1, blocks)
        if X2 is None:
            return _symmetric_gram(J1)
        return J1 @ self.jacobian(self._check_inputs("X2", X2), blocks).T

    def block_kernels(self, X1: Any, X2: Any = None) -> dict[str, np.ndarray]:
        """The eNTK split by parameter block: Theta_Q, Theta_K, Theta_V, Theta_w.

        Parameters
        ----------
        X1 : array_like, shape (N1, L1, d)
        X2 : array_like, shape (N2, L2, d), optional
            Defaults to ``X1``.

        Returns
        -------
        dict of str to ndarray, shape (N1, N2)
            Keys "q", "k", "v", "w"; ``entk(X1, X2, blocks)`` is the sum over ``blocks``.

        Raises
        ------
        ValueError
            If an input has the wrong shape.

        References
        ----------
        reference/ntk.md section 3 ("NTK = sum of block kernels"), e.g.
        Theta_V = ||w||^2 a_bar a_bar'^T and Theta_w = a_bar W_V W_V^T a_bar'^T.

        Examples
        --------
        >>> model = AttentionModel(4, 2, 3, rng=0)
        >>> X = np.random.default_rng(1).standard_normal((5, 6, 4))
        >>> parts = model.block_kernels(X)
        >>> bool(np.allclose(sum(parts.values()), model.entk(X)))
        True
        """
        X1 = self._check_inputs("X1", X1)
        J1 = self.jacobian(X1)
        J2 = None if X2 is None else self.jacobian(self._check_inputs("X2", X2))
        out = {}
        for b, s in self.block_slices().items():
            out[b] = _symmetric_gram(J1[:, s]) if J2 is None else J1[:, s] @ J2[:, s].T
        return out

    # ------------------------------------------------------------------ training

    def pretrain(
        self,
        X: Any,
        y: Any,
        steps: int,
        learning_rate: float,
        *,
        blocks: Sequence[str] = BLOCKS,
        return_losses: bool = False,
    ) -> AttentionModel | tuple[AttentionModel, np.ndarray]:
        """Full-batch gradient descent on (1/2N) sum_n (f(X_n) - y_n)^2: a non-random theta0.

        Parameters
        ----------
        X : array_like, shape (N, L, d)
            Training inputs (a teacher task), N >= 1.
        y : array_like, shape (N,)
            Targets.
        steps : int
            Number of gradient steps, >= 0.
        learning_rate : float
            Step size, > 0.
        blocks : subset of ("q", "k", "v", "w")
            Blocks that move; the others stay at this model's values.
        return_losses : bool
            Also return the loss before each step and after the last one.

        Returns
        -------
        model : AttentionModel
            The trained model; this one is not modified.
        losses : ndarray, shape (steps + 1,)
            Only if ``return_losses``. If the loss stops being finite (step size too large),
            training stops there, the later entries are nan and ``model`` holds the last
            parameters with a finite loss.

        Raises
        ------
        ValueError
            If a shape, ``steps``, ``learning_rate`` or ``blocks`` is invalid.

        References
        ----------
        reference/ntk.md sections 2 ("Loss and GD") and 7.5 ("Pretrained theta0"). The gradient
        is J^T (f - y) / N with the hand-written Jacobian, contracted without forming J.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X, y = rng.standard_normal((8, 5, 4)), rng.standard_normal(8)
        >>> model, losses = AttentionModel(4, 2, 3, rng=1).pretrain(X, y, 50, 0.5,
        ...                                                         return_losses=True)
        >>> losses.shape, bool(losses[-1] < losses[0])
        ((51,), True)
        """
        blocks = _check_blocks(blocks)
        X = self._check_inputs("X", X)
        n = X.shape[0]
        check_int("number of examples in X", n, 1)
        y = _check_targets("y", y, n)
        steps = check_int("steps", steps, 0)
        learning_rate = check_real("learning_rate", learning_rate, 0.0, lo_open=True)

        model = previous = self
        losses = np.full(steps + 1, np.nan)
        # An overshooting step size makes f overflow; that is reported through nan losses.
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(steps + 1):
                fp = model._pass(X)
                residual = fp.f - y
                loss = 0.5 * float(np.mean(residual**2))
                if not math.isfinite(loss):
                    model = previous
                    break
                losses[t] = loss
                if t == steps:
                    break
                grads = model._gradients(fp, blocks, weights=residual / n)
                step = np.concatenate([g.ravel() for g in grads.values()])
                previous = model
                theta = np.concatenate([getattr(model, _ATTRIBUTES[b]).ravel() for b in blocks])
                model = model._replace(theta - learning_rate * step, blocks)
        if model is self:
            model = self.copy()
        return (model, losses) if return_losses else model


def _x_transpose_times(X: np.ndarray, Y: np.ndarray, summed: bool) -> np.ndarray:
    """X_n^T Y_n per example, shape (N, d, m), or summed over n, shape (d, m)."""
    if summed:
        return X.reshape(-1, X.shape[-1]).T @ Y.reshape(-1, Y.shape[-1])
    return X.transpose(0, 2, 1) @ Y


def _symmetric_gram(J: np.ndarray) -> np.ndarray:
    # BLAS may round the two triangles of J J^T differently; a kernel must be exactly symmetric.
    G = J @ J.T
    return 0.5 * (G + G.T)


def _check_targets(name: str, y: Any, n: int) -> np.ndarray:
    y = check_array(name, y, ndim=1)
    if y.shape[0] != n:
        raise ValueError(f"{name} must have {n} entries; got {y.shape[0]}")
    return y
