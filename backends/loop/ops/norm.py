"""Normalisations as loop nests (semantics: mlc/ops/norm.py): batch_norm, layer_norm, lrn.

The registry computes all three in float64 and rounds once to the input dtype; so do these, which
keeps cancellation (x - mean, or a large shift against a small output) harmless in f32 models.
batch_norm with constant statistics folds them at compile time into a per-channel f64 scale and
shift (kernel-owned tables), leaving one multiply-add per element.
"""

from __future__ import annotations

import math

import numpy as np

from mlc.ir.dtypes import DType
from mlc.ir.graph import Value
from mlc.ops.common import normalize_axis

from .. import ir
from ..ir import Expr, Let, Stmt
from . import reduction
from .gemm_tile import constant_of
from .nn import masked, optional_input, window

f64 = DType.float64


def wide(x: Expr) -> Expr:
    return ir.cast(f64, x)


@reduction("batch_norm")
def lower_batch_norm(ctx, node, store):
    """(x - mean) / sqrt(var + epsilon) · scale + bias per channel (axis 1), in f64."""
    x, scale, bias, mean, var = node.inputs
    eps = node.attrs["epsilon"]
    out = node.outputs[0]
    arrays = [constant_of(ctx, v) for v in (scale, bias, mean, var)]
    if all(a is not None for a in arrays):
        s, b, m, v = (np.asarray(a, np.float64).reshape(-1) for a in arrays)
        factor = s / np.sqrt(v + eps)
        k = ctx.constant(f"{out.name}_bn_scale", factor)
        c = ctx.constant(f"{out.name}_bn_shift", b - m * factor)

        def value(idx: tuple[Expr, ...]) -> Expr:
            channel = ir.flat_index(k.shape, (idx[1],))
            return ir.add(ir.mul(wide(ctx.load(x, idx)), ir.Load(k, channel)), ir.Load(c, channel))
    else:
        def value(idx: tuple[Expr, ...]) -> Expr:
            def param(p: Value) -> Expr:
                return wide(ctx.load(p, (idx[1],)))
            std = ir.call("sqrt", ir.add(param(var), ir.const(eps, f64)))
            normal = ir.div(ir.sub(wide(ctx.load(x, idx)), param(mean)), std)
            return ir.add(ir.mul(normal, param(scale)), param(bias))

    return ctx.loop_nest(out.shape, lambda idx: store(idx, ir.cast(out.dtype, value(idx))))


@reduction("layer_norm")
def lower_layer_norm(ctx, node, store):
    """Per row over axes [axis, rank): mean, then the biased variance of x - mean (two passes),
    then (x - mean) / sqrt(var + epsilon) · scale (+ bias), all in f64."""
    x, scale, bias = node.inputs[0], node.inputs[1], optional_input(node, 2)
    out = node.outputs[0]
    start = normalize_axis(node.attrs["axis"], len(x.shape), "layer_norm")
    outer, inner = x.shape[:start], x.shape[start:]
    count = ir.const(float(math.prod(inner)), f64)
    eps = ir.const(node.attrs["epsilon"], f64)

    def row(lead: tuple[Expr, ...]) -> Stmt:
        def at(k: tuple[Expr, ...]) -> Expr:
            return wide(ctx.load(x, lead + k))

        total, mean = ctx.local("sum", f64), ctx.local("mean", f64)
        squares, std = ctx.local("sq", f64), ctx.local("std", f64)
        add_up = ctx.loop_nest(inner, lambda k: ir.Assign(total, ir.add(total, at(k))), "r")

        def square(k: tuple[Expr, ...]) -> Stmt:
            d = ir.sub(at(k), mean)
            return ir.Assign(squares, ir.add(squares, ir.mul(d, d)))

        def result(k: tuple[Expr, ...]) -> Stmt:
            y = ir.mul(ir.div(ir.sub(at(k), mean), std),
                       wide(ctx.load(scale, ir.broadcast_index(scale.shape, inner, k))))
            if bias is not None:
                y = ir.add(y, wide(ctx.load(bias, ir.broadcast_index(bias.shape, inner, k))))
            return store(lead + k, ir.cast(out.dtype, y))

        return ir.block(
            Let(total, ir.const(0.0, f64)), add_up, Let(mean, ir.div(total, count)),
            Let(squares, ir.const(0.0, f64)), ctx.loop_nest(inner, square, "r"),
            Let(std, ir.call("sqrt", ir.add(ir.div(squares, count), eps))),
            ctx.loop_nest(inner, result))

    return ctx.loop_nest(outer, row)


def _power(base: Expr, beta: float) -> Expr:
    """base ** beta in f64; the common exponents by square roots, which vectorize (a libm pow
    does not) and agree with pow to a few f64 ulps."""
    if beta == 0.75:
        root = ir.call("sqrt", base)
        return ir.mul(root, ir.call("sqrt", root))
    if beta == 0.5:
        return ir.call("sqrt", base)
    if beta == 1.0:
        return base
    return ir.call("pow", base, ir.const(beta, f64))


@reduction("lrn")
def lower_lrn(ctx, node, store):
    """x / (bias + alpha/size · Σ x²)^beta, the sum over channels
    [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to the tensor, in f64."""
    x = node.inputs[0]
    a = node.attrs
    size = a["size"]
    out = node.outputs[0]
    channels = x.shape[1]
    below = (size - 1) // 2

    def element(idx: tuple[Expr, ...]) -> Stmt:
        def square(j: Expr) -> Expr:
            ch, conds = window(idx[1], j, stride=1, dilation=1, pad=below, size=channels,
                               out_len=channels, taps=size)
            v = masked(wide(ctx.load(x, idx[:1] + (ch,) + idx[2:])), conds, 0.0)
            return ir.mul(v, v)

        total = ctx.local("sum", f64)
        add_up = ctx.loop(size, lambda j: ir.Assign(total, ir.add(total, square(j))))
        base = ir.add(ir.const(a["bias"], f64), ir.mul(ir.const(a["alpha"] / size, f64), total))
        y = ir.div(wide(ctx.load(x, idx)), _power(base, a["beta"]))
        return ir.block(Let(total, ir.const(0.0, f64)), add_up, store(idx, ir.cast(out.dtype, y)))

    return ctx.loop_nest(out.shape, element)
