"""Activations, arithmetic, comparisons and casts whose mapping translates something: attributes,
n-ary inputs folded into a chain, old opsets' semantics. The ONNX ops that simply are a core op
(Relu, Add, Where …) are imported by :mod:`.equivalents`."""

from __future__ import annotations

import numpy as np

from mlc.ir import Value

from .context import ImportContext, NodeView, onnx_dtype
from .registry import converter


def _chain(ctx: ImportContext, core: str, inputs: list[Value]) -> Value:
    """n-ary ONNX op → left fold of a binary core op; one input is an identity."""
    if len(inputs) == 1:
        return ctx.emit("identity", inputs[0])
    result = inputs[0]
    for other in inputs[1:]:
        result = ctx.emit(core, result, other)
    return result


converter("Min")(lambda ctx, n: _chain(ctx, "min", n.inputs()))
converter("Max")(lambda ctx, n: _chain(ctx, "max", n.inputs()))
converter("Sum")(lambda ctx, n: _chain(ctx, "add", n.inputs()))


@converter("Mean")
def mean(ctx: ImportContext, n: NodeView) -> Value:
    inputs = n.inputs()
    total = _chain(ctx, "add", inputs)
    if len(inputs) == 1:
        return total
    return ctx.emit("div", total, ctx.const(np.array(len(inputs), total.dtype.numpy)))


@converter("Gelu", since=20)
def gelu(ctx: ImportContext, n: NodeView) -> Value:
    approximate = n.attr("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise n.error(f"approximate={approximate!r} is not one of 'none', 'tanh'")
    return ctx.emit("gelu", n.input(0), approximate=approximate)


@converter("PRelu")
def prelu(ctx: ImportContext, n: NodeView) -> Value:
    x, slope = n.input(0), n.input(1)
    # Before opset 7 a 1-D slope held one value per channel (axis 1), not per trailing axis.
    if n.opset < 7 and len(slope.shape) == 1 and len(x.shape) > 2 and slope.shape[0] == x.shape[1] \
            and slope.shape[0] != 1:
        slope = ctx.reshape(slope, (slope.shape[0],) + (1,) * (len(x.shape) - 2))
    return ctx.emit("prelu", x, slope)


@converter("Clip", const_inputs=(1, 2))
def clip(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    if n.opset < 11:
        low, high = n.attr("min", -np.inf), n.attr("max", np.inf)
    else:
        low = _scalar(n, 1, -np.inf)
        high = _scalar(n, 2, np.inf)
    return ctx.emit("clip", x, min=float(low), max=float(high))


def _scalar(n: NodeView, i: int, default: float) -> float:
    array = n.const(i, default=None)
    if array is None:
        return default
    if np.asarray(array).size != 1:
        raise n.error(f"input {i} must be a scalar, got shape {list(np.shape(array))}")
    return float(np.asarray(array).reshape(()))


_CAST_NAMES = {  # Cast-1 spelt the target type as a string
    "FLOAT": 1, "UINT8": 2, "INT8": 3, "INT16": 5, "INT32": 6, "INT64": 7, "BOOL": 9,
    "FLOAT16": 10, "DOUBLE": 11,
}


@converter("Cast")
def cast(ctx: ImportContext, n: NodeView) -> Value:
    to = n.attr("to")
    if isinstance(to, str):
        to = _CAST_NAMES.get(to.upper(), 0)
    dtype = onnx_dtype(int(to), f"{n.label}: target type")
    return ctx.emit("cast", n.input(0), to=dtype)


@converter("Dropout", const_inputs=(1, 2))
def dropout(ctx: ImportContext, n: NodeView) -> Value | list[Value]:
    if n.opset >= 12:
        ratio = _scalar(n, 1, 0.5)
        training = n.const(2, default=np.array(False))
        # Training with ratio 0 drops nothing, so it is deterministic and the same as inference.
        if bool(np.asarray(training).reshape(-1)[0]) and ratio != 0:
            raise n.error("training_mode=true is not supported (mlc runs inference only)")
    else:
        ratio = n.attr("ratio", 0.5)
    x = n.input(0)
    y = ctx.emit("dropout", x, ratio=float(ratio))
    if not n.used(1):
        return y
    # Nothing is dropped, so the mask keeps every element (bool since Dropout-10, x's type before).
    mask = np.ones(x.shape, dtype=bool if n.opset >= 10 else x.dtype.numpy)
    return [y, ctx.const(mask)]
