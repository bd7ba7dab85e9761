"""simplify: local rewrites that remove work without changing any value.

Every rule either forwards a node's input to its readers (identity, dropout, x*1, no-op cast/pad/
slice/expand, concat or split of one piece, reshape or transpose that changes nothing) or folds a
chain into one node (reshape→reshape, transpose→transpose, a transpose that only moves size-1
axes becomes a reshape). Results are bit-identical: x+0 and x-0 can turn -0.0 into +0.0, which
compares equal. A rule that would forward a graph input or constant into a graph output keeps
the node, so output names never change (see passes.dce.replace_node).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mlc.ir import Graph
from mlc.ir.graph import Node, Value

from .base import Pass, register_pass
from .dce import drop_if_dead, redirect_readers, replace_node

# A rule returns the value that replaces the node's single output, or None when it does not apply.
# Rules that rewrite the node in place (chains) return the node's own output.
Rule = Callable[[Graph, Node], "Value | None"]


def _const(value: Value | None) -> np.ndarray | None:
    return None if value is None else value.const


def _same_type(a: Value, b: Value) -> bool:
    return a.type == b.type


def _forward_if_same_type(node: Node) -> Value | None:
    x = node.inputs[0]
    return x if x is not None and _same_type(x, node.output) else None


def _binary_neutral(neutral: float, *, commutative: bool) -> Rule:
    """x op c → x when every element of the constant c equals ``neutral`` and x's type is kept."""

    def rule(graph: Graph, node: Node) -> Value | None:
        a, b = node.inputs
        for x, c in ((a, b), (b, a)) if commutative else ((a, b),):
            arr = _const(c)
            if arr is not None and x is not None and arr.size and np.all(arr == neutral) \
                    and _same_type(x, node.output):
                return x
        return None

    return rule


def _identity(graph: Graph, node: Node) -> Value | None:
    return node.inputs[0]


def _cast(graph: Graph, node: Node) -> Value | None:
    return _forward_if_same_type(node)


def _pad(graph: Graph, node: Node) -> Value | None:
    return node.inputs[0] if not any(node.attrs["pads"]) else None


def _slice(graph: Graph, node: Node) -> Value | None:
    x = node.inputs[0]
    a = node.attrs
    for start, end, axis, step in zip(a["starts"], a["ends"], a["axes"], a["steps"]):
        if step != 1 or start != 0 or end != x.shape[axis]:
            return None
    return x


def _concat(graph: Graph, node: Node) -> Value | None:
    return node.inputs[0] if len(node.inputs) == 1 else None


def _split(graph: Graph, node: Node) -> Value | None:
    return node.inputs[0] if len(node.outputs) == 1 else None


def _reshape(graph: Graph, node: Node) -> Value | None:
    x = node.inputs[0]
    if _same_type(x, node.output):
        return x
    if x.producer is not None and x.producer.op == "reshape":
        _rewire(graph, node, 0, x.producer.inputs[0])
        return _reshape(graph, node) or node.output
    return None


def _transpose(graph: Graph, node: Node) -> Value | None:
    x = node.inputs[0]
    perm = tuple(node.attrs["perm"])
    if perm == tuple(range(len(perm))):
        return x
    inner = x.producer
    if inner is not None and inner.op == "transpose":
        inner_perm = inner.attrs["perm"]
        node.attrs["perm"] = tuple(inner_perm[p] for p in perm)
        _rewire(graph, node, 0, inner.inputs[0])
        return _transpose(graph, node) or node.output
    if _moves_only_unit_axes(x.shape, perm):
        index = graph.node_index(node)
        reshape = graph.add_node("reshape", [x], {"shape": node.output.shape}, index=index)
        return reshape.output
    return None


def _moves_only_unit_axes(shape: tuple, perm: tuple) -> bool:
    """A transpose that keeps the order of the axes larger than 1 is a reshape."""
    kept = [p for p in perm if shape[p] != 1]
    return kept == sorted(kept)


def _rewire(graph: Graph, node: Node, index: int, value: Value) -> None:
    old = node.inputs[index]
    node.set_input(index, value)
    drop_if_dead(graph, old)


RULES: dict[str, Rule] = {
    "identity": _identity,
    "dropout": _identity,
    "cast": _cast,
    "pad": _pad,
    "slice": _slice,
    "expand": lambda graph, node: _forward_if_same_type(node),
    "concat": _concat,
    "split": _split,
    "reshape": _reshape,
    "transpose": _transpose,
    "mul": _binary_neutral(1, commutative=True),
    "add": _binary_neutral(0, commutative=True),
    "sub": _binary_neutral(0, commutative=False),
    "div": _binary_neutral(1, commutative=False),
}


def simplify_graph(graph: Graph, *, remove_dropout: bool = True, recurse: bool = True,
                   max_rounds: int = 20) -> bool:
    """Apply RULES to every node until none fires (each round walks the graph in order)."""
    changed = False
    for _ in range(max_rounds):
        round_changed = False
        for node in list(graph.nodes):
            if node.graph is not graph:
                continue  # removed earlier in this round
            if node.body is not None:
                if recurse:
                    round_changed |= simplify_graph(node.body, remove_dropout=remove_dropout)
                continue
            rule = RULES.get(node.op)
            if rule is None or (node.op == "dropout" and not remove_dropout):
                continue
            round_changed |= _apply(graph, node, rule)
        changed |= round_changed
        if not round_changed:
            break
    return changed


def _state(node: Node) -> tuple:
    """What an in-place rule may change: the inputs and which objects the attributes hold."""
    return tuple(map(id, node.inputs)), tuple((k, id(v)) for k, v in node.attrs.items())


def _apply(graph: Graph, node: Node, rule: Rule) -> bool:
    before = _state(node)
    count = len(graph.nodes)
    replacement = rule(graph, node)
    rewritten = _state(node) != before
    if replacement is None or any(replacement is out for out in node.outputs):
        return rewritten
    inputs = node.inputs
    fresh = len(graph.nodes) > count  # the rule built the replacement: it may take the old name
    if not replace_node(graph, node, [replacement], adopt_names=fresh):
        # The node stays for its output name; the nodes reading it need not.
        moved = not fresh and redirect_readers(node, [replacement])
        drop_if_dead(graph, replacement)  # e.g. a reshape built for a transpose we must keep
        return rewritten or moved
    for value in inputs:
        drop_if_dead(graph, value)
    return True


@register_pass("simplify")
@dataclass
class Simplify(Pass):
    """Remove identity/dropout and no-op ops, x*1 and x+0, and merge reshape/transpose chains."""

    remove_dropout: bool = True  # inference dropout is the identity
    recurse: bool = True  # also inside the bodies of fused nodes

    def run(self, graph: Graph) -> bool:
        return simplify_graph(graph, remove_dropout=self.remove_dropout, recurse=self.recurse)
