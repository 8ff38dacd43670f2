"""Random starts: success probability by three methods, and the collapse of joint updates.

References: binomial tolerances between independent methods, the closed-form asymptote, the
small-deviation formula for the escape threshold, and the n-dimensional population BCAVI
(``bcavi("population", ...)``) as an independent code path for the block-plane dynamics."""

import concurrent.futures as cf

import numpy as np
import pytest

from explorer import sbm

Z = 3.5  # binomial z-score for comparisons of two independent estimates


def close_shares(a, ka, b, kb):
    pbar = (a * ka + b * kb) / (ka + kb)
    return abs(a - b) <= Z * np.sqrt(max(pbar * (1 - pbar), 1e-4) * (1 / ka + 1 / kb))


def test_initial_psi_distributions():
    n = 2000
    u = sbm.initial_psi("uniform", n, 8, rng=0)
    assert u.shape == (n, 8) and 0 <= u.min() and u.max() <= 1
    assert abs(u.var() - 1 / 12) < 0.005
    bern = sbm.initial_psi("bernoulli", n, rng=1)
    assert set(np.unique(bern)) == {0.0, 1.0}
    near = sbm.initial_psi("near_centre", n, eps=0.05, rng=2)
    assert np.all(np.abs(near - 0.5) <= 0.05)
    inf = sbm.initial_psi("informed", n, 50, correlation=0.6, rng=3)
    v = np.repeat([1.0, -1.0], n // 2)[:, None]
    assert abs(np.mean((2 * inf - 1) * v) - 0.6) < 0.01
    one = sbm.initial_psi("one_class", n, eps=0.1, rng=4)
    assert np.all(one >= 0.9)
    with pytest.raises(ValueError, match="init must be one of 'uniform'"):
        sbm.initial_psi("gaussian", n)


def test_asymptotic_formula_identities():
    for p, q in [(0.3, 0.1), (0.05, 0.01), (0.8, 0.4), (0.6, 0.5)]:
        t, lam = sbm.constants(p, q)
        P = sbm.success_probability(100, p, q, method="asymptotic")
        alt = 0.5 + 2 / np.pi * np.arctan(min(lam - q, p - lam) / max(lam - q, p - lam))
        assert P == pytest.approx(alt, rel=1e-12) and P > 0.5
    assert sbm.success_probability(100, 0.7, 0.3, method="asymptotic") == pytest.approx(1.0)


@pytest.mark.parametrize("n,p,q,init", [(2000, 0.3, 0.1, "uniform"), (600, 0.4, 0.2, "uniform"),
                                        (2000, 0.3, 0.1, "bernoulli"),
                                        (2000, 0.1, 0.06, "near_centre")])
def test_semianalytic_agrees_with_n_dimensional_monte_carlo(n, p, q, init):
    k_mc, k_sa = 1500, 20000
    mc = sbm.success_probability(n, p, q, init=init, n_inits=k_mc, rng=5)
    sa = sbm.success_probability(n, p, q, init=init, method="semianalytic", n_inits=k_sa, rng=6)
    assert close_shares(mc, k_mc, sa, k_sa), (mc, sa)


def test_semianalytic_approaches_the_asymptote_from_above():
    p, q, k = 0.3, 0.1, 40000
    asym = sbm.success_probability(10, p, q, method="asymptotic")
    shares = [sbm.success_probability(n, p, q, method="semianalytic", n_inits=k, rng=7)
              for n in (2_000, 200_000, 20_000_000)]
    se = np.sqrt(asym * (1 - asym) / k)
    assert shares[0] > shares[1] > shares[2] > asym - Z * se
    assert shares[2] - asym < shares[0] - asym


def test_monte_carlo_is_identical_on_a_process_pool():
    kw = dict(init="uniform", n_inits=200, chunk=50, rng=8)
    serial = sbm.success_probability(1000, 0.3, 0.1, **kw)
    with cf.ProcessPoolExecutor(2) as pool:
        assert sbm.success_probability(1000, 0.3, 0.1, executor=pool, **kw) == serial


def test_success_probability_validation():
    with pytest.raises(ValueError, match="method must be one of 'montecarlo'"):
        sbm.success_probability(100, 0.3, 0.1, method="exact")
    with pytest.raises(ValueError, match="init must be one of"):
        sbm.success_probability(100, 0.3, 0.1, init="informed")
    with pytest.raises(ValueError, match="n_inits"):
        sbm.success_probability(100, 0.3, 0.1, n_inits=0)


def test_joint_map_equals_n_dimensional_joint_bcavi():
    n, p, q = 60, 0.35, 0.1
    x, y = 0.58, 0.47
    psi = np.r_[np.full(n // 2, x), np.full(n // 2, y)]
    tr = _joint_population_bcavi(psi, n, p, q, sweeps=4)
    for k in range(1, 5):
        x, y, p_hat, q_hat = sbm.joint_population_map(x, y, n=n, p=p, q=q)
        assert np.allclose(tr.extras["block_means"][k], [x, y], atol=1e-12)
        assert np.allclose([tr.extras["p_hat"][k], tr.extras["q_hat"][k]], [p_hat, q_hat])


def _joint_population_bcavi(psi, n, p, q, sweeps):
    """Joint updates on the dense expected graph through the public bcavi (M-step first)."""
    P = sbm.population_matrix(n, p, q)
    return sbm.bcavi(P, psi, estimate=True, max_iter=sweeps, tol=1e-300)


@pytest.mark.parametrize("n", [500, 2000, 8000])
def test_escape_threshold_matches_the_small_deviation_formula(n):
    p, q = 0.3, 0.1
    rho = (p + q) / 2
    approx = np.sqrt(rho * (1 - rho) / n) / (p - q)
    assert sbm.escape_threshold(n, p, q) == pytest.approx(approx, rel=0.05)


def test_escape_threshold_separates_collapse_from_recovery():
    n, p, q = 400, 0.3, 0.1
    d = sbm.escape_threshold(n, p, q)
    v = np.repeat([1.0, -1.0], n // 2)
    psi = np.column_stack([0.5 + 0.8 * d * v, 0.5 + 1.25 * d * v])
    tr = _joint_population_bcavi(psi, n, p, q, sweeps=200)
    below, above = tr.final[:, 0], tr.final[:, 1]
    assert np.allclose(below, 0.5, atol=1e-9)                       # collapse ...
    assert tr.extras["p_hat"][-1, 0] == pytest.approx(tr.extras["q_hat"][-1, 0])  # p = q
    assert np.allclose(above, (v > 0).astype(float), atol=1e-6)     # ... or the truth


def test_misspecified_share_exceeds_half_iff_lambda_hat_between_q_and_p():
    p, q = 0.3, 0.1
    ph, qh = np.meshgrid(np.linspace(0.02, 0.6, 40), np.linspace(0.01, 0.5, 40))
    share = sbm.misspecified_success(p, q, ph, qh)
    ok = ph > qh
    assert np.all(np.isnan(share[~ok])) and np.all(np.isfinite(share[ok]))
    lam_hat = np.array([sbm.constants(a, b)[1] for a, b in zip(ph[ok], qh[ok], strict=True)])
    inside = (lam_hat > q) & (lam_hat < p)
    assert np.array_equal(share[ok] > 0.5, inside)
    # at the true parameters it is the asymptotic success probability
    assert sbm.misspecified_success(p, q, p, q) == pytest.approx(
        sbm.success_probability(10, p, q, method="asymptotic"))


def test_misspecified_population_dynamics_follow_the_rule():
    # lam_hat < q: everyone in one class; lam_hat > p: the two-cycle (reference 5.5).
    n, p, q = 2000, 0.3, 0.1
    g = sbm.expected_graph(n, p, q)
    psi = sbm.initial_psi("uniform", n, 40, rng=9)
    low = sbm.bcavi(g, psi, p=0.09, q=0.03, max_iter=300)   # lam_hat ~ 0.055 < q
    bm = low.extras["block_means"][-1]
    assert np.mean(np.abs(bm[0] - bm[1]) < 1e-6) > 0.5       # mostly all-same
    high = sbm.bcavi(g, psi, p=0.7, q=0.5, max_iter=300)     # lam_hat = 0.6 > p
    x = high.extras["block_means"][:, 0, :]
    assert np.mean(np.abs(x[-1] - x[-2]) > 0.9) > 0.5         # flips every sweep


def test_accuracy_up_to_label_swap():
    labels = np.repeat([0, 1], 5)
    assert sbm.accuracy(np.repeat([1.0, 0.0], 5), labels) == 1.0
    assert sbm.accuracy(np.repeat([0.0, 1.0], 5), labels) == 1.0
    psi = np.repeat([1.0, 0.0], 5)
    psi[0] = 0.0
    assert sbm.accuracy(psi, labels) == 0.9


def test_monte_carlo_also_tends_to_the_asymptote():
    p, q, k = 0.3, 0.1, 300
    asym = sbm.success_probability(10, p, q, method="asymptotic")
    small = sbm.success_probability(100, p, q, n_inits=k, rng=44)
    large = sbm.success_probability(20000, p, q, n_inits=k, rng=45)
    se = np.sqrt(asym * (1 - asym) / k)
    assert large <= small + Z * se and large > asym - Z * se


@pytest.mark.parametrize(("k1", "k2"), [(3, 9), (9, 3), (6, 6), (2, 10), (7, 4)])
def test_bernoulli_groups_follow_the_n_dimensional_population_dynamics_exactly(k1, k2):
    """The group reduction with weights k/m and 1 - k/m against population BCAVI in n
    dimensions from a hard 0/1 start with k1 and k2 ones in the two blocks."""
    from explorer.sbm._starts import _group_dynamics

    n, p, q, m = 24, 0.5, 0.1, 12
    psi = np.zeros(n)
    psi[:k1] = 1.0
    psi[m:m + k2] = 1.0
    run = sbm.bcavi("population", psi[:, None], p=p, q=q, n=n, max_iter=200, tol=1e-13)
    want = run.extras["block_means"][-1].ravel()
    k = np.array([[k1, k2]])
    weights = np.stack([(m - k) / m, k / m], axis=-1)
    x, y = _group_dynamics(k - m / 2.0, np.array([-0.5, 0.5]), weights, n, p, q, 200)
    assert np.allclose([x[0], y[0]], want, atol=1e-9)


def test_the_gap_sampler_draws_the_geometric_law():
    """sample_graph's gaps between edges, 1 + floor(E / -log(1 - p)), against the geometric
    pmf p (1 - p)^(k - 1): frequencies within 4.5 standard errors, and the mean 1/p."""
    from explorer.sbm._sample import _geometric

    draws = 200_000
    for prob in (0.3, 0.05, 0.9):
        g = _geometric(prob, draws, np.random.default_rng(7))
        assert g.min() >= 1
        k = np.arange(1, 8)
        pmf = prob * (1 - prob) ** (k - 1)
        freq = np.array([np.mean(g == v) for v in k])
        assert np.all(np.abs(freq - pmf) <= 4.5 * np.sqrt(pmf * (1 - pmf) / draws))
        se_mean = np.sqrt((1 - prob) / prob**2 / draws)
        assert abs(g.mean() - 1 / prob) <= 4.5 * se_mean


def test_group_dynamics_is_the_straightforward_iteration_to_rounding():
    """The compacting loop against the plain formula sigmoid(a (own - U) + b other) - 1/2,
    iterated for each draw alone until that draw moves less than 1e-12, for draws of several
    n at once (one n per draw)."""
    from scipy.special import expit

    from explorer.sbm._population import constants
    from explorer.sbm._starts import _gauss_legendre, _group_dynamics

    rng = np.random.default_rng(15)
    z, w = _gauss_legendre()
    nodes = 0.5 * z
    for ns, p, q in (((20, 2000), 0.3, 0.1), ((400,), 0.8, 0.4), ((60, 20, 8), 0.12, 0.1)):
        n = np.repeat(ns, 40)
        S0 = np.sqrt(n[:, None] // 2 / 12) * rng.standard_normal((n.size, 2))
        weights = np.broadcast_to(w / 2, (n.size, 2, z.size))
        t, lam = constants(p, q)
        a, b = 4 * t * (p - lam), 4 * t * (q - lam)
        want = []
        for d in range(n.size):
            U, S = nodes[None, :] * np.ones((2, 1)), S0[d]
            for sweep in range(200):
                if sweep > 0:
                    S = n[d] // 2 * np.einsum("bg,bg->b", U, weights[d])
                new = expit(a * (S[:, None] - U) + b * S[::-1, None]) - 0.5
                moved = np.max(np.abs(new - U))
                U = new
                if moved < 1e-12:
                    break
            want.append(0.5 + np.sum(U * weights[d], axis=-1))
        x, y = _group_dynamics(S0, nodes, weights, n, p, q, 200)
        # The same operations per draw; only the summation order of the block means may
        # differ (a batch against one draw), by an ulp.
        np.testing.assert_allclose(np.column_stack([x, y]), np.array(want), rtol=0, atol=5e-16)


def test_success_curve_is_success_probability_n_after_n():
    """One pass over all n equals the scalar calls on the same stream (Bernoulli, uniform
    and near-centre starts), and bad input names the parameter."""
    ns = [20, 38, 200, 2000]
    for init in ("uniform", "bernoulli", "near_centre"):
        rng = np.random.default_rng(3)
        one_by_one = [sbm.success_probability(n, 0.3, 0.1, init=init, method="semianalytic",
                                              n_inits=120, rng=rng) for n in ns]
        curve = sbm.success_curve(ns, 0.3, 0.1, init=init, n_inits=120, rng=3)
        assert curve.tolist() == one_by_one, init
    with pytest.raises(ValueError, match="ns must hold at least one"):
        sbm.success_curve([], 0.3, 0.1)
    with pytest.raises(ValueError, match="init"):
        sbm.success_curve([20], 0.3, 0.1, init="informed")
    with pytest.raises(ValueError, match="n must be"):
        sbm.success_curve([20, 7], 0.3, 0.1)
