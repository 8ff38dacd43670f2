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
import re
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import (  # noqa: E402
    cpu_seconds_between,
    cpu_snapshot,
    explorer_server,
    kernel_rss_mb,
    run_in_thread,
    wait_until_warm,
)

from explorer.__main__ import pooled_kernels  # noqa: E402

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

#: Seconds a visitor looks at a change's result before making the next: a student moving
#: a slider and reading the views, not a script firing changes back to back.
THINK_S = 1.0

#: Console errors that are not the app's: offline CDN links of Voila's template, and
#: Voila 0.5's kernel-shutdown call without an XSRF token when a page is left.
IGNORED = ("cdn.jsdelivr.net", "fonts.googleapis", "fonts.gstatic", "/voila/api/shutdown/")

# Drawing on a figure's canvas is observed where it happens: ipympl paints every frame it
# receives with drawImage on the visible canvas, so the page records those calls and the
# harness polls two numbers. (Reading the canvas's pixels every few milliseconds instead, as
# a first version did, cost as much CPU as the pages themselves once 9 ran at once.)
INSTRUMENT = """(() => {
  const draw = CanvasRenderingContext2D.prototype.drawImage;
  window.__draws = [];
  CanvasRenderingContext2D.prototype.drawImage = function (...args) {
    const out = draw.apply(this, args);
    const c = this.canvas;
    if (c.isConnected && c.width > 0 && c.closest("div.jupyter-matplotlib-figure")
        && this.getImageData(1, 1, 1, 1).data[3] !== 0) {  // painted, not a blank canvas
      if (window.__draws.length > 1000) window.__draws.splice(0, 500);
      window.__draws.push(performance.now());
    }
    return out;
  };
})();"""

WATCH = """() => { window.__t0 = performance.now(); }"""

# Polled with timers, not requestAnimationFrame: a browser pauses animation frames for pages
# that are not in front, and all but one of the sessions are in the background.
CHANGED = """(timeout) => new Promise(resolve => {
  const poll = () => {
    const t = window.__draws.find(t => t > window.__t0);
    if (t !== undefined) resolve(t - window.__t0);
    else if (performance.now() - window.__t0 > timeout) resolve(-1);
    else setTimeout(poll, 10);
  };
  poll();
})"""

FIRST_CANVAS = """(timeout) => new Promise(resolve => {
  const start = performance.now();
  const poll = () => {
    if (window.__draws.length) return resolve(window.__draws[0]);
    if (performance.now() - start > timeout) return resolve(-1);
    setTimeout(poll, 20);
  };
  poll();
})"""


async def _session(browser, base: str, k: int, results: dict, deadline: float,
                   think_s: float) -> None:
    notebook, query, label, values, task = SESSIONS[k % len(SESSIONS)]
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await page.add_init_script(INSTRUMENT)
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
        if query:
            # The permalink's state reaches a preheated kernel after the request: the app
            # must show it (its permalink lists it) before the session goes on.
            link = page.locator(".explorer-permalink-link")
            for pair in query.lstrip("?").split("&"):
                try:
                    await link.filter(has_text=pair).wait_for(timeout=30_000)
                except Exception:  # noqa: BLE001 - reported with the others
                    errors.append(f"the permalink's {pair} was not restored within 30 s")
        status = page.locator(".explorer-status")
        for value in values:
            await page.evaluate(WATCH)
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
            await asyncio.sleep(think_s)
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
            label = " ".join(await page.locator(".explorer-task-label").all_inner_texts())
            rec["unfinished"] = f"{task}: not done before the run's deadline ({label!r})"
            cancel = page.get_by_role("button", name="Cancel").first
            if await cancel.is_enabled():
                await cancel.click()
        if "explorer-status-error" in (await status.get_attribute("class") or ""):
            errors.append("status line: " + await status.inner_text())
    except Exception as exc:  # noqa: BLE001 - a failed session is a reported error
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        await page.close()


async def _arrive(sessions: int, spread_s: float, timeout_s: float, session) -> dict:
    """Run ``session(k, results, deadline)`` for k = 0..sessions-1, arriving evenly spread
    over ``spread_s`` seconds; the results by k."""
    results: dict = {}
    deadline = time.monotonic() + timeout_s

    async def delayed(k):
        await asyncio.sleep(spread_s * k / max(sessions - 1, 1))
        await session(k, results, deadline)

    await asyncio.gather(*(delayed(k) for k in range(sessions)))
    return results


