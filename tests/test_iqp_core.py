"""IQP circuits against an independent dense statevector, analytic identities of
reference/iqp.md section 9.2, and the estimators against exact values and finite differences."""

import functools
import itertools

import numpy as np
import pytest

from explorer import iqp

EXACT = 1e-12
Z_SCORE = 5.0


def statevector_probs(theta, gates, n):
    """q_theta from dense matrices: U = prod_j (cos theta_j I + i sin theta_j X^{g_j})|0>."""
    X, I2 = np.array([[0, 1], [1, 0]]), np.eye(2)
    psi = np.zeros(2**n, dtype=complex)
    psi[0] = 1.0
    for th, g in zip(theta, gates, strict=True):
        Xg = functools.reduce(np.kron, [X if i in g else I2 for i in range(n)])
        psi = (np.cos(th) * np.eye(2**n) + 1j * np.sin(th) * Xg) @ psi
    return np.abs(psi) ** 2


def dense_phases(theta, ops, Z, G):
    """Phi_a(z) = 2 sum_j [a.g_j odd] theta_j (-1)^(g_j.z), straight from the definition."""
    S = (ops.astype(int) @ G.T.astype(int)) % 2
    Sigma = 1 - 2 * ((Z.astype(int) @ G.T.astype(int)) % 2)
    return 2.0 * (S * theta) @ Sigma.T


def all_ops(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.uint8)


def signs(ops, xs):
    return 1 - 2 * ((ops.astype(int) @ xs.T.astype(int)) % 2)


@pytest.mark.parametrize("n,gates", [(3, iqp.local_gates(3)), (4, iqp.local_gates(4, 3)),
                                     (5, iqp.nearest_neighbour_gates(5, 2)), (1, [(0,)])])
def test_exact_probs_match_dense_statevector(n, gates):
    theta = np.random.default_rng(n).uniform(-np.pi, np.pi, len(gates))
    assert np.allclose(iqp.exact_probs(theta, gates, n), statevector_probs(theta, gates, n),
                       atol=EXACT)


def test_exact_expval_matches_the_distribution():
    n, gates = 4, iqp.local_gates(4)
    theta = np.random.default_rng(1).uniform(-np.pi, np.pi, len(gates))
    q = statevector_probs(theta, gates, n)
    ops = all_ops(n)
    assert np.allclose(iqp.exact_expval(theta, gates, ops), signs(ops, all_ops(n)) @ q,
                       atol=EXACT)


def test_analytic_identities():
    n, gates = 4, iqp.local_gates(4)
    m = len(gates)
    ops = all_ops(n)
    q0 = iqp.exact_probs(np.zeros(m), gates, n)
    assert q0[0] == pytest.approx(1.0) and np.allclose(iqp.exact_expval(np.zeros(m), gates,
                                                                        ops), 1.0)
    # single-qubit gates only: a product of Bernoulli(sin^2 theta_i)
    th = np.array([0.3, -1.1, 0.7, 2.0])
    q = iqp.exact_probs(th, [(i,) for i in range(n)], n)
    p1 = np.sin(th) ** 2
    prod = [np.prod([p1[i] if x[i] else 1 - p1[i] for i in range(n)]) for x in all_ops(n)]
    assert np.allclose(q, prod, atol=EXACT)
    # the unbiased centre is the uniform distribution
    centre = iqp.init_params("unbiased", gates, scale=0.0, n=n)
    assert np.allclose(iqp.exact_probs(centre, gates, n), 1 / 2**n, atol=EXACT)
    # one XX gate: q(00) = cos^2 phi, q(11) = sin^2 phi; <Z_i Z_j> = cos2ti cos2tj with singles
    phi = 0.4
    q = iqp.exact_probs([phi], [(0, 1)], 2)
    assert np.allclose(q, [np.cos(phi) ** 2, 0, 0, np.sin(phi) ** 2], atol=EXACT)
    t0, t1 = 0.2, -0.9
    zz = iqp.exact_expval([t0, t1, phi], [(0,), (1,), (0, 1)], [[1, 1]])
    assert zz[0] == pytest.approx(np.cos(2 * t0) * np.cos(2 * t1))


