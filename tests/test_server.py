"""The production server: one configuration for `make app`, `make serve-class` and Binder;
preheated pools sized for a class; a clean stop on SIGTERM with kernels in use."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, _free_port
from explorer.__main__ import (
    APP_NOTEBOOKS,
    BLAS_THREAD_VARIABLES,
    CONFIG,
    KERNEL_MB,
    kernel_environment,
    pooled_kernels,
    server_config,
)


def test_the_configuration_is_the_production_one_and_binder_installs_it():
    config = json.loads(CONFIG.read_text())
    assert config["VoilaConfiguration"]["show_tracebacks"] is False
    assert config["VoilaConfiguration"]["preheat_kernel"] is False     # opt-in, see serve
    assert server_config(pool=1)["VoilaConfiguration"]["preheat_kernel"] is True
    assert config["VoilaExecutor"]["timeout"] > 0                      # per-cell timeout
    assert config["MappingKernelManager"]["cull_idle_timeout"] > 0     # abandoned tabs
    assert "cp explorer/voila.json" in (ROOT / "binder" / "postBuild").read_text()
    assert not (ROOT / "binder" / "jupyter_config.json").exists()     # one source only


def test_pools_are_sized_for_a_class():
    config = server_config(pool=10, debug=True)
    pools = config["VoilaKernelManager"]["kernel_pools_config"]
    assert all(pools[nb]["pool_size"] == 10 for nb in APP_NOTEBOOKS)
    assert pools["default"]["pool_size"] == 1
    assert config["VoilaConfiguration"]["show_tracebacks"] is True
    notebooks = ROOT / "notebooks"
    apps = sum((notebooks / nb).is_file() for nb in APP_NOTEBOOKS)
    others = len(list(notebooks.glob("*.ipynb"))) - apps
    assert pooled_kernels(notebooks, 10) == 10 * apps + others


def test_the_idle_cull_can_be_shortened_and_is_validated():
    kernels = server_config(cull_idle=30)["MappingKernelManager"]
    assert kernels["cull_idle_timeout"] == 30 and kernels["cull_interval"] == 10
    for bad in (0, -5, float("nan"), 1e9):
        with pytest.raises(ValueError, match=r"cull_idle must be in \[1, 86400\]"):
            server_config(cull_idle=bad)


def _children(pid):
    out = subprocess.run(["ps", "-o", "pid=,ppid=,args=", "-e"], capture_output=True,
                         text=True).stdout
    return [line for line in out.splitlines()
            if line.split()[1] == str(pid) and "ipykernel" in line]


def test_serve_preheats_states_its_memory_and_stops_on_sigterm_with_kernels_in_use(tmp_path):
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "explorer", "serve", "--port", str(port),
                                 "--students", "4"], stdout=log, stderr=subprocess.STDOUT,
                                cwd=ROOT, env={k: v for k, v in os.environ.items()
                                               if k != "EXPLORER_DEBUG"
                                               and k not in BLAS_THREAD_VARIABLES})
    try:
        deadline = time.monotonic() + 240
        n_notebooks = len(list((ROOT / "notebooks").glob("*.ipynb")))
        while log_path.read_text().count("is filled with") < n_notebooks:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        text = log_path.read_text()
        pool = 1                                          # 4 students over 4 apps
        kernels = pooled_kernels(ROOT / "notebooks", pool)
        assert f"{pool} preheated kernel(s) per app, {kernels} in all" in text
        assert f"~{KERNEL_MB} MB each" in text
        url = f"http://127.0.0.1:{port}/voila/render/{APP_NOTEBOOKS[2]}?R=3"
        page = urllib.request.urlopen(url, timeout=120).read().decode()
        assert "jupyter-widgets" in page or "application/vnd.jupyter.widget" in page
        # The page's front-end loads the widget managers and ipympl, not the code-highlighting
        # theme (no code is shown): one request and one script fewer before the first canvas.
        config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">'
                                      r'(.*?)</script>', page, re.S).group(1))
        loaded = {e["name"] for e in config["federated_extensions"]}
        assert {"@jupyter-widgets/jupyterlab-manager", "jupyter-matplotlib", "anywidget"} <= loaded
        assert "jupyterlab_pygments" not in loaded
        assert "Using pre-heated kernel" in log_path.read_text()
        assert re.search(r"Kernel started", log_path.read_text())   # the pool refills
        in_use = _children(proc.pid)
        assert len(in_use) >= kernels
        for line in in_use:       # a kernel per student: one BLAS thread each
            environ = Path(f"/proc/{line.split()[0]}/environ").read_bytes().split(b"\0")
            assert b"OPENBLAS_NUM_THREADS=1" in environ and b"OMP_NUM_THREADS=1" in environ
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("the server did not stop on SIGTERM within 60 s")
    assert _children(proc.pid) == []


def _sleeping_notebook(path, seconds):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(f"import time\ntime.sleep({seconds})")]
    nbformat.write(nb, str(path))


def test_pooled_kernels_warm_up_a_few_at_a_time(tmp_path):
    """Voila would start every pooled kernel at once (and refill one per arrival at once);
    the class server's kernel manager lets at most half the cores' worth run their notebooks
    together, so arriving visitors keep the CPU."""
    for name in ("index", "a", "b", "c"):
        _sleeping_notebook(tmp_path / f"{name}.ipynb", 1.0)
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "explorer", "serve", "--port", str(port),
                                 "--pool", "1", "--notebooks", str(tmp_path)], stdout=log,
                                stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 240
        while log_path.read_text().count("warm after") < 4:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    text = log_path.read_text()
    events = re.findall(
        r"Pooled kernel \S+ (warming up \((\d+) at once, at most (\d+)\)|warm after)", text)
    limit = int(events[0][2])
    assert limit == max(1, os.cpu_count() // 2)
    running = 0
    for _, now, _ in events:            # never more than the limit warming at once
        running += 1 if now else -1
        assert 0 <= running <= limit and (not now or int(now) == running)
    assert [e[0] for e in events].count("warm after") == 4


def test_a_class_server_gives_each_kernel_one_blas_thread_unless_told_otherwise():
    env = kernel_environment({"OMP_NUM_THREADS": "2", "PATH": "/bin"}, pool=10)
    assert env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert env["OMP_NUM_THREADS"] == "2" and env["PATH"] == "/bin"    # set by hand: kept
    assert kernel_environment({"PATH": "/bin"}, pool=0) == {"PATH": "/bin"}  # one visitor
