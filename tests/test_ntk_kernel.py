"""Kernel gradient descent in the eigenbasis, checked against independent references: explicit
iteration of F <- F - alpha K_n (F - y), hand-computed diagonal cases, explicit solves, the
stopping-time identity, the theory's rates, and Monte Carlo against the risk bound."""

import math
import warnings

import numpy as np
import pytest

from explorer import ntk

EXACT = 1e-10
SLOPE_TOL = 0.05


def random_psd(n, rank=None, rng=0):
    rng = np.random.default_rng(rng)
    J = rng.standard_normal((n, rank or n))
    return J @ J.T, J


def test_closed_form_equals_iterated_gd_and_tends_to_flow():
    n = 50
    K, _ = random_psd(n)
    rng = np.random.default_rng(1)
    y, f0 = rng.standard_normal(n), rng.standard_normal(n)
    predict = ntk.predict_fn(K, y, f0)
    alpha = predict.alpha
    F = f0.copy()
    for _ in range(300):
        F = F - alpha * (K / n) @ (F - y)
    assert np.max(np.abs(predict(300)[0] - F)) < EXACT
    # small steps at fixed alpha t approach gradient flow exp(-K_n alpha t)
    lam, U = np.linalg.eigh(K / n)
    flow = y - U @ (np.exp(-lam * 5.0 / lam.max()) * (U.T @ (y - f0)))
    gaps = []
    for shrink in (1, 4, 16):
        a = 1 / (lam.max() * shrink)
        F = f0.copy()
        for _ in range(5 * shrink):
            F = F - a * (K / n) @ (F - y)
        gaps.append(np.max(np.abs(F - flow)))
    assert gaps[0] > gaps[1] > gaps[2]


def test_hand_checkable_diagonal_case():
    lam = np.array([1, 1 / 4, 1 / 9, 1 / 16, 1 / 25])
    fstar = np.array([1, -1, 0.5, 0, 0.25])
    n, sigma = 5, 0.3
    coef = fstar / np.sqrt(n)           # U = I, f0 = 0
    predict = ntk.predict_fn(np.diag(lam) * n, fstar, np.zeros(n), alpha=1.0)
    for t in (0, 1, 3, 10):
        assert np.allclose(predict(t)[0], fstar * (1 - (1 - lam) ** t), atol=EXACT)
        b, v, r = ntk.risk_curve(lam, coef, sigma, t, alpha=1.0)
        assert b == pytest.approx(np.sum(fstar**2 * (1 - lam) ** (2 * t)) / n)
        assert v == pytest.approx(sigma**2 / n * np.sum((1 - (1 - lam) ** t) ** 2))
    assert ntk.rkhs_norm(lam, coef) ** 2 == pytest.approx(np.sum(fstar**2 / lam) / n)


def test_bias_variance_monotone_with_limits():
    lam = np.r_[ntk.spectrum("polynomial", 300, beta=1.5)[:250], np.zeros(50)]
    coef = ntk.target_coefficients(lam, R=2.0, rng=2)
    coef[250:] = 0.01                   # a part of f* - f0 no kernel direction can fit
    sigma = 0.7
    t = np.r_[0, np.geomspace(1, 1e9, 300)]
    b, v, _ = ntk.risk_curve(lam, coef, sigma, t)
    assert np.all(np.diff(b) <= 1e-15) and np.all(np.diff(v) >= -1e-15)
    assert b[0] == pytest.approx(np.sum(coef**2)) and v[0] == 0
    assert b[-1] == pytest.approx(np.sum(coef[250:] ** 2))
    assert v[-1] == pytest.approx(sigma**2 * 250 / 300)


def test_stopping_time_identity_on_random_configurations():
    rng = np.random.default_rng(3)
    for _ in range(60):
        kind = rng.choice(["polynomial", "exponential", "spiked"])
        lam = ntk.spectrum(kind, int(rng.integers(20, 3000)), beta=rng.uniform(1.1, 4),
                           gamma=rng.uniform(0.01, 0.5))
        R, sigma, alpha = rng.uniform(0.05, 20), rng.uniform(0.01, 3), rng.uniform(0.2, 1)
        st = ntk.stopping_time(lam, R, sigma, alpha=alpha)
        assert st.t_hat == math.ceil(1 / (alpha * st.eps_hat**2)) - 1
        assert st.bound == pytest.approx(12 * R**2 * st.eps_hat**2)


