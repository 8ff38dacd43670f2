"""Population BCAVI on the block plane, checked against independent references.

References used: the n-dimensional population map built from the dense expected
adjacency (``population_matrix``), the closed-form spectrum of P - lam (J - I),
finite differences of the ELBO, and the swap symmetries of the constants
(reference/sbm.md sections 2 to 5, derived there).
"""

import itertools

import numpy as np
import pytest
from scipy.special import expit

from explorer import sbm
from explorer._common import Status

TOL = 1e-12          # exact identities in floating point
FD_TOL = 1e-5        # finite differences (relative)
PQ = [(0.3, 0.1), (0.05, 0.01), (0.8, 0.4), (0.9, 0.85), (0.6, 0.2)]


@pytest.mark.parametrize("p,q", PQ)
def test_constants_invariants(p, q):
    t, lam = sbm.constants(p, q)
    assert t > 0 and q < lam < p
    # Label/edge swap symmetry: lam(1-q, 1-p) = 1 - lam(p, q), t unchanged.
    t2, lam2 = sbm.constants(1 - q, 1 - p)
    assert t2 == pytest.approx(t, rel=TOL) and lam2 == pytest.approx(1 - lam, rel=1e-12)
    # sign(p + q - 2 lam) = sign(1 - p - q)
    assert np.sign(p + q - 2 * lam) == np.sign(1 - p - q)


def test_lambda_is_one_half_on_p_plus_q_equal_one_and_log_mean_for_small_pq():
    assert sbm.constants(0.7, 0.3)[1] == pytest.approx(0.5, abs=1e-14)
    p, q = 2e-4, 1e-4
    log_mean = (p - q) / np.log(p / q)
    assert sbm.constants(p, q)[1] == pytest.approx(log_mean, rel=1e-3)


def _full_population_step(psi, n, p, q):
    """The n-dimensional population BCAVI map, built densely (independent of the 2-D code)."""
    t, lam = sbm.constants(p, q)
    P = sbm.population_matrix(n, p, q)
    M = P - lam * (np.ones((n, n)) - np.eye(n))
    return expit(4 * t * M @ (psi - 0.5))


