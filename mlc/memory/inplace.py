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
    """Merge each in-place-capable node's output into the buffer of an input dying at that node.

    A chain merges into one buffer holding every value of the chain; the values are gathered in
    lists and the Buffers rebuilt once at the end, so a 50 000-node chain is linear, not a tuple
    copied at every step.
    """
    # A graph output must survive the last step, so it never hosts a later value, even when its
    # interval (which ends at the last step) makes it look as if it died at the last node.
    results = {v.name for v in graph.outputs}
    ends = {b.name: b.end for b in buffers}  # buffer name -> last step, while merging
    values = {b.name: list(b.values) for b in buffers}  # buffer name -> the values it carries
    holds_result = {b.name for b in buffers if results.intersection(b.values)}
    owner: dict[str, str] = {v: b.name for b in buffers for v in b.values}  # value -> buffer name
    size = {b.name: b.size for b in buffers}
    for step, node in enumerate(order):
        if not can_run_in_place(node):
            continue
        claimed: set[str] = set()
        for out in node.outputs:
            if out.name not in owner:
                continue  # outside the arena
            out_buf = owner[out.name]
            for value in node.inputs:
                if value is None or value.name not in owner or value.dtype != out.dtype:
                    continue
                host = owner[value.name]
                if (host in claimed or ends[host] != step or size[host] != size[out_buf]
                        or host in holds_result):
                    continue
                ends[host] = max(ends[host], ends.pop(out_buf))
                moved = values.pop(out_buf)
                values[host] += moved
                if out_buf in holds_result:
                    holds_result.add(host)
                for v in moved:
                    owner[v] = host
                claimed.add(host)
                break
    merged = [Buffer(b.name, b.size, b.start, ends[b.name], tuple(values[b.name]))
              for b in buffers if b.name in values]
    return sorted(merged, key=lambda b: (b.start, b.name))
