"""SBM mean-field explorer: every critical point, basins, random vs informed starts, known vs
estimated parameters (Mukherjee, Sarkar, Wang & Yan, NeurIPS 2018).

Controls turn into calls of :mod:`explorer.sbm`; results turn into artists. No model math
lives here. Parts that depend on fewer controls (the landscape on (n, p, q), the bifurcation
diagram and success curves on (p, q)) are cached separately, so moving the seed or the
number of starts recomputes only the runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap

from .. import sbm
from .._common import Trajectory
from ._shell import App, ChangeTracker, Param, new_figure

__all__ = ["PARAMS", "PRESETS", "SbmResult", "compute", "make_app", "summary"]

# ---------------------------------------------------------------------------- controls

PARAMS = [
    Param("n", "int", 2000, lo=4, hi=20000, even=True, step=2, label="nodes n",
          help="number of nodes, two equal communities"),
    Param("mode", "choice", "p, q", options=("p, q", "degree, ratio"), label="set by",
          help="give p and q directly, or the average degree and the ratio p/q"),
    Param("p", "float", 0.3, lo=0.001, hi=0.99, step=0.001, label="p (within)",
          help="edge probability inside a community"),
    Param("q", "float", 0.1, lo=0.0005, hi=0.98, step=0.0005, label="q (across)",
          help="edge probability across communities; must be below p"),
    Param("degree", "float", 400.0, lo=1.0, hi=5000.0, step=1.0, label="average degree",
          readout_format=".0f", help="n (p + q) / 2, used when 'set by' is degree, ratio"),
    Param("ratio", "float", 3.0, lo=1.01, hi=50.0, step=0.01, label="ratio p/q",
          help="p / q, used when 'set by' is degree, ratio"),
    Param("parameters", "choice", "known",
          options=("known", "estimated", "misspecified"), label="(p, q) in the updates",
          help="known: the truth; estimated: joint M-step each sweep; misspecified: fixed "
               "p_hat, q_hat"),
    Param("p_hat", "float", 0.2, lo=0.001, hi=0.99, step=0.001, label="p_hat", advanced=True,
          help="p used by misspecified updates"),
    Param("q_hat", "float", 0.05, lo=0.0005, hi=0.98, step=0.0005, label="q_hat",
          advanced=True, help="q used by misspecified updates"),
    Param("init", "choice", "uniform",
          options=("uniform", "bernoulli", "near_centre", "informed", "one_class"),
          label="initialization", help="how psi starts (see the text above the app)"),
    Param("eps", "float", 0.1, lo=0.005, hi=0.5, step=0.005, label="eps", advanced=True,
          help="width of the near-centre start, depth of the one-class start"),
    Param("correlation", "float", 0.2, lo=-1.0, hi=1.0, step=0.01, label="correlation",
          advanced=True, help="informed start: mean agreement of the labels with the truth"),
    Param("schedule", "choice", "batch", options=("batch", "sequential", "damped"),
          label="schedule", help="batch = BCAVI (parallel); sequential = classical CAVI; "
                                 "damped = batch keeping a share of the old psi"),
    Param("damping", "float", 0.5, lo=0.0, hi=0.95, step=0.05, label="damping",
          advanced=True, help="share of the previous psi kept by the damped schedule"),
    Param("starts", "int", 64, lo=1, hi=256, label="random starts",
          help="random starts drawn for the phase plane (population dynamics)"),
    Param("max_iter", "int", 100, lo=5, hi=2000, step=5, label="max sweeps", advanced=True,
          help="BCAVI sweeps before a run is declared unsettled"),
    Param("grid", "int", 101, lo=21, hi=401, step=10, label="basin grid", advanced=True,
          help="points per axis of the basin image"),
    Param("trails", "bool", True, label="show trajectories", recompute=False,
          help="draw each start's path in the phase plane, or only its end"),
]

#: Starts run on the sampled graph (the sampled-graph panels show these, the phase plane all).
SAMPLE_STARTS = 8
#: n values of the bifurcation diagram and the success curves.
N_GRID = np.unique(2 * np.round(np.geomspace(4, 20000, 36) / 2).astype(int))
N_SUCCESS = np.unique(2 * np.round(np.geomspace(20, 20000, 12) / 2).astype(int))
SEMI_INITS = 300
#: Scan points for the mixed fixed points in the bifurcation diagram (a picture, not a census).
BIFURCATION_RESOLUTION = 2001
MC_INITS = 200
#: Live limits: the sampled graph's expected edges, and n for node-by-node (sequential) sweeps.
MAX_EDGES = 4_000_000
MAX_SEQUENTIAL_N = 5000


def _near_bifurcation_n(p=0.3, q=0.1) -> int:
    """The even n just above the birth of the four mixed saddles (for the preset)."""
    return int(2 * np.ceil(sbm.thresholds(p, q)["all_same_stable"] / 2) + 2)


PRESETS = {
    "dense, known parameters": {"n": 2000, "mode": "p, q", "p": 0.3, "q": 0.1,
                                "parameters": "known", "init": "uniform",
                                "schedule": "batch"},
    "joint estimation collapses": {"n": 2000, "mode": "p, q", "p": 0.3, "q": 0.1,
                                   "parameters": "estimated", "init": "uniform",
                                   "schedule": "batch"},
    "near a bifurcation": {"n": _near_bifurcation_n(), "mode": "p, q", "p": 0.3, "q": 0.1,
                           "parameters": "known", "init": "uniform", "schedule": "batch"},
    "p + q > 1 two-cycle": {"n": 2000, "mode": "p, q", "p": 0.8, "q": 0.4,
                            "parameters": "known", "init": "uniform", "schedule": "batch"},
    "sparse graph (average degree ~15) degrades": {
        "n": 4000, "mode": "degree, ratio", "degree": 15.0, "ratio": 4.0,
        "parameters": "known", "init": "uniform", "schedule": "batch", "max_iter": 200},
    "misspecified (p_hat, q_hat) heat map": {
        "n": 2000, "mode": "p, q", "p": 0.3, "q": 0.1, "parameters": "misspecified",
        "p_hat": 0.12, "q_hat": 0.05, "init": "uniform", "schedule": "batch"},
    "informed start, weak signal": {"n": 2000, "mode": "p, q", "p": 0.12, "q": 0.1,
                                    "parameters": "known", "init": "informed",
                                    "correlation": 0.2, "schedule": "batch"},
    "sequential CAVI never lowers the ELBO": {"n": 400, "mode": "p, q", "p": 0.3, "q": 0.1,
                                              "parameters": "known", "init": "uniform",
                                              "schedule": "sequential"},
}

# ---------------------------------------------------------------------------- compute


def model_pq(state: dict) -> tuple[float, float]:
    """(p, q) from the controls: directly, or from the average degree and the ratio."""
    if state["mode"] == "p, q":
        return state["p"], state["q"]
    n, d, r = state["n"], state["degree"], state["ratio"]
    q = 2 * d / (n * (1 + r))
    p = r * q
    if not 0 < q < p < 1:
        raise ValueError(f"average degree {d:g} with ratio {r:g} needs p = {p:.3g} < 1 at "
                         f"n = {n}; lower the degree or raise n")
    return p, q


@dataclass(frozen=True)
class Landscape:
    fixed_points: list
    basins: Any


@dataclass(frozen=True)
class SbmResult:
    """Everything the views show for one state."""

    n: int
    p: float
    q: float
    landscape: Landscape
    bifurcation: dict          # role -> (n, x, kind) arrays; thresholds
    success: dict              # n grid, semianalytic shares, asymptote, or a heat map
    population: Trajectory     # population BCAVI from all starts (block means in extras)
    population_kinds: np.ndarray
    sample: Trajectory         # sampled graph, first SAMPLE_STARTS starts
    sample_accuracy: np.ndarray  # (K, Rs)
    known: Trajectory          # sampled graph, start 0, known (p, q)
    estimated: Trajectory      # sampled graph, start 0, joint updates
    known_accuracy: np.ndarray
    estimated_accuracy: np.ndarray


@functools.lru_cache(maxsize=32)
def _landscape(n: int, p: float, q: float, grid: int) -> Landscape:
    return Landscape(sbm.fixed_points(n, p, q), sbm.basins(n, p, q, grid=grid, max_iter=300))


@functools.lru_cache(maxsize=16)
def _bifurcation(p: float, q: float) -> dict:
    rows = [(int(n), f.x, f.y, f.role, f.kind) for n in N_GRID
            for f in sbm.fixed_points(int(n), p, q, resolution=BIFURCATION_RESOLUTION)
            if f.period == 1]
    ns, xs, ys, roles, kinds = (np.array(c) for c in zip(*rows, strict=True))
    return {"n": ns, "x": xs, "y": ys, "role": roles, "kind": kinds,
            "thresholds": sbm.thresholds(p, q)}


@functools.lru_cache(maxsize=16)
def _success(p: float, q: float, init: str, eps: float) -> dict:
    # A fixed stream: the curve is a property of (p, q, init), not of the app's seed.
    rng = np.random.default_rng(2018)
    semi = np.array([sbm.success_probability(int(n), p, q, init=init, eps=eps,
                                             method="semianalytic", n_inits=SEMI_INITS, rng=rng)
                     for n in N_SUCCESS])
    asym = sbm.success_probability(int(N_SUCCESS[0]), p, q, method="asymptotic")
    return {"n": N_SUCCESS, "semianalytic": semi, "asymptotic": asym}


@functools.lru_cache(maxsize=4)
def _heatmap(p: float, q: float) -> dict:
    grid = np.linspace(0.005, 0.6, 120)
    ph, qh = np.meshgrid(grid, grid)
    return {"p_hat": grid, "q_hat": grid, "share": sbm.misspecified_success(p, q, ph, qh)}


@functools.lru_cache(maxsize=8)
def _graph(n: int, p: float, q: float, seed: int):
    return sbm.sample_graph(n, p, q, rng=np.random.default_rng([seed, 1]))


def _update_kwargs(state: dict, p: float, q: float) -> dict:
    if state["parameters"] == "known":
        return {"p": p, "q": q}
    if state["parameters"] == "estimated":
        return {"estimate": True}
    if not state["q_hat"] < state["p_hat"]:
        raise ValueError(f"q_hat must be below p_hat = {state['p_hat']:g}; "
                         f"got {state['q_hat']:g}")
    return {"p": state["p_hat"], "q": state["q_hat"]}


def compute(state: dict) -> SbmResult:
    """Backend calls for one state (pure; the shell caches whole results by state)."""
    n = state["n"]
    p, q = model_pq(state)
    edges = n * (n - 2) / 4 * p + n * n / 4 * q
    if edges > MAX_EDGES:
        raise ValueError(f"the sampled graph would have about {edges / 1e6:.0f} million edges "
                         f"(live limit {MAX_EDGES / 1e6:.0f} million); lower n, p or the degree")
    if state["schedule"] == "sequential" and n > MAX_SEQUENTIAL_N:
        raise ValueError(f"sequential CAVI updates nodes one at a time; use n <= "
                         f"{MAX_SEQUENTIAL_N} with it, or the batch schedule; got n = {n}")
    starts = sbm.initial_psi(state["init"], n, state["starts"], eps=state["eps"],
                             correlation=state["correlation"],
                             rng=np.random.default_rng([state["seed"], 0]))
    schedule = "sequential" if state["schedule"] == "sequential" else "batch"
    damping = state["damping"] if state["schedule"] == "damped" else 0.0
    upd = _update_kwargs(state, p, q)
    max_iter = state["max_iter"]

    # Phase plane: the population dynamics (expected graph), batch or damped, every start.
    population = sbm.bcavi(sbm.expected_graph(n, p, q), starts, max_iter=max_iter,
                           damping=damping, tol=1e-9, **upd)
    bx, by = population.extras["block_means"][-1]
    kinds = sbm.classify_limits(np.clip(bx, 0, 1), np.clip(by, 0, 1), n=n, p=p, q=q, tol=1e-5)

    A, labels = _graph(n, p, q, state["seed"])
    first = starts[:, :SAMPLE_STARTS]
    sample = sbm.bcavi(A, first, max_iter=max_iter, schedule=schedule, damping=damping, **upd)
    one = starts[:, :1]
    known = sbm.bcavi(A, one, p=p, q=q, max_iter=max_iter)
    estimated = sbm.bcavi(A, one, estimate=True, max_iter=max_iter)

    if state["parameters"] == "misspecified":
        success = {"heatmap": _heatmap(p, q)}
    else:
        init = state["init"] if state["init"] in sbm.INITS else "uniform"
        success = _success(p, q, init, state["eps"])
    return SbmResult(
        n=n, p=p, q=q,
        landscape=_landscape(n, p, q, state["grid"]),
        bifurcation=_bifurcation(p, q),
        success=success,
        population=population,
        population_kinds=kinds,
        sample=sample,
        sample_accuracy=np.array([sbm.accuracy(it, labels) for it in sample.iterates]),
        known=known,
        estimated=estimated,
        known_accuracy=np.array([sbm.accuracy(it, labels) for it in known.iterates])[:, 0],
        estimated_accuracy=np.array([sbm.accuracy(it, labels)
                                     for it in estimated.iterates])[:, 0],
    )


def summary(result: SbmResult, state: dict) -> str:
    """The status line."""
    r = result
    degree = r.n * (r.p + r.q) / 2
    counts = {k: int(np.sum(r.population_kinds == k)) for k in sbm.LIMIT_KINDS}
    went = ", ".join(f"{c} {k.replace('_', '-')}" for k, c in counts.items() if c)
    acc = r.sample_accuracy[-1]
    collapsed = bool(np.max(np.abs(r.estimated.final - 0.5)) < 1e-6)
    return (
        f"n={r.n}, p={r.p:.4g}, q={r.q:.4g} (degree {degree:.3g}, p/q {r.p / r.q:.3g}): "
        f"{len(r.landscape.fixed_points)} fixed points; population starts: {went}; "
        f"sampled graph: mean accuracy {np.mean(acc):.2f} after "
        f"{int(r.sample.times[-1])} sweeps ({r.sample.status.value}); "
        f"joint estimation from the same start: "
        f"{'collapsed to psi = 1/2' if collapsed else 'escaped'}"
    )


def columns(result: SbmResult) -> dict[str, np.ndarray]:
    bm = result.population.extras["block_means"]
    return {
        "start_x": bm[0, 0], "start_y": bm[0, 1], "final_x": bm[-1, 0], "final_y": bm[-1, 1],
        "limit": result.population_kinds,
        "fixed_point_x": np.array([f.x for f in result.landscape.fixed_points]),
        "fixed_point_y": np.array([f.y for f in result.landscape.fixed_points]),
        "fixed_point_role": np.array([f.role for f in result.landscape.fixed_points]),
        "fixed_point_kind": np.array([f.kind for f in result.landscape.fixed_points]),
        "sample_sweep": result.sample.times,
        "sample_mean_accuracy": result.sample_accuracy.mean(axis=1),
        "sample_mean_elbo": result.sample.objective.mean(axis=1),
    }


# ---------------------------------------------------------------------------- views

KIND_COLOURS = {"truth": "#a6dba0", "all_same": "#fdb863", "centre": "#bdbdbd",
                "mixed": "#c2a5cf", "cycle": "#92c5de", "undecided": "#ffffff"}
STABILITY_COLOURS = {"sink": "#1b7837", "saddle": "#e08214", "source": "#b2182b"}
ROLE_MARKERS = {"centre": "o", "truth": "^", "all_same": "s", "mixed": "D", "cycle": "*"}
_KIND_CODE = {k: i for i, k in enumerate(sbm.LIMIT_KINDS)}
_CMAP = ListedColormap([KIND_COLOURS[k] for k in sbm.LIMIT_KINDS])


class _Views(ChangeTracker):
    """One figure per linked view, built once; ``render`` only moves artists."""

    def __init__(self):
        small = (4.2, 2.7)
        self.figs = {
            "phase": new_figure(figsize=(4.6, 5.4)),
            "elbo": new_figure(figsize=small),
            "accuracy": new_figure(figsize=small),
            "bifurcation": new_figure(figsize=small),
            "success": new_figure(figsize=small),
        }
        super().__init__()
        f = self.figs
        self.ax_phase = f["phase"].add_axes((0.14, 0.3, 0.8, 0.64))
        self.ax_elbo = f["elbo"].add_axes((0.2, 0.2, 0.75, 0.68))
        self.ax_acc = f["accuracy"].add_axes((0.15, 0.2, 0.8, 0.68))
        self.ax_bif = f["bifurcation"].add_axes((0.15, 0.2, 0.8, 0.68))
        self.ax_succ = f["success"].add_axes((0.15, 0.2, 0.8, 0.68))

        ax = self.ax_phase
        self.image = ax.imshow(np.zeros((2, 2)), origin="lower", extent=(0, 1, 0, 1),
                               cmap=_CMAP, vmin=-0.5, vmax=len(sbm.LIMIT_KINDS) - 0.5,
                               interpolation="nearest")
        (self.separatrix,) = ax.plot([], [], ".", ms=1.2, c="k", label="separatrix")
        self.trails = LineCollection([], colors="k", linewidths=0.5, alpha=0.5)
        ax.add_collection(self.trails)
        self.starts = ax.scatter([], [], s=8, c="k", zorder=3, label="start")
        self.fixed = {role: ax.scatter([], [], s=70, marker=mk, zorder=5, edgecolors="k",
                                       linewidths=0.8, label=role.replace("_", "-"))
                      for role, mk in ROLE_MARKERS.items()}
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="x: mean of ψ on block 1",
               ylabel="y: mean of ψ on block 2", title="(1) population phase plane")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, fontsize="x-small",
                  frameon=False, markerscale=0.7)

        self.elbo = LineCollection([], colors="tab:blue", linewidths=0.8)
        self.ax_elbo.add_collection(self.elbo)
        self.ax_elbo.set(xlabel="sweep", ylabel="(ELBO − final) / n", title="(2) ELBO per sweep")

        self.acc = LineCollection([], colors="tab:blue", linewidths=0.6, alpha=0.5)
        self.ax_acc.add_collection(self.acc)
        (self.acc_known,) = self.ax_acc.plot([], [], "-o", ms=3, c="tab:green",
                                             label="start 1, known (p, q)")
        (self.acc_est,) = self.ax_acc.plot([], [], "--s", ms=3, c="tab:red",
                                           label="start 1, estimated (p, q)")
        self.ax_acc.set(xlabel="sweep", ylabel="accuracy", ylim=(0.45, 1.02),
                        title="(3) sampled graph  (6) known vs estimated")
        self.ax_acc.legend(fontsize="x-small", loc="lower right")

        self.bif = {kind: self.ax_bif.scatter([], [], s=9, c=col, label=kind)
                    for kind, col in STABILITY_COLOURS.items()}
        self.bif_n = self.ax_bif.axvline(1, c="k", lw=1.2)
        self.bif_thr = [self.ax_bif.axvline(1, c="grey", ls=":", lw=0.8) for _ in range(3)]
        self.ax_bif.set(xscale="log", xlim=(N_GRID[0], N_GRID[-1]), ylim=(-0.05, 1.05),
                        xlabel="n", ylabel="x of each fixed point", title="(4) bifurcations in n")
        self.ax_bif.legend(fontsize="x-small", loc="center right")

        (self.semi,) = self.ax_succ.plot([], [], "-", c="tab:purple", label="semi-analytic")
        self.asym = self.ax_succ.axhline(0.5, c="k", ls="--", lw=0.8, label="asymptotic")
        (self.mc,) = self.ax_succ.plot([], [], "o", ms=4, c="tab:orange",
                                       label="Monte Carlo (Run)")
        self.succ_n = self.ax_succ.axvline(1, c="k", lw=1.2)
        self.heat = self.ax_succ.imshow(np.full((2, 2), np.nan), origin="lower", cmap="viridis",
                                        vmin=0, vmax=1, extent=(0, 1, 0, 1), aspect="auto",
                                        visible=False)
        (self.heat_marks,) = self.ax_succ.plot([], [], "w+", ms=10, mew=2)
        self.ax_succ.legend(fontsize="x-small", loc="lower right")


def layout(widgets: dict):
    import ipywidgets as W

    # Two columns: the phase plane beside the sampled-graph views, the n-views below.
    return W.GridBox([widgets["phase"], W.VBox([widgets["elbo"], widgets["accuracy"]]),
                      widgets["bifurcation"], widgets["success"]],
                     layout={"grid_template_columns": "auto auto", "grid_gap": "4px 12px",
                             "justify_content": "flex-start"})


def render(app: App, result: SbmResult, state: dict) -> list[str]:
    """Move the artists of every view whose inputs changed; return those views' names."""
    v: _Views = app.views
    r = result
    changed = []
    if v.changed("phase", (r.landscape, r.population, state["trails"])):
        changed.append("phase")
        land = r.landscape
        v.image.set_data(np.vectorize(_KIND_CODE.__getitem__, otypes=[int])(land.basins.kind))
        v.separatrix.set_data(land.basins.separatrix[:, 0], land.basins.separatrix[:, 1])
        for role, artist in v.fixed.items():
            pts = [f for f in land.fixed_points if f.role == role]
            artist.set_offsets(np.array([[f.x, f.y] for f in pts]).reshape(-1, 2))
            artist.set_facecolors([STABILITY_COLOURS[f.kind] for f in pts] or "none")
        bm = r.population.extras["block_means"]  # (K, 2, R)
        v.trails.set_segments(list(np.transpose(bm, (2, 0, 1))) if state["trails"] else [])
        v.starts.set_offsets(bm[0].T)

    if v.changed("sample", (r.sample, r.known, r.estimated)):
        changed += ["elbo", "accuracy"]
        elbo = r.sample.objective - r.sample.objective[-1]
        k = r.sample.times
        elbo = elbo / r.n   # per node: readable tick labels at any n
        v.elbo.set_segments([np.column_stack([k, elbo[:, j]]) for j in range(elbo.shape[1])])
        drops = int(np.sum(np.any(np.diff(r.sample.objective, axis=0) < -1e-9, axis=0)))
        lo, hi = float(np.min(elbo)), float(np.max(elbo))
        pad = 0.05 * (hi - lo) or 1.0
        v.ax_elbo.set_xlim(0, max(k[-1], 1))
        v.ax_elbo.set_ylim(lo - pad, hi + pad)
        v.ax_elbo.set_title(
            f"(2) ELBO, {state['schedule']}: {drops} of {elbo.shape[1]} runs go down")
        v.acc.set_segments([np.column_stack([k, r.sample_accuracy[:, j]])
                            for j in range(r.sample_accuracy.shape[1])])
        v.acc_known.set_data(r.known.times, r.known_accuracy)
        v.acc_est.set_data(r.estimated.times, r.estimated_accuracy)
        v.ax_acc.set_xlim(0, max(k[-1], r.known.times[-1], r.estimated.times[-1], 1))

    b = r.bifurcation
    if v.changed("bifurcation", (b, r.n)):
        changed.append("bifurcation")
        for kind, artist in v.bif.items():
            sel = b["kind"] == kind
            artist.set_offsets(np.column_stack([b["n"][sel], b["x"][sel]]))
        v.bif_n.set_xdata([r.n, r.n])
        for line, key in zip(v.bif_thr, ("truth", "all_same", "all_same_stable"), strict=True):
            value = b["thresholds"][key]
            line.set_xdata([value, value])
            line.set_visible(bool(np.isfinite(value)))

    s = r.success
    mc = app.mc_result if app.mc_result and app.mc_result[0] == (r.p, r.q) else None
    if v.changed("success", (s, r.n, mc, state["p_hat"], state["q_hat"])):
        changed.append("success")
        heat = "heatmap" in s
        for artist in (v.semi, v.asym, v.mc, v.succ_n):
            artist.set_visible(not heat)
        v.heat.set_visible(heat)
        v.heat_marks.set_visible(heat)
        if heat:
            h = s["heatmap"]
            v.heat.set_data(h["share"])
            v.heat.set_extent((h["p_hat"][0], h["p_hat"][-1], h["q_hat"][0], h["q_hat"][-1]))
            v.heat_marks.set_data([r.p, state["p_hat"]], [r.q, state["q_hat"]])
            v.ax_succ.set(xscale="linear", xlim=(h["p_hat"][0], h["p_hat"][-1]),
                          ylim=(h["q_hat"][0], h["q_hat"][-1]), xlabel="p_hat",
                          ylabel="q_hat", title="(5) asymptotic success, fixed (p_hat, q_hat)")
        else:
            v.semi.set_data(s["n"], s["semianalytic"])
            v.asym.set_ydata([s["asymptotic"]] * 2)
            v.succ_n.set_xdata([r.n, r.n])
            v.mc.set_data(*(mc[1] if mc else ([], [])))
            v.ax_succ.set(xscale="log", xlim=(s["n"][0] / 1.3, s["n"][-1] * 1.3),
                          ylim=(0.45, 1.02), xlabel="n", ylabel="share reaching truth",
                          title="(5) success of random starts")
    return changed


