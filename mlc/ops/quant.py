"""Affine quantisation: quantize (float → int8/uint8/int16) and dequantize (int → f32).

Scales and zero points are attributes (numpy arrays): a scalar (or one-element array) means one
scale for the whole tensor, a 1-D array one scale per slice along ``axis``. The arithmetic is done
in float32 exactly as onnxruntime does it (x / scale in f32, then round half to even), so the
reference gives bit-identical integers, not just close ones.
"""

from __future__ import annotations

import numpy as np

from mlc.ir.dtypes import DType
from mlc.ir.op_registry import Attr, FusionKind, OpError, register
from mlc.ir.types import TensorType

from .common import normalize_axis

E = FusionKind.ELEMWISE
QUANT_DTYPES = (DType.int8, DType.uint8, DType.int16, DType.int32)


def _check_params(name: str, x: TensorType, scale: np.ndarray, zero_point: np.ndarray,
                  axis: int, qdtype: DType) -> None:
    """Scale/zero-point shapes agree with each other and with ``x`` along ``axis``; zero points
    fit the quantised dtype."""
    if scale.ndim > 1 or zero_point.ndim > 1:
        raise OpError(f"{name}: scale and zero_point must be scalars or 1-D, got shapes "
                      f"{list(scale.shape)} and {list(zero_point.shape)}")
    if not np.issubdtype(scale.dtype, np.floating) or not np.all(scale > 0):
        raise OpError(f"{name}: scale must be positive floats, got {scale.tolist()}")
    if scale.size != 1:
        ax = normalize_axis(axis, x.rank, name)
        if scale.size != x.shape[ax]:
            raise OpError(f"{name}: {scale.size} per-channel scales do not match axis {axis} of "
                          f"{x} (size {x.shape[ax]})", hint="set axis to the channel axis")
    if zero_point.size not in (1, scale.size):
        raise OpError(f"{name}: zero_point has {zero_point.size} values for {scale.size} scales")
    info = np.iinfo(qdtype.numpy)
    if zero_point.size and (zero_point.min() < info.min or zero_point.max() > info.max):
        raise OpError(f"{name}: zero_point {zero_point.tolist()} does not fit {qdtype.short}")


def _along(param: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """A parameter shaped to broadcast along ``axis`` (per-channel) or as a scalar (per-tensor)."""
    if param.size == 1:
        return param.reshape(())
    shape = [1] * ndim
    shape[axis % ndim] = param.size
    return param.reshape(shape)


def _quantize_infer(x: TensorType, *, scale, zero_point, axis: int, dtype: DType) -> TensorType:
    if not x.dtype.is_float:
        raise OpError(f"quantize takes a float tensor, got {x}")
    if dtype not in QUANT_DTYPES:
        raise OpError(f"quantize: dtype must be one of {', '.join(d.short for d in QUANT_DTYPES)}, "
                      f"got {dtype.short}")
    _check_params("quantize", x, np.asarray(scale), np.asarray(zero_point), axis, dtype)
    return x.with_dtype(dtype)


@register("quantize", inputs=["x"],
          attrs={"scale": Attr("array"), "zero_point": Attr("array"), "axis": Attr("int", 1),
                 "dtype": Attr("dtype", DType.uint8)},
          fusion=E, infer=_quantize_infer, onnx=["QuantizeLinear"])
def quantize(x, *, scale, zero_point, axis, dtype):
    """saturate(round_half_even(x / scale) + zero_point) in ``dtype``."""
    s = _along(np.asarray(scale, np.float32), x.ndim, axis)
    z = _along(np.asarray(zero_point, np.float64), x.ndim, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.rint(np.asarray(x, np.float32) / s).astype(np.float64) + z
    info = np.iinfo(dtype.numpy)
    return np.clip(np.nan_to_num(q, nan=0.0), info.min, info.max).astype(dtype.numpy)


def _dequantize_infer(x: TensorType, *, scale, zero_point, axis: int) -> TensorType:
    if x.dtype not in QUANT_DTYPES:
        allowed = ", ".join(d.short for d in QUANT_DTYPES)
        raise OpError(f"dequantize takes an integer tensor ({allowed}), got {x}")
    _check_params("dequantize", x, np.asarray(scale), np.asarray(zero_point), axis, x.dtype)
    return x.with_dtype(DType.float32)


@register("dequantize", inputs=["x"],
          attrs={"scale": Attr("array"), "zero_point": Attr("array"), "axis": Attr("int", 1)},
          fusion=E, infer=_dequantize_infer, onnx=["DequantizeLinear"])
def dequantize(x, *, scale, zero_point, axis):
    """(x - zero_point) · scale as float32 (the difference exact in int64, the product in f32)."""
    s = _along(np.asarray(scale, np.float32), x.ndim, axis)
    z = _along(np.asarray(zero_point, np.int64), x.ndim, axis)
    return ((np.asarray(x, np.int64) - z).astype(np.float32) * s).astype(np.float32)
