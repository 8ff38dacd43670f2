"""neural-tangents' closed-form predictor (run in .venv-peers-nt, not the main env).

Reads from an ``.npz`` written by ``report.py`` the kernel already converted to
neural-tangents' convention (``K_nt``, ``K_test_nt``: see ``report.py``'s ``ntk_inputs``),
the targets, the pretrained predictions, the learning rate and the times, and writes JSON:

- ``setup_s``: ``nt.predict.gradient_descent_mse`` plus its first call (which
  eigendecomposes the kernel and caches it), best of two;
- ``call_s``: the re-evaluation at a new time of the jitted predictor (train + test), best
  of many, once compiled (``compile_s``: its first call);
- ``train``, ``test``: the predictions at each of the given times.

Run: ``.venv-peers-nt/bin/python benchmarks/peers/nt_predict.py IN.npz OUT.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)


def main(argv: list[str]) -> int:
    import neural_tangents as nt

    inp = dict(np.load(argv[1]))
    K, Kt = inp["K_nt"], inp["K_test_nt"]
    y, f0, f0t = inp["y"][:, None], inp["f0"][:, None], inp["f0_test"][:, None]
    lr, times = float(inp["learning_rate"]), [float(t) for t in inp["times"]]

    def setup():
        predict = nt.predict.gradient_descent_mse(K, y, learning_rate=lr)
        return predict, jax.block_until_ready(predict(times[0], f0, f0t, Kt))

    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        predict, _ = setup()
        best = min(best, time.perf_counter() - t0)
    jitted = jax.jit(lambda t: predict(t, f0, f0t, Kt))
    t0 = time.perf_counter()
    jax.block_until_ready(jitted(1.0))
    compile_s = time.perf_counter() - t0
    call = float("inf")
    for t in np.linspace(3.0, 300.0, 30):
        t0 = time.perf_counter()
        jax.block_until_ready(jitted(float(t)))
        call = min(call, time.perf_counter() - t0)
    train, test = [], []
    for t in times:
        ftr, fte = jitted(t)
        train.append(np.asarray(ftr)[:, 0].tolist())
        test.append(np.asarray(fte)[:, 0].tolist())
    out = {"library": f"neural-tangents {nt.__version__}", "jax": jax.__version__,
           "setup_s": best, "compile_s": compile_s, "call_s": call, "train": train,
           "test": test}
    with open(argv[2], "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
