"""IQP Born machine explorer: loss landscapes, barren plateaus and training at scale, by
initialization (Lerch et al., arXiv:2603.14576).

Declarations plus drawing code: controls, stages that call :mod:`explorer.iqp` and
:mod:`explorer.datasets` for the landscape views, and two background tasks (the variance
sweep, which goes to a dask cluster when the app is given one, and the training runs, whose
curves are drawn live).
"""

from __future__ import annotations

import functools
import os
import re
from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import datasets, iqp
from ..tours import tours_for
from . import cache_dir
from ._shell import App, Param, Stage, Task, View, steady_limits

__all__ = ["PARAMS", "PRESETS", "STAGES", "TASKS", "VIEWS", "make_app", "summary"]

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
    Param("gate_set", "choice", "all_pairs", options=iqp.GATE_SETS,
          label="gates", help="one- and two-qubit gates: all pairs or neighbours on a line"),
    Param("bandwidth", "choice", "mean_weight", options=iqp.BANDWIDTHS,
          label="bandwidth", help="sigma from a mean operator weight at each n, fixed at its "
                                  "value for n = 6, or the sigma below"),
    Param("sigma", "float", 1.0, lo=0.1, hi=20.0, step=0.05, label="sigma", advanced=True,
          help="kernel bandwidth when 'bandwidth' is sigma"),
    Param("w", "float", 2.0, lo=0.5, hi=2.9, step=0.1, label="mean weight w",
          help="mean number of qubits an MMD operator acts on"),
    Param("strategy", "choice", "data", options=iqp.STRATEGIES, label="initialization"),
    Param("log_scale", "float", -2.0, lo=-4.0, hi=2.0, step=0.05, label="log10 scale",
          help="noise scale s of every start (full range ignores it)"),
    Param("shift_u", "float", 0.0, lo=-1.0, hi=1.0, step=0.01, label="move start: u",
          advanced=True, help="the start moved along direction 1 (click the 2-D slice)"),
    Param("shift_v", "float", 0.0, lo=-1.0, hi=1.0, step=0.01, label="move start: v",
          advanced=True, help="the start moved along direction 2 (click the 2-D slice)"),
    Param("normalisation", "choice", "unit", options=iqp.NORMALISATIONS, advanced=True,
          label="normalisation", help="nu in the noise pi s / nu of every start, the "
                                      "landscape, the variance sweep and the training"),
    Param("n_max", "int", 12, lo=6, hi=40, step=2, label="largest n (variance)",
          help="the barren-plateau sweep runs n = 6, 8, ..., n_max"),
    Param("draws", "int", 100, lo=10, hi=2000, step=10, label="draws per n", advanced=True),
    Param("n_train", "int", 150, lo=4, hi=1000, step=2, label="qubits (training)",
          help="the paper trains 150 qubits on genomic data"),
    Param("steps", "int", 300, lo=10, hi=3000, step=10, label="training steps"),
    # Adam's step moves every one of the 11,325 angles by about lr whatever the gradient's
    # size, so with noisy gradients the pair angles random-walk by lr sqrt(steps): at 0.02
    # that scrambles the unbiased start back onto the plateau within 300 steps. At 0.003 and
    # 500 operators the paper's order holds across seeds (tests/test_iqp_app.py).
    Param("lr", "float", 0.003, lo=0.001, hi=0.5, step=0.001, label="learning rate",
          readout_format=".3f"),
    Param("n_ops", "int", 500, lo=10, hi=2000, step=10, label="operators / step",
          advanced=True),
]

PRESETS = {
    "exact landscape, data-dependent start": {"n": 10, "strategy": "data", "log_scale": -1.0},
    "exact landscape, full-range start": {"n": 10, "strategy": "full_range"},
    "variance vs n at mean weight 2": {"bandwidth": "mean_weight", "w": 2.0, "n_max": 12},
    "variance vs n at constant bandwidth": {"bandwidth": "constant", "w": 2.0, "n_max": 12},
    "150-qubit genomic training": {"dataset": "genomic (msprime)", "n_train": 150,
                                   "steps": 300, "lr": 0.003, "n_ops": 500},
}



