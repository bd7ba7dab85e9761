"""Reductions along axes: reduce_mean / sum / max / min, softmax and log_softmax.

Cost convention for reductions and normalisations (here and in norm.py): MACs are zero, as in the
MAC counts models are published with (MLPerf Tiny, torchvision), which count only conv and matmul
multiply-accumulates; bytes are every input read once and every output written once (the registry's
default cost).
"""

from __future__ import annotations

import numpy as np

from mlc.ir.dtypes import DType
from mlc.ir.op_registry import Attr, FusionKind, OpError, register
from mlc.ir.types import TensorType

from .common import normalize_axis

R = FusionKind.REDUCTION


def reduced_axes(axes: tuple[int, ...], rank: int, op: str) -> tuple[int, ...]:
    """Normalised, sorted axes; () means every axis. Raises OpError on out-of-range or repeats."""
    if not axes:
        return tuple(range(rank))
    result = tuple(sorted(normalize_axis(a, rank, op) for a in axes))
    if len(set(result)) != len(result):
        raise OpError(f"{op}: axes {list(axes)} name the same axis twice")
    return result


def _reduce_infer(name: str, numeric_only: bool = True):
    def infer(x: TensorType, *, axes: tuple[int, ...], keepdims: bool) -> TensorType:
        if numeric_only and x.dtype == DType.bool:
            raise OpError(f"{name} does not take bool tensors, got {x}")
        picked = reduced_axes(axes, x.rank, name)
        if keepdims:
            shape = tuple(1 if i in picked else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in picked)
        return x.with_shape(shape)

    return infer


_REDUCE_ATTRS = {"axes": Attr("ints", ()), "keepdims": Attr("bool", True)}


def _accumulator(x: np.ndarray) -> np.dtype:
    """Sum floats in float64 for accuracy; integers in their own dtype, wrapping as C does."""
    return np.dtype(np.float64) if np.issubdtype(x.dtype, np.floating) else x.dtype


@register("reduce_sum", inputs=["x"], attrs=_REDUCE_ATTRS, fusion=R,
          infer=_reduce_infer("reduce_sum"), onnx=["ReduceSum"])
def reduce_sum(x, *, axes, keepdims):
    """Sum over ``axes`` (all when empty); the sum of no elements is 0."""
    picked = reduced_axes(axes, x.ndim, "reduce_sum")
    return np.sum(x, axis=picked, dtype=_accumulator(x), keepdims=keepdims).astype(x.dtype)


@register("reduce_mean", inputs=["x"], attrs=_REDUCE_ATTRS, fusion=R,
          infer=_reduce_infer("reduce_mean"), onnx=["ReduceMean"])
def reduce_mean(x, *, axes, keepdims):
    """Mean over ``axes``; integer means truncate toward zero, as onnxruntime's sum / count does."""
    picked = reduced_axes(axes, x.ndim, "reduce_mean")
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.sum(x, axis=picked, dtype=_accumulator(x), keepdims=keepdims)
        count = int(np.prod([x.shape[a] for a in picked], dtype=np.int64))
        if np.issubdtype(x.dtype, np.integer):
            if count == 0:
                return np.zeros(total.shape, x.dtype)
            return (total - np.fmod(total, count)) // count
        return (total / count).astype(x.dtype)


def _extreme(x: np.ndarray, axes, keepdims: bool, name: str, largest: bool) -> np.ndarray:
    """max/min over axes; an empty reduction gives -inf/+inf (or the integer dtype's bound), as
    ONNX opset 18 specifies, instead of numpy's error."""
    picked = reduced_axes(axes, x.ndim, name)
    if np.issubdtype(x.dtype, np.floating):
        initial = -np.inf if largest else np.inf
    elif x.dtype == np.bool_:
        initial = not largest  # max is "any", min is "all"
    else:
        info = np.iinfo(x.dtype)
        initial = info.min if largest else info.max
    fn = np.max if largest else np.min
    return fn(x, axis=picked, keepdims=keepdims, initial=initial).astype(x.dtype)


@register("reduce_max", inputs=["x"], attrs=_REDUCE_ATTRS, fusion=R,
          infer=_reduce_infer("reduce_max", numeric_only=False), onnx=["ReduceMax"])
def reduce_max(x, *, axes, keepdims):
    """Maximum over ``axes`` (NaN propagates; for bool, any)."""
    return _extreme(x, axes, keepdims, "reduce_max", largest=True)


@register("reduce_min", inputs=["x"], attrs=_REDUCE_ATTRS, fusion=R,
          infer=_reduce_infer("reduce_min", numeric_only=False), onnx=["ReduceMin"])
def reduce_min(x, *, axes, keepdims):
    """Minimum over ``axes`` (NaN propagates; for bool, all)."""
    return _extreme(x, axes, keepdims, "reduce_min", largest=False)


def _softmax_infer(name: str):
    def infer(x: TensorType, *, axis: int) -> TensorType:
        if not x.dtype.is_float:
            raise OpError(f"{name} takes a float tensor, got {x}",
                          hint=f"cast to f32 before {name}")
        if x.rank == 0:
            raise OpError(f"{name} needs a tensor of rank ≥ 1, got the scalar {x}")
        normalize_axis(axis, x.rank, name)
        return x

    return infer


def _shifted(x: np.ndarray, axis: int) -> np.ndarray:
    """x - max(x) along axis in float64: the largest exponent becomes e^0, so nothing overflows."""
    v = np.asarray(x, np.float64)
    top = np.max(v, axis=axis, keepdims=True, initial=-np.inf)  # initial: an empty axis
    return v - np.where(np.isfinite(top), top, 0.0)


@register("softmax", inputs=["x"], attrs={"axis": Attr("int", -1)}, fusion=R,
          infer=_softmax_infer("softmax"), onnx=["Softmax"])
def softmax(x, *, axis):
    """e^x / Σ e^x along one axis (opset-13 semantics), computed stably."""
    e = np.exp(_shifted(x, axis))
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(x.dtype)


@register("log_softmax", inputs=["x"], attrs={"axis": Attr("int", -1)}, fusion=R,
          infer=_softmax_infer("log_softmax"), onnx=["LogSoftmax"])
def log_softmax(x, *, axis):
    """x - log Σ e^x along one axis (opset-13 semantics), computed stably."""
    s = _shifted(x, axis)
    return (s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))).astype(x.dtype)
