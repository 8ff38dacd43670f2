"""NTK fine-tuning explorer: early stopping from a pretrained start, spectra, rates, the attention
eNTK and task vectors (Sun & Raskutti, arXiv:2602.13942).

Declarations plus drawing code: controls, stages that call :mod:`explorer.ntk`, the views and
the rate sweep task. The time slider and the task weights are read by views only, so moving
them re-views curves computed once per state.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .. import ntk
from .._common import cached_array
from ..ntk import _attention, _setups
from ..tours import tours_for
from . import cache_dir, source_key
from ._shell import App, Param, Stage, Task, View

__all__ = ["PARAMS", "PRESETS", "STAGES", "TASKS", "VIEWS", "make_app", "summary"]

#: Range of the task-vector weights c1, c2 (the sliders; the error axes hold any bar in it).
C_RANGE = (-1.0, 2.0)

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
    Param("c1", "float", 1.0, lo=C_RANGE[0], hi=C_RANGE[1], step=0.05, label="c1 (task 1)",
          help="weight of task vector 1 in theta0 + c1 tau1 + c2 tau2"),
    Param("c2", "float", 1.0, lo=C_RANGE[0], hi=C_RANGE[1], step=0.05, label="c2 (task 2)",
          help="weight of task vector 2"),
    Param("log_t", "float", 1.5, lo=0.0, hi=8.0, step=0.01, label="log10 time",
          readout_format=".2f", help="move along training time"),
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


# ---------------------------------------------------------------------------- stages

ALL_BLOCKS = ("q", "k", "v", "w")


def attention(source, n, theta0, blocks, seed):
    """The attention model's eNTK (only when it is the chosen kernel)."""
    if source != "attention":
        return None
    return ntk.attention_kernel(min(n, 1000), blocks=tuple(blocks.split(",")), theta0=theta0,
                                rng=np.random.default_rng([seed, 1]))


def spectrum(source, n, beta, gamma, rank, kappa, attention):
    """(eigenvalues of K_n, a unit-R residual or None, the kernel's source object or None)."""
    if source == "attention":
        return SimpleNamespace(lam=attention.eigenvalues, residual=None, source=attention)
    if source == "language model":
        lm = ntk.language_model_kernel()
        # The real residual y - f0 of the pretrained head, rescaled to RKHS norm 1.
        return SimpleNamespace(lam=lm.eigenvalues, residual=lm.coef / lm.R, source=lm)
    lam = ntk.spectrum(source, n, beta=beta, gamma=gamma, m=min(rank, n), kappa=kappa)
    return SimpleNamespace(lam=lam, residual=None, source=None)


def target(spectrum, r, seed):
    """f* - f0 in the eigenbasis with R = 1: the real residual, or one with source r."""
    if spectrum.residual is not None:
        return spectrum.residual
    return ntk.target_coefficients(spectrum.lam, r=r, R=1.0,
                                   rng=np.random.default_rng([seed, 0]))


#: The time grid of the risk curves (steps).
T_GRID = np.r_[0.0, np.unique(np.round(np.geomspace(1, 1e8, 600)))]


def risk_model(spectrum, alpha):
    """The risk of this spectrum at this step, factored once: the starts' curves, oracle
    times and KRR below are then cheap functions of (coefficients, sigma)."""
    lam = spectrum.lam
    return ntk.risk_fn(lam, T_GRID, alpha=ntk.step_size(lam, alpha))


def fit(spectrum) -> float:
    """The fitted power-law decay of the eigenvalues."""
    return ntk.decay_exponent(spectrum.lam)


def _start(risk_model, coef, dist, sigma, krr):
    lam, step = risk_model.eigenvalues, risk_model.alpha
    return SimpleNamespace(
        curve=risk_model(coef, sigma), stopping=ntk.stopping_time(lam, dist, sigma, alpha=step),
        oracle=risk_model.oracle_time(coef, sigma),
        krr=risk_model.krr_equivalent(coef, sigma) if krr and dist > 0 else None)


def pretrained(risk_model, target, R, sigma):
    """Risk curve, T_hat, oracle and KRR of the pretrained start (distance R)."""
    return _start(risk_model, target * R, R, sigma, krr=True)


def far_start(risk_model, target, R_random, sigma):
    """The same for the start far from the target (distance R_random), without KRR."""
    return _start(risk_model, target * R_random, R_random, sigma, krr=False)


