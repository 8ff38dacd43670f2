"""One performance report: every speed budget of the issues against its floor, in BENCHMARKS.md.

``make bench`` runs this. It runs each benchmark script of this folder in a subprocess (each
prints a table with a baseline timed in the same run: dense GEMM, SpMM, ``eigh``, an Agg
redraw), the browser latency (``bench_browser.py``) and load (``load_voila.py``) runs, times
Voila's first canvas on a cold and on a preheated kernel, and compares with the peer
libraries in their own environments (``make bench-peers``), then writes one Markdown page:
the budget table (measured figure, floor, ratio, met or missed), the peers side by side with
the agreement of their values, the machine (cores, BLAS, load) and every script's raw table.

The budgets are one declarative table, :data:`BUDGETS`; rendering is separate from measuring
(:func:`evaluate`, :func:`render_budgets`), so the test suite checks the writer on fake
results without running anything heavy.

Run: ``.venv/bin/python benchmarks/report.py --out BENCHMARKS.md`` (tens of minutes on two
shared cores). ``--skip load,browser,...`` leaves sections out; ``--reuse`` renders again from
the results saved in ``test-artifacts/report/`` by an earlier run, measuring only what is
missing there.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import explorer_server, wait_until_warm  # noqa: E402

from explorer.__main__ import pooled_kernels  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ARTIFACTS = ROOT / "test-artifacts"
SAVED = ARTIFACTS / "report"
PEERS = {"pennylane": ROOT / ".venv-peers-pennylane", "nt": ROOT / ".venv-peers-nt"}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SECTIONS = ("scripts", "peers", "first_canvas", "browser", "load")


@dataclass(frozen=True)
class Budget:
    """One speed (or memory, or error) budget named in an issue.

    ``source`` says where the figure comes from: a benchmark script (its table row ``row``;
    a pattern with ``*`` takes the slowest matching row), or ``browser``, ``load``,
    ``first_canvas``, ``memory`` (collected by this module). The budget is met when the
    figure is within ``limit`` (in ``unit``) and its ratio to the floor within ``max_ratio``
    (either may be None: not bounded).
    """

    key: str
    name: str
    measured: str
    floor: str
    budget: str
    source: str
    row: str = ""
    limit: float | None = None
    max_ratio: float | None = None
    unit: str = "s"
    issue: str = ""


_SHELL_V2 = "shell v2"
_IQP_FLOOR = "IQP loss and gradient near the arithmetic floor"
_LECTURE = "hold up in the lecture hall"

#: Every budget named in the issues (and in the benchmark scripts' docstrings), with its floor.
BUDGETS: tuple[Budget, ...] = (
    Budget("sbm_bcavi", "BCAVI sweep, n = 10^6, degree 20, 16 starts",
           "one sweep (difference of 5 and 1 sweeps)", "bare A @ U, same shapes (SpMM)",
           "<= 1.3x floor", "bench_sbm.py", "BCAVI sweep n=1e6 deg 20 R=16", max_ratio=1.3,
           issue="SBM explorer"),
    Budget("sbm_app_recompute", "SBM app: recompute per control at defaults",
           "kernel-side, slowest recompute control (n = 2000, 64 starts)",
           "Agg redraw of every view", "<= 100 ms", "bench_sbm.py", "app: change * (recompute)",
           limit=0.100, issue="SBM explorer"),
    Budget("sbm_app_review", "SBM app: re-view per control at defaults",
           "kernel-side, slowest re-view control", "Agg redraw of every view", "<= 100 ms",
           "bench_sbm.py", "app: change * (re-view)", limit=0.100, issue="SBM explorer"),
    Budget("shell_sbm_draw", "SBM app: control change, recompute + Agg draw",
           "widget callback including the Agg redraw", "bare Agg redraw, same figure",
           "<= 150 ms", "bench_shell.py", "SBM app: control change -> recompute+draw",
           limit=0.150, issue="foundation (app shell)"),
    Budget("iqp_w2_n20", "IQP loss+grad, n = 20, mean weight 2",
           "1000 ops x 1000 samples, all 1-2 qubit gates",
           "cos+sin (single) + two n x n x N products (GEMM)", "<= 10 ms", "bench_iqp.py",
           "n=20 loss+grad, mean weight 2", limit=0.010, issue=_IQP_FLOOR),
    Budget("iqp_w2_n50", "IQP loss+grad, n = 50, mean weight 2",
           "1000 ops x 1000 samples, 1275 gates",
           "cos+sin (single) + two n x n x N products (GEMM)", "<= 10 ms", "bench_iqp.py",
           "n=50 loss+grad, mean weight 2", limit=0.010, issue=_IQP_FLOOR),
    Budget("iqp_w2_n150", "IQP loss+grad, n = 150, mean weight 2",
           "1000 ops x 1000 samples, 11,325 gates",
           "cos+sin (single) + two n x n x N products (GEMM)", "<= 15 ms", "bench_iqp.py",
           "n=150 loss+grad, mean weight 2", limit=0.015, issue=_IQP_FLOOR),
    Budget("iqp_w2_n1000", "IQP loss+grad, n = 1000, mean weight 2",
           "1000 ops x 1000 samples, 500,500 gates", "two n x n x N products (GEMM)",
           "<= 100 ms and <= 2x floor", "bench_iqp.py",
           "n=1000 ... against the 2 products alone", limit=0.100, max_ratio=2.0,
           issue=_IQP_FLOOR),
    Budget("iqp_const_n20", "IQP loss+grad, n = 20, constant bandwidth",
           "mean weight n/3", "cos+sin + two dense (L x m) x (m x N) products (GEMM)",
           "<= 2x floor", "bench_iqp.py", "n=20 loss+grad, constant bandwidth", max_ratio=2.0,
           issue=_IQP_FLOOR),
    Budget("iqp_const_n50", "IQP loss+grad, n = 50, constant bandwidth",
           "mean weight n/3", "cos+sin + two dense (L x m) x (m x N) products (GEMM)",
           "<= 2x floor", "bench_iqp.py", "n=50 loss+grad, constant bandwidth", max_ratio=2.0,
           issue=_IQP_FLOOR),
    Budget("iqp_const_n150", "IQP loss+grad, n = 150, constant bandwidth",
           "mean weight n/3", "cos+sin + two dense (L x m) x (m x N) products (GEMM)",
           "<= 2x floor", "bench_iqp.py", "n=150 loss+grad, constant bandwidth",
           max_ratio=2.0, issue=_IQP_FLOOR),
    Budget("iqp_exact_probs", "IQP exact_probs, n = 20 (210 gates)", "Walsh-Hadamard path",
           "complex FFT of 2^20", "<= 1 s", "bench_iqp.py", "exact_probs n=20 (210 gates)",
           limit=1.0, issue=_IQP_FLOOR),
    Budget("iqp_training", "IQP app default training (5 starts, 150 qubits)",
           "wall time of the app's training task at its defaults",
           "its evaluations x one loss+grad", "<= 30 s", "bench_iqp_training.py",
           "app default training (5 starts), wall", limit=30.0, issue="IQP explorer"),
    Budget("ntk_setup", "NTK predictor setup, n = 2000", "predict_fn (one eigh)",
           "scipy.linalg.eigh, same matrix (LAPACK)", "<= 1.2x floor", "bench_ntk.py",
           "predict_fn setup n=2000 (one eigh)", max_ratio=1.2, issue="NTK explorer"),
    Budget("ntk_stopping", "NTK stopping_time, n = 2000", "bisection on the rule",
           "one O(n) min-sum pass", "<= 1 ms", "bench_ntk.py", "stopping_time n=2000",
           limit=0.001, issue="NTK explorer"),
    Budget("ntk_time_slider", "NTK app time slider (re-view), kernel-side",
           "change of log_t, n = 2000", "Agg redraw of every view", "<= 10 ms", "bench_ntk.py",
           "app: change log_t (re-view)", limit=0.010, issue="NTK explorer"),
    Budget("ntk_app_recompute", "NTK app: recompute per control", "slowest recompute control",
           "Agg redraw of every view", "<= 100 ms", "bench_ntk.py", "app: change * (recompute)",
           limit=0.100, issue="NTK explorer"),
    Budget("browser_review", "Browser end-to-end, re-view controls",
           "p95 input event to canvas pixels, slowest re-view control",
           "kernel-side time of the same change (headless median)", "p95 <= 100 ms",
           "browser", "re-view", limit=0.100, issue=_SHELL_V2),
    Budget("browser_recompute", "Browser end-to-end, recompute controls",
           "p95 input event to canvas pixels, slowest recompute control",
           "kernel-side time of the same change (headless median)", "p95 <= 250 ms",
           "browser", "recompute", limit=0.250, issue=_SHELL_V2),
    Budget("first_canvas_warm", "Voila first canvas, preheated kernel",
           "SBM app page opened on `python -m explorer serve --pool 3` (best of 3 opens)",
           "the page's HTML loaded (DOMContentLoaded)", "<= 1.5 s", "first_canvas", "warm",
           limit=1.5, issue=_LECTURE),
    Budget("load_1_first_canvas", "Load, 1 session: first canvas",
           "load_voila.py --sessions 1", "Voila first canvas, preheated kernel, alone",
           "<= 1.5 s", "load", "1:first_canvas_p50_s", limit=1.5, issue=_LECTURE),
    Budget("load_30_first_canvas", "Load, 30 sessions: p95 first canvas",
           "load_voila.py --sessions 30 (browsers on the same 2 cores)",
           "1 session's first canvas, same run", "<= 5 s", "load", "30:first_canvas_p95_s",
           limit=5.0, issue=_LECTURE),
    Budget("load_30_interaction", "Load, 30 sessions: p95 interaction",
           "slider change to canvas pixels, all sessions (each looks 1 s at a result)",
           "1 session's p95 interaction, same run", "<= 500 ms", "load",
           "30:interaction_p95_ms", limit=0.5, issue=_LECTURE),
    Budget("load_30_errors", "Load, 30 sessions: errors", "console, page and status errors",
           "errors with 1 session, same run", "0", "load", "30:errors", limit=0, unit="count",
           issue=_LECTURE),
    Budget("light_1_first_canvas", "Load, 1 light client: first canvas",
           "load_voila.py --clients light --sessions 1 (the page's kernel messages, no browser)",
           "Voila first canvas, preheated kernel, alone", "<= 1.5 s", "load",
           "light:1:first_canvas_p50_s", limit=1.5, issue=_LECTURE),
    Budget("light_30_first_canvas", "Load, 30 light clients: p95 first canvas",
           "load_voila.py --clients light --sessions 30",
           "1 light client's first canvas, same run", "<= 5 s", "load",
           "light:30:first_canvas_p95_s", limit=5.0, issue=_LECTURE),
    Budget("light_30_interaction", "Load, 30 light clients: p95 interaction",
           "slider update to the next canvas image, all sessions (each looks 1 s at a "
           "result)",
           "1 light client's p95 interaction, same run", "<= 500 ms", "load",
           "light:30:interaction_p95_ms", limit=0.5, issue=_LECTURE),
    Budget("light_30_errors", "Load, 30 light clients: errors", "timeouts and failures",
           "errors with 1 light client, same run", "0", "load", "light:30:errors", limit=0,
           unit="count", issue=_LECTURE),
    Budget("load_idle_kernel", "Idle kernel memory", "largest RSS of a preheated app kernel",
           "bare Python importing numpy, scipy, matplotlib, ipywidgets (RSS)", "<= 250 MB",
           "load", "idle_kernel_mb_max", limit=250.0, unit="MB", issue=_LECTURE),
)


# ---------------------------------------------------------------------------- evaluating


@dataclass(frozen=True)
class Result:
    """One budget's measured figure and its floor (both in the budget's unit; None: absent)."""

    value: float | None
    floor: float | None = None
    note: str = ""


def ratio(value: float | None, floor: float | None) -> float | None:
    if value is None or floor is None or not floor or math.isnan(value) or math.isnan(floor):
        return None
    return value / floor


def status(b: Budget, r: Result | None) -> str:
    """"met", "MISSED" or "not measured"."""
    if r is None or r.value is None or math.isnan(r.value):
        return "not measured"
    ok = b.limit is None or r.value <= b.limit
    q = ratio(r.value, r.floor)
    if b.max_ratio is not None:
        ok = ok and q is not None and q <= b.max_ratio
    return "met" if ok else "MISSED"


def fmt_value(x: float | None, unit: str = "s") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if unit == "s":
        if x >= 1.0:
            return f"{x:.2f} s"
        return f"{x * 1e3:.3g} ms" if x * 1e3 < 10 else f"{x * 1e3:.0f} ms"
    if unit == "MB":
        return f"{x:.0f} MB"
    return f"{x:g}"


def fmt_ratio(q: float | None) -> str:
    if q is None or math.isnan(q) or math.isinf(q):
        return "-"
    return f"{q:.2f}x" if q < 100 else f"{q:.0f}x"


def render_budgets(results: dict[str, Result], budgets=BUDGETS) -> str:
    """The budget table (Markdown) and a summary line of what is met and missed."""
    lines = ["| budget | measured | floor (same run) | figure | floor | ratio | budget "
             "| status |", "|---|---|---|---|---|---|---|---|"]
    missed, unmeasured, met = [], [], 0
    for b in budgets:
        r = results.get(b.key)
        st = status(b, r)
        if st == "met":
            met += 1
        elif st == "MISSED":
            missed.append(b.name)
        else:
            unmeasured.append(b.name)
        shown = "**MISSED**" if st == "MISSED" else st
        if r is not None and r.note:
            shown += f" ({r.note})"
        lines.append(f"| {b.name} | {b.measured} | {b.floor} | "
                     f"{fmt_value(r.value if r else None, b.unit)} | "
                     f"{fmt_value(r.floor if r else None, b.unit)} | "
                     f"{fmt_ratio(ratio(r.value, r.floor) if r else None)} | {b.budget} | "
                     f"{shown} |")
    summary = f"**{met} of {len(budgets)} budgets met.**"
    summary += (" Missed: " + "; ".join(missed) + "." if missed else " None missed.")
    if unmeasured:
        summary += " Not measured in this run: " + "; ".join(unmeasured) + "."
    return summary + "\n\n" + "\n".join(lines)


# ---------------------------------------------------------------------------- collecting


def _script_result(b: Budget, parsed: dict) -> Result | None:
    rows = []
    for what, found in parsed.items():
        if what == b.row or ("*" in b.row and fnmatch.fnmatchcase(what, b.row)):
            rows.append(found[0])
    if not rows:
        return None
    worst = max(rows, key=lambda r: r["seconds"])
    note = worst["what"][len("app: change "):].split(" ")[0] if "*" in b.row else ""
    return Result(worst["seconds"], worst["baseline_seconds"] or None, note)


def _browser_result(b: Budget, latency: dict) -> Result | None:
    rows = [(k, v) for k, v in latency.items()
            if (v["budget_ms"] == 250) == (b.row == "recompute")]
    if not rows:
        return None
    k, v = max(rows, key=lambda kv: kv[1]["p95_ms"])
    return Result(v["p95_ms"] / 1e3, v["kernel_ms"] / 1e3, k.split(":", 1)[1])


def _load_result(b: Budget, load: list, extra: dict) -> Result | None:
    by = {(r.get("clients", "browser"), r["sessions"]): r for r in load}
    if b.row == "idle_kernel_mb_max":
        values = [r["idle_kernel_mb_max"] for r in load]
        return Result(max(values), extra.get("bare_python_mb")) if values else None
    clients, sessions, field = (["browser"] + b.row.split(":"))[-3:]
    r, one = by.get((clients, int(sessions))), by.get((clients, 1))
    if r is None:
        return None
    if field == "errors":
        return Result(float(len(r["errors"])), float(len(one["errors"])) if one else None)
    scale = 1e-3 if field.endswith("_ms") else 1.0
    if sessions == "1":
        floor = extra.get("first_canvas", {}).get("warm_dom_s")
    else:
        floor_field = field.replace("_p95", "_p50") if field.startswith("first") else field
        floor = one[floor_field] * scale if one else None
    return Result(r[field] * scale, floor)


def collect(saved: dict) -> dict[str, Result]:
    """Budget results from the saved measurements of every section."""
    out: dict[str, Result] = {}
    scripts = saved.get("scripts", {})
    for b in BUDGETS:
        r = None
        if b.source.endswith(".py") and b.source in scripts:
            r = _script_result(b, scripts[b.source].get("rows", {}))
        elif b.source == "browser" and saved.get("browser", {}).get("latency"):
            r = _browser_result(b, saved["browser"]["latency"])
        elif b.source == "load" and saved.get("load", {}).get("rows"):
            r = _load_result(b, saved["load"]["rows"], {
                "bare_python_mb": saved["load"].get("bare_python_mb"),
                "first_canvas": saved.get("first_canvas", {})})
        elif b.source == "first_canvas" and saved.get("first_canvas", {}).get("warm_s"):
            fc = saved["first_canvas"]
            r = Result(fc["warm_s"], fc.get("warm_dom_s"))
        if r is not None:
            out[b.key] = r
    return out


def run_scripts() -> dict:
    """Each bench_*.py except the browser one, in turn; its output and parsed table."""
    sys.path.insert(0, str(HERE))
    from _util import parse_table

    out = {}
    for name in ("bench_sbm.py", "bench_shell.py", "bench_iqp.py", "bench_iqp_training.py",
                 "bench_ntk.py"):
        print(f"report: {name}", flush=True)
        t0 = time.perf_counter()
        try:
            p = subprocess.run([sys.executable, str(HERE / name)], capture_output=True,
                               text=True, timeout=1800, cwd=ROOT)
            text, err = p.stdout, (p.stderr[-1500:] if p.returncode else "")
        except subprocess.TimeoutExpired as exc:
            text, err = exc.stdout or "", "timed out after 1800 s"
        out[name] = {"text": text, "error": err, "rows": parse_table(text),
                     "wall_s": time.perf_counter() - t0}
        print(text, flush=True)
    return out



FIRST_CANVAS_JS = """() => new Promise(resolve => {
  const start = performance.now();
  const painted = c => {
    if (!c.width) return false;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 64) if (d[i] !== 0) return true;
    return false;
  };
  const poll = () => {
    if (performance.now() - start > 90000) return resolve(-1);
    const all = document.querySelectorAll("div.jupyter-matplotlib-figure canvas");
    for (const c of all) if (painted(c)) return resolve(performance.now());
    setTimeout(poll, 10);     // not requestAnimationFrame: it may not fire for this page
  };
  poll();
})"""


def _open_pages(pool: int, opens: int, notebook: str) -> list[dict]:
    """Start ``python -m explorer serve --pool pool``, wait for its pools, open the app page
    ``opens`` times in turn (each a new page), return per open: first canvas and
    DOMContentLoaded, in s from the navigation's start."""
    from playwright.sync_api import sync_playwright

    out = []
    with explorer_server(ARTIFACTS / f"report_first_canvas_pool{pool}.log", "--pool",
                         str(pool)) as (server, base):
        # Warm means every pooled kernel has run its notebook and is idle (Voila's "filled"
        # log comes when they have only started); without pools, an idle server.
        wait_until_warm(server.pid, pooled_kernels(ROOT / "notebooks", pool) if pool else 0)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--no-first-run", "--disable-component-update", "--disable-sync"])
            # No throwaway page before the first open: with one (the landing page, or even
            # the file list) the next app page's kernel websocket closed at once on
            # preheated kernels, and its canvas never came. The first open therefore
            # includes Chromium's first parse of Voila's bundles; the budget takes the best.
            for _ in range(opens):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{base}/voila/render/{notebook}", wait_until="commit",
                          timeout=300_000)
                page.wait_for_function("() => document.readyState !== 'loading'",
                                       timeout=300_000)
                dom = page.evaluate("() => performance.getEntriesByType('navigation')[0]"
                                    ".domContentLoadedEventEnd")
                canvas = page.evaluate(FIRST_CANVAS_JS)
                if canvas < 0:      # reported with the others, not fatal
                    out.append({"first_canvas_s": None, "dom_s": dom / 1e3,
                                "error": "no canvas within 90 s of the page's start"})
                else:
                    out.append({"first_canvas_s": canvas / 1e3, "dom_s": dom / 1e3})
                print(f"report: first canvas {out[-1]} (pool {pool})", flush=True)
                page.close()
                time.sleep(1.0)
            browser.close()
    return out


