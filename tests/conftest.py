"""Shared fixtures: a live Voila server (started by ``python -m explorer serve``, the same
command ``make app`` runs) and Debian's Chromium for Playwright."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SKIP_BROWSER = os.environ.get("EXPLORER_SKIP_BROWSER", "") == "1"
NO_CHROMIUM = (
    "No Chromium found for the browser tests. Install Debian's: `apt-get install chromium` "
    "(as root; .ci/run does this), or point CHROMIUM_PATH at a Chromium binary, or set "
    "EXPLORER_SKIP_BROWSER=1 to skip the browser tests explicitly."
)


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"),
                      "/usr/bin/chromium", "/usr/lib/chromium/chromium"):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "browser" in item.keywords and SKIP_BROWSER:
            item.add_marker(pytest.mark.skip(reason="EXPLORER_SKIP_BROWSER=1"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def voila_url():
    """A Voila server on 127.0.0.1 and a free port, stopped by PID at the end."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    log_path = ARTIFACTS / "voila.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed at teardown
    env = {k: v for k, v in os.environ.items() if k != "EXPLORER_DEBUG"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "explorer", "serve", "--port", str(port),
         "--notebooks", str(ROOT / "notebooks")],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=2)
            break
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("Voila did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.3)
    yield base
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)
    log.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Drive Debian's Chromium (Playwright's own browser download is not reachable here)."""
    path = find_chromium()
    if path is None:
        pytest.fail(NO_CHROMIUM, pytrace=False)
    return {
        **browser_type_launch_args,
        "executable_path": path,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run",
                 "--disable-component-update", "--disable-sync"],
    }
