"""Latency measurement: warm-up runs, then timed runs summarised by median and 90th percentile.

Median and p90 rather than mean: one preempted run on a shared machine moves a mean a lot and a
median not at all, while p90 still shows how noisy the target is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Timing:
    times_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return float(np.median(self.times_ms))

    @property
    def p90_ms(self) -> float:
        return float(np.percentile(self.times_ms, 90))


def time_runs(fn: Callable[[], Any], *, warmup: int = 3, repeat: int = 20,
              on_run: Callable[[int], None] | None = None) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` (≥ 1) times timed with perf_counter.

    ``on_run(i)`` is called after each timed run, for progress display.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    for _ in range(warmup):
        fn()
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
        if on_run is not None:
            on_run(i)
    return Timing(tuple(times))
