"""IQP Born machine explorer: loss landscapes, barren plateaus and training at scale, by
initialization (Lerch et al., arXiv:2603.14576).

Controls turn into calls of :mod:`explorer.iqp` and :mod:`explorer.datasets`; results turn into
artists. The variance sweep and the training runs are background tasks with progress and
Cancel; the sweep goes to a dask cluster when the app is given an executor.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import datasets, iqp
from ._shell import App, ChangeTracker, Param, new_figure

__all__ = ["PARAMS", "PRESETS", "compute", "make_app", "summary"]

#: What a dask scheduler address may look like (checked, never evaluated).
SCHEDULER = re.compile(r"tcp://[A-Za-z0-9.\-]{1,253}:\d{1,5}")
DATA_SETS = ("genomic (msprime)", "digits 8x8", "bars and stripes 4x4", "hapt file")
#: A real .hapt file the server may offer (set by whoever runs the server, never by a visitor).
HAPT_ENV = "EXPLORER_HAPT"
STRATEGY_COLOURS = {"full_range": "tab:grey", "identity": "tab:blue", "unbiased": "tab:orange",
                    "data": "tab:green", "covariance": "tab:purple"}

PARAMS = [
    Param("dataset", "choice", "genomic (msprime)", options=DATA_SETS, label="data",
          help="training data; 'hapt file' reads the path in $EXPLORER_HAPT on the server"),
    Param("n", "int", 10, lo=2, hi=1000, label="qubits (landscape)",
          help="qubits for the landscape views: exact up to 12, estimated above (statistics "
               "of the start up to 20)"),
    Param("gate_set", "choice", "all pairs", options=("all pairs", "nearest neighbour"),
          label="gates", help="one- and two-qubit gates: all pairs or neighbours on a line"),
    Param("bandwidth", "choice", "mean weight", options=("mean weight", "constant", "sigma"),
          label="bandwidth", help="sigma from a mean operator weight at each n, fixed at its "
                                  "value for n = 6, or the sigma below"),
    Param("sigma", "float", 1.0, lo=0.1, hi=20.0, step=0.05, label="sigma", advanced=True,
          help="kernel bandwidth when 'bandwidth' is sigma"),
    Param("w", "float", 2.0, lo=0.5, hi=2.9, step=0.1, label="mean weight w",
          help="mean number of qubits an MMD operator acts on"),
    Param("strategy", "choice", "data", options=iqp.STRATEGIES, label="initialization"),
    Param("log_scale", "float", -2.0, lo=-4.0, hi=2.0, step=0.05, label="log10 scale",
          help="noise scale s (full range ignores it)"),
    Param("normalisation", "choice", "unit", options=iqp.NORMALISATIONS, advanced=True,
          label="normalisation"),
    Param("n_max", "int", 12, lo=6, hi=40, step=2, label="largest n (variance)",
          help="the barren-plateau sweep runs n = 6, 8, ..., n_max"),
    Param("draws", "int", 100, lo=10, hi=2000, step=10, label="draws per n", advanced=True),
    Param("n_train", "int", 150, lo=4, hi=1000, step=2, label="qubits (training)",
          help="the paper trains 150 qubits on genomic data"),
    Param("steps", "int", 300, lo=10, hi=3000, step=10, label="training steps"),
    Param("lr", "float", 0.02, lo=0.001, hi=0.5, step=0.001, label="learning rate",
          readout_format=".3f"),
    Param("n_ops", "int", 200, lo=10, hi=2000, step=10, label="operators / step",
          advanced=True),
]

PRESETS = {
    "exact landscape, data-dependent start": {"n": 10, "strategy": "data", "log_scale": -1.0},
    "exact landscape, full-range start": {"n": 10, "strategy": "full_range"},
    "variance vs n at mean weight 2": {"bandwidth": "mean weight", "w": 2.0, "n_max": 12},
    "variance vs n at constant bandwidth": {"bandwidth": "constant", "w": 2.0, "n_max": 12},
    "150-qubit genomic training": {"dataset": "genomic (msprime)", "n_train": 150,
                                   "steps": 300, "lr": 0.02},
}


# ---------------------------------------------------------------------------- compute


@functools.lru_cache(maxsize=8)
def load_data(name: str, n_bits: int) -> np.ndarray:
    """The chosen data set with at least ``n_bits`` columns (first columns are used)."""
    if name == "genomic (msprime)":
        return datasets.genomic(n_bits, rng=2026)
    if name == "digits 8x8":
        data = datasets.digits()
    elif name == "bars and stripes 4x4":
        data = datasets.bars_and_stripes(4, 4)
    else:
        path = os.environ.get(HAPT_ENV)
        if not path:
            raise ValueError(f"no .hapt file offered by this server (set ${HAPT_ENV})")
        data = datasets.genomic(n_bits, source=path)
    if data.shape[1] < n_bits:
        raise ValueError(f"{name} has {data.shape[1]} bits; use at most that many qubits")
    return data


def gate_set(kind: str, n: int) -> list:
    return iqp.local_gates(n) if kind == "all pairs" else iqp.nearest_neighbour_gates(n)


def bandwidth_for(state: dict, n: int) -> float:
    if state["bandwidth"] == "mean weight":
        return iqp.sigma_for_mean_weight(n, min(state["w"], n / 2 - 0.01))
    if state["bandwidth"] == "sigma":
        return state["sigma"]
    return iqp.sigma_for_mean_weight(6, state["w"])


@dataclass(frozen=True)
class IqpResult:
    n: int
    sigma: float
    theta0: np.ndarray
    loss0: float
    exact: bool
    u: np.ndarray
    slice1: np.ndarray
    grid: np.ndarray
    slice2: np.ndarray
    stats: dict


SLICE = np.linspace(-1.0, 1.0, 41)
STATS_MAX_N = 20
GRID = np.linspace(-1.0, 1.0, 15)


def compute(state: dict) -> IqpResult:
    """Backend calls for the landscape views (the sweeps are background tasks)."""
    n = state["n"]
    data = load_data(state["dataset"], n)[:, :n]
    gates = gate_set(state["gate_set"], n)
    sigma = bandwidth_for(state, n)
    rng = np.random.default_rng([state["seed"], 0])
    theta0 = iqp.init_params(state["strategy"], gates, data=data,
                             scale=10 ** state["log_scale"],
                             normalisation=state["normalisation"], rng=rng)
    dirs = rng.standard_normal((2, len(gates)))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True) / np.sqrt(2)   # unit RMS angle change
    exact = n <= 12
    kw = dict(exact=exact, n_ops=300, n_samples=300, rng=np.random.default_rng([state["seed"], 1]))
    s1 = iqp.loss_slice(theta0, dirs[:1], SLICE[:, None], gates, data, sigma, **kw)
    uu, vv = np.meshgrid(GRID, GRID)
    s2 = iqp.loss_slice(theta0, dirs, np.c_[uu.ravel(), vv.ravel()], gates, data, sigma, **kw)
    stats = iqp.low_order_statistics(theta0, gates, data) if n <= STATS_MAX_N else None
    return IqpResult(n=n, sigma=sigma, theta0=theta0,
                     loss0=float(s1[len(SLICE) // 2]), exact=exact, u=SLICE, slice1=s1,
                     grid=GRID, slice2=s2.reshape(GRID.size, GRID.size), stats=stats)


def summary(result: IqpResult, state: dict) -> str:
    how = "exact" if result.exact else "estimated"
    return (f"n={result.n}, {state['gate_set']}, sigma={result.sigma:.3g}: "
            f"{state['strategy']} start, MMD^2 {result.loss0:.4g} ({how}); "
            f"slices along two random unit-RMS directions")


def columns(result: IqpResult) -> dict[str, np.ndarray]:
    out = {"u": result.u, "mmd2_slice": result.slice1, "theta0": result.theta0}
    if result.stats is not None:
        out.update(model_mean=result.stats["model_mean"], data_mean=result.stats["data_mean"])
    return out


# ---------------------------------------------------------------------------- views


class _Views(ChangeTracker):
    def __init__(self):
        super().__init__()
        small = (4.3, 3.0)
        self.figs = {"landscape": new_figure(figsize=(4.6, 3.4)),
                     "statistics": new_figure(figsize=small),
                     "variance": new_figure(figsize=(4.6, 3.4)),
                     "training": new_figure(figsize=(4.6, 3.4))}
        f = self.figs
        ax = self.ax_land = f["landscape"].add_axes((0.14, 0.15, 0.5, 0.75))
        (self.slice1,) = ax.plot([], [], "-", c="k")
        self.start = ax.axvline(0, c="tab:red", lw=0.8)
        ax.set(xlabel="step along direction 1", ylabel="MMD²", title="loss slice")
        self.ax_2d = f["landscape"].add_axes((0.7, 0.15, 0.27, 0.75))
        self.heat = self.ax_2d.imshow(np.zeros((2, 2)), origin="lower", cmap="viridis",
                                      extent=(-1, 1, -1, 1), aspect="auto")
        self.ax_2d.plot([0], [0], "r+", ms=8)
        self.ax_2d.set(title="2-D slice", xticks=[-1, 0, 1], yticks=[-1, 0, 1])

        ax = self.ax_stats = f["statistics"].add_axes((0.17, 0.17, 0.78, 0.72))
        ax.plot([-1, 1], [-1, 1], ":", c="grey", lw=0.8)
        self.means = ax.scatter([], [], s=14, c="tab:blue", label="bit means")
        self.pairs = ax.scatter([], [], s=6, c="tab:orange", label="pair ⟨ZᵢZⱼ⟩")
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), xlabel="data", ylabel="model",
               title="start vs data")
        ax.legend(fontsize="x-small", loc="upper left")

        ax = self.ax_var = f["variance"].add_axes((0.14, 0.15, 0.46, 0.75))
        self.var_lines = {s: ax.plot([], [], "o-", ms=3, c=c, label=s)[0]
                          for s, c in STRATEGY_COLOURS.items()}
        (self.ref,) = ax.plot([], [], ":", c="k", label="∝ 2⁻ⁿ")
        ax.set(yscale="log", xlabel="qubits n", ylabel="Var over starts of MMD²",
               xlim=(5, 14), ylim=(1e-8, 1), title="barren plateau: press 'Run variance'")
        ax.legend(fontsize="xx-small", ncol=1, loc="lower left")
        ax = self.ax_grad = f["variance"].add_axes((0.7, 0.15, 0.28, 0.75))
        self.grad_lines = {s: ax.plot([], [], "o-", ms=2, c=c)[0]
                           for s, c in STRATEGY_COLOURS.items()}
        ax.set(yscale="log", xlabel="n", xlim=(5, 14), ylim=(1e-4, 1),
               title="mean max |∂L/∂θ|", )

        ax = self.ax_train = f["training"].add_axes((0.17, 0.15, 0.78, 0.75))
        self.train_lines = {s: ax.plot([], [], "-", lw=1, c=c, label=s)[0]
                            for s, c in STRATEGY_COLOURS.items()}
        ax.set(xlabel="step", ylabel="MMD² estimate", xlim=(0, 300), ylim=(-0.002, 0.05),
               title="training: press 'Run training'")
        ax.legend(fontsize="x-small", loc="upper right")


def layout(widgets: dict):
    import ipywidgets as W

    return W.GridBox([widgets["landscape"], widgets["statistics"], widgets["variance"],
                      widgets["training"]],
                     layout={"grid_template_columns": "auto auto", "grid_gap": "4px 12px"})


def render(app: App, result: IqpResult, state: dict) -> list[str]:
    v: _Views = app.views
    changed = []
    if v.changed("landscape", (result,)):
        changed += ["landscape", "statistics"]
        v.slice1.set_data(result.u, result.slice1)
        lo, hi = float(result.slice1.min()), float(result.slice1.max())
        pad = 0.05 * (hi - lo) or 0.01
        v.ax_land.set(xlim=(-1, 1), ylim=(lo - pad, hi + pad),
                      title=f"loss slice ({'exact' if result.exact else 'estimated'})")
        v.heat.set_data(result.slice2)
        v.heat.set_clim(float(result.slice2.min()), float(result.slice2.max()))
        st = result.stats
        if st is None:
            v.means.set_offsets(np.empty((0, 2)))
            v.pairs.set_offsets(np.empty((0, 2)))
            v.ax_stats.set_title(f"start vs data (exact, n <= {STATS_MAX_N})")
        else:
            v.means.set_offsets(np.c_[1 - 2 * st["data_mean"], 1 - 2 * st["model_mean"]])
            v.pairs.set_offsets(np.c_[st["data_pair"], st["model_pair"]].reshape(-1, 2))
            v.ax_stats.set_title("start vs data")
    var = app.variance
    if v.changed("variance", (var,)):
        changed.append("variance")
        for s, line in v.var_lines.items():
            lv = var.get(s) if var else None
            line.set_data(*((lv.n, lv.variance) if lv is not None else ([], [])))
            v.grad_lines[s].set_data(*((lv.n, lv.grad_max) if lv is not None else ([], [])))
        if var:
            first = next(iter(var.values()))
            ns = first.n.astype(float)
            full = var.get("full_range")
            anchor = full.variance[0] if full is not None and full.variance[0] > 0 else 1e-3
            v.ref.set_data(ns, anchor * 2.0 ** -(ns - ns[0]))
            values = np.concatenate([lv.variance for lv in var.values()])
            positive = values[values > 0]
            if positive.size:
                v.ax_var.set_ylim(positive.min() / 3, positive.max() * 3)
            v.ax_var.set_xlim(ns[0] - 1, ns[-1] + 1)
            v.ax_grad.set_xlim(ns[0] - 1, ns[-1] + 1)
            grads = np.concatenate([lv.grad_max for lv in var.values()])
            if np.any(grads > 0):
                v.ax_grad.set_ylim(grads[grads > 0].min() / 2, grads.max() * 2)
            v.ax_var.set_title(f"variance over {first.n_draws} starts, "
                               f"{state['bandwidth']}", fontsize="small")
    curves = app.training
    if v.changed("training", (curves, app.training_version)):
        changed.append("training")
        top = 0.0
        for s, line in v.train_lines.items():
            y = curves.get(s, []) if curves else []
            line.set_data(np.arange(len(y)), y)
            if len(y):
                top = max(top, float(np.max(y)))
        v.ax_train.set_xlim(0, max(state["steps"], 10))
        v.ax_train.set_ylim(-0.05 * (top or 0.05), 1.1 * (top or 0.05))
    return changed


# ---------------------------------------------------------------------------- the app


def make_app(*, executor=None, query_string: str | None = None, debug: bool | None = None,
             **overrides) -> App:
    """Build the IQP Born machine explorer (``executor``: where the variance sweep runs)."""
    import ipywidgets as W

    views = _Views()
    scheduler = W.Text(value="", placeholder="tcp://host:8786", description="dask",
                       tooltip="optional: a dask scheduler address for the variance sweep",
                       style={"description_width": "initial"}, layout={"width": "100%"})
    clients: dict[str, Any] = {}

    def cluster_executor():
        """The dask executor for the address typed in, connected once (None: run here)."""
        address = scheduler.value.strip()
        if not address:
            return None
        if not SCHEDULER.fullmatch(address):
            raise ValueError(f"dask scheduler must look like tcp://host:port; got {address!r:.60}")
        if address not in clients:
            try:
                from distributed import Client
            except ImportError:
                raise ValueError("the dask scheduler needs the 'cluster' extra "
                                 "(pip install .[cluster])") from None
            try:
                clients[address] = Client(address, timeout=5)
            except OSError as exc:
                raise ValueError(f"could not reach the dask scheduler at {address}: "
                                 f"{type(exc).__name__}") from None
        return clients[address].get_executor()

    run_var = W.Button(description="Run variance", icon="play",
                       tooltip="Var of MMD^2 over starts, every strategy, n = 6 ... n_max")
    run_train = W.Button(description="Run training", icon="play",
                         tooltip="train from every strategy on the chosen data")
    app = App(title="IQP Born machines: where training starts decides if it trains",
              params=PARAMS, compute=compute, figure=views.figs, render=render,
              summary=summary, columns=columns, presets=PRESETS, query_string=query_string,
              debug=debug, extra_widgets=[scheduler, run_var, run_train], views=views,
              initial=overrides, defer_first=True, figure_layout=layout)
    app.variance, app.training, app.training_version = None, None, 0
    lock = threading.Lock()
    app.start()

    def start_variance(_button=None) -> None:
        state = app.state
        ns = list(range(6, state["n_max"] + 1, 2))
        data = load_data(state["dataset"], state["n_max"])
        total = len(iqp.STRATEGIES)

        def work(on_progress, cancel):
            out = {}
            for k, strategy in enumerate(iqp.STRATEGIES):
                if cancel.is_set():
                    break
                scale = 1.0 if strategy in ("full_range", "covariance") else \
                    10 ** state["log_scale"]
                mode = "constant" if state["bandwidth"] != "mean weight" else "mean_weight"
                out[strategy] = iqp.loss_variance(
                    ns, strategy, data=data, bandwidth=mode,
                    sigma=state["sigma"] if state["bandwidth"] == "sigma" else None,
                    w=state["w"], scale=scale, n_draws=state["draws"],
                    rng=np.random.default_rng([state["seed"], 4, k]),
                    executor=executor or cluster_executor(), cancel=cancel)
                on_progress(k + 1, total)
            return out

        def done(value):
            app.variance = value

        app.run_task(work, done, label="variance sweep")

    def start_training(_button=None) -> None:
        state = app.state
        n = state["n_train"]
        data = load_data(state["dataset"], n)[:, :n]
        gates = gate_set(state["gate_set"], n)
        sigma = bandwidth_for(state, n)
        curves = {s: [] for s in iqp.STRATEGIES}
        app.training = curves
        steps = state["steps"]
        total = steps * len(iqp.STRATEGIES)

        def work(on_progress, cancel):
            for k, strategy in enumerate(iqp.STRATEGIES):
                if cancel.is_set():
                    break
                scale = 1.0 if strategy in ("full_range", "covariance") else \
                    10 ** state["log_scale"]
                theta0 = iqp.init_params(strategy, gates, data=data, scale=scale,
                                         rng=np.random.default_rng([state["seed"], 5, k]))

                def callback(step, loss, theta, k=k, strategy=strategy):
                    with lock:
                        curves[strategy].append(loss)
                    on_progress(k * steps + step, total)
                    if step % 25 == 0:
                        app.training_version += 1
                        app.rerender()
                    return cancel.is_set()

                iqp.train(gates, data, theta0, sigma=sigma, steps=steps,
                          learning_rate=state["lr"], n_ops=state["n_ops"],
                          n_samples=state["n_ops"], rng=np.random.default_rng(
                              [state["seed"], 6, k]), callback=callback, cancel=cancel,
                          record="ends")
            return curves

        def done(value):
            app.training_version += 1

        app.run_task(work, done, label="training")

    run_var.on_click(app._safe(start_variance))
    run_train.on_click(app._safe(start_training))
    app.start_variance, app.start_training = start_variance, start_training
    app.scheduler, app.dask_clients = scheduler, clients
    return app

