"""SBM budgets (issue: SBM explorer), each against a baseline timed in the same run.

- one BCAVI sweep at n = 1,000,000, average degree 20, R = 16 starts, against a bare A @ U of
  the same shapes (target <= 1.3x); the sweep's cost is the difference between runs of 3 and 1
  sweeps, so the shared start-up (validation, the start's ELBO) is not counted;
- sample_graph time and peak memory at that size (peak traced by tracemalloc, against the
  CSR arrays' own size);
- fixed_points and basins (401 x 401) times;
- the app's kernel-side latency at the defaults (n = 2000, 64 starts): compute + render (what
  the widget callback costs) and the Agg redraw of the views that changed.

Run: ``.venv/bin/python benchmarks/bench_sbm.py`` (about a minute).
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc

import matplotlib

matplotlib.use("Agg")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from _util import best_of, control_rows, table  # noqa: E402

from explorer import sbm  # noqa: E402


def bcavi_rows():
    n, degree, R = 1_000_000, 20, 16
    p, q = 1.5 * degree / n, 0.5 * degree / n
    tracemalloc.start()
    t0 = time.perf_counter()
    A, _ = sbm.sample_graph(n, p, q, rng=0)
    t_sample = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    csr_bytes = A.data.nbytes + A.indices.nbytes + A.indptr.nbytes
    U = np.random.default_rng(1).random((n, R))
    bare = best_of(lambda: A @ U, repeat=3)
    one = best_of(lambda: sbm.bcavi(A, U, p=p, q=q, max_iter=1, tol=1e-300, record="ends"),
                  repeat=3)
    five = best_of(lambda: sbm.bcavi(A, U, p=p, q=q, max_iter=5, tol=1e-300, record="ends"),
                   repeat=3)
    sweep = (five - one) / 4
    one_all = best_of(lambda: sbm.bcavi(A, U, p=p, q=q, max_iter=1, tol=1e-300), repeat=1)
    three_all = best_of(lambda: sbm.bcavi(A, U, p=p, q=q, max_iter=3, tol=1e-300), repeat=1)
    rows = [
        (f"BCAVI sweep n=1e6 deg 20 R={R}", sweep, "bare A @ U, same shapes", bare, "<= 1.3x"),
        ("  same, ELBO and psi kept every sweep", (three_all - one_all) / 2,
         "bare A @ U, same shapes", bare, "-"),
        ("bcavi(max_iter=1) incl. start-up", one, "bare A @ U, same shapes", bare, "-"),
        ("sample_graph n=1e6 deg 20", t_sample, "bare A @ U, same shapes", bare, "-"),
    ]
    mem = (f"sample_graph peak traced memory {peak / 2**20:.0f} MiB for a CSR of "
           f"{csr_bytes / 2**20:.0f} MiB ({peak / csr_bytes:.1f}x; {A.nnz:,} stored entries)")
    return rows, mem


def landscape_rows():
    base = best_of(lambda: np.linalg.eigvalsh(np.random.default_rng(0).random((200, 200))),
                   repeat=5)
    fp = best_of(lambda: sbm.fixed_points(2000, 0.3, 0.1), repeat=5)
    fp_big = best_of(lambda: sbm.fixed_points(10**6, 0.3, 0.1), repeat=5)
    bas = best_of(lambda: sbm.basins(2000, 0.3, 0.1, grid=401), repeat=3)
    bas_cycle = best_of(lambda: sbm.basins(2000, 0.8, 0.4, grid=401), repeat=1)
    ref = "eigvalsh 200x200 (LAPACK)"
    return [
        ("fixed_points n=2000", fp, ref, base, "-"),
        ("fixed_points n=1e6", fp_big, ref, base, "-"),
        ("basins 401x401 n=2000 p+q<1", bas, ref, base, "-"),
        ("basins 401x401 n=2000 p+q>1 (2-cycle)", bas_cycle, ref, base, "-"),
    ]


def app_rows():
    from explorer.apps import sbm_app

    app = sbm_app.make_app(query_string="")
    changes = {
        "p": iter(np.round(np.linspace(0.25, 0.35, 1000), 5)),
        "q": iter(np.round(np.linspace(0.08, 0.12, 1000), 5)),
        "seed": iter(range(1, 10**6)),
        "starts": iter(range(20, 257)),
        "n": iter(range(2002, 3000, 2)),
        "trails": iter([False, True] * 1000),
    }
    return [(f"app: {what}", t, b, bt, budget)
            for what, t, b, bt, budget in control_rows(app, changes)]


def main() -> None:
    rows, mem = bcavi_rows()
    rows += landscape_rows()
    rows += app_rows()
    print(table(rows))
    print(mem)


if __name__ == "__main__":
    main()
