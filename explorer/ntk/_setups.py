"""Ready-made experiments on the toy attention model: its empirical NTK at a pretrained or a
random theta0, and synthetic multi-task data for task vectors (reference/ntk.md sections 5,
6 and 7.5). They return plain arrays and results, so the app only displays them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._common import as_rng, check_int, check_option, check_real
from ._attention import AttentionModel
from ._taskvectors import TaskVectors, task_vectors

__all__ = ["AttentionKernel", "LanguageModelKernel", "THETA0", "attention_kernel",
           "attention_theta0",
           "language_model_kernel", "synthetic_tasks", "task_experiment"]

THETA0 = ("pretrained", "random")


@dataclass(frozen=True)
class AttentionKernel:
    """The empirical NTK of the attention read-out on n inputs.

    Attributes
    ----------
    eigenvalues : ndarray, shape (n,)
        Eigenvalues of K_n = J J^T / n, descending (clipped at 0).
    K : ndarray, shape (n, n)
        The raw kernel J J^T over the chosen blocks.
    f0 : ndarray, shape (n,)
        The model's predictions at theta0 (the start of fine-tuning).
    model : AttentionModel
        theta0.
    X : ndarray, shape (n, L, d)
        The inputs.
    pretrain_losses : ndarray
        Loss per pretraining step (empty for a random theta0).
    """

    eigenvalues: np.ndarray
    K: np.ndarray
    f0: np.ndarray
    model: AttentionModel
    X: np.ndarray
    pretrain_losses: np.ndarray


def attention_kernel(n: int, *, d: int = 16, length: int = 8, blocks=("q", "k", "v", "w"),
                     theta0: str = "pretrained", steps: int = 200, learning_rate: float = 0.5,
                     rng=None) -> AttentionKernel:
    """The eNTK of a single-head attention read-out at a pretrained (or random) theta0.

    theta0 "pretrained": gradient descent for ``steps`` steps on a teacher task (a second,
    random attention model's outputs on separate inputs), so theta0 is fixed by data and not
    by a random draw alone; "random": the random initialization itself. The kernel is
    computed on n fresh inputs X ~ N(0, 1).

    Examples
    --------
    >>> ak = attention_kernel(20, d=4, length=3, steps=5, rng=0)
    >>> ak.eigenvalues.shape, bool(np.all(np.diff(ak.eigenvalues) <= 0))
    ((20,), True)
    """
    rng = as_rng(rng)
    model, losses = attention_theta0(n, d=d, length=length, theta0=theta0, steps=steps,
                                     learning_rate=learning_rate, rng=rng)
    X = rng.standard_normal((n, length, d))
    K = model.entk(X, blocks=blocks)
    lam = np.sort(np.maximum(np.linalg.eigvalsh(K / n), 0.0))[::-1]
    return AttentionKernel(lam, K, model.forward(X), model, X, losses)


def attention_theta0(n: int, *, d: int = 16, length: int = 8, theta0: str = "pretrained",
                     steps: int = 200, learning_rate: float = 0.5,
                     rng=None) -> tuple[AttentionModel, np.ndarray]:
    """The theta0 of :func:`attention_kernel` without its kernel: (model, pretraining losses).

    Same arguments (``n`` sets the pretraining set, ``max(2 n, 64)`` inputs) and the same
    draws from ``rng`` in the same order, so ``attention_theta0(n, rng=s)[0]`` has the weights
    of ``attention_kernel(n, rng=s).model``; what needs only the model (task vectors) skips
    the kernel and its eigenvalues.

    Examples
    --------
    >>> model, losses = attention_theta0(20, d=4, length=3, steps=5, rng=0)
    >>> bool(np.array_equal(model.theta, attention_kernel(20, d=4, length=3, steps=5,
    ...                                                    rng=0).model.theta))
    True
    """
    n = check_int("n", n, 2, 5000)
    d = check_int("d", d, 1, 512)
    length = check_int("length", length, 1, 512)
    theta0 = check_option("theta0", theta0, THETA0)
    steps = check_int("steps", steps, 0, 100_000)
    learning_rate = check_real("learning_rate", learning_rate, 0.0, lo_open=True)
    rng = as_rng(rng)
    model = AttentionModel(d, d, d, rng=rng)
    if theta0 == "random":
        return model, np.empty(0)
    teacher = AttentionModel(d, d, d, rng=rng)
    X_pre = rng.standard_normal((max(2 * n, 64), length, d))
    return model.pretrain(X_pre, teacher.forward(X_pre), steps, learning_rate,
                          return_losses=True)


def synthetic_tasks(d: int, length: int, n_per_task: int, *, n_tasks: int = 2,
                    overlap: str = "disjoint", rng=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Regression tasks for task-vector experiments.

    Task k's inputs use only its own block of the d feature coordinates (``overlap =
    "disjoint"``, the others are zero) or all of them (``"shared"``); its target is a linear
    function of the mean-pooled tokens with a task-specific direction.

    Returns
    -------
    list of (X_k, y_k)
        X_k of shape (n_per_task, length, d), y_k of shape (n_per_task,).
    """
    d = check_int("d", d, 1, 4096)
    length = check_int("length", length, 1, 4096)
    n_per_task = check_int("n_per_task", n_per_task, 1, 1_000_000)
    n_tasks = check_int("n_tasks", n_tasks, 1, 8)
    overlap = check_option("overlap", overlap, ("disjoint", "shared"))
    if overlap == "disjoint" and d < n_tasks:
        raise ValueError(f"d must be >= n_tasks = {n_tasks} for disjoint tasks; got {d}")
    rng = as_rng(rng)
    edges = np.linspace(0, d, n_tasks + 1).round().astype(int)
    tasks = []
    for k in range(n_tasks):
        X = rng.standard_normal((n_per_task, length, d))
        if overlap == "disjoint":
            mask = np.zeros(d)
            mask[edges[k]:edges[k + 1]] = 1.0
            X = X * mask
        direction = rng.standard_normal(d) / np.sqrt(d)
        tasks.append((X, X.mean(axis=1) @ direction))
    return tasks


def task_experiment(model: AttentionModel, tasks, *, steps: int,
                    blocks=("q", "k", "v", "w")) -> TaskVectors:
    """Task vectors with a step that is stable for every task: 1 / max_k lam_1(K_k / n_k).

    Each task's fine-tuning is then monotone (no mode overshoots), so ``steps`` plays the part
    of the stopping time shared by all tasks.
    """
    top = max(float(np.linalg.eigvalsh(model.entk(X, blocks=blocks) / len(X))[-1])
              for X, _ in tasks)
    return task_vectors(model, tasks, steps=steps, learning_rate=1.0 / top, blocks=blocks)


#: Shipped with the package; written by ``python -m explorer.ntk.lm`` (the optional 'lm' extra).
LM_KERNEL_FILE = Path(__file__).resolve().parent / "data" / "minilm_entk.npz"


@dataclass(frozen=True)
class LanguageModelKernel:
    """The empirical NTK of a real pretrained sentence transformer, precomputed.

    Attributes
    ----------
    eigenvalues : ndarray, shape (n,)
        Eigenvalues of K_n = J J^T / n (descending).
    coef : ndarray, shape (n,)
        The residual y - f0 in the eigenbasis, divided by sqrt(n): real data, not a model.
    f0, y : ndarray, shape (n,)
        The pretrained head's predictions and the +-1 sentiment labels.
    R : float
        sqrt(sum coef^2 / lam) over the positive eigenvalues: the sample RKHS distance.
    model, blocks : str
        Which network and which parameters the kernel is over.
    n_params : int
    """

    eigenvalues: np.ndarray
    coef: np.ndarray
    f0: np.ndarray
    y: np.ndarray
    R: float
    model: str
    blocks: str
    n_params: int


def language_model_kernel(path: str | Path | None = None) -> LanguageModelKernel:
    """Load the precomputed eNTK of all-MiniLM-L6-v2's last attention layer.

    Written by :mod:`explorer.ntk.lm` (the optional 'lm' extra).
    """
    path = Path(path) if path is not None else LM_KERNEL_FILE
    if not path.is_file():
        raise ValueError(f"no language-model kernel at {path}; run python -m explorer.ntk.lm")
    with np.load(path, allow_pickle=False) as z:
        lam, coef = np.asarray(z["eigenvalues"], float), np.asarray(z["coef"], float)
        pos = lam > 1e-12 * lam.max()
        return LanguageModelKernel(
            eigenvalues=lam, coef=coef, f0=np.asarray(z["f0"], float),
            y=np.asarray(z["y"], float), R=float(np.sqrt(np.sum(coef[pos] ** 2 / lam[pos]))),
            model=str(z["model"]), blocks=str(z["blocks"]), n_params=int(z["n_params"]))