async def _run(base: str, sessions: int, spread_s: float, timeout_s: float,
               think_s: float) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--no-first-run", "--disable-component-update", "--disable-sync"])
        results = await _arrive(sessions, spread_s, timeout_s, lambda k, results, deadline:
                                _session(browser, base, k, results, deadline, think_s))
        await browser.close()
    return results


def class_pool(sessions: int) -> int:
    """Preheated kernels per app for ``sessions`` visitors spread over the apps as here."""
    return -(-sessions // len(SESSIONS))


def run_load(sessions: int, *, spread_s: float = 5.0, timeout_s: float = 300.0,
             pool: int = 0, clients: str = "browser", think_s: float = THINK_S) -> dict:
    """Serve (``pool`` preheated kernels per app, warm before anyone arrives; 0: a fresh
    kernel per visitor), run ``sessions`` concurrent sessions, stop; return the measurements.

    ``clients``: "browser" (Chromium pages: slider changes, a preset, a background task) or
    "light" (the same slider changes as kernel messages, without a browser). ``think_s``:
    how long a visitor looks at each change's result before the next (0: back to back, a
    stress test rather than a class)."""
    if clients not in ("browser", "light"):
        raise ValueError(f"clients must be 'browser' or 'light', got {clients!r}")
    with explorer_server(ARTIFACTS / f"load_voila_{sessions}.log", "--pool",
                         str(pool)) as (server, base):
        warm_s = wait_until_warm(server.pid, pooled_kernels(ROOT / "notebooks", pool)
                                 if pool else 0)
        idle = kernel_rss_mb(server.pid)
        cpu0 = cpu_snapshot(server.pid)
        results = run_in_thread((_run if clients == "browser" else _run_light)(
            base, sessions, spread_s, timeout_s, think_s))
        busy = kernel_rss_mb(server.pid)
        kernel_cpu, server_cpu = cpu_seconds_between(cpu0, cpu_snapshot(server.pid))
    first = [r["first_canvas_s"] for r in results.values() if "first_canvas_s" in r]
    lat = [ms for r in results.values() for ms in r["latencies"]]
    images = [r["first_image_s"] for r in results.values() if "first_image_s" in r]
    errors = [e for r in results.values() for e in r["errors"]]
    by_app: dict[str, list] = {}
    for r in results.values():
        by_app.setdefault(r["app"], []).extend(r["latencies"])
    return {
        "sessions": sessions, "clients": clients, "pool_per_app": pool, "think_s": think_s,
        "cores": os.cpu_count(),
        "warm_after_s": warm_s,
        "first_canvas_p50_s": float(np.percentile(first, 50)) if first else float("nan"),
        "first_canvas_p95_s": float(np.percentile(first, 95)) if first else float("nan"),
        # Light clients: the kernel's first image after the page connected (a fresh rendering).
        "first_image_p95_s": float(np.percentile(images, 95)) if images else float("nan"),
        "interaction_p50_ms": float(np.percentile(lat, 50)) if lat else float("nan"),
        "interaction_p95_ms": float(np.percentile(lat, 95)) if lat else float("nan"),
        # which app's changes make the tail: p50 and p95 per app
        "interaction_by_app_ms": {app: [float(np.percentile(v, 50)), float(np.percentile(v, 95))]
                                  for app, v in sorted(by_app.items()) if v},
        "sessions_with_canvas": len(first), "interactions": len(lat), "errors": errors,
        "tasks_unfinished": [r["unfinished"] for r in results.values() if "unfinished" in r],
        "idle_kernel_mb_max": max(idle, default=float("nan")),     # preheated pools only
        "kernel_mb_max": max(busy, default=float("nan")),          # after the sessions
        "kernels": len(busy), "kernels_total_mb": sum(busy),
        # The CPU the sessions cost the server side (refills of the pools included).
        "kernel_cpu_s": kernel_cpu, "server_cpu_s": server_cpu,
    }


def run_cull(pages: int = 2, *, cull_idle: float = 5.0, timeout_s: float = 120.0) -> dict:
    """Open ``pages`` app pages, leave them, and count the server's kernels until culled.

    Voila 0.5's page asks the server to shut its kernel down when it is left, but without
    the XSRF token, so the request is refused: the kernel stays until the idle cull stops
    it. Returned: kernels while the pages are open, right after leaving, and the seconds
    until none is left (``None`` if some remained after ``timeout_s``).
    """
    with explorer_server(ARTIFACTS / "load_voila_cull.log", "--cull-idle",
                         str(cull_idle)) as (server, base):
        async def visit():
            from playwright.async_api import async_playwright

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM,
                                                   args=["--no-sandbox", "--disable-gpu"])
                opened = []
                for k in range(pages):
                    page = await browser.new_page()
                    await page.add_init_script(INSTRUMENT)
                    await page.goto(f"{base}/voila/render/{SESSIONS[k % len(SESSIONS)][0]}",
                                    timeout=timeout_s * 1000)
                    if await page.evaluate(FIRST_CANVAS, timeout_s * 1000) < 0:
                        raise TimeoutError("a page drew no canvas")
                    opened.append(page)
                while_open = len(kernel_rss_mb(server.pid))
                for page in opened:
                    await page.close()
                await browser.close()
                return while_open

        while_open = run_in_thread(visit())
        left = time.monotonic()
        after_leave = len(kernel_rss_mb(server.pid))
        culled_after = None
        while time.monotonic() - left < timeout_s:
            if not kernel_rss_mb(server.pid):
                culled_after = time.monotonic() - left
                break
            time.sleep(0.5)
    return {"pages": pages, "cull_idle_s": cull_idle, "kernels_while_open": while_open,
            "kernels_after_leave": after_leave, "culled_after_s": culled_after}


