"""SBM mean-field explorer: every critical point, basins, random vs informed starts, known vs
estimated parameters (Mukherjee, Sarkar, Wang & Yan, NeurIPS 2018).

Declarations plus drawing code: controls (``PARAMS``), compute stages that call
:mod:`explorer.sbm` (each named by what it reads, so the shell recomputes only what a change
touches: the landscape on (n, p, q, grid), the bifurcation diagram on (p, q), the runs on the
starts), the views, and the Monte Carlo task.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba_array

from .. import sbm
from ..tours import tours_for
from ._shell import App, Param, Stage, Task, View, steady_limits

__all__ = ["PARAMS", "PRESETS", "STAGES", "TASKS", "VIEWS", "make_app", "summary"]

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
          options=("known", "estimated", "misspecified"), label="(p, q) used",
          help="known: the truth; estimated: joint M-step each sweep; misspecified: fixed "
               "p_hat, q_hat"),
    Param("gap", "float", 0.0, lo=0.0, hi=0.95, step=0.01, label="first-sweep gap g",
          help="estimated (p, q): the first sweep uses p_hat = rho (1 + g), q_hat = rho (1 - g) "
               "around the edge density rho, then M-steps; 0: an M-step comes first"),
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
    Param("placed", "bool", False, label="clicked start", advanced=True,
          help="a start placed by clicking the phase plane (x0, y0 below)"),
    Param("x0", "float", 0.5, lo=0.0, hi=1.0, step=0.001, label="x0", advanced=True,
          help="clicked start: block-1 mean of psi"),
    Param("y0", "float", 0.5, lo=0.0, hi=1.0, step=0.001, label="y0", advanced=True,
          help="clicked start: block-2 mean of psi"),
    Param("trails", "bool", True, label="show trajectories",
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
#: The escape scan: first-sweep gaps, and random starts per gap (the same at every gap).
ESCAPE_GAPS = np.round(np.linspace(0.0, 0.9, 19), 3)
ESCAPE_STARTS = 32
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
    "joint estimation from a first-sweep guess": {
        "n": 2000, "mode": "p, q", "p": 0.3, "q": 0.1, "parameters": "estimated", "gap": 0.5,
        "init": "uniform", "schedule": "batch"},
    "sequential CAVI never lowers the ELBO": {"n": 400, "mode": "p, q", "p": 0.3, "q": 0.1,
                                              "parameters": "known", "init": "uniform",
                                              "schedule": "sequential"},
}

# ---------------------------------------------------------------------------- stages


def pq(mode, p, q, n, degree, ratio) -> tuple[float, float]:
    """(p, q) from the controls: directly, or from the average degree and the ratio p/q."""
    return (p, q) if mode == "p, q" else sbm.pq_from_degree(n, degree, ratio)


def live_limits(n, pq, schedule) -> None:
    """Refuse settings too heavy for a live slider (a message says what to lower)."""
    edges = sbm.expected_edges(n, *pq)
    if edges > MAX_EDGES:
        raise ValueError(f"the sampled graph would have about {edges / 1e6:.0f} million edges "
                         f"(live limit {MAX_EDGES / 1e6:.0f} million); lower n, p or the degree")
    if schedule == "sequential" and n > MAX_SEQUENTIAL_N:
        raise ValueError(f"sequential CAVI updates nodes one at a time; use n <= "
                         f"{MAX_SEQUENTIAL_N} with it, or the batch schedule; got n = {n}")


def psi0(init, n, starts, eps, correlation, seed) -> np.ndarray:
    """The random starts, (n, starts); the first one is also the sampled-graph start."""
    return sbm.initial_psi(init, n, starts, eps=eps, correlation=correlation,
                           rng=np.random.default_rng([seed, 0]))


def guess(n, pq, gap):
    """The first sweep's (p_hat, q_hat) of joint estimation, or None (an M-step comes first)."""
    if gap == 0:
        return None
    p_hat, q_hat = sbm.first_sweep_guess(gap, sbm.expected_density(n, *pq))
    return float(p_hat), float(q_hat)


