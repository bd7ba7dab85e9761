"""The interval index and the sweeps that replaced quadratic scans give the scans' answers."""

from __future__ import annotations

import random

from mlc.memory.exact import _degrees, _pairs
from mlc.memory.intervals import IntervalIndex
from mlc.memory.liveness import Buffer, align_up
from mlc.memory.strategies import first_fit


def random_buffers(rng: random.Random, n: int, steps: int) -> list[Buffer]:
    buffers = []
    for i in range(n):
        start = rng.randrange(steps)
        end = min(steps - 1, start + rng.choice([0, 1, 2, rng.randrange(steps)]))
        buffers.append(Buffer(f"b{i}", rng.choice([0, 1, 16, 100, 4096]), start, end))
    return buffers


def scan_first_fit(ordered: list[Buffer], alignment: int) -> dict[str, int]:
    """The original quadratic first fit, as the reference."""
    placed, offsets = [], {}
    for b in ordered:
        size = align_up(b.size, alignment)
        offset = 0
        if size:
            busy = sorted((o, o + s) for o, s, st, en in placed
                          if s and st <= b.end and b.start <= en)
            for lo, hi in busy:
                if offset + size <= lo:
                    break
                offset = max(offset, hi)
        offsets[b.name] = offset
        placed.append((offset, size, b.start, b.end))
    return offsets


def test_index_finds_exactly_the_overlapping_intervals():
    rng = random.Random(1)
    for steps in (1, 2, 7, 64, 100):
        intervals = [(s, min(steps - 1, s + rng.randrange(steps)))
                     for s in (rng.randrange(steps) for _ in range(60))]
        index = IntervalIndex(steps)
        for i, (s, e) in enumerate(intervals):
            index.add(i, s, e)
        for _ in range(50):
            qs = rng.randrange(steps)
            qe = min(steps - 1, qs + rng.randrange(steps))
            expected = {i for i, (s, e) in enumerate(intervals) if s <= qe and qs <= e}
            assert index.overlapping(qs, qe) == expected


def test_first_fit_places_as_the_scan_did():
    rng = random.Random(2)
    for _ in range(30):
        buffers = random_buffers(rng, 40, rng.choice([1, 5, 30]))
        rng.shuffle(buffers)
        assert first_fit(buffers, 64) == scan_first_fit(buffers, 64)


def test_degrees_match_the_pairwise_sum():
    rng = random.Random(3)
    buffers = random_buffers(rng, 80, 25)
    size = {b.name: align_up(b.size, 64) for b in buffers}
    expected = {b.name: sum(size[o.name] for o in buffers if o.overlaps_in_time(b))
                for b in buffers}
    assert _degrees(buffers, size) == expected


def test_pairs_stop_at_the_limit():
    chain = [Buffer(f"c{i}", 64, i, i + 1) for i in range(100)]
    assert len(_pairs(chain)) == 99
    together = [Buffer(f"t{i}", 64, 0, 10) for i in range(100)]  # 4 950 pairs
    assert _pairs(together, limit=400) is None
    assert len(_pairs(together, limit=5000)) == 4950