# ---------------------------------------------------------------------------- stages


@functools.lru_cache(maxsize=8)
def load_data(name: str, n_bits: int) -> np.ndarray:
    """The chosen data set's first ``n_bits`` columns (loaded once per process)."""
    if name == "genomic (msprime)":
        # Kept on disk: later kernels skip importing msprime (1.5-2 s of a cold start).
        return datasets.genomic(n_bits, rng=2026, cache=cache_dir("explorer-data"))
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
    return data[:, :n_bits]


SLICE = np.linspace(-1.0, 1.0, 41)
GRID = np.linspace(-1.0, 1.0, 15)
STATS_MAX_N = 20
EXACT_MAX_N = 12


def data(dataset, n):
    return load_data(dataset, n)


def gates(gate_set, n):
    return iqp.gate_set(gate_set, n)


def kernel_sigma(bandwidth, n, w, sigma) -> float:
    return iqp.bandwidth(bandwidth, n, w=w, sigma=sigma)


def start(strategy, gates, data, log_scale, normalisation, seed, shift_u, shift_v):
    """The initial angles (moved by (u, v) along two random directions of unit RMS angle
    change, where the 2-D slice was clicked) and those directions."""
    rng = np.random.default_rng([seed, 0])
    theta0 = iqp.init_params(strategy, gates, data=data, scale=10 ** log_scale,
                             normalisation=normalisation, rng=rng)
    dirs = rng.standard_normal((2, len(gates)))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True) / np.sqrt(2)
    return SimpleNamespace(theta0=theta0 + shift_u * dirs[0] + shift_v * dirs[1],
                           directions=dirs)