def updates(parameters, pq, p_hat, q_hat, guess) -> dict:
    """Keyword arguments of ``sbm.bcavi`` for known, estimated or misspecified (p, q)."""
    if parameters == "known":
        return {"p": pq[0], "q": pq[1]}
    if parameters == "estimated":
        first = {} if guess is None else {"p": guess[0], "q": guess[1]}
        return {"estimate": True, **first}
    if not q_hat < p_hat:
        raise ValueError(f"q_hat must be below p_hat = {p_hat:g}; got {q_hat:g}")
    return {"p": p_hat, "q": q_hat}


def clicked(placed, x0, y0, n, pq, max_iter):
    """The population trajectory from the start placed on the phase plane (None if none)."""
    if not placed:
        return None
    return sbm.population_run(x0, y0, n=n, p=pq[0], q=pq[1], max_iter=max_iter)


def landscape(n, pq, grid) -> SimpleNamespace:
    """Every fixed point of the population map and the basins on a grid."""
    return SimpleNamespace(fixed_points=sbm.fixed_points(n, *pq),
                           basins=sbm.basins(n, *pq, grid=grid, max_iter=300,
                                             separatrix_tol=1e-6))


def bifurcation(pq) -> dict:
    """Each period-1 fixed point's x over the n grid, its kind, and the thresholds."""
    return sbm.bifurcation_diagram(*pq, N_GRID, resolution=BIFURCATION_RESOLUTION)


def success(pq, init, eps, parameters) -> dict:
    """Share of random starts reaching the truth against n, or the misspecified heat map."""
    if parameters == "misspecified":
        grid = np.linspace(0.005, 0.6, 120)
        ph, qh = np.meshgrid(grid, grid)
        return {"heatmap": {"p_hat": grid, "q_hat": grid,
                            "share": sbm.misspecified_success(*pq, ph, qh)}}
    init = init if init in sbm.INITS else "uniform"
    # A fixed stream: the curve is a property of (p, q, init), not of the app's seed.
    rng = np.random.default_rng(2018)
    semi = sbm.success_curve(N_SUCCESS, *pq, init=init, eps=eps, n_inits=SEMI_INITS, rng=rng)
    asym = sbm.success_probability(int(N_SUCCESS[0]), *pq, method="asymptotic")
    return {"n": N_SUCCESS, "semianalytic": semi, "asymptotic": asym}


def population(n, pq, psi0, updates, parameters, schedule, damping, max_iter,
               live_limits):
    """Population BCAVI (expected graph) from every start, and the limit each reached."""
    damping = damping if schedule == "damped" else 0.0
    run = sbm.bcavi(sbm.expected_graph(n, *pq), psi0, max_iter=max_iter, damping=damping,
                    tol=1e-9, elbo=False, **updates)
    bx, by = run.extras["block_means"][-1]
    # Classified under the map these runs iterate: misspecified (p_hat, q_hat) or joint.
    the_map = {"estimated": {"joint": True},
               "misspecified": {"p_hat": updates.get("p"), "q_hat": updates.get("q")}
               }.get(parameters, {})
    kinds = sbm.classify_limits(np.clip(bx, 0, 1), np.clip(by, 0, 1), n=n, p=pq[0], q=pq[1],
                                tol=1e-5, **the_map)
    return SimpleNamespace(run=run, kinds=kinds)


def graph(n, pq, seed, live_limits):
    """A sampled graph and its community labels."""
    return sbm.sample_graph(n, *pq, rng=np.random.default_rng([seed, 1]))


def sample(graph, psi0, updates, schedule, damping, max_iter):
    """BCAVI on the sampled graph from the first starts, with accuracy per sweep."""
    A, labels = graph
    run = sbm.bcavi(A, psi0[:, :SAMPLE_STARTS], max_iter=max_iter,
                    schedule="sequential" if schedule == "sequential" else "batch",
                    damping=damping if schedule == "damped" else 0.0, **updates)
    return SimpleNamespace(run=run, accuracy=np.array([sbm.accuracy(it, labels)
                                                       for it in run.iterates]))


def known_vs_estimated(graph, pq, psi0, max_iter, guess):
    """The first start on the sampled graph with known (p, q) and with joint estimation
    (from the first-sweep guess when there is one)."""
    A, labels = graph
    one = psi0[:, :1]
    known = sbm.bcavi(A, one, p=pq[0], q=pq[1], max_iter=max_iter, elbo=False)
    first = {} if guess is None else {"p": guess[0], "q": guess[1]}
    estimated = sbm.bcavi(A, one, estimate=True, max_iter=max_iter, elbo=False, **first)
    acc = [np.array([sbm.accuracy(it, labels) for it in r.iterates])[:, 0]
           for r in (known, estimated)]
    return SimpleNamespace(known=known, estimated=estimated, known_accuracy=acc[0],
                           estimated_accuracy=acc[1])


