"""Exact placement for small problems (a MILP through HiGHS) and the near-exact heuristic.

The MILP is the classic one (as in Sekiyama et al., "Profile-guided memory optimization for deep
neural networks", 2018): an offset per buffer, one binary per pair of buffers live at a common
step saying which sits below the other, big-M the best heuristic arena, minimise the arena. It is
only tried when there are at most ``max_pairs`` such pairs and under a time limit; a result is
called exact only when HiGHS proves it optimal (or a heuristic already meets the lower bound).

The near-exact heuristic is first-fit under several placement orders plus a local search that
moves the buffers touching the arena's top to the front of the order, keeping the best.
"""

from __future__ import annotations

import bisect
import itertools
import random
from typing import Sequence

import numpy as np

from .liveness import Buffer, align_up, lower_bound
from .strategies import Offsets, arena_size, first_fit


def _degrees(buffers: Sequence[Buffer], size: dict[str, int]) -> dict[str, int]:
    """Per buffer, the bytes of every buffer sharing a step with it (itself included).

    The buffers overlapping b are those starting by b.end less those ending before b.start (a
    subset of the former), so two sorted prefix sums answer each in O(log n), not O(n).
    """
    starts = sorted((b.start, size[b.name]) for b in buffers)
    ends = sorted((b.end, size[b.name]) for b in buffers)
    start_keys, end_keys = [s for s, _ in starts], [e for e, _ in ends]
    start_sums = list(itertools.accumulate((n for _, n in starts), initial=0))
    end_sums = list(itertools.accumulate((n for _, n in ends), initial=0))
    return {b.name: start_sums[bisect.bisect_right(start_keys, b.end)]
            - end_sums[bisect.bisect_left(end_keys, b.start)] for b in buffers}


def _orders(buffers: Sequence[Buffer], alignment: int) -> list[list[Buffer]]:
    size = {b.name: align_up(b.size, alignment) for b in buffers}
    degree = _degrees(buffers, size)
    keys = [
        lambda b: (-size[b.name], b.start, b.name),
        lambda b: (-size[b.name], -(b.end - b.start), b.name),
        lambda b: (-size[b.name] * (b.end - b.start + 1), b.name),
        lambda b: (-degree[b.name], -size[b.name], b.name),
        lambda b: (-(b.end - b.start), -size[b.name], b.name),
        lambda b: (b.start, -size[b.name], b.name),
        lambda b: (-b.end, -size[b.name], b.name),
    ]
    return [sorted(buffers, key=k) for k in keys]


SEARCH_BUDGET = 200_000
"""Buffer placements the local search may spend: 60 rounds up to 3 333 buffers, fewer above, so a
50 000-buffer graph is not placed 60 more times."""


