"""Converters nobody writes: an ONNX op that is a core op's ``onnx_equivalent`` (same inputs, no
attributes: Relu, Add, MatMul, Where …) imports as that op, input for input, read from the op
registry. The package imports this module after the hand-written ones, and a hand-written
converter for the same ONNX op is the one kept (Min folds n inputs, PRelu reads opset 6's slope)."""

from __future__ import annotations

from typing import Callable

from mlc.ir import Value
from mlc.ops import all_ops

from .context import ImportContext, NodeView
from .registry import CONVERTERS, converter


def legacy_broadcast(ctx: ImportContext, n: NodeView, a: Value, b: Value) -> Value:
    """Opset < 7 binary ops broadcast b onto a only with ``broadcast=1``, aligned at ``axis``
    (default: trailing). Reshape b so that numpy's trailing alignment gives the same result."""
    if n.opset >= 7 or not n.attr("broadcast", 0) or not n.has_attr("axis"):
        return b
    axis = int(n.attr("axis")) % max(len(a.shape), 1)
    trailing = len(a.shape) - axis - len(b.shape)
    if trailing <= 0:
        return b
    return ctx.reshape(b, tuple(b.shape) + (1,) * trailing)


def _equivalent(core: str, arity: int) -> Callable[[ImportContext, NodeView], Value]:
    def convert(ctx: ImportContext, n: NodeView) -> Value:
        inputs = [n.input(i) for i in range(arity)]
        if arity == 2:
            inputs[1] = legacy_broadcast(ctx, n, *inputs)
        return ctx.emit(core, *inputs)

    return convert


for _op in all_ops().values():
    if _op.onnx_equivalent is not None and _op.onnx_equivalent not in CONVERTERS:
        converter(_op.onnx_equivalent)(_equivalent(_op.name, len(_op.inputs)))