STAGES = [Stage(f) for f in (pq, live_limits, psi0, guess, updates, clicked, landscape, bifurcation,
                             success, population, graph, sample, known_vs_estimated)]


def monte_carlo(ctx, pq, init, eps, n, seed):
    """Background task: n-dimensional Monte Carlo of the success share at each n of the grid."""
    init = init if init in sbm.INITS else "uniform"
    ns = [int(m) for m in N_SUCCESS if m <= 4 * max(n, 500)]
    shares = []
    for i, m in enumerate(ns):
        if ctx.cancel.is_set():
            break
        shares.append(sbm.success_probability(
            m, *pq, init=init, eps=eps, n_inits=MC_INITS,
            rng=np.random.default_rng([seed, 3, m]), executor=ctx.executor, cancel=ctx.cancel))
        ctx.progress(i + 1, len(ns))
        ctx.emit({"n": np.array(ns[:len(shares)]), "share": np.array(shares)})
    return {"n": np.array(ns[:len(shares)]), "share": np.array(shares)}


def escape_scan(ctx, n, pq, init, seed, live_limits):
    """Background task: the share of random starts that escape the joint-estimation collapse
    against the first-sweep gap, on the expected graph and then on a sampled graph."""
    init = init if init in sbm.INITS else "uniform"
    out = {}
    for k, dynamics in enumerate(sbm.DYNAMICS):
        if ctx.cancel.is_set():
            break
        r = sbm.escape_share(n, *pq, ESCAPE_GAPS, dynamics=dynamics, init=init,
                             starts=ESCAPE_STARTS, rng=np.random.default_rng([seed, 4, k]),
                             cancel=ctx.cancel,
                             on_progress=lambda d, t, k=k: ctx.progress(k * t + d, 2 * t))
        out[dynamics] = r
        ctx.emit(dict(out))
    return out


def _escape_columns(value) -> dict:
    return {f"{d}_{key}": value[d][key] for d in value for key in ("gap", "truth", "collapsed")}


TASKS = [Task("monte_carlo", monte_carlo, button="Run Monte Carlo",
              help=f"{MC_INITS} random starts per n, n-dimensional population dynamics",
              columns=lambda v: {"n": v["n"], "share": v["share"]}),
         Task("escape_scan", escape_scan, button="Run escape scan",
              help=f"{ESCAPE_STARTS} random starts at each of {ESCAPE_GAPS.size} first-sweep "
                   f"gaps, joint (p, q) estimation on the expected and a sampled graph",
              columns=_escape_columns)]


def summary(pq, n, landscape, population, sample, known_vs_estimated, guess) -> str:
    """The status line."""
    p, q = pq
    counts = {k: int(np.sum(population.kinds == k)) for k in sbm.LIMIT_KINDS}
    went = ", ".join(f"{c} {k.replace('_', '-')}" for k, c in counts.items() if c)
    collapsed = bool(np.max(np.abs(known_vs_estimated.estimated.final - 0.5)) < 1e-6)
    return (
        f"n={n}, p={p:.4g}, q={q:.4g} (degree {n * (p + q) / 2:.3g}, p/q {p / q:.3g}): "
        f"{len(landscape.fixed_points)} fixed points; population starts: {went}; "
        f"sampled graph: mean accuracy {np.mean(sample.accuracy[-1]):.2f} after "
        f"{int(sample.run.times[-1])} sweeps ({sample.run.status.value}); "
        f"joint estimation from the same start"
        f"{'' if guess is None else f' (first sweep p_hat={guess[0]:.3g}, q_hat={guess[1]:.3g})'}: "
        f"{'collapsed to psi = 1/2' if collapsed else 'escaped'}"
    )


