"""The class server's kernel manager: preheated kernels warm up a few at a time.

Voila refills a notebook's pool of preheated kernels the moment a visitor takes one, and at
start-up fills every pool at once. In a lecture, 30 arrivals within seconds therefore start
30 kernels that each import numpy, scipy and matplotlib and run their notebook, on the same
cores that the arriving students' own kernels and the server need. :class:`PacedKernelManager`
lets at most ``warmups`` pooled kernels run their notebooks at the same time (by default half
the cores, at least one), each starting only once the kernels in use have been quiet for a
moment (or ``refill_patience`` has passed), looked at ``refill_settle`` seconds after the
request (the visitor whose arrival asked for the refill has not connected yet, so at that moment
the kernels look quiet: measured, the first refill of a class arriving then ran its notebook for
15 s beside the arrivals); a visitor's kernel is never held back. Voila
marks the kernels it starts for a pool with ``VOILA_PREHEAT=True`` in their environment, which
is how they are told apart. ``explorer/voila.json`` names this class as Voila's
``multi_kernel_manager_class``, the documented place for a custom kernel manager (Voila wraps
it with its pooling).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float, Int

#: The variable Voila 0.5 sets for the kernels it starts for a pool (voila.utils.ENV_VARIABLE).
PREHEAT_ENV = "VOILA_PREHEAT"


def quiet_since(last_activity: list, now) -> float:
    """Seconds since the latest of the kernels' last activities (infinite with none).

    >>> t = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)
    >>> quiet_since([t, t + _dt.timedelta(seconds=3)], t + _dt.timedelta(seconds=5))
    2.0
    >>> quiet_since([], t)
    inf
    """
    if not last_activity:
        return float("inf")
    return (now - max(last_activity)).total_seconds()


class PacedKernelManager(AsyncMappingKernelManager):
    """Kernel manager whose pooled (preheated) kernels warm up at most ``warmups`` at a time.

    A pooled kernel holds its slot from its start until it has run its notebook: it has been
    busy and then idle for ``warm_quiet`` seconds (or ``warm_timeout`` has passed, so a
    notebook that fails or hangs cannot hold the pools up).
    """

    warmups = Int(0, config=True,
                  help="pooled kernels that may warm up at once (0: half the cores, at least 1)")
    warm_quiet = Float(1.0, config=True,
                       help="seconds a pooled kernel must stay idle to count as warm")
    warm_timeout = Float(120.0, config=True,
                         help="seconds after which a pooled kernel frees its slot regardless")
    refill_patience = Float(30.0, config=True,
                            help="seconds a warm-up waits at most for the kernels in use to "
                                 "go quiet")
    refill_settle = Float(5.0, config=True,
                          help="seconds a warm-up waits before it looks for a lull (a refill "
                               "is asked for before the arriving visitor's page connects)")

    _slots: asyncio.Semaphore | None = None
    _limit = 1
    #: Watchers in flight (a reference keeps each task alive until it is done).
    _watchers: set

    def _slot(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._limit = self.warmups if self.warmups > 0 else max(1, (os.cpu_count() or 2) // 2)
            self._slots = asyncio.Semaphore(self._limit)
            self._watchers = set()
        return self._slots

    @property
    def warming(self) -> int:
        """Pooled kernels warming up now."""
        return len(getattr(self, "_watchers", ()))

    async def start_kernel(self, *args, **kwargs) -> str:
        env = kwargs.get("env") or {}
        if env.get(PREHEAT_ENV) != "True":
            return await super().start_kernel(*args, **kwargs)
        slot = self._slot()
        # Settle before taking a slot: the requests of one arrival burst wait side by side.
        await asyncio.sleep(self.refill_settle)
        await slot.acquire()
        try:
            waited = await self._wait_for_a_lull()
            if waited >= 1:
                self.log.info("Pooled kernel warm-up waited %.0f s for the visitors' kernels "
                              "to go quiet", waited)
            kernel_id = await super().start_kernel(*args, **kwargs)
        except BaseException:
            slot.release()
            raise
        watcher = asyncio.ensure_future(self._free_when_warm(kernel_id, slot))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        self.log.info("Pooled kernel %s warming up (%d at once, at most %d)", kernel_id,
                      self.warming, self._limit)
        return kernel_id

    async def _wait_for_a_lull(self) -> float:
        """Wait until no kernel has done anything for ``warm_quiet`` seconds (at most
        ``refill_patience``): a pool refills after a class's arrivals, not during them. The
        seconds waited."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while loop.time() - start < self.refill_patience:
            now = _dt.datetime.now(_dt.timezone.utc)
            last = [self.get_kernel(k).last_activity for k in self.list_kernel_ids()
                    if k in self and getattr(self.get_kernel(k), "last_activity", None)]
            if quiet_since(last, now) >= self.warm_quiet:
                break
            await asyncio.sleep(0.25)
        return loop.time() - start

    async def _free_when_warm(self, kernel_id: str, slot: asyncio.Semaphore) -> None:
        loop = asyncio.get_running_loop()
        start, busy_seen = loop.time(), False
        try:
            while loop.time() - start < self.warm_timeout:
                await asyncio.sleep(0.2)
                if kernel_id not in self:
                    return
                kernel = self.get_kernel(kernel_id)
                # jupyter_server records each kernel's state and last message (its activity
                # watch); a notebook's cells run back to back, so a quiet second means done.
                if kernel.execution_state == "busy":
                    busy_seen = True
                    continue
                quiet = (_dt.datetime.now(_dt.timezone.utc)
                         - kernel.last_activity).total_seconds()
                if busy_seen and quiet >= self.warm_quiet:
                    self.log.info("Pooled kernel %s warm after %.1f s", kernel_id,
                                  loop.time() - start)
                    return
            self.log.warning("Pooled kernel %s still busy after %.0f s; the next may start",
                             kernel_id, self.warm_timeout)
        finally:
            slot.release()
