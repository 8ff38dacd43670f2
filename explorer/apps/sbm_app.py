"""SBM mean-field explorer (population dynamics on the block plane).

Controls turn into calls of :mod:`explorer.sbm`; results turn into artists.
No model math lives here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap

from .. import sbm
from ..sweep import SweepResult, run_sweep
from ._shell import App, Param, new_figure

__all__ = ["make_app", "PARAMS", "PRESETS", "compute", "summary"]

# Colours of the basin image, one per limit kind (sbm.LIMIT_KINDS order).
KIND_COLOURS = {
    "truth": "#a6dba0",
    "all_same": "#fdb863",
    "centre": "#bdbdbd",
    "mixed": "#c2a5cf",
    "cycle": "#92c5de",
    "undecided": "#ffffff",
}
_KIND_CODE = {k: i for i, k in enumerate(sbm.LIMIT_KINDS)}
_CMAP = ListedColormap([KIND_COLOURS[k] for k in sbm.LIMIT_KINDS])

PARAMS = [
    Param("n", "int", 2000, lo=4, hi=20000, even=True, step=2, label="nodes n",
          help="number of nodes (two equal communities)"),
    Param("p", "float", 0.3, lo=0.01, hi=0.99, step=0.01, label="p (within)",
          help="edge probability inside a community"),
    Param("q", "float", 0.1, lo=0.005, hi=0.98, step=0.005, label="q (across)",
          help="edge probability across communities; must be below p"),
    Param("starts", "int", 64, lo=1, hi=256, label="random starts",
          help="number of random block-mean starts (x0, y0) ~ U(0, 1)^2"),
    Param("max_iter", "int", 300, lo=10, hi=5000, step=10, label="max sweeps", advanced=True,
          help="BCAVI sweeps before a run is declared unsettled"),
    Param("grid", "int", 101, lo=21, hi=401, step=10, label="basin grid", advanced=True,
          help="points per axis of the basin image"),
    Param("trails", "bool", True, label="show trajectories", recompute=False,
          help="draw each start's path, or only its start and end"),
]

PRESETS = {
    "dense, known parameters": {"n": 2000, "p": 0.3, "q": 0.1, "starts": 64},
    "below the truth threshold": {"n": 12, "p": 0.3, "q": 0.1, "starts": 64},
    "p + q > 1 two-cycle": {"n": 2000, "p": 0.8, "q": 0.4, "starts": 64},
    "weak signal, large n": {"n": 20000, "p": 0.12, "q": 0.1, "starts": 128},
}


@dataclass(frozen=True)
class DemoResult:
    """What one recompute produced: the runs, their limits and the basin image."""

    trajectory: Any  # explorer.Trajectory, iterates (K, R, 2)
    kinds: np.ndarray  # (R,) limit kind per start
    basins: sbm.Basins
    truth_threshold: float


@functools.lru_cache(maxsize=16)
def _basins(n: int, p: float, q: float, grid: int, max_iter: int) -> sbm.Basins:
    return sbm.basins(n, p, q, grid=grid, max_iter=max_iter)


def compute(state: dict) -> DemoResult:
    """Backend calls for one state (pure; cached by the shell)."""
    n, p, q = state["n"], state["p"], state["q"]
    rng = np.random.default_rng(state["seed"])
    x0, y0 = rng.random(state["starts"]), rng.random(state["starts"])
    traj = sbm.population_run(x0, y0, n=n, p=p, q=q, max_iter=state["max_iter"])
    kinds = sbm.classify_limits(traj.final[:, 0], traj.final[:, 1], n=n, p=p, q=q)
    return DemoResult(
        trajectory=traj,
        kinds=kinds,
        basins=_basins(n, p, q, state["grid"], state["max_iter"]),
        truth_threshold=sbm.truth_threshold(p, q),
    )


def summary(result: DemoResult, state: dict) -> str:
    """The status line: where the random starts went."""
    counts = {k: int(np.sum(result.kinds == k)) for k in sbm.LIMIT_KINDS}
    parts = [f"{counts['truth']} of {len(result.kinds)} starts reached the truth"]
    parts += [f"{c} {k.replace('_', '-')}" for k, c in counts.items() if c and k != "truth"]
    return (f"n={state['n']}, p={state['p']:g}, q={state['q']:g}: " + ", ".join(parts)
            + f" ({result.trajectory.n_records - 1} sweeps, {result.trajectory.status.value})")


def columns(result: DemoResult) -> dict[str, np.ndarray]:
    it = result.trajectory.iterates
    return {
        "x0": it[0, :, 0], "y0": it[0, :, 1],
        "x_final": it[-1, :, 0], "y_final": it[-1, :, 1],
        "limit": result.kinds,
        "elbo_final": result.trajectory.objective[-1],
    }


class _Views:
    """The figure and its artists, built once; ``render`` only moves them."""

    def __init__(self, fig):
        self.fig = fig
        grid = fig.add_gridspec(2, 2, width_ratios=[1.1, 1], hspace=0.45, wspace=0.3)
        self.ax_phase = fig.add_subplot(grid[:, 0])
        self.ax_elbo = fig.add_subplot(grid[0, 1])
        self.ax_sweep = fig.add_subplot(grid[1, 1])

        ax = self.ax_phase
        self.image = ax.imshow(
            np.zeros((2, 2)), origin="lower", extent=(0, 1, 0, 1), cmap=_CMAP,
            vmin=-0.5, vmax=len(sbm.LIMIT_KINDS) - 0.5, interpolation="nearest",
        )
        ax.plot([0, 1], [0, 1], ls=":", lw=0.8, c="k")
        ax.plot([0, 1], [1, 0], ls=":", lw=0.8, c="k")
        self.trails = LineCollection([], colors="k", linewidths=0.6, alpha=0.6)
        ax.add_collection(self.trails)
        self.starts = ax.scatter([], [], s=12, c="k", marker="o", zorder=3, label="start")
        self.ends = ax.scatter([], [], s=60, facecolors="none", edgecolors="crimson",
                               linewidths=1.5, zorder=4, label="limit")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="x = mean of ψ on block 1",
               ylabel="y = mean of ψ on block 2", title="population BCAVI, block plane")
        handles = [ax.scatter([], [], marker="s", c=KIND_COLOURS[k], label=k.replace("_", "-"))
                   for k in ("truth", "all_same", "centre", "cycle")]
        ax.legend(handles=[*handles, self.starts, self.ends], loc="upper center",
                  bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize="small", frameon=False)

        self.elbo = LineCollection([], colors="tab:blue", linewidths=0.7, alpha=0.7)
        self.ax_elbo.add_collection(self.elbo)
        self.ax_elbo.set(xlabel="sweep", ylabel="population ELBO", title="ELBO per sweep")

        (self.share_line,) = self.ax_sweep.plot([], [], "o-", ms=3, c="tab:green")
        self.current_n = self.ax_sweep.axvline(1, c="crimson", lw=1)
        self.threshold_n = self.ax_sweep.axvline(1, c="k", ls="--", lw=0.8)
        self.ax_sweep.set(xscale="log", ylim=(-0.02, 1.02), xlim=(4, 40000), xlabel="n",
                          ylabel="truth basin share", title="press 'Sweep n' to fill")


def render(app: App, result: DemoResult, state: dict) -> None:
    v: _Views = app.views
    codes = np.vectorize(_KIND_CODE.__getitem__, otypes=[int])(result.basins.kind)
    v.image.set_data(codes)
    it = result.trajectory.iterates  # (K, R, 2)
    v.trails.set_segments(np.swapaxes(it, 0, 1) if state["trails"] else [])
    v.starts.set_offsets(it[0])
    v.ends.set_offsets(it[-1])

    elbo = result.trajectory.objective  # (K, R)
    k = np.arange(elbo.shape[0])
    v.elbo.set_segments([np.column_stack([k, elbo[:, r]]) for r in range(elbo.shape[1])])
    lo, hi = float(np.min(elbo)), float(np.max(elbo))
    pad = 0.05 * (hi - lo) or 1.0
    v.ax_elbo.set_xlim(0, max(k[-1], 1))
    v.ax_elbo.set_ylim(lo - pad, hi + pad)

    v.current_n.set_xdata([state["n"], state["n"]])
    v.threshold_n.set_xdata([result.truth_threshold] * 2)


def sweep_jobs(state: dict, n_points: int = 16, n_starts: int = 200) -> list[dict]:
    """Jobs for the 'Sweep n' task: the basin share over a log grid of n around the current n."""
    top = max(4 * state["n"], 64)
    ns = np.unique(2 * np.round(np.geomspace(4, top, n_points) / 2).astype(int))
    return [{"n": int(n), "p": state["p"], "q": state["q"], "n_starts": n_starts} for n in ns]


def show_sweep(app: App, jobs: list[dict], res: SweepResult) -> None:
    v: _Views = app.views
    ns = [jobs[i]["n"] for i in res.indices]
    share = [r["truth"] for r in res.results]
    v.share_line.set_data(ns, share)
    if ns:
        v.ax_sweep.set_xlim(min(ns) / 1.3, max(ns) * 1.3)
    v.ax_sweep.set_title(f"truth basin share vs n ({res.status.value}, seed {res.seed})")
    app.sweep_result = res


def make_app(*, executor=None, query_string: str | None = None, debug: bool | None = None,
             **overrides) -> App:
    """Build the SBM demo app.

    Parameters
    ----------
    executor : concurrent.futures.Executor, optional
        Where the 'Sweep n' task runs its jobs (serial when None; a dask
        ``Client(...).get_executor()`` for a cluster).
    query_string : str, optional
        URL state (defaults to Voila's ``$QUERY_STRING``).
    **overrides
        Initial control values, e.g. ``make_app(n=500, p=0.4)``.
    """
    import ipywidgets as W

    fig = new_figure(figsize=(10, 5.6))
    views = _Views(fig)
    sweep_button = W.Button(description="Sweep n", icon="play",
                            tooltip="truth basin share over a range of n (runs in the background)")
    app = App(
        title="Stochastic blockmodel: mean-field BCAVI from random starts",
        params=PARAMS, compute=compute, figure=fig, render=render, summary=summary,
        columns=columns, presets=PRESETS, query_string=query_string, debug=debug,
        extra_widgets=[sweep_button], views=views, initial=overrides,
    )
    app.sweep_result = None

    def start_sweep(_button=None) -> None:
        jobs = sweep_jobs(app.state)
        seed = app.state["seed"]
        app.run_task(
            lambda on_progress, cancel: run_sweep(
                sbm.basin_shares_job, jobs, executor=executor, on_progress=on_progress,
                cancel=cancel, seed=seed,
            ),
            lambda res: show_sweep(app, jobs, res),
            label="sweep over n",
        )

    sweep_button.on_click(app._safe(start_sweep))
    app.start_sweep = start_sweep
    return app