def near_exact(buffers: Sequence[Buffer], alignment: int, *, rounds: int = 60,
               seed: int = 0) -> Offsets:
    """First fit under several orders, then bump-to-front local search on the best order.

    An order that reaches the lower bound ends the search: nothing can beat it.
    """
    if not buffers:
        return {}
    bound = lower_bound(buffers, alignment)
    best_order, best, best_arena = None, None, None
    for order in _orders(buffers, alignment):
        offsets = first_fit(order, alignment)
        arena = arena_size(buffers, offsets, alignment)
        if best_arena is None or arena < best_arena:
            best_order, best, best_arena = order, offsets, arena
        if best_arena <= bound:
            return best
    rng = random.Random(seed)
    order = list(best_order)
    for _ in range(min(rounds, SEARCH_BUDGET // len(buffers))):
        if best_arena <= bound:
            break
        offsets = first_fit(order, alignment)
        arena = arena_size(buffers, offsets, alignment)
        if arena < best_arena:
            best, best_arena = offsets, arena
        top = [i for i, b in enumerate(order)
               if offsets[b.name] + align_up(b.size, alignment) == arena]
        index = rng.choice(top)
        mover = order.pop(index)
        order.insert(rng.randrange(0, index) if index else rng.randrange(0, len(order) + 1), mover)
    return best


def exact(buffers: Sequence[Buffer], alignment: int) -> Offsets:
    """The MILP, warm-bounded by the near-exact result (which it returns if it cannot do better)."""
    return solve(buffers, alignment)[0]


def _pairs(buffers: Sequence[Buffer], limit: int | None = None) -> list[tuple[int, int]] | None:
    """Index pairs of buffers sharing a step; None as soon as there are more than ``limit``
    (a graph whose tensors all live together has n² pairs: too many to list, let alone solve)."""
    pairs = []
    ordered = sorted(range(len(buffers)), key=lambda i: buffers[i].start)
    for k, i in enumerate(ordered):
        for j in (ordered[m] for m in range(k + 1, len(ordered))):
            if buffers[j].start > buffers[i].end:
                break
            pairs.append((i, j))
            if limit is not None and len(pairs) > limit:
                return None
    return pairs


def solve(buffers: Sequence[Buffer], alignment: int, *, warm: Offsets | None = None,
          max_pairs: int = 400, time_limit: float = 5.0) -> tuple[Offsets, bool]:
    """(offsets, proven optimal). Never worse than ``warm``, the best heuristic placement known
    (computed with near_exact when not given)."""
    if warm is None:
        warm = near_exact(buffers, alignment)
    upper = arena_size(buffers, warm, alignment)
    bound = lower_bound(buffers, alignment)
    if upper <= bound:
        return dict(warm), True
    real = [b for b in buffers if b.size]
    pairs = _pairs(real, limit=max_pairs)
    if pairs is None:
        return dict(warm), False
    result = _milp(real, pairs, alignment, upper // alignment, -(-bound // alignment), time_limit)
    if result is None:
        return dict(warm), False
    units, proven = result
    offsets = {b.name: 0 for b in buffers}
    offsets.update({b.name: u * alignment for b, u in zip(real, units)})
    if not _disjoint(real, offsets):
        return dict(warm), False
    if arena_size(buffers, offsets, alignment) >= upper:
        return dict(warm), proven  # proven optimal at the heuristic's arena
    return offsets, proven


def _disjoint(buffers: Sequence[Buffer], offsets: Offsets) -> bool:
    for i, j in _pairs(buffers) or ():
        lo_a, lo_b = offsets[buffers[i].name], offsets[buffers[j].name]
        if lo_a < lo_b + buffers[j].size and lo_b < lo_a + buffers[i].size:
            return False
    return True


def _milp(buffers: Sequence[Buffer], pairs: list[tuple[int, int]], alignment: int, upper: int,
          bound: int, time_limit: float) -> tuple[list[int], bool] | None:
    """Offsets in alignment units and whether optimal; None when HiGHS finds nothing."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n, p = len(buffers), len(pairs)
    s = [align_up(b.size, alignment) // alignment for b in buffers]
    big = upper
    rows, lo, hi = [], [], []
    arena = n  # column of the arena variable
    for i in range(n):  # o_i + s_i <= A
        row = np.zeros(n + 1 + p)
        row[i], row[arena] = 1, -1
        rows.append(row), lo.append(-np.inf), hi.append(-s[i])
    for k, (i, j) in enumerate(pairs):  # z=0: i below j; z=1: j below i
        row = np.zeros(n + 1 + p)
        row[i], row[j], row[n + 1 + k] = 1, -1, -big
        rows.append(row), lo.append(-np.inf), hi.append(-s[i])
        row = np.zeros(n + 1 + p)
        row[j], row[i], row[n + 1 + k] = 1, -1, big
        rows.append(row), lo.append(-np.inf), hi.append(big - s[j])
    c = np.zeros(n + 1 + p)
    c[arena] = 1
    lower = np.zeros(n + 1 + p)
    upper_b = np.ones(n + 1 + p)
    upper_b[:n] = [upper - si for si in s]
    lower[arena], upper_b[arena] = bound, upper
    res = milp(c, constraints=LinearConstraint(np.array(rows), lo, hi),
               integrality=np.ones(n + 1 + p), bounds=Bounds(lower, upper_b),
               options={"time_limit": time_limit, "mip_rel_gap": 0.0, "presolve": True})
    if res.x is None:
        return None
    return [int(round(v)) for v in res.x[:n]], res.status == 0