def columns(population, landscape, sample) -> dict[str, np.ndarray]:
    bm = population.run.extras["block_means"]
    fps = landscape.fixed_points
    return {
        "start_x": bm[0, 0], "start_y": bm[0, 1], "final_x": bm[-1, 0], "final_y": bm[-1, 1],
        "limit": population.kinds,
        "fixed_point_x": np.array([f.x for f in fps]),
        "fixed_point_y": np.array([f.y for f in fps]),
        "fixed_point_role": np.array([f.role for f in fps]),
        "fixed_point_kind": np.array([f.kind for f in fps]),
        "sample_sweep": sample.run.times,
        "sample_mean_accuracy": sample.accuracy.mean(axis=1),
        "sample_mean_elbo": sample.run.objective.mean(axis=1),
    }


# ---------------------------------------------------------------------------- views

KIND_COLOURS = {"truth": "#a6dba0", "all_same": "#fdb863", "centre": "#bdbdbd",
                "mixed": "#c2a5cf", "cycle": "#92c5de", "undecided": "#ffffff"}
STABILITY_COLOURS = {"sink": "#1b7837", "saddle": "#e08214", "source": "#b2182b"}
ROLE_MARKERS = {"centre": "o", "truth": "^", "all_same": "s", "mixed": "D", "cycle": "*"}
#: Each limit kind's colour as RGBA bytes: the basin image is given colours, not codes, so
#: drawing it skips matplotlib's normalise-and-colour-map pass (5x cheaper to render).
_KIND_RGBA = np.round(255 * to_rgba_array([KIND_COLOURS[k] for k in sbm.LIMIT_KINDS])
                      ).astype(np.uint8)


def _kind_colours(kind: np.ndarray) -> np.ndarray:
    """RGBA image (ny, nx, 4) of a grid of limit kinds (one comparison per kind)."""
    codes = np.zeros(kind.shape, dtype=np.intp)
    for i, k in enumerate(sbm.LIMIT_KINDS[1:], start=1):
        codes[kind == k] = i
    return _KIND_RGBA[codes]


def build_phase(fig):
    a = SimpleNamespace(ax=fig.add_subplot())
    ax = a.ax
    a.image = ax.imshow(np.zeros((2, 2, 4), np.uint8), origin="lower", extent=(0, 1, 0, 1),
                        interpolation="nearest")
    (a.separatrix,) = ax.plot([], [], ".", ms=1.2, c="k", label="separatrix")
    a.trails = LineCollection([], colors="k", linewidths=0.5, alpha=0.5)
    ax.add_collection(a.trails)
    # Markers of one colour are Line2D markers, not scatter: matplotlib measures a scatter's
    # marker path (in Python) on every draw, 0.7 ms each, which a slider change pays.
    (a.starts,) = ax.plot([], [], "o", ms=2.8, c="k", ls="", zorder=3, label="start")
    (a.clicked,) = ax.plot([], [], "-o", c="tab:red", lw=1.8, ms=3, zorder=6,
                           label="clicked start")
    a.fixed = {role: ax.scatter([], [], s=70, marker=mk, zorder=5, edgecolors="k",
                                linewidths=0.8, label=role.replace("_", "-"))
               for role, mk in ROLE_MARKERS.items()}
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="x: mean of ψ on block 1",
           ylabel="y: mean of ψ on block 2", title="(1) population phase plane")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, fontsize="x-small",
              frameon=False, markerscale=0.7)
    return a


def draw_phase(a, landscape, population, trails, clicked, parameters):
    a.image.set_data(_kind_colours(landscape.basins.kind))
    a.separatrix.set_data(landscape.basins.separatrix[:, 0], landscape.basins.separatrix[:, 1])
    for role, artist in a.fixed.items():
        pts = [f for f in landscape.fixed_points if f.role == role]
        artist.set_offsets(np.array([[f.x, f.y] for f in pts]).reshape(-1, 2))
        artist.set_facecolors([STABILITY_COLOURS[f.kind] for f in pts] or "none")
    bm = population.run.extras["block_means"]  # (K, 2, R)
    a.trails.set_segments(list(np.transpose(bm, (2, 0, 1))) if trails else [])
    a.starts.set_data(bm[0][0], bm[0][1])
    path = clicked.iterates[:, 0, :] if clicked is not None else np.empty((0, 2))
    a.clicked.set_data(path[:, 0], path[:, 1])
    # The basins and fixed points are those of the known-(p, q) map; say so when the runs
    # iterate another one.
    a.ax.set_title("(1) population phase plane" if parameters == "known" else
                   f"(1) basins: known (p, q); runs: {parameters}")