def curves(risk_model, pretrained, far_start, fit):
    """Bias, variance and risk against t, T_hat and the oracle, for both starts; KRR."""
    starts = {"pretrained": pretrained, "random": far_start}
    return SimpleNamespace(t=T_GRID, step=risk_model.alpha,
                           curves={k: v.curve for k, v in starts.items()},
                           stopping={k: v.stopping for k, v in starts.items()},
                           oracle={k: v.oracle for k, v in starts.items()},
                           krr=pretrained.krr, beta_hat=fit)


def task_model(seed):
    """The pretrained attention model the task vectors are computed on."""
    # The attention view's theta0 for this seed (same draws), without its kernel; kept in
    # the machine's cache, since pretraining is most of a cold kernel's first compute.
    def pretrain():
        return ntk.attention_theta0(ATTENTION_N, theta0="pretrained",
                                    rng=np.random.default_rng([seed, 1]))[0].theta

    key = source_key(_attention, _setups, np.__version__)
    theta = cached_array(cache_dir("explorer-data") / f"attention_{ATTENTION_N}_{seed}_{key}.npy",
                         pretrain)
    # A model of the same shape (random weights, no pretraining) carrying those weights.
    return ntk.attention_theta0(ATTENTION_N, theta0="random", rng=0)[0].with_theta(theta)


def tasks(task_model, overlap, blocks, seed):
    """Two fine-tuning tasks' vectors and how each moves the other's error."""
    data = ntk.synthetic_tasks(task_model.d, 8, TASK_N, overlap=overlap,
                               rng=np.random.default_rng([seed, 2]))
    return ntk.task_experiment(task_model, data, steps=TASK_STEPS,
                               blocks=tuple(blocks.split(",")))


#: The factored risk holds about (601 + 721) n floats: one kept (a step or spectrum change
#: refactors it, a change of R or sigma reuses it).
STAGES = [Stage(attention), Stage(spectrum), Stage(target), Stage(risk_model, cache=1),
          Stage(fit), Stage(pretrained), Stage(far_start), Stage(curves), Stage(task_model),
          Stage(tasks)]


def rates(ctx, source, r, R, sigma, beta, gamma, rank, kappa, seed):
    """Background task: risk at T_hat and at the oracle against n (synthetic spectra)."""
    return ntk.rate_sweep(RATE_NS, kind=source, r=r, R=R, sigma=sigma, beta=beta, gamma=gamma,
                          m=rank, kappa=kappa, rng=np.random.default_rng([seed, 3]),
                          executor=ctx.executor, on_progress=ctx.progress, cancel=ctx.cancel)


def rates_unavailable(source) -> str | None:
    """Rates vary n, which a fixed kernel (a model's eNTK at one data set) cannot."""
    if source in ("attention", "language model"):
        return (f"rates in n need a kernel family defined at every n; the {source} eNTK is "
                f"one fixed matrix: pick a synthetic kernel to run rates")
    return None


TASKS = [Task("rates", rates, button="Run rates", unavailable=rates_unavailable,
              help="risk at T_hat and at the oracle for n = 100 ... 12800",
              columns=lambda v: {"n": v.n, "risk_hat": v.risk_hat,
                                 "risk_oracle": v.risk_oracle})]


def _fmt_t(x) -> str:
    return "inf" if x is None or not np.isfinite(x) else f"{x:.0f}"


def _risk_at(curves, t_steps: float, which: str = "pretrained") -> float:
    if t_steps is None or not np.isfinite(t_steps):
        return float("nan")
    return float(np.interp(t_steps, curves.t, curves.curves[which].risk))


def summary(spectrum, curves, R, R_random, alpha, source) -> str:
    st, o = curves.stopping["pretrained"], curves.oracle["pretrained"]
    sr = curves.stopping["random"]
    risk = curves.curves["pretrained"].risk
    parts = [f"n={spectrum.lam.size}, fitted decay beta={curves.beta_hat:.2f}",
             f"pretrained start (R={R:g}): T_hat={_fmt_t(st.t_hat)} steps, "
             f"oracle={_fmt_t(o)}, risk at T_hat {_risk_at(curves, st.t_hat):.3g} "
             f"(best {np.nanmin(risk):.3g}, bound {st.bound:.3g})",
             f"random start (R={R_random:g}): T_hat={_fmt_t(sr.t_hat)}"]
    if alpha > 2:
        parts.append("step above 2/lam_1: gradient descent diverges")
    if source == "language model":
        parts.append("illustrative target: the shape of the real residual y - f0 of the "
                     "pretrained head, scaled to R (its own RKHS norm, the norm of the label "
                     "interpolant, is about 0.9)")
    return "; ".join(parts)


