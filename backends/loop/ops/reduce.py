"""Reductions as loop nests with scalar accumulators (semantics: mlc/ops/reduce.py).

f16 data accumulates in f32; integer sums wrap in their own dtype, as the registry's do. Softmax
is the numerically stable three-pass form: max, sum of e^(x - max), then the normalised values
(a max that is ±inf or NaN shifts by 0, as the registry does).
"""

from __future__ import annotations

import math

import numpy as np

from mlc.ir.dtypes import DType
from mlc.ops.common import normalize_axis
from mlc.ops.reduce import reduced_axes

from .. import ir
from ..ir import Assign, Expr, Let, Stmt
from . import reduction


def accumulator_dtype(dtype: DType) -> DType:
    return DType.float32 if dtype == DType.float16 else dtype


def _initial(op: str, dtype: DType) -> Expr:
    if op in ("reduce_sum", "reduce_mean"):
        return ir.const(0, dtype)
    largest = op == "reduce_max"
    if dtype == DType.bool:
        return ir.const(not largest, dtype)
    if dtype.is_float:
        return ir.const(-math.inf if largest else math.inf, dtype)
    info = np.iinfo(dtype.numpy)
    return ir.const(info.min if largest else info.max, dtype)


_COMBINE = {"reduce_sum": ir.add, "reduce_mean": ir.add, "reduce_max": ir.maximum,
            "reduce_min": ir.minimum}


@reduction("reduce_sum", "reduce_mean", "reduce_max", "reduce_min")
def lower_reduce(ctx, node, store):
    x = node.inputs[0]
    rank = len(x.shape)
    axes = reduced_axes(node.attrs["axes"], rank, node.op)
    keepdims = node.attrs["keepdims"]
    acc_dtype = accumulator_dtype(x.dtype)

    def body(out_idx: tuple[Expr, ...]):
        acc = ctx.local("acc", acc_dtype)
        kept = tuple(out_idx[a] for a in range(rank) if a not in axes) if keepdims else out_idx

        def step(reduced: tuple[Expr, ...]) -> Stmt:
            inner, outer = iter(reduced), iter(kept)
            source = tuple(next(inner) if axis in axes else next(outer) for axis in range(rank))
            return Assign(acc, _COMBINE[node.op](acc, ir.cast(acc_dtype, ctx.load(x, source))))

        update = ctx.loop_nest([x.shape[a] for a in axes], step, "r")
        result: Expr = acc
        if node.op == "reduce_mean":
            count = math.prod(x.shape[a] for a in axes)
            result = ir.div(acc, ir.const(count, acc_dtype)) if count or acc_dtype.is_float \
                else ir.const(0, acc_dtype)
        return ir.block(Let(acc, _initial(node.op, acc_dtype)), update,
                        store(out_idx, ir.cast(x.dtype, result)))

    return ctx.loop_nest(node.outputs[0].shape, body)


@reduction("softmax", "log_softmax")
def lower_softmax(ctx, node, store):
    x = node.inputs[0]
    axis = normalize_axis(node.attrs["axis"], len(x.shape), node.op)
    extent = x.shape[axis]
    wide = accumulator_dtype(x.dtype)
    outer = x.shape[:axis] + (1,) + x.shape[axis + 1:]

    def body(idx: tuple[Expr, ...]):
        def at(k: Expr) -> tuple[Expr, ...]:
            return idx[:axis] + (k,) + idx[axis + 1:]

        def value(k: Expr) -> Expr:
            return ir.cast(wide, ctx.load(x, at(k)))

        top, total, shift = ctx.local("max", wide), ctx.local("sum", wide), ctx.local("shift", wide)
        finite = ir.eq(ir.sub(top, top), ir.const(0.0, wide))  # false for ±inf and NaN
        find_max = ctx.loop(extent, lambda k: Assign(top, ir.maximum(top, value(k))))
        add_up = ctx.loop(extent, lambda k: Assign(
            total, ir.add(total, ir.call("exp", ir.sub(value(k), shift)))))

        def result(k: Expr):
            shifted = ir.sub(value(k), shift)
            if node.op == "softmax":
                y = ir.div(ir.call("exp", shifted), total)
            else:
                y = ir.sub(shifted, ir.call("log", total))
            return store(at(k), ir.cast(x.dtype, y))

        return ir.block(Let(top, ir.const(-math.inf, wide)), find_max,
                        Let(shift, ir.select(finite, top, ir.const(0.0, wide))),
                        Let(total, ir.const(0.0, wide)), add_up, ctx.loop(extent, result))

    return ctx.loop_nest(outer, body)
