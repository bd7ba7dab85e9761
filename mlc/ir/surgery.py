"""Graph surgery every pass shares: replace a node, move a value's readers, remove what died.

Graph-output names are interface: users and tools address outputs by name, so a replacement never
renames one. :func:`replace_node` encodes that rule once. The readers of the node's outputs move to
the replacements, and a replaced graph output passes its name on; only a node output that is not
itself a graph output can take it (a graph input or a constant keeps its own name). When one
cannot, the node stays to carry the name and only the nodes reading it move, so the work built on
it can still simplify or merge.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from .graph import Graph, Node, Value


def is_dead(node: Node) -> bool:
    """Nothing reads any output of ``node`` and none is a graph output."""
    return all(not out.uses and not out.is_graph_output for out in node.outputs)


def replace_uses(old: Value, new: Value) -> bool:
    """Make the nodes reading ``old`` read ``new``; graph outputs keep ``old`` (their name).

    Returns whether any reader moved.
    """
    uses = old.uses if new is not old else ()
    for use in uses:
        use.node.set_input(use.index, new)
    return bool(uses)


def _can_take_name(graph: Graph, old: Value, new: Value) -> bool:
    if new is old or not old.is_graph_output:
        return True
    return (new.producer is not None and not new.is_const and not new.is_graph_output
            and new not in graph.inputs)


def replace_node(graph: Graph, node: Node, replacements: Sequence[Value], *,
                 adopt_names: bool = False) -> bool:
    """Replace ``node`` by ``replacements`` (one per output, the output itself for "keep").

    Readers move and ``node`` goes; a replaced graph output hands its name to its replacement.
    When a replacement cannot take that name (see the module docstring), or one value would take
    two, ``node`` stays and only its node readers move. ``adopt_names`` says the replacements were
    built for this: they take the old names even where no graph output demands it, so rewritten
    graphs stay readable (``bn1`` stays ``bn1`` after becoming mul + add). Returns whether
    anything changed.
    """
    pairs = [(old, new) for old, new in zip(node.outputs, replacements) if new is not old]
    takers = [new for old, new in pairs if old.is_graph_output]
    if not all(_can_take_name(graph, old, new) for old, new in pairs) \
            or len({id(v) for v in takers}) != len(takers):
        return any([replace_uses(old, new) for old, new in pairs])
    renames = [(new, old.name) for old, new in pairs if adopt_names or old.is_graph_output]
    for old, new in pairs:
        old.replace_all_uses_with(new)
    graph.remove_node(node)
    for value, name in renames:
        graph.rename(value, name)
    return True


def remove_dead(graph: Graph, nodes: Iterable[Node]) -> bool:
    """Remove those of ``nodes`` (in ``graph``) that nothing reads, consumers before producers, so
    a dead chain among them goes in one call. Returns whether any went."""
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    live = {id(n): n for n in nodes if n.graph is graph}
    removed = False
    for node in sorted(live.values(), key=lambda n: -position[id(n)]):
        if is_dead(node):
            graph.remove_node(node)
            removed = True
    return removed


def remove_unused(graph: Graph) -> bool:
    """Remove every node whose outputs nothing reads (transitively) and every constant nothing
    reads; returns whether anything went."""
    removed = remove_dead(graph, graph.nodes)
    for value in list(graph.constants.values()):
        if not value.uses and not value.is_graph_output:
            graph.remove_constant(value)
            removed = True
    return removed


def remove_if_dead(graph: Graph, value: Value | None) -> None:
    """Remove ``value`` if nothing reads it: its producer (then that node's inputs, transitively)
    or, for a constant, the constant itself."""
    if value is None or value.uses or value.is_graph_output or value.graph is not graph:
        return
    if value.is_const:
        if graph.constants.get(value.name) is value:
            graph.remove_constant(value)
        return
    node = value.producer
    if node is None or node.graph is not graph or not is_dead(node):
        return
    inputs = node.inputs
    graph.remove_node(node)
    for v in inputs:
        remove_if_dead(graph, v)


__all__ = ["is_dead", "remove_dead", "remove_if_dead", "remove_unused", "replace_node",
           "replace_uses"]
