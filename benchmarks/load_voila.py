"""A class arriving at once: N browser sessions against one explorer server (`make load`).

Starts ``python -m explorer serve`` on 127.0.0.1 (a fresh kernel per visitor, or with ``pool``
preheated kernels per app, waiting until they are filled), then opens N sessions in Debian's
Chromium through Playwright, all within a few seconds, spread over the three apps. Each session
waits for its first canvas, makes several control changes (timing each from the input event to
the canvas's pixels changing), picks a preset, runs one background task (a short one, bounded
in time) and leaves. Reported: p50/p95 first canvas, p50/p95 interaction latency, errors,
resident memory per kernel and in all. The table is printed and appended to
``test-artifacts/load.md`` (``make bench`` copies it into BENCHMARKS.md). Bounded: at most
``--sessions`` pages and ``--timeout`` seconds.

Run: ``.venv/bin/python benchmarks/load_voila.py --sessions 30`` (needs /usr/bin/chromium).
Targets (issue: hold up in the lecture hall), on a 2-core machine: one session's first canvas
<= 1.5 s; 30 sessions: p95 first canvas <= 5 s, p95 interaction <= 500 ms, 0 errors, <= 250 MB
per idle kernel. Browsers and server share the machine's cores, which the report says.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

#: notebook, URL query (a short task), slider label and values, task button
SESSIONS = [
    ("01_sbm_mean_field.ipynb", "", "p (within)", ["0.31", "0.33", "0.28", "0.35"],
     "Run Monte Carlo"),
    ("02_iqp_born_machine.ipynb", "?n_train=10&steps=20&n_ops=40",
     "log10 scale", ["-1.5", "-1", "-0.5", "-1.2"], "Run training"),
    ("03_ntk_early_stopping.ipynb", "", "R (pretrained)", ["2", "3", "0.5", "1.5"],
     "Run rates"),
]

#: Console errors that are not the app's: offline CDN links of Voila's template, and
#: Voila 0.5's kernel-shutdown call without an XSRF token when a page is left.
IGNORED = ("cdn.jsdelivr.net", "fonts.googleapis", "fonts.gstatic", "/voila/api/shutdown/")

WATCH = """(index) => {
  const fig = document.querySelectorAll("div.jupyter-matplotlib-figure")[index];
  const canvas = fig.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const sum = () => {
    const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let s = 0;
    for (let i = 0; i < d.length; i += 16) s = (s * 31 + d[i]) | 0;
    return s;
  };
  window.__sum = sum;
  window.__base = sum();
  window.__t0 = performance.now();
}"""

# Polled with timers, not requestAnimationFrame: a browser pauses animation frames for pages
# that are not in front, and all but one of the sessions are in the background.
CHANGED = """(timeout) => new Promise(resolve => {
  const poll = () => {
    if (window.__sum() !== window.__base) resolve(performance.now() - window.__t0);
    else if (performance.now() - window.__t0 > timeout) resolve(-1);
    else setTimeout(poll, 10);
  };
  poll();
})"""

FIRST_CANVAS = """(timeout) => new Promise(resolve => {
  const start = performance.now();
  const poll = () => {
    for (const c of document.querySelectorAll("div.jupyter-matplotlib-figure canvas")) {
      if (c.width === 0) continue;
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 64) if (d[i] !== 0) return resolve(performance.now());
    }
    if (performance.now() - start > timeout) return resolve(-1);
    setTimeout(poll, 20);
  };
  poll();
})"""



def _kernel_rss_mb(server_pid: int) -> list[float]:
    """Resident memory of every kernel the server started (its ipykernel children)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().split()
            cmd = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[3]) == server_pid and b"ipykernel" in cmd:
            status = (proc / "status").read_text()
            rss_kb = int(next(line.split()[1] for line in status.splitlines()
                              if line.startswith("VmRSS")))
            out.append(rss_kb / 1024)
    return out


async def _session(browser, base: str, k: int, results: dict, deadline: float) -> None:
    notebook, query, label, values, task = SESSIONS[k % len(SESSIONS)]
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and not any(
        s in m.text or s in (m.location or {}).get("url", "") for s in IGNORED) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    rec = {"app": notebook.split("_")[1], "latencies": [], "errors": errors}
    results[k] = rec
    try:
        t0 = time.perf_counter()
        await page.goto(f"{base}/voila/render/{notebook}{query}",
                        timeout=max(1000, (deadline - time.monotonic()) * 1000))
        if await page.evaluate(FIRST_CANVAS, 120_000) < 0:
            raise TimeoutError("no canvas was drawn within 120 s")
        rec["first_canvas_s"] = time.perf_counter() - t0
        status = page.locator(".explorer-status")
        for value in values:
            await page.evaluate(WATCH, 0)
            box = page.locator(".widget-slider").filter(has=page.get_by_text(label, exact=True))
            await box.locator(".widget-readout").click()
            await page.keyboard.press("Control+A")
            await page.keyboard.type(value)
            await page.keyboard.press("Enter")
            ms = await page.evaluate(CHANGED, 20_000)
            if ms < 0:
                errors.append(f"{label}={value}: the canvas did not change within 20 s")
            else:
                rec["latencies"].append(ms)
        preset = page.locator(".widget-dropdown select").first
        options = await preset.locator("option").all_inner_texts()
        await preset.select_option(options[1])
        await page.get_by_role("button", name=task).click()
        while time.monotonic() < deadline:
            text = " ".join(await page.locator(".explorer-task-label").all_inner_texts())
            if "done in" in text or "computed for other" in text:
                break
            await asyncio.sleep(0.5)
        else:
            await page.get_by_role("button", name="Cancel").first.click()
        if "explorer-status-error" in (await status.get_attribute("class") or ""):
            errors.append("status line: " + await status.inner_text())
    except Exception as exc:  # noqa: BLE001 - a failed session is a reported error
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        await page.close()