def press_phase(a, ax, x, y) -> dict:
    """A click on the phase plane starts the (known-parameter) population map there."""
    if ax is not a.ax:
        return {}
    return {"placed": True, "x0": round(min(max(x, 0.0), 1.0), 3),
            "y0": round(min(max(y, 0.0), 1.0), 3)}


def build_elbo(fig):
    a = SimpleNamespace(ax=fig.add_subplot())
    a.lines = LineCollection([], colors="tab:blue", linewidths=0.8)
    a.ax.add_collection(a.lines)
    a.ax.set(xlabel="sweep", ylabel="(ELBO − final) / n", title="(2) ELBO per sweep")
    # The count changes with the data, so it is drawn with it: in the title it would make
    # every slider step a full redraw of the figure instead of a redraw of its data.
    a.drops = a.ax.text(0.98, 0.04, "", transform=a.ax.transAxes, ha="right", va="bottom",
                        fontsize="small")
    return a


def steady_x(ax, last) -> tuple[float, float]:
    """Sweep axis 0 .. a round number at or above last, kept while the runs use more than
    a quarter of it: runs that take 6, 9 or 17 sweeps share the axis 0 .. 20 (a p slider
    moves the run lengths back and forth, and each new axis costs a redraw of the frame)."""
    hi = ax.get_xlim()[1]
    if last <= hi <= 4 * max(last, 1):
        return 0, hi
    top = max(float(last), 1.0)
    decade = 10.0 ** np.floor(np.log10(top))
    return 0, next(float(f * decade) for f in (1, 2, 5, 10) if f * decade >= top)


def draw_elbo(a, sample, n, schedule):
    run = sample.run
    k = run.times
    elbo = (run.objective - run.objective[-1]) / n   # per node: readable ticks at any n
    a.lines.set_segments([np.column_stack([k, elbo[:, j]]) for j in range(elbo.shape[1])])
    drops = int(np.sum(np.any(np.diff(run.objective, axis=0) < -1e-9, axis=0)))
    a.ax.set_xlim(steady_x(a.ax, k[-1]))
    a.ax.set_ylim(steady_limits(float(np.min(elbo)), float(np.max(elbo)), a.ax.get_ylim()))
    a.ax.set_title(f"(2) ELBO per sweep, {schedule}")
    a.drops.set_text(f"{drops} of {elbo.shape[1]} runs go down")


def build_accuracy(fig):
    a = SimpleNamespace(ax=fig.add_subplot())
    a.runs = LineCollection([], colors="tab:blue", linewidths=0.6, alpha=0.5)
    a.ax.add_collection(a.runs)
    (a.known,) = a.ax.plot([], [], "-o", ms=3, c="tab:green", label="start 1, known (p, q)")
    (a.estimated,) = a.ax.plot([], [], "--s", ms=3, c="tab:red",
                               label="start 1, estimated (p, q)")
    a.ax.set(xlabel="sweep", ylabel="accuracy", ylim=(0.45, 1.02),
             title="(3) sampled graph  (6) known vs estimated")
    a.ax.legend(fontsize="x-small", loc="lower right")
    return a


def draw_accuracy(a, sample, known_vs_estimated):
    k, acc, ke = sample.run.times, sample.accuracy, known_vs_estimated
    a.runs.set_segments([np.column_stack([k, acc[:, j]]) for j in range(acc.shape[1])])
    a.known.set_data(ke.known.times, ke.known_accuracy)
    a.estimated.set_data(ke.estimated.times, ke.estimated_accuracy)
    a.ax.set_xlim(steady_x(a.ax, max(k[-1], ke.known.times[-1], ke.estimated.times[-1])))


def build_bifurcation(fig):
    a = SimpleNamespace(ax=fig.add_subplot())
    a.points = {kind: a.ax.plot([], [], "o", ms=3, c=col, ls="", label=kind)[0]
                for kind, col in STABILITY_COLOURS.items()}
    a.n = a.ax.axvline(1, c="k", lw=1.2)
    a.thresholds = [a.ax.axvline(1, c="grey", ls=":", lw=0.8) for _ in range(3)]
    a.ax.set(xscale="log", xlim=(N_GRID[0], N_GRID[-1]), ylim=(-0.05, 1.05), xlabel="n",
             ylabel="x of each fixed point", title="(4) bifurcations in n")
    a.ax.legend(fontsize="x-small", loc="center right")
    return a


