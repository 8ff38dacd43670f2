"""NTK fine-tuning explorer: early stopping from a pretrained start, spectra, rates, the attention
eNTK and task vectors (Sun & Raskutti, arXiv:2602.13942).

Controls turn into calls of :mod:`explorer.ntk`; results turn into artists. The time slider is
a re-view control: it only moves a marker over curves computed once per state.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ntk
from ._shell import App, ChangeTracker, Param, new_figure

__all__ = ["PARAMS", "PRESETS", "NtkResult", "compute", "make_app", "summary"]

PARAMS = [
    Param("source", "choice", "polynomial",
          options=("polynomial", "exponential", "finite_rank", "spiked", "attention",
                   "language model"),
          label="kernel", help="a synthetic eigenvalue decay, the eNTK of a small attention "
                               "model, or the eNTK of a real pretrained sentence transformer"),
    Param("n", "int", 2000, lo=20, hi=5000, step=10, label="samples n",
          help="training-set size (number of eigenvalues)"),
    Param("beta", "float", 2.0, lo=1.05, hi=5.0, step=0.05, label="decay beta",
          help="polynomial and spiked spectra: lam_i ~ i^-beta"),
    Param("gamma", "float", 0.05, lo=0.005, hi=1.0, step=0.005, label="decay gamma",
          advanced=True, help="exponential spectrum: lam_i ~ exp(-gamma i)"),
    Param("rank", "int", 20, lo=1, hi=500, label="rank m", advanced=True,
          help="finite-rank spectrum: m equal eigenvalues"),
    Param("kappa", "float", 20.0, lo=1.0, hi=100.0, step=1.0, label="spike kappa",
          advanced=True, help="spiked spectrum: lam_1 / lam_2"),
    Param("R", "float", 1.0, lo=0.0, hi=20.0, step=0.05, label="R (pretrained)",
          help="RKHS distance of the pretrained start from the target"),
    Param("R_random", "float", 10.0, lo=0.0, hi=100.0, step=0.5, label="R (random start)",
          help="the same for a start far from the target, drawn dashed"),
    Param("r", "float", 0.5, lo=0.0, hi=2.0, step=0.05, label="source r",
          help="smoothness of f* - f0: 1/2 just inside the RKHS, larger is smoother"),
    Param("sigma", "float", 0.5, lo=0.01, hi=5.0, step=0.01, label="noise sigma"),
    Param("alpha", "float", 1.0, lo=0.05, hi=2.5, step=0.05, label="step x lam_1",
          help="step size in units of 1/lam_1: above 1 the top mode oscillates, above 2 GD "
               "diverges"),
    Param("theta0", "choice", "pretrained", options=ntk.THETA0, label="attention theta0",
          advanced=True, help="attention kernel at pretrained or random weights"),
    Param("blocks", "choice", "q,k,v,w", options=("q,k,v,w", "q,k,v", "q,k", "v,w", "w"),
          label="trained blocks", advanced=True, help="attention parameter blocks in the eNTK"),
    Param("overlap", "choice", "disjoint", options=("disjoint", "shared"), label="task inputs",
          help="task vectors: tasks on disjoint feature coordinates, or shared ones"),
    Param("c1", "float", 1.0, lo=-1.0, hi=2.0, step=0.05, label="c1 (task 1)",
          recompute=False, help="weight of task vector 1 in theta0 + c1 tau1 + c2 tau2"),
    Param("c2", "float", 1.0, lo=-1.0, hi=2.0, step=0.05, label="c2 (task 2)",
          recompute=False, help="weight of task vector 2"),
    Param("log_t", "float", 1.5, lo=0.0, hi=8.0, step=0.01, label="log10 time",
          recompute=False, readout_format=".2f", help="move along training time"),
]

#: Size of the attention experiments (the eNTK is computed live).
ATTENTION_N = 300
TASK_N = 40
TASK_STEPS = 100
RATE_NS = (100, 200, 400, 800, 1600, 3200, 6400, 12800)

PRESETS = {
    "fast polynomial decay": {"source": "polynomial", "beta": 3.0, "R": 1.0, "sigma": 0.5},
    "exponential decay (log n / n)": {"source": "exponential", "gamma": 0.05, "R": 1.0,
                                      "sigma": 0.5},
    "pretrained start close to target (few epochs suffice)": {
        "source": "spiked", "beta": 1.6, "kappa": 25.0, "R": 0.2, "R_random": 10.0,
        "sigma": 0.5, "log_t": 0.5},
    "random start (far from target)": {"source": "polynomial", "beta": 2.0, "R": 10.0,
                                       "R_random": 30.0, "sigma": 0.5, "log_t": 3.0},
    "attention eNTK": {"source": "attention", "n": ATTENTION_N, "theta0": "pretrained",
                       "blocks": "q,k,v,w", "R": 1.0, "sigma": 0.3},
    "task vectors share a head": {"source": "attention", "n": ATTENTION_N,
                                  "blocks": "q,k,v,w", "overlap": "disjoint"},
    "step too large (diverges)": {"source": "polynomial", "alpha": 2.2, "log_t": 2.0},
    # R: the sample RKHS distance of the real pretrained head from the labels, rounded.
    "real language model": {"source": "language model", "R": 0.9, "sigma": 0.3, "log_t": 1.0},
}


@dataclass(frozen=True)
class NtkResult:
    lam: np.ndarray
    beta_hat: float
    t: np.ndarray                  # time grid (steps)
    curves: dict                   # "pretrained"/"random" -> (bias2, var, risk)
    stopping: dict                 # "pretrained"/"random" -> StoppingTime
    oracle: dict                   # "pretrained"/"random" -> int
    krr: Any                       # KRR for the pretrained start
    alpha: float
    attention: Any                 # AttentionKernel or None
    tasks: Any                     # TaskVectors (always on the attention model)


def _blocks(state) -> tuple[str, ...]:
    return tuple(state["blocks"].split(","))


@functools.lru_cache(maxsize=8)
def _attention(n: int, theta0: str, blocks: tuple, seed: int):
    return ntk.attention_kernel(n, blocks=blocks, theta0=theta0, rng=np.random.default_rng(
        [seed, 1]))


@functools.lru_cache(maxsize=8)
def _tasks(overlap: str, blocks: tuple, seed: int):
    model = _attention(ATTENTION_N, "pretrained", ("q", "k", "v", "w"), seed).model
    tasks = ntk.synthetic_tasks(model.d, 8, TASK_N, overlap=overlap,
                                rng=np.random.default_rng([seed, 2]))
    return ntk.task_experiment(model, tasks, steps=TASK_STEPS, blocks=blocks)


@functools.lru_cache(maxsize=1)
def _language_model():
    return ntk.language_model_kernel()


def spectrum_of(state) -> tuple[np.ndarray, Any, Any]:
    """(eigenvalues, the kernel's source object or None, a unit-R residual or None)."""
    if state["source"] == "attention":
        ak = _attention(min(state["n"], 1000), state["theta0"], _blocks(state), state["seed"])
        return ak.eigenvalues, ak, None
    if state["source"] == "language model":
        lm = _language_model()
        # The real residual y - f0 of the pretrained head, rescaled to RKHS norm 1.
        return lm.eigenvalues, lm, lm.coef / lm.R
    lam = ntk.spectrum(state["source"], state["n"], beta=state["beta"], gamma=state["gamma"],
                       m=min(state["rank"], state["n"]), kappa=state["kappa"])
    return lam, None, None


def compute(state: dict) -> NtkResult:
    """Backend calls for one state (pure; the shell caches results by state)."""
    lam, attention, base = spectrum_of(state)
    alpha = state["alpha"] / float(lam.max())
    if base is None:  # a synthetic target: one direction with source condition r, R = 1
        base = ntk.target_coefficients(lam, r=state["r"], R=1.0,
                                       rng=np.random.default_rng([state["seed"], 0]))
    curves, stopping, oracle = {}, {}, {}
    t = np.r_[0.0, np.unique(np.round(np.geomspace(1, 1e8, 600)))]
    for name, R in (("pretrained", state["R"]), ("random", state["R_random"])):
        coef = base * R
        curves[name] = ntk.risk_curve(lam, coef, state["sigma"], t, alpha=alpha)
        stopping[name] = ntk.stopping_time(lam, R, state["sigma"], alpha=alpha)
        oracle[name] = ntk.oracle_time(lam, coef, state["sigma"], alpha=alpha) \
            if state["alpha"] <= 1 else None
    krr = ntk.krr_equivalent(lam, base * state["R"], state["sigma"], alpha=alpha) \
        if state["R"] > 0 else None
    return NtkResult(
        lam=lam, beta_hat=ntk.decay_exponent(lam), t=t, curves=curves, stopping=stopping,
        oracle=oracle, krr=krr, alpha=alpha, attention=attention,
        tasks=_tasks(state["overlap"], _blocks(state), state["seed"]),
    )


def _fmt_t(x) -> str:
    return "inf" if x is None or not np.isfinite(x) else f"{x:.0f}"


def summary(result: NtkResult, state: dict) -> str:
    st, o = result.stopping["pretrained"], result.oracle["pretrained"]
    sr = result.stopping["random"]
    risk = result.curves["pretrained"][2]
    at = _risk_at(result, st.t_hat)
    parts = [f"n={result.lam.size}, fitted decay beta={result.beta_hat:.2f}",
             f"pretrained start (R={state['R']:g}): T_hat={_fmt_t(st.t_hat)} steps, "
             f"oracle={_fmt_t(o)}, risk at T_hat {at:.3g} (best {np.nanmin(risk):.3g}, "
             f"bound {st.bound:.3g})",
             f"random start (R={state['R_random']:g}): T_hat={_fmt_t(sr.t_hat)}"]
    if state["alpha"] > 2:
        parts.append("step above 2/lam_1: gradient descent diverges")
    return "; ".join(parts)


def _risk_at(result: NtkResult, t_steps: float, which: str = "pretrained") -> float:
    if t_steps is None or not np.isfinite(t_steps):
        return float("nan")
    risk = result.curves[which][2]
    return float(np.interp(t_steps, result.t, risk))


def columns(result: NtkResult) -> dict[str, np.ndarray]:
    b, v, r = result.curves["pretrained"]
    br, vr, rr = result.curves["random"]
    return {"t": result.t, "bias2": b, "variance": v, "risk": r, "bias2_random": br,
            "variance_random": vr, "risk_random": rr, "eigenvalue": result.lam}


# ---------------------------------------------------------------------------- views

COLOURS = {"bias2": "tab:blue", "variance": "tab:orange", "risk": "k"}
DISPLAY_MAX = 1e30


class _Views(ChangeTracker):
    def __init__(self):
        small = (4.4, 3.0)
        self.figs = {"risk": new_figure(figsize=(5.6, 4.2)), "spectrum": new_figure(figsize=small),
                     "rates": new_figure(figsize=small), "tasks": new_figure(figsize=small)}
        f = self.figs
        super().__init__()
        ax = self.ax_risk = f["risk"].add_axes((0.13, 0.13, 0.82, 0.78))
        self.lines = {}
        for which, ls in (("pretrained", "-"), ("random", "--")):
            for part, col in COLOURS.items():
                label = {"bias2": "bias²", "variance": "variance", "risk": "risk"}[part]
                self.lines[which, part] = ax.plot(
                    [], [], ls, c=col, lw=1.6 if part == "risk" else 1.0,
                    label=f"{label}" if which == "pretrained" else None)[0]
        self.t_hat = ax.axvline(1, c="tab:green", lw=1.5, label="T_hat (data-driven)")
        self.t_hat_random = ax.axvline(1, c="tab:green", lw=1.0, ls="--")
        (self.oracle,) = ax.plot([], [], "o", c="tab:red", ms=6, label="oracle time")
        (self.krr,) = ax.plot([], [], "x", c="tab:purple", ms=8, mew=2, label="KRR equivalent")
        self.now = ax.axvline(1, c="grey", lw=0.8)
        self.now_text = ax.text(0.02, 0.03, "", transform=ax.transAxes, fontsize="small")
        ax.set(xscale="symlog", yscale="log", xlabel="gradient steps t",
               ylabel="expected risk", title="early stopping: solid pretrained, dashed random")
        ax.legend(fontsize="x-small", loc="upper right")

        ax = self.ax_spec = f["spectrum"].add_axes((0.17, 0.17, 0.78, 0.72))
        (self.eig,) = ax.plot([], [], ".", ms=3, c="tab:blue", label="eigenvalues of K_n")
        (self.fit,) = ax.plot([], [], "-", c="tab:red", lw=1, label="fit")
        ax.set(xscale="log", yscale="log", xlabel="index i", ylabel="λ_i", title="spectrum")
        ax.legend(fontsize="x-small")

        ax = self.ax_rates = f["rates"].add_axes((0.17, 0.17, 0.78, 0.72))
        (self.rate_hat,) = ax.plot([], [], "o-", c="tab:green", ms=3, label="risk at T_hat")
        (self.rate_or,) = ax.plot([], [], "s-", c="tab:red", ms=3, label="oracle risk")
        (self.rate_th,) = ax.plot([], [], ":", c="k", label="theory slope")
        ax.set(xscale="log", yscale="log", xlabel="n", ylabel="risk", xlim=(50, 2e4),
               ylim=(1e-5, 1), title="rates in n: press 'Run rates'")
        ax.legend(fontsize="x-small")

        ax = self.ax_tasks = f["tasks"].add_axes((0.15, 0.17, 0.5, 0.7))
        self.inter = ax.imshow(np.zeros((2, 2)), cmap="magma", vmin=0)
        self.inter_text = [[ax.text(j, i, "", ha="center", va="center", color="w",
                                    fontsize="small") for j in range(2)] for i in range(2)]
        ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["τ1", "τ2"],
               yticklabels=["task 1", "task 2"], title="effect of τk on task j")
        self.ax_err = f["tasks"].add_axes((0.75, 0.17, 0.22, 0.7))
        self.err_bars = self.ax_err.bar([0, 1], [0, 0], color=["tab:blue", "tab:orange"])
        self.ax_err.set(xticks=[0, 1], xticklabels=["1", "2"], title="RMS error")


