"""Shrink a failing graph to the few nodes that still fail the same way (delta debugging).

A candidate keeps a subset of the original graph's nodes. A value the kept nodes read but a
dropped node produced becomes a graph input, fed with what the reference computed for it on
the original feeds, so cutting a graph anywhere keeps the data the failing node sees; the
candidate's outputs are its kept nodes' unread results. Zeller's ddmin removes chunks of nodes, halving the chunk size when no chunk can go, until no single node can
be removed without the failure disappearing (or changing kind: a crash must stay a crash of
the same exception, a mismatch a mismatch).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from mlc.ir import Graph
from mlc.ir.graph import Node, Value

Still = Callable[[Graph, dict[str, np.ndarray]], bool]
"""``still_fails(graph, feeds)``: whether a candidate shows the original failure."""

MAX_TESTS = 200  # candidates tried at most per failure (each one a compile)


class _Uncut(Exception):
    """A kept node reads a dropped node's value that the reference has no array for."""


def subgraph(graph: Graph, keep: Sequence[Node], feeds: Mapping[str, np.ndarray],
             trace: Mapping[str, np.ndarray]) -> tuple[Graph, dict[str, np.ndarray]] | None:
    """The graph of ``keep`` (in ``graph``'s order) and its feeds; None when ``keep`` is empty or
    needs a value the reference did not compute.

    Its outputs are the kept nodes' results that no kept node reads (so every kept node stays
    alive), in node order."""
    if not keep:
        return None
    kept = {id(n) for n in keep}
    fresh = Graph(graph.name)
    values: dict[int, Value] = {}
    new_feeds: dict[str, np.ndarray] = {}

    def operand(value: Value) -> Value:
        if id(value) not in values:
            if value.is_const:
                values[id(value)] = fresh.add_constant(value.const, name=value.name)
            else:  # a graph input, or the output of a dropped node: fed with the reference's value
                known = feeds.get(value.name, trace.get(value.name))
                if known is None:  # the reference never computed it (it failed before)
                    raise _Uncut
                values[id(value)] = fresh.add_input(value.name, value.type)
                new_feeds[value.name] = np.asarray(known)
        return values[id(value)]

    read: set[int] = set()
    for node in graph.nodes:
        if id(node) not in kept:
            continue
        try:
            inputs = [None if v is None else operand(v) for v in node.inputs]
        except _Uncut:
            return None
        read.update(id(v) for v in node.inputs if v is not None)
        copy = fresh.add_node(node.op, inputs, dict(node.attrs),
                              output_types=[o.type for o in node.outputs],
                              output_names=[o.name for o in node.outputs], name=node.name)
        for old, new in zip(node.outputs, copy.outputs):
            values[id(old)] = new
    fresh.outputs = [values[id(o)] for node in graph.nodes if id(node) in kept
                     for o in node.outputs if id(o) not in read]
    return fresh, new_feeds


def minimize(graph: Graph, feeds: Mapping[str, np.ndarray], trace: Mapping[str, np.ndarray],
             still_fails: Still, max_tests: int = MAX_TESTS
             ) -> tuple[Graph, dict[str, np.ndarray], int]:
    """The smallest subgraph found that still fails, its feeds, and how many candidates were
    tried. ``graph`` itself is assumed to fail."""
    tests = 0
    cache: dict[frozenset[int], bool] = {}

    def fails(nodes: Sequence[Node]) -> bool:
        nonlocal tests
        key = frozenset(id(n) for n in nodes)
        if key not in cache:
            made = subgraph(graph, nodes, feeds, trace)
            if made is None or tests >= max_tests:
                cache[key] = False
            else:
                tests += 1
                cache[key] = still_fails(*made)
        return cache[key]

    nodes = _ddmin(list(graph.nodes), fails)
    made = subgraph(graph, nodes, feeds, trace)
    assert made is not None
    return made[0], made[1], tests


def _ddmin(items: list[Node], fails: Callable[[Sequence[Node]], bool]) -> list[Node]:
    granularity = 2
    while len(items) >= 2:
        size = -(-len(items) // granularity)
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        for chunk in chunks:
            if fails(chunk):
                items, granularity = chunk, 2
                break
        else:
            for chunk in chunks:
                dropped = {id(n) for n in chunk}
                rest = [n for n in items if id(n) not in dropped]
                if fails(rest):
                    items, granularity = rest, max(granularity - 1, 2)
                    break
            else:
                if granularity >= len(items):
                    break
                granularity = min(len(items), 2 * granularity)
    return items
