"""Faults: a dask worker killed mid-sweep, a cancelled sweep, an interrupted kernel.

The cluster is the real thing, started as separate processes as `dask scheduler` and
`dask worker` run them; the kernel is a real IPython kernel driven by jupyter_client.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from conftest import _free_port
from explorer._common import Status
from explorer.sweep import run_sweep

distributed = pytest.importorskip("distributed")

DASK = str(Path(sys.executable).with_name("dask"))



def _job(job, rng):
    """Importable sweep job (workers unpickle it): a little work and a seeded draw."""
    time.sleep(0.05)
    return float(job) + float(rng.standard_normal())


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded workers, each its own process (no nanny, so a
    killed worker stays dead), stopped at the end."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                                         os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env)]
    for _ in range(2):
        procs.append(subprocess.Popen([DASK, "worker", address, "--nthreads", "1",
                                       "--no-nanny", "--no-dashboard"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      env=env))
    try:
        client = distributed.Client(address, timeout=60)
        client.wait_for_workers(2, timeout=120)
        yield client, procs[1:]
        client.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_worker_killed_mid_sweep_still_gives_complete_bit_identical_results(cluster):
    client, workers = cluster
    jobs = list(range(80))
    serial = run_sweep(_job, jobs, seed=11)
    killed = threading.Event()

    def progress(done, total):
        if done >= 10 and not killed.is_set():
            killed.set()
            os.kill(workers[0].pid, signal.SIGKILL)        # by its PID, mid-run

    res = run_sweep(_job, jobs, seed=11, executor=client.get_executor(), chunk_size=2,
                    on_progress=progress)
    assert killed.is_set() and workers[0].wait(10) is not None
    assert res.status is Status.COMPLETED and res.indices == tuple(range(80))
    assert res.results == serial.results                  # bit-identical to the serial run


def test_a_cancelled_sweep_on_the_cluster_returns_the_finished_part_marked_partial(cluster):
    client, _ = cluster
    cancel = threading.Event()
    res = run_sweep(_job, list(range(200)), seed=3, executor=client.get_executor(),
                    chunk_size=2, cancel=cancel,
                    on_progress=lambda done, total: done >= 12 and cancel.set())
    assert res.status is Status.CANCELLED and 12 <= len(res) < 200
    serial = run_sweep(_job, list(range(200)), seed=3)
    assert res.results == tuple(serial.results[i] for i in res.indices)


def test_an_interrupted_kernel_leaves_the_app_usable():
    """A background task is running when the kernel is interrupted (the stop button of
    Jupyter, SIGINT): the app still recomputes on the next change and the task can run."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        def run(code, timeout=300):
            kc.execute(code)
            reply = kc.get_shell_msg(timeout=timeout)
            return reply["content"]

        setup = ("import time\n"
                 "from explorer.apps import ntk_app\n"
                 "app = ntk_app.make_app(query_string='')\n"
                 "app.run('rates')\n"
                 "time.sleep(30)\n")            # the cell the user interrupts
        kc.execute(setup)
        time.sleep(8)                           # imports, first compute, the task started
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=120)["content"]
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
        # The results of tasks are applied on the kernel's event loop, between cells.
        for code in ("assert app.wait(300)",
                     "before = app.n_recomputes\n"
                     "app.controls['R'].value = 2.5\n"
                     "assert app.n_recomputes == before + 1, app.n_recomputes\n"
                     "assert app.last_error is None and 'R=2.5' in app.status_text, "
                     "app.status_text\n"
                     "app.run('rates')",
                     "assert app.wait(300)",
                     "rec = app.task_result('rates')\n"
                     "assert rec is not None and rec.complete, rec"):
            content = run(code)
            assert content["status"] == "ok", (code, content)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_chunks_lost_for_good_are_named(monkeypatch):
    """When the executor cannot deliver a chunk (every retry failed), the error names the jobs
    that were lost instead of returning a result with holes."""
    import concurrent.futures as cf

    class Broken(cf.ThreadPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            items = args[1]
            if any(job == 7 for job, _ in items):
                fut = cf.Future()
                fut.set_exception(distributed.KilledWorker(
                    "task", types.SimpleNamespace(address="tcp://127.0.0.1:1"), 3))
                return fut
            return super().submit(fn, *args, **kwargs)

    with Broken(2) as pool, pytest.raises(RuntimeError, match=r"jobs 6 to 7 .*lost"):
        run_sweep(_job, list(range(10)), seed=0, executor=pool, chunk_size=2)
    assert np.isfinite(run_sweep(_job, [1], seed=0).results[0])
