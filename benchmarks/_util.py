"""Timing helpers shared by the benchmark scripts (never part of the test run)."""

from __future__ import annotations

import time
from collections.abc import Callable


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


__all__ = ["best_of", "table"]
