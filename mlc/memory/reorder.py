"""Reordering: a topological order of the top-level nodes with a lower memory peak.

Branchy graphs (inception, densenet) leave the order of independent nodes free, and the order
decides how many branch results are live at once. A list scheduler builds the order: among the
ready nodes it takes the one that allocates least minus frees most (ties: the original order,
so a graph already in a good order keeps it); seeded restarts pick randomly among the best few.
Orders are compared by their lower bound, and the winner's arena by the caller, which keeps it
only when its arena is smaller. The graph is never reordered here (see plan.apply_order).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Sequence

from mlc.ir.graph import Graph, Node

from .liveness import align_up, lower_bound, planned_values
from .strategies import arena_size


def schedule(graph: Graph, alignment: int, include_io: bool, rng: random.Random | None = None,
             spread: int = 1) -> list[Node]:
    """One topological order from the greedy scheduler; with ``rng``, a random pick among the
    ``spread`` best-scoring ready nodes."""
    nodes = list(graph.nodes)
    index = {id(n): i for i, n in enumerate(nodes)}
    planned = {id(v) for v in planned_values(graph, include_io)}
    outputs = {id(v) for v in graph.outputs}
    waiting: list[int] = []  # per node, the producers not yet scheduled
    succs: list[set[int]] = [set() for _ in nodes]
    for i, node in enumerate(nodes):
        deps = {index[id(v.producer)] for v in node.inputs
                if v is not None and v.producer is not None and id(v.producer) in index}
        waiting.append(len(deps))
        for d in deps:
            succs[d].add(i)
    # value id -> number of distinct reader nodes not yet scheduled
    readers = Counter(vid for node in nodes for vid in {id(v) for v in node.inputs if v is not None})

    def size(v) -> int:
        return align_up(v.type.nbytes, alignment) if id(v) in planned else 0

    def score(i: int) -> int:
        node = nodes[i]
        alloc = sum(size(v) for v in node.outputs)
        distinct = {id(v): v for v in node.inputs if v is not None and not v.is_const}
        freed = sum(size(v) for v in distinct.values()
                    if readers[id(v)] == 1 and id(v) not in outputs)
        return alloc - freed

    ready = [i for i, w in enumerate(waiting) if w == 0]
    order: list[Node] = []
    while ready:
        ranked = sorted(ready, key=lambda i: (score(i), i))
        pick = ranked[rng.randrange(min(spread, len(ranked)))] if rng else ranked[0]
        ready.remove(pick)
        node = nodes[pick]
        order.append(node)
        for v in {id(v): v for v in node.inputs if v is not None}.values():
            readers[id(v)] -= 1
        for s in succs[pick]:
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    return order


def better_order(graph: Graph, arena: int, *, alignment: int, include_io: bool, inplace: bool,
                 restarts: int = 16, seed: int = 0) -> list[Node] | None:
    """The order with the smallest first-fit arena among the scheduler's candidates, if any beats
    ``arena``; None otherwise."""
    from .exact import near_exact
    from .plan import plan_buffers

    rng = random.Random(seed)
    candidates = [schedule(graph, alignment, include_io)]
    candidates += [schedule(graph, alignment, include_io, rng, spread=2 + k % 3)
                   for k in range(restarts)]
    scored = []
    for order in candidates:
        buffers, _ = plan_buffers(graph, order, alignment, include_io, inplace)
        scored.append((lower_bound(buffers, alignment), order, buffers))
    scored.sort(key=lambda t: t[0])
    best = None
    for bound, order, buffers in scored[:4]:
        if bound >= arena:
            break
        found = arena_size(buffers, near_exact(buffers, alignment, rounds=20), alignment)
        if found < arena:
            best, arena = order, found
    return best


def is_topological(order: Sequence[Node]) -> bool:
    seen: set[int] = set()
    members = {id(n) for n in order}
    for node in order:
        for v in node.inputs:
            if v is not None and v.producer is not None and id(v.producer) in members \
                    and id(v.producer) not in seen:
                return False
        seen.add(id(node))
    return True