def run_first_canvas(notebook: str = "01_sbm_mean_field.ipynb") -> dict:
    """Voila's first canvas on a preheated kernel (warm) and on a kernel that has not run
    the notebook (cold: ``--pool 0``, no pool for the apps), three page opens each."""
    out: dict = {"notebook": notebook}
    for kind, pool in (("warm", 3), ("cold", 0)):
        print(f"report: first canvas, {kind} (--pool {pool})", flush=True)
        try:
            opens = _open_pages(pool, 3, notebook)
            out[f"{kind}_opens"] = opens
            ok = [o for o in opens if o["first_canvas_s"] is not None]
            if ok:
                out[f"{kind}_s"] = min(o["first_canvas_s"] for o in ok)
                out[f"{kind}_dom_s"] = min(o["dom_s"] for o in ok)
            else:
                out[f"{kind}_error"] = "no open drew a canvas"
        except Exception as exc:  # noqa: BLE001 - reported, not fatal
            out[f"{kind}_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    return out


def run_browser() -> dict:
    print("report: bench_browser.py", flush=True)
    p = subprocess.run([sys.executable, str(HERE / "bench_browser.py")], capture_output=True,
                       text=True, timeout=3600, cwd=ROOT)
    out = {"text": p.stdout, "error": p.stderr[-1500:] if p.returncode else ""}
    path = ARTIFACTS / "latency.json"
    if p.returncode == 0 and path.exists():
        out["latency"] = json.loads(path.read_text())
        out["table"] = (ARTIFACTS / "latency.md").read_text()
    return out


def bare_python_mb() -> float:
    """Peak resident memory of a fresh Python that imports what a kernel imports, in MB.

    Read as the child's own VmHWM: ``ru_maxrss`` would include the pages it shared with this
    process between the fork and the exec (it reported this report's own size, 350 MB).
    """
    code = ("import numpy, scipy.linalg, matplotlib.pyplot, ipywidgets; "
            "print(next(int(line.split()[1]) for line in open('/proc/self/status') "
            "if line.startswith('VmHWM')) / 1024)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    return float(p.stdout.strip())


def run_load(sessions=(1, 9, 30), timeout_s: float = 1800.0) -> dict:
    script = HERE / "load_voila.py"
    out: dict = {"bare_python_mb": bare_python_mb()}
    if not script.exists():
        out["error"] = "benchmarks/load_voila.py is missing"
        return out
    print("report: load_voila.py --sessions " + " ".join(map(str, sessions)), flush=True)
    path = ARTIFACTS / "load.json"
    path.unlink(missing_ok=True)
    p = subprocess.Popen([sys.executable, str(script), "--sessions", *map(str, sessions), "--cull"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        stdout, stderr = p.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        # SIGINT, so that load_voila's finally stops its server and kernels
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=120)
        stderr = (f"load_voila.py did not finish within {timeout_s:.0f} s and was "
                  "interrupted (a session waiting for a first canvas that never came)\n"
                  + (stderr or ""))
    out.update(text=stdout, error=stderr[-1500:] if p.returncode else "")
    if p.returncode == 0 and path.exists():
        out["rows"] = json.loads(path.read_text())
        out["table"] = (ARTIFACTS / "load.md").read_text()
    return out


# ---------------------------------------------------------------------------- peers


def _peer_python(name: str) -> Path | None:
    exe = PEERS[name] / "bin" / "python"
    return exe if exe.exists() else None


def iqp_inputs(n: int, L: int = 1000, N: int = 1000, seed: int = 2):
    """The inputs of one IQP comparison and the explorer's estimate on them.

    The operators and bit strings are drawn exactly as :func:`explorer.iqp.mmd2` draws them
    from ``rng=seed`` (operators first, then the strings), so the peers evaluate their
    estimators on the very draws behind the explorer's number; the peers' agreement to
    rounding checks this in every run.
    """
    import numpy as np

    from explorer import iqp

    rng = np.random.default_rng(0)
    gates = iqp.local_gates(n)
    theta = iqp.init_params("identity", gates, scale=0.1, n=n, rng=1)
    data = (rng.random((500, n)) < 0.45).astype(np.uint8)
    sigma = iqp.sigma_for_mean_weight(n, 2.0)
    draw = np.random.default_rng(seed)
    ops = (draw.random((L, n)) < iqp.operator_probability(sigma)).astype(np.uint8)
    Z = draw.integers(0, 2, size=(N, n), dtype=np.uint8)
    arrays = {"n": n, "n_ops": L, "n_samples": N, "theta": theta, "data": data,
              "sigma": sigma, "ops": ops, "Z": Z,
              "gates": np.array([[g[0], g[1] if len(g) > 1 else -1] for g in gates])}
    return gates, arrays


def run_peers_iqp(ns=(50, 150)) -> dict:
    import numpy as np

    sys.path.insert(0, str(HERE))
    from _util import best_of

    from explorer import iqp
    from explorer.iqp._circuit import GateSet

    exe = _peer_python("pennylane")
    out: dict = {}
    for n in ns:
        gates, arrays = iqp_inputs(n)
        gs = GateSet(gates, n)
        args = (arrays["theta"], gs, arrays["data"], float(arrays["sigma"]))
        value, grad = iqp.mmd2(*args, n_ops=1000, n_samples=1000, rng=2, grad=True,
                               precision="double")

        def ours(args=args):
            return iqp.mmd2(*args, n_ops=1000, n_samples=1000, rng=3, grad=True)

        t0 = time.perf_counter()
        ours()
        first = time.perf_counter() - t0
        before = best_of(ours, repeat=7)
        rec = {"explorer_first_s": first, "explorer_value": value,
               "explorer_grad_absmax": float(np.abs(grad).max())}
        if exe is None:
            rec["error"] = "not installed: run make bench-peers"
            out[str(n)] = rec
            continue
        SAVED.mkdir(parents=True, exist_ok=True)
        inp, res = SAVED / f"iqp_in_{n}.npz", SAVED / f"iqp_out_{n}.json"
        np.savez(inp, **arrays)
        print(f"report: IQP peers at n = {n}", flush=True)
        p = subprocess.run([str(exe), str(HERE / "peers" / "iqp_peers.py"), str(inp), str(res)],
                           capture_output=True, text=True, timeout=1800, cwd=ROOT)
        after = best_of(ours, repeat=7)
        rec["explorer_warm_s"] = min(before, after)
        if p.returncode != 0 or not res.exists():
            rec["error"] = "peer script failed: " + p.stderr[-800:]
            out[str(n)] = rec
            continue
        peers = json.loads(res.read_text())
        for name in ("pennylane", "iqpopt"):
            r = peers.get(name, {})
            if "grad" in r:
                g = np.asarray(r.pop("grad"))
                r["value_absdiff"] = abs(r["value"] - value)
                r["grad_absdiff_max"] = float(np.abs(g - grad).max())
            rec[name] = r
        inp.unlink()
        out[str(n)] = rec
    return out


def ntk_inputs(n: int = 2000, n_test: int = 200, width: int = 1500):
    """A kernel, its conversion to neural-tangents' convention, and the explorer's predictor.

    The explorer runs discrete steps f <- f - alpha (K/n)(f - y): the factor of mode i after
    t steps is (1 - alpha lam_i)^t. neural-tangents runs gradient flow with K/N (N = the number
    of targets, here n): exp(-lr t mu_i). Both are equal for every t when neural-tangents gets
    the kernel with eigenvalues mu_i = -log(1 - alpha lam_i) / alpha (times n) and lr = alpha;
    its test predictions go through K_test K^-1, so it gets K_test U diag(mu / lam) U^T.
    (alpha = 0.5 / lam_1 keeps every 1 - alpha lam_i > 0.)
    """
    import numpy as np

    rng = np.random.default_rng(0)
    J = rng.standard_normal((n + n_test, width))
    K_all = J @ J.T
    K, K_test = K_all[:n, :n], K_all[n:, :n]
    y, f0, f0_test = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n_test)
    lam, U = np.linalg.eigh(K / n)
    lam = np.maximum(lam, 0.0)
    alpha = 0.5 / lam.max()
    big = lam > 1e-12 * lam.max()
    mu = np.where(big, -np.log1p(-alpha * lam) / alpha, lam)
    scale = np.where(big, mu / np.where(big, lam, 1.0), 1.0)
    K_nt = (U * (n * mu)) @ U.T
    arrays = {"K_nt": (K_nt + K_nt.T) / 2, "K_test_nt": (K_test @ U * scale) @ U.T, "y": y,
              "f0": f0, "f0_test": f0_test, "learning_rate": alpha,
              "times": np.array([0.0, 10.0, 137.0, 1e4])}
    return (K, y, f0, K_test, f0_test, alpha), arrays


def run_peers_nt() -> dict:
    import numpy as np

    sys.path.insert(0, str(HERE))
    from _util import best_of

    from explorer import ntk

    (K, y, f0, K_test, f0_test, alpha), arrays = ntk_inputs()

    def setup():
        return ntk.predict_fn(K, y, f0, alpha=alpha, K_test=K_test, f0_test=f0_test)

    predict = setup()
    ts = iter(np.linspace(3.0, 3000.0, 10_000))
    rec: dict = {"n": len(y), "n_test": len(f0_test)}
    setup_before = best_of(setup, repeat=3)
    call_before = best_of(lambda: predict(float(next(ts))), repeat=30)
    exe = _peer_python("nt")
    if exe is None:
        rec.update(explorer_setup_s=setup_before, explorer_call_s=call_before,
                   error="not installed: run make bench-peers")
        return rec
    SAVED.mkdir(parents=True, exist_ok=True)
    inp, res = SAVED / "nt_in.npz", SAVED / "nt_out.json"
    np.savez(inp, **arrays)
    print("report: neural-tangents", flush=True)
    p = subprocess.run([str(exe), str(HERE / "peers" / "nt_predict.py"), str(inp), str(res)],
                       capture_output=True, text=True, timeout=1800, cwd=ROOT)
    rec["explorer_setup_s"] = min(setup_before, best_of(setup, repeat=3))
    rec["explorer_call_s"] = min(call_before,
                                 best_of(lambda: predict(float(next(ts))), repeat=30))
    if p.returncode != 0 or not res.exists():
        rec["error"] = "peer script failed: " + p.stderr[-800:]
        return rec
    peer = json.loads(res.read_text())
    train, test = np.asarray(peer.pop("train")), np.asarray(peer.pop("test"))
    ours_train = np.array([predict(t).train for t in arrays["times"]])
    ours_test = np.array([predict(t).test for t in arrays["times"]])
    rec.update(peer)
    rec["train_absdiff_max"] = float(np.abs(train - ours_train).max())
    rec["test_absdiff_max"] = float(np.abs(test - ours_test).max())
    rec["prediction_absmax"] = float(max(np.abs(ours_train).max(), np.abs(ours_test).max()))
    rec["times"] = arrays["times"].tolist()
    inp.unlink()
    return rec


def run_peers() -> dict:
    return {"iqp": run_peers_iqp(), "nt": run_peers_nt()}


def render_peers(peers: dict) -> str:
    """Side-by-side table of the explorer and the peers, with the agreement of the values."""
    if not peers:
        return "Not measured in this run."
    lines = ["| comparison | explorer | peer | peer / explorer | first call: explorer, peer "
             "| values on identical inputs |", "|---|---|---|---|---|---|"]
    notes = []
    for n, rec in peers.get("iqp", {}).items():
        if "error" in rec:
            notes.append(f"IQP n = {n}: {rec['error']}")
            continue
        for name in ("iqpopt", "pennylane"):
            r = rec.get(name, {})
            if "error" in r:
                hint = (" — iqpopt is not on PyPI: clone XanaduAI/iqpopt and run "
                        "`make bench-peers IQPOPT_SRC=<clone>`" if name == "iqpopt" else "")
                notes.append(f"{name} at n = {n}: {r['error']}{hint}")
                continue
            if "warm_s" not in r:
                continue
            speed = fmt_ratio(ratio(r["warm_s"], rec["explorer_warm_s"]))
            agree = (f"loss differs by {r['value_absdiff']:.1e} (loss "
                     f"{rec['explorer_value']:.3e}); gradient by {r['grad_absdiff_max']:.1e} "
                     f"(largest entry {rec['explorer_grad_absmax']:.1e})")
            lines.append(
                f"| IQP loss + gradient, n = {n}, 1000 ops x 1000 samples, mean weight 2 "
                f"| {fmt_value(rec['explorer_warm_s'])} | {r['library']}: "
                f"{fmt_value(r['warm_s'])} | {speed} "
                f"| {fmt_value(rec['explorer_first_s'])}, {fmt_value(r['first_s'])} "
                f"| {agree} |")
    nt = peers.get("nt", {})
    if "error" in nt:
        notes.append(f"neural-tangents: {nt['error']}")
    elif "call_s" in nt:
        agree = (f"train predictions differ by at most {nt['train_absdiff_max']:.1e}, test by "
                 f"{nt['test_absdiff_max']:.1e} (predictions up to "
                 f"{nt['prediction_absmax']:.1f}; t = "
                 + ", ".join(f"{t:g}" for t in nt["times"]) + " steps)")
        lines.append(
            f"| NTK closed-form predictor, re-evaluation at a new time (n = {nt['n']}, "
            f"{nt['n_test']} test) | {fmt_value(nt['explorer_call_s'])} | {nt['library']} "
            f"(jitted): {fmt_value(nt['call_s'])} | "
            f"{fmt_ratio(ratio(nt['call_s'], nt['explorer_call_s']))} | -, compile "
            f"{fmt_value(nt['compile_s'])} | {agree} |")
        lines.append(
            f"| NTK predictor setup (one eigendecomposition + first prediction) "
            f"| {fmt_value(nt['explorer_setup_s'])} | {nt['library']}: "
            f"{fmt_value(nt['setup_s'])} | "
            f"{fmt_ratio(ratio(nt['setup_s'], nt['explorer_setup_s']))} | - | same |")
    text = "\n".join(lines)
    if notes:
        text += "\n\n" + "\n".join(f"- {x}" for x in notes)
    return text


PEER_NOTES = """\
How the peers were run: each in its own virtual environment made by `make bench-peers`
(pinned versions in `benchmarks/peers/requirements-*.txt`), as a subprocess running a script of
`benchmarks/peers/` that reads the inputs this run wrote (`.npz`) and writes its timings and
values back (JSON). Timings are the best of several warm calls (JAX: jitted
`value_and_grad`, compiled by the first call, whose time is shown apart); the explorer's
figure is the best of its calls timed right before and right after the peer's run, so both
saw the same load. Identical inputs: the same gates (all one- and two-qubit gates), angles,
data (500 samples), bandwidth, and for the values the very operators and bit strings behind
the explorer's estimate (PennyLane: its `labs.phox` core math on them; iqpopt:
`loss_estimate_iqp` with its bit-string draw replaced by the given one). Conventions: the
peers' gates are exp(-i theta X_g), ours exp(+i theta X_g): the peers get -theta, which leaves
the loss unchanged and flips the gradient (flipped back before comparing). PennyLane's
`labs.phox.mmd_loss` is its classical IQP-MMD estimator (experimental module; core PennyLane
has `qml.IQP` and the expectation-value estimator `qml.qnn.iqp_expval`, no MMD loss); its
gradient stops the gradient through the standard-error term of the unbiased correction
(`jax.lax.stop_gradient` in `_compute_single_mmd`), so it is not the exact derivative of its
own estimate: it differs from the explorer's (and iqpopt's) by an O(1/n_samples) term, while
the loss values agree to rounding. The explorer computes cos and sin in single precision at
this size (`precision="auto"`, error below 4.2e-6, far under the estimator's 1/sqrt(1000)
sampling error); the agreement check uses `precision="double"`; the peers run JAX in double.
neural-tangents (`predict.gradient_descent_mse`) runs continuous gradient flow with K divided
by the number of targets; the explorer runs discrete steps with K/n; the kernel handed to
neural-tangents is converted so that both describe the same path (see `ntk_inputs` in
`benchmarks/report.py`), and the predictions are compared at four times."""


def render_first_canvas(fc: dict) -> str:
    if not fc:
        return "Not measured in this run."
    lines = ["| kernel | server | first canvas (each open) | page HTML loaded (DOMContentLoaded) |",
             "|---|---|---|---|"]
    for kind, server in (("warm", "`--pool 3` (preheated kernels that ran the notebook)"),
                         ("cold", "`--pool 0` (no pool for the apps: each page runs it)")):
        if f"{kind}_error" in fc and not fc.get(f"{kind}_opens"):
            lines.append(f"| {kind} | {server} | failed: {fc[kind + '_error']} | - |")
            continue
        opens = fc.get(f"{kind}_opens", [])
        lines.append(f"| {kind} | {server} | "
                     + ", ".join(fmt_value(o["first_canvas_s"]) if o["first_canvas_s"]
                                 else "no canvas in 90 s" for o in opens) + " | "
                     + ", ".join(fmt_value(o["dom_s"]) for o in opens) + " |")
    text = "\n".join(lines)
    if fc.get("warm_s") and fc.get("cold_s"):
        text += (f"\n\nCold / warm first canvas: {fmt_ratio(fc['cold_s'] / fc['warm_s'])} "
                 f"(best open of each; page `{fc['notebook']}`, one Chromium on the same "
                 "machine).")
    return text


# ---------------------------------------------------------------------------- machine


def machine_info() -> dict:
    import numpy as np

    info: dict = {"cores": os.cpu_count(), "python": sys.version.split()[0],
                  "numpy": np.__version__}
    try:
        info["loadavg_start"] = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "num_threads",
                                               "threading_layer", "architecture")}
                        for d in threadpool_info()]
    except ImportError:
        info["blas"] = None
    try:
        cfg = np.show_config(mode="dicts")
        info["numpy_blas"] = {k: v.get("name") for k, v in
                              cfg.get("Build Dependencies", {}).items() if isinstance(v, dict)}
    except Exception:  # noqa: BLE001 - older numpy: no dict mode
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["env"] = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                              "MKL_NUM_THREADS") if k in os.environ}
    return info


