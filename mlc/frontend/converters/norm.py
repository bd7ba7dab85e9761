"""Normalisations and softmax."""

from __future__ import annotations

import math

from mlc.errors import ShapeError
from mlc.ir import DType, Value

from .context import ImportContext, NodeView
from .registry import converter


@converter("BatchNormalization")
def batch_norm(ctx: ImportContext, n: NodeView) -> Value:
    n.only_first_output("a training statistic")
    if n.attr("training_mode", 0):
        raise n.error("training_mode=1 is not supported (mlc runs inference only)")
    if n.opset < 9 and not n.attr("spatial", 1):
        raise n.error("spatial=0 (per-activation statistics) is not supported")
    x, scale, bias, mean, var = (n.input(i) for i in range(5))
    return ctx.emit("batch_norm", x, scale, bias, mean, var, epsilon=n.attr("epsilon", 1e-5))


@converter("LayerNormalization", since=17)
def layer_norm(ctx: ImportContext, n: NodeView) -> Value | list[Value]:
    x = n.input(0)
    axis = int(n.attr("axis", -1)) % len(x.shape)
    eps = n.attr("epsilon", 1e-5)
    y = ctx.emit("layer_norm", x, n.input(1), n.input(2), axis=axis, epsilon=eps)
    if not (n.used(1) or n.used(2)):
        return y
    # Outputs 1 and 2 (Mean, InvStdDev) are training statistics; when a model reads them they
    # are computed from core ops, in the stash type (f32 unless stash_type says the input's).
    if n.attr("stash_type", 1) == 1 and x.dtype != DType.float32:
        x = ctx.emit("cast", x, to=DType.float32)
    axes = tuple(range(axis, len(x.shape)))
    mean = ctx.emit("reduce_mean", x, axes=axes, keepdims=True)
    d = ctx.emit("sub", x, mean)
    var = ctx.emit("reduce_mean", ctx.emit("mul", d, d), axes=axes, keepdims=True)
    std = ctx.emit("sqrt", ctx.emit("add", var, ctx.const(eps, dtype=x.dtype)))
    return [y, mean, ctx.emit("reciprocal", std)]


def _softmax_axis(n: NodeView, rank: int) -> int:
    """The axis in [0, rank): one outside [-rank, rank) is refused, not wrapped (onnxruntime
    refuses it too). Only the opset < 13 default of 1 is wrapped, for rank-1 inputs."""
    if not n.has_attr("axis"):
        return (-1 if n.opset >= 13 else 1) % max(rank, 1)
    axis = int(n.attr("axis"))
    if not -max(rank, 1) <= axis < max(rank, 1):
        raise ShapeError(f"{n.label}: axis {axis} is out of range for rank {rank}",
                         hint=f"the axis must lie in [{-rank}, {rank - 1}]")
    return axis % max(rank, 1)


def _softmax(core: str):
    def convert(ctx: ImportContext, n: NodeView) -> Value:
        x = n.input(0)
        rank = len(x.shape)
        axis = _softmax_axis(n, rank)
        if n.opset >= 13:
            return ctx.emit(core, x, axis=axis)
        # Before opset 13 the input is coerced to 2-D [prod(shape[:axis]), prod(shape[axis:])]
        # and normalised along the second axis, i.e. over all axes ≥ axis at once.
        if axis == rank - 1:
            return ctx.emit(core, x, axis=axis)
        flat = ctx.reshape(x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))
        return ctx.reshape(ctx.emit(core, flat, axis=1), x.shape)

    return convert


converter("Softmax")(_softmax("softmax"))
converter("LogSoftmax")(_softmax("log_softmax"))
