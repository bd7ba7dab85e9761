"""C types of loop-IR dtypes: in registers, in memory, and the suffixes of mlc_ops.h helpers.

Two mappings, as in the LLVM renderer: bool is ``bool`` in expressions but one byte in memory
(numpy's layout); float16 is a ``float`` in expressions (rounded after each operation) but its
16 bits in memory, because C99 has no half type.
"""

from __future__ import annotations

import math

import numpy as np

from mlc.ir.dtypes import DType

_REGISTER = {
    DType.float32: "float", DType.float64: "double", DType.float16: "float",
    DType.int8: "int8_t", DType.uint8: "uint8_t", DType.int16: "int16_t", DType.int32: "int32_t",
    DType.int64: "int64_t", DType.bool: "bool",
}
_MEMORY = {**_REGISTER, DType.float16: "uint16_t", DType.bool: "uint8_t"}
_SUFFIX = {DType.float32: "f32", DType.float64: "f64", DType.float16: "f32", DType.int8: "i8",
           DType.uint8: "u8", DType.int16: "i16", DType.int32: "i32", DType.int64: "i64",
           DType.bool: "u8"}
WIDE_INTS = (DType.int32, DType.int64)  # arithmetic here can overflow int: wrapping helpers
INDEX_TYPE = "int64_t"  # loop variables and index arithmetic (the IR's i64)


def register_type(dtype: DType) -> str:
    return _REGISTER[dtype]


def memory_type(dtype: DType) -> str:
    return _MEMORY[dtype]


def helper_suffix(dtype: DType) -> str:
    """The ``S`` of ``mlc_div_S`` and friends in mlc_ops.h."""
    return _SUFFIX[dtype]


def literal(value, dtype: DType) -> str:
    """An exact C literal of ``value`` as ``dtype`` (in its register type)."""
    if dtype == DType.bool:
        return "1" if value else "0"
    if dtype.is_int:
        return int_literal(int(value), dtype)
    return float_literal(float(value), dtype)


def int_literal(value: int, dtype: DType) -> str:
    if dtype == DType.int64 and value == -(1 << 63):
        return "INT64_MIN"
    if dtype == DType.int32 and value == -(1 << 31):
        return "INT32_MIN"
    if dtype == DType.int64 and not -(1 << 31) <= value < (1 << 31):
        return f"INT64_C({value})"
    return str(value)


def float_literal(value: float, dtype: DType) -> str:
    """Shortest decimal that reads back exactly (numpy's repr), with ``f`` for float32/16."""
    single = dtype != DType.float64
    if math.isnan(value):
        return "NAN" if single else "((double)NAN)"
    if math.isinf(value):
        text = "HUGE_VALF" if single else "HUGE_VAL"
        return text if value > 0 else f"(-{text})"
    text = _shortest(value, single)
    return text + ("f" if single else "")


def _shortest(value: float, single: bool) -> str:
    number = np.float32(value) if single else np.float64(value)
    if value == 0 or 1e-4 <= abs(value) < 1e7:
        return np.format_float_positional(number, unique=True, trim="0")
    text = np.format_float_scientific(number, unique=True, trim="0", exp_digits=1)
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}"