def draw_bifurcation(a, bifurcation, n):
    b = bifurcation
    for kind, artist in a.points.items():
        sel = b["kind"] == kind
        artist.set_data(b["n"][sel], b["x"][sel])
    a.n.set_xdata([n, n])
    for line, key in zip(a.thresholds, ("truth", "all_same", "all_same_stable"), strict=True):
        value = b["thresholds"][key]
        line.set_xdata([value, value])
        line.set_visible(bool(np.isfinite(value)))


def build_success(fig):
    a = SimpleNamespace(ax=fig.add_subplot())
    ax = a.ax
    (a.semi,) = ax.plot([], [], "-", c="tab:purple", label="semi-analytic")
    a.asym = ax.axhline(0.5, c="k", ls="--", lw=0.8, label="asymptotic")
    (a.mc,) = ax.plot([], [], "o", ms=4, c="tab:orange", label="Monte Carlo (Run)")
    a.n = ax.axvline(1, c="k", lw=1.2)
    a.heat = ax.imshow(np.full((2, 2), np.nan), origin="lower", cmap="viridis", vmin=0, vmax=1,
                       extent=(0, 1, 0, 1), aspect="auto", visible=False)
    (a.heat_marks,) = ax.plot([], [], "w+", ms=10, mew=2)
    ax.legend(fontsize="x-small", loc="lower right")
    return a


def draw_success(a, success, n, pq, p_hat, q_hat, monte_carlo, init):
    heat = "heatmap" in success
    for artist in (a.semi, a.asym, a.mc, a.n):
        artist.set_visible(not heat)
    a.heat.set_visible(heat)
    a.heat_marks.set_visible(heat)
    if heat:
        h = success["heatmap"]
        a.heat.set_data(h["share"])
        a.heat.set_extent((h["p_hat"][0], h["p_hat"][-1], h["q_hat"][0], h["q_hat"][-1]))
        a.heat_marks.set_data([pq[0], p_hat], [pq[1], q_hat])
        a.ax.set(xscale="linear", xlim=(h["p_hat"][0], h["p_hat"][-1]),
                 ylim=(h["q_hat"][0], h["q_hat"][-1]), xlabel="p_hat", ylabel="q_hat",
                 title="(5) asymptotic success, fixed (p_hat, q_hat)")
        return
    a.semi.set_data(success["n"], success["semianalytic"])
    a.asym.set_ydata([success["asymptotic"]] * 2)
    a.n.set_xdata([n, n])
    # The Monte Carlo points are shown only for the settings they were computed for.
    a.mc.set_data(*((monte_carlo["n"], monte_carlo["share"]) if monte_carlo else ([], [])))
    # The curves exist for i.i.d. starts; an informed or one-class start is not one, so the
    # view says which starts it shows instead of silently showing another's.
    shown = init if init in sbm.INITS else "uniform"
    a.ax.set(xscale="log", xlim=(success["n"][0] / 1.3, success["n"][-1] * 1.3),
             ylim=(0.45, 1.02), xlabel="n", ylabel="share reaching truth",
             title=f"(5) success of {shown.replace('_', '-')} starts")


def build_escape(fig):
    a = SimpleNamespace(ax=fig.add_subplot())
    ax = a.ax
    (a.population,) = ax.plot([], [], "--", c="tab:purple", label="expected graph")
    (a.sampled,) = ax.plot([], [], "-o", ms=3, c="tab:orange", label="sampled graph")
    a.gap = ax.axvline(0, c="k", lw=1.2, label="your g")
    a.truth = ax.axvline(0, c="grey", ls=":", lw=0.9, label="g of the true (p, q)")
    ax.set(xlim=(ESCAPE_GAPS[0] - 0.02, ESCAPE_GAPS[-1] + 0.02), ylim=(-0.02, 1.02),
           xlabel="first-sweep gap g", ylabel="share reaching truth")
    ax.legend(fontsize="x-small", loc="upper left")
    return a


def draw_escape(a, escape_scan, gap, pq):
    for dynamics, line in (("population", a.population), ("sampled", a.sampled)):
        r = (escape_scan or {}).get(dynamics)
        line.set_data(*((r["gap"], r["truth"]) if r else ([], [])))
    a.gap.set_xdata([gap, gap])
    g_true = sbm.truth_gap(*pq)
    a.truth.set_xdata([g_true, g_true])
    a.ax.set_title("(7) escape share vs gap g" if escape_scan else
                   "(7) press Run escape scan")


