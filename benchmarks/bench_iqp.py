"""IQP budgets (issue: IQP explorer), against the dense floor timed in the same run.

The dense floor is two float64 products of shape (n_ops x m) x (m x n_samples), what any
implementation that forms the phase matrix from the gate matrices pays for loss + gradient.

- n = 150, all 1- and 2-qubit gates (m = 11,325), mean weight 2, n_ops = n_samples = 1000:
  loss + gradient <= 0.1 s (<= 1/3 of the dense floor; iqpopt, compiled JAX, ~0.8 s here);
- n = 1000 (m = 500,500), same sampling: <= 3 s (the floor is not timed: 16 GB matrices);
- constant bandwidth (mean weight n/3): never slower than the dense floor;
- exact_probs at n = 20: <= 1 s.

Run: ``.venv/bin/python benchmarks/bench_iqp.py``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from _util import best_of, table  # noqa: E402

from explorer import iqp  # noqa: E402


def dense_floor(L, m, N, rng):
    a = rng.random((L, m))
    b = rng.random((m, N))
    return best_of(lambda: (a @ b, a @ b), repeat=3)


def main() -> None:
    rng = np.random.default_rng(0)
    n, L, N = 150, 1000, 1000
    gates = iqp.local_gates(n)
    theta = iqp.init_params("identity", gates, scale=0.1, n=n, rng=1)
    data = (rng.random((500, n)) < 0.45).astype(np.uint8)
    floor = dense_floor(L, len(gates), N, rng)
    w2 = iqp.sigma_for_mean_weight(n, 2.0)
    const = iqp.sigma_for_mean_weight(6, 2.0)   # fixed at its n = 6 value: mean weight n/3

    def loss(sigma, method="auto", nn=n, g=gates, th=theta, d=data):
        return lambda: iqp.mmd2(th, g, d, sigma, n_ops=L, n_samples=N, rng=2, grad=True,
                                method=method)

    rows = [
        ("n=150 loss+grad, mean weight 2 (auto)", best_of(loss(w2), repeat=5),
         "dense floor: 2 products", floor, "<= 0.33x"),
        ("n=150 loss+grad, mean weight 2 (dense)", best_of(loss(w2, "dense"), repeat=2),
         "dense floor: 2 products", floor, "-"),
        ("n=150 loss+grad, constant bandwidth (auto)", best_of(loss(const), repeat=2),
         "dense floor: 2 products", floor, "<= 1x"),
    ]
    n_big = 1000
    gates_big = iqp.local_gates(n_big)
    theta_big = iqp.init_params("identity", gates_big, scale=0.1, n=n_big, rng=3)
    data_big = (rng.random((500, n_big)) < 0.45).astype(np.uint8)
    big = best_of(loss(iqp.sigma_for_mean_weight(n_big, 2.0), nn=n_big, g=gates_big,
                       th=theta_big, d=data_big), repeat=2)
    rows.append(("n=1000 loss+grad (m=500,500)", big, "dense floor at n=150", floor,
                 "<= 3 s"))
    g20 = iqp.local_gates(20)
    th20 = rng.uniform(-np.pi, np.pi, len(g20))
    probs = best_of(lambda: iqp.exact_probs(th20, g20, 20), repeat=3)
    fwht = best_of(lambda: np.fft.fft(np.ones(2**20, dtype=complex)), repeat=3)
    rows.append(("exact_probs n=20 (210 gates)", probs, "complex FFT of 2^20", fwht, "<= 1 s"))
    print(table(rows))


if __name__ == "__main__":
    main()
