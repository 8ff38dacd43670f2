"""The structured fast path of the IQP estimator (explorer.iqp._phases) against the phases'
definition and the dense path, its gradient against finite differences, and every use of
single precision against double, with bounds derived from SINGLE_TRIG_ERROR."""

import pickle
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from explorer import iqp
from explorer.iqp import _mmd, _phases
from explorer.iqp._circuit import GateSet

EXACT = 1e-12          # relative to the largest entry: double round-off, nothing more
FD_TOL = 1e-8
EPS = _mmd.SINGLE_TRIG_ERROR
# |error| of the loss from cosines each off by at most EPS: with c -> c + d, |d| <= EPS,
# m1 moves by <= EPS, m2 by <= 2 EPS, and ell = (N m1^2 - m2)/(N - 1) - 2 m1 t + const by
# <= (2 N/(N - 1) + 2/(N - 1) + 2) EPS + O(EPS^2) < 5 EPS (derived here); single-precision
# sums of N terms add N 2^-24 relative at worst, far less in numpy's pairwise sums.
LOSS_TOL = 5 * EPS + 1e-6
# The gradient sums |R_as| <= 6 / (L N) weighted by 2 or 4 over all (a, s); each R_as moves
# by <= ~8 EPS / (L N) through cos, sin and m1, so |dg_k| <= 4 * 8 EPS = 32 EPS, plus the
# single-precision rounding of the products (~1e-6 relative to the largest gradient).
GRAD_TOL = 32 * EPS


def definition_phases(theta, gates, ops, Z):
    """Phi_a(z) = 2 sum_j [a.g_j odd] theta_j (-1)^(g_j.z): parities from products of 0/1
    matrices (exact in double: the counts are at most n), then one product."""
    G = iqp.gate_matrix(gates, ops.shape[1]).astype(np.float64)
    S = (ops.astype(np.float64) @ G.T) % 2
    Sigma = 1 - 2 * ((Z.astype(np.float64) @ G.T) % 2)
    return 2.0 * (S * theta) @ Sigma.T, S, Sigma


def random_gate_set(n, rng, *, singles=True, pairs=True, ordered=False):
    """A random subset of the one- and two-qubit gates, shuffled, some pairs written
    (j, i), and a few generators repeated; or, ``ordered``, all of them as local_gates
    lists them (the order the structured path indexes with boolean masks)."""
    if ordered:
        return iqp.local_gates(n)
    base = [g for g in iqp.local_gates(n) if (len(g) == 1 and singles) or
            (len(g) == 2 and pairs)]
    keep = [g for g in base if rng.random() < 0.7] or base[:1]
    extra = [keep[k] for k in rng.choice(len(keep), min(5, len(keep)), replace=False)]
    gates = keep + extra
    gates = [gates[k] for k in rng.permutation(len(gates))]
    return [g[::-1] if len(g) == 2 and rng.random() < 0.5 else g for g in gates]


def draws(n, L, N, p, rng):
    ops = (rng.random((L, n)) < p).astype(np.uint8)
    ops[0] = 0                      # weight 0: no gate anticommutes
    ops[1] = 1                      # weight n: every pair inside the support
    return ops, rng.integers(0, 2, size=(N, n), dtype=np.uint8)


CASES = [(7, 0.3, {}), (13, 0.15, {}), (30, 2 / 30, {}), (9, 0.4, {"pairs": False}),
         (9, 0.4, {"singles": False}), (40, 1 / 3, {}), (11, 0.3, {"ordered": True})]


@pytest.mark.parametrize(("n", "p", "kinds"), CASES)
def test_structured_phases_and_gradient_equal_the_definition_and_the_dense_path(n, p, kinds):
    rng = np.random.default_rng(n)
    gates = random_gate_set(n, rng, **kinds)
    gs = GateSet(gates, n)
    theta = rng.uniform(-np.pi, np.pi, gs.m)
    ops, Z = draws(n, 70, 60, p, rng)
    ref, S, Sigma = definition_phases(theta, gates, ops, Z)
    R = rng.standard_normal(ref.shape)
    ref_grad = 2.0 * np.einsum("am,as,sm->m", S, R, Sigma)
    fast = _phases.phase_model(gs, ops, Z, "structured")
    dense = _phases.phase_model(gs, ops, Z, "dense")
    for model in (fast, dense):
        assert np.max(np.abs(model.phases(theta) - ref)) <= EXACT * np.max(np.abs(ref))
        assert np.max(np.abs(model.grad(R) - ref_grad)) <= EXACT * np.max(np.abs(ref_grad))
    # block by block, as mmd2 computes them
    fast.set_theta(theta)
    blocks = np.vstack([fast.rows(a, min(a + 17, 70)) for a in range(0, 70, 17)])
    assert np.max(np.abs(blocks - ref)) <= EXACT * np.max(np.abs(ref))


