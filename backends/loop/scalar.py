"""Scalar semantics of the loop IR, defined once on numpy scalars.

Constant folding in ``ir`` and the reference evaluator both call these functions, so a folded
expression and an evaluated one can never disagree. Renderers (LLVM, C) must implement the same
rules; the ones that differ from plain C are spelled out here:

- integer arithmetic wraps (two's complement); ``div`` truncates toward zero and ``mod`` is C's
  remainder (sign of the dividend); ``floordiv`` floors. Integer division by zero gives 0.
- ``max``/``min`` propagate NaN (numpy, ONNX), like LLVM's ``llvm.maximum``, not ``maxnum``.
- float intrinsics are evaluated in float64 and rounded once to the expression's dtype.
- float → int casts go through int64 (truncating) and then wrap, as the op registry does.
"""

from __future__ import annotations

import math

import numpy as np

from mlc.ir.dtypes import DType

ARITH = ("add", "sub", "mul", "div", "floordiv", "mod", "max", "min")
COMPARE = ("lt", "le", "gt", "ge", "eq", "ne")
LOGIC = ("and", "or")
BINARY_OPS = ARITH + COMPARE + LOGIC
UNARY_OPS = ("neg", "not")
INTRINSICS = {"exp": 1, "log": 1, "tanh": 1, "erf": 1, "sqrt": 1, "abs": 1, "floor": 1, "ceil": 1,
              "round": 1, "pow": 2}


def make(value, dtype: DType):
    """``value`` as a numpy scalar of ``dtype`` (ints wrap into range)."""
    if dtype == DType.bool:
        return np.bool_(bool(value))
    if dtype.is_int:
        return wrap(int(value), dtype)
    with np.errstate(over="ignore"):
        return dtype.numpy.type(value)


def wrap(value: int, dtype: DType):
    """A Python int reduced modulo 2^bits into ``dtype`` (two's complement)."""
    bits = dtype.itemsize * 8
    value &= (1 << bits) - 1
    if np.issubdtype(dtype.numpy, np.signedinteger) and value >= 1 << (bits - 1):
        value -= 1 << bits
    return dtype.numpy.type(value)


def binary(op: str, a, b, dtype: DType):
    """``a op b`` for operands of ``dtype`` (the operands' dtype, not the result's)."""
    with np.errstate(all="ignore"):
        if op in COMPARE:
            return np.bool_({"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b, "eq": a == b,
                             "ne": a != b}[op])
        if op in LOGIC:
            return np.bool_(bool(a) and bool(b)) if op == "and" else np.bool_(bool(a) or bool(b))
        if op in ("max", "min"):
            if dtype == DType.bool:
                either, both = bool(a) or bool(b), bool(a) and bool(b)
                return np.bool_(either if op == "max" else both)
            return (np.maximum if op == "max" else np.minimum)(a, b)
        if dtype.is_int:
            return wrap(_int_arith(op, int(a), int(b)), dtype)
        if op == "mod":
            finite = b != 0 and math.isfinite(float(a))  # fmod(±inf, y) is NaN, as C's is
            return dtype.numpy.type(math.fmod(float(a), float(b)) if finite else math.nan)
        fn = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
              "floordiv": np.floor_divide}[op]
        return dtype.numpy.type(fn(a, b))


def _int_arith(op: str, a: int, b: int) -> int:
    if op in ("add", "sub", "mul"):
        return {"add": a + b, "sub": a - b, "mul": a * b}[op]
    if b == 0:
        return 0
    if op == "floordiv":
        return a // b
    quotient = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    return quotient if op == "div" else a - quotient * b


def unary(op: str, x, dtype: DType):
    with np.errstate(all="ignore"):
        if op == "not":
            return np.bool_(not bool(x))
        if dtype.is_int:
            return wrap(-int(x), dtype)
        return dtype.numpy.type(-x)


def call(fn: str, args, dtype: DType):
    """An intrinsic; floats are computed in float64 and rounded once to ``dtype``."""
    with np.errstate(all="ignore"):
        if dtype.is_int:
            if fn == "abs":
                return wrap(abs(int(args[0])), dtype)
            if fn in ("floor", "ceil", "round"):
                return args[0]
            raise ValueError(f"intrinsic {fn} is not defined for {dtype.short}")
        v = [np.float64(a) for a in args]
        if fn == "erf":
            result = math.erf(v[0]) if not math.isnan(v[0]) else math.nan
        elif fn == "pow":
            result = np.power(v[0], v[1])
        elif fn == "round":
            result = np.round(v[0])  # half to even, as nearbyint in the default rounding mode
        else:
            result = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "sqrt": np.sqrt,
                      "abs": np.abs, "floor": np.floor, "ceil": np.ceil}[fn](v[0])
        return dtype.numpy.type(result)


def cast(x, source: DType, to: DType):
    with np.errstate(all="ignore"):
        if to == DType.bool:
            return np.bool_(x != 0)
        if source.is_float and to.is_int:
            if math.isnan(float(x)) or math.isinf(float(x)) or abs(float(x)) >= 2.0 ** 63:
                return wrap(-(1 << 63), to)  # what x86's cvttsd2si gives, as numpy does
            return wrap(int(np.int64(x)), to)
        if to.is_int:
            return wrap(int(x), to)
        return to.numpy.type(x)
