"""Sampled graphs, the ELBO and BCAVI / CAVI / joint updates, against independent references:
brute-force pair sums, dense matrix formulas, a numerical optimiser, binomial tolerances and
the invariants of reference/sbm.md section 9."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit

from explorer import sbm
from explorer._common import Status
from explorer.sbm._sample import _triangular_pair

TOL = 1e-10


def binomial_ok(k, trials, prob, z=4.0):
    return abs(k - trials * prob) <= z * np.sqrt(trials * prob * (1 - prob)) + 1


def test_sample_graph_structure_and_edge_law():
    n, p, q = 600, 0.2, 0.05
    A, labels = sbm.sample_graph(n, p, q, rng=0)
    assert sp.issparse(A) and A.format == "csr" and A.shape == (n, n)
    assert (A != A.T).nnz == 0 and A.diagonal().sum() == 0 and set(np.unique(A.data)) == {1.0}
    assert np.array_equal(labels, np.repeat([0, 1], n // 2))
    m = n // 2
    D = A.toarray()
    assert binomial_ok(np.triu(D[:m, :m], 1).sum(), m * (m - 1) // 2, p)
    assert binomial_ok(np.triu(D[m:, m:], 1).sum(), m * (m - 1) // 2, p)
    assert binomial_ok(D[:m, m:].sum(), m * m, q)
    # Same seed, same graph; different seed, different graph.
    assert (sbm.sample_graph(n, p, q, rng=0)[0] != A).nnz == 0
    assert (sbm.sample_graph(n, p, q, rng=1)[0] != A).nnz > 0


def test_every_pair_is_an_independent_bernoulli_edge():
    """Law of the sampler, pair by pair: marginal frequencies, and the edge count's variance
    is that of a sum of independent trials (a fixed-count sampler would have variance 0)."""
    n, p, q, draws = 6, 0.3, 0.1, 4000
    mats = np.array([sbm.sample_graph(n, p, q, rng=s)[0].toarray() for s in range(draws)])
    m = n // 2
    prob = np.where(np.equal.outer(np.arange(n) < m, np.arange(n) < m), p, q)
    np.fill_diagonal(prob, 0.0)
    freq = mats.mean(axis=0)
    se = np.sqrt(prob * (1 - prob) / draws)
    assert np.all(np.abs(freq - prob) <= 4.5 * se + 1e-12)
    within = mats[:, :m, :m][:, np.triu_indices(m, 1)[0], np.triu_indices(m, 1)[1]].sum(1)
    assert np.var(within) == pytest.approx(3 * p * (1 - p), rel=0.15)
    # Two different pairs are uncorrelated.
    a, b = mats[:, 0, 1], mats[:, 0, 2]
    assert abs(np.corrcoef(a, b)[0, 1]) < 4.5 / np.sqrt(draws)


def test_sampled_adjacency_is_canonical_csr():
    A, _ = sbm.sample_graph(2000, 0.3, 0.1, rng=2)
    B = A.copy()
    B.sum_duplicates()
    B.sort_indices()
    assert np.array_equal(A.indices, B.indices) and np.array_equal(A.indptr, B.indptr)
    assert A.has_sorted_indices and A.indices.dtype == np.int32


def test_triangular_index_decoding_is_exact_at_large_indices():
    j = np.array([2, 3, 10, 499_999, 1_000_000, 3_000_000_001], dtype=np.int64)
    i = j - 1
    k = j * (j - 1) // 2 + i          # the last pair of column j ...
    i2, j2 = _triangular_pair(np.r_[k, k - i])   # ... and its first pair (i = 0)
    assert np.array_equal(j2, np.r_[j, j]) and np.array_equal(i2, np.r_[i, 0 * i])


@pytest.mark.slow
def test_million_node_graph_in_linear_memory():
    n, degree = 1_000_000, 20
    p, q = 1.5 * degree / n, 0.5 * degree / n
    A, _ = sbm.sample_graph(n, p, q, rng=3)
    expected_edges = n * (n - 2) / 4 * p + n * n / 4 * q
    assert binomial_ok(A.nnz / 2, n * n / 2, expected_edges / (n * n / 2))
    assert A.indices.dtype == np.int32


def brute_force_elbo(A, psi, p, q):
    """The ELBO as the pair sum of reference/sbm.md section 2 (no closed form used)."""
    A = np.asarray(A)
    n = len(psi)
    total = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            same = psi[i] * psi[j] + (1 - psi[i]) * (1 - psi[j])
            lp = A[i, j] * np.log(p) + (1 - A[i, j]) * np.log(1 - p)
            lq = A[i, j] * np.log(q) + (1 - A[i, j]) * np.log(1 - q)
            total += same * lp + (1 - same) * lq
    ent = -np.sum(psi * np.log(psi) + (1 - psi) * np.log(1 - psi))
    return total + ent + n * np.log(0.5)


def test_elbo_closed_form_equals_pair_sum():
    A, _ = sbm.sample_graph(24, 0.4, 0.1, rng=5)
    rng = np.random.default_rng(6)
    for _ in range(3):
        psi = 0.02 + 0.96 * rng.random(24)
        assert sbm.elbo(A, psi, 0.4, 0.1) == pytest.approx(
            brute_force_elbo(A.toarray(), psi, 0.4, 0.1), rel=1e-12)
        # dense input and evaluation at other (p, q) too
        assert sbm.elbo(A.toarray(), psi, 0.3, 0.2) == pytest.approx(
            brute_force_elbo(A.toarray(), psi, 0.3, 0.2), rel=1e-12)


def test_elbo_gradient_matches_the_update_field():
    A, _ = sbm.sample_graph(30, 0.4, 0.1, rng=7)
    p, q = 0.4, 0.1
    t, lam = sbm.constants(p, q)
    psi = 0.1 + 0.8 * np.random.default_rng(8).random(30)
    u = psi - 0.5
    M = A.toarray() - lam * (np.ones((30, 30)) - np.eye(30))
    grad = 4 * t * M @ u - np.log(psi / (1 - psi))
    h = 1e-6
    for i in (0, 7, 29):
        e = np.zeros(30)
        e[i] = h
        fd = (sbm.elbo(A, psi + e, p, q) - sbm.elbo(A, psi - e, p, q)) / (2 * h)
        assert fd == pytest.approx(grad[i], rel=1e-5, abs=1e-6)


def test_batch_step_equals_dense_formula_and_r_columns_equal_single_runs():
    n, p, q = 40, 0.35, 0.1
    A, _ = sbm.sample_graph(n, p, q, rng=9)
    t, lam = sbm.constants(p, q)
    Psi = np.random.default_rng(10).random((n, 3))
    tr = sbm.bcavi(A, Psi, p=p, q=q, max_iter=1)
    M = A.toarray() - lam * (np.ones((n, n)) - np.eye(n))
    assert np.allclose(tr.iterates[1], expit(4 * t * M @ (Psi - 0.5)), atol=TOL)
    many = sbm.bcavi(A, Psi, p=p, q=q, max_iter=30)
    for r in range(3):
        one = sbm.bcavi(A, Psi[:, r], p=p, q=q, max_iter=30)
        k = one.n_records
        assert np.allclose(one.iterates, many.iterates[:k, :, r], atol=TOL)
        assert np.allclose(one.objective, many.objective[:k, r], rtol=1e-12)


def test_population_mode_equals_dense_expected_graph_and_the_2d_map():
    n, p, q = 40, 0.35, 0.1
    Psi = np.random.default_rng(11).random((n, 2))
    pop = sbm.bcavi("population", Psi, p=p, q=q, n=n, max_iter=5)
    dense = sbm.bcavi(sbm.population_matrix(n, p, q), Psi, p=p, q=q, max_iter=5)
    assert np.allclose(pop.iterates, dense.iterates, atol=TOL)
    assert np.allclose(pop.objective, dense.objective, rtol=1e-10)
    # A block-constant start follows the 2-D map exactly.
    x, y = 0.8, 0.35
    psi = np.r_[np.full(n // 2, x), np.full(n // 2, y)]
    tr = sbm.bcavi("population", psi, p=p, q=q, n=n, max_iter=3)
    for k in range(1, tr.n_records):
        x, y = sbm.population_map(x, y, n=n, p=p, q=q)
        assert np.allclose(tr.extras["block_means"][k], [x, y], atol=TOL)


def test_centre_is_fixed_for_any_graph_and_label_swap_equivariance():
    A, _ = sbm.sample_graph(50, 0.3, 0.1, rng=12)
    centre = sbm.bcavi(A, np.full(50, 0.5), p=0.3, q=0.1, max_iter=3)
    assert centre.status is Status.CONVERGED and np.all(centre.final == 0.5)
    psi = np.random.default_rng(13).random(50)
    a = sbm.bcavi(A, psi, p=0.3, q=0.1, max_iter=4)
    b = sbm.bcavi(A, 1 - psi, p=0.3, q=0.1, max_iter=4)
    assert np.allclose(b.iterates, 1 - a.iterates, atol=TOL)


def test_sequential_cavi_never_decreases_the_elbo_and_batch_can():
    n, p, q = 120, 0.3, 0.1
    seq_drops, batch_drops = [], []
    for seed in range(6):
        A, _ = sbm.sample_graph(n, p, q, rng=seed)
        Psi = np.random.default_rng(100 + seed).random((n, 8))
        seq = sbm.bcavi(A, Psi, p=p, q=q, schedule="sequential", max_iter=20)
        bat = sbm.bcavi(A, Psi, p=p, q=q, schedule="batch", max_iter=20)
        seq_drops.append(np.min(np.diff(seq.objective, axis=0)))
        batch_drops.append(np.min(np.diff(bat.objective, axis=0)))
    assert min(seq_drops) > -1e-8          # monotone up to round-off
    assert min(batch_drops) < -1e-6        # BCAVI can go down


def test_sequential_update_maximises_each_coordinate():
    n, p, q = 30, 0.4, 0.1
    A, _ = sbm.sample_graph(n, p, q, rng=14)
    psi = np.random.default_rng(15).random(n)
    # After one sequential sweep the last node's value maximises the ELBO in that coordinate.
    out = sbm.bcavi(A, psi, p=p, q=q, schedule="sequential", max_iter=1).iterates[1]

    def neg(v):
        trial = out.copy()
        trial[-1] = v[0]
        return -sbm.elbo(A, trial, p, q)

    best = minimize(neg, [0.5], bounds=[(1e-9, 1 - 1e-9)]).x[0]
    assert out[-1] == pytest.approx(best, abs=1e-4)


def test_damping_keeps_fixed_points_and_zero_damping_is_batch():
    n, p, q = 200, 0.3, 0.05
    A, labels = sbm.sample_graph(n, p, q, rng=16)
    psi = np.random.default_rng(17).random(n)
    plain = sbm.bcavi(A, psi, p=p, q=q)
    assert np.array_equal(sbm.bcavi(A, psi, p=p, q=q, damping=0.0).iterates, plain.iterates)
    damped = sbm.bcavi(A, plain.final, p=p, q=q, damping=0.5, max_iter=5)
    assert np.allclose(damped.final, plain.final, atol=1e-7)


def test_m_step_maximises_the_elbo_over_p_and_q():
    A, labels = sbm.sample_graph(60, 0.3, 0.1, rng=18)
    # A soft assignment correlated with the truth, so that p_hat > q_hat.
    psi = np.clip(0.75 - 0.5 * labels + 0.2 * np.random.default_rng(19).standard_normal(60),
                  0.01, 0.99)
    p_hat, q_hat = sbm.m_step(A, psi)
    assert p_hat > q_hat

    def neg(v):
        return -sbm.elbo(A, psi, v[0], v[1]) if 0 < v[1] < v[0] < 1 else 1e12

    res = minimize(neg, [0.25, 0.15], method="Nelder-Mead",
                   options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
    assert np.allclose([p_hat, q_hat], res.x, atol=1e-5)


def test_joint_updates_collapse_to_centre_with_edge_density():
    n = 300
    A, _ = sbm.sample_graph(n, 0.3, 0.1, rng=20)
    rho = A.nnz / (n * (n - 1))
    Psi = np.random.default_rng(21).random((n, 5))      # soft Uniform(0, 1) starts
    tr = sbm.bcavi(A, Psi, estimate=True, max_iter=50)
    assert tr.status is Status.CONVERGED
    assert np.allclose(tr.final, 0.5, atol=1e-12)
    assert np.allclose(tr.extras["p_hat"][-1], rho) and np.allclose(tr.extras["q_hat"][-1], rho)
    # Its ELBO is the Erdos-Renyi log-likelihood (entropy cancels the prior).
    pairs = n * (n - 1) / 2
    er = A.nnz / 2 * np.log(rho) + (pairs - A.nnz / 2) * np.log1p(-rho)
    assert tr.objective[-1, 0] == pytest.approx(er, rel=1e-12)


def test_known_parameters_recover_truth_in_dense_regime():
    n, p, q = 400, 0.3, 0.05
    A, labels = sbm.sample_graph(n, p, q, rng=22)
    Psi = np.random.default_rng(23).random((n, 10))
    tr = sbm.bcavi(A, Psi, p=p, q=q, max_iter=100)
    hard = tr.final > 0.5
    truth = labels[:, None] == 0
    acc = np.maximum((hard == truth).mean(axis=0), (hard != truth).mean(axis=0))
    assert np.mean(acc == 1.0) >= 0.8


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(p=0.3, q=0.1, schedule="async"), "schedule must be one of 'batch', 'sequential'"),
        (dict(p=0.3, q=0.1, damping=1.0), r"damping must be in \[0, 1\)"),
        (dict(p=0.3), "give both p and q"),
        (dict(), "required unless estimate=True"),
        (dict(p=0.1, q=0.3), "assortative"),
        (dict(p=0.3, q=0.1, max_iter=0), "max_iter"),
    ],
)
def test_bcavi_validation(kwargs, match):
    A, _ = sbm.sample_graph(10, 0.3, 0.1, rng=0)
    with pytest.raises(ValueError, match=match):
        sbm.bcavi(A, np.full(10, 0.5), **kwargs)


def test_psi_shape_and_range_are_named():
    A, _ = sbm.sample_graph(10, 0.3, 0.1, rng=0)
    with pytest.raises(ValueError, match="psi0 must have n = 10 rows"):
        sbm.bcavi(A, np.full(12, 0.5), p=0.3, q=0.1)
    with pytest.raises(ValueError, match=r"psi0 entries must be in \[0, 1\]"):
        sbm.bcavi(A, np.full(10, 1.5), p=0.3, q=0.1)
    with pytest.raises(ValueError, match="n is required"):
        sbm.bcavi("population", np.full(10, 0.5), p=0.3, q=0.1)


def test_record_ends_keeps_start_and_final_of_the_full_path():
    A, _ = sbm.sample_graph(100, 0.3, 0.05, rng=24)
    Psi = np.random.default_rng(25).random((100, 3))
    full = sbm.bcavi(A, Psi, p=0.3, q=0.05, estimate=True)
    ends = sbm.bcavi(A, Psi, p=0.3, q=0.05, estimate=True, record="ends")
    assert ends.n_records == 2 and ends.times[-1] == full.times[-1]
    assert np.array_equal(ends.iterates, full.iterates[[0, -1]])
    assert np.array_equal(ends.objective, full.objective[[0, -1]])
    assert np.array_equal(ends.extras["p_hat"], full.extras["p_hat"][[0, -1]])


def test_elbo_off_leaves_the_sweeps_bit_for_bit_and_the_objective_nan():
    """elbo=False skips only the ELBO: every schedule, record and graph gives the same path."""
    A, _ = sbm.sample_graph(120, 0.3, 0.05, rng=26)
    Psi = np.random.default_rng(27).random((120, 3))
    for graph, kw in ((A, dict(p=0.3, q=0.05)), (A, dict(estimate=True)),
                      (A, dict(p=0.3, q=0.05, damping=0.4)),
                      (A, dict(p=0.3, q=0.05, schedule="sequential")),
                      ("population", dict(p=0.3, q=0.05, n=120))):
        for record in ("all", "ends"):
            on = sbm.bcavi(graph, Psi, record=record, **kw)
            off = sbm.bcavi(graph, Psi, record=record, elbo=False, **kw)
            assert np.array_equal(off.iterates, on.iterates) and off.status == on.status
            assert np.array_equal(off.times, on.times)
            for key, value in on.extras.items():
                assert np.array_equal(off.extras[key], value), key
            assert off.objective.shape == on.objective.shape
            assert np.isnan(off.objective).all() and np.isfinite(on.objective).all()
    with pytest.raises(ValueError, match="elbo must be True or False; got 'yes'"):
        sbm.bcavi(A, Psi, p=0.3, q=0.05, elbo="yes")


def test_no_warnings_at_extreme_parameters():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for p, q in [(0.999999, 0.5), (0.3, 1e-9), (1 - 1e-12, 1e-12)]:
            t, lam = sbm.constants(p, q)
            assert np.isfinite([t, lam]).all() and q < lam < p
            A, _ = sbm.sample_graph(200, p, q, rng=0)
            tr = sbm.bcavi(A, np.random.default_rng(1).random((200, 3)), p=p, q=q)
            assert np.isfinite(tr.objective).all()
            assert np.isfinite(sbm.elbo(A, tr.final, p, q)).all()
            tr = sbm.bcavi("population", np.random.default_rng(1).random((200, 3)), p=p, q=q,
                           n=200)
            assert np.isfinite(tr.objective).all()


def test_truth_and_its_swap_are_equally_likely_from_random_starts():
    n, R = 400, 400
    psi = sbm.initial_psi("uniform", n, R, rng=30)
    tr = sbm.bcavi("population", psi, p=0.3, q=0.1, n=n, record="ends")
    x, y = tr.extras["block_means"][-1]
    first = int(np.sum((x > 0.99) & (y < 0.01)))
    swap = int(np.sum((x < 0.01) & (y > 0.99)))
    assert first + swap > 0.9 * R
    assert abs(first - swap) < 4 * np.sqrt(first + swap) / 2 + 1   # Binomial(., 1/2)


def test_joint_updates_escape_rarely_and_less_from_soft_starts():
    n, p, q = 400, 0.3, 0.1
    A, labels = sbm.sample_graph(n, p, q, rng=31)
    escaped = {}
    for init in ("uniform", "bernoulli"):
        psi = sbm.initial_psi(init, n, 60, rng=32)
        tr = sbm.bcavi(A, psi, estimate=True, max_iter=100, record="ends")
        escaped[init] = float(np.mean(np.max(np.abs(tr.final - 0.5), axis=0) > 0.25))
    assert escaped["uniform"] <= escaped["bernoulli"] and escaped["uniform"] < 0.2


def test_node_permutation_equivariance():
    n, p, q = 60, 0.35, 0.1
    A, _ = sbm.sample_graph(n, p, q, rng=40)
    psi = np.random.default_rng(41).random(n)
    perm = np.random.default_rng(42).permutation(n)
    Ap = A[perm][:, perm]
    for schedule in ("batch",):
        a = sbm.bcavi(A, psi, p=p, q=q, max_iter=5, schedule=schedule)
        b = sbm.bcavi(Ap, psi[perm], p=p, q=q, max_iter=5, schedule=schedule)
        assert np.allclose(b.iterates, a.iterates[:, perm], atol=TOL)
        assert np.allclose(b.objective, a.objective, rtol=1e-12)


def test_sample_tracks_population_in_the_dense_regime():
    """From a block-constant start, sampled-graph BCAVI follows the population map: the block
    means after one sweep agree to O(1/sqrt(n rho)), and both end at the same limit."""
    n, p, q = 4000, 0.3, 0.1
    A, labels = sbm.sample_graph(n, p, q, rng=43)
    # starts whose block fields are large against the per-node noise (not near a separatrix)
    for x0, y0 in [(0.7, 0.3), (0.9, 0.6), (0.3, 0.55)]:
        psi = np.r_[np.full(n // 2, x0), np.full(n // 2, y0)]
        sample = sbm.bcavi(A, psi, p=p, q=q, max_iter=50)
        pop = sbm.bcavi("population", psi, p=p, q=q, n=n, max_iter=50)
        assert np.allclose(sample.extras["block_means"][1], pop.extras["block_means"][1],
                           atol=0.05)
        assert np.allclose(sample.extras["block_means"][-1], pop.extras["block_means"][-1],
                           atol=1e-3)


def test_threaded_row_block_products_are_bit_identical(monkeypatch):
    from explorer.sbm import _sample

    A, _ = sbm.sample_graph(600, 0.2, 0.05, rng=50)
    Psi = np.random.default_rng(51).random((600, 5))
    plain = sbm.bcavi(A, Psi, p=0.2, q=0.05, max_iter=6, tol=1e-300)
    monkeypatch.setattr(_sample, "_THREADED_NNZ", 0)
    monkeypatch.setattr(_sample.os, "cpu_count", lambda: 3)
    g = _sample._Graph(A)
    assert g._row_blocks is not None and len(g._row_blocks) == 3
    assert [b[0] for b in g._row_blocks][0] == 0 and g._row_blocks[-1][1] == 600
    threaded = sbm.bcavi(A, Psi, p=0.2, q=0.05, max_iter=6, tol=1e-300)
    assert np.array_equal(threaded.iterates, plain.iterates)
    assert np.array_equal(threaded.objective, plain.objective)


def _edge_probabilities(n, p, q):
    """The n x n matrix of edge probabilities, nodes 0 .. n/2 - 1 in block 0, no self loops."""
    block = np.repeat([0, 1], n // 2)
    P = np.where(block[:, None] == block[None, :], p, q)
    np.fill_diagonal(P, 0.0)
    return P


@pytest.mark.parametrize("n,degree,ratio", [(1000, 20.0, 3.0), (4000, 15.0, 4.0),
                                            (10, 2.5, 1.01), (200, 60.0, 50.0)])
def test_pq_from_degree_gives_that_degree_and_ratio(n, degree, ratio):
    p, q = sbm.pq_from_degree(n, degree, ratio)
    assert 0 < q < p < 1
    assert p / q == pytest.approx(ratio, rel=TOL)
    assert n * (p + q) / 2 == pytest.approx(degree, rel=TOL)
    # the mean row sum of the probability matrix is that degree less the missing self pair
    mean_degree = _edge_probabilities(n, p, q).sum(axis=1).mean()
    assert mean_degree == pytest.approx(degree - p, rel=TOL)


def test_pq_from_degree_names_the_bad_value():
    with pytest.raises(ValueError, match=r"average degree 800 with ratio 3 needs p = 1\.2 < 1 "
                                         r"at n = 1000; lower the degree or raise n"):
        sbm.pq_from_degree(1000, 800.0, 3.0)
    with pytest.raises(ValueError, match=r"ratio must be in \(1, inf\); got 1"):
        sbm.pq_from_degree(100, 5.0, 1.0)
    with pytest.raises(ValueError, match=r"degree must be in \(0, inf\); got 0"):
        sbm.pq_from_degree(100, 0.0, 2.0)
    with pytest.raises(ValueError, match=r"n must be an even integer in \[4, 100000000\]; got 7"):
        sbm.pq_from_degree(7, 1.0, 2.0)


@pytest.mark.parametrize("n,p,q", [(4, 1.0, 1.0), (10, 0.3, 0.1), (50, 0.05, 0.2), (6, 0, 0)])
def test_expected_edges_counts_the_pairs(n, p, q):
    want = np.triu(_edge_probabilities(n, p, q), 1).sum()
    assert sbm.expected_edges(n, p, q) == pytest.approx(want, rel=TOL, abs=TOL)


def test_expected_edges_matches_sampled_graphs():
    n, p, q = 400, 0.05, 0.01
    counts = [sbm.sample_graph(n, p, q, rng=s)[0].nnz / 2 for s in range(20)]
    expected = sbm.expected_edges(n, p, q)
    sd = np.sqrt(expected)                    # a sum of independent Bernoullis: var < mean
    assert abs(np.mean(counts) - expected) < 5 * sd / np.sqrt(len(counts))
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]; got 1\.5"):
        sbm.expected_edges(10, 1.5, 0.1)


@pytest.mark.parametrize("graph", ["sampled", "population"])
def test_joint_refits_are_the_m_step_of_the_previous_sweep(graph):
    """BCAVI refits (p, q) from the product it already has (A @ (psi - 1/2) plus half the
    degrees); each refit equals sbm.m_step of the psi it was computed from, two products."""
    n, p, q = 200, 0.3, 0.1
    A = sbm.sample_graph(n, p, q, rng=40)[0] if graph == "sampled" else \
        sbm.expected_graph(n, p, q)
    psi = np.random.default_rng(41).random((n, 3))
    tr = sbm.bcavi(A, psi, estimate=True, max_iter=6, tol=0)
    for k in range(tr.iterates.shape[0]):
        p_ref, q_ref = sbm.m_step(A, tr.iterates[max(k - 1, 0)])
        assert np.allclose(tr.extras["p_hat"][k], p_ref, rtol=1e-12, atol=0)
        assert np.allclose(tr.extras["q_hat"][k], q_ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize(("n", "p", "q", "seed"), [(4, 0.5, 0.3, 0), (10, 0.9, 0.8, 1),
                                                   (200, 0.3, 0.1, 2), (300, 0.02, 1e-4, 3),
                                                   (1000, 0.3, 0.1, 4)])
def test_sample_graph_holds_exactly_the_drawn_pairs(n, p, q, seed):
    """The assembled CSR (blocks as drawn, stacked, plus the transpose) against a dense matrix
    filled pair by pair from the same three Bernoulli streams, decoded one index at a time."""
    from explorer.sbm._sample import _bernoulli_positions

    rng, m = np.random.default_rng(seed), n // 2
    k0, k1 = (_bernoulli_positions(m * (m - 1) // 2, p, rng) for _ in range(2))
    kb = _bernoulli_positions(m * m, q, rng)
    D = np.zeros((n, n))
    for k, shift in ((k0, 0), (k1, m)):
        i, j = _triangular_pair(k)
        D[i + shift, j + shift] = 1.0
    D[kb % m, kb // m + m] = 1.0
    D += D.T
    A, _ = sbm.sample_graph(n, p, q, rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(A.toarray(), D)
    B = A.copy()
    B.sum_duplicates()
    B.sort_indices()
    assert np.array_equal(A.indices, B.indices) and np.array_equal(A.indptr, B.indptr)
    assert A.indices.dtype == A.indptr.dtype == np.int32 and A.has_sorted_indices
