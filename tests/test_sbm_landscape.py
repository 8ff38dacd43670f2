"""Every fixed point of the population map, its stability and the thresholds, checked against
independent references: the map itself (fixed points are fixed), the dense n-dimensional
population map (they lift), finite-difference Jacobians, and the closed-form thresholds."""

import warnings

import numpy as np
import pytest
from scipy.special import expit

from explorer import sbm

FD_TOL = 1e-5


def roles(fps):
    return [f.role for f in fps]


def _even(x):
    return 2 * int(np.floor(x / 2))


@pytest.mark.parametrize("p,q", [(0.3, 0.1), (0.05, 0.01), (0.4, 0.25)])
def test_fixed_point_count_follows_the_thresholds(p, q):
    th = sbm.thresholds(p, q)
    cases = [
        (_even(th["truth"]), 1),                          # centre only
        (_even(th["truth"]) + 2, 3),                      # + truth pair
        (_even(th["all_same"]) + 2, 5),                   # + all-same saddles
        (_even(th["all_same_stable"]) + 2, 9),            # + stable all-same and 4 mixed
        (20 * _even(th["all_same_stable"]), 9),
    ]
    if _even(th["all_same_stable"]) > _even(th["all_same"]) + 2:
        cases.append((_even(th["all_same_stable"]), 5))   # just below n2*
    for n, count in cases:
        fps = sbm.fixed_points(n, p, q)
        assert len(fps) == count, (n, roles(fps))


def test_thresholds_match_closed_forms():
    p, q = 0.3, 0.1
    t, lam = sbm.constants(p, q)
    th = sbm.thresholds(p, q)
    mu = lambda n: (n * ((p + q) / 2 - lam) - (p - lam), n * (p - q) / 2 - (p - lam))  # noqa: E731
    assert t * mu(th["truth"])[1] == pytest.approx(1.0)
    assert t * mu(th["all_same"])[0] == pytest.approx(1.0)
    assert th["truth"] < th["all_same"] < th["all_same_stable"]
    assert sbm.thresholds(0.8, 0.4)["all_same"] == np.inf


@pytest.mark.parametrize("n,p,q", [(240, 0.3, 0.1), (2000, 0.3, 0.1), (3000, 0.05, 0.01),
                                   (10**6, 0.3, 0.1), (2000, 0.8, 0.4), (100, 0.3, 0.1)])
def test_fixed_points_are_fixed_in_logit_space(n, p, q):
    t, lam = sbm.constants(p, q)
    m = n // 2
    a, b = 4 * t * (m - 1) * (p - lam), 4 * t * m * (q - lam)
    for fp in sbm.fixed_points(n, p, q):
        X, Y = fp.logit_x, fp.logit_y
        sX, sY = np.tanh(X / 2) / 2, np.tanh(Y / 2) / 2
        fX, fY = a * sX + b * sY, b * sX + a * sY
        if fp.period == 2:   # the orbit maps to its partner
            assert np.allclose([fX, fY], [-X, -Y], rtol=1e-9, atol=1e-9)
        else:
            assert np.allclose([fX, fY], [X, Y], rtol=1e-9, atol=1e-9), fp.role
        # and in the ordinary coordinates, through the public map
        x1, y1 = sbm.population_map(fp.x, fp.y, n=n, p=p, q=q)
        target = (1 - fp.x, 1 - fp.y) if fp.period == 2 else (fp.x, fp.y)
        assert np.max(np.abs(np.array([x1, y1]) - target)) < 1e-10


