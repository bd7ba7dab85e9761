"""Elementwise and broadcast ops as TE computes (float16 evaluated in float32)."""

from __future__ import annotations

import math

from tvm import te, tirx

from . import te_op
from .common import (broadcast, const, dtype_of, is_float, like, maximum, minimum, tvm_dtype,
                     unary, work_dtype)

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _unary_op(fn):
    return lambda node, args: unary(args[0], fn, node.op)


_UNARY = {
    "exp": tirx.exp, "log": tirx.log, "sqrt": tirx.sqrt, "tanh": tirx.tanh, "erf": tirx.erf,
    "sigmoid": tirx.sigmoid,
    "reciprocal": lambda v: like(v, 1) / v,
    "silu": lambda v: v * tirx.sigmoid(v),
    "hard_swish": lambda v: v * maximum(minimum(v / like(v, 6) + like(v, 0.5), like(v, 1)),
                                        like(v, 0)),
    "relu": lambda v: maximum(v, like(v, 0)),
    "neg": lambda v: like(v, 0) - v,
    "not": lambda v: tirx.Not(v),
    "identity": lambda v: v, "dropout": lambda v: v,
}
for _name, _fn in _UNARY.items():
    te_op(_name)(_unary_op(_fn))


@te_op("abs")
def _abs(node, args):
    x = args[0]
    if dtype_of(x).startswith("uint"):
        return unary(x, lambda v: v, "abs")
    return unary(x, lambda v: tirx.Select(v < like(v, 0), like(v, 0) - v, v), "abs")


@te_op("leaky_relu")
def _leaky_relu(node, args):
    alpha = node.attrs["alpha"]
    return unary(args[0], lambda v: tirx.Select(v >= like(v, 0), v,
                                                v * like(v, alpha)), "leaky_relu")


@te_op("hard_sigmoid")
def _hard_sigmoid(node, args):
    alpha, beta = node.attrs["alpha"], node.attrs["beta"]

    def fn(v):
        y = v * like(v, alpha) + like(v, beta)
        return maximum(minimum(y, like(v, 1)), like(v, 0))
    return unary(args[0], fn, "hard_sigmoid")


@te_op("gelu")
def _gelu(node, args):
    if node.attrs["approximate"] == "tanh":
        def fn(v):
            inner = like(v, _SQRT_2_OVER_PI) * (v + like(v, 0.044715) * v * v * v)
            return like(v, 0.5) * v * (like(v, 1) + tirx.tanh(inner))
    else:
        def fn(v):
            return like(v, 0.5) * v * (like(v, 1)
                                              + tirx.erf(v * const(1 / math.sqrt(2), dtype_of(v))))
    return unary(args[0], fn, "gelu")


@te_op("clip")
def _clip(node, args):
    x = args[0]
    low, high = node.attrs["min"], node.attrs["max"]

    def fn(v):
        if not is_float(dtype_of(v)):
            info = tirx.min_value(dtype_of(v)).value, tirx.max_value(dtype_of(v)).value
            lo = const(min(max(low, info[0]), info[1]) if math.isfinite(low) else info[0],
                       dtype_of(v))
            hi = const(min(max(high, info[0]), info[1]) if math.isfinite(high) else info[1],
                       dtype_of(v))
        else:
            lo, hi = like(v, low), like(v, high)
        return minimum(maximum(v, lo), hi)
    return unary(x, fn, "clip")


@te_op("cast")
def _cast(node, args):
    x = args[0]
    to = tvm_dtype(node.attrs["to"])
    if to == "bool" and is_float(dtype_of(x)):  # NaN is true: LLVM's `!=` is ordered
        return unary(x, lambda v: tirx.Or(v != like(v, 0), tirx.isnan(v)), "cast", dtype="bool")
    if to == "bool":
        return unary(x, lambda v: v != like(v, 0), "cast", dtype="bool")
    if is_float(dtype_of(x)) and not is_float(to):  # through int64, as the reference does
        return te.compute(x.shape, lambda *i: tirx.Cast(to, tirx.Cast("int64", x(*i))),
                          name="cast", tag="elemwise")
    return te.compute(x.shape, lambda *i: tirx.Cast(to, x(*i)), name="cast", tag="elemwise")


def _arith(fn):
    def compute(node, args):
        a, b = args
        wide = work_dtype(dtype_of(a))
        if wide != dtype_of(a):
            return broadcast(lambda x, y: tirx.Cast(dtype_of(a), fn(tirx.Cast(wide, x),
                                                                tirx.Cast(wide, y))),
                             args, node.op)
        return broadcast(fn, args, node.op)
    return compute


te_op("add")(_arith(lambda x, y: x + y))
te_op("sub")(_arith(lambda x, y: x - y))
te_op("mul")(_arith(lambda x, y: x * y))
te_op("min")(_arith(minimum))
te_op("max")(_arith(maximum))


def _divide(x, y):
    if is_float(dtype_of(x)):
        return x / y
    zero = const(0, dtype_of(y))
    safe = tirx.Select(y == zero, const(1, dtype_of(y)), y)
    return tirx.Select(y == zero, const(0, dtype_of(x)), tirx.truncdiv(x, safe))


te_op("div")(_arith(_divide))


@te_op("pow")
def _pow(node, args):
    a, b = args
    if is_float(dtype_of(a)) and dtype_of(a) == dtype_of(b):
        return _arith(lambda x, y: tirx.power(x, y))(node, args)
    wide = "float64"

    def fn(x, y):
        result = tirx.power(tirx.Cast(wide, x), tirx.Cast(wide, y))
        if is_float(dtype_of(a)):
            return tirx.Cast(dtype_of(a), result)
        return tirx.Cast(dtype_of(a), tirx.Cast("int64", result))
    return broadcast(fn, args, "pow")


def _broadcast_op(fn):
    return lambda node, args: broadcast(fn, args, node.op)


te_op("equal")(_broadcast_op(lambda x, y: x == y))
te_op("less")(_broadcast_op(lambda x, y: x < y))
te_op("greater")(_broadcast_op(lambda x, y: x > y))
te_op("where")(_broadcast_op(lambda c, x, y: tirx.Select(c, x, y)))
te_op("prelu")(_broadcast_op(lambda v, s: tirx.Select(v >= like(v, 0), v, v * s)))
