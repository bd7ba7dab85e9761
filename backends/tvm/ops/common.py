"""Small TE helpers shared by the op computes: dtypes, constants, elementwise maps, broadcasting."""

from __future__ import annotations

import math
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


def maximum(a: tirx.PrimExpr, b: tirx.PrimExpr) -> tirx.PrimExpr:
    """max(a, b) with NaN propagated, as the registry's ``np.maximum`` (and mlc's loop IR) do.

    TVM's own max is not that: LLVM gets ``a > b ? a : b``, which drops a NaN ``a``, and CUDA
    ``fmaxf``, which drops either. So ``relu(NaN)`` was 0 and a comparison downstream of
    ``min(NaN, c)`` took the wrong branch."""
    return _nan_first(a, b, tirx.max(a, b))


def minimum(a: tirx.PrimExpr, b: tirx.PrimExpr) -> tirx.PrimExpr:
    """min(a, b) with NaN propagated (see ``maximum``)."""
    return _nan_first(a, b, tirx.min(a, b))


def nan_flags(x: te.Tensor) -> te.Tensor:
    """1 where ``x`` (float) is NaN, else 0, in ``x``'s dtype: its max over a window or axes
    says whether a NaN is among them, with a reducer TVM's GPU schedules can split."""
    dtype = dtype_of(x)
    return te.compute(x.shape, lambda *i: tirx.Select(tirx.isnan(x(*i)), const(1, dtype),
                                                      const(0, dtype)), name="is_nan")


def _nan_first(a: tirx.PrimExpr, b: tirx.PrimExpr, result: tirx.PrimExpr) -> tirx.PrimExpr:
    if not is_float(dtype_of(a)):
        return result
    return tirx.Select(tirx.isnan(a), a, tirx.Select(tirx.isnan(b), b, result))


def work_dtype(dtype: str) -> str:
    """float16 accumulates in float32, as the registry's kernels (and onnxruntime) do."""
    return "float32" if dtype == "float16" else dtype


def widen(x: te.Tensor) -> te.Tensor:
    """``x`` in its work dtype (float16 as float32), or ``x`` itself."""
    wide = work_dtype(dtype_of(x))
    if wide == dtype_of(x):
        return x
    return te.compute(x.shape, lambda *i: tirx.Cast(wide, x(*i)), name="widen", tag="elemwise")


def narrow(y: te.Tensor, dtype: str) -> te.Tensor:
    """``y`` cast back to ``dtype`` after computing wide, or ``y`` itself."""
    if dtype_of(y) == dtype:
        return y
    return te.compute(y.shape, lambda *i: tirx.Cast(dtype, y(*i)), name="narrow", tag="elemwise")


def element_count(x: te.Tensor, axes) -> int:
    """How many elements of ``x`` one reduction over ``axes`` combines."""
    return math.prod(int(x.shape[axis]) for axis in axes)


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


_TREE_LEAVES = 4096  # above this a table is refused rather than emitted as a deeper tree


def lookup(values: np.ndarray, index: tirx.PrimExpr, dtype: str) -> tirx.PrimExpr:
    """``values[index]`` for a 1-D table known at compile time, as an expression.

    TE functions only read their placeholders, so a kernel cannot own a constant table as the
    loop IR's kernels do. The table becomes arithmetic instead: a constant, an integer affine
    form ``(index·p + q) // r``, a short period ``pattern[index % p]``, either with a few
    exceptions at the ends (resize's clamped borders), and else a balanced tree of
    ``if_then_else`` over runs of equal values (log-depth, evaluated lazily on both targets).
    The values are the registry's own, so the lookup is exact.
    """
    values = np.asarray(values).reshape(-1)
    found = _closed_form(values, index, dtype)
    if found is not None:
        return found
    for edge in range(1, min(4, len(values) // 2) + 1):  # a clean interior, odd ends
        core = _closed_form(values, index, dtype, lo=edge, hi=len(values) - edge)
        if core is not None:
            for k in [*range(edge), *range(len(values) - edge, len(values))]:
                core = tirx.Select(index == k, const(values[k].item(), dtype), core)
            return core
    return _tree(values, index, dtype)


def _closed_form(values: np.ndarray, index, dtype: str, lo: int = 0,
                 hi: int | None = None) -> tirx.PrimExpr | None:
    """``values[lo:hi]`` as a constant, an affine integer form or a short period, else None."""
    part = values[lo:len(values) if hi is None else hi]
    if len(part) == 0:
        return None
    if _same(part, np.full(len(part), part[0])):
        return const(part[0].item(), dtype)
    o = np.arange(lo, lo + len(part), dtype=np.int64)
    if part.dtype.kind in "iub":
        for r in range(1, 17):
            for p in range(1, 17):
                if np.gcd(p, r) != 1:
                    continue
                first = int(part[0]) * r - lo * p  # (lo·p + q) // r == part[0] for q here on
                for q in range(first, first + r):
                    if np.array_equal(part, (o * p + q) // r):
                        e = index * p + q if (p, q) != (1, 0) else index
                        return tirx.Cast(dtype, tirx.floordiv(e, r) if r != 1 else e)
    for period in range(2, 9):
        if len(part) < 2 * period:
            break
        pattern = part[:period]
        if _same(part, np.resize(pattern, len(part))):
            phase = tirx.floormod(index - lo, period)
            expr = const(pattern[-1].item(), dtype)
            for k in range(period - 2, -1, -1):
                expr = tirx.Select(phase == k, const(pattern[k].item(), dtype), expr)
            return expr
    return None


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def _tree(values: np.ndarray, index, dtype: str) -> tirx.PrimExpr:
    starts = [0] + [k for k in range(1, len(values)) if not _same(values[k:k + 1],
                                                                  values[k - 1:k])]
    if len(starts) > _TREE_LEAVES:
        raise NotImplementedError(f"a {len(values)}-entry table with {len(starts)} distinct runs "
                                  "is too irregular to inline in a TE compute")

    def build(a: int, b: int) -> tirx.PrimExpr:  # runs starts[a:b]
        if b - a == 1:
            return const(values[starts[a]].item(), dtype)
        mid = (a + b) // 2
        return tirx.if_then_else(index < starts[mid], build(a, mid), build(mid, b))
    return build(0, len(starts))