def slices(start, gates, data, kernel_sigma, n, seed):
    """MMD^2 along one direction and over a plane through the start (exact for small n)."""
    exact = n <= EXACT_MAX_N
    kw = dict(exact=exact, n_ops=300, n_samples=300, rng=np.random.default_rng([seed, 1]))
    s1 = iqp.loss_slice(start.theta0, start.directions[:1], SLICE[:, None], gates, data,
                        kernel_sigma, **kw)
    uu, vv = np.meshgrid(GRID, GRID)
    s2 = iqp.loss_slice(start.theta0, start.directions, np.c_[uu.ravel(), vv.ravel()], gates,
                        data, kernel_sigma, **kw)
    return SimpleNamespace(exact=exact, u=SLICE, line=s1, loss0=float(s1[len(SLICE) // 2]),
                           grid=GRID, plane=s2.reshape(GRID.size, GRID.size))


def stats(start, gates, data, n):
    """Bit means and pair correlators of the start against the data (exact, small n)."""
    return iqp.low_order_statistics(start.theta0, gates, data) if n <= STATS_MAX_N else None


STAGES = [Stage(f) for f in (data, gates, kernel_sigma, start, slices, stats)]


def variance(ctx, dataset, n_max, bandwidth, sigma, w, log_scale, normalisation, draws, seed):
    """Background task: Var over starts of MMD^2 against n, every strategy."""
    ns = list(range(6, n_max + 1, 2))
    train = load_data(dataset, n_max)
    out = {}
    for k, strategy in enumerate(iqp.STRATEGIES):
        if ctx.cancel.is_set():
            break
        out[strategy] = iqp.loss_variance(
            ns, strategy, data=train, bandwidth=bandwidth, w=w,
            sigma=sigma if bandwidth == "sigma" else None,
            scale=10 ** log_scale, normalisation=normalisation, n_draws=draws,
            exact_up_to=EXACT_VARIANCE_N, rng=np.random.default_rng([seed, 4, k]),
            executor=ctx.executor, cancel=ctx.cancel)
        ctx.progress(k + 1, len(iqp.STRATEGIES))
        ctx.emit(dict(out))
    return out


#: Exact MMD^2 in the variance sweep up to this n (about 12 ms a draw at 16 qubits): above,
#: the estimator's noise makes the variance estimate's standard error far larger.
EXACT_VARIANCE_N = 16

#: Training curves are redrawn every this many steps.
LIVE_EVERY = 25


def training(ctx, dataset, n_train, gate_set, bandwidth, sigma, w, log_scale, normalisation,
             steps, lr, n_ops, seed):
    """Background task: train from every strategy; the curves are published as they grow."""
    train = load_data(dataset, n_train)
    gs = iqp.gate_set(gate_set, n_train)
    sig = iqp.bandwidth(bandwidth, n_train, w=w, sigma=sigma)
    curves = {s: [] for s in iqp.STRATEGIES}
    total = steps * len(iqp.STRATEGIES)

    def snapshot():
        return {s: np.array(c) for s, c in curves.items()}

    for k, strategy in enumerate(iqp.STRATEGIES):
        if ctx.cancel.is_set():
            break
        theta0 = iqp.init_params(strategy, gs, data=train, scale=10 ** log_scale,
                                 normalisation=normalisation,
                                 rng=np.random.default_rng([seed, 5, k]))

        def callback(step, loss, theta, k=k, strategy=strategy):
            curves[strategy].append(loss)
            ctx.progress(k * steps + step, total)
            if step % LIVE_EVERY == 0:
                ctx.emit(snapshot())
            return ctx.cancel.is_set()

        iqp.train(gs, train, theta0, sigma=sig, steps=steps, learning_rate=lr, n_ops=n_ops,
                  n_samples=n_ops, rng=np.random.default_rng([seed, 6, k]), callback=callback,
                  cancel=ctx.cancel, record="ends")
    return snapshot()


def _variance_columns(value) -> dict:
    out = {}
    for s, lv in value.items():
        out.update({f"{s}.n": lv.n, f"{s}.variance": lv.variance, f"{s}.se": lv.se,
                    f"{s}.exact": lv.exact, f"{s}.grad_max": lv.grad_max})
    return out


TASKS = [
    Task("variance", variance, button="Run variance",
         help="Var of MMD^2 over starts, every strategy, n = 6 ... n_max",
         columns=_variance_columns),
    Task("training", training, button="Run training",
         help="train from every strategy on the chosen data", columns=dict),
]


def summary(n, gate_set, strategy, kernel_sigma, slices) -> str:
    how = "exact" if slices.exact else "estimated"
    return (f"n={n}, {gate_set}, sigma={kernel_sigma:.3g}: {strategy} start, "
            f"MMD^2 {slices.loss0:.4g} ({how}); slices along two random unit-RMS directions")


def columns(start, slices, stats) -> dict[str, np.ndarray]:
    out = {"u": slices.u, "mmd2_slice": slices.line, "theta0": start.theta0}
    if stats is not None:
        out.update(model_mean=stats["model_mean"], data_mean=stats["data_mean"])
    return out


# ---------------------------------------------------------------------------- views


def build_landscape(fig):
    ax, ax2 = fig.subplots(1, 2, width_ratios=(1.7, 1))
    a = SimpleNamespace(ax=ax, ax2=ax2)
    (a.line,) = a.ax.plot([], [], "-", c="k")
    a.ax.axvline(0, c="tab:red", lw=0.8)
    a.ax.set(xlabel="step along direction 1", ylabel="MMD²", title="loss slice")
    # The loss spans decades as the scale moves: its power of ten goes into the axis label
    # and the ticks show mantissas, padded with figure spaces (a digit's width) to five
    # characters, so the labels take the same width in every decade and a new range needs
    # no new layout (and nothing sits above the axes, by the title).
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    a.power = 0
    a.ax.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    a.ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: f"{v / 10.0**a.power:g}".rjust(5, "\u2007")))
    a.heat = a.ax2.imshow(np.zeros((2, 2)), origin="lower", cmap="viridis",
                          extent=(-1, 1, -1, 1), aspect="auto")
    a.ax2.plot([0], [0], "r+", ms=8)
    # Ticks off the corners: at lecture sizes the two "-1" labels would collide.
    a.ax2.set(title="2-D slice", xticks=[-0.5, 0.5], yticks=[-0.5, 0.5])
    return a