def test_stopping_time_monotone_in_R_sigma_and_alpha():
    lam = ntk.spectrum("polynomial", 2000, beta=2.0)
    ts = [ntk.stopping_time(lam, R, 0.5).t_hat for R in np.geomspace(0.05, 5, 20)]
    assert np.all(np.diff(ts) >= 0) and ts[-1] > ts[0]
    ts = [ntk.stopping_time(lam, 1.0, s).t_hat for s in np.geomspace(0.01, 2, 20)]
    assert np.all(np.diff(ts) <= 0) and ts[0] > ts[-1]
    for alpha in (1.0, 0.5, 0.25):
        a, b = ntk.stopping_time(lam, 1.0, 0.5, alpha=alpha), \
            ntk.stopping_time(lam, 1.0, 0.5, alpha=alpha / 2)
        assert b.t_hat in (2 * a.t_hat, 2 * a.t_hat + 1)   # alpha T_hat invariant up to ceil


def test_stopping_time_default_step_is_one_over_lam1_like_the_rest():
    lam = ntk.spectrum("polynomial", 800, beta=2.0, scale=4.0)     # lam_1 = 4, not 1
    st = ntk.stopping_time(lam, 1.0, 0.5)
    assert st == ntk.stopping_time(lam, 1.0, 0.5, alpha=0.25)
    assert st == ntk.stopping_time(lam, 1.0, 0.5, alpha=ntk.step_size(lam))
    assert st.t_hat == math.ceil(1 / (0.25 * st.eps_hat**2)) - 1
    unit = ntk.stopping_time(lam, 1.0, 0.5, alpha=1.0)
    assert unit.eps_hat == st.eps_hat and unit.t_hat < st.t_hat   # alpha t is what counts


def test_step_size_is_relative_to_the_top_eigenvalue():
    lam = np.array([0.5, 4.0, 1.0])
    assert ntk.step_size(lam) == 0.25
    assert ntk.step_size(lam, 1.5) == 1.5 / 4.0
    for bad in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match=r"relative must be .*in \(0, inf\); got"):
            ntk.step_size(lam, bad)
    with pytest.raises(ValueError, match="lam must have a positive eigenvalue"):
        ntk.step_size(np.zeros(3), 1.0)


def test_risk_curve_and_predictions_are_named_tuples():
    lam = ntk.spectrum("polynomial", 30)
    coef = ntk.target_coefficients(lam, R=1.0, rng=1)
    t = np.array([0.0, 5.0, 50.0])
    curve = ntk.risk_curve(lam, coef, 0.3, t)
    assert isinstance(curve, ntk.RiskCurve) and curve._fields == ("bias2", "variance", "risk")
    bias2, variance, risk = curve
    assert curve[2] is curve.risk is risk and bias2 is curve.bias2 and variance is curve.variance
    s = (1 - lam) ** t[:, None]                       # alpha = 1/lam_1 = 1
    assert np.allclose(curve.bias2, np.sum(s**2 * coef**2, axis=1), rtol=EXACT)
    assert np.allclose(curve.risk, curve.bias2 + curve.variance, rtol=EXACT)
    (K, _), y, f0 = random_psd(6, rng=2), np.arange(6.0), np.zeros(6)
    pred = ntk.predict_fn(K, y, f0, K_test=K[:2], f0_test=f0[:2])(3)
    assert isinstance(pred, ntk.Prediction) and pred._fields == ("train", "test")
    train, test = pred
    assert train is pred.train and test is pred[1] and test.shape == (2,)
    assert ntk.predict_fn(K, y, f0)(3).test is None