def render_machine(m: dict) -> str:
    blas = m.get("blas") or []
    blas_text = "; ".join(f"{b.get('internal_api')} {b.get('version')} "
                          f"({b.get('num_threads')} threads, {b.get('architecture')})"
                          for b in blas) or "threadpoolctl not installed"
    return "\n".join([
        f"- cores: {m.get('cores')} ({m.get('cpu', 'cpu unknown')}), shared with other "
        "workers",
        f"- load average (1, 5, 15 min) at the start: {' '.join(m.get('loadavg_start', []))}; "
        f"at the end: {' '.join(m.get('loadavg_end', []))}",
        f"- Python {m.get('python')}, numpy {m.get('numpy')}; BLAS (threadpoolctl): "
        f"{blas_text}; numpy built against: {m.get('numpy_blas', '?')}",
        f"- thread variables: {m.get('env') or 'none set'}",
    ] + ([f"- observed: {m['observed']}"] if m.get("observed") else []))


# ---------------------------------------------------------------------------- page


def _load_notes(saved: dict) -> str:
    notes = []
    first = saved.get("load_first_attempt")
    if first and first.get("error"):
        notes.append("An earlier attempt in this run (`--sessions 1 9 30`) did not finish: "
                     "its 9-session round waited without end for first canvases, and was "
                     "interrupted. " + first.get("note", ""))
    load = saved.get("load", {})
    if load.get("error") and load.get("rows"):
        notes.append("Error output: `" + load["error"].strip().splitlines()[-1] + "`")
    return "\n\n".join(notes)


