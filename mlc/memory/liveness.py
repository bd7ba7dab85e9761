"""Liveness: which bytes must exist at which execution step.

A step is one top-level node of the execution order. A fused node is one step: the intermediates
of its body are not arena tensors (a backend keeps them in registers or a small per-kernel
scratch), so only its outputs are planned. Constants are never planned (they live in flash/rodata).
Graph inputs and outputs live outside the arena unless ``include_io``; when included, an input is
live from step 0 to its last use and an output from its producer to the last step.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

from mlc.errors import MlcError
from mlc.ir.graph import Graph, Node, Value


class PlanError(MlcError):
    """A memory plan cannot be made or is invalid (unknown strategy, symbolic shapes, overlap)."""


@dataclass(frozen=True)
class Buffer:
    """One block to place in the arena; after in-place merging it may carry several values."""

    name: str  # the value name (for a merged buffer, the first value's name)
    size: int  # bytes, before alignment
    start: int  # first step it is live (inputs: 0)
    end: int  # last step it is live, inclusive (outputs: the last step)
    values: tuple[str, ...] = ()  # every value name sharing this buffer (in-place chains)

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.start <= other.end and other.start <= self.end


def align_up(size: int, alignment: int) -> int:
    return -(-size // alignment) * alignment


def value_nbytes(value: Value) -> int:
    if not value.type.is_static:
        raise PlanError(f"%{value.name} has symbolic dims {value.type.symbolic_dims}",
                        hint="specialise them first, e.g. --shape name=1,3,224,224")
    return value.type.nbytes


def planned_values(graph: Graph, include_io: bool) -> list[Value]:
    """The values that live in the arena, in definition order."""
    defined = [v for node in graph.nodes for v in node.outputs]
    if include_io:
        return list(graph.inputs) + defined
    outputs = {id(v) for v in graph.outputs}
    return [v for v in defined if id(v) not in outputs]


def live_intervals(graph: Graph, order: Sequence[Node], include_io: bool = False) -> list[Buffer]:
    """One Buffer per planned value, with its live interval over ``order`` (one value each)."""
    position = {id(node): i for i, node in enumerate(order)}
    last_step = max(len(order) - 1, 0)
    outputs = {id(v) for v in graph.outputs}
    buffers = []
    for value in planned_values(graph, include_io):
        start = 0 if value.producer is None else position[id(value.producer)]
        end = max((position[id(u)] for u in value.users if id(u) in position), default=start)
        if id(value) in outputs:
            end = last_step
        buffers.append(Buffer(value.name, value_nbytes(value), start, max(end, start),
                              (value.name,)))
    return buffers


def lower_bound(buffers: Sequence[Buffer], alignment: int) -> int:
    """Max over steps of the sum of ALIGNED sizes live at that step.

    Aligned, because every strategy must round sizes up: with raw sizes the bound would be one no
    aligned plan can reach, and the best/bound ratio would measure alignment rather than planning.
    """
    if not buffers:
        return 0
    steps = max(b.end for b in buffers) + 1
    delta = [0] * (steps + 1)
    for b in buffers:
        size = align_up(b.size, alignment)
        delta[b.start] += size
        delta[b.end + 1] -= size
    return max(itertools.accumulate(delta[:steps], initial=0))
