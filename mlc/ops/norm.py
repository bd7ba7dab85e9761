"""Normalisations: inference batch_norm, layer_norm and lrn (local response normalisation).

All compute in float64 and cast back to the input dtype. Costs follow the convention in reduce.py
(one MAC per element; lrn counts its ``size``-wide window sum per element).
"""

from __future__ import annotations

import math

import numpy as np

from mlc.ir.op_registry import Attr, FusionKind, OpError, register
from mlc.ir.types import TensorType

from .common import broadcast_shape, normalize_axis

R = FusionKind.REDUCTION


def _need_float(name: str, *types: TensorType | None, same: bool = True) -> None:
    for t in types:
        if t is not None and not t.dtype.is_float:
            raise OpError(f"{name} takes float tensors, got {t}", hint=f"cast to f32 before {name}")
    dtypes = {t.dtype for t in types if t is not None}
    if same and len(dtypes) > 1:
        raise OpError(f"{name}: all inputs must share one dtype, got "
                      f"{', '.join(str(t) for t in types if t is not None)}")


def _batch_norm_infer(x: TensorType, scale: TensorType, bias: TensorType, mean: TensorType,
                      var: TensorType, *, epsilon: float) -> TensorType:
    # BatchNormalization-15 lets the parameters be another float type than x (f16 x, f32 stats).
    _need_float("batch_norm", x, scale, bias, mean, var, same=False)
    if x.rank < 2:
        raise OpError(f"batch_norm needs an input of rank ≥ 2 (N, C, ...), got {x}")
    channels = x.shape[1]
    for role, t in (("scale", scale), ("bias", bias), ("mean", mean), ("var", var)):
        if tuple(t.shape) != (channels,):
            raise OpError(f"batch_norm: {role} must have shape [{channels}] (one per channel of "
                          f"{x}), got {t}")
    return x


@register("batch_norm", inputs=["x", "scale", "bias", "mean", "var"],
          attrs={"epsilon": Attr("float", 1e-5)}, fusion=R, infer=_batch_norm_infer,
          onnx=["BatchNormalization"])
def batch_norm(x, scale, bias, mean, var, *, epsilon):
    """(x - mean) / sqrt(var + epsilon) · scale + bias, per channel (axis 1)."""
    per_channel = (1, -1) + (1,) * (x.ndim - 2)

    def c(v: np.ndarray) -> np.ndarray:
        return np.asarray(v, np.float64).reshape(per_channel)

    y = (np.asarray(x, np.float64) - c(mean)) / np.sqrt(c(var) + epsilon) * c(scale) + c(bias)
    return y.astype(x.dtype)


def _layer_norm_infer(x: TensorType, scale: TensorType, bias: TensorType | None, *, axis: int,
                      epsilon: float) -> TensorType:
    _need_float("layer_norm", x, scale, bias)
    if x.rank == 0:
        raise OpError(f"layer_norm needs a tensor of rank ≥ 1, got the scalar {x}")
    start = normalize_axis(axis, x.rank, "layer_norm")
    normalized = tuple(x.shape[start:])
    for role, t in (("scale", scale), ("bias", bias)):
        if t is not None and broadcast_shape(t.shape, normalized, op="layer_norm") != normalized:
            raise OpError(f"layer_norm: {role} {t} must broadcast to the normalised shape "
                          f"{list(normalized)} (axes {start}.. of {x})")
    return x


@register("layer_norm", inputs=["x", "scale", "bias?"],
          attrs={"axis": Attr("int", -1), "epsilon": Attr("float", 1e-5)}, fusion=R,
          infer=_layer_norm_infer, onnx=["LayerNormalization"])
def layer_norm(x, scale, bias, *, axis, epsilon):
    """(x - mean) / sqrt(var + epsilon) · scale + bias, with mean and (biased) var over the axes
    [axis, rank)."""
    start = axis % x.ndim
    axes = tuple(range(start, x.ndim))
    v = np.asarray(x, np.float64)
    centred = v - np.mean(v, axis=axes, keepdims=True)
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    y = centred / np.sqrt(var + epsilon) * np.asarray(scale, np.float64)
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return y.astype(x.dtype)


def _lrn_infer(x: TensorType, *, size: int, alpha: float, beta: float, bias: float) -> TensorType:
    _need_float("lrn", x)
    if x.rank < 3:
        raise OpError(f"lrn needs an input of rank ≥ 3 (N, C, D1, ...), got {x}")
    if size < 1:
        raise OpError(f"lrn: size must be ≥ 1, got {size}")
    return x


@register("lrn", inputs=["x"], attrs={"size": Attr("int"), "alpha": Attr("float", 1e-4),
                                      "beta": Attr("float", 0.75), "bias": Attr("float", 1.0)},
          fusion=R, infer=_lrn_infer, onnx=["LRN"])
def lrn(x, *, size, alpha, beta, bias):
    """x / (bias + alpha/size · Σ x²)^beta, the sum over channels
    [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to the tensor, as ONNX LRN."""
    v = np.asarray(x, np.float64)
    channels = v.shape[1]
    below, above = (size - 1) // 2, math.ceil((size - 1) / 2)
    # Window sums from a prefix sum over the zero-padded channel axis.
    pad = [(0, 0)] * v.ndim
    pad[1] = (below + 1, above)
    prefix = np.cumsum(np.pad(v * v, pad), axis=1)
    hi = prefix.take(np.arange(channels) + below + above + 1, axis=1)
    lo = prefix.take(np.arange(channels), axis=1)
    square_sum = hi - lo
    return (v / (bias + alpha / size * square_sum) ** beta).astype(x.dtype)
