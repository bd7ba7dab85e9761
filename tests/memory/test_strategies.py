"""Strategies on hand-made interval sets: known arenas, the MILP's optimum, the lower bound."""

from __future__ import annotations

import pytest

from mlc.memory import STRATEGIES, Buffer, lower_bound
from mlc.memory.exact import _milp, _pairs, near_exact, solve
from mlc.memory.strategies import arena_size, first_fit, greedy_breadth, greedy_size, naive


def buffers(*specs: tuple[int, int, int]) -> list[Buffer]:
    return [Buffer(f"t{i}", size, start, end, (f"t{i}",)) for i, (size, start, end) in
            enumerate(specs)]


# Found by search: greedy-size needs 31, the near-exact heuristic 28, the optimum is 27.
HARD = buffers((8, 3, 6), (5, 2, 5), (4, 0, 3), (7, 0, 1), (9, 0, 2), (10, 4, 5), (4, 1, 4))


def overlapping(bufs: list[Buffer], offsets: dict[str, int], alignment: int) -> list[tuple]:
    bad = []
    for i, a in enumerate(bufs):
        for b in bufs[i + 1:]:
            if a.overlaps_in_time(b) and offsets[a.name] < offsets[b.name] + b.size \
                    and offsets[b.name] < offsets[a.name] + a.size:
                bad.append((a.name, b.name))
    return bad


def test_chain_reuses_two_slots():
    """A chain a->b->c->d: each step holds its input and output, so two slots of 100 suffice."""
    chain = buffers((100, 0, 1), (100, 1, 2), (100, 2, 3), (100, 3, 3))
    assert lower_bound(chain, 1) == 200
    assert arena_size(chain, naive(chain, 1), 1) == 400
    for name in ("greedy-size", "greedy-breadth", "near-exact", "exact"):
        assert arena_size(chain, STRATEGIES[name](chain, 1), 1) == 200, name


def test_greedy_size_places_largest_first_at_lowest_offset():
    bufs = buffers((10, 0, 0), (30, 0, 1), (20, 1, 1))
    assert greedy_size(bufs, 1) == {"t1": 0, "t2": 30, "t0": 30}


def test_greedy_breadth_places_in_execution_order():
    bufs = buffers((10, 0, 0), (30, 0, 1), (20, 1, 1))
    assert greedy_breadth(bufs, 1) == {"t1": 0, "t0": 30, "t2": 30}


def test_first_fit_uses_a_gap_between_blocks():
    bufs = buffers((8, 0, 2), (8, 0, 0), (8, 0, 2), (8, 1, 1))
    offsets = first_fit(bufs, 1)
    assert offsets == {"t0": 0, "t1": 8, "t2": 16, "t3": 8}  # t3 takes t1's freed slot


def test_alignment_rounds_sizes_and_offsets():
    bufs = buffers((1, 0, 0), (65, 0, 0), (3, 0, 0))
    for name, strategy in STRATEGIES.items():
        offsets = strategy(bufs, 64)
        assert all(o % 64 == 0 for o in offsets.values()), name
        assert arena_size(bufs, offsets, 64) == 256, name
    assert lower_bound(bufs, 64) == 256
    assert lower_bound(bufs, 1) == 69


def test_exact_finds_the_optimum_greedy_misses():
    assert lower_bound(HARD, 1) == 27
    assert arena_size(HARD, greedy_size(HARD, 1), 1) == 31
    offsets, proven = solve(HARD, 1)
    assert proven
    assert arena_size(HARD, offsets, 1) == 27
    assert overlapping(HARD, offsets, 1) == []
    assert arena_size(HARD, STRATEGIES["exact"](HARD, 1), 1) == 27


def test_milp_alone_reaches_the_optimum_from_the_greedy_bound():
    units, optimal = _milp(HARD, _pairs(HARD), 1, upper=31, bound=0, time_limit=10)
    assert optimal
    offsets = {b.name: u for b, u in zip(HARD, units)}
    assert arena_size(HARD, offsets, 1) == 27
    assert overlapping(HARD, offsets, 1) == []


def test_exact_falls_back_to_the_heuristic_when_too_large():
    offsets, proven = solve(HARD, 1, max_pairs=2)
    assert not proven
    assert offsets == near_exact(HARD, 1)
    assert arena_size(HARD, offsets, 1) == 28


def test_reaching_the_lower_bound_is_proof_without_the_milp():
    chain = buffers((100, 0, 1), (100, 1, 2), (100, 2, 2))
    offsets, proven = solve(chain, 1, max_pairs=0)
    assert proven and arena_size(chain, offsets, 1) == 200


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_empty_and_zero_sized(name):
    assert STRATEGIES[name]([], 8) == {}
    zero = buffers((0, 0, 1), (16, 0, 1))
    offsets = STRATEGIES[name](zero, 8)
    assert arena_size(zero, offsets, 8) == 16
