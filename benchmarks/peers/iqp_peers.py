"""IQP loss + gradient in the peer libraries (run in .venv-peers-pennylane, not the main env).

Reads the inputs the main environment wrote (``report.py``: gates, angles, data, bandwidth and
the drawn operators and bit strings) from an ``.npz`` and writes a JSON of timings and values:

- ``pennylane``: ``pennylane.labs.phox.mmd_loss`` (PennyLane's classical IQP-MMD estimator,
  experimental ``labs`` module), jitted ``jax.value_and_grad`` as a user trains with it;
- ``iqpopt``: ``iqpopt.gen_qml.mmd_loss_iqp`` (the authors' library, when importable), the
  same.

Timings: the first call (tracing and compiling included) and the best of several warm calls
with fresh keys. Values: each library's own estimator math evaluated on the main
environment's operators and bit strings (PennyLane: phox's ``_core_expval_execution`` and
``_compute_single_mmd``; iqpopt: ``loss_estimate_iqp`` with its bit-string draw replaced by
the given one), so that the estimate and gradient can be compared with the explorer's
number for number. Convention: both libraries' gates are exp(-i theta X_g), the explorer's
exp(+i theta X_g); the angles passed are -theta, which leaves the estimate unchanged and
flips the gradient's sign (reported here already flipped back).

Run: ``.venv-peers-pennylane/bin/python benchmarks/peers/iqp_peers.py IN.npz OUT.json``.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)
REPEAT = 5


def _gates(arr: np.ndarray) -> list[list[int]]:
    """Gates stored as an (m, 2) int array, -1 for the missing second qubit."""
    return [[int(i)] if j < 0 else [int(i), int(j)] for i, j in arr]


def _timed(fn, keys):
    """First call (compiling included) and the best of the warm calls, in s."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(keys[0]))
    first = time.perf_counter() - t0
    best = float("inf")
    for k in keys[1:]:
        t0 = time.perf_counter()
        jax.block_until_ready(fn(k))
        best = min(best, time.perf_counter() - t0)
    return first, best


def pennylane_case(inp) -> dict:
    import pennylane as qml
    from pennylane.labs.phox import CircuitConfig, MMDConfig, mmd_loss
    ef = importlib.import_module("pennylane.labs.phox.expval_functions")
    # (the package binds the name mmd_loss to the function, so import the module by path)
    mm = importlib.import_module("pennylane.labs.phox.mmd_loss")

    n, N, L = int(inp["n"]), int(inp["n_samples"]), int(inp["n_ops"])
    gates = _gates(inp["gates"])
    theta = -jnp.asarray(inp["theta"])
    data = jnp.asarray(inp["data"], dtype=jnp.float64)
    ops, Z = np.asarray(inp["ops"]), np.asarray(inp["Z"])
    key = jax.random.PRNGKey(0)
    config = CircuitConfig(gates={k: [g] for k, g in enumerate(gates)},
                           observables=np.zeros((1, n), int), n_samples=N, key=key, n_qubits=n)
    mcfg = MMDConfig(bandwidth=float(inp["sigma"]), n_ops=L)

    vg = jax.jit(jax.value_and_grad(lambda p, k: mmd_loss(p, config, mcfg, data, key=k)))
    keys = [jax.random.PRNGKey(10 + i) for i in range(REPEAT + 1)]
    first, warm = _timed(lambda k: vg(theta, k), keys)

    # phox's own math on the given operators and bit strings
    generators, param_map = ef._parse_generator_dict(config.gates, n)
    obs = ef._prep_observables(np.where(ops == 1, 3, 0))

    def on_inputs(p):
        mean, err = ef._core_expval_execution(p, None, jnp.asarray(Z), obs, None, None,
                                              generators, param_map, None)
        return mm._compute_single_mmd(mean, err, data, jnp.asarray(ops, jnp.float64), N, False)

    value, grad = jax.value_and_grad(on_inputs)(theta)
    return {"library": f"pennylane {qml.__version__} (labs.phox.mmd_loss)",
            "jax": jax.__version__, "first_s": first, "warm_s": warm,
            "value": float(value), "grad": (-np.asarray(grad)).tolist()}


def iqpopt_case(inp) -> dict:
    import iqpopt
    from iqpopt.gen_qml import iqp_methods

    n, N, L = int(inp["n"]), int(inp["n_samples"]), int(inp["n_ops"])
    gates = [[g] for g in _gates(inp["gates"])]
    theta = -jnp.asarray(inp["theta"])
    data = jnp.asarray(inp["data"], dtype=jnp.float64)
    sim = iqpopt.IqpSimulator(n, gates)
    sigma = float(inp["sigma"])

    vg = jax.jit(jax.value_and_grad(
        lambda p, k: iqp_methods.mmd_loss_iqp(p, sim, data, sigma, L, N, k)))
    keys = [jax.random.PRNGKey(10 + i) for i in range(REPEAT + 1)]
    first, warm = _timed(lambda k: vg(theta, k), keys)

    ops = jnp.asarray(inp["ops"], jnp.float64)
    Z = jnp.asarray(inp["Z"], jnp.int32)
    randint = jax.random.randint
    jax.random.randint = lambda key, shape, lo, hi, *a, **kw: Z   # the given bit strings
    try:
        value, grad = jax.value_and_grad(
            lambda p: iqp_methods.loss_estimate_iqp(p, sim, data, ops, ops, N,
                                                    jax.random.PRNGKey(0)))(theta)
    finally:
        jax.random.randint = randint
    version = getattr(iqpopt, "__version__", None)
    if version is None:
        from importlib.metadata import version as _v
        version = _v("iqpopt")
    return {"library": f"iqpopt {version} (gen_qml.mmd_loss_iqp)", "jax": jax.__version__,
            "first_s": first, "warm_s": warm, "value": float(value),
            "grad": (-np.asarray(grad)).tolist()}


def main(argv: list[str]) -> int:
    inp = dict(np.load(argv[1]))
    out: dict = {"n": int(inp["n"])}
    for name, case in (("pennylane", pennylane_case), ("iqpopt", iqpopt_case)):
        try:
            out[name] = case(inp)
        except ImportError as exc:
            out[name] = {"error": f"not installed ({exc})"}
        except Exception as exc:  # noqa: BLE001 - a peer that fails is reported, not fatal
            out[name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    with open(argv[2], "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
