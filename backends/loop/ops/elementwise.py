"""Elementwise and broadcasting ops as expressions (semantics: mlc/ops/elementwise.py).

f16 math is done in f32 and rounded back, as the registry does it in wider precision.
"""

from __future__ import annotations

import math

import numpy as np

from mlc.ir.dtypes import DType

from .. import ir
from ..ir import Expr
from . import compute


def _math(x: Expr, fn) -> Expr:
    """fn on x computed in at least f32, result in x's dtype."""
    wide = ir.cast(DType.float32, x) if x.dtype == DType.float16 else x
    return ir.cast(x.dtype, fn(wide))


def _c(x: Expr, value) -> Expr:
    return ir.const(value, x.dtype)


def _fits(x: Expr, *values: float) -> bool:
    """Every value keeps its precision in x's dtype: ±inf, 0, or a normal number there. Else the
    registry's f64 math differs: an attribute that overflows (1e300) or underflows (1e-300, which
    rounds to 0 in f32) turns 0 · 1e300 or inf · 1e-300 into NaN, and a subnormal one has lost
    bits of its significand. In f64, the registry's own precision, every value fits."""
    if x.dtype == DType.float64:
        return True
    info = np.finfo(x.dtype.numpy)
    with np.errstate(over="ignore", under="ignore"):
        rounded = [abs(float(x.dtype.numpy.type(v))) for v in values]
    return all(not math.isfinite(v) or v == 0 or info.tiny <= r <= info.max
               for v, r in zip(values, rounded))


def _scale(x: Expr, factor: float) -> Expr:
    """x * factor; in f64 when factor does not fit x's dtype (the registry multiplies in f64, so
    0 * 1e300 is 0 there, not NaN, and -inf * 1e-300 is -inf, not NaN)."""
    if not _fits(x, factor):
        return ir.cast(x.dtype, ir.mul(ir.cast(DType.float64, x), ir.const(factor, DType.float64)))
    return ir.mul(x, _c(x, factor))


def _hard_sigmoid(x: Expr, alpha: float, beta: float) -> Expr:
    """clip(alpha·x + beta, 0, 1), in f64 when an attribute does not fit x's dtype."""
    if not _fits(x, alpha, beta):
        return ir.cast(x.dtype, _hard_sigmoid(ir.cast(DType.float64, x), alpha, beta))
    return ir.clamp(ir.add(ir.mul(x, _c(x, alpha)), _c(x, beta)), _c(x, 0.0), _c(x, 1.0))


def sigmoid_of(x: Expr) -> Expr:
    return ir.div(_c(x, 1.0), ir.add(_c(x, 1.0), ir.call("exp", ir.neg(x))))


_UNARY = {
    "relu": lambda x, a: ir.maximum(x, _c(x, 0)),
    "neg": lambda x, a: ir.neg(x),
    "abs": lambda x, a: ir.call("abs", x),
    "not": lambda x, a: ir.not_(x),
    "identity": lambda x, a: x,
    "dropout": lambda x, a: x,
    "cast": lambda x, a: ir.cast(a["to"], x),
}
_FLOAT = {
    "tanh": lambda x, a: ir.call("tanh", x),
    "erf": lambda x, a: ir.call("erf", x),
    "sqrt": lambda x, a: ir.call("sqrt", x),
    "exp": lambda x, a: ir.call("exp", x),
    "log": lambda x, a: ir.call("log", x),
    "reciprocal": lambda x, a: ir.div(_c(x, 1.0), x),
    "sigmoid": lambda x, a: sigmoid_of(x),
    "silu": lambda x, a: ir.mul(x, sigmoid_of(x)),
    "leaky_relu": lambda x, a: ir.select(ir.ge(x, _c(x, 0)), x, _scale(x, a["alpha"])),
    "hard_sigmoid": lambda x, a: _hard_sigmoid(x, a["alpha"], a["beta"]),
    "hard_swish": lambda x, a: ir.mul(x, ir.clamp(ir.add(ir.div(x, _c(x, 6.0)), _c(x, 0.5)),
                                                  _c(x, 0.0), _c(x, 1.0))),
    "gelu": lambda x, a: _gelu(x, a["approximate"]),
}


def _gelu(x: Expr, approximate: str) -> Expr:
    half_x = ir.mul(_c(x, 0.5), x)
    if approximate == "tanh":
        cube = ir.mul(ir.mul(x, x), x)
        inner = ir.mul(_c(x, math.sqrt(2.0 / math.pi)), ir.add(x, ir.mul(_c(x, 0.044715), cube)))
        return ir.mul(half_x, ir.add(_c(x, 1.0), ir.call("tanh", inner)))
    return ir.mul(half_x, ir.add(_c(x, 1.0), ir.call("erf", ir.mul(x, _c(x, math.sqrt(0.5))))))


@compute(*_UNARY)
def lower_unary(ctx, node, k, idx) -> Expr:
    return _UNARY[node.op](ctx.arg(node, 0, idx), node.attrs)


@compute(*_FLOAT)
def lower_float_unary(ctx, node, k, idx) -> Expr:
    fn = _FLOAT[node.op]
    return _math(ctx.arg(node, 0, idx), lambda x: fn(x, node.attrs))


def _bound(value: float, dtype: DType, unbound: float) -> Expr | None:
    """A clip bound in ``dtype``: saturated to the range of an integer dtype; None when it cannot
    bind a float: -inf as the lower bound, +inf as the upper (``unbound``). The other infinity
    does bind: min=+inf makes every number +inf, max=-inf makes it -inf, as the reference does."""
    if dtype.is_int:
        info = np.iinfo(dtype.numpy)
        return ir.const(int(np.clip(value, info.min, info.max)), dtype)
    return None if value == unbound else ir.const(value, dtype)


@compute("clip")
def lower_clip(ctx, node, k, idx) -> Expr:
    x = ctx.arg(node, 0, idx)
    low = _bound(node.attrs["min"], x.dtype, -math.inf)
    high = _bound(node.attrs["max"], x.dtype, math.inf)
    if low is not None:
        x = ir.maximum(x, low)
    if high is not None:
        x = ir.minimum(x, high)
    return x


_BINARY = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "min": "min", "max": "max",
           "equal": "eq", "less": "lt", "greater": "gt"}


@compute(*_BINARY)
def lower_binary(ctx, node, k, idx) -> Expr:
    return ir.binary(_BINARY[node.op], ctx.arg(node, 0, idx), ctx.arg(node, 1, idx))


@compute("pow")
def lower_pow(ctx, node, k, idx) -> Expr:
    a, b = ctx.arg(node, 0, idx), ctx.arg(node, 1, idx)
    if a.dtype == b.dtype and a.dtype == DType.float32:
        return ir.call("pow", a, b)
    f64 = DType.float64
    return ir.cast(a.dtype, ir.call("pow", ir.cast(f64, a), ir.cast(f64, b)))


@compute("where")
def lower_where(ctx, node, k, idx) -> Expr:
    return ir.select(ctx.arg(node, 0, idx), ctx.arg(node, 1, idx), ctx.arg(node, 2, idx))


@compute("prelu")
def lower_prelu(ctx, node, k, idx) -> Expr:
    x, slope = ctx.arg(node, 0, idx), ctx.arg(node, 1, idx)
    return ir.select(ir.ge(x, _c(x, 0)), x, ir.mul(x, slope))


@compute("expand")
def lower_expand(ctx, node, k, idx) -> Expr:
    return ctx.arg(node, 0, idx)