def draw_landscape(a, slices):
    a.line.set_data(slices.u, slices.line)
    ylim = steady_limits(float(slices.line.min()), float(slices.line.max()), a.ax.get_ylim())
    top = max(abs(ylim[0]), abs(ylim[1]))
    a.power = int(np.floor(np.log10(top))) if 0 < top < 1 else 0
    a.ax.set(xlim=(-1, 1), ylim=ylim,
             ylabel=f"MMD² (×10{_superscript(a.power)})",   # ×10⁰ too: one label length
             title=f"loss slice ({'exact' if slices.exact else 'estimated'})")
    a.heat.set_data(slices.plane)
    a.heat.set_clim(float(slices.plane.min()), float(slices.plane.max()))


def _superscript(k: int) -> str:
    """An integer in Unicode superscripts: -3 -> '⁻³' (plain text, no mathtext to lay out).

    >>> _superscript(-12), _superscript(4)
    ('⁻¹²', '⁴')
    """
    return str(k).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def press_landscape(a, ax, x, y) -> dict:
    """A click on the 2-D slice moves the start there (the slices re-centre on it)."""
    if ax is not a.ax2:
        return {}
    return {"shift_u": min(max(x, -1.0), 1.0), "shift_v": min(max(y, -1.0), 1.0)}


def build_statistics(fig):
    a = SimpleNamespace(ax=fig.add_subplot())
    a.ax.plot([-1, 1], [-1, 1], ":", c="grey", lw=0.8)
    a.means = a.ax.scatter([], [], s=14, c="tab:blue", label="bit means")
    a.pairs = a.ax.scatter([], [], s=6, c="tab:orange", label="pair ⟨ZᵢZⱼ⟩")
    a.ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), xlabel="data", ylabel="model",
             title="start vs data", xticks=[-1, -0.5, 0, 0.5, 1], yticks=[-1, -0.5, 0, 0.5, 1])
    a.ax.legend(fontsize="x-small", loc="upper left")
    return a


def draw_statistics(a, stats):
    if stats is None:
        a.means.set_offsets(np.empty((0, 2)))
        a.pairs.set_offsets(np.empty((0, 2)))
        a.ax.set_title(f"start vs data (exact, n <= {STATS_MAX_N})")
        return
    a.means.set_offsets(np.c_[1 - 2 * stats["data_mean"], 1 - 2 * stats["model_mean"]])
    a.pairs.set_offsets(np.c_[stats["data_pair"], stats["model_pair"]].reshape(-1, 2))
    a.ax.set_title("start vs data")


def build_variance(fig):
    from matplotlib.collections import LineCollection
    from matplotlib.ticker import MaxNLocator

    ax, ax_grad = fig.subplots(1, 2, width_ratios=(1.6, 1))
    a = SimpleNamespace(ax=ax, ax_grad=ax_grad, bars={}, bounds={})
    a.lines = {s: a.ax.plot([], [], "o-", ms=3, c=c, label=s)[0]
               for s, c in STRATEGY_COLOURS.items()}
    for s, c in STRATEGY_COLOURS.items():
        a.bars[s] = a.ax.add_collection(LineCollection([], colors=c, linewidths=0.8))
        (a.bounds[s],) = a.ax.plot([], [], "v", ms=5, mfc="none", c=c)
    (a.ref,) = a.ax.plot([], [], ":", c="k", label="∝ 2⁻ⁿ")
    a.ax.plot([], [], "v", ms=5, mfc="none", c="grey", label="< bound (within 2 se of 0)")
    a.ax.set(yscale="log", xlabel="qubits n", ylabel="Var over starts of MMD²", xlim=(5, 14),
             ylim=(1e-8, 1), title="loss variance")
    a.hint = a.ax.text(0.5, 0.5, "press 'Run variance'", transform=a.ax.transAxes,
                       ha="center", va="center", color="grey")
    a.ax.legend(fontsize="xx-small", ncol=1, loc="lower left")
    a.grad = {s: a.ax_grad.plot([], [], "o-", ms=2, c=c)[0] for s, c in STRATEGY_COLOURS.items()}
    a.ax_grad.set(yscale="log", xlabel="n", xlim=(5, 14), ylim=(1e-4, 1),
                  title="max |∂L/∂θ|")
    for axis in (a.ax.xaxis, a.ax_grad.xaxis):
        axis.set_major_locator(MaxNLocator(4, integer=True))
    return a