def test_invariances_and_parseval():
    n, gates = 5, iqp.local_gates(5)
    theta = np.random.default_rng(2).uniform(-np.pi, np.pi, len(gates))
    q = iqp.exact_probs(theta, gates, n)
    shift = theta.copy()
    shift[3] += np.pi
    assert np.allclose(iqp.exact_probs(shift, gates, n), q, atol=EXACT)
    assert np.allclose(iqp.exact_probs(-theta, gates, n), q, atol=EXACT)
    corr = iqp.exact_expval(theta, gates, all_ops(n))
    assert np.sum(corr**2) == pytest.approx(2**n * np.sum(q**2))


def test_data_dependent_centre_matches_the_marginals():
    rng = np.random.default_rng(3)
    data = (rng.random((200, 4)) < [0.1, 0.5, 0.7, 0.3]).astype(np.uint8)
    gates = iqp.local_gates(4)
    theta = iqp.init_params("data", gates, data=data, scale=0.0)
    mu = data.mean(axis=0)
    ops = all_ops(4)
    want = np.array([np.prod((1 - 2 * mu)[a.astype(bool)]) for a in ops])
    assert np.allclose(iqp.exact_expval(theta, gates, ops), want, atol=1e-12)


def test_z_average_over_all_strings_is_exact_and_variance_identity():
    n, gates = 4, iqp.local_gates(4)
    G = iqp.gate_matrix(gates, n)
    theta = np.random.default_rng(4).uniform(-np.pi, np.pi, len(gates))
    ops = all_ops(n)
    Z = all_ops(n)
    c = np.cos(dense_phases(theta, ops, Z, G))
    exact = iqp.exact_expval(theta, gates, ops)
    assert np.allclose(c.mean(axis=1), exact, atol=EXACT)
    exact2 = iqp.exact_expval(2 * theta, gates, ops)
    assert np.allclose(c.var(axis=1), (1 + exact2) / 2 - exact**2, atol=EXACT)


def test_monte_carlo_expval_within_standard_errors():
    n, gates = 6, iqp.local_gates(6)
    theta = np.random.default_rng(5).uniform(-np.pi, np.pi, len(gates))
    ops = np.random.default_rng(6).integers(0, 2, size=(30, n))
    mean, se = iqp.expval(theta, gates, ops, n_samples=20000, rng=7)
    exact = iqp.exact_expval(theta, gates, ops)
    assert np.all(np.abs(mean - exact) <= Z_SCORE * se + 1e-12)


def test_bandwidth_and_operator_distribution():
    for n, w in [(6, 2.0), (20, 2.0), (150, 2.0), (10, 4.5)]:
        sigma = iqp.sigma_for_mean_weight(n, w)
        assert n * iqp.operator_probability(sigma) == pytest.approx(w)
    with pytest.raises(ValueError, match=r"w must be in \(0, 2\)"):
        iqp.sigma_for_mean_weight(4, 2.0)   # the degenerate w = n/2 edge


def test_mmd_kernel_form_equals_operator_form():
    n, gates = 4, iqp.local_gates(4)
    rng = np.random.default_rng(8)
    theta = rng.uniform(-np.pi, np.pi, len(gates))
    data = (rng.random((50, n)) < 0.4).astype(np.uint8)
    sigma = 0.9
    p = iqp.operator_probability(sigma)
    ops = all_ops(n)
    weight = ops.sum(axis=1)
    P = p**weight * (1 - p) ** (n - weight)
    t = signs(ops, data).mean(axis=1)
    operator_form = np.sum(P * (iqp.exact_expval(theta, gates, ops) - t) ** 2)
    assert iqp.mmd2_exact(theta, gates, data, sigma) == pytest.approx(operator_form, rel=1e-10)
    # theta = 0: E_a[(1 - t_a)^2]
    assert iqp.mmd2_exact(np.zeros(len(gates)), gates, data, sigma) == pytest.approx(
        np.sum(P * (1 - t) ** 2), rel=1e-10)
    # a very wide kernel sees no difference: MMD^2 -> 0 as sigma -> inf
    assert iqp.mmd2_exact(theta, gates, data, 1e4) < 1e-6


