"""Small TE helpers shared by the op computes: dtypes, constants, elementwise maps, broadcasting."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from tvm import te, tirx

from mlc.ir.dtypes import DType


def tvm_dtype(dtype: DType | np.dtype | str) -> str:
    """The TVM spelling of a dtype (``float32``, ``int8``, ``bool``)."""
    return DType.parse(dtype).numpy.name


def dtype_of(x: te.Tensor | tirx.PrimExpr) -> str:
    """The element type of a tensor or an expression, as a string (TVM 0.27 keeps a PrimType
    in ``Tensor.dtype`` and in ``PrimExpr.ty``)."""
    dtype = getattr(x, "dtype", None)
    return str(dtype if dtype is not None else x.ty)


def const(value, dtype: str) -> tirx.PrimExpr:
    """An immediate of ``dtype``; infinities and NaN included (TVM accepts them as floats)."""
    if dtype == "bool":
        return tirx.const(bool(value), "bool")
    if dtype.startswith(("int", "uint")):
        return tirx.const(int(value), dtype)
    return tirx.const(float(value), dtype)


def like(x: tirx.PrimExpr, value) -> tirx.PrimExpr:
    """``value`` as an immediate of ``x``'s type."""
    return const(value, dtype_of(x))


def is_float(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))


def work_dtype(dtype: str) -> str:
    """float16 accumulates in float32, as the registry's kernels (and onnxruntime) do."""
    return "float32" if dtype == "float16" else dtype


def unary(x: te.Tensor, fn: Callable[[tirx.PrimExpr], tirx.PrimExpr], name: str,
          dtype: str | None = None) -> te.Tensor:
    """out[i] = fn(x[i]), computed in float32 for float16 inputs and cast back."""
    out = dtype or dtype_of(x)
    wide = work_dtype(dtype_of(x))

    def element(*i):
        v = x(*i)
        if wide != dtype_of(x):
            return tirx.Cast(out, fn(tirx.Cast(wide, v)))
        return fn(v)
    return te.compute(x.shape, element, name=name, tag="elemwise")


def broadcast_shape(*shapes: Sequence) -> tuple[int, ...]:
    rank = max(len(s) for s in shapes)
    out = []
    for axis in range(rank):
        dims = {int(s[axis - rank + len(s)]) for s in shapes if axis - rank + len(s) >= 0}
        dims.discard(1)
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def broadcast_index(shape: Sequence, index: Sequence, rank: int) -> list:
    """The index into a tensor of ``shape`` that numpy broadcasting reads at the ``rank``-d
    output ``index``."""
    shape = [int(d) for d in shape]
    offset = rank - len(shape)
    return [0 if d == 1 else index[offset + k] for k, d in enumerate(shape)]


def broadcast(fn: Callable[..., tirx.PrimExpr], tensors: Sequence[te.Tensor],
              name: str) -> te.Tensor:
    """out[i] = fn(t0[i'], t1[i''], …) with numpy broadcasting over ``tensors``."""
    shape = broadcast_shape(*[t.shape for t in tensors])

    def element(*i):
        return fn(*[t(*broadcast_index(t.shape, i, len(shape))) for t in tensors])
    return te.compute(shape, element, name=name, tag="broadcast")
