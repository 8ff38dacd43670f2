"""Escape of joint (p, q) estimation from the collapse, against the first-sweep gap.

References: the closed form of the guess, the exact collapse at g = 0 (t = 0), the label-swap
symmetry g <-> -g, ``bcavi(..., estimate=True, p=p_hat, q=q_hat)`` (the documented way to give
the first sweep a guess), and a naive dense implementation of the population dynamics."""

import numpy as np
import pytest
from scipy.special import expit

from explorer import sbm

#: Shares of R starts are multiples of 1/R: equal shares are compared exactly.
EXACT = 0.0


def test_guess_is_split_around_the_density():
    ph, qh = sbm.first_sweep_guess(np.array([0.0, 0.25, -0.5]), 0.2)
    assert np.allclose(ph, [0.2, 0.25, 0.1]) and np.allclose(qh, [0.2, 0.15, 0.3])
    assert np.allclose((ph + qh) / 2, 0.2)
    p_hat, q_hat = sbm.first_sweep_guess(sbm.truth_gap(0.3, 0.1), 0.2)   # rho = (p + q) / 2
    assert (p_hat, q_hat) == pytest.approx((0.3, 0.1))
    with pytest.raises(ValueError, match=r"gap must be in \(-1, 1\); got 1"):
        sbm.first_sweep_guess(1.0, 0.2)
    with pytest.raises(ValueError, match="rho must be in"):
        sbm.first_sweep_guess(0.1, 0.0)
    with pytest.raises(ValueError, match="gap must be below 1/rho - 1"):
        sbm.first_sweep_guess(0.8, 0.6)


def test_expected_density_is_the_mean_off_diagonal_edge_probability():
    for n, p, q in [(4, 0.5, 0.2), (10, 0.3, 0.1), (36, 0.05, 0.01)]:
        P = sbm.population_matrix(n, p, q)
        assert sbm.expected_density(n, p, q) == pytest.approx(P.sum() / (n * (n - 1)))


@pytest.mark.parametrize("dynamics", sbm.DYNAMICS)
def test_no_gap_collapses_every_start_and_the_sign_of_the_gap_does_not_matter(dynamics):
    gaps = [0.0, 0.3, -0.3, 0.6, -0.6]
    r = sbm.escape_share(600, 0.3, 0.1, gaps, dynamics=dynamics, starts=24, rng=3)
    assert r["truth"][0] == 0.0 and r["collapsed"][0] == 1.0     # t = 0: psi = 1/2 at once
    assert abs(r["truth"][1] - r["truth"][2]) <= EXACT
    assert abs(r["truth"][3] - r["truth"][4]) <= EXACT
    assert abs(r["collapsed"][1] - r["collapsed"][2]) <= EXACT
    assert np.all(r["truth"] + r["collapsed"] <= 1.0)
    assert r["gap_truth"] == pytest.approx(0.5)


def test_same_as_bcavi_given_the_guess_for_its_first_sweep():
    n, p, q, R = 500, 0.3, 0.1, 16
    gaps = [0.2, 0.5]
    r = sbm.escape_share(n, p, q, gaps, dynamics="sampled", starts=R, rng=11)
    # The same draws in the same order: the graph, then the starts.
    rng = np.random.default_rng(11)
    A, labels = sbm.sample_graph(n, p, q, rng=rng)
    psi0 = sbm.initial_psi("uniform", n, R, rng=rng)
    rho = A.sum() / (n * (n - 1))
    for k, g in enumerate(gaps):
        end = sbm.bcavi(A, psi0, estimate=True, p=rho * (1 + g), q=rho * (1 - g),
                        max_iter=101, tol=1e-10).final
        truth = np.mean(sbm.accuracy(end, labels) >= sbm.TRUTH_ACCURACY)
        collapsed = np.mean(np.max(np.abs(end - 0.5), axis=0) < sbm.COLLAPSED)
        assert (r["truth"][k], r["collapsed"][k]) == (truth, collapsed)
        assert r["p_hat"][k] == pytest.approx(rho * (1 + g))


def _dense_joint(n, p, q, psi, p_hat, q_hat, sweeps):
    """Population joint updates with dense matrices: first step with the guess, then M-steps."""
    P = sbm.population_matrix(n, p, q)
    off = 1.0 - np.eye(n)
    for k in range(sweeps):
        if k > 0:
            Q = 1 - psi
            same = psi @ P @ psi + Q @ P @ Q
            p_hat = same / (psi @ off @ psi + Q @ off @ Q)
            q_hat = (Q @ P @ psi) / (Q @ off @ psi)
        l1 = np.log(p_hat / q_hat) + np.log((1 - q_hat) / (1 - p_hat))    # 2t
        l2 = np.log((1 - q_hat) / (1 - p_hat))                            # 2t lam
        psi = expit(2 * l1 * (P @ (psi - 0.5)) - 2 * l2 * (off @ (psi - 0.5)))
    return psi


def test_population_outcomes_match_a_dense_reference():
    n, p, q, R = 200, 0.3, 0.1, 12
    gaps = [0.1, 0.3, 0.5]
    r = sbm.escape_share(n, p, q, gaps, starts=R, rng=5, max_iter=200)
    psi0 = sbm.initial_psi("uniform", n, R, rng=np.random.default_rng(5))
    m = n // 2
    rho = (m * (m - 1) * p + m * m * q) / (n * (n - 1) / 2)
    labels = np.repeat([0, 1], m)
    for k, g in enumerate(gaps):
        ends = np.column_stack([_dense_joint(n, p, q, psi0[:, j], rho * (1 + g), rho * (1 - g),
                                             200) for j in range(R)])
        want = np.mean(sbm.accuracy(ends, labels) >= sbm.TRUTH_ACCURACY)
        assert r["truth"][k] == want, (g, r["truth"][k], want)


def test_escape_share_validation_and_cancel():
    with pytest.raises(ValueError, match="dynamics must be one of 'population'"):
        sbm.escape_share(100, 0.3, 0.1, [0.1], dynamics="graph")
    with pytest.raises(ValueError, match="gaps must have 0 or 1 dimension"):
        sbm.escape_share(100, 0.3, 0.1, [[0.1]])

    class Stop:
        def __init__(self):
            self.calls = 0

        def is_set(self):
            self.calls += 1
            return self.calls > 2

    seen = []
    r = sbm.escape_share(100, 0.3, 0.1, [0.1, 0.2, 0.3, 0.4], starts=4, rng=0, cancel=Stop(),
                         on_progress=lambda d, t: seen.append((d, t)))
    assert r["gap"].tolist() == [0.1, 0.2] and r["truth"].size == 2 and seen == [(1, 4), (2, 4)]