def draw_variance(a, variance):
    """Estimates more than 2 standard errors above 0 as points with +-1 se bars; the others
    only as upper bounds (estimate + 2 se): estimator noise is never drawn as a variance."""
    shown = []
    for s, line in a.lines.items():
        lv = variance.get(s) if variance else None
        if lv is None:
            line.set_data([], [])
            a.bars[s].set_segments([])
            a.bounds[s].set_data([], [])
            a.grad[s].set_data([], [])
            continue
        sig = lv.variance > 2 * lv.se
        line.set_data(lv.n[sig], lv.variance[sig])
        lo = np.maximum(lv.variance - lv.se, lv.variance / 10)
        a.bars[s].set_segments([[(n, low), (n, v + e)] for n, v, e, low in
                                zip(lv.n[sig], lv.variance[sig], lv.se[sig], lo[sig],
                                    strict=True)])
        bound = lv.variance[~sig] + 2 * lv.se[~sig]
        a.bounds[s].set_data(lv.n[~sig], bound)
        a.grad[s].set_data(lv.n, lv.grad_max)
        shown += [lv.variance[sig], bound]
    a.hint.set_visible(not variance)
    if not variance:
        a.ref.set_data([], [])
        a.ax.set_title("loss variance")
        return
    first = next(iter(variance.values()))
    ns = first.n.astype(float)
    full = variance.get("full_range")
    anchor = full.variance[0] if full is not None and full.variance[0] > 0 else 1e-3
    a.ref.set_data(ns, anchor * 2.0 ** -(ns - ns[0]))
    values = np.concatenate(shown) if shown else np.empty(0)
    positive = values[values > 0]
    if positive.size:
        a.ax.set_ylim(positive.min() / 3, positive.max() * 3)
    a.ax.set_xlim(ns[0] - 1, ns[-1] + 1)
    a.ax_grad.set_xlim(ns[0] - 1, ns[-1] + 1)
    grads = np.concatenate([lv.grad_max for lv in variance.values()])
    if np.any(grads > 0):
        a.ax_grad.set_ylim(grads[grads > 0].min() / 2, grads.max() * 2)
    a.ax.set_title(f"{first.n_draws} starts, exact to n = {EXACT_VARIANCE_N}")


#: Steps in the running mean of the training curves (the raw estimates are drawn faintly).
SMOOTH = 25


def build_training(fig):
    a = SimpleNamespace(ax=fig.add_subplot())
    a.raw = {s: a.ax.plot([], [], "-", lw=0.6, alpha=0.25, c=c)[0]
             for s, c in STRATEGY_COLOURS.items()}
    a.lines = {s: a.ax.plot([], [], "-", lw=1.5, c=c, label=s)[0]
               for s, c in STRATEGY_COLOURS.items()}
    a.ax.set(xlabel="step", ylabel="MMD² estimate", xlim=(0, 300), ylim=(-0.002, 0.05),
             title=f"training (running mean of {SMOOTH})")
    a.hint = a.ax.text(0.5, 0.5, "press 'Run training'", transform=a.ax.transAxes,
                       ha="center", va="center", color="grey")
    a.ax.legend(fontsize="x-small", loc="upper right")
    return a


def draw_training(a, training, steps):
    top = 0.0
    for s, line in a.lines.items():
        y = np.asarray(training.get(s, []) if training else [], dtype=float)
        x = np.arange(y.size)
        a.raw[s].set_data(x, y)
        line.set_data(x, iqp.running_mean(y, SMOOTH) if y.size else y)
        if y.size:
            top = max(top, float(np.max(y)))
    a.ax.set_xlim(0, max(steps, 10))
    a.ax.set_ylim(-0.05 * (top or 0.05), 1.1 * (top or 0.05))
    a.hint.set_visible(not training)


VIEWS = [
    View("landscape", build_landscape, draw_landscape, figsize=(4.6, 3.4),
         on_press=press_landscape),
    View("statistics", build_statistics, draw_statistics, figsize=(4.3, 3.0)),
    View("variance", build_variance, draw_variance, figsize=(4.6, 3.4)),
    View("training", build_training, draw_training, figsize=(4.6, 3.4)),
]


