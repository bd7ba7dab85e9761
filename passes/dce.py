"""dce: dead-code elimination, plus the small graph-surgery helpers the other passes share.

A pass that replaces a node's outputs must not change what the graph's outputs are called (users
and tools address them by name). :func:`replace_node` encodes that rule once: uses move to the
replacement, and when a replaced value was a graph output the replacement takes over its name —
possible only when the replacement is a node output that is not already a graph output (a graph
input or a constant keeps its own name, so the node stays).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from mlc.ir import Graph
from mlc.ir.graph import Node, Value

from .base import Pass, register_pass


def can_take_name(graph: Graph, old: Value, new: Value) -> bool:
    """Whether ``new`` may stand in for ``old`` without renaming a graph input/output/constant."""
    if new is old or not old.is_graph_output:
        return True
    return (new.producer is not None and not new.is_const and not new.is_graph_output
            and new not in graph.inputs)


def replace_node(graph: Graph, node: Node, replacements: Sequence[Value], *,
                 adopt_names: bool = False) -> bool:
    """Make ``node``'s outputs' readers read ``replacements`` and remove ``node``.

    Returns False (and changes nothing) when a replaced graph output cannot keep its name.
    ``adopt_names`` also gives freshly built replacements the old names when free, so rewritten
    graphs stay readable (``bn1`` stays ``bn1`` after becoming mul + add).
    """
    pairs = list(zip(node.outputs, replacements))
    if not all(can_take_name(graph, old, new) for old, new in pairs):
        return False
    news = [new for old, new in pairs if old.is_graph_output and new is not old]
    if len({id(v) for v in news}) != len(news):
        return False  # one value cannot take two output names
    renames: list[tuple[Value, str]] = []
    for old, new in pairs:
        if new is old:
            continue
        if old.is_graph_output or (adopt_names and new.producer is not None and not new.is_const
                                   and not new.is_graph_output and new not in graph.inputs):
            renames.append((new, old.name))
        old.replace_all_uses_with(new)
    graph.remove_node(node)
    for value, name in renames:
        graph.rename(value, name)
    return True


def redirect_readers(node: Node, replacements: Sequence[Value]) -> bool:
    """Move the *nodes* reading ``node``'s outputs to ``replacements``; graph outputs stay.

    The fallback when :func:`replace_node` must keep a node for its output name: the work built
    on that output can still simplify or merge. Returns whether any reader moved.
    """
    moved = False
    for old, new in zip(node.outputs, replacements):
        if new is old:
            continue
        for use in old.uses:
            use.node.set_input(use.index, new)
            moved = True
    return moved


def drop_if_dead(graph: Graph, value: Value | None) -> None:
    """Remove ``value``'s producer (or the constant itself) if nothing reads it, transitively."""
    if value is None or value.uses or value.is_graph_output or value.graph is not graph:
        return
    if value.is_const:
        if value.name in graph.constants:
            graph.remove_constant(value)
        return
    node = value.producer
    if node is None or node.graph is not graph:
        return
    if any(out.uses or out.is_graph_output for out in node.outputs):
        return
    inputs = node.inputs
    graph.remove_node(node)
    for v in inputs:
        drop_if_dead(graph, v)


def remove_graph_input(graph: Graph, value: Value) -> None:
    """Drop an unread parameter of a fused body (the owning node drops the matching input)."""
    graph.inputs.remove(value)
    graph._names.discard(value.name)  # noqa: SLF001 (the graph has no public API for this yet)


def eliminate_dead_code(graph: Graph, *, recurse: bool = True) -> bool:
    """Remove unread nodes and constants; prune fused bodies' dead nodes and unread parameters."""
    changed = False
    for node in reversed(list(graph.nodes)):
        if all(not out.uses and not out.is_graph_output for out in node.outputs):
            graph.remove_node(node)
            changed = True
        elif recurse and node.body is not None:
            changed |= eliminate_dead_code(node.body)
            changed |= _prune_body_inputs(node)
    for value in list(graph.constants.values()):
        if not value.uses and not value.is_graph_output:
            graph.remove_constant(value)
            changed = True
    return changed


def _prune_body_inputs(node: Node) -> bool:
    body = node.body
    assert body is not None
    inputs = [v for v in node.inputs if v is not None]
    if len(inputs) != len(body.inputs) or len(node.inputs) != len(inputs):
        return False  # not the one-to-one correspondence this code understands; leave it be
    keep = [i for i, param in enumerate(body.inputs) if param.uses or param.is_graph_output]
    if len(keep) == len(body.inputs):
        return False
    for i in reversed(range(len(body.inputs))):
        if i not in keep:
            remove_graph_input(body, body.inputs[i])
    node.inputs = [inputs[i] for i in keep]
    return True


@register_pass("dce")
@dataclass
class DeadCodeElimination(Pass):
    """Remove nodes whose outputs nothing reads (transitively) and unused constants."""

    recurse: bool = True  # also clean the bodies of fused nodes

    def run(self, graph: Graph) -> bool:
        return eliminate_dead_code(graph, recurse=self.recurse)
