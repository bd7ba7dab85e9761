"""In-place reuse: an elementwise node may write its output over an input that dies there.

Element i of an elementwise (or broadcast, same-shape) output depends only on element i of its
full-size inputs, so a kernel streaming over the tensor can overwrite the input it reads. The
merge is made on the buffer list: the input's buffer is extended to the output's end and carries
both values. Not for reshape, transpose and other injective ops: they could be free views, but a
view changes how a backend addresses memory, which is a different feature.
"""

from __future__ import annotations

from typing import Sequence

from mlc.ir.graph import Graph, Node
from mlc.ops import get_op
from mlc.ir.op_registry import FusionKind

from .liveness import Buffer

_STREAMING = {FusionKind.ELEMWISE, FusionKind.BROADCAST}


def can_run_in_place(node: Node) -> bool:
    """An elementwise/broadcast op, or a fused node whose body is made only of such ops."""
    if node.body is not None:
        return bool(node.body.nodes) and all(
            n.body is None and get_op(n.op).fusion in _STREAMING for n in node.body.nodes)
    return get_op(node.op).fusion in _STREAMING


def merge_in_place(graph: Graph, order: Sequence[Node], buffers: list[Buffer]) -> list[Buffer]:
    """Merge each in-place-capable node's output into the buffer of an input dying at that node."""
    # A graph output must survive the last step, so it never hosts a later value, even when its
    # interval (which ends at the last step) makes it look as if it died at the last node.
    results = {v.name for v in graph.outputs}
    merged: dict[str, Buffer] = {b.name: b for b in buffers}  # buffer name -> current buffer
    owner: dict[str, str] = {v: b.name for b in buffers for v in b.values}  # value -> buffer name
    for step, node in enumerate(order):
        if not can_run_in_place(node):
            continue
        claimed: set[str] = set()
        for out in node.outputs:
            if out.name not in owner:
                continue  # outside the arena
            out_buf = merged[owner[out.name]]
            for value in node.inputs:
                if value is None or value.name not in owner or value.dtype != out.dtype:
                    continue
                host = merged[owner[value.name]]
                if (host.name in claimed or host.end != step or host.size != out_buf.size
                        or results.intersection(host.values)):
                    continue
                grown = Buffer(host.name, host.size, host.start, max(host.end, out_buf.end),
                               host.values + out_buf.values)
                merged[host.name] = grown
                del merged[out_buf.name]
                for v in out_buf.values:
                    owner[v] = host.name
                claimed.add(host.name)
                break
    return sorted(merged.values(), key=lambda b: (b.start, b.name))
