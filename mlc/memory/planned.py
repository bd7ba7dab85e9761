"""Planned execution: every planned value is a view into one numpy arena at its planned offset.

Kernels compute a fresh array from their argument views, then the result is copied into the
output's view (so an in-place node reads all it needs before its input's bytes are overwritten;
a multi-output node's results that are views of the arena are copied out before any is written).
If a plan let two live tensors share bytes, a later read would see the other's data and outputs
would differ from the plain interpreter's: this is the executable check of a plan.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from mlc.ir.graph import Graph, Value

from .liveness import PlanError
from .plan import MemoryPlan

_ARENA_ALIGN = 64  # the arena's own base address, so views are aligned as a backend's would be


def arena_buffer(nbytes: int) -> np.ndarray:
    """A uint8 array of ``nbytes`` whose data starts on a 64-byte boundary."""
    raw = np.zeros(nbytes + _ARENA_ALIGN, np.uint8)
    skip = (-raw.ctypes.data) % _ARENA_ALIGN
    return raw[skip:skip + nbytes]


def view(arena: np.ndarray, value: Value, offset: int) -> np.ndarray:
    nbytes = value.type.nbytes
    if offset < 0 or offset + nbytes > arena.size:
        raise PlanError(f"%{value.name} at offset {offset} (+{nbytes} bytes) leaves the "
                        f"{arena.size}-byte arena")
    return arena[offset:offset + nbytes].view(value.dtype.numpy).reshape(value.shape)


def run_planned(graph: Graph, feeds: Mapping[str, np.ndarray], plan: MemoryPlan,
                check_feeds: Callable, run_node: Callable) -> list[np.ndarray]:
    """Execute ``graph`` in ``plan.order`` with planned values in one arena; returns the outputs."""
    by_name = {n.outputs[0].name if n.outputs else "": n for n in graph.nodes}
    order = [by_name.get(name) for name in plan.order] if plan.order else list(graph.nodes)
    if None in order or len(order) != len(graph.nodes):
        raise PlanError("the plan's execution order does not match this graph's nodes",
                        hint="plan the same graph (after the same passes) you run")
    arena = arena_buffer(plan.arena)
    env = check_feeds(graph, feeds)
    for value in graph.inputs:
        if value.name in plan.value_offsets:
            slot = view(arena, value, plan.value_offsets[value.name])
            slot[...] = env[id(value)]
            env[id(value)] = slot
    for node in order:
        args = [None if v is None else (v.const if v.is_const else env[id(v)]) for v in node.inputs]
        results = run_node(node, args)
        if len(results) > 1:  # a result may be a view of an input another output overwrites
            results = [np.array(r, copy=True) if np.may_share_memory(r, arena) else r
                       for r in results]
        for value, result in zip(node.outputs, results):
            if value.name in plan.value_offsets:
                slot = view(arena, value, plan.value_offsets[value.name])
                slot[...] = result
                env[id(value)] = slot
            else:  # outside the arena: a private copy, never a view of bytes to be reused
                env[id(value)] = np.array(result, copy=True)
    return [v.const if v.is_const else np.array(env[id(v)], copy=True) for v in graph.outputs]