def columns(spectrum, curves) -> dict[str, np.ndarray]:
    b, v, r = curves.curves["pretrained"]
    br, vr, rr = curves.curves["random"]
    return {"t": curves.t, "bias2": b, "variance": v, "risk": r, "bias2_random": br,
            "variance_random": vr, "risk_random": rr, "eigenvalue": spectrum.lam}


# ---------------------------------------------------------------------------- views

COLOURS = {"bias2": "tab:blue", "variance": "tab:orange", "risk": "k"}
DISPLAY_MAX = 1e30


def _shown(y):
    # A diverging step runs to inf: show it climbing off the top instead.
    return np.clip(np.nan_to_num(y, nan=DISPLAY_MAX, posinf=DISPLAY_MAX), 1e-300, DISPLAY_MAX)


def build_risk(fig):
    a = SimpleNamespace(ax=fig.add_subplot(), lines={})
    ax = a.ax
    for which, ls in (("pretrained", "-"), ("random", "--")):
        for part, col in COLOURS.items():
            label = {"bias2": "bias²", "variance": "variance", "risk": "risk"}[part]
            a.lines[which, part] = ax.plot([], [], ls, c=col, lw=1.6 if part == "risk" else 1.0,
                                           label=label if which == "pretrained" else None)[0]
    a.t_hat = ax.axvline(1, c="tab:green", lw=1.5, label="T_hat")
    a.t_hat_random = ax.axvline(1, c="tab:green", lw=1.0, ls="--")
    (a.oracle,) = ax.plot([], [], "o", c="tab:red", ms=6, label="oracle")
    (a.krr,) = ax.plot([], [], "x", c="tab:purple", ms=8, mew=2, label="KRR")
    # The time cursor moves by blitting (View.overlay): only it is drawn again on a drag.
    a.now = ax.axvline(1, c="grey", lw=0.8, animated=True)
    a.now_text = ax.text(0.02, 0.03, "", transform=ax.transAxes, fontsize="small",
                         animated=True)
    ax.set(xscale="symlog", yscale="log", xlabel="gradient steps t", ylabel="expected risk",
           title="early stopping")
    # Every other decade: at lecture sizes one label per decade collides. No minor ticks:
    # hundreds of tick marks over 9 decades cost half of every redraw of this view.
    from matplotlib.ticker import NullLocator

    ax.set_xticks([0, 1e2, 1e4, 1e6, 1e8])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.plot([], [], "-", c="grey", label="pretrained")
    ax.plot([], [], "--", c="grey", label="random start")
    ax.legend(fontsize="x-small", loc="upper right", ncol=3)
    return a


def draw_risk(a, curves):
    c = curves
    shown = {key: _shown(getattr(c.curves[key[0]], key[1])) for key in a.lines}
    for key, line in a.lines.items():
        line.set_data(c.t, shown[key])
    for line, which in ((a.t_hat, "pretrained"), (a.t_hat_random, "random")):
        th = c.stopping[which].t_hat
        line.set_xdata([th, th] if np.isfinite(th) else [np.nan, np.nan])
    o = c.oracle["pretrained"]
    a.oracle.set_data(([o], [_risk_at(c, o)]) if o is not None else ([], []))
    a.krr.set_data(([c.krr.t_equivalent], [c.krr.risk]) if c.krr is not None else ([], []))
    top = max(float(y.max()) for y in shown.values())
    low = min(float(np.min(y[y > 1e-300])) if np.any(y > 1e-300) else 1.0
              for y in shown.values())
    a.ax.set_xlim(0, c.t[-1])
    a.ax.set_ylim(max(low, top * 1e-8) / 2, min(top, 1e6) * 2)


def draw_now(a, curves, log_t):
    """The time cursor and the risk read off the curves at that time."""
    t_now = 10 ** log_t
    a.now.set_xdata([t_now, t_now])
    b = float(np.interp(t_now, curves.t, curves.curves["pretrained"].bias2))
    var = float(np.interp(t_now, curves.t, curves.curves["pretrained"].variance))
    a.now_text.set_text(f"t = {t_now:.3g}\nbias² {b:.3g}, variance {var:.3g}, "
                        f"risk {b + var:.3g}")