# ---------------------------------------------------------------------------- the app


def make_app(*, executor=None, query_string: str | None = None, debug: bool | None = None,
             **overrides) -> App:
    """Build the SBM explorer.

    Parameters
    ----------
    executor : concurrent.futures.Executor, optional
        Where the Monte Carlo task runs (serial when None; a dask ``Client(...).get_executor()``
        for a cluster).
    query_string : str, optional
        URL state (defaults to Voila's ``$QUERY_STRING``).
    **overrides
        Initial control values, e.g. ``make_app(n=500, p=0.4)``.
    """
    import ipywidgets as W

    views = _Views()
    run_mc = W.Button(description="Run Monte Carlo", icon="play",
                      tooltip=f"{MC_INITS} random starts per n, n-dimensional population "
                              "dynamics (background task)")
    app = App(
        title="Stochastic blockmodel: mean-field BCAVI",
        params=PARAMS, compute=compute, figure=views.figs, render=render, summary=summary,
        columns=columns, presets=PRESETS, query_string=query_string, debug=debug,
        extra_widgets=[run_mc], views=views, initial=overrides, defer_first=True,
        figure_layout=layout,
    )
    app.mc_result = None
    app.start()

    def start_monte_carlo(_button=None) -> None:
        state = app.state
        p, q = model_pq(state)
        init = state["init"] if state["init"] in sbm.INITS else "uniform"
        ns = [int(n) for n in N_SUCCESS if n <= 4 * max(state["n"], 500)]

        def work(on_progress, cancel):
            shares = []
            for i, n in enumerate(ns):
                if cancel.is_set():
                    break
                shares.append(sbm.success_probability(
                    n, p, q, init=init, eps=state["eps"], n_inits=MC_INITS,
                    rng=np.random.default_rng([state["seed"], 3, n]), executor=executor,
                    cancel=cancel))
                on_progress(i + 1, len(ns))
            return (p, q), (ns[:len(shares)], shares)

        def done(value):
            app.mc_result = value

        app.run_task(work, done, label="Monte Carlo")

    run_mc.on_click(app._safe(start_monte_carlo))
    app.start_monte_carlo = start_monte_carlo
    return app
