"""IQP training: the app's default training run, and the paper's 150-qubit setting.

Default: the IQP app's "training" task with every control at its default (read from
``explorer.apps.iqp_app.PARAMS`` when this runs, so the figure follows the app): five starts
of ``steps`` Adam steps at 150 qubits on the msprime genomic data, all one- and two-qubit
gates (11,325 parameters), mean operator weight 2, ``n_ops`` operators and as many samples
per step. Budget: the whole run <= 30 s. Baseline timed in the same run: one loss + gradient
at that size times the number of evaluations (what the run would cost with nothing around
the estimator: no Adam, no callbacks, no data loading).

``--paper [steps]``: the paper's setting instead, n_ops = n_samples = 1000, learning rate
0.01, one start per strategy; prints the loss estimate after 0, 100 and 500 steps (averaged
over the 10 steps around each point to tame their noise) and the time per step.

Run: ``.venv/bin/python benchmarks/bench_iqp_training.py`` (about half a minute), or
``.venv/bin/python benchmarks/bench_iqp_training.py --paper 500`` (a few minutes).
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from _util import best_of, table  # noqa: E402

from explorer import datasets, iqp  # noqa: E402

# Noise scales: at 150 qubits with unit normalisation each qubit sits in 149 pair gates, so the
# paper's small-n scale of 0.1 would already randomise every marginal; 0.01 keeps the centres.
SCALES = {"full_range": 1.0, "identity": 0.01, "unbiased": 0.01, "data": 0.01, "covariance": 1.0}


class _Context:
    """The little of the shell's task context the work function uses."""

    def __init__(self):
        self.cancel = threading.Event()
        self.executor = None
        self.steps = 0

    def progress(self, done, total):
        self.steps += 1

    def emit(self, partial):
        pass


def app_default() -> None:
    from explorer.apps import iqp_app
    from explorer.apps._params import SEED

    defaults = {p.name: p.default for p in iqp_app.PARAMS} | {"seed": SEED.default}
    task = next(t for t in iqp_app.TASKS if t.name == "training")
    names = list(inspect.signature(task.work).parameters)[1:]
    inputs = {k: defaults[k] for k in names}
    ctx = _Context()
    t0, c0 = time.perf_counter(), time.process_time()
    task.work(ctx, **inputs)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    evaluations = ctx.steps

    n, n_ops = inputs["n_train"], inputs["n_ops"]
    data = iqp_app.load_data(inputs["dataset"], n)
    gs = iqp.gate_set(inputs["gate_set"], n)
    sigma = iqp.bandwidth(inputs["bandwidth"], n, w=inputs["w"], sigma=inputs["sigma"])
    theta = iqp.init_params("data", gs, data=data, scale=10 ** inputs["log_scale"], rng=0)
    from explorer.iqp._circuit import GateSet
    validated = GateSet(gs, n)
    one = best_of(lambda: iqp.mmd2(theta, validated, data, sigma, n_ops=n_ops,
                                   n_samples=n_ops, rng=1, grad=True), repeat=9)
    shown = ", ".join(f"{k}={inputs[k]}" for k in ("n_train", "steps", "n_ops", "lr", "gate_set",
                                                    "bandwidth", "w", "log_scale"))
    print(f"app defaults: {shown}; {evaluations} loss + gradient evaluations; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print(table([
        ("app default training (5 starts), wall", total, f"{evaluations} x one loss+grad",
         evaluations * one, "<= 30 s"),
        ("  the same, CPU time of this process", cpu, f"{evaluations} x one loss+grad",
         evaluations * one, "-"),
        ("  per step, wall", total / max(evaluations, 1), "one loss+grad (best of 9)", one,
         "-"),
    ]))
    print("CPU time above wall time: BLAS threads spinning; wall far above CPU: the machine "
          "is shared (other processes held the cores).")


def paper(steps: int) -> None:
    n = 150
    data = datasets.genomic(n, rng=2026)
    gates = iqp.local_gates(n)
    sigma = iqp.sigma_for_mean_weight(n, 2.0)
    marks = [m for m in (0, 100, 500) if m <= steps]
    head = f"{'strategy':12s} " + " ".join(f"{'step ' + str(m):>12s}" for m in marks)
    print(head + f" {'s / step':>10s}")
    for k, strategy in enumerate(iqp.STRATEGIES):
        theta0 = iqp.init_params(strategy, gates, data=data, scale=SCALES[strategy],
                                 rng=np.random.default_rng([7, k]))
        t0 = time.perf_counter()
        tr = iqp.train(gates, data, theta0, sigma=sigma, steps=steps, learning_rate=0.01,
                       n_ops=1000, n_samples=1000, rng=np.random.default_rng([8, k]))
        per_step = (time.perf_counter() - t0) / (steps + 1)
        losses = []
        for m in marks:
            lo, hi = max(0, m - 5), min(len(tr.objective), m + 5)
            losses.append(float(np.mean(tr.objective[lo:hi])))
        print(f"{strategy:12s} " + " ".join(f"{v:12.5f}" for v in losses) + f" {per_step:10.3f}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--paper":
        paper(int(sys.argv[2]) if len(sys.argv) > 2 else 500)
    else:
        app_default()


if __name__ == "__main__":
    main()
