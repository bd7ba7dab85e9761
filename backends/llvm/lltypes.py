"""LLVM types of loop-IR dtypes, in registers and in memory, and small constant helpers.

Why two mappings: bool is ``i1`` in registers (what compares and selects produce) but one byte in
memory (numpy's layout); every other dtype is the same in both.
"""

from __future__ import annotations

import math

import llvmlite.ir as lir
import numpy as np

from mlc.ir.dtypes import DType

i1, i8, i32, i64 = lir.IntType(1), lir.IntType(8), lir.IntType(32), lir.IntType(64)
ptr = lir.PointerType()

_REG: dict[DType, lir.Type] = {
    DType.float32: lir.FloatType(), DType.float16: lir.HalfType(), DType.float64: lir.DoubleType(),
    DType.int8: i8, DType.uint8: i8, DType.int16: lir.IntType(16), DType.int32: i32,
    DType.int64: i64, DType.bool: i1,
}
UNSIGNED = (DType.uint8, DType.bool)


def reg(dtype: DType, width: int | None = None) -> lir.Type:
    """The register type of ``dtype`` (a ``<width x T>`` vector when width is given)."""
    t = _REG[dtype]
    return lir.VectorType(t, width) if width else t


def mem(dtype: DType) -> lir.Type:
    """The in-memory element type (bool is a byte)."""
    return i8 if dtype == DType.bool else _REG[dtype]


def const_i64(value: int) -> lir.Constant:
    return lir.Constant(i64, int(value))


def constant(ty: lir.Type, value) -> lir.Constant:
    """``value`` as a constant of ``ty``, splatted when ``ty`` is a vector type (a float too
    large for half becomes ±inf, as the conversion would round it)."""
    if isinstance(ty, lir.VectorType):
        return lir.Constant(ty, [constant(ty.element, value)] * ty.count)
    if isinstance(ty, lir.HalfType) and abs(value) > 65504.0:
        value = float(np.float16(value)) if abs(value) < 65520.0 else math.copysign(math.inf,
                                                                                      value)
    return lir.Constant(ty, value)


def is_vector(value: lir.Value) -> bool:
    return isinstance(value.type, lir.VectorType)


def lanes(value: lir.Value) -> int | None:
    """The lane count of a vector ``value``, None for a scalar (``reg``'s ``width``)."""
    return value.type.count if is_vector(value) else None


_FLOAT_SUFFIX = {lir.FloatType: "f32", lir.DoubleType: "f64", lir.HalfType: "f16"}


def suffix(ty: lir.Type) -> str:
    """The overload suffix of an intrinsic name: f32, v16f32, i8, v8i64…"""
    if isinstance(ty, lir.VectorType):
        return f"v{ty.count}{suffix(ty.element)}"
    return _FLOAT_SUFFIX.get(type(ty)) or f"i{ty.width}"