@pytest.mark.parametrize("shared", [False, True])
def test_structured_path_with_pair_signs_expanded_per_block(shared):
    """Many in-support pairs times many samples: the pair signs are expanded block by block
    (not stacked under W), and the gradient's per-pair sums copy the one operator's row
    when no two operators share a pair (``shared=False``) or sum several (``True``)."""
    n, N = 300, 4000
    rng = np.random.default_rng(31 + shared)
    gates = [(i,) for i in range(n)] + [(i, i + d) for d in (1, 2) for i in range(n - d)]
    gates += [gates[k] for k in rng.choice(len(gates), 5, replace=False)]
    gates = [gates[k] for k in rng.permutation(len(gates))]
    gs = GateSet(gates, n)
    theta = rng.uniform(-np.pi, np.pi, gs.m)
    triples = 3 * rng.permutation(n // 3)[:90]
    ops = np.zeros((90 + 30 * shared, n), np.uint8)
    ops[np.arange(90)[:, None], triples[:, None] + np.arange(3)] = 1
    if shared:                          # the first pair of 30 triples again, on its own
        ops[90 + np.arange(30)[:, None], triples[:30, None] + np.arange(2)] = 1
    Z = rng.integers(0, 2, size=(N, n), dtype=np.uint8)
    ref, S, Sigma = definition_phases(theta, gates, ops, Z)
    R = rng.standard_normal(ref.shape)
    weight = rng.integers(1, 4, ops.shape[0]).astype(np.float64)
    ref_grad = 2.0 * np.einsum("am,am->m", S, (weight[:, None] * R) @ Sigma)
    model = _phases.phase_model(gs, ops, Z, "structured")
    assert model.B is None and (model.pair_ops.size == model.ukey.size) != shared
    model.set_theta(theta)
    blocks = np.vstack([model.rows(a, min(a + 16, ops.shape[0]))
                        for a in range(0, ops.shape[0], 16)])
    assert np.max(np.abs(blocks - ref)) <= EXACT * np.max(np.abs(ref))
    grad = model.grad(R, weight)
    assert np.max(np.abs(grad - ref_grad)) <= EXACT * np.max(np.abs(ref_grad))


@pytest.mark.parametrize("seed", [0, 1])
def test_mmd2_fast_path_equals_the_dense_one_in_double(seed):
    """Above the single-precision size, with precision="double": loss and gradient of the
    structured path equal the dense path's to round-off (duplicates and shuffled gates)."""
    n = 24
    rng = np.random.default_rng(seed + 40)
    gates = random_gate_set(n, rng)
    theta = rng.uniform(-1, 1, len(gates))
    data = (rng.random((80, n)) < 0.3).astype(np.uint8)
    kw = dict(n_ops=400, n_samples=400, rng=seed, grad=True, precision="double")
    sigma = iqp.sigma_for_mean_weight(n, 2.0)
    v_s, g_s = iqp.mmd2(theta, gates, data, sigma, method="structured", **kw)
    v_d, g_d = iqp.mmd2(theta, gates, data, sigma, method="dense", **kw)
    v_a, g_a = iqp.mmd2(theta, GateSet(gates, n), data, sigma, **kw)
    assert v_s == pytest.approx(v_d, abs=1e-12) and v_a == pytest.approx(v_d, abs=1e-12)
    scale = np.max(np.abs(g_d))
    assert np.max(np.abs(g_s - g_d)) <= EXACT * scale
    assert np.max(np.abs(g_a - g_d)) <= EXACT * scale


def test_fast_gradient_matches_finite_differences_with_fixed_draws():
    n = 12
    rng = np.random.default_rng(5)
    gates = random_gate_set(n, rng)
    theta = rng.uniform(-np.pi, np.pi, len(gates))
    data = (rng.random((60, n)) < 0.4).astype(np.uint8)
    sigma = iqp.sigma_for_mean_weight(n, 2.0)
    kw = dict(n_ops=400, n_samples=400, rng=6, method="structured", precision="double")
    _, grad = iqp.mmd2(theta, gates, data, sigma, grad=True, **kw)
    h = 1e-6
    for k in rng.choice(len(gates), 12, replace=False):
        e = np.zeros(len(gates))
        e[k] = h
        fd = (iqp.mmd2(theta + e, gates, data, sigma, **kw)
              - iqp.mmd2(theta - e, gates, data, sigma, **kw)) / (2 * h)
        assert fd == pytest.approx(grad[k], abs=FD_TOL)


def test_single_precision_trig_stays_within_its_stated_error():
    rng = np.random.default_rng(7)
    for width in (1.0, 16.0, 1e3, 1e5):
        phi = rng.uniform(-width, width, (200, 500))
        c, s = _mmd._cos_sin(phi.copy(), single=True)
        assert c.dtype == s.dtype == np.float32
        assert np.max(np.abs(c - np.cos(phi))) <= EPS
        assert np.max(np.abs(s - np.sin(phi))) <= EPS


@pytest.mark.parametrize(("n", "spread", "bandwidth"),
                         [(20, 0.05, "w2"), (20, np.pi, "w2"), (150, 0.01, "w2"),
                          (20, 0.3, "constant")])
def test_single_precision_loss_and_gradient_against_double(n, spread, bandwidth):
    """What precision="auto" does at L = N = 1000, bounded against double: small and
    full-range angles (phases reduced modulo 2 pi), the structured and the dense path."""
    rng = np.random.default_rng(n)
    gates = iqp.local_gates(n)
    theta = rng.uniform(-spread, spread, len(gates))
    data = (rng.random((100, n)) < 0.4).astype(np.uint8)
    sigma = (iqp.sigma_for_mean_weight(n, 2.0) if bandwidth == "w2"
             else iqp.sigma_for_mean_weight(6, 2.0))
    gs = GateSet(gates, n)
    kw = dict(n_ops=1000, n_samples=1000, rng=9, grad=True)
    assert 1000 * 1000 >= _mmd.SINGLE_TRIG_ABOVE
    v64, g64 = iqp.mmd2(theta, gs, data, sigma, precision="double", **kw)
    v32, g32 = iqp.mmd2(theta, gs, data, sigma, **kw)
    assert abs(v32 - v64) <= LOSS_TOL
    assert np.max(np.abs(g32 - g64)) <= GRAD_TOL + 1e-6 * np.max(np.abs(g64))
    # both far below the estimator's own sampling error ~ 1/sqrt(n_samples)
    assert LOSS_TOL < 0.01 / np.sqrt(1000)


@pytest.mark.parametrize("max_weight", [2, 3])
def test_dense_single_precision_within_the_rounding_bounds_of_its_products(max_weight,
                                                                             monkeypatch):
    """Past SINGLE_PRECISION_ABOVE the dense path forms phases and gradient with
    single-precision products; against double they stay within the standard rounding bounds
    (gamma_k = k u / (1 - k u), u = 2^-24; derived here): the phase sums m terms of the
    rounded angles times signs, the gradient sums N terms of R Sigma, then L terms over the
    operators."""
    n, L, N = (12, 300, 200) if max_weight == 2 else (7, 200, 150)
    rng = np.random.default_rng(17 + max_weight)
    gates = random_gate_set(n, rng) if max_weight == 2 else iqp.local_gates(n, 3)
    gs = GateSet(gates, n)
    theta = rng.uniform(-np.pi, np.pi, gs.m)
    ops, Z = draws(n, L, N, 0.4, rng)
    R = rng.standard_normal((L, N))
    weight = rng.integers(1, 4, L).astype(np.float64)
    double = _phases.phase_model(gs, ops, Z, "dense")
    monkeypatch.setattr(_phases, "SINGLE_PRECISION_ABOVE", 0)
    single = _phases.phase_model(gs, ops, Z, "dense")
    assert (single.dtype, double.dtype) == (np.float32, np.float64)
    u = 2.0**-24

    def gamma(k):
        return k * u / (1 - k * u)

    S = definition_phases(theta, gates, ops, Z)[1]              # (L, m) 0/1
    phase_bound = (gamma(gs.m) + 2 * u) * 2 * (S @ np.abs(theta))
    assert np.all(np.abs(single.phases(theta) - double.phases(theta)) <= phase_bound[:, None])
    grad_bound = 2 * (gamma(N) + gamma(L) + 4 * u) * ((np.abs(R).sum(axis=1) * weight) @ S)
    assert np.all(np.abs(single.grad(R, weight) - double.grad(R, weight)) <= grad_bound)


def test_estimated_landscape_slice_in_single_precision_against_double():
    n = 16
    rng = np.random.default_rng(11)
    gates = iqp.local_gates(n)
    theta = rng.uniform(-0.3, 0.3, len(gates))
    data = (rng.random((50, n)) < 0.4).astype(np.uint8)
    d = rng.standard_normal((2, len(gates)))
    coords = rng.uniform(-1, 1, (6, 2))
    sigma = iqp.sigma_for_mean_weight(n, 2.0)
    kw = dict(exact=False, n_ops=300, n_samples=300, rng=12)
    s64 = iqp.loss_slice(theta, d, coords, gates, data, sigma, precision="double", **kw)
    s32 = iqp.loss_slice(theta, d, coords, gates, data, sigma, precision="single", **kw)
    assert np.max(np.abs(s32 - s64)) <= LOSS_TOL
    # and the double slice at the origin is the estimator itself with the same draws
    s0 = iqp.loss_slice(theta, d, [[0.0, 0.0]], gates, data, sigma, precision="double", **kw)
    v = iqp.mmd2(theta, gates, data, sigma, n_ops=300, n_samples=300, rng=12,
                 precision="double")
    assert s0[0] == pytest.approx(v, abs=1e-12)


def test_which_path_runs():
    rng = np.random.default_rng(13)
    n = 30
    gs = GateSet(iqp.local_gates(n), n)
    mean2, Z = draws(n, 200, 100, 2 / n, rng)
    assert isinstance(_phases.phase_model(gs, mean2, Z), _phases._Structured)
    heavy, _ = draws(n, 200, 100, 1 / 3, rng)
    # constant bandwidth at 150 qubits (mean weight 50): ~1200 pairs per operator
    assert isinstance(_phases.phase_model(GateSet(iqp.local_gates(150), 150),
                                          (rng.random((1000, 150)) < 1 / 3).astype(np.uint8),
                                          rng.integers(0, 2, (500, 150), dtype=np.uint8)),
                      _phases._Dense)
    three = GateSet(iqp.local_gates(n, 3), n)
    assert isinstance(_phases.phase_model(three, mean2, Z), _phases._Dense)
    assert isinstance(_phases.phase_model(gs, heavy, Z, "structured"), _phases._Structured)


def test_weight_three_gates_go_through_the_dense_path_and_match_the_definition():
    n = 8
    rng = np.random.default_rng(14)
    gates = iqp.local_gates(n, 3)
    theta = rng.uniform(-1, 1, len(gates))
    ops, Z = draws(n, 50, 40, 0.3, rng)
    ref, _, _ = definition_phases(theta, gates, ops, Z)
    model = _phases.phase_model(GateSet(gates, n), ops, Z)
    assert np.max(np.abs(model.phases(theta) - ref)) <= EXACT * np.max(np.abs(ref))


def test_memory_at_1000_qubits_has_no_operators_by_gates_intermediate():
    """O(n^2 + n N + L N |a|) memory: at n = 1000 (m = 500,500) an (L x m) or (m x N)
    array would take L m 8 bytes = 800 MB; the peak stays a small multiple of n^2."""
    n, L, N = 1000, 200, 200
    rng = np.random.default_rng(15)
    gs = GateSet(iqp.local_gates(n), n)
    theta = rng.uniform(-0.1, 0.1, gs.m)
    data = (rng.random((100, n)) < 0.4).astype(np.uint8)
    sigma = iqp.sigma_for_mean_weight(n, 2.0)
    tracemalloc.start()
    try:
        iqp.mmd2(theta, gs, data, sigma, n_ops=L, n_samples=N, rng=16, grad=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 * 8 * (n * n + n * N + L * N)        # ~ 120 MB vs L m 8 = 800 MB
    assert peak < L * gs.m * 8 / 6


def test_bad_precision_and_gate_set_size_are_named():
    data = np.zeros((3, 2), np.uint8)
    with pytest.raises(ValueError, match="precision must be one of 'auto', 'double', 'single'"):
        iqp.mmd2([0.1, 0.2], [(0,), (1,)], data, 1.0, n_ops=5, n_samples=5, precision="half")
    with pytest.raises(ValueError, match="gates must act on n = 2 qubits"):
        iqp.mmd2([0.1, 0.2, 0.3], GateSet([(0,), (1,), (2,)], 3), data, 1.0, n_ops=5,
                 n_samples=5)


@pytest.mark.parametrize("method", ["structured", "dense"])
def test_mmd2_equals_the_estimator_computed_operator_by_operator(method):
    """mmd2 computes each distinct operator once and weights it by its count; the loss and
    gradient must equal the estimator's formula applied to every drawn operator (repeats
    and weight-0 operators included), with the same draws (mmd2 draws ops, then Z)."""
    n, L, N = 10, 300, 200
    rng = np.random.default_rng(21)
    gates = random_gate_set(n, rng)
    theta = rng.uniform(-np.pi, np.pi, len(gates))
    data = (rng.random((40, n)) < 0.3).astype(np.uint8)
    sigma = iqp.sigma_for_mean_weight(n, 2.0)
    draw = np.random.default_rng(22)
    ops = (draw.random((L, n)) < iqp.operator_probability(sigma)).astype(np.uint8)
    Z = draw.integers(0, 2, size=(N, n), dtype=np.uint8)
    assert len(np.unique(ops, axis=0)) < L / 2          # the case this test is about
    Phi, S, Sigma = definition_phases(theta, gates, ops, Z)
    c, s = np.cos(Phi), np.sin(Phi)
    m1, m2 = c.mean(axis=1), (c * c).mean(axis=1)
    M = data.shape[0]
    t = (1 - 2 * ((data.astype(np.int64) @ ops.T.astype(np.int64)) % 2)).mean(axis=0)
    ell = (N * m1**2 - m2) / (N - 1) - 2 * m1 * t + (M * t**2 - 1) / (M - 1)
    # reference/iqp.md section 4: R_as and dL/dtheta_k = sum_a S_ak (R Sigma)_ak
    R = (-2 / N) * (((2 * N * m1 / (N - 1) - 2 * t) / L)[:, None] * s
                    - np.sin(2 * Phi) / ((N - 1) * L))
    ref_grad = np.einsum("am,am->m", S, R @ Sigma)
    value, grad = iqp.mmd2(theta, gates, data, sigma, n_ops=L, n_samples=N, rng=22,
                           grad=True, method=method, precision="double")
    assert value == pytest.approx(ell.mean(), abs=1e-12)
    assert np.max(np.abs(grad - ref_grad)) <= EXACT * np.max(np.abs(ref_grad))


def test_workspace_reuse_and_concurrent_calls_give_the_same_numbers():
    """mmd2 keeps its scratch arrays on the GateSet from call to call: calls of different
    sizes in a row, and calls from two threads at once (one of them then allocates afresh),
    give exactly what a fresh gate set gives; a gate set with a workspace still pickles."""
    n = 30
    rng = np.random.default_rng(23)
    gates = random_gate_set(n, rng)
    theta = rng.uniform(-1, 1, len(gates))
    data = (rng.random((60, n)) < 0.4).astype(np.uint8)
    sigma = iqp.sigma_for_mean_weight(n, 2.0)
    sizes = [(400, 300, 0), (900, 700, 1), (200, 100, 2), (900, 700, 3)]

    def run(gs, L, N, seed):
        return iqp.mmd2(theta, gs, data, sigma, n_ops=L, n_samples=N, rng=seed, grad=True)

    expected = [run(GateSet(gates, n), *size) for size in sizes]
    shared = GateSet(gates, n)
    for size, (v, g) in zip(sizes, expected, strict=True):
        v2, g2 = run(shared, *size)
        assert v2 == v and np.array_equal(g2, g)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda size: run(shared, *size), sizes * 2))
    for (v, g), (v2, g2) in zip(expected * 2, results, strict=True):
        assert v2 == v and np.array_equal(g2, g)
    copy = pickle.loads(pickle.dumps(shared))
    v3, g3 = run(copy, *sizes[0])
    assert v3 == expected[0][0] and np.array_equal(g3, expected[0][1])