# ------------------------------------------------------------------ light clients
# What a browser's widget manager and ipympl say to the kernel, without the browser: the page
# over HTTP, then on the kernel's websocket the widgets' states (one request_states on
# ipywidgets 8's control comm), each canvas's opening messages, answers to its draw requests,
# and slider updates. The server's and kernels' share of the load, apart from 30 browsers'
# JavaScript competing for the same cores.

#: The kernel websocket protocol browsers speak. Voila 0.5's websocket handler reads every
#: binary frame it sends as this protocol, so a client of the legacy protocol (no
#: subprotocol) never gets an image, and its server stalls on the misread offsets.
WS_PROTOCOL = "v1.kernel.websocket.jupyter.org"


def _ws_message(session: str, msg_type: str, content: dict, metadata: dict | None = None,
                channel: str = "shell") -> bytes:
    """A message in the v1 framing: part count and offsets (8-byte little-endian), the
    channel, then header, parent header, metadata and content as JSON."""
    header = {"msg_id": uuid.uuid4().hex, "username": "load", "session": session,
              "msg_type": msg_type, "version": "5.3",
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    parts = [json.dumps(x).encode() for x in (header, {}, metadata or {}, content)]
    offsets = [8 * (len(parts) + 3)]
    for part in [channel.encode(), *parts]:
        offsets.append(offsets[-1] + len(part))
    return b"".join([len(offsets).to_bytes(8, "little"),
                     *(o.to_bytes(8, "little") for o in offsets), channel.encode(), *parts])


def _ws_parse(frame: bytes) -> tuple[dict, bool]:
    """A v1 frame as (message with msg_type and content, had binary buffers)."""
    count = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * (i + 1):8 * (i + 2)], "little") for i in range(count)]
    parts = [frame[offsets[i]:offsets[i + 1]] for i in range(1, count - 1)]
    header, content = json.loads(parts[0]), json.loads(parts[3])
    return {"msg_type": header.get("msg_type"), "content": content}, len(parts) > 4