def test_estimator_is_unbiased_for_its_exact_expectation():
    n, gates = 4, iqp.local_gates(4)
    rng = np.random.default_rng(9)
    theta = rng.uniform(-np.pi, np.pi, len(gates))
    data = (rng.random((30, n)) < 0.3).astype(np.uint8)
    sigma, M = 1.1, 30
    p = iqp.operator_probability(sigma)
    ops = all_ops(n)
    weight = ops.sum(axis=1)
    P = p**weight * (1 - p) ** (n - weight)
    t = signs(ops, data).mean(axis=1)
    z = iqp.exact_expval(theta, gates, ops)
    expected = np.sum(P * (z * z - 2 * z * t + (M * t * t - 1) / (M - 1)))
    draws = [iqp.mmd2(theta, gates, data, sigma, n_ops=50, n_samples=50, rng=s)
             for s in range(400)]
    assert abs(np.mean(draws) - expected) < Z_SCORE * np.std(draws) / np.sqrt(len(draws))


def test_estimator_gradient_matches_finite_differences_with_fixed_draws():
    n, gates = 5, iqp.local_gates(5)
    rng = np.random.default_rng(10)
    theta = rng.uniform(-np.pi, np.pi, len(gates))
    data = (rng.random((40, n)) < 0.5).astype(np.uint8)
    kw = dict(n_ops=40, n_samples=60, grad=False)
    value, grad = iqp.mmd2(theta, gates, data, 0.8, n_ops=40, n_samples=60, rng=11, grad=True)
    h = 1e-6
    for k in range(len(gates)):
        e = np.zeros(len(gates))
        e[k] = h
        fd = (iqp.mmd2(theta + e, gates, data, 0.8, rng=11, **kw)
              - iqp.mmd2(theta - e, gates, data, 0.8, rng=11, **kw)) / (2 * h)
        assert fd == pytest.approx(grad[k], abs=1e-8)
    assert value == iqp.mmd2(theta, gates, data, 0.8, rng=11, **kw)


def test_init_params_recipes():
    gates = iqp.local_gates(5)
    m = len(gates)
    rng = np.random.default_rng(12)
    data = (rng.random((100, 5)) < 0.4).astype(np.uint8)
    full = iqp.init_params("full_range", gates, n=5, rng=0)
    assert np.all(np.abs(full) <= np.pi)
    for norm, nu in (("unit", 1), ("sqrt", np.sqrt(m)), ("linear", m)):
        th = iqp.init_params("identity", gates, n=5, scale=0.3, normalisation=norm, rng=1)
        assert np.all(np.abs(th) <= np.pi * 0.3 / nu) and np.any(th != 0)
    cov = iqp.init_params("covariance", gates, data=data, scale=1.0, rng=2)
    C = np.cov(2.0 * data - 1, rowvar=False)
    np.fill_diagonal(C, 0)
    pairs = [g for g in gates if len(g) == 2]
    pair_angles = cov[5:]
    ratio = pair_angles / np.array([C[i, j] for i, j in pairs])
    assert np.allclose(ratio, ratio[0])                      # one shared factor c
    assert np.max(np.abs(pair_angles)) <= np.pi
    assert np.allclose(cov[:5], np.arcsin(np.sqrt(data.mean(axis=0))))
    with pytest.raises(ValueError, match="needs data"):
        iqp.init_params("data", gates, n=5)
    with pytest.raises(ValueError, match="strategy must be one of 'full_range'"):
        iqp.init_params("xavier", gates, n=5)


def test_gates_on_three_or_more_qubits_start_at_zero_in_the_data_dependent_starts():
    gates = iqp.local_gates(4, 3)                  # singles, pairs and triples
    heavy = np.array([len(g) >= 3 for g in gates])
    data = (np.random.default_rng(4).random((50, 4)) < 0.4).astype(np.uint8)
    for strategy in ("data", "covariance"):
        th = iqp.init_params(strategy, gates, data=data, scale=0.5, rng=5)
        assert np.all(th[heavy] == 0.0), strategy
    th = iqp.init_params("data", gates, data=data, scale=0.5, rng=5)
    assert np.all(th[~heavy][4:] != 0.0)           # the pairs still get their noise
    for strategy in ("identity", "unbiased"):      # these keep noise on every gate
        th = iqp.init_params(strategy, gates, n=4, scale=0.5, rng=5)
        assert np.all(th[heavy] != 0.0), strategy