def layout(widgets: dict):
    import ipywidgets as W

    return W.GridBox([widgets["risk"], W.VBox([widgets["spectrum"], widgets["rates"]]),
                      widgets["tasks"]],
                     layout={"grid_template_columns": "auto auto", "grid_gap": "4px 12px"})


def render(app: App, result: NtkResult, state: dict) -> list[str]:
    v: _Views = app.views
    r = result
    changed = []
    if v.changed("curves", (r,)):
        changed.append("risk")
        finite = [np.clip(np.nan_to_num(c, nan=DISPLAY_MAX, posinf=DISPLAY_MAX), 0, DISPLAY_MAX)
                  for curves in r.curves.values() for c in curves]
        top = max(float(c.max()) for c in finite)
        for (which, part), line in v.lines.items():
            y = r.curves[which][("bias2", "variance", "risk").index(part)]
            # A diverging step runs to inf: show it climbing off the top instead.
            line.set_data(r.t, np.clip(np.nan_to_num(y, nan=DISPLAY_MAX, posinf=DISPLAY_MAX),
                                       1e-300, DISPLAY_MAX))
        for line, which in ((v.t_hat, "pretrained"), (v.t_hat_random, "random")):
            th = r.stopping[which].t_hat
            line.set_xdata([th, th] if np.isfinite(th) else [np.nan, np.nan])
        o = r.oracle["pretrained"]
        v.oracle.set_data(([o], [_risk_at(r, o)]) if o is not None else ([], []))
        if r.krr is not None:
            v.krr.set_data([r.krr.t_equivalent], [r.krr.risk])
        else:
            v.krr.set_data([], [])
        low = min(float(np.nanmin(c[c > 0])) if np.any(c > 0) else 1.0 for c in finite)
        v.ax_risk.set_xlim(0, r.t[-1])
        v.ax_risk.set_ylim(max(low, top * 1e-8) / 2, min(top, 1e6) * 2)
    if v.changed("now", (r, state["log_t"])):
        if "risk" not in changed:
            changed.append("risk")
        t_now = 10 ** state["log_t"]
        v.now.set_xdata([t_now, t_now])
        b = float(np.interp(t_now, r.t, r.curves["pretrained"][0]))
        var = float(np.interp(t_now, r.t, r.curves["pretrained"][1]))
        v.now_text.set_text(f"t = {t_now:.3g}: bias² {b:.3g}, variance {var:.3g}, "
                            f"risk {b + var:.3g}")
    if v.changed("spectrum", (r.lam,)):
        changed.append("spectrum")
        i = np.arange(1, r.lam.size + 1)
        pos = r.lam > 0
        v.eig.set_data(i[pos], r.lam[pos])
        fit_i = np.array([2, max(r.lam.size // 2, 3)])
        if np.isfinite(r.beta_hat):
            anchor = r.lam[1]
            v.fit.set_data(fit_i, anchor * (fit_i / 2.0) ** (-r.beta_hat))
        v.fit.set_label(f"fit: β = {r.beta_hat:.2f}")
        v.ax_spec.legend(fontsize="x-small")
        v.ax_spec.set_xlim(0.8, r.lam.size * 1.2)
        v.ax_spec.set_ylim(max(r.lam[pos].min(), r.lam[0] * 1e-12) / 2, r.lam[0] * 2)
        title = {"attention": "attention eNTK", "language model": "MiniLM last-layer eNTK"}.get(
            state["source"], f"{state['source']} spectrum")
        v.ax_spec.set_title(title)
    rates = app.rates_result
    if v.changed("rates", (rates,)):
        changed.append("rates")
        if rates is not None:
            v.rate_hat.set_data(rates.n, rates.risk_hat)
            v.rate_or.set_data(rates.n, rates.risk_oracle)
            th = rates.theory["risk_oracle"]
            v.rate_th.set_data(rates.n, rates.risk_oracle[0] * (rates.n / rates.n[0]) ** th)
            v.ax_rates.relim()
            v.ax_rates.autoscale_view()
            v.ax_rates.set_title(
                f"slopes: T_hat {rates.slopes['risk_hat']:.2f}, oracle "
                f"{rates.slopes['risk_oracle']:.2f} (theory {th:.2f})", fontsize="small")
        else:
            for line in (v.rate_hat, v.rate_or, v.rate_th):
                line.set_data([], [])
    tv = r.tasks
    if v.changed("tasks", (tv, state["c1"], state["c2"])):
        changed.append("tasks")
        v.inter.set_data(tv.interference)
        v.inter.set_clim(0, max(float(tv.interference.max()), 1e-12))
        top = max(float(tv.interference.max()), 1e-12)
        for i in range(2):
            for j in range(2):
                value = tv.interference[i, j]
                v.inter_text[i][j].set_text(f"{value:.2g}")
                v.inter_text[i][j].set_color("k" if value > 0.6 * top else "w")
        errors = tv.errors([state["c1"], state["c2"]])
        for bar, e in zip(v.err_bars, errors, strict=True):
            bar.set_height(e)
        v.ax_err.set_ylim(0, max(float(np.max(errors)) * 1.2, 1e-12))
        v.ax_err.set_title(f"RMS error\nc = ({state['c1']:g}, {state['c2']:g})",
                           fontsize="small")
    return changed


def make_app(*, executor=None, query_string: str | None = None, debug: bool | None = None,
             **overrides) -> App:
    """Build the NTK early-stopping explorer.

    Parameters
    ----------
    executor : concurrent.futures.Executor, optional
        Where the rate sweep runs (serial when None; a dask ``Client(...).get_executor()``).
    query_string : str, optional
        URL state (defaults to Voila's ``$QUERY_STRING``).
    **overrides
        Initial control values.
    """
    import ipywidgets as W

    views = _Views()
    run_rates = W.Button(description="Run rates", icon="play",
                         tooltip="risk at T_hat and at the oracle for n = 100 ... 12800")
    app = App(title="NTK fine-tuning from a pretrained start: early stopping",
              params=PARAMS, compute=compute, figure=views.figs, render=render,
              summary=summary, columns=columns, presets=PRESETS, query_string=query_string,
              debug=debug, extra_widgets=[run_rates], views=views, initial=overrides,
              defer_first=True, figure_layout=layout)
    app.rates_result = None
    app.start()

    def start_rates(_button=None) -> None:
        state = app.state
        source = "polynomial" if state["source"] == "attention" else state["source"]

        def work(on_progress, cancel):
            return ntk.rate_sweep(RATE_NS, kind=source, r=state["r"], R=state["R"],
                                  sigma=state["sigma"], beta=state["beta"],
                                  gamma=state["gamma"], m=state["rank"], kappa=state["kappa"],
                                  rng=np.random.default_rng([state["seed"], 3]),
                                  executor=executor, on_progress=on_progress, cancel=cancel)

        def done(value):
            app.rates_result = value

        app.run_task(work, done, label="rate sweep")

    run_rates.on_click(app._safe(start_rates))
    app.start_rates = start_rates
    return app
