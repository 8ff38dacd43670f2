r"""Task vectors of the linearised attention model around a pretrained theta0, and how they add.

Fine-tuning task k by gradient descent in the linearised model moves the parameters by
tau_k = J_k^T a_k with a_k <- a_k + (alpha / n_k)(r_k - K_k a_k); its effect on any input is
g_k(x) = K(x, X_k) a_k, so adding task vectors adds functions, and the cross-kernel block
K(X_j, X_k) measures how much task k disturbs task j (reference/ntk.md section 5, derived for
this project; Sun & Raskutti, arXiv:2602.13942, read task arithmetic in this NTK lens).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._common import _frozen_array, _short_repr, check_array, check_int, check_real
from ._attention import BLOCKS, AttentionModel, _check_blocks, _check_targets, _symmetric_gram

__all__ = ["TaskVectors", "task_vectors"]


def _frozen(a: np.ndarray) -> np.ndarray:
    return _frozen_array("array", np.asarray(a, dtype=float))


# --------------------------------------------------------------------------- task vectors


@dataclass(frozen=True)
class TaskVectors:
    r"""Task vectors of the linearised model around theta0, and how they interfere.

    Built by :func:`task_vectors`. Task k has inputs X_k (n_k of them), targets y_k,
    coefficients a_k and task vector tau_k = J_k^T a_k; its function-space effect is
    g_k(x) = K(x, X_k) a_k = grad f(x; theta0) . tau_k.

    Attributes
    ----------
    coefficients : tuple of ndarray, shapes (n_k,)
        a_k, the kernel-GD coefficients of each task.
    vectors : tuple of ndarray, shapes (P,)
        tau_k over the chosen blocks (positions given by ``model.block_slices(blocks)``).
    interference : ndarray, shape (T, T)
        ``[j, k]`` = ||K(X_j, X_k) a_k|| / sqrt(n_j): the RMS change task k's vector makes to
        task j's predictions. The diagonal is the RMS of each task's own fitted change.
    cross_kernel_mass : ndarray, shape (T, T)
        ``[j, k]`` = ||K(X_j, X_k)||_F / sqrt(n_j n_k), the function-space task similarity.
    weight_cosine : ndarray, shape (T, T)
        Cosine similarity of the tau_k (nan where a task vector is zero).
    model : AttentionModel
        theta0.
    blocks : tuple of str
        The blocks that were fine-tuned.
    inputs, targets : tuple of ndarray
        X_k and y_k.
    baselines : tuple of ndarray, shapes (n_k,)
        f0(X_k), the pretrained predictions.
    effects : tuple of tuple of ndarray
        ``effects[j][k]`` = K(X_j, X_k) a_k, shape (n_j,).

    References
    ----------
    Sun & Raskutti, arXiv:2602.13942 (task vectors in the NTK lens); the identities are derived
    in reference/ntk.md section 5.
    """

    coefficients: tuple[np.ndarray, ...] = field(repr=False)
    vectors: tuple[np.ndarray, ...] = field(repr=False)
    interference: np.ndarray
    cross_kernel_mass: np.ndarray
    weight_cosine: np.ndarray
    model: AttentionModel = field(repr=False)
    blocks: tuple[str, ...] = field(repr=False)
    inputs: tuple[np.ndarray, ...] = field(repr=False)
    targets: tuple[np.ndarray, ...] = field(repr=False)
    baselines: tuple[np.ndarray, ...] = field(repr=False)
    effects: tuple[tuple[np.ndarray, ...], ...] = field(repr=False)

    @property
    def n_tasks(self) -> int:
        """Number of tasks T."""
        return len(self.vectors)

    def _check_weights(self, weights: Any) -> np.ndarray:
        return check_array("weights", weights, shape=(self.n_tasks,))

    def combined(self, weights: Any) -> np.ndarray:
        """The parameter-space displacement sum_k weights[k] tau_k, shape (P,)."""
        weights = self._check_weights(weights)
        return np.asarray(weights @ np.stack(self.vectors))

    def predict(self, X: Any, weights: Any) -> np.ndarray:
        """Linearised prediction of theta0 + sum_k c_k tau_k: f0(X) + sum_k c_k K(X, X_k) a_k.

        Parameters
        ----------
        X : array_like, shape (N, L, d)
        weights : array_like, shape (T,)
            The c_k; e_k gives task k alone, -e_k negates it.

        Returns
        -------
        ndarray, shape (N,)

        Raises
        ------
        ValueError
            If ``X`` or ``weights`` has the wrong shape.
        """
        delta = self.combined(weights)
        X = self.model._check_inputs("X", X)
        # grad f(x) . sum c_k tau_k equals sum c_k K(x, X_k) a_k without any N x n_k kernel.
        return self.model.forward(X) + self.model.jacobian(X, self.blocks) @ delta

    def errors(self, weights: Any) -> np.ndarray:
        """Per-task RMS error of :meth:`predict` on the task's own inputs, shape (T,).

        Raises
        ------
        ValueError
            If ``weights`` does not have T entries.
        """
        weights = self._check_weights(weights)
        out = np.empty(self.n_tasks)
        for j in range(self.n_tasks):
            change = sum(c * g for c, g in zip(weights, self.effects[j], strict=True))
            out[j] = math.sqrt(np.mean((self.baselines[j] + change - self.targets[j]) ** 2))
        return out

    def merged_model(self, weights: Any) -> AttentionModel:
        """The (nonlinear) model at theta0 + sum_k weights[k] tau_k, to compare with predict."""
        delta = self.combined(weights)
        theta0 = np.concatenate([self.model.params[b].ravel() for b in self.blocks])
        return self.model.with_theta(theta0 + delta, blocks=self.blocks)


def task_vectors(
    model: AttentionModel,
    tasks: Sequence[tuple[Any, Any]],
    *,
    steps: int,
    learning_rate: float,
    blocks: Sequence[str] = BLOCKS,
) -> TaskVectors:
    r"""Fine-tune the linearised model on each task from theta0 and compare the task vectors.

    For task k with residual r_k = y_k - f0(X_k) and raw kernel K_k = J_k J_k^T, gradient
    descent with step alpha on (1/2 n_k) ||f - y_k||^2 in the linearised model moves theta by
    tau_k = J_k^T a_k, where

    .. math:: a_k \leftarrow a_k + \frac{\alpha}{n_k}(r_k - K_k a_k),\quad a_k^{(0)} = 0,

    i.e. a_k = (alpha/n_k) sum_{j < steps} (I - alpha K_k / n_k)^j r_k; no pseudo-inverse.

    Parameters
    ----------
    model : AttentionModel
        The pretrained model theta0 to linearise around.
    tasks : sequence of (X_k, y_k)
        X_k of shape (n_k, L_k, d) and y_k of shape (n_k,), n_k >= 1.
    steps : int
        Gradient steps per task, >= 0 (early stopping).
    learning_rate : float
        alpha > 0. The recursion is stable for alpha < 2 / lambda_max(K_k / n_k).
    blocks : subset of ("q", "k", "v", "w")
        Fine-tuned blocks; the others stay frozen.

    Returns
    -------
    TaskVectors

    Raises
    ------
    ValueError
        If ``model`` is not an AttentionModel, ``tasks`` is empty or a task has inconsistent
        shapes (the message names ``tasks[k]``), or ``steps``, ``learning_rate`` or ``blocks``
        is invalid.

    References
    ----------
    Sun & Raskutti, arXiv:2602.13942; reference/ntk.md sections 5 and 7.5 (task vectors).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> model = AttentionModel(4, 2, 3, rng=1)
    >>> tasks = [(rng.standard_normal((6, 5, 4)), rng.standard_normal(6)) for _ in range(2)]
    >>> tv = task_vectors(model, tasks, steps=20, learning_rate=0.5)
    >>> tv.interference.shape, tv.vectors[0].shape
    ((2, 2), (31,))
    """
    if not isinstance(model, AttentionModel):
        raise ValueError(f"model must be an AttentionModel; got {type(model).__name__}")
    blocks = _check_blocks(blocks)
    steps = check_int("steps", steps, 0)
    alpha = check_real("learning_rate", learning_rate, 0.0, lo_open=True)
    if isinstance(tasks, str | bytes) or not isinstance(tasks, Sequence) or not tasks:
        raise ValueError(
            f"tasks must be a non-empty sequence of (X, y) pairs; got {_short_repr(tasks)}"
        )

    inputs, targets = [], []
    for k, task in enumerate(tasks):
        if not isinstance(task, Sequence) or len(task) != 2:
            raise ValueError(f"tasks[{k}] must be an (X, y) pair; got {type(task).__name__}")
        X = model._check_inputs(f"tasks[{k}]: X", task[0])
        check_int(f"tasks[{k}]: number of examples in X", X.shape[0], 1)
        inputs.append(X)
        targets.append(_check_targets(f"tasks[{k}]: y", task[1], X.shape[0]))

    sizes = [X.shape[0] for X in inputs]
    bounds = np.cumsum([0, *sizes])
    parts = [slice(bounds[k], bounds[k + 1]) for k in range(len(sizes))]
    # One Jacobian for all tasks gives every cross-kernel block K(X_j, X_k) from one product.
    J = np.concatenate([model.jacobian(X, blocks) for X in inputs])
    K = _symmetric_gram(J)
    baselines = [model.forward(X) for X in inputs]

    coefficients = []
    for s, y, f0 in zip(parts, targets, baselines, strict=True):
        K_k, r, n = K[s, s], y - f0, y.shape[0]
        a = np.zeros(n)
        for _ in range(steps):
            a = a + (alpha / n) * (r - K_k @ a)
        coefficients.append(a)

    vectors = [J[s].T @ a for s, a in zip(parts, coefficients, strict=True)]
    effects = tuple(
        tuple(_frozen(K[sj, sk] @ a) for sk, a in zip(parts, coefficients, strict=True))
        for sj in parts
    )
    T = len(parts)
    interference = np.array(
        [[np.linalg.norm(effects[j][k]) / math.sqrt(sizes[j]) for k in range(T)]
         for j in range(T)]
    )
    mass = np.array(
        [[np.linalg.norm(K[sj, sk]) / math.sqrt(sizes[j] * sizes[k])
          for k, sk in enumerate(parts)] for j, sj in enumerate(parts)]
    )
    V = np.stack(vectors)
    norms = np.linalg.norm(V, axis=1)
    # A zero task vector (steps = 0 or a perfect f0) has no direction: its cosines are nan.
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = (V @ V.T) / np.outer(norms, norms)

    return TaskVectors(
        coefficients=tuple(_frozen(a) for a in coefficients),
        vectors=tuple(_frozen(v) for v in vectors),
        interference=_frozen(interference),
        cross_kernel_mass=_frozen(mass),
        weight_cosine=_frozen(cosine),
        model=model.copy(),
        blocks=blocks,
        inputs=tuple(_frozen(X) for X in inputs),
        targets=tuple(_frozen(y) for y in targets),
        baselines=tuple(_frozen(f) for f in baselines),
        effects=effects,
    )
