"""The class server's kernel manager (explorer/_pool.py): a pooled kernel's warm-up looks for
a lull only ``refill_settle`` seconds after it is asked for, since a refill is asked for when
a visitor takes a kernel, before that visitor's page has connected and made any noise."""

import asyncio
import sys
import threading
import time

from explorer._pool import PREHEAT_ENV, PacedKernelManager


def _start(manager, env):
    async def go():
        t0 = time.perf_counter()
        kernel_id = await manager.start_kernel(kernel_name="python3", env=env)
        took = time.perf_counter() - t0
        await manager.shutdown_kernel(kernel_id, now=True)
        return took

    # on a thread of its own: the browser tests' plugin may run an event loop on this one
    box = {}
    runner = threading.Thread(target=lambda: box.update(took=asyncio.run(go())))
    runner.start()
    runner.join()
    return box["took"]


def test_a_pooled_kernel_settles_before_it_starts_and_a_visitors_kernel_does_not(tmp_path):
    import os

    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep
           + os.environ.get("PATH", "")}
    manager = PacedKernelManager(refill_settle=2.0, refill_patience=5.0, warm_quiet=0.1,
                                 root_dir=str(tmp_path))
    visitor = _start(manager, env)
    pooled = _start(manager, {**env, PREHEAT_ENV: "True"})
    assert pooled >= 2.0, pooled
    assert visitor < pooled - 1.0, (visitor, pooled)
