"""Deep copies of graphs (used by passes that need a before/after, and by the numerics check)."""

from __future__ import annotations

from .graph import Graph, Value


def clone_graph(graph: Graph) -> Graph:
    new = Graph(graph.name)
    mapping: dict[int, Value] = {}
    for value in graph.inputs:
        mapping[id(value)] = new.add_input(value.name, value.type)
    for name, value in graph.constants.items():
        mapping[id(value)] = new.add_constant(value.const, name=name)
    for node in graph.nodes:
        inputs = [None if v is None else mapping[id(v)] for v in node.inputs]
        body = None if node.body is None else clone_graph(node.body)
        copy = new.add_node(node.op, inputs, dict(node.attrs),
                            output_types=[o.type for o in node.outputs],
                            output_names=[o.name for o in node.outputs], name=node.name, body=body)
        for old, fresh in zip(node.outputs, copy.outputs):
            mapping[id(old)] = fresh
    new.outputs = [mapping[id(v)] for v in graph.outputs]
    return new
