"""fold-constants: evaluate nodes whose inputs are all constants, with the registry's kernels.

The folded value is exactly what the interpreter would compute (same kernel, same cast to the
declared dtype), so folding never moves an output.

Size rule — folding must not bloat the model:
  * a result with more than ``max-elements`` elements is never folded;
  * a result that is larger than all its constant inputs together *and* has more than
    ``grow-limit`` elements is left as a node: expand/tile/broadcasting arithmetic of a small
    constant into a big one is cheap at run time and expensive in the file.
A node whose output is a graph output is left alone (a constant cannot carry the output's name
through every exporter), and so is a node whose kernel raises (the error belongs to run time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlc.ir import Graph, Node, remove_if_dead, replace_node
from mlc.ops import get_op

from .base import Pass, register_pass


def evaluate(node: Node) -> list[np.ndarray] | None:
    """The node's outputs computed from its constant inputs, or None if the kernel fails."""
    args = [None if v is None else v.const for v in node.inputs]
    try:
        with np.errstate(all="ignore"):  # inf/nan results fold exactly as the kernel makes them
            if node.body is not None:
                from mlc.interp import run

                feeds = {p.name: a for p, a in zip(node.body.inputs, args)}
                results = run(node.body, feeds, as_list=True)
            else:
                results = get_op(node.op).compute(args, node.attrs)
    except Exception:  # noqa: BLE001 — a failing kernel is reported when the graph runs
        return None
    arrays = []
    for out, result in zip(node.outputs, results):
        arr = np.asarray(result)
        if arr.shape != tuple(out.shape):
            return None
        arrays.append(arr.astype(out.dtype.numpy, copy=False))
    return arrays if len(arrays) == len(node.outputs) else None


def foldable(node: Node, max_elements: int, grow_limit: int) -> bool:
    present = [v for v in node.inputs if v is not None]
    if not present or not all(v.is_const for v in present):
        return False
    if any(out.is_graph_output for out in node.outputs):
        return False
    if not all(out.type.is_static for out in node.outputs):
        return False
    produced = sum(out.type.numel for out in node.outputs)
    consumed = sum(v.const.size for v in present)
    if produced > max_elements:
        return False
    return not (produced > consumed and produced > grow_limit)


@register_pass("fold-constants")
@dataclass
class FoldConstants(Pass):
    """Evaluate nodes whose inputs are all constants and replace them by constants (size-capped)."""

    bodies = True
    max_elements: int = 1 << 20  # never fold a result with more elements than this
    grow_limit: int = 1024  # a result larger than its inputs folds only up to this many elements

    def run(self, graph: Graph) -> bool:
        changed = False
        for node in list(graph.nodes):
            results = evaluate(node) if foldable(node, self.max_elements, self.grow_limit) else None
            if results is None:
                continue
            inputs = node.inputs
            # An unread output of a multi-output node needs no constant; the folded values keep
            # the names readers know.
            consts = [graph.add_constant(arr, name=out.name + ".folded") if out.uses else out
                      for out, arr in zip(node.outputs, results)]
            replace_node(graph, node, consts, adopt_names=True)
            for value in inputs:
                remove_if_dead(graph, value)
            changed = True
        return changed
