"""dce: dead-code elimination. The PassManager runs it on fused bodies first, so a body parameter
left unread by its own dce is dropped here, with the fused node's matching input."""

from __future__ import annotations

from dataclasses import dataclass

from mlc.ir import Graph, Node, remove_unused

from .base import Pass, register_pass


@register_pass("dce")
@dataclass
class DeadCodeElimination(Pass):
    """Remove nodes whose outputs nothing reads (transitively) and unused constants."""

    bodies = True

    def run(self, graph: Graph) -> bool:
        changed = any([_prune_body_inputs(node) for node in graph.nodes if node.body is not None])
        return remove_unused(graph) or changed


def _prune_body_inputs(node: Node) -> bool:
    body = node.body
    assert body is not None
    inputs = [v for v in node.inputs if v is not None]
    if len(inputs) != len(body.inputs) or len(node.inputs) != len(inputs):
        return False  # not the one-to-one correspondence this code understands; leave it be
    keep = [i for i, param in enumerate(body.inputs) if param.uses or param.is_graph_output]
    if len(keep) == len(body.inputs):
        return False
    for param in [p for i, p in enumerate(body.inputs) if i not in keep]:
        body.remove_input(param)
    node.inputs = [inputs[i] for i in keep]
    return True

