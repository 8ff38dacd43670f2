"""The sweep engine: identical results whatever the executor and chunking."""

import concurrent.futures as cf
import threading

import numpy as np
import pytest

from explorer import sbm
from explorer._common import Status
from explorer.sweep import run_sweep

# A real job: the share of the population map's basins (an importable package function,
# as workers need).
JOBS = [{"n": n, "p": 0.3, "q": 0.1, "n_starts": 50} for n in (8, 20, 60, 200, 600, 2000)]


def _as_array(res):
    return np.array([[r[k] for k in sbm.LIMIT_KINDS] for r in res.results])


def test_serial_results_match_direct_calls_with_spawned_streams():
    res = run_sweep(sbm.basin_shares_job, JOBS, seed=123)
    assert res.status is Status.COMPLETED and res.indices == tuple(range(len(JOBS)))
    children = np.random.SeedSequence(123).spawn(len(JOBS))
    for job, child, got in zip(JOBS, children, res.results, strict=True):
        assert got == sbm.basin_shares(rng=np.random.default_rng(child), **job)
    assert res.seed == 123


def test_process_pool_and_chunking_are_bit_identical_to_serial():
    serial = _as_array(run_sweep(sbm.basin_shares_job, JOBS, seed=7))
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        for chunk in (1, 4, None):
            res = run_sweep(sbm.basin_shares_job, JOBS, executor=pool, chunk_size=chunk, seed=7)
            assert res.status is Status.COMPLETED
            assert np.array_equal(_as_array(res), serial)


def test_dask_local_cluster_is_bit_identical_to_serial():
    distributed = pytest.importorskip("distributed")
    serial = _as_array(run_sweep(sbm.basin_shares_job, JOBS, seed=11))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=40,
    ) as cluster, distributed.Client(cluster) as client:
        # Workers are separate processes on 127.0.0.1, as on a real cluster.
        assert all(a.startswith("tcp://127.0.0.1") for a in client.scheduler_info()["workers"])
        res = run_sweep(sbm.basin_shares_job, JOBS, executor=client.get_executor(),
                        chunk_size=2, seed=11)
    assert res.status is Status.COMPLETED
    assert np.array_equal(_as_array(res), serial)


def test_progress_is_reported_as_jobs_finish():
    seen = []
    run_sweep(sbm.basin_shares_job, JOBS, seed=0, on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i + 1, len(JOBS)) for i in range(len(JOBS))]
    seen.clear()
    with cf.ThreadPoolExecutor(2) as pool:
        run_sweep(sbm.basin_shares_job, JOBS, executor=pool, chunk_size=2, seed=0,
                  on_progress=lambda d, t: seen.append((d, t)))
    assert [d for d, _ in seen] == [2, 4, 6]


def _slow_job(job, rng):
    import time

    time.sleep(0.05)
    return job


def test_cancel_stops_submitting_and_returns_what_finished():
    cancel = threading.Event()

    def progress(done, total):
        if done >= 3:
            cancel.set()

    res = run_sweep(_slow_job, list(range(50)), seed=0, on_progress=progress, cancel=cancel)
    assert res.status is Status.CANCELLED and len(res) == 3 and res.results == (0, 1, 2)

    cancel.clear()
    with cf.ThreadPoolExecutor(2) as pool:
        res = run_sweep(_slow_job, list(range(200)), executor=pool, chunk_size=1, seed=0,
                        on_progress=progress, cancel=cancel)
    assert res.status is Status.CANCELLED
    assert 3 <= len(res) < 200
    assert list(res.results) == list(res.indices)  # results kept in job order


def test_same_seed_same_results_and_seed_none_is_recorded():
    a = run_sweep(sbm.basin_shares_job, JOBS[:2], seed=5).results
    b = run_sweep(sbm.basin_shares_job, JOBS[:2], seed=5).results
    assert a == b
    r = run_sweep(sbm.basin_shares_job, JOBS[:2])
    again = run_sweep(sbm.basin_shares_job, JOBS[:2], seed=r.seed)
    assert again.results == r.results


def test_bad_chunk_size_names_the_parameter():
    with cf.ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="chunk_size"):
        run_sweep(_slow_job, [1], executor=pool, chunk_size=0)


def test_empty_sweep():
    res = run_sweep(_slow_job, [], seed=0)
    assert res.status is Status.COMPLETED and len(res) == 0
