"""Timing helpers shared by the benchmark scripts (never part of the test run)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path


def best_of(fn: Callable[[], object], repeat: int = 7, number: int = 1) -> float:
    """Median-of-best style timing: the minimum over ``repeat`` runs of ``number`` calls, in s.

    The minimum is the least noisy estimate on a shared machine.
    """
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return min(times)


def table(rows: list[tuple[str, float, str, float, str]]) -> str:
    """Rows of (what, seconds, baseline name, baseline seconds, budget) as aligned text."""
    head = f"{'what':44s} {'time':>10s} {'baseline':34s} {'base':>10s} {'ratio':>7s}  budget"
    lines = [head, "-" * len(head)]
    for what, t, base_name, base, budget in rows:
        ratio = t / base if base else float("nan")
        lines.append(f"{what:44s} {t * 1e3:8.2f}ms {base_name:34s} {base * 1e3:8.2f}ms "
                     f"{ratio:7.2f}  {budget}")
    return "\n".join(lines)


def control_rows(app, changes: dict, *, repeat: int = 6, budget: str = "<= 100 ms") -> list:
    """Kernel-side latency of each control change of an app: validation, the stages it
    touches and the artist updates of the views that changed, without the Agg rendering
    (in a browser ipympl renders after the callback). Baseline: one Agg redraw of every view.

    ``changes`` maps a control name to an iterator of fresh values (never seen before, so
    every change of a control a stage reads is a cache miss).
    """
    figures = list(app.figures.values())
    redraw_all = best_of(lambda: [f.canvas.draw() for f in figures], repeat=3)
    saved = {f: f.canvas.draw_idle for f in figures}
    rows = []
    try:
        for f in figures:
            f.canvas.draw_idle = lambda: None
        for name, values in changes.items():
            kind = "recompute" if name in app.recompute_controls() else "re-view"

            def step(name=name, values=values):
                app.graph.seconds.clear()
                app.controls[name].value = next(values)

            t = best_of(step, repeat=repeat)
            assert app.last_error is None, app.last_error
            rows.append((f"change {name} ({kind})", t, "Agg redraw of every view", redraw_all,
                         budget))
            slow = sorted(app.graph.seconds.items(), key=lambda kv: -kv[1])[:3]   # last change
            if kind == "recompute":
                rows.append(("  slowest stages: " + ", ".join(f"{k} {v * 1e3:.0f}"
                                                              for k, v in slow), 0.0, "", 0.0,
                             "ms"))
    finally:
        for f, fn in saved.items():
            f.canvas.draw_idle = fn
    return rows


_ROW = re.compile(r"^(?P<what>.*?)\s+(?P<t>-?[\d.]+|nan|inf)ms (?P<base>.*?)\s+"
                  r"(?P<b>-?[\d.]+|nan|inf)ms\s+(?P<ratio>\S+)  (?P<budget>.*)$")


def parse_table(text: str) -> dict[str, list[dict]]:
    """The rows of :func:`table` output (in any larger text) as {what: [row, ...]}.

    Each row is a dict with ``what``, ``seconds``, ``baseline``, ``baseline_seconds`` and
    ``budget``; a name printed twice keeps both rows, in order. Lines that are not rows of such
    a table are skipped.
    """
    rows: dict[str, list[dict]] = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if m is None:
            continue
        rows.setdefault(m["what"].strip(), []).append({
            "what": m["what"].strip(), "seconds": float(m["t"]) / 1e3,
            "baseline": m["base"].strip(), "baseline_seconds": float(m["b"]) / 1e3,
            "budget": m["budget"].strip()})
    return rows


__all__ = ["best_of", "control_rows", "parse_table", "table"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server a benchmark starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kernels(server_pid: int) -> list[Path]:
    """The /proc entries of every kernel the server started (its ipykernel children)."""
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
            out.append(proc)
    return out


def kernel_rss_mb(server_pid: int) -> list[float]:
    """Resident memory of every kernel the server started, in MB."""
    out = []
    for proc in _kernels(server_pid):
        try:
            status = (proc / "status").read_text()
        except OSError:
            continue
        out.append(int(next(line.split()[1] for line in status.splitlines()
                            if line.startswith("VmRSS"))) / 1024)
    return out


def _cpu_ticks(proc: Path) -> int:
    """User + system CPU ticks of one process (0 if it is gone)."""
    try:
        # Fields after the parenthesised command: utime and stime are 14 and 15.
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def _kernel_cpu_ticks(server_pid: int) -> tuple[int, int]:
    """(number of kernels, their summed user + system CPU ticks)."""
    procs = _kernels(server_pid)
    return len(procs), sum(_cpu_ticks(p) for p in procs)


def cpu_snapshot(server_pid: int) -> dict[str, int]:
    """CPU ticks so far of the server ("server") and of each of its kernels (by PID)."""
    out = {p.name: _cpu_ticks(p) for p in _kernels(server_pid)}
    out["server"] = _cpu_ticks(Path("/proc") / str(server_pid))
    return out


def cpu_seconds_between(before: dict[str, int], after: dict[str, int]) -> tuple[float, float]:
    """(kernels', server's) CPU seconds between two :func:`cpu_snapshot` s (kernels started
    in between count in full; a kernel gone by ``after`` is not counted)."""
    tick = os.sysconf("SC_CLK_TCK")
    kernels = sum(t - before.get(pid, 0) for pid, t in after.items() if pid != "server")
    return kernels / tick, (after["server"] - before["server"]) / tick


def wait_until_warm(server_pid: int, kernels: int, *, quiet_s: float = 2.0,
                    timeout_s: float = 600.0) -> float:
    """Wait until ``kernels`` kernels run and none uses the CPU for ``quiet_s``; the seconds.

    Voila logs a pool as filled once its kernels have *started*, while they still run their
    notebooks (seconds of imports and first computes): a visitor arriving then waits for that
    work and competes with it. A class server is warm only when every pooled kernel is idle.
    """
    start = time.monotonic()
    quiet_since, last = None, None
    while time.monotonic() - start < timeout_s:
        count, ticks = _kernel_cpu_ticks(server_pid)
        now = time.monotonic()
        # A few ticks a second are the kernels' heartbeats and the server's polling.
        if count >= kernels and last is not None and ticks - last <= 2:
            quiet_since = quiet_since or now
            if now - quiet_since >= quiet_s:
                return now - start
        else:
            quiet_since = None
        last = ticks
        time.sleep(0.5)
    raise TimeoutError(f"the {kernels} pooled kernels were not idle within {timeout_s:.0f} s")


@contextlib.contextmanager
def explorer_server(log_path: Path, *args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """``python -m explorer serve`` on 127.0.0.1 and a free port with ``args``, its output in
    ``log_path``: yields (process, base URL) once it answers HTTP; stopped (SIGTERM, then
    SIGKILL after 30 s) on leaving."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "explorer", "serve", "--port",
                                   str(port), *args], stdout=log, stderr=subprocess.STDOUT,
                                  cwd=Path(__file__).resolve().parents[1])
    base = f"http://127.0.0.1:{port}"
    try:
        start = time.monotonic()
        while True:
            if server.poll() is not None or time.monotonic() - start > 600:
                raise RuntimeError("the server did not start:\n" + log_path.read_text()[-2000:])
            try:
                urllib.request.urlopen(base + "/", timeout=30)
                break
            except OSError:
                time.sleep(0.5)
        yield server, base
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def run_in_thread(coro):
    """``asyncio.run(coro)`` on a thread of its own (the caller may already run an event loop,
    as pytest-playwright's does) and its result."""
    box: dict = {}
    runner = threading.Thread(target=lambda: box.update(result=asyncio.run(coro)))
    runner.start()
    runner.join()
    return box["result"]