LAYOUT = [("landscape", "statistics"), ("variance", "training")]


#: The model in a few lines, above the app (folded away in lecture mode).
INTRO = (
    "<p>An IQP circuit $H^{\\otimes n}\\exp\\!\\big(i\\sum_j \\theta_j Z^{g_j}\\big)H^{\\otimes "
    "n}|0^n\\rangle$ defines a distribution $q_\\theta$ over $n$-bit strings, fitted to data by "
    "minimising the squared MMD with a Gaussian kernel. Every Z-correlator is an average over "
    "uniform bit strings, $\\langle Z_a\\rangle = E_z[\\cos\\Phi_a(z)]$, so the loss and its "
    "gradient are estimated <b>classically at any $n$</b>. S. Lerch et al. (arXiv:2603.14576) "
    "show that, with the kernel's mean operator weight held fixed as $n$ grows, starting from "
    "uniformly random angles gives a barren plateau, a loss variance that vanishes like "
    "$2^{-n}$, while the identity, the unbiased (uniform distribution) and the data-dependent "
    "starts avoid that exponential decay, so training can start; with a constant bandwidth "
    "the picture changes (switch <b>bandwidth</b>).</p> "
)

#: What the views show, folded behind "read more" (from the paper and reference/*.md).
ABOUT = (
    "<p><b>The views.</b> <i>Loss slice:</i> MMD² along one and two random directions through "
    "the start (exact up to 12 qubits, otherwise estimated with shared random draws, so the "
    "slice is smooth). <i>Start vs data:</i> the starting model's bit means and pair "
    "correlations against the data's. <i>Barren plateau:</i> press <b>Run variance</b> for the "
    "variance of MMD² over starts, for every strategy, as $n$ grows, with a $2^{-n}$ reference; "
    "switch <b>bandwidth</b> between a fixed mean operator weight and a constant $\\sigma$ and "
    "run again. <i>Training:</i> press <b>Run training</b> to train from every strategy on the "
    "chosen data, 150 qubits of simulated human haplotypes (msprime) by default, as in the "
    "paper.</p> "
)


# ---------------------------------------------------------------------------- the app


class DaskAddress:
    """The optional dask scheduler field: an address checked by a pattern, one client each."""

    def __init__(self) -> None:
        import ipywidgets as W

        self.widget = W.Text(value="", placeholder="tcp://host:8786", description="dask",
                             tooltip="optional: a dask scheduler address for the variance "
                                     "sweep", style={"description_width": "initial"},
                             layout={"width": "100%"})
        self.clients: dict[str, Any] = {}

    def executor(self):
        """The dask executor for the address typed in, connected once (None: run here)."""
        address = self.widget.value.strip()
        if not address:
            return None
        if not SCHEDULER.fullmatch(address):
            raise ValueError(f"dask scheduler must look like tcp://host:port; got {address!r:.60}")
        if address not in self.clients:
            try:
                from distributed import Client
            except ImportError:
                raise ValueError("the dask scheduler needs the 'cluster' extra "
                                 "(pip install .[cluster])") from None
            try:
                self.clients[address] = Client(address, timeout=5)
            except OSError as exc:
                raise ValueError(f"could not reach the dask scheduler at {address}: "
                                 f"{type(exc).__name__}") from None
        return self.clients[address].get_executor()


def make_app(*, executor=None, query_string: str | None = None, debug: bool | None = None,
             **overrides) -> App:
    """Build the IQP Born machine explorer (``executor``: where the variance sweep runs;
    otherwise the dask address typed into the app, or here)."""
    dask = DaskAddress()
    app = App(title="IQP Born machines: where training starts decides if it trains",
              params=PARAMS, stages=STAGES, views=VIEWS, tasks=TASKS, summary=summary,
              columns=columns, presets=PRESETS, layout=LAYOUT, intro=INTRO, about=ABOUT,
              query_string=query_string,
              debug=debug, initial=overrides, extra_widgets=[dask.widget], tours=tours_for("iqp"),
              executor=(lambda: executor) if executor is not None else dask.executor)
    app.dask = dask
    return app