@pytest.mark.parametrize("p,q", PQ)
def test_two_d_map_equals_full_population_map_on_block_constant_states(p, q):
    n = 40
    rng = np.random.default_rng(0)
    for x, y in rng.random((5, 2)):
        psi = np.r_[np.full(n // 2, x), np.full(n // 2, y)]
        full = _full_population_step(psi, n, p, q)
        xn, yn = sbm.population_map(x, y, n=n, p=p, q=q)
        assert np.allclose(full[: n // 2], xn, rtol=0, atol=TOL)
        assert np.allclose(full[n // 2 :], yn, rtol=0, atol=TOL)


def test_spectrum_of_population_operator_matches_closed_form():
    n, p, q = 30, 0.4, 0.15
    t, lam = sbm.constants(p, q)
    P = sbm.population_matrix(n, p, q)
    assert np.allclose(P, P.T) and np.all(np.diag(P) == 0)
    M = P - lam * (np.ones((n, n)) - np.eye(n))
    mu_1 = n * ((p + q) / 2 - lam) - (p - lam)
    mu_v = n * (p - q) / 2 - (p - lam)
    mu_perp = -(p - lam)
    expected = np.sort(np.r_[mu_1, mu_v, np.full(n - 2, mu_perp)])
    assert np.allclose(np.linalg.eigvalsh(M), expected, atol=1e-10)
    # The truth threshold is where t * mu_v = 1.
    n_star = sbm.truth_threshold(p, q)
    assert t * (n_star * (p - q) / 2 - (p - lam)) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("p,q", PQ)
def test_centre_jacobian_is_t_times_block_operator(p, q):
    n, h = 100, 1e-6
    t, lam = sbm.constants(p, q)
    m = n // 2
    # Finite-difference Jacobian of the 2-D map at the centre.
    J = np.empty((2, 2))
    for j, e in enumerate(np.eye(2)):
        fp = np.array(sbm.population_map(0.5 + h * e[0], 0.5 + h * e[1], n=n, p=p, q=q))
        fm = np.array(sbm.population_map(0.5 - h * e[0], 0.5 - h * e[1], n=n, p=p, q=q))
        J[:, j] = (fp - fm) / (2 * h)
    eig = np.sort(np.linalg.eigvalsh((J + J.T) / 2))
    mu_1 = (m - 1) * (p - lam) + m * (q - lam)
    mu_v = (m - 1) * (p - lam) - m * (q - lam)
    assert np.allclose(eig, np.sort([t * mu_1, t * mu_v]), rtol=FD_TOL)


def test_symmetries_of_the_map():
    rng = np.random.default_rng(1)
    x, y = rng.random(50), rng.random(50)
    for p, q in PQ:
        kw = dict(n=60, p=p, q=q)
        fx, fy = sbm.population_map(x, y, **kw)
        sx, sy = sbm.population_map(1 - x, 1 - y, **kw)   # label swap
        assert np.allclose(sx, 1 - fx, atol=TOL) and np.allclose(sy, 1 - fy, atol=TOL)
        bx, by = sbm.population_map(y, x, **kw)           # block exchange
        assert np.allclose(bx, fy, atol=TOL) and np.allclose(by, fx, atol=TOL)
        cx, cy = sbm.population_map(0.5, 0.5, **kw)       # the centre is fixed
        assert cx == 0.5 and cy == 0.5


@pytest.mark.parametrize("p,q", PQ)
def test_elbo_gradient_vanishes_exactly_at_map_fixed_points(p, q):
    """The map is the ELBO's stationarity condition: finite differences of the ELBO
    equal m [4t (block field) - logit(x)] everywhere, hence vanish at fixed points."""
    n, h = 200, 1e-6
    t, lam = sbm.constants(p, q)
    m = n // 2
    rng = np.random.default_rng(2)
    for x, y in 0.05 + 0.9 * rng.random((4, 2)):
        # The block field, written out from the n-dimensional operator.
        gx = 4 * t * ((m - 1) * (p - lam) * (x - 0.5) + m * (q - lam) * (y - 0.5))
        fd_x = (sbm.population_elbo(x + h, y, n=n, p=p, q=q)
                - sbm.population_elbo(x - h, y, n=n, p=p, q=q)) / (2 * h)
        expected = m * (gx - np.log(x / (1 - x)))
        assert fd_x == pytest.approx(expected, rel=FD_TOL, abs=1e-4 * m)
    # ... so at a fixed point the finite-difference gradient vanishes.
    tr = sbm.population_run([0.7], [0.4], n=n, p=p, q=q, max_iter=5000)
    x, y = np.clip(tr.final[0], 1e-3, 1 - 1e-3)
    if tr.converged and 1e-3 < x < 1 - 1e-3:
        fd = (sbm.population_elbo(x + h, y, n=n, p=p, q=q)
              - sbm.population_elbo(x - h, y, n=n, p=p, q=q)) / (2 * h)
        assert abs(fd) < 1e-3 * m


def test_truth_appears_exactly_above_the_threshold():
    p, q = 0.3, 0.1
    n_star = sbm.truth_threshold(p, q)
    below, above = 2 * int(n_star // 2), 2 * int(n_star // 2) + 2
    assert below < n_star < above
    start_x, start_y = np.array([0.9]), np.array([0.1])
    lo = sbm.population_run(start_x, start_y, n=below, p=p, q=q, max_iter=5000)
    hi = sbm.population_run(start_x, start_y, n=above, p=p, q=q, max_iter=5000)
    assert sbm.classify_limits(*lo.final.T, n=below, p=p, q=q)[0] == "centre"
    assert sbm.classify_limits(*hi.final.T, n=above, p=p, q=q)[0] == "truth"


def test_run_records_start_and_fixed_points_are_fixed():
    x0, y0 = np.array([0.9, 0.2, 0.7]), np.array([0.2, 0.9, 0.7])  # the diagonal is invariant
    tr = sbm.population_run(x0, y0, n=2000, p=0.3, q=0.1)
    assert tr.status is Status.CONVERGED
    assert np.array_equal(tr.iterates[0], np.c_[x0, y0])
    assert tr.iterates.shape == (tr.n_records, 3, 2) and tr.objective.shape == (tr.n_records, 3)
    fx, fy = sbm.population_map(tr.final[:, 0], tr.final[:, 1], n=2000, p=0.3, q=0.1)
    assert np.allclose(np.c_[fx, fy], tr.final, atol=1e-10)
    kinds = sbm.classify_limits(tr.final[:, 0], tr.final[:, 1], n=2000, p=0.3, q=0.1)
    assert list(kinds) == ["truth", "truth", "all_same"]


def test_two_cycle_when_p_plus_q_exceeds_one():
    n, p, q = 2000, 0.8, 0.4
    tr = sbm.population_run([0.9], [0.95], n=n, p=p, q=q, max_iter=200)
    assert tr.status is Status.MAX_ITER
    x, y = tr.final[0]
    assert sbm.classify_limits(x, y, n=n, p=p, q=q) == "cycle"
    x1, y1 = sbm.population_map(x, y, n=n, p=p, q=q)
    # The mean of psi alternates between (near) 0 and 1.
    assert abs((x + y) / 2 - (x1 + y1) / 2) > 0.99


def test_basins_agree_with_individual_runs():
    b = sbm.basins(2000, 0.3, 0.1, grid=9)
    gx, gy = np.meshgrid(b.x, b.y)
    tr = sbm.population_run(gx.ravel(), gy.ravel(), n=2000, p=0.3, q=0.1, max_iter=500)
    kinds = sbm.classify_limits(tr.final[:, 0], tr.final[:, 1], n=2000, p=0.3, q=0.1)
    assert np.array_equal(kinds.reshape(9, 9), b.kind)
    assert b.kind[0, -1] == "truth" and b.kind[-1, 0] == "truth" and b.kind[4, 4] == "centre"


def test_basin_shares_sum_to_one_and_are_reproducible():
    a = sbm.basin_shares(600, 0.3, 0.1, n_starts=300, rng=3)
    assert sum(a.values()) == pytest.approx(1.0) and set(a) == set(sbm.LIMIT_KINDS)
    assert a == sbm.basin_shares(600, 0.3, 0.1, n_starts=300, rng=3)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n=7, p=0.3, q=0.1), r"n must be an even integer in \[4, 100000000\]; got 7"),
        (dict(n=10, p=1.3, q=0.1), r"p must be in \(0, 1\); got 1.3"),
        (dict(n=10, p=0.3, q=0.5), "assortative"),
        (dict(n=10, p=0.3, q=0.0), r"q must be in \(0, 1\); got 0"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sbm.population_map(0.5, 0.5, **kwargs)


def test_start_validation():
    with pytest.raises(ValueError, match=r"x0 entries must be in \[0, 1\]"):
        sbm.population_run([1.2], [0.3], n=10, p=0.3, q=0.1)
    with pytest.raises(ValueError, match="same shape"):
        sbm.population_run([0.2, 0.3], [0.3], n=10, p=0.3, q=0.1)


def test_no_warnings_when_saturated(recwarn):
    import warnings

    warnings.simplefilter("error")
    tr = sbm.population_run([1.0, 0.0], [0.0, 1.0], n=1_000_000, p=0.999, q=1e-6, max_iter=5)
    assert np.all(np.isfinite(tr.objective))
    sbm.basins(1_000_000, 0.999, 1e-6, grid=11)


def test_misspecified_map_is_one_bcavi_sweep_with_those_parameters():
    """The 2-D misspecified map against the n-dimensional BCAVI sweep on the expected graph of
    the true (p, q) with the update's (p_hat, q_hat) (block-constant starts)."""
    n, p, q = 400, 0.3, 0.1
    A = sbm.expected_graph(n, p, q)
    for (p_hat, q_hat), (x, y) in itertools.product([(0.8, 0.4), (0.12, 0.05)],
                                                    [(0.9, 0.2), (0.6, 0.55), (0.1, 0.3)]):
        psi = np.r_[np.full(n // 2, x), np.full(n // 2, y)][:, None]
        run = sbm.bcavi(A, psi, p=p_hat, q=q_hat, max_iter=1, tol=0)
        want = run.extras["block_means"][1].ravel()
        got = sbm.population_map(x, y, n=n, p=p, q=q, p_hat=p_hat, q_hat=q_hat)
        assert np.allclose(got, want, atol=1e-12)
    # with the true parameters it is the known map
    assert np.allclose(sbm.population_map(0.7, 0.2, n=n, p=p, q=q, p_hat=p, q_hat=q),
                       sbm.population_map(0.7, 0.2, n=n, p=p, q=q), atol=1e-15)
    with pytest.raises(ValueError, match="p_hat and q_hat go together"):
        sbm.population_map(0.7, 0.2, n=n, p=p, q=q, p_hat=0.2)


def test_limits_are_classified_under_the_map_that_was_iterated():
    """With p_hat + q_hat > 1 the misspecified map alternates between everybody-in-one-class
    states: a 2-cycle, which the known map would call all-same."""
    n, p, q, p_hat, q_hat = 2000, 0.3, 0.1, 0.8, 0.4
    x, y = np.array([0.9, 0.7]), np.array([0.2, 0.7])
    for _ in range(300):
        x, y = sbm.population_map(x, y, n=n, p=p, q=q, p_hat=p_hat, q_hat=q_hat)
    kinds = sbm.classify_limits(x, y, n=n, p=p, q=q, p_hat=p_hat, q_hat=q_hat)
    assert list(kinds) == ["truth", "cycle"]
    assert list(sbm.classify_limits(x, y, n=n, p=p, q=q)) == ["truth", "all_same"]
    # joint updates from below the escape offset collapse to the centre: fixed there
    d = sbm.escape_threshold(n, p, q) / 2
    x, y = np.array([0.5 + d]), np.array([0.5 - d])
    for _ in range(500):
        x, y, _, _ = sbm.joint_population_map(x, y, n=n, p=p, q=q)
    assert list(sbm.classify_limits(x, y, n=n, p=p, q=q, joint=True)) == ["centre"]


def test_tol_zero_runs_exactly_max_iter_sweeps():
    A, _ = sbm.sample_graph(60, 0.4, 0.1, rng=0)
    psi = sbm.initial_psi("uniform", 60, 3, rng=1)
    run = sbm.bcavi(A, psi, p=0.4, q=0.1, max_iter=7, tol=0)
    assert run.times[-1] == 7 and run.status.name == "MAX_ITER"
