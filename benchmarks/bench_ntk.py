"""NTK budgets (issue: NTK explorer), each against a baseline timed in the same run.

- setup of the closed-form predictor (one eigendecomposition) at n = 2000 against a bare
  ``scipy.linalg.eigh`` of the same matrix (target <= 1.2x);
- re-view latency of the app's time slider (render only, and with the Agg redraw) at n = 2000
  (target <= 10 ms kernel-side);
- ``stopping_time`` at n = 2000 (target <= 1 ms);
- the risk curve, oracle time and KRR of a new residual from ``risk_fn`` (factored once per
  spectrum and step, as the app does for a change of R) against the module functions;
- ``rate_sweep`` over 8 sizes, serial;
- the attention eNTK for 300 inputs at d = 64 against a bare J @ J.T of the same Jacobian.

Run: ``.venv/bin/python benchmarks/bench_ntk.py``.
"""

from __future__ import annotations

import os
import sys

import matplotlib

matplotlib.use("Agg")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
from _util import best_of, control_rows, table  # noqa: E402

from explorer import ntk  # noqa: E402


def main() -> None:
    n = 2000
    rng = np.random.default_rng(0)
    J = rng.standard_normal((n, 1500))
    K = J @ J.T
    y, f0 = rng.standard_normal(n), rng.standard_normal(n)
    # Floor and setup alternate, so a burst of load on a shared machine hits both alike.
    pairs = [(best_of(lambda: scipy.linalg.eigh(K / n), repeat=1),
              best_of(lambda: ntk.predict_fn(K, y, f0), repeat=1)) for _ in range(5)]
    bare_eigh, setup = (min(col) for col in zip(*pairs, strict=True))
    predict = ntk.predict_fn(K, y, f0, K_test=K[:200], f0_test=f0[:200])
    call = best_of(lambda: predict(137), repeat=20)

    lam = ntk.spectrum("polynomial", n, beta=2.0)
    stop = best_of(lambda: ntk.stopping_time(lam, 1.0, 0.5), repeat=50)
    # A change of R in the app: the risk curve, oracle time and KRR of a new residual, from
    # the risk factored once (risk_fn) and from the module functions.
    from explorer.apps.ntk_app import T_GRID

    coef = ntk.target_coefficients(lam, R=1.0, rng=0)
    factored = ntk.risk_fn(lam, T_GRID)
    risk_new_R = best_of(lambda: (factored(coef, 0.5), factored.oracle_time(coef, 0.5),
                                  factored.krr_equivalent(coef, 0.5)), repeat=10)
    risk_direct = best_of(lambda: (ntk.risk_curve(lam, coef, 0.5, T_GRID),
                                   ntk.oracle_time(lam, coef, 0.5),
                                   ntk.krr_equivalent(lam, coef, 0.5)), repeat=10)
    noop = best_of(lambda: np.sum(np.minimum(lam, 0.01)), repeat=50)

    ns = (100, 200, 400, 800, 1600, 3200, 6400, 12800)
    rates = best_of(lambda: ntk.rate_sweep(ns, kind="polynomial", beta=2.0, R=1.0, sigma=0.5,
                                           rng=0), repeat=1)
    one_eigh_12800 = best_of(lambda: ntk.spectrum("polynomial", 12800), repeat=3)

    from explorer.apps import ntk_app

    app = ntk_app.make_app(query_string="")
    values = iter(np.linspace(0.5, 7.5, 1000))

    def slider_with_draw():
        app.controls["log_t"].value = float(next(values))

    slider = best_of(slider_with_draw, repeat=10)
    redraw = best_of(app.figures["risk"].canvas.draw, repeat=5)
    controls = control_rows(app, {
        "log_t": iter(np.linspace(0.5, 7.5, 1000)),
        "R": iter(np.round(np.linspace(0.5, 5.0, 1000), 4)),
        "sigma": iter(np.round(np.linspace(0.2, 2.0, 1000), 4)),
        "beta": iter(np.round(np.linspace(1.5, 3.0, 1000), 4)),
        "c1": iter(np.round(np.linspace(-1.0, 2.0, 1000), 4)),
    })

    model = ntk.AttentionModel(64, 64, 64, rng=1)
    X = rng.standard_normal((300, 8, 64))
    entk = best_of(lambda: model.entk(X), repeat=5)
    Jx = model.jacobian(X)
    gram = best_of(lambda: Jx @ Jx.T, repeat=5)

    print(table([
        ("predict_fn setup n=2000 (one eigh)", setup, "scipy.linalg.eigh same matrix",
         bare_eigh, "<= 1.2x"),
        ("predict_fn call (train + 200 test)", call, "scipy.linalg.eigh same matrix",
         bare_eigh, "-"),
        ("time slider: callback incl. Agg redraw", slider, "Agg redraw of the risk view",
         redraw, "-"),
        ("stopping_time n=2000", stop, "one O(n) min-sum pass", noop, "<= 1 ms"),
        ("risk_fn: curve + oracle + KRR, new R", risk_new_R, "the module functions, same",
         risk_direct, "-"),
        ("rate_sweep 8 sizes (100..12800)", rates, "building the n=12800 spectrum",
         one_eigh_12800, "-"),
        ("attention eNTK N=300 d=64 (P=12352)", entk, "bare J @ J.T same Jacobian", gram,
         "-"),
        *[(f"app: {w}", t, b, bt, budget) for w, t, b, bt, budget in controls],
    ]))


if __name__ == "__main__":
    main()
