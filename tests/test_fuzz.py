"""Fuzzed inputs for the backends' public functions (hypothesis).

Any input either gives finite results of the documented shape or raises ``ValueError`` /
``TypeError`` whose message names the parameter that is wrong. Extremes are drawn on purpose:
p -> q, p -> 1, q -> 0, n at its bounds, sigma -> 0 and huge, NaN and inf anywhere, wrong
types, non-contiguous and read-only arrays.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer import datasets, iqp, ntk, sbm
from explorer.sweep import run_sweep

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

#: Numbers with the awkward cases over-represented.
NUMBER = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 1e-300, 1 - 1e-16, 1e-16, 0.5, math.nan, math.inf,
                     -math.inf, 1e300, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 1),
)
PROB = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 1e-12, 1 - 1e-12, math.nan]))
COUNT = st.one_of(st.integers(-5, 40), st.sampled_from([0, 1, 2, 3, 4, 2**40]))
JUNK = st.sampled_from([None, "3", [1, 2], {"a": 1}, object(), 1.5 + 2j])


def finite(value) -> bool:
    """Every number in a result is finite (recursing into tuples, dicts and dataclasses)."""
    if value is None or isinstance(value, str | bool):
        return True
    if dataclasses.is_dataclass(value):
        return all(finite(getattr(value, f.name)) for f in dataclasses.fields(value)
                   if f.name not in ("t_hat", "eps_hat", "t_equivalent"))
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(finite(v) for v in value)
    arr = np.asarray(value)
    if arr.dtype.kind in "biu":
        return True
    if arr.dtype.kind in "fc":
        return bool(np.all(np.isfinite(arr)))
    return True


def check(fn, **kwargs):
    """Call ``fn``; a refusal must name one of the arguments; a result must be finite."""
    try:
        out = fn(**kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        named = [name for name in kwargs if re.search(rf"(?<![\w.]){re.escape(name)}\b", msg)]
        assert named, (fn.__name__, kwargs, msg)
        return None
    assert finite(out), (fn.__name__, kwargs)
    return out


@FUZZ
@given(p=NUMBER, q=NUMBER)
def test_sbm_constants_and_thresholds(p, q):
    out = check(sbm.constants, p=p, q=q)
    if out is not None:
        t, lam = out
        assert t > 0 and q < lam < p
    check(sbm.truth_threshold, p=p, q=q)


@FUZZ
@given(n=COUNT, p=PROB, q=PROB, x=NUMBER, y=NUMBER)
def test_sbm_population_map(n, p, q, x, y):
    out = check(sbm.population_map, x=x, y=y, n=n, p=p, q=q)
    if out is not None:
        assert all(0 <= float(v) <= 1 for v in out)


@FUZZ
@given(n=st.one_of(COUNT, JUNK), p=PROB, q=PROB)
def test_sbm_fixed_points_and_graphs(n, p, q):
    if isinstance(n, int) and n > 400:
        n = 400                                    # the fuzz is about values, not size
    fps = check(sbm.fixed_points, n=n, p=p, q=q, resolution=201)
    if fps is not None:
        assert all(0 <= f.x <= 1 and 0 <= f.y <= 1 for f in fps)
    out = check(sbm.sample_graph, n=n, p=p, q=q, rng=0)
    if out is not None:
        A, labels = out
        assert A.shape == (n, n) and labels.shape == (n,)


@FUZZ
@given(n=COUNT, degree=NUMBER, ratio=NUMBER)
def test_sbm_degree_parametrisation(n, degree, ratio):
    out = check(sbm.pq_from_degree, n=n, degree=degree, ratio=ratio)
    if out is not None:
        p, q = out
        assert 0 < q < p < 1


@FUZZ
@given(init=st.sampled_from([*sbm.INITS, "informed", "one_class", "bogus", ""]),
       n=COUNT, size=st.one_of(st.none(), COUNT), eps=NUMBER, correlation=NUMBER)
def test_sbm_initial_psi(init, n, size, eps, correlation):
    if isinstance(n, int) and n > 1000:
        n = 1000
    out = check(sbm.initial_psi, init=init, n=n, size=size, eps=eps, correlation=correlation,
                rng=0)
    if out is not None:
        assert np.all((out >= 0) & (out <= 1))


@FUZZ
@given(max_iter=COUNT, tol=NUMBER, damping=NUMBER)
def test_sbm_bcavi_options(max_iter, tol, damping):
    A, _ = sbm.sample_graph(20, 0.5, 0.1, rng=1)
    psi = sbm.initial_psi("uniform", 20, 2, rng=2)
    if isinstance(max_iter, int) and max_iter > 50:
        max_iter = 50
    run = check(sbm.bcavi, A=A, psi0=psi, p=0.5, q=0.1, max_iter=max_iter, tol=tol,
                damping=damping)
    if run is not None:
        assert run.iterates.shape[1:] == psi.shape
        assert np.all((run.iterates >= 0) & (run.iterates <= 1))


@pytest.mark.parametrize("layout", ["non-contiguous", "read-only", "float32", "int"])
def test_sbm_bcavi_accepts_any_array_layout(layout):
    A, _ = sbm.sample_graph(30, 0.5, 0.1, rng=3)
    psi = sbm.initial_psi("uniform", 30, 4, rng=4)
    reference = sbm.bcavi(A, psi, p=0.5, q=0.1, max_iter=5)
    if layout == "non-contiguous":
        psi2 = np.asfortranarray(np.repeat(psi, 2, axis=1))[:, ::2]
    elif layout == "read-only":
        psi2 = psi.copy()
        psi2.setflags(write=False)
    elif layout == "float32":
        psi2 = psi.astype(np.float32)
    else:
        psi2 = (psi > 0.5).astype(int)
        reference = sbm.bcavi(A, psi2.astype(float), p=0.5, q=0.1, max_iter=5)
    run = sbm.bcavi(A, psi2, p=0.5, q=0.1, max_iter=5)
    tol = 1e-6 if layout == "float32" else 1e-12
    assert np.allclose(run.final, reference.final, atol=tol)


@FUZZ
@given(n=st.one_of(COUNT, st.sampled_from([1, 1000])), w=NUMBER)
def test_iqp_bandwidths(n, w):
    check(iqp.sigma_for_mean_weight, n=n, w=w)
    check(iqp.bandwidth, mode="mean_weight", n=n, w=w)


@FUZZ
@given(strategy=st.sampled_from([*iqp.STRATEGIES, "xavier"]), scale=NUMBER,
       normalisation=st.sampled_from([*iqp.NORMALISATIONS, "none"]),
       rows=st.integers(0, 6), constant=st.booleans())
def test_iqp_init_params(strategy, scale, normalisation, rows, constant):
    gates = iqp.local_gates(4)
    data = (np.ones((rows, 4)) if constant else
            (np.random.default_rng(rows).random((rows, 4)) < 0.5)).astype(np.uint8)
    out = check(iqp.init_params, strategy=strategy, gates=gates, data=data, scale=scale,
                normalisation=normalisation, rng=0)
    if out is not None:
        assert out.shape == (len(gates),)


@FUZZ
@given(sigma=NUMBER, n_ops=COUNT, n_samples=COUNT, theta_value=NUMBER)
def test_iqp_loss_and_gradient(sigma, n_ops, n_samples, theta_value):
    gates = iqp.local_gates(4)
    data = datasets.bars_and_stripes(2, 2)
    theta = np.full(len(gates), theta_value)
    n_ops, n_samples = (min(v, 50) if isinstance(v, int) else v for v in (n_ops, n_samples))
    out = check(iqp.mmd2, theta=theta, gates=gates, data=data, sigma=sigma, n_ops=n_ops,
                n_samples=n_samples, rng=1, grad=True)
    if out is not None:
        value, grad = out
        assert grad.shape == theta.shape
    check(iqp.mmd2_exact, theta=theta, gates=gates, data=data, sigma=sigma)


def test_iqp_duplicated_and_tiny_data_sets():
    gates = iqp.local_gates(3)
    sigma = 1.0
    for data in (np.zeros((2, 3), np.uint8), np.ones((5, 3), np.uint8),
                 np.repeat(np.eye(3, dtype=np.uint8), 4, axis=0)):
        v = iqp.mmd2_exact(np.zeros(len(gates)), gates, data, sigma, unbiased=True)
        assert np.isfinite(v)
    for rows in (0, 1):                        # an MMD needs two samples of the data
        with pytest.raises(ValueError, match="data must hold at least 2 samples"):
            iqp.mmd2_exact(np.zeros(len(gates)), gates, np.zeros((rows, 3)), sigma)


@FUZZ
@given(kind=st.sampled_from([*ntk.KINDS, "gaussian"]), n=COUNT, beta=NUMBER, gamma=NUMBER)
def test_ntk_spectra(kind, n, beta, gamma):
    if isinstance(n, int) and n > 500:
        n = 500
    lam = check(ntk.spectrum, kind=kind, n=n, beta=beta, gamma=gamma)
    if lam is not None:
        assert lam.shape == (n,) and np.all(lam >= 0) and np.all(np.diff(lam) <= 0)


@FUZZ
@given(R=NUMBER, sigma=NUMBER, relative=NUMBER)
def test_ntk_stopping_and_risk(R, sigma, relative):
    lam = ntk.spectrum("polynomial", 200)
    alpha = check(ntk.step_size, lam=lam, relative=relative)
    st_ = check(ntk.stopping_time, lam=lam, R=R, sigma=sigma, alpha=alpha)
    if st_ is not None:
        assert st_.t_hat >= 0
    coef = ntk.target_coefficients(lam, R=1.0, rng=0)
    if alpha is not None and alpha * lam[0] <= 2:
        curve = check(ntk.risk_curve, lam=lam, coef=coef, sigma=sigma, t=[0, 10, 1000],
                      alpha=alpha)
        if curve is not None:
            assert curve.risk.shape == (3,)


@pytest.mark.parametrize("relative", [1.0, 2.0])
def test_ntk_steps_at_the_stability_edges(relative):
    """alpha = 1/lam_1 and 2/lam_1: finite risks (at 2/lam_1 the top mode neither grows nor
    decays) and an oracle time."""
    import warnings

    lam = ntk.spectrum("polynomial", 300)
    coef = ntk.target_coefficients(lam, R=1.0, rng=1)
    alpha = ntk.step_size(lam, relative)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        curve = ntk.risk_curve(lam, coef, 0.5, [0, 1, 10, 10**6], alpha=alpha)
        t = ntk.oracle_time(lam, coef, 0.5, alpha=alpha)
    assert np.all(np.isfinite(curve.risk)) and t >= 0


@FUZZ
@given(means=st.lists(NUMBER, min_size=0, max_size=5), n_samples=COUNT)
def test_datasets_product_bernoulli(means, n_samples):
    if isinstance(n_samples, int) and n_samples > 100:
        n_samples = 100
    out = check(datasets.product_bernoulli, means=means, n_samples=n_samples, rng=0)
    if out is not None:
        assert out.shape == (n_samples, len(means)) and set(np.unique(out)) <= {0, 1}


@FUZZ
@given(h=COUNT, w=COUNT)
def test_datasets_bars_and_stripes(h, w):
    h, w = (min(v, 5) if isinstance(v, int) else v for v in (h, w))
    out = check(datasets.bars_and_stripes, h=h, w=w)
    if out is not None:
        assert out.shape[1] == h * w


def _echo(job, rng):
    return job["x"]


@FUZZ
@given(xs=st.lists(NUMBER, max_size=6), chunk=st.one_of(st.none(), COUNT))
def test_sweep_any_jobs(xs, chunk):
    jobs = [{"x": x} for x in xs]
    try:
        res = run_sweep(_echo, jobs, seed=0, chunk_size=chunk)
    except (ValueError, TypeError) as exc:
        assert "chunk" in str(exc), str(exc)
        return
    assert len(res.results) == len(jobs)


# ------------------------------------------------------------------ every public function

#: Valid values for the required parameters every public function might take; the junk goes
#: into one parameter at a time (the others stay valid where this table knows them).
_VALID = {"n": 20, "p": 0.3, "q": 0.1, "gates": [(0,), (1,), (0, 1)], "theta": [0.1, 0.2, 0.3],
          "data": np.array([[0, 1], [1, 1], [0, 0]]), "lam": np.array([1.0, 0.5, 0.25]),
          "coef": np.array([0.1, 0.1, 0.1]), "sigma": 1.0, "R": 1.0, "kind": "polynomial",
          "x": 0.5, "y": 0.5, "fn": lambda job, rng: job, "jobs": [1, 2]}
_JUNK = [None, "x", float("nan"), float("inf"), -1, 0, 10**12, [], np.array([np.nan]),
         {"a": 1}, True, -1e300]


def _public_functions():
    import inspect

    from explorer import datasets, sweep

    for mod in (sbm, iqp, ntk, datasets, sweep):
        for name in mod.__all__:
            fn = getattr(mod, name)
            if inspect.isfunction(fn):
                yield pytest.param(fn, id=f"{mod.__name__.split('.')[-1]}.{name}")


class _Slow(Exception):
    pass


@pytest.mark.parametrize("fn", list(_public_functions()))
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(which=st.integers(0, 20), junk=st.sampled_from(_JUNK))
def test_every_public_function_refuses_junk_with_a_value_or_type_error(fn, which, junk):
    """Junk in any required parameter: a result, or ValueError/TypeError: never an IndexError,
    KeyError, OverflowError, an out-of-memory error or a run that does not end (bugs the first
    run of this test found: accuracy, classify_limits, bifurcation_diagram, rkhs_norm, gate
    sets given a mapping, and huge sizes in population_matrix, success_probability,
    escape_share, synthetic_tasks and genomic)."""
    import inspect
    import signal

    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty]
    if not params:
        return
    target = params[which % len(params)]
    kwargs = {p.name: junk if p is target else _VALID.get(p.name, 1) for p in params}

    def slow(signum, frame):
        raise _Slow(f"{fn.__name__}({target.name}={junk!r}) still running after 20 s")

    previous = signal.signal(signal.SIGALRM, slow)
    signal.alarm(20)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(**kwargs)
    except (ValueError, TypeError):
        pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