SMALL = (4.2, 2.7)
VIEWS = [
    View("phase", build_phase, draw_phase, figsize=(4.6, 5.4), on_press=press_phase,
         drag=True),
    View("elbo", build_elbo, draw_elbo, figsize=SMALL),
    View("accuracy", build_accuracy, draw_accuracy, figsize=SMALL),
    View("bifurcation", build_bifurcation, draw_bifurcation, figsize=SMALL),
    View("success", build_success, draw_success, figsize=SMALL),
    View("escape", build_escape, draw_escape, figsize=SMALL),
]


#: Two columns: the phase plane beside the sampled-graph views, the n-views below, then the
#: escape from the joint-estimation collapse.
LAYOUT = [("phase", ("elbo", "accuracy")), ("bifurcation", "success"), ("escape",)]


#: The model in a few lines, above the app (folded away in lecture mode).
INTRO = (
    "<p>Two equal communities of n/2 nodes; an edge appears with probability <b>p</b> inside "
    "a community and <b>q &lt; p</b> across. Mean field keeps one number per node, $\\psi_i$ = "
    "the probability that node $i$ is in community 1, and BCAVI updates all of them at once: "
    "$\\psi \\leftarrow \\sigma\\big(4t\\,(A - \\lambda(J - I))(\\psi - \\tfrac12)\\big)$, "
    "with $t = \\tfrac12\\log\\frac{p(1-q)}{q(1-p)}$ and $2t\\lambda = \\log\\frac{1-q}{1-p}$ "
    "(Mukherjee, Sarkar, Wang &amp; Yan, NeurIPS 2018). Where it ends up depends on where it "
    "starts.</p> "
)

#: What the views show, folded behind "read more" (from the paper and reference/*.md).
ABOUT = (
    "<p><b>The views.</b> (1) On the expected graph every critical point is constant on each "
    "community, so the landscape lives on the plane of <b>block means</b> $(x, y)$: basins "
    "coloured by the limit they reach, separatrices (dots), every fixed point (triangles: the "
    "truth, squares: everybody in one class, diamonds: mixed saddles; green sink, orange "
    "saddle, red source) and the paths of your random starts. (2) The ELBO per sweep on a "
    "<b>sampled graph</b>: parallel BCAVI can go down, sequential CAVI cannot. (3) Accuracy per "
    "sweep on that graph, and (6) the same start run with known $(p, q)$ and with $(p, q)$ "
    "<b>estimated</b> jointly: the second usually collapses to the uninformative "
    "$\\psi = \\tfrac12$ with "
    "$\\hat p = \\hat q$. (4) Fixed points against n: drag n across the thresholds and watch the "
    "spurious optima appear. (5) The share of random starts that find the communities: "
    "semi-analytic curve, the $n \\to \\infty$ limit "
    "$\\tfrac{2}{\\pi}\\arctan\\frac{p - q}{|p + q - 2\\lambda|}$, and Monte Carlo "
    "(press <b>Run Monte Carlo</b>); with misspecified fixed $(\\hat p, \\hat q)$ it becomes "
    "a heat map. (7) With $(p, q)$ estimated, the first sweep can use a guess "
    "$\\hat p = \\rho(1 + g)$, $\\hat q = \\rho(1 - g)$ around the edge density $\\rho$ "
    "(control <b>first-sweep gap g</b>); <b>Run escape scan</b> shows the share of random "
    "starts that then escape the collapse, against g.</p> "
    "<p><b>Initializations:</b> uniform(0, 1); Bernoulli(½) hard labels; near the centre ½ ± "
    "eps; informed (labels agree with the truth with the chosen correlation); everybody in one "
    "class. The derivations behind the landscape are the project's own "
    "(<code>reference/sbm.md</code>), checked numerically, not quotations of the paper.</p> "
)


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
    return App(title="Stochastic blockmodel: mean-field BCAVI", params=PARAMS, stages=STAGES,
               views=VIEWS, tasks=TASKS, summary=summary, columns=columns, presets=PRESETS,
               layout=LAYOUT, intro=INTRO, about=ABOUT, query_string=query_string, debug=debug,
               initial=overrides, executor=executor, tours=tours_for("sbm"))
