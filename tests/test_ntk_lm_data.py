"""The shipped eNTK of a real pretrained model loads and is sane (no torch needed)."""

import numpy as np

from explorer import ntk
from explorer.ntk.lm import read_sentences


def test_shipped_language_model_kernel_is_sane():
    lm = ntk.language_model_kernel()
    n = lm.eigenvalues.size
    assert lm.coef.shape == lm.f0.shape == lm.y.shape == (n,)
    assert np.all(lm.eigenvalues >= 0) and np.all(np.diff(lm.eigenvalues) <= 0)
    assert np.all(np.isfinite(lm.coef)) and set(np.unique(lm.y)) == {-1.0, 1.0}
    # the residual coefficients carry y - f0: their norm is its RMS (U is orthogonal)
    assert np.isclose(np.sum(lm.coef**2), np.mean((lm.y - lm.f0) ** 2), rtol=1e-10)
    assert lm.n_params > n and 0 < lm.R < np.inf
    assert "MiniLM" in lm.model and "W_Q" in lm.blocks
    # a pretrained head beats chance on the fine-tuning sentences
    assert np.mean(np.sign(lm.f0) == lm.y) > 0.6


def test_sentences_ship_with_labels_and_match_the_kernel():
    sentences, labels = read_sentences()
    assert len(sentences) == len(labels) and set(labels) == {0, 1}
    lm = ntk.language_model_kernel()
    assert len(sentences) > lm.eigenvalues.size        # the rest fitted the pretrained head
    assert np.array_equal(2 * labels[-lm.y.size:] - 1, lm.y)
