"""time_runs: warm-up and timed call counts, median and p90."""

from __future__ import annotations

import pytest

from mlc.runtime.bench import Timing, time_runs


def test_calls_warmup_then_repeat_times():
    calls = []
    seen = []
    timing = time_runs(lambda: calls.append(1), warmup=2, repeat=5, on_run=seen.append)
    assert len(calls) == 7
    assert seen == [0, 1, 2, 3, 4]
    assert len(timing.times_ms) == 5 and all(t >= 0 for t in timing.times_ms)


def test_median_and_p90_of_known_times():
    timing = Timing(tuple(float(t) for t in range(1, 11)))
    assert timing.median_ms == 5.5
    assert timing.p90_ms == pytest.approx(9.1)  # linear interpolation between 9 and 10


def test_repeat_must_be_positive():
    with pytest.raises(ValueError):
        time_runs(lambda: None, repeat=0)


def test_times_are_milliseconds():
    import time

    timing = time_runs(lambda: time.sleep(0.01), warmup=0, repeat=2)
    assert 9 <= timing.median_ms < 200