class _LightSession:
    """One visitor's kernel traffic over one websocket."""

    def __init__(self, base: str, kernel_id: str):
        self.url = (base.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
                    f"?session_id={uuid.uuid4().hex}")
        self.session = uuid.uuid4().hex
        self.canvases: set[str] = set()
        self.images = 0                     # image frames received from the canvases
        self.painted: set[str] = set()      # canvases that sent at least one
        self.states: dict | None = None
        self.changed = asyncio.Event()

    async def open(self) -> None:
        from tornado.websocket import websocket_connect

        self.ws = await websocket_connect(self.url, max_message_size=64 * 2**20,
                                          subprotocols=[WS_PROTOCOL])
        self.reader = asyncio.ensure_future(self._read())

    def send(self, msg_type: str, content: dict, metadata: dict | None = None) -> None:
        self.ws.write_message(_ws_message(self.session, msg_type, content, metadata),
                              binary=True)

    def comm(self, comm_id: str, data: dict) -> None:
        self.send("comm_msg", {"comm_id": comm_id, "data": data})

    async def _read(self) -> None:
        while True:
            frame = await self.ws.read_message()
            if frame is None:
                return
            msg, binary = _ws_parse(frame)
            if msg.get("msg_type") != "comm_msg":
                continue
            comm_id, data = msg["content"]["comm_id"], msg["content"]["data"]
            if data.get("method") == "update_states":
                self.states = data["states"]
                self.changed.set()
            elif comm_id in self.canvases and data.get("method") == "custom":
                event = json.loads(data["content"]["data"])
                if event.get("type") == "draw":          # ipympl asks; the page answers
                    self.comm(comm_id, {"method": "custom", "content": {"type": "draw"}})
                elif event.get("type") == "binary" or binary:
                    self.images += 1
                    self.painted.add(comm_id)
                    self.changed.set()

    async def wait(self, until, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the kernel")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def close(self) -> None:
        self.reader.cancel()
        self.ws.close()


async def _light_session(base: str, k: int, results: dict, deadline: float,
                         think_s: float) -> None:
    from tornado.httpclient import AsyncHTTPClient

    notebook, query, label, values, _task = SESSIONS[k % len(SESSIONS)]
    rec = {"app": notebook.split("_")[1], "latencies": [], "errors": []}
    results[k] = rec
    session = None
    try:
        t0 = time.perf_counter()
        left = max(1.0, deadline - time.monotonic())
        page = await AsyncHTTPClient().fetch(f"{base}/voila/render/{notebook}{query}",
                                             request_timeout=left)
        rec["page_s"] = time.perf_counter() - t0
        kernel_id = re.search(r'"kernelId": "([0-9a-f-]+)"', page.body.decode()).group(1)
        session = _LightSession(base, kernel_id)
        await session.open()
        control = uuid.uuid4().hex
        session.send("comm_open", {"comm_id": control, "target_name": "jupyter.widget.control",
                                   "data": {}}, {"version": "1.0.0"})   # ipywidgets 8's
        session.comm(control, {"method": "request_states"})
        await session.wait(lambda: session.states is not None, 120)
        states = session.states
        rec["states_s"] = time.perf_counter() - t0
        session.canvases = {m for m, s in states.items()
                            if s["state"].get("_model_name") == "MPLCanvasModel"}
        slider = next(m for m, s in states.items()
                      if s["state"].get("description") == label
                      and s["state"].get("_model_name", "").endswith("SliderModel"))
        # A canvas whose state carries its last rendering (ipympl keeps it while no page is
        # connected, as on a preheated kernel) is painted from it at once, as a browser does;
        # otherwise the first image the kernel sends is the first canvas.
        if any(str(states[c]["state"].get("_data_url")).startswith("data:image")
               for c in session.canvases):
            rec["first_canvas_s"] = time.perf_counter() - t0
        for canvas in session.canvases:
            for kind in ("refresh", "send_image_mode", "initialized"):
                session.comm(canvas, {"method": "custom", "content": {"type": kind}})
        await session.wait(lambda: session.images > 0, 120)
        rec.setdefault("first_canvas_s", time.perf_counter() - t0)
        rec["first_image_s"] = time.perf_counter() - t0
        # Every canvas answers the page's first refresh with one image; a slider's image is
        # told from those only once they are all in.
        await session.wait(lambda: session.painted >= session.canvases, 120)
        rec["all_images_s"] = time.perf_counter() - t0
        for value in values:
            before, t1 = session.images, time.perf_counter()
            session.comm(slider, {"method": "update", "state": {"value": float(value)},
                                  "buffer_paths": []})
            try:
                await session.wait(lambda b=before: session.images > b, 20)
                rec["latencies"].append((time.perf_counter() - t1) * 1e3)
            except TimeoutError:
                rec["errors"].append(f"{label}={value}: no new image within 20 s")
            await asyncio.sleep(think_s)
    except Exception as exc:  # noqa: BLE001 - a failed session is a reported error
        rec["errors"].append(f"{type(exc).__name__}: {exc}")
    finally:
        if session is not None:
            await session.close()


async def _run_light(base: str, sessions: int, spread_s: float, timeout_s: float,
                     think_s: float) -> dict:
    return await _arrive(sessions, spread_s, timeout_s, lambda k, results, deadline:
                         _light_session(base, k, results, deadline, think_s))


def table(rows: list[dict]) -> str:
    head = ("| clients | sessions | pool/app | think s | first canvas p50 / p95 s "
            "| interaction p50 / p95 ms | errors | idle / used kernel MB (max) "
            "| kernels, total MB | CPU s: kernels / server |\n"
            "|---|---|---|---|---|---|---|---|---|---|")
    lines = [head] + [
        f"| {r.get('clients', 'browser')} | {r['sessions']} | {r['pool_per_app']} | "
        f"{r.get('think_s', 0):g} | "
        f"{r['first_canvas_p50_s']:.2f} / "
        f"{r['first_canvas_p95_s']:.2f} | {r['interaction_p50_ms']:.0f} / "
        f"{r['interaction_p95_ms']:.0f} | {len(r['errors'])} | {r['idle_kernel_mb_max']:.0f} / "
        f"{r['kernel_mb_max']:.0f} | "
        f"{r['kernels']}, {r['kernels_total_mb']:.0f} | "
        f"{r.get('kernel_cpu_s', float('nan')):.0f} / {r.get('server_cpu_s', float('nan')):.0f} |"
        for r in rows]
    apps = [f"{r.get('clients', 'browser')} {r['sessions']}: " + ", ".join(
        f"{app} {p50:.0f} / {p95:.0f}" for app, (p50, p95) in r["interaction_by_app_ms"].items())
        for r in rows if r.get("interaction_by_app_ms") and r["sessions"] > 1]
    if apps:
        lines += ["", "Interaction p50 / p95 ms by app: " + "; ".join(apps) + "."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 9, 30])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per load run")
    parser.add_argument("--pool", default="class",
                        help="preheated kernels per app: 'class' (default: enough for the "
                             "sessions, as `make serve-class` sizes them) or a number (0: a "
                             "fresh kernel per visitor)")
    parser.add_argument("--clients", choices=["light", "browser", "both"], default="both",
                        help="Chromium pages, light clients (the pages' kernel messages "
                             "without a browser), or both (default)")
    parser.add_argument("--think", type=float, default=THINK_S,
                        help="seconds each visitor looks at a change's result before the "
                             f"next (default {THINK_S:g}; 0: changes back to back)")
    parser.add_argument("--cull", action="store_true",
                        help="also show idle kernels culled: open pages, leave, wait, count")
    args = parser.parse_args(argv)
    if any(not 1 <= s <= 60 for s in args.sessions):
        raise SystemExit("load_voila: --sessions must be in [1, 60]")
    if args.pool != "class" and not (args.pool.isdigit() and int(args.pool) <= 30):
        raise SystemExit(f"load_voila: --pool must be 'class' or in [0, 30], got {args.pool!r}")
    kinds = ["light", "browser"] if args.clients == "both" else [args.clients]
    if not 0 <= args.think <= 10:
        raise SystemExit(f"load_voila: --think must be in [0, 10] seconds, got {args.think}")
    rows = [run_load(s, timeout_s=args.timeout, clients=kind, think_s=args.think,
                     pool=class_pool(s) if args.pool == "class" else int(args.pool))
            for kind in kinds for s in args.sessions]
    text = table(rows)
    print(text)
    for r in rows:
        for e in r["errors"][:5]:
            print(f"  error ({r['sessions']} sessions): {e}")
    cull = ""
    if args.cull:
        c = run_cull()
        cull = (f"\nCulling (`--cull-idle {c['cull_idle_s']:.0f}`): {c['pages']} pages opened "
                f"and left; kernels while open {c['kernels_while_open']}, right after "
                f"leaving {c['kernels_after_leave']}, none left after "
                f"{c['culled_after_s']:.1f} s.\n" if c["culled_after_s"] is not None else
                f"\nCulling: {c['kernels_after_leave']} kernel(s) still ran 120 s after the "
                f"pages were left.\n")
        print(cull)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.md").write_text(
        f"# Load: N sessions against one server ({os.cpu_count()} cores; browsers run on the "
        f"same machine, light clients send the pages' kernel messages without a browser; "
        f"pooled kernels warm, i.e. idle after running their notebook, before the first "
        f"arrives)\n\n{text}\n{cull}")
    (ARTIFACTS / "load.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
