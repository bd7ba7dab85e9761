"""QuantizeLinear / DequantizeLinear. Scale and zero point must be constants: they become the core
ops' array attributes. A one-element scale is per-tensor (numerically the same as per-axis on an
axis of size 1), anything longer is per-axis along ``axis``."""

from __future__ import annotations

import numpy as np

from mlc.ir import DType, Value

from .context import ImportContext, NodeView, onnx_dtype
from .registry import converter

_QUANT_TYPES = (DType.int8, DType.uint8, DType.int16)


def _params(n: NodeView, x: Value, dtype: DType) -> tuple[np.ndarray, np.ndarray, int]:
    if n.attr("block_size", 0):
        raise n.error("blocked quantization (block_size > 0) is not supported")
    scale = np.asarray(n.const(1))
    zero = np.asarray(n.const(2, default=np.zeros(scale.shape, dtype.numpy)))
    axis = int(n.attr("axis", 1)) % max(len(x.shape), 1)
    if scale.size == 1:
        scale, zero = scale.reshape(()), zero.reshape(())
    elif scale.ndim != 1 or scale.shape[0] != x.shape[axis]:
        raise n.error(f"scale of shape {list(scale.shape)} does not match axis {axis} of "
                      f"input shape {list(x.shape)}")
    return scale.astype(np.float32), zero.astype(dtype.numpy), axis


@converter("QuantizeLinear", since=10, const_inputs=(1, 2))
def quantize(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    zero = n.input(2)
    if zero is not None:
        dtype = zero.dtype
    elif n.attr("output_dtype", 0):
        dtype = onnx_dtype(int(n.attr("output_dtype")), f"{n.label}: output_dtype")
    else:
        dtype = DType.uint8
    if dtype not in _QUANT_TYPES:
        raise n.error(f"quantized type {dtype.name} is not supported (int8, uint8, int16 are)")
    scale, zero_point, axis = _params(n, x, dtype)
    return ctx.emit("quantize", x, scale=scale, zero_point=zero_point, axis=axis, dtype=dtype)


@converter("DequantizeLinear", since=10, const_inputs=(1, 2))
def dequantize(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    scale_dtype = n.input(1).dtype
    scale, zero_point, axis = _params(n, x, x.dtype)
    y = ctx.emit("dequantize", x, scale=scale, zero_point=zero_point, axis=axis)
    if scale_dtype is not DType.float32:
        y = ctx.emit("cast", y, to=scale_dtype)
    return y