def _brute_risk(lam, coef, sigma, alpha, t_max):
    """Expected risk at t = 0 .. t_max from the update F <- F - alpha K_n (F - y), mode by mode
    (integer powers, no shortcut shared with the package); overflow counts as +inf."""
    t = np.arange(t_max + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.power((1 - alpha * lam)[None, :], t[:, None])
        r = np.sum(s**2 * coef**2, axis=1) + sigma**2 / lam.size * np.sum((1 - s) ** 2, axis=1)
    return np.where(np.isfinite(r), r, np.inf)


@pytest.mark.parametrize("relative", [0.5, 1.0, 1.3, 1.7, 1.95, 2.0, 2.05, 2.5])
@pytest.mark.parametrize("kind", ["polynomial", "spiked"])
def test_oracle_time_is_the_argmin_for_any_step(kind, relative):
    """Past 1/lam_1 the top modes flip sign each step (even and odd t differ); past 2/lam_1
    they blow up. The oracle is still the whole-step argmin of the expected risk."""
    rng = np.random.default_rng(int(relative * 100))
    for n, sigma in ((40, 0.5), (150, 0.05), (90, 2.0)):
        lam = ntk.spectrum(kind, n, beta=rng.uniform(1.2, 3.0), scale=rng.uniform(0.5, 3.0))
        coef = ntk.target_coefficients(lam, R=rng.uniform(0.2, 3.0), rng=rng)
        alpha = ntk.step_size(lam, relative)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # the step warning, when > 1
            t = ntk.oracle_time(lam, coef, sigma, alpha=alpha)
        risk = _brute_risk(lam, coef, sigma, alpha, 20_000)
        best = int(np.argmin(risk))
        assert best < risk.size - 1                           # the minimum is inside the range
        assert t == best or risk[t] <= risk[best] * (1 + EXACT), (t, best)


def test_oracle_time_survives_non_finite_risks():
    # a diverging mode with no coefficient and no noise: 0 * inf would be nan
    lam, coef = np.array([1.0, 0.3]), np.array([0.0, 1.0])
    with pytest.warns(RuntimeWarning, match="diverges"):
        t = ntk.oracle_time(lam, coef, 0.0, alpha=2.5)
    risk = _brute_risk(lam, coef, 0.0, 2.5, 1000)
    assert t >= 0 and risk[min(t, 1000)] <= risk.min() + EXACT
    with pytest.warns(RuntimeWarning, match="diverges"):
        assert ntk.oracle_time(lam, np.ones(2), 1.0, alpha=2.5) == int(np.argmin(
            _brute_risk(lam, np.ones(2), 1.0, 2.5, 1000)))


def test_limits_R_zero_and_sigma_zero():
    lam = ntk.spectrum("exponential", 500)
    coef = ntk.target_coefficients(lam, R=0.0, rng=4)
    assert np.all(coef == 0)
    b, _, _ = ntk.risk_curve(lam, coef, 1.0, [0, 10, 1000])
    assert np.all(b == 0)
    assert ntk.stopping_time(lam, 0.0, 1.0).t_hat == 0
    assert ntk.oracle_time(lam, coef, 1.0) == 0
    assert ntk.stopping_time(lam, 1.0, 0.0).t_hat == math.inf


@pytest.mark.parametrize("beta", [1.5, 2.0, 3.0])
@pytest.mark.parametrize("r", [0.5, 1.0])
def test_rates_in_n_match_the_theory(beta, r):
    rs = ntk.rate_sweep([100 * 2**k for k in range(8)], kind="polynomial", beta=beta, r=r,
                        R=1.0, sigma=0.5, rng=5)
    th = rs.theory
    assert rs.slopes["risk_oracle"] == pytest.approx(th["risk_oracle"], abs=SLOPE_TOL)
    assert rs.slopes["t_oracle"] == pytest.approx(th["t_oracle"], abs=SLOPE_TOL)
    assert rs.slopes["t_hat"] == pytest.approx(th["t_hat"], abs=SLOPE_TOL)
    assert rs.slopes["risk_hat"] <= th["risk_hat"] + SLOPE_TOL
    assert np.all(rs.risk_hat <= rs.bound)


def test_exponential_spectrum_gives_log_n_over_n():
    rs = ntk.rate_sweep([400 * 2**k for k in range(6)], kind="exponential", gamma=0.05,
                        R=1.0, sigma=0.5, rng=6)
    ratio = rs.n * rs.risk_hat / np.log(rs.n)
    assert np.ptp(ratio[-3:]) < 0.25 * ratio[-1]      # settles to a constant


def test_bound_never_exceeded_in_monte_carlo():
    lam = ntk.spectrum("polynomial", 400, beta=2.0)
    rng = np.random.default_rng(7)
    for R in (0.2, 1.0, 5.0):
        for sigma in (0.1, 0.5, 2.0):
            coef = ntk.target_coefficients(lam, R=R, rng=rng)
            st = ntk.stopping_time(lam, R, sigma)
            for _ in range(20):
                risk = ntk.gd_path(lam, coef, sigma, st.t_hat, rng=rng)
                assert risk <= st.bound


def test_predict_fn_matches_explicit_solves_and_rank_deficient_kernels():
    n, m = 40, 7
    K, J = random_psd(n, rng=8)
    Jt = np.random.default_rng(9).standard_normal((m, n))
    K_test = Jt @ J.T
    rng = np.random.default_rng(10)
    y, f0, f0t = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(m)
    predict = ntk.predict_fn(K, y, f0, K_test=K_test, f0_test=f0t)
    train, test = predict(np.inf)
    assert np.allclose(train, y, atol=1e-8)
    assert np.allclose(test, f0t + K_test @ np.linalg.solve(K, y - f0), atol=1e-8)
    # rank deficient: P = 5 features for n = 40 points; compare with GD on the weights
    P = 5
    Kd, Jd = random_psd(n, rank=P, rng=11)
    Jdt = np.random.default_rng(12).standard_normal((m, P))
    pred = ntk.predict_fn(Kd, y, f0, K_test=Jdt @ Jd.T, f0_test=f0t)
    theta, a = np.zeros(P), pred.alpha
    for _ in range(50):
        theta -= a / n * Jd.T @ (f0 + Jd @ theta - y)   # the linearised model's GD
    train, test = pred(50)
    assert np.allclose(train, f0 + Jd @ theta, atol=1e-9)
    assert np.allclose(test, f0t + Jdt @ theta, atol=1e-9)
    assert np.all(np.isfinite(pred(np.inf)[1]))


def test_krr_is_of_the_same_order_as_early_stopping():
    lam = ntk.spectrum("polynomial", 1000, beta=2.0)
    coef = ntk.target_coefficients(lam, R=1.0, rng=13)
    t_or = ntk.oracle_time(lam, coef, 0.5)
    gd_best = ntk.risk_curve(lam, coef, 0.5, t_or)[2]
    krr = ntk.krr_equivalent(lam, coef, 0.5)
    assert 0.3 < krr.risk / gd_best < 3
    assert 0.1 < krr.lam_reg * t_or / lam.max() < 10    # lam_reg ~ 1 / eta


def test_spectrum_kinds():
    for kind in ntk.KINDS:
        lam = ntk.spectrum(kind, 100)
        assert lam[0] == 1 and np.all(np.diff(lam) <= 0) and np.all(lam >= 0)
    spiked = ntk.spectrum("spiked", 100, kappa=25, beta=1.5)
    assert spiked[0] / spiked[1] == pytest.approx(25)
    assert np.count_nonzero(ntk.spectrum("finite_rank", 100, m=7)) == 7


def test_bad_inputs_and_step_warnings():
    lam = ntk.spectrum("polynomial", 10)
    coef = np.ones(10)
    with pytest.raises(ValueError, match="kind must be one of 'polynomial'"):
        ntk.spectrum("gaussian", 10)
    with pytest.raises(ValueError, match="coef must have one entry per eigenvalue"):
        ntk.risk_curve(lam, coef[:5], 1.0, 1)
    with pytest.raises(ValueError, match=r"sigma must be in \[0, inf\)"):
        ntk.risk_curve(lam, coef, -1.0, 1)
    with pytest.raises(ValueError, match=r"R must be in \[0, 1e\+100\]"):
        ntk.stopping_time(lam, -1.0, 1.0)
    with pytest.raises(ValueError, match=r"alpha must be in \(0, inf\)"):
        ntk.risk_curve(lam, coef, 1.0, 1, alpha=0.0)
    with pytest.raises(ValueError, match="lam entries must be >= 0"):
        ntk.risk_curve(np.r_[lam, -0.5], np.ones(11), 1.0, 1)
    with pytest.warns(RuntimeWarning, match="clipped round-off"):
        ntk.risk_curve(np.r_[lam, -1e-17], np.ones(11), 1.0, 1)
    with pytest.warns(RuntimeWarning, match="oscillates"):
        ntk.risk_curve(lam, coef, 1.0, [1, 2], alpha=1.5)
    with pytest.warns(RuntimeWarning, match="diverges"):
        b, _, _ = ntk.risk_curve(lam, coef, 1.0, [10, 100], alpha=3.0)
    assert b[1] > b[0] > np.sum(coef**2)              # the divergence is shown, not raised
    with pytest.raises(ValueError, match="K must be symmetric"):
        ntk.predict_fn(np.triu(np.ones((3, 3))), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="y must have shape"):
        ntk.predict_fn(np.eye(3), np.ones(4), np.zeros(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ntk.risk_curve(lam, coef, 1.0, np.r_[0, np.geomspace(1, 1e12, 50)])


@pytest.mark.parametrize("relative", [0.5, 1.0, 1.5, 2.3])
@pytest.mark.parametrize("kind", ["polynomial", "spiked", "finite_rank"])
def test_factored_risk_gives_the_module_functions_numbers_bit_for_bit(kind, relative):
    """risk_fn factors the shrink factors once; each call must be exactly the straightforward
    computation (same operations, same order), including divergent and oscillating steps."""
    rng = np.random.default_rng(int(relative * 10))
    for n in (7, 300):
        lam = ntk.spectrum(kind, n, beta=rng.uniform(1.2, 3.0))
        alpha = ntk.step_size(lam, relative)
        t = np.r_[0.0, np.unique(np.round(np.geomspace(1, 1e8, 97)))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # the step warning, when > 1
            fn = ntk.risk_fn(lam, t, alpha=alpha)
            for R, sigma in ((0.0, 0.5), (1.0, 0.0), (3.7, 0.8)):
                coef = ntk.target_coefficients(lam, R=R, rng=rng)
                for got, want in zip(fn(coef, sigma), ntk.risk_curve(lam, coef, sigma, t,
                                                                     alpha=alpha), strict=True):
                    np.testing.assert_array_equal(got, want)
                assert fn.oracle_time(coef, sigma) == ntk.oracle_time(lam, coef, sigma,
                                                                      alpha=alpha)
                assert fn.krr_equivalent(coef, sigma) == ntk.krr_equivalent(lam, coef, sigma,
                                                                            alpha=alpha)
    assert fn.alpha == alpha and np.array_equal(fn.t, t)
    with pytest.raises(ValueError, match="coef must have one entry per eigenvalue"):
        fn(np.ones(3), 1.0)
    with pytest.raises(ValueError, match=r"sigma must be in \[0, inf\)"):
        fn.oracle_time(coef, -1.0)


def test_factored_risk_warns_about_the_step_once_when_built():
    lam = ntk.spectrum("polynomial", 50)
    with pytest.warns(RuntimeWarning, match="oscillates"):
        fn = ntk.risk_fn(lam, [0, 1, 2], alpha=ntk.step_size(lam, 1.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn(np.ones(50) * 0.01, 1.0)


def test_symmetry_check_is_allclose_of_k_and_its_transpose():
    """The tiled check against np.allclose(K, K.T) itself, on matrices perturbed right at the
    tolerance, across tile boundaries."""
    from explorer.ntk._kernel import _TILE, _is_symmetric

    rng = np.random.default_rng(14)
    for n in (1, 3, _TILE - 1, _TILE, _TILE + 3):
        for trial in range(12):
            J = rng.standard_normal((n, n)) * 10.0 ** rng.integers(-4, 5)
            K = J @ J.T if trial % 2 else J + J.T
            atol = 1e-12 * max(np.abs(K).max(), 1e-300)
            i, j = rng.integers(0, n, 2)
            K[i, j] += (abs(K[i, j]) * 1e-10 + atol) * rng.choice([0.5, 0.999999, 1.000001, 2])
            assert _is_symmetric(K, 1e-10, atol) == np.allclose(K, K.T, rtol=1e-10, atol=atol)


def test_predictor_eigenvalues_and_coefficients_are_in_descending_order():
    lam = np.array([0.3, 2.0, 0.7, 1.1])
    n = lam.size
    y, f0 = np.array([1.0, -2.0, 3.0, 0.5]), np.zeros(n)
    predict = ntk.predict_fn(np.diag(lam) * n, y, f0)     # U is the identity up to order
    order = np.argsort(lam)[::-1]
    np.testing.assert_allclose(predict.eigenvalues, lam[order], rtol=EXACT)
    np.testing.assert_allclose(np.abs(predict.coefficients), np.abs(y[order]) / np.sqrt(n),
                               rtol=EXACT)