def test_gate_sets_and_validation():
    assert len(iqp.local_gates(150)) == 150 + 150 * 149 // 2 == 11325
    g = iqp.local_gates(4, 3)
    assert g[:4] == [(0,), (1,), (2,), (3,)] and g[4] == (0, 1) and g[-1] == (1, 2, 3)
    assert iqp.nearest_neighbour_gates(5, distance=2)[5:] == [(0, 1), (0, 2), (1, 2), (1, 3),
                                                             (2, 3), (2, 4), (3, 4)]
    with pytest.raises(ValueError, match=r"gates\[1\] must be a non-empty tuple of qubits"):
        iqp.exact_probs([0.1, 0.2], [(0,), (5,)], 3)
    with pytest.raises(ValueError, match="theta must have one angle per gate"):
        iqp.exact_probs([0.1], [(0,), (1,)], 2)
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 20\]"):
        iqp.exact_probs([0.1], [(0,)], 21)
    with pytest.raises(ValueError, match="data must be a 0/1 array"):
        iqp.mmd2_exact([0.1], [(0,)], [[0.5], [1]], 1.0)


@pytest.mark.parametrize("sigma", [0.6, 1.5, 4.0])
def test_structured_phases_equal_the_dense_construction(sigma):
    n = 9
    gates = iqp.local_gates(n)
    gates = [g for k, g in enumerate(gates) if k % 5 != 3]   # some singles and pairs missing
    rng = np.random.default_rng(20)
    theta = rng.uniform(-np.pi, np.pi, len(gates))
    data = (rng.random((60, n)) < 0.4).astype(np.uint8)
    kw = dict(n_ops=80, n_samples=70, rng=21, grad=True)
    v_d, g_d = iqp.mmd2(theta, gates, data, sigma, method="dense", **kw)
    v_s, g_s = iqp.mmd2(theta, gates, data, sigma, method="structured", **kw)
    assert v_s == pytest.approx(v_d, abs=1e-12)
    assert np.allclose(g_s, g_d, atol=1e-12)
    with pytest.raises(ValueError, match="at most two qubits"):
        iqp.mmd2(np.zeros(4), [(0,), (1,), (2,), (0, 1, 2)], data[:, :3], 1.0, n_ops=5,
                 n_samples=5, method="structured")