def render_page(saved: dict) -> str:
    results = collect(saved)
    m = saved.get("machine", {})
    scripts = saved.get("scripts", {})
    parts = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`benchmarks/report.py`) on {saved.get('date', '?')}, in "
        f"{saved.get('wall_min', 0):.0f} min. The machine is shared and noisy: each figure "
        "comes with a floor timed in the same run (a bare BLAS, sparse or LAPACK operation "
        "of the same shape, an Agg redraw, the same change without the browser), and the ratio "
        "is what to compare between runs. Budgets are those named in the issues.",
        "",
        "Sections measured at: " + ", ".join(
            f"{k} {saved.get('measured_at', {}).get(k, 'an earlier run (reused)')}"
            for k in SECTIONS if k in saved) + ".",
        "",
        "## Machine",
        "",
        render_machine(m),
        "",
        "## Budgets",
        "",
        render_budgets(results),
        "",
        "## Peers, side by side",
        "",
        render_peers(saved.get("peers", {})),
        "",
        PEER_NOTES,
        "",
        "## Voila first canvas: cold and warm kernel",
        "",
        render_first_canvas(saved.get("first_canvas", {})),
        "",
        "## Browser latency (`bench_browser.py`, test-artifacts/latency.md)",
        "",
        saved.get("browser", {}).get("table", "").split("\n", 2)[-1].strip()
        or ("Not measured: " + ((saved.get("browser", {}).get("error") or "skipped").strip()
                                .splitlines() or ["?"])[0]),
        "",
        "## Load (`load_voila.py --sessions 1 9 30`, test-artifacts/load.md)",
        "",
        saved.get("load", {}).get("table", "").split("\n", 2)[-1].strip()
        or ("Not measured: " + ((saved.get("load", {}).get("error") or "skipped").strip()
                                .splitlines() or ["?"])[0]),
        "",
        _load_notes(saved),
        "",
        "## Each benchmark script's table",
        "",
    ]
    for name, rec in scripts.items():
        parts += [f"### {name} ({rec.get('wall_s', 0):.0f} s)", "", "```",
                  rec.get("text", "").rstrip(), "```"]
        if rec.get("error"):
            parts += ["", f"Error: `{rec['error'].strip().splitlines()[-1]}`"]
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--skip", default="", help="comma-separated: " + ", ".join(SECTIONS))
    parser.add_argument("--reuse", action="store_true",
                        help="keep the sections saved by an earlier run; measure the rest")
    parser.add_argument("--load-sessions", type=int, nargs="+", default=[1, 9, 30])
    parser.add_argument("--load-timeout", type=float, default=1800.0,
                        help="seconds before the load run is interrupted")
    args = parser.parse_args(argv)
    skip = {s for s in args.skip.split(",") if s}
    if skip - set(SECTIONS):
        raise SystemExit(f"report: unknown sections {sorted(skip - set(SECTIONS))}; "
                         f"choose from {', '.join(SECTIONS)}")
    sys.path.insert(0, str(ROOT))
    SAVED.mkdir(parents=True, exist_ok=True)
    path = SAVED / "results.json"
    saved = json.loads(path.read_text()) if args.reuse and path.exists() else {}
    t0 = time.monotonic()
    todo = [n for n in SECTIONS if n not in skip and not (args.reuse and n in saved)]
    if todo or "machine" not in saved:       # a render alone keeps the measuring run's
        saved["machine"] = machine_info()
        saved["date"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    runners = {"scripts": run_scripts, "peers": run_peers, "first_canvas": run_first_canvas,
               "browser": run_browser,
               "load": lambda: run_load(args.load_sessions, args.load_timeout)}
    for name in SECTIONS:
        if name in skip or (args.reuse and name in saved):
            continue
        saved.setdefault("measured_at", {})[name] = _dt.datetime.now(
            _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        saved[name] = runners[name]()
        path.write_text(json.dumps(saved, indent=1, default=str))
    if todo:
        saved["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
        saved["wall_min"] = saved.get("wall_min", 0) + (time.monotonic() - t0) / 60
    path.write_text(json.dumps(saved, indent=1, default=str))
    Path(args.out).write_text(render_page(saved))
    print(render_budgets(collect(saved)))
    print(f"report: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
