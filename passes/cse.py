"""cse: common-subexpression elimination over nodes and equal constants.

Two nodes are the same computation when they apply the same op to the same input values (in any
order for commutative ops) with equal attributes (arrays compared by value) and, for fused nodes,
structurally equal bodies.
Constants are merged first, so nodes reading two copies of one weight become equal too. Large
constants are not compared (hashing every weight of a big model buys nothing: duplicates are
small tables, shapes and scalars).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlc.ir import Graph, Node, Value, replace_node, replace_uses

from .base import Pass, register_pass


def freeze(value: Any) -> Any:
    """A hashable stand-in for an attribute value that compares arrays and floats by content."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (tuple, list)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, float):
        return ("float", value.hex())  # nan == nan here, and -0.0 != 0.0
    return value


def constant_key(value: Value) -> tuple:
    arr = value.const
    return (arr.dtype.str, arr.shape, hashlib.sha1(np.ascontiguousarray(arr).tobytes()).hexdigest())


def body_signature(body: Graph) -> tuple:
    """A name-independent description of a fused body: equal signatures, equal computations."""
    index: dict[int, Any] = {}
    for i, value in enumerate(body.inputs):
        index[id(value)] = ("in", i, value.type)
    for value in body.constants.values():
        index[id(value)] = ("const",) + constant_key(value)
    nodes = []
    for n, node in enumerate(body.nodes):
        ins = tuple(None if v is None else index[id(v)] for v in node.inputs)
        nodes.append((node.op, ins, tuple(sorted((k, freeze(v)) for k, v in node.attrs.items())),
                      None if node.body is None else body_signature(node.body)))
        for k, out in enumerate(node.outputs):
            index[id(out)] = ("node", n, k)
    return (tuple(nodes), tuple(index[id(v)] for v in body.outputs))


# Binary ops whose operands commute exactly (IEEE add and mul are commutative, NaN included), so
# add(a, b) and add(b, a) are one computation.
COMMUTATIVE = frozenset({"add", "mul", "min", "max", "equal"})


def node_key(node: Node) -> tuple:
    attrs = tuple(sorted((k, freeze(v)) for k, v in node.attrs.items()))
    body = None if node.body is None else body_signature(node.body)
    inputs = tuple(None if v is None else id(v) for v in node.inputs)
    if node.op in COMMUTATIVE and None not in inputs:
        inputs = tuple(sorted(inputs))
    return (node.op, inputs, attrs, body)


def merge_constants(graph: Graph, max_elements: int) -> bool:
    changed = False
    seen: dict[tuple, Value] = {}
    for value in list(graph.constants.values()):
        if value.const.size > max_elements:
            continue
        key = constant_key(value)
        keep = seen.get(key)
        if keep is None:
            seen[key] = value
        elif not value.is_graph_output:
            value.replace_all_uses_with(keep)
            graph.remove_constant(value)
            changed = True
        else:  # it stays for its output name; its readers move to the survivor
            changed |= replace_uses(value, keep)
    return changed


@register_pass("cse")
@dataclass
class CommonSubexpressionElimination(Pass):
    """Merge nodes computing the same op on the same inputs, and equal constants."""

    bodies = True
    max_const_elements: int = 65536  # constants larger than this are never compared

    def run(self, graph: Graph) -> bool:
        changed = merge_constants(graph, self.max_const_elements)
        seen: dict[tuple, Node] = {}
        for node in list(graph.nodes):
            keep = seen.setdefault(node_key(node), node)
            if keep is not node:
                # When both are graph outputs, two names need two values: the duplicate stays for
                # its name, but the nodes reading it move to the survivor (and may merge in turn).
                changed |= replace_node(graph, node, keep.outputs)
        return changed
