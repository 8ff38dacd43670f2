"""End-to-end latency in the browser: input event to canvas pixels changed, per control.

Starts the explorer's Voila server on 127.0.0.1 (``python -m explorer serve``), opens each app
in Debian's Chromium through Playwright and, for each control, types a new value and presses
Enter (or picks an option), then watches the view that control changes until its canvas
pixels differ. Reports p50 and p95 over several changes, with the kernel-side time of the
same change measured headlessly in this process as the baseline, and writes the table to
``test-artifacts/latency.md`` and ``latency.json``.

Run: ``.venv/bin/python benchmarks/bench_browser.py [sbm_app iqp_app ...]`` (needs
/usr/bin/chromium; the named apps only, or all). Never part
of the test run; budgets (issue: shell v2): p95 <= 100 ms for re-view controls and <= 250 ms
for recompute controls.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
sys.path.insert(0, os.path.dirname(__file__))
from _util import explorer_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
REPEAT = 7

#: notebook, app module, [(control label, kind, view index, values)]
CASES = [
    ("01_sbm_mean_field", "sbm_app", [
        ("p (within)", "slider", 0, ["0.31", "0.32", "0.33", "0.34", "0.35", "0.36", "0.37"]),
        ("q (across)", "slider", 0, ["0.11", "0.12", "0.09", "0.08", "0.13", "0.07", "0.14"]),
        ("seed", "text", 0, ["1", "2", "3", "4", "5", "6", "7"]),
        ("initialization", "select", 0, ["bernoulli", "near_centre", "uniform"] * 3),
    ]),
    ("02_iqp_born_machine", "iqp_app", [
        ("initialization", "select", 0,
         ["identity", "unbiased", "data", "covariance", "full_range"] * 2),
        ("log10 scale", "slider", 0, ["-1.5", "-1", "-0.5", "-1.2", "-0.8", "-1.8", "-0.3"]),
    ]),
    ("03_ntk_early_stopping", "ntk_app", [
        ("log10 time", "slider", 0, ["2", "3", "4", "2.5", "3.5", "4.5", "1.5"]),
        ("c1 (task 1)", "slider", 3, ["0.5", "0", "1.5", "0.2", "0.8", "1.2", "-0.5"]),
        ("R (pretrained)", "slider", 0, ["2", "3", "0.5", "1.5", "4", "2.5", "0.7"]),
    ]),
]

SETUP = """([index]) => {
  const fig = document.querySelectorAll("div.jupyter-matplotlib-figure")[index];
  const canvas = fig.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  window.__sum = () => {
    const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let s = 0;
    for (let i = 0; i < d.length; i += 8) s = (s * 31 + d[i]) | 0;
    return s;
  };
  window.__base = window.__sum();
  window.__t0 = null;
  const mark = () => { if (window.__t0 === null) window.__t0 = performance.now(); };
  if (!window.__listening) {      // once per page; __t0 is reset before each change
    document.addEventListener("keydown", e => { if (e.key === "Enter") window.__mark(); },
                              {capture: true});
    document.addEventListener("change", () => window.__mark(), {capture: true});
    window.__listening = true;
  }
  window.__mark = mark;
}"""

WAIT = """() => new Promise(resolve => {
  const start = performance.now();
  const poll = () => {
    if (window.__t0 !== null && window.__sum() !== window.__base) {
      resolve(performance.now() - window.__t0);
    } else if (performance.now() - start > 15000) {
      resolve(-1);
    } else {
      requestAnimationFrame(poll);
    }
  };
  poll();
})"""



def _kernel_side(module: str, label: str, values: list[str]) -> float:
    """Median seconds of the same changes in a headless app: stages and artist updates, no
    Agg rendering (neither the full draws ipympl does on the browser's request nor the
    layered redraws the shell does at once)."""
    import importlib

    mod = importlib.import_module(f"explorer.apps.{module}")
    app = mod.make_app(query_string="")
    name = next(p.name for p in app.params if (p.label or p.name) == label)
    kind = app._by_name[name].kind
    for f in app.figures.values():
        f.canvas.draw_idle = lambda: None
    app._blit_figure = lambda name, overlay_only=True: None
    times = []
    for v in values:
        value = {"float": float, "int": int}.get(kind, str)(v)
        t0 = time.perf_counter()
        app.controls[name].value = value
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), name in app.recompute_controls()


def main(argv: list[str] | None = None) -> None:
    """``argv``: app modules to measure (e.g. ``sbm_app iqp_app``); all when empty."""
    from playwright.sync_api import sync_playwright

    only = set(sys.argv[1:] if argv is None else argv)

    rows, results = [], {}
    with explorer_server(ARTIFACTS / "bench_browser_voila.log") as (_server, base):
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--no-first-run", "--disable-component-update", "--disable-sync"])
            for notebook, module, controls in CASES:
                if only and module not in only:
                    continue
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{base}/voila/render/{notebook}.ipynb")
                page.wait_for_selector("div.jupyter-matplotlib-figure canvas", timeout=120_000)
                page.wait_for_timeout(3000)
                for label, kind, view, values in controls:
                    times = []
                    for value in values[:REPEAT]:
                        page.evaluate(SETUP, [view])
                        if kind == "select":
                            row = page.locator(".widget-dropdown").filter(
                                has=page.get_by_text(label, exact=True))
                            row.locator("select").select_option(value)
                        else:
                            box = page.locator(".widget-slider, .widget-text").filter(
                                has=page.get_by_text(label, exact=True))
                            field = box.locator(".widget-readout, input").first
                            field.click()
                            page.keyboard.press("Control+A")
                            page.keyboard.type(value)
                            page.keyboard.press("Enter")
                        ms = page.evaluate(WAIT)
                        times.append(ms)
                        page.wait_for_timeout(300)
                    kernel, recompute = _kernel_side(module, label, values[:REPEAT])
                    ok = [t for t in times if t >= 0]
                    p50 = float(np.percentile(ok, 50)) if ok else float("nan")
                    p95 = float(np.percentile(ok, 95)) if ok else float("nan")
                    budget = 250 if recompute else 100
                    rows.append((module, label, "recompute" if recompute else "re-view", p50,
                                 p95, kernel * 1e3, budget, len(times) - len(ok)))
                    results[f"{module}:{label}"] = {"p50_ms": p50, "p95_ms": p95,
                                                    "kernel_ms": kernel * 1e3,
                                                    "budget_ms": budget, "timeouts": len(times)
                                                    - len(ok)}
                page.close()
            browser.close()
    head = ("| app | control | path | p50 ms | p95 ms | kernel-side ms (headless median) "
            "| p95 budget ms | timeouts |\n|---|---|---|---|---|---|---|---|")
    lines = [head] + [f"| {m} | {c} | {k} | {a:.0f} | {b:.0f} | {ks:.0f} | {bud} | {to} |"
                      for m, c, k, a, b, ks, bud, to in rows]
    table = "\n".join(lines)
    print(table)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "latency.md").write_text(
        "# End-to-end latency (input event to canvas pixels changed)\n\n" + table + "\n")
    (ARTIFACTS / "latency.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