def press_risk(a, ax, x, y) -> dict:
    """Click or drag on the early-stopping plot to move the time cursor there."""
    if ax is not a.ax:
        return {}
    return {"log_t": round(float(np.clip(np.log10(max(x, 1.0)), 0.0, 8.0)), 2)}


def build_spectrum(fig):
    a = SimpleNamespace(ax=fig.add_subplot())
    (a.eig,) = a.ax.plot([], [], ".", ms=3, c="tab:blue", label="eigenvalues of K_n")
    (a.fit,) = a.ax.plot([], [], "-", c="tab:red", lw=1, label="fit")
    a.ax.set(xscale="log", yscale="log", xlabel="index i", ylabel="λ_i", title="spectrum")
    a.ax.legend(fontsize="x-small")
    return a


def draw_spectrum(a, spectrum, fit, source):
    lam = spectrum.lam
    i = np.arange(1, lam.size + 1)
    pos = lam > 0
    a.eig.set_data(i[pos], lam[pos])
    fit_i = np.array([2, max(lam.size // 2, 3)])
    if np.isfinite(fit):
        a.fit.set_data(fit_i, lam[1] * (fit_i / 2.0) ** (-fit))
    a.fit.set_label(f"fit: β = {fit:.2f}")
    a.ax.legend(fontsize="x-small")
    a.ax.set_xlim(0.8, lam.size * 1.2)
    a.ax.set_ylim(max(lam[pos].min(), lam[0] * 1e-12) / 2, lam[0] * 2)
    a.ax.set_title({"attention": "attention eNTK", "language model": "MiniLM last-layer eNTK"}
                   .get(source, f"{source} spectrum"))


def build_rates(fig):
    a = SimpleNamespace(ax=fig.add_subplot())
    (a.hat,) = a.ax.plot([], [], "o-", c="tab:green", ms=3, label="risk at T_hat")
    (a.oracle,) = a.ax.plot([], [], "s-", c="tab:red", ms=3, label="oracle risk")
    (a.theory,) = a.ax.plot([], [], ":", c="k", label="theory slope")
    a.ax.set(xscale="log", yscale="log", xlabel="n", ylabel="risk", xlim=(50, 2e4),
             ylim=(1e-5, 1), title="rates in n")
    a.hint = a.ax.text(0.5, 0.5, "press 'Run rates'", transform=a.ax.transAxes, ha="center",
                       va="center", color="grey")
    a.ax.legend(fontsize="x-small")
    return a


def draw_rates(a, rates):
    a.hint.set_visible(rates is None)
    if rates is None:
        for line in (a.hat, a.oracle, a.theory):
            line.set_data([], [])
        a.ax.set_title("rates in n")
        return
    a.hat.set_data(rates.n, rates.risk_hat)
    a.oracle.set_data(rates.n, rates.risk_oracle)
    th = rates.theory["risk_oracle"]
    a.theory.set_data(rates.n, rates.risk_oracle[0] * (rates.n / rates.n[0]) ** th)
    a.ax.relim()
    a.ax.autoscale_view()
    a.ax.set_title(f"slopes: T_hat {rates.slopes['risk_hat']:.2f}, oracle "
                   f"{rates.slopes['risk_oracle']:.2f}\n(theory {th:.2f})", fontsize="small")


def build_tasks(fig):
    ax, ax_err = fig.subplots(1, 2, width_ratios=(2, 1))
    a = SimpleNamespace(ax=ax, ax_err=ax_err)
    a.inter = a.ax.imshow(np.zeros((2, 2)), cmap="magma", vmin=0)
    a.inter_text = [[a.ax.text(j, i, "", ha="center", va="center", color="w",
                               fontsize="small") for j in range(2)] for i in range(2)]
    a.ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["τ1", "τ2"],
             yticklabels=["task 1", "task 2"], title="effect of τk on task j")
    # The bars and their c move by blitting (View.overlay) on axes fixed per task model.
    a.bars = a.ax_err.bar([0, 1], [0, 0], color=["tab:blue", "tab:orange"])
    for bar in a.bars:
        bar.set_animated(True)
    a.c_text = a.ax_err.text(0.5, 0.97, "", transform=a.ax_err.transAxes, ha="center",
                             va="top", fontsize="x-small", animated=True)
    a.ax_err.set(xticks=[0, 1], xticklabels=["1", "2"], title="RMS error")
    return a


def draw_tasks(a, tasks):
    inter = tasks.interference
    top = max(float(inter.max()), 1e-12)
    a.inter.set_data(inter)
    a.inter.set_clim(0, top)
    for i in range(2):
        for j in range(2):
            a.inter_text[i][j].set_text(f"{inter[i, j]:.2g}")
            a.inter_text[i][j].set_color("k" if inter[i, j] > 0.6 * top else "w")
    # The RMS error is convex in c (a norm of an affine map), so its largest value over the
    # sliders' square is at a corner: axes that hold every bar the sliders can make.
    corners = [tasks.errors([u, v]) for u in C_RANGE for v in C_RANGE]
    a.ax_err.set_ylim(0, max(float(np.max(corners)) * 1.25, 1e-12))


def draw_weights(a, tasks, c1, c2):
    errors = tasks.errors([c1, c2])
    for bar, e in zip(a.bars, errors, strict=True):
        bar.set_height(e)
    a.c_text.set_text(f"c = ({c1:g}, {c2:g})")


SMALL = (4.4, 3.0)
VIEWS = [
    View("risk", build_risk, draw_risk, figsize=(5.6, 4.2), on_press=press_risk, drag=True,
         overlay=draw_now),
    View("spectrum", build_spectrum, draw_spectrum, figsize=SMALL),
    View("rates", build_rates, draw_rates, figsize=SMALL),
    View("tasks", build_tasks, draw_tasks, figsize=SMALL, overlay=draw_weights),
]


LAYOUT = [("risk", ("spectrum", "rates")), ("tasks",)]


#: The model in a few lines, above the app (folded away in lecture mode).
INTRO = (
    "<p>Fine-tuning a pretrained network in the lazy regime is kernel gradient descent with "
    "the network's empirical NTK at the pretrained weights $\\theta_0$, started from the "
    "pretrained predictor $f_0$: $F_{t+1} = F_t - \\alpha K_n (F_t - y)$. What the pretraining "
    "bought you is a small distance $R = \\lVert f^* - f_0\\rVert_{\\mathcal H}$ from the target "
    "(Sun &amp; Raskutti, arXiv:2602.13942). The data-driven stopping time $\\hat T$ uses only the "
    "kernel's eigenvalues, the noise $\\sigma$ and $R$: stop one step before the first $t$ "
    "with $\\sum_i \\min(\\lambda_i, 1/(\\alpha t)) > nR^2/(4e^2\\sigma^2\\alpha^2t^2)$ "
    "(Raskutti, Wainwright &amp; Yu, JMLR 2014); with high probability the risk is then at "
    "most $12R^2\\hat\\varepsilon_n^2$.</p> "
)

#: What the views show, folded behind "read more" (from the paper and reference/*.md).
ABOUT = (
    "<p><b>The views.</b> <i>Early stopping:</i> bias², variance and risk against the number of "
    "gradient steps, for the pretrained start (solid) and a start far from the target (dashed), "
    "with $\\hat T$ (green), the oracle time (red dot) and the kernel-ridge equivalent (purple "
    "cross); move <b>log10 time</b> to read the curves. <i>Spectrum:</i> the kernel's "
    "eigenvalues with a fitted power law, from a synthetic decay or the empirical NTK of a "
    "small softmax-attention model at pretrained or random weights (the project's own "
    "construction, in the spirit of the paper's fine-tuning setting, not a model from it). "
    "<i>Rates:</i> press <b>Run "
    "rates</b> to see the risk at $\\hat T$ and at the oracle fall with $n$, slopes against the "
    "theory. <i>Task vectors:</i> two tasks fine-tuned from the same $\\theta_0$; the matrix "
    "shows how much each task vector moves each task's predictions (zero off the diagonal when "
    "the tasks use disjoint inputs and the shared head is frozen), and the bars the errors of "
    "$\\theta_0 + c_1\\tau_1 + c_2\\tau_2$.</p> "
    "<p>The formulas are implemented from the papers' statements and the project's derivations "
    "in <code>reference/ntk.md</code>; the paper's own experiments (GPT-Neo) are not reproduced "
    "here.</p> "
)


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
    return App(title="NTK fine-tuning from a pretrained start: early stopping", params=PARAMS,
               stages=STAGES, views=VIEWS, tasks=TASKS, summary=summary, columns=columns,
               presets=PRESETS, layout=LAYOUT, intro=INTRO, about=ABOUT, query_string=query_string,
               debug=debug, initial=overrides, executor=executor,
               tours=tours_for("ntk"))
