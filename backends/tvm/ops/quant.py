"""quantize and dequantize as TE computes, bit-exact with mlc/ops/quant.py.

quantize: x / scale in float32, rounded half to even (``nearbyint``; TIR's ``round`` rounds half
away from zero), then zero point, NaN → 0 and saturation in float64 before the narrowing cast —
the registry's order, so every integer matches. dequantize: (x - zero_point) exact in int64,
then one float32 product. Per-channel parameters are looked up along ``axis`` by ``lookup``.
"""

from __future__ import annotations

import numpy as np
from tvm import te, tirx

from mlc.ops.common import normalize_axis

from . import te_op
from .common import const, lookup, tvm_dtype


def _param(node, name: str, dtype: str, index: tuple) -> tirx.PrimExpr:
    values = np.asarray(node.attrs[name]).astype(dtype).reshape(-1)
    if values.size == 1:
        return const(values[0].item(), dtype)
    axis = normalize_axis(node.attrs["axis"], len(index), node.op)
    return lookup(values, index[axis], dtype)


@te_op("quantize")
def _quantize(node, args):
    x = args[0]
    to = tvm_dtype(node.attrs["dtype"])
    info = np.iinfo(to)

    def element(*i):
        scaled = tirx.Cast("float32", x(*i)) / _param(node, "scale", "float32", i)
        q = tirx.Cast("float64", tirx.nearbyint(scaled)) + _param(node, "zero_point", "float64", i)
        q = tirx.Select(tirx.isnan(q), const(0.0, "float64"), q)
        q = tirx.min(tirx.max(q, const(float(info.min), "float64")),
                     const(float(info.max), "float64"))
        return tirx.Cast(to, q)
    return te.compute(x.shape, element, name="quantize", tag="elemwise")


@te_op("dequantize")
def _dequantize(node, args):
    x = args[0]

    def element(*i):
        diff = tirx.Cast("int64", x(*i)) - _param(node, "zero_point", "int64", i)
        return tirx.Cast("float32", diff) * _param(node, "scale", "float32", i)
    return te.compute(x.shape, element, name="dequantize", tag="elemwise")
