"""Kernel-side latency of the app shell (foundation issue) and overhead of the sweep engine.

Baselines are timed in the same run: a bare Agg redraw of the same figure (what any
matplotlib app pays per update), and a plain Python loop over the same sweep jobs.
Run: ``.venv/bin/python benchmarks/bench_shell.py``.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import sys

import matplotlib

matplotlib.use("Agg")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from _util import best_of, table  # noqa: E402

from explorer import sbm  # noqa: E402
from explorer.apps import sbm_app  # noqa: E402
from explorer.sweep import run_sweep  # noqa: E402


def main() -> None:
    app = sbm_app.make_app(query_string="")
    fig = app.figure
    redraw = best_of(fig.canvas.draw, repeat=5)
    ps = iter(np.linspace(0.25, 0.45, 1000))

    def change_p():  # a fresh value every call: the recompute path, never the cache
        app.controls["p"].value = float(np.round(next(ps), 4))

    recompute = best_of(change_p, repeat=7)
    toggles = iter([False, True] * 100)

    def toggle_view():
        app.controls["trails"].value = next(toggles)

    review = best_of(toggle_view, repeat=7)
    fresh = iter(np.linspace(0.2, 0.24, 1000))
    compute_only = best_of(lambda: app.graph.evaluate(dict(app.state, p=float(next(fresh)))),
                           repeat=7)

    jobs = [{"n": int(n), "p": 0.3, "q": 0.1, "n_starts": 200} for n in
            np.geomspace(8, 8000, 32).round() // 2 * 2]
    children = np.random.SeedSequence(0).spawn(len(jobs))
    loop = best_of(lambda: [sbm.basin_shares(rng=np.random.default_rng(c), **j)
                            for j, c in zip(jobs, children, strict=True)], repeat=3)
    serial = best_of(lambda: run_sweep(sbm.basin_shares_job, jobs, seed=0), repeat=3)
    with cf.ProcessPoolExecutor(2) as pool:
        run_sweep(sbm.basin_shares_job, jobs[:2], executor=pool, seed=0)  # warm the workers
        pooled = best_of(lambda: run_sweep(sbm.basin_shares_job, jobs, executor=pool, seed=0),
                         repeat=3)

    print(table([
        ("SBM app: control change -> recompute+draw", recompute, "bare Agg redraw, same figure",
         redraw, "<= 150 ms"),
        ("SBM app: view toggle -> re-render+draw", review, "bare Agg redraw, same figure",
         redraw, "~ redraw"),
        ("SBM app: stages alone, p uncached", compute_only, "bare Agg redraw, same figure",
         redraw, "-"),
        ("run_sweep serial, 32 jobs", serial, "plain loop, same jobs", loop, "~1.0x"),
        ("run_sweep ProcessPool(2), 32 jobs", pooled, "plain loop, same jobs", loop, "< 1.0x"),
    ]))


if __name__ == "__main__":
    main()