def test_unbiased_exact_mmd_is_the_pair_sum_over_distinct_samples():
    """mmd2_exact(unbiased=True) against a brute-force sum over all bit strings and all pairs
    of distinct samples (duplicated rows are distinct samples)."""
    n, sigma = 4, 0.8
    rng = np.random.default_rng(3)
    gates = iqp.local_gates(n)
    theta = rng.uniform(-1, 1, len(gates))
    data = (rng.random((7, n)) < 0.4).astype(np.uint8)
    data[6] = data[0]
    q = iqp.exact_probs(theta, gates, n)
    xs = np.array([[(k >> (n - 1 - i)) & 1 for i in range(n)] for k in range(2**n)])
    g = np.exp(-1 / (2 * sigma**2))
    k = lambda a, b: g ** np.sum(a != b)                              # noqa: E731
    qq = sum(q[a] * q[b] * k(xs[a], xs[b]) for a in range(2**n) for b in range(2**n))
    qd = sum(q[a] * k(xs[a], x) for a in range(2**n) for x in data) / len(data)
    dd = sum(k(data[i], data[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    # the exact_probs ordering must match xs: check on the data term of the V-statistic too
    assert iqp.mmd2_exact(theta, gates, data, sigma, unbiased=True) == pytest.approx(
        qq - 2 * qd + dd, abs=1e-12)
    dd_v = sum(k(a, b) for a in data for b in data) / 49
    assert iqp.mmd2_exact(theta, gates, data, sigma) == pytest.approx(qq - 2 * qd + dd_v,
                                                                      abs=1e-12)


def test_an_exact_slice_is_the_brute_force_mmd_at_every_point(monkeypatch):
    """The batched exact slice (blocks of points through one transform) against the pair sum
    over all bit strings at each point, with blocks of 3 points so that a block ends inside
    the grid; and the batched kernel quadratic against the dense kernel matrix."""
    from explorer.iqp import _landscape
    from explorer.iqp._mmd import _kernel_quadratic

    n, sigma = 4, 0.8
    rng = np.random.default_rng(5)
    gates = iqp.local_gates(n)
    theta = rng.uniform(-1, 1, len(gates))
    directions = rng.standard_normal((2, len(gates)))
    data = (rng.random((9, n)) < 0.4).astype(np.uint8)
    coords = rng.uniform(-1, 1, (8, 2))
    monkeypatch.setattr(_landscape, "EXACT_BLOCK", 3 * 2**n)
    got = iqp.loss_slice(theta, directions, coords, gates, data, sigma, exact=True)
    xs = np.array([[(k >> (n - 1 - i)) & 1 for i in range(n)] for k in range(2**n)])
    K = np.exp(-np.abs(xs[:, None] - xs[None]).sum(-1) / (2 * sigma**2))
    Kdata = np.exp(-np.abs(xs[:, None] - data[None]).sum(-1) / (2 * sigma**2))
    ints = data.astype(int)
    dd = np.exp(-np.abs(ints[:, None] - ints[None]).sum(-1) / (2 * sigma**2))
    dd = (dd.sum() - len(data)) / (len(data) * (len(data) - 1))
    for value, c in zip(got, coords, strict=True):
        q = iqp.exact_probs(theta + c @ directions, gates, n)
        assert value == pytest.approx(q @ K @ q - 2 * q @ Kdata.mean(1) + dd, abs=1e-13)
    d = rng.standard_normal((5, 2**n))
    assert np.allclose(_kernel_quadratic(d, n, sigma), np.einsum("pi,ij,pj->p", d, K, d),
                       atol=1e-13)


def test_the_estimator_averages_to_the_unbiased_exact_value_not_the_v_statistic():
    n, M = 6, 20
    rng = np.random.default_rng(8)
    gates = iqp.local_gates(n)
    theta = rng.uniform(-0.5, 0.5, len(gates))
    data = (rng.random((M, n)) < 0.3).astype(np.uint8)
    sigma = iqp.sigma_for_mean_weight(n, 2.0)
    draws = np.array([iqp.mmd2(theta, gates, data, sigma, n_ops=200, n_samples=200, rng=s)
                      for s in range(200)])
    se = draws.std(ddof=1) / np.sqrt(draws.size)
    u = iqp.mmd2_exact(theta, gates, data, sigma, unbiased=True)
    v = iqp.mmd2_exact(theta, gates, data, sigma)
    assert abs(draws.mean() - u) < 4 * se < abs(draws.mean() - v)
    # and the landscape's exact and estimated slices are that same quantity
    d = rng.standard_normal((1, len(gates)))
    exact = iqp.loss_slice(theta, d, [[0.0]], gates, data, sigma, exact=True)
    assert exact[0] == pytest.approx(u, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_repeated_generators_add_their_angles_on_every_path(seed):
    """Duplicates (in any order, pairs written either way round) act as one gate with the
    summed angle: the structured path, chosen by "auto" at n = 20, equals the dense one, and
    both equal the circuit with the duplicates merged."""
    n = 20
    rng = np.random.default_rng(seed)
    base = iqp.local_gates(n)
    extra = [base[k] for k in rng.choice(len(base), 6, replace=False)]
    extra = [g[::-1] if len(g) == 2 and k % 2 else g for k, g in enumerate(extra)]
    gates = [base[k] for k in rng.permutation(len(base))] + extra
    theta = rng.uniform(-1, 1, len(gates))
    merged: dict = {}
    for g, t in zip(gates, theta, strict=True):
        key = tuple(sorted(g))
        merged[key] = merged.get(key, 0.0) + t
    data = (rng.random((50, n)) < 0.3).astype(np.uint8)
    sigma = iqp.sigma_for_mean_weight(n, 2.0)
    kw = dict(n_ops=60, n_samples=50, rng=seed + 30, grad=True)
    v_d, g_d = iqp.mmd2(theta, gates, data, sigma, method="dense", **kw)
    v_s, g_s = iqp.mmd2(theta, gates, data, sigma, method="structured", **kw)
    v_a, _ = iqp.mmd2(theta, gates, data, sigma, method="auto", **kw)
    v_m, g_m = iqp.mmd2(np.array(list(merged.values())), list(merged), data, sigma,
                        method="dense", **kw)
    assert v_s == pytest.approx(v_d, abs=1e-12) and v_a == pytest.approx(v_d, abs=1e-12)
    assert v_d == pytest.approx(v_m, abs=1e-12)
    assert np.allclose(g_s, g_d, atol=1e-12)
    # Each duplicate's derivative is that of the merged gate.
    index = {g: i for i, g in enumerate(merged)}
    assert np.allclose(g_d, g_m[[index[tuple(sorted(g))] for g in gates]], atol=1e-12)


def test_single_precision_dense_products_stay_far_below_sampling_error(monkeypatch):
    from explorer.iqp import _phases

    n = 40
    gates = iqp.local_gates(n)
    rng = np.random.default_rng(22)
    theta = rng.uniform(-np.pi, np.pi, len(gates))
    data = (rng.random((50, n)) < 0.5).astype(np.uint8)
    kw = dict(n_ops=100, n_samples=100, rng=23, grad=True, method="dense")
    v64, g64 = iqp.mmd2(theta, gates, data, 0.5, **kw)
    monkeypatch.setattr(_phases, "SINGLE_PRECISION_ABOVE", 0)
    v32, g32 = iqp.mmd2(theta, gates, data, 0.5, **kw)
    assert abs(v32 - v64) < 1e-4 and np.max(np.abs(g32 - g64)) < 1e-4
    assert abs(v32 - v64) < 1e-2 / np.sqrt(100)          # far below the sampling error


def test_exact_probs_match_expm_of_the_kronecker_generators():
    from scipy.linalg import expm

    n, gates = 6, iqp.nearest_neighbour_gates(6, 2)
    theta = np.random.default_rng(30).uniform(-np.pi, np.pi, len(gates))
    X, I2 = np.array([[0.0, 1.0], [1.0, 0.0]]), np.eye(2)
    H = sum(t * functools.reduce(np.kron, [X if i in g else I2 for i in range(n)])
            for t, g in zip(theta, gates, strict=True))
    psi = expm(1j * H)[:, 0]                      # all gates commute: one exponential
    assert np.allclose(iqp.exact_probs(theta, gates, n), np.abs(psi) ** 2, atol=EXACT)


def test_estimator_over_all_strings_is_exact_at_n8():
    n, gates = 8, iqp.local_gates(8)
    G = iqp.gate_matrix(gates, n)
    theta = np.random.default_rng(31).uniform(-np.pi, np.pi, len(gates))
    ops = np.random.default_rng(32).integers(0, 2, size=(40, n)).astype(np.uint8)
    Z = all_ops(n)
    c = np.cos(dense_phases(theta, ops, Z, G))
    assert np.max(np.abs(c.mean(axis=1) - iqp.exact_expval(theta, gates, ops))) < EXACT


@pytest.mark.parametrize("call,match", [
    (lambda: iqp.exact_probs([], [], 3), "gates must hold at least one generator"),
    (lambda: iqp.mmd2_exact([0.1], [(0,)], [[0], [1]], 0.0), r"sigma must be in \(0, inf\)"),
    (lambda: iqp.mmd2([0.1], [(0,)], [[0], [1]], -1.0, n_ops=5, n_samples=5),
     r"sigma must be in \(0, inf\)"),
    (lambda: iqp.expval([0.1], [(0,)], [[1]], n_samples=1), r"n_samples must be an integer"),
    (lambda: iqp.mmd2([0.1, 0.2], [(0,), (1,)], [[0], [1]], 1.0, n_ops=5, n_samples=5),
     r"gates\[1\] must be a non-empty tuple of qubits in \[0, 0\]"),
    (lambda: iqp.mmd2_exact([0.1], [(0,)], [[2], [1]], 1.0), r"data entries must be in \[0, 1\]"),
    (lambda: iqp.mmd2_exact([0.1], [(0,)], [[0.5], [1]], 1.0), "data must be a 0/1 array"),
    (lambda: iqp.mmd2_exact([0.1], [(0,)], np.zeros((3, 21)), 1.0), r"\[1, 20\]"),
])
def test_bad_inputs_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _mean_weight(n, sigma):
    """n p_sigma with p_sigma = (1 - exp(-1/(2 sigma^2))) / 2 (reference/iqp.md section 4)."""
    return n * (1 - np.exp(-1 / (2 * sigma**2))) / 2


def test_bandwidth_modes():
    for n in (6, 20, 150):
        assert _mean_weight(n, iqp.bandwidth("mean_weight", n, w=2.0)) == pytest.approx(2.0)
        # constant: the sigma of mean weight w at n_ref, so the weight grows as n w / n_ref
        sigma = iqp.bandwidth("constant", n, w=2.0)
        assert _mean_weight(6, sigma) == pytest.approx(2.0)
        assert _mean_weight(n, sigma) == pytest.approx(2.0 * n / 6)
        assert _mean_weight(10, iqp.bandwidth("constant", n, w=1.5, n_ref=10)) == \
            pytest.approx(1.5)
        assert iqp.bandwidth("sigma", n, sigma=0.3) == 0.3
    # w capped just below n/2, where the rule is defined
    assert _mean_weight(4, iqp.bandwidth("mean_weight", 4, w=2.0)) == pytest.approx(1.99)
    with pytest.raises(ValueError, match="mode must be one of 'mean_weight', 'constant', "
                                         "'sigma'; got 'median'"):
        iqp.bandwidth("median", 6)
    with pytest.raises(ValueError, match=r"sigma must be a number in \(0, inf\) when mode is "
                                         r"'sigma'; got None"):
        iqp.bandwidth("sigma", 6)
    with pytest.raises(ValueError, match=r"sigma must be in \(0, inf\); got -1"):
        iqp.bandwidth("sigma", 6, sigma=-1.0)
    with pytest.raises(ValueError, match=r"w must be in \(0, 3\); got 4"):
        iqp.bandwidth("constant", 20, w=4.0)


def test_loss_variance_uses_the_same_bandwidth_rule():
    data = (np.random.default_rng(40).random((30, 6)) < 0.5).astype(np.uint8)
    kw = dict(data=data, n_draws=2, rng=0)
    for mode in ("mean_weight", "constant"):
        res = iqp.loss_variance([3, 5], "identity", bandwidth=mode, w=2.0, **kw)
        assert res.sigma.tolist() == [iqp.bandwidth(mode, n, w=2.0) for n in (3, 5)]
    res = iqp.loss_variance([3, 5], "identity", bandwidth="sigma", sigma=0.4, **kw)
    assert res.sigma.tolist() == [0.4, 0.4]
    legacy = iqp.loss_variance([3, 5], "identity", bandwidth="constant", sigma=0.4, **kw)
    assert legacy.sigma.tolist() == [0.4, 0.4]


def test_gate_set_names():
    assert iqp.gate_set("all_pairs", 4) == [g for w in (1, 2)
                                            for g in itertools.combinations(range(4), w)]
    assert iqp.gate_set("nearest_neighbour", 4) == [(0,), (1,), (2,), (3,),
                                                    (0, 1), (1, 2), (2, 3)]
    with pytest.raises(ValueError, match="kind must be one of 'all_pairs', 'nearest_neighbour'"):
        iqp.gate_set("all pairs", 4)


def test_covariance_factor_is_normalised_like_the_noise_and_full_range_ignores_scale():
    n, gates = 5, iqp.local_gates(5)
    m = len(gates)
    rng = np.random.default_rng(41)
    data = (rng.random((200, n)) < 0.4).astype(np.uint8)
    C = np.cov(2.0 * data - 1, rowvar=False)
    np.fill_diagonal(C, 0)
    pairs = np.array([g for g in gates if len(g) == 2])
    unit_angle = np.pi * C[pairs[:, 0], pairs[:, 1]] / np.max(np.abs(C))   # angles at c = 1
    for norm, nu in (("unit", 1.0), ("sqrt", np.sqrt(m)), ("linear", float(m))):
        for s in (0.01, 0.5, 3.0):
            cs = []
            for seed in range(200):
                th = iqp.init_params("covariance", gates, data=data, scale=s,
                                     normalisation=norm, rng=seed)
                c = th[n:] / unit_angle
                assert np.allclose(c, c[0], rtol=1e-12)              # one factor per draw
                cs.append(c[0])
            cs = np.array(cs)
            assert np.all(np.abs(cs) <= s / nu)                       # c ~ U(-s/nu, s/nu)
            assert np.max(np.abs(cs)) > 0.9 * s / nu                  # ... and fills it
            assert cs.min() < 0 < cs.max()
    # full range: U(-pi, pi) whatever the scale and the normalisation
    for s, norm in ((0.0, "unit"), (1e-3, "linear"), (50.0, "sqrt")):
        a = iqp.init_params("full_range", gates, n=n, scale=s, normalisation=norm, rng=7)
        assert np.array_equal(a, np.random.default_rng(7).uniform(-np.pi, np.pi, m))
