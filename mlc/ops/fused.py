"""The ``fused`` op: a node that holds a sub-graph (a fusion group made by the ``fuse`` pass)."""

from __future__ import annotations

from mlc.ir.op_registry import Cost, FusionKind, register


def _infer(*input_types, body):
    return [v.type for v in body.outputs]


def _cost(inputs, outputs, **attrs):
    # The group reads its inputs and writes its outputs once; intermediates stay in registers or
    # cache, which is the point of fusing. The body's MACs are added by mlc.stats, which recurses.
    return Cost(0, sum(t.nbytes for t in inputs if t is not None), sum(t.nbytes for t in outputs))


@register("fused", inputs=["inputs*"], outputs=["outputs*"], fusion=FusionKind.OPAQUE, infer=_infer,
          cost=_cost, variadic_outputs=True)
def fused(*inputs, body=None):
    """Runs its body sub-graph; the interpreter executes the body node by node."""
    raise NotImplementedError("the interpreter evaluates fused bodies itself")
