"""Placement strategies: (buffers, alignment) -> {buffer name: byte offset}.

Every strategy rounds sizes up to the alignment and returns aligned offsets. The greedy ones are
first-fit: a buffer goes to the lowest offset where it overlaps, in time and in space, no buffer
already placed; they differ only in the order buffers are placed (TFLite Micro's
GreedyMemoryPlanner is first-fit by decreasing size).
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from .intervals import IntervalIndex
from .liveness import Buffer, align_up

Offsets = dict[str, int]
Strategy = Callable[[Sequence[Buffer], int], Offsets]


def naive(buffers: Sequence[Buffer], alignment: int) -> Offsets:
    """Every buffer after the previous one: no reuse at all."""
    offsets, top = {}, 0
    for b in sorted(buffers, key=lambda b: (b.start, b.name)):
        offsets[b.name] = top
        top += align_up(b.size, alignment)
    return offsets


def first_fit(ordered: Iterable[Buffer], alignment: int) -> Offsets:
    """Place buffers in the given order, each at the lowest offset free during its lifetime.

    Only the placed buffers that share a step with the one being placed are looked at (found
    through an IntervalIndex), so a long chain plans in linear time, not quadratic.
    """
    ordered = list(ordered)
    index = IntervalIndex(max((b.end for b in ordered), default=0) + 1)
    placed: list[tuple[int, int]] = []  # (offset, end offset) of each non-empty placed buffer
    offsets: Offsets = {}
    for b in ordered:
        size = align_up(b.size, alignment)
        offset = 0
        if size:
            for lo, hi in sorted(placed[i] for i in index.overlapping(b.start, b.end)):
                if offset + size <= lo:
                    break
                offset = max(offset, hi)
            index.add(len(placed), b.start, b.end)
            placed.append((offset, offset + size))
        offsets[b.name] = offset
    return offsets


def greedy_size(buffers: Sequence[Buffer], alignment: int) -> Offsets:
    """TFLite Micro's GreedyMemoryPlanner: largest first (ties: earlier start), first fit."""
    return first_fit(sorted(buffers, key=lambda b: (-align_up(b.size, alignment), b.start, b.name)),
                     alignment)


def greedy_breadth(buffers: Sequence[Buffer], alignment: int) -> Offsets:
    """In execution order (ties: larger first), first fit: what a breadth-first walk allocates."""
    return first_fit(sorted(buffers, key=lambda b: (b.start, -b.size, b.name)), alignment)


def arena_size(buffers: Sequence[Buffer], offsets: Offsets, alignment: int) -> int:
    return max((offsets[b.name] + align_up(b.size, alignment) for b in buffers), default=0)