async def _run(base: str, sessions: int, spread_s: float, timeout_s: float) -> dict:
    from playwright.async_api import async_playwright

    results: dict = {}
    deadline = time.monotonic() + timeout_s
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--no-first-run", "--disable-component-update", "--disable-sync"])

        async def delayed(k):
            await asyncio.sleep(spread_s * k / max(sessions - 1, 1))
            await _session(browser, base, k, results, deadline)

        await asyncio.gather(*(delayed(k) for k in range(sessions)))
        await browser.close()
    return results


def run_load(sessions: int, *, spread_s: float = 5.0, timeout_s: float = 300.0,
             pool: int | None = None) -> dict:
    """Serve, run ``sessions`` concurrent browser sessions, stop; return the measurements."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"load_voila_{sessions}.log"
    pool = pool if pool is not None else 0
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "explorer", "serve", "--port",
                                   str(port), "--pool", str(pool)], stdout=log,
                                  stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        n_notebooks = len(list((ROOT / "notebooks").glob("*.ipynb"))) if pool > 0 else 0
        start = time.monotonic()
        while True:
            if server.poll() is not None or time.monotonic() - start > 600:
                raise RuntimeError("the server did not start (or fill its pools):\n"
                                   + log_path.read_text()[-2000:])
            if log_path.read_text().count("is filled with") >= n_notebooks:
                try:
                    urllib.request.urlopen(base + "/", timeout=30)
                    break
                except OSError:
                    pass
            time.sleep(0.5)
        idle = _kernel_rss_mb(server.pid)
        # A thread of its own: the caller may already run an event loop (pytest-playwright).
        box: dict = {}
        runner = threading.Thread(target=lambda: box.update(
            results=asyncio.run(_run(base, sessions, spread_s, timeout_s))))
        runner.start()
        runner.join()
        results = box["results"]
        busy = _kernel_rss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    first = [r["first_canvas_s"] for r in results.values() if "first_canvas_s" in r]
    lat = [ms for r in results.values() for ms in r["latencies"]]
    errors = [e for r in results.values() for e in r["errors"]]
    return {
        "sessions": sessions, "pool_per_app": pool, "cores": os.cpu_count(),
        "first_canvas_p50_s": float(np.percentile(first, 50)) if first else float("nan"),
        "first_canvas_p95_s": float(np.percentile(first, 95)) if first else float("nan"),
        "interaction_p50_ms": float(np.percentile(lat, 50)) if lat else float("nan"),
        "interaction_p95_ms": float(np.percentile(lat, 95)) if lat else float("nan"),
        "sessions_with_canvas": len(first), "interactions": len(lat), "errors": errors,
        "idle_kernel_mb_max": max(idle, default=float("nan")),     # preheated pools only
        "kernel_mb_max": max(busy, default=float("nan")),          # after the sessions
        "kernels": len(busy), "kernels_total_mb": sum(busy),
    }


def table(rows: list[dict]) -> str:
    head = ("| sessions | pool/app | first canvas p50 / p95 s | interaction p50 / p95 ms "
            "| errors | idle / used kernel MB (max) | kernels, total MB |\n"
            "|---|---|---|---|---|---|---|")
    lines = [head] + [
        f"| {r['sessions']} | {r['pool_per_app']} | {r['first_canvas_p50_s']:.2f} / "
        f"{r['first_canvas_p95_s']:.2f} | {r['interaction_p50_ms']:.0f} / "
        f"{r['interaction_p95_ms']:.0f} | {len(r['errors'])} | {r['idle_kernel_mb_max']:.0f} / "
        f"{r['kernel_mb_max']:.0f} | "
        f"{r['kernels']}, {r['kernels_total_mb']:.0f} |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 9, 30])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per load run")
    args = parser.parse_args(argv)
    if any(not 1 <= s <= 60 for s in args.sessions):
        raise SystemExit("load_voila: --sessions must be in [1, 60]")
    rows = [run_load(s, timeout_s=args.timeout) for s in args.sessions]
    text = table(rows)
    print(text)
    for r in rows:
        for e in r["errors"][:5]:
            print(f"  error ({r['sessions']} sessions): {e}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.md").write_text(
        f"# Load: N browser sessions against one server ({os.cpu_count()} cores, browsers "
        f"on the same machine)\n\n{text}\n")
    (ARTIFACTS / "load.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