def test_fixed_points_lift_to_the_n_dimensional_population_map():
    n, p, q = 240, 0.3, 0.1
    t, lam = sbm.constants(p, q)
    M = sbm.population_matrix(n, p, q) - lam * (np.ones((n, n)) - np.eye(n))
    for fp in sbm.fixed_points(n, p, q):
        psi = np.r_[np.full(n // 2, fp.x), np.full(n // 2, fp.y)]
        assert np.allclose(expit(4 * t * M @ (psi - 0.5)), psi, atol=1e-9), fp.role


def test_eigenvalues_match_finite_difference_jacobian_and_kinds():
    n, p, q = 240, 0.3, 0.1
    h = 1e-7
    for fp in sbm.fixed_points(n, p, q):
        if not (h < fp.x < 1 - h and h < fp.y < 1 - h):
            assert np.abs(fp.eigenvalues).max() < 1e-6   # saturated: super-attracting
            continue
        J = np.empty((2, 2))
        for j, e in enumerate(np.eye(2)):
            plus = sbm.population_map(fp.x + h * e[0], fp.y + h * e[1], n=n, p=p, q=q)
            minus = sbm.population_map(fp.x - h * e[0], fp.y - h * e[1], n=n, p=p, q=q)
            J[:, j] = (np.array(plus) - np.array(minus)) / (2 * h)
        eig = np.sort(np.real(np.linalg.eigvals(J)))
        assert np.allclose(eig, np.sort(fp.eigenvalues), rtol=FD_TOL, atol=1e-6), fp.role
    kinds = {(f.role, f.kind) for f in sbm.fixed_points(n, p, q)}
    assert kinds == {("centre", "source"), ("truth", "sink"), ("all_same", "sink"),
                     ("mixed", "saddle")}
    below = {(f.role, f.kind) for f in sbm.fixed_points(200, p, q)}
    assert below == {("centre", "source"), ("truth", "sink"), ("all_same", "saddle")}


def test_stability_agrees_with_dynamics():
    n, p, q = 2000, 0.3, 0.1
    fps = sbm.fixed_points(n, p, q)
    for fp in fps:
        if fp.kind == "sink" and 0 < fp.x < 1 and 0 < fp.y < 1:
            start = (np.clip(fp.x + 1e-3, 0, 1), np.clip(fp.y - 1e-3, 0, 1))
            tr = sbm.population_run([start[0]], [start[1]], n=n, p=p, q=q)
            assert np.allclose(tr.final[0], [fp.x, fp.y], atol=1e-6)
    # A start next to a mixed saddle, pushed across it, leaves it.
    mixed = next(f for f in fps if f.role == "mixed")
    tr = sbm.population_run([mixed.x], [mixed.y + 1e-4], n=n, p=p, q=q)
    assert np.abs(tr.final[0] - [mixed.x, mixed.y]).max() > 0.1


def test_two_cycle_and_no_all_same_when_p_plus_q_exceeds_one():
    fps = sbm.fixed_points(2000, 0.8, 0.4)
    assert roles(fps) == ["centre", "truth", "truth", "cycle", "cycle"]
    a, b = (f for f in fps if f.role == "cycle")
    assert a.period == b.period == 2 and a.kind == "sink"
    assert a.x == pytest.approx(1 - b.x) and a.x == pytest.approx(a.y)


def test_within_block_oscillation_for_strong_blocks():
    # p near 1 and q near 0: at the centre t(p - lam) > 1, the batch artefact of section 5.6.
    centre = sbm.fixed_points(100, 0.99, 0.01)[0]
    assert np.all(centre.transverse < -1)
    t, lam = sbm.constants(0.99, 0.01)
    assert centre.transverse[0] == pytest.approx(-t * (0.99 - lam))


def test_no_warnings_at_a_million_nodes_or_extreme_p_q():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n, p, q in [(10**6, 0.3, 0.1), (10**6, 0.999999, 1e-6), (10**6, 2e-5, 1e-5),
                        (4, 0.5, 0.4)]:
            for fp in sbm.fixed_points(n, p, q):
                assert np.isfinite([fp.logit_x, fp.logit_y]).all()
                assert np.isfinite(fp.eigenvalues).all()


def _limits(x, y, n, p, q):
    tr = sbm.population_run(np.atleast_1d(x), np.atleast_1d(y), n=n, p=p, q=q, max_iter=3000)
    fx, fy = tr.final.T
    return [(k, bool(a > 0.5), bool(b > 0.5))
            for k, a, b in zip(sbm.classify_limits(fx, fy, n=n, p=p, q=q), fx, fy, strict=True)]


def test_starts_either_side_of_a_separatrix_end_in_different_limits():
    n, p, q = 2000, 0.3, 0.1
    b = sbm.basins(n, p, q, grid=41)
    assert len(b.separatrix) > 20
    rng = np.random.default_rng(0)
    for x, y in b.separatrix[rng.choice(len(b.separatrix), 10, replace=False)]:
        # push across the curve in both axis directions; at least one pair straddles it
        pairs = [((x - 1e-6, y), (x + 1e-6, y)), ((x, y - 1e-6), (x, y + 1e-6))]
        assert any(
            _limits(*np.clip(a, 0, 1), n, p, q) != _limits(*np.clip(c, 0, 1), n, p, q)
            for a, c in pairs
        ), (x, y)


def test_separatrices_approach_the_first_step_sign_rule_at_large_n():
    # reference/sbm.md 5.3: for large n the boundaries are the lines through the centre
    # y - 1/2 = k (x - 1/2) with k = (lam - q)/(p - lam), and the mirror image.
    n, p, q = 10**6, 0.3, 0.1
    t, lam = sbm.constants(p, q)
    k = (lam - q) / (p - lam)
    sep = sbm.basins(n, p, q, grid=81).separatrix
    u, w = sep[:, 0] - 0.5, sep[:, 1] - 0.5
    far = np.maximum(np.abs(u), np.abs(w)) > 0.05
    dist = np.minimum(np.abs(w - k * u), np.abs(u - k * w)) / np.sqrt(1 + k * k)
    assert far.sum() > 50 and dist[far].max() < 2e-3


def test_basin_image_agrees_with_fixed_point_attractors():
    n, p, q = 2000, 0.3, 0.1
    b = sbm.basins(n, p, q, grid=31)
    sinks = {f.role for f in sbm.fixed_points(n, p, q) if f.kind == "sink"}
    assert set(np.unique(b.kind)) - {"centre"} == sinks   # the centre is a lone source point


@pytest.mark.parametrize("n,p,q", [(240, 0.3, 0.1), (200, 0.3, 0.1), (60, 0.3, 0.1),
                                   (12, 0.3, 0.1), (400, 0.45, 0.3)])
def test_kind_agrees_with_iterating_small_perturbations(n, p, q):
    """Push each interior fixed point along each eigenvector; it grows iff |eigenvalue| > 1."""
    steps, h = 6, 1e-7
    for fp in sbm.fixed_points(n, p, q):
        if fp.period != 1 or not (1e-4 < fp.x < 1 - 1e-4 and 1e-4 < fp.y < 1 - 1e-4):
            continue
        t, lam = sbm.constants(p, q)
        m = n // 2
        a, b = 4 * t * (m - 1) * (p - lam), 4 * t * m * (q - lam)
        dx, dy = fp.x * (1 - fp.x), fp.y * (1 - fp.y)
        w, V = np.linalg.eig(np.array([[dx * a, dx * b], [dy * b, dy * a]]))
        grows = []
        for lam_i, v in zip(np.real(w), np.real(V).T, strict=True):
            x, y = fp.x + h * v[0], fp.y + h * v[1]
            for _ in range(steps):
                x, y = sbm.population_map(x, y, n=n, p=p, q=q)
            dist = np.hypot(x - fp.x, y - fp.y)
            grows.append(dist > h)
            assert (dist > h) == (abs(lam_i) > 1), (fp.role, lam_i, dist)
        expected = {0: "sink", 1: "saddle", 2: "source"}[sum(grows)]
        assert fp.kind == expected, fp.role


@pytest.mark.parametrize("p,q", [(0.3, 0.1), (0.05, 0.01), (0.8, 0.4)])
def test_bifurcation_diagram_columns_are_the_fixed_points_of_each_n(p, q):
    """One batched scan for all n gives, per n, the fixed points found for that n alone; each
    point is fixed under the 2-D map, and the branch counts follow the thresholds."""
    ns = np.unique(2 * np.round(np.geomspace(4, 20000, 25) / 2).astype(int))
    d = sbm.bifurcation_diagram(p, q, ns, resolution=2001)
    th = d["thresholds"]
    assert th == sbm.thresholds(p, q)
    for n in ns:
        at = d["n"] == n
        alone = [f for f in sbm.fixed_points(int(n), p, q, resolution=2001) if f.period == 1]
        assert list(d["role"][at]) == [f.role for f in alone]
        assert list(d["kind"][at]) == [f.kind for f in alone]
        np.testing.assert_allclose(d["x"][at], [f.x for f in alone], atol=1e-12)
        xn, yn = sbm.population_map(d["x"][at], d["y"][at], n=int(n), p=p, q=q)
        np.testing.assert_allclose(xn, d["x"][at], atol=1e-9)
        np.testing.assert_allclose(yn, d["y"][at], atol=1e-9)
        mixed = int(np.sum(d["role"][at] == "mixed"))
        assert mixed == (4 if n > th["all_same_stable"] else 0), (n, mixed)


def test_basins_separatrix_tolerance_is_validated_and_bounds_the_bracket():
    coarse = sbm.basins(2000, 0.3, 0.1, grid=41, max_iter=300, separatrix_tol=1e-4)
    fine = sbm.basins(2000, 0.3, 0.1, grid=41, max_iter=300)
    assert coarse.separatrix.shape == fine.separatrix.shape
    assert np.max(np.abs(coarse.separatrix - fine.separatrix)) <= 1e-4
    with pytest.raises(ValueError, match=r"separatrix_tol must be in \(0, 0.025\]; got 0.1"):
        sbm.basins(2000, 0.3, 0.1, grid=41, separatrix_tol=0.1)


@pytest.mark.parametrize("p,q", [(0.3, 0.1), (0.8, 0.4), (0.12, 0.1)])
def test_bifurcation_rows_are_the_fixed_point_objects_bit_for_bit(p, q):
    """The diagram's rows skip building FixedPoint objects; from the same roots they must be
    exactly the objects' x, y, role and kind."""
    from explorer.sbm._landscape import _block_coefficients, _fixed_points, _mixed_roots

    ns = np.unique(2 * np.round(np.geomspace(4, 20000, 30) / 2).astype(int))
    d = sbm.bifurcation_diagram(p, q, ns, resolution=2001)
    coef = np.array([_block_coefficients(int(n), p, q)[:2] for n in ns])
    points = [f for n, roots in zip(ns, _mixed_roots(coef[:, 0], coef[:, 1], 2001), strict=True)
              for f in _fixed_points(int(n), p, q, roots) if f.period == 1]
    np.testing.assert_array_equal(d["x"], [f.x for f in points])
    np.testing.assert_array_equal(d["y"], [f.y for f in points])
    assert list(d["role"]) == [f.role for f in points]
    assert list(d["kind"]) == [f.kind for f in points]


@pytest.mark.parametrize("n,p,q", [(2000, 0.3, 0.1), (2000, 0.8, 0.4), (50, 0.3, 0.1)])
def test_basin_kinds_are_classify_limits_of_the_settled_grid(n, p, q):
    """basins classifies by integer codes; the image must be classify_limits' names."""
    from explorer.sbm._population import _block_coefficients, _settle

    b = sbm.basins(n, p, q, grid=31, max_iter=300)
    gx, gy = np.meshgrid(b.x, b.y)
    a_, b_, _, _ = _block_coefficients(n, p, q)
    x, y = _settle(gx.ravel(), gy.ravel(), a_, b_, 300, tol=1e-10)
    want = sbm.classify_limits(x, y, n=n, p=p, q=q).reshape(b.kind.shape)
    assert b.kind.dtype == want.dtype and np.array_equal(b.kind, want)
