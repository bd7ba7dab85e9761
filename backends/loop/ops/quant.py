"""quantize and dequantize (semantics: mlc/ops/quant.py, bit-exact): per-tensor parameters are
constants in the expression, per-channel ones a small const table the kernel owns, indexed by
the channel axis."""

from __future__ import annotations

import numpy as np

from mlc.ir.dtypes import DType
from mlc.ops.common import normalize_axis

from .. import ir
from ..ir import Expr
from . import compute


def _param(ctx, node, name: str, array, dtype: DType, idx) -> Expr:
    values = np.asarray(array).astype(dtype.numpy).reshape(-1)
    if values.size == 1:
        return ir.const(values[0].item(), dtype)
    table = ctx.constant(f"{node.outputs[0].name}_{name}", values)
    axis = normalize_axis(node.attrs["axis"], len(idx), node.op)
    return ir.Load(table, idx[axis])


@compute("quantize")
def lower_quantize(ctx, node, k, idx) -> Expr:
    """saturate(round_half_even(x / scale in f32) + zero_point), NaN → 0."""
    a, f64 = node.attrs, DType.float64
    x = ir.cast(DType.float32, ctx.arg(node, 0, idx))
    scale = _param(ctx, node, "scale", a["scale"], DType.float32, idx)
    zero = _param(ctx, node, "zero_point", a["zero_point"], f64, idx)
    q = ir.add(ir.cast(f64, ir.call("round", ir.div(x, scale))), zero)
    q = ir.select(ir.eq(q, q), q, ir.const(0.0, f64))
    info = np.iinfo(a["dtype"].numpy)
    return ir.cast(a["dtype"], ir.clamp(q, ir.const(float(info.min), f64),
                                        ir.const(float(info.max), f64)))


@compute("dequantize")
def lower_dequantize(ctx, node, k, idx) -> Expr:
    """(x - zero_point) · scale: the difference exact in int64, the product in f32."""
    a = node.attrs
    x = ir.cast(DType.int64, ctx.arg(node, 0, idx))
    zero = _param(ctx, node, "zero_point", a["zero_point"], DType.int64, idx)
    scale = _param(ctx, node, "scale", a["scale"], DType.float32, idx)
    return ir.mul(ir.cast(DType.float32, ir.sub(x, zero)), scale)
