"""Convolutions, matrix products and pools as plain serial loop nests (semantics: mlc/ops/nn.py).

These are the reference lowerings: every attribute combination the registry accepts, one output
element at a time with a scalar accumulator (f16 accumulates in f32, as the registry does). They
are what the evaluator checks the scheduled conv2d/matmul against, and the fallback for every
node a scheduled lowering declines.

Padding is never materialised: a tap's input position is clamped into the tensor (a Select may
evaluate both sides, so loads must stay in bounds) and the pad value is selected where the
position lies outside. The bounds test is emitted only on the sides where some output position
can actually reach outside, so an unpadded conv has no Selects at all.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from mlc.ir.dtypes import DType
from mlc.ir.graph import Node, Value

from .. import ir
from ..ir import Assign, Expr, Let, Stmt
from . import reduction
from .reduce import _initial, accumulator_dtype


def optional_input(node: Node, i: int) -> Value | None:
    """Input ``i`` of ``node``, or None when the optional input is absent."""
    return node.inputs[i] if len(node.inputs) > i else None


def window(out: Expr, tap: Expr, *, stride: int, dilation: int, pad: int, size: int,
           out_len: int, taps: int) -> tuple[Expr, list[Expr]]:
    """The input position ``out·stride + tap·dilation - pad`` of one sliding-window tap, clamped
    into [0, size), and the conditions (none when it can never leave) that it was inside."""
    pos = ir.add(ir.add(ir.mul(out, stride), ir.mul(tap, dilation)), -pad)
    lowest, highest = -pad, (out_len - 1) * stride + (taps - 1) * dilation - pad
    conds = []
    if lowest < 0:
        conds.append(ir.ge(pos, 0))
    if highest > size - 1:
        conds.append(ir.lt(pos, size))
    if conds:
        pos = ir.clamp(pos, 0, size - 1) if len(conds) == 2 else \
            ir.maximum(pos, 0) if lowest < 0 else ir.minimum(pos, size - 1)
    return pos, conds


def _window2d(x: Value, out: Value, kernel: Sequence[int], strides: Sequence[int],
              dilations: Sequence[int], pads: Sequence[int], tap: Callable = window) -> Callable:
    """``taps(p, q, i, j) -> (row, col, conds)``: where tap (i, j) of output pixel (p, q) reads
    x, clamped, and the conditions that it is inside; ``tap`` is ``window`` or, for a transposed
    conv, ``_transposed_tap``, applied to each of the two spatial axes."""
    (h, wd), (ho, wo) = x.shape[2:], out.shape[2:]

    def taps(p: Expr, q: Expr, i: Expr, j: Expr) -> tuple[Expr, Expr, list[Expr]]:
        row, in_row = tap(p, i, stride=strides[0], dilation=dilations[0], pad=pads[0], size=h,
                          out_len=ho, taps=kernel[0])
        col, in_col = tap(q, j, stride=strides[1], dilation=dilations[1], pad=pads[1], size=wd,
                          out_len=wo, taps=kernel[1])
        return row, col, in_row + in_col
    return taps


def masked(value: Expr, conds: list[Expr], fill) -> Expr:
    """``value`` where every condition holds, else ``fill`` (the pad value)."""
    return ir.select(ir.and_(*conds), value, ir.const(fill, value.dtype)) if conds else value


def _accumulate(ctx, acc_dtype: DType, extents: Sequence[int], term: Callable[..., Expr],
                init: Expr | None = None,
                combine: Callable[[Expr, Expr], Expr] = ir.add) -> tuple[ir.Var, Stmt]:
    """``acc = init; for idx in extents: acc = combine(acc, term(*idx))``: the local and code."""
    acc = ctx.local("acc", acc_dtype)
    loops = ctx.loop_nest(extents, lambda k: Assign(acc, combine(acc, term(*k))), "r")
    return acc, ir.block(Let(acc, init if init is not None else ir.const(0, acc_dtype)), loops)


def _store_biased(ctx, store, idx: tuple[Expr, ...], acc: ir.Var, loops: Stmt, bias: Value | None,
                  dtype: DType) -> Stmt:
    """A conv's tail: ``loops`` (the accumulation), then the store of ``acc`` plus the bias of
    output channel ``idx[1]`` (when there is one), as ``dtype``."""
    result = acc if bias is None else ir.add(acc, ir.cast(acc.dtype, ctx.load(bias, (idx[1],))))
    return ir.block(loops, store(idx, ir.cast(dtype, result)))


# -- convolutions -----------------------------------------------------------------------------------

@reduction("conv2d")
def lower_conv2d(ctx, node, store):
    """y[n, o, p, q] = b[o] + Σ_{c, i, j} x[n, g·Cg + c, p·sh + i·dh - top, q·sw + j·dw - left]
    · w[o, c, i, j], with g = o // (Cout/group) and zero outside x."""
    x, w, bias = node.inputs[0], node.inputs[1], optional_input(node, 2)
    a, out, group = node.attrs, node.outputs[0], node.attrs["group"]
    co, cg, kh, kw = w.shape
    taps = _window2d(x, out, (kh, kw), a["strides"], a["dilations"], a["pads"])
    acc_t = accumulator_dtype(x.dtype)

    def element(idx: tuple[Expr, ...]) -> Stmt:
        n, o, p, q = idx

        def term(c: Expr, i: Expr, j: Expr) -> Expr:
            row, col, inside = taps(p, q, i, j)
            channel = c if group == 1 else ir.add(ir.mul(ir.floordiv(o, co // group), cg), c)
            xv = masked(ir.cast(acc_t, ctx.load(x, (n, channel, row, col))), inside, 0)
            return ir.mul(xv, ir.cast(acc_t, ctx.load(w, (o, c, i, j))))

        acc, loops = _accumulate(ctx, acc_t, (cg, kh, kw), term)
        return _store_biased(ctx, store, idx, acc, loops, bias, out.dtype)

    return ctx.loop_nest(out.shape, element)


def _transposed_tap(out: Expr, tap: Expr, *, stride: int, dilation: int, pad: int, size: int,
                    out_len: int, taps: int) -> tuple[Expr, list[Expr]]:
    """The input position whose scatter through ``tap`` lands on output ``out`` of a transposed
    conv: t = out + pad - tap·dilation must be a multiple of the stride with t/stride in
    [0, size). Returns it clamped into [0, size) and the conditions that it exists."""
    t = ir.add(ir.mul(tap, -dilation), ir.add(out, pad))
    lowest, highest = pad - (taps - 1) * dilation, out_len - 1 + pad
    conds = []
    if lowest < 0:
        conds.append(ir.ge(t, 0))
    if stride > 1:
        conds.append(ir.eq(ir.mod(t, stride), 0))
    if highest > (size - 1) * stride:
        conds.append(ir.lt(t, size * stride))
    pos = ir.floordiv(t, stride)
    if lowest < 0:
        pos = ir.maximum(pos, 0)
    if highest > (size - 1) * stride:
        pos = ir.minimum(pos, size - 1)
    return pos, conds


@reduction("conv2d_transpose")
def lower_conv2d_transpose(ctx, node, store):
    """y[n, o, p, q] = b[o] + Σ x[n, g·Cig + c, r, s] · w[g·Cig + c, o % Cog, i, j] over the
    taps with r·sh + i·dh = p + top and s·sw + j·dw = q + left (g = o // Cog): the gather form of
    the registry's scatter-then-crop; a negative pad reads outside the scatter, which is 0."""
    x, w, bias = node.inputs[0], node.inputs[1], optional_input(node, 2)
    a, out, group = node.attrs, node.outputs[0], node.attrs["group"]
    _, cog, kh, kw = w.shape
    cig = x.shape[1] // group
    taps = _window2d(x, out, (kh, kw), a["strides"], a["dilations"], a["pads"], _transposed_tap)
    acc_t = accumulator_dtype(x.dtype)

    def element(idx: tuple[Expr, ...]) -> Stmt:
        n, o, p, q = idx
        g = ir.floordiv(o, cog)

        def term(c: Expr, i: Expr, j: Expr) -> Expr:
            row, col, at = taps(p, q, i, j)
            channel = c if group == 1 else ir.add(ir.mul(g, cig), c)
            xv = masked(ir.cast(acc_t, ctx.load(x, (n, channel, row, col))), at, 0)
            out_channel = o if group == 1 else ir.mod(o, cog)
            return ir.mul(xv, ir.cast(acc_t, ctx.load(w, (channel, out_channel, i, j))))

        acc, loops = _accumulate(ctx, acc_t, (cig, kh, kw), term)
        return _store_biased(ctx, store, idx, acc, loops, bias, out.dtype)

    return ctx.loop_nest(out.shape, element)


# -- matrix products --------------------------------------------------------------------------------

ROW_MIN, ROW_MAX_BYTES = 8, 16 * 1024  # output rows the row-accumulator form is used for


def _product(ctx, out: Value, acc_t: DType, k: int, store,
             a_at: Callable[[tuple[Expr, ...], Expr], Expr],
             b_at: Callable[[tuple[Expr, ...], Expr], Expr], row_form: bool,
             finish: Callable[[tuple[Expr, ...], Expr], Expr]) -> Stmt:
    """Σ_r a(idx, r)·b(idx, r) for every output element, then ``finish`` and ``store``.

    With ``row_form`` (b contiguous along the last output axis), each output row is accumulated
    in a scratch row, r outer and the column inner: the inner loop then has a contiguous store
    and no loop-carried state, so the generic loop schedule vectorizes it (a dot product per
    element would not). Every element still sums its terms in r order, so both forms give the
    same bits. bool operands give any(a and b), as numpy's matmul does."""
    n = out.shape[-1] if out.shape else 1
    if acc_t == DType.bool:
        def term(idx, r):
            return ir.binary("and", a_at(idx, r), b_at(idx, r))
        combine = lambda s, t: ir.binary("or", s, t)  # noqa: E731
    else:
        def term(idx, r):
            return ir.mul(ir.cast(acc_t, a_at(idx, r)), ir.cast(acc_t, b_at(idx, r)))
        combine = ir.add
    if not (row_form and acc_t != DType.bool and n >= ROW_MIN
            and n * acc_t.itemsize <= ROW_MAX_BYTES):
        def element(idx: tuple[Expr, ...]) -> Stmt:
            acc, loops = _accumulate(ctx, acc_t, (k,), lambda r: term(idx, r), combine=combine)
            return ir.block(loops, store(idx, ir.cast(out.dtype, finish(idx, acc))))
        return ctx.loop_nest(out.shape, element)

    def row(lead: tuple[Expr, ...]) -> Stmt:
        buf = ir.Buffer(ctx.var("row").name, acc_t, (n,), "scratch")
        zero = ctx.loop(n, lambda j: ir.Store(buf, j, ir.const(0, acc_t)), "j")
        update = ctx.loop(k, lambda r: ctx.loop(n, lambda j: ir.Store(
            buf, j, ir.add(ir.Load(buf, j), term(lead + (j,), r))), "j"))
        done = ctx.loop(n, lambda j: store(lead + (j,), ir.cast(
            out.dtype, finish(lead + (j,), ir.Load(buf, j)))), "j")
        return ir.Allocate(buf, ir.block(zero, update, done))

    return ctx.loop_nest(out.shape[:-1], row)


@reduction("matmul")
def lower_matmul(ctx, node, store):
    """numpy matmul: 1-D operands get a unit axis (then lose it), batch axes broadcast."""
    a, b = node.inputs
    out = node.outputs[0]
    batch = out.shape[:len(out.shape) - (len(a.shape) >= 2) - (len(b.shape) >= 2)]
    acc_t = accumulator_dtype(a.dtype)

    def a_at(idx: tuple[Expr, ...], r: Expr) -> Expr:
        if len(a.shape) == 1:
            return ctx.load(a, (r,))
        lead = ir.broadcast_index(a.shape[:-2], batch, idx[:len(batch)])
        return ctx.load(a, lead + (idx[len(batch)], r))

    def b_at(idx: tuple[Expr, ...], r: Expr) -> Expr:
        if len(b.shape) == 1:
            return ctx.load(b, (r,))
        lead = ir.broadcast_index(b.shape[:-2], batch, idx[:len(batch)])
        return ctx.load(b, lead + (r, idx[-1]))

    return _product(ctx, out, acc_t, a.shape[-1], store, a_at, b_at, len(b.shape) >= 2,
                    lambda idx, acc: acc)


@reduction("gemm")
def lower_gemm(ctx, node, store):
    """alpha·A'·B' + beta·C, with the registry's order of rounding: the product in the work
    dtype, then ·alpha (when not 1), then + C (·beta when not 1; skipped when beta is 0)."""
    a, b, c = node.inputs[0], node.inputs[1], optional_input(node, 2)
    at = node.attrs
    out = node.outputs[0]
    acc_t = accumulator_dtype(a.dtype)

    def finish(idx: tuple[Expr, ...], acc: Expr) -> Expr:
        result = acc
        if at["alpha"] != 1.0:
            result = ir.mul(result, ir.const(at["alpha"], acc_t))
        if c is not None and at["beta"] != 0.0:
            cv = ir.cast(acc_t, ctx.load(c, ir.broadcast_index(c.shape, out.shape, idx)))
            result = ir.add(result, cv if at["beta"] == 1.0 else
                            ir.mul(cv, ir.const(at["beta"], acc_t)))
        return result

    return _product(
        ctx, out, acc_t, a.shape[0] if at["trans_a"] else a.shape[1], store,
        lambda idx, r: ctx.load(a, (r, idx[0]) if at["trans_a"] else (idx[0], r)),
        lambda idx, r: ctx.load(b, (idx[1], r) if at["trans_b"] else (r, idx[1])),
        not at["trans_b"], finish)


# -- pooling ----------------------------------------------------------------------------------------

@reduction("max_pool2d")
def lower_max_pool2d(ctx, node, store):
    """Max over each window; padding and ceil-mode overhang read as the dtype's lowest value."""
    x, a, out = node.inputs[0], node.attrs, node.outputs[0]
    taps = _window2d(x, out, a["kernel"], a["strides"], a["dilations"], a["pads"])
    lowest = _initial("reduce_max", x.dtype)

    def element(idx: tuple[Expr, ...]) -> Stmt:
        n, c, p, q = idx

        def term(i: Expr, j: Expr) -> Expr:
            row, col, inside = taps(p, q, i, j)
            return masked(ctx.load(x, (n, c, row, col)), inside, lowest.value)

        acc, loops = _accumulate(ctx, x.dtype, a["kernel"], term, lowest, ir.maximum)
        return ir.block(loops, store(idx, acc))

    return ctx.loop_nest(out.shape, element)


def _divisor(out: Expr, *, kernel: int, stride: int, pad_begin: int, pad_end: int, size: int,
             out_len: int, include_pad: bool) -> Expr:
    """How many elements the window at ``out`` averages along one axis (the registry's
    ``_divisor``): the window [out·stride - pad_begin, +kernel) clipped to the padded input
    (include_pad) or the input; ceil-mode overhang never counts. A constant when no window of
    this axis is clipped."""
    lo, hi = (-pad_begin, size + pad_end) if include_pad else (0, size)
    clip_lo = -pad_begin < lo
    clip_hi = (out_len - 1) * stride - pad_begin + kernel > hi
    if not clip_lo and not clip_hi:
        return ir.const(kernel)
    start = ir.add(ir.mul(out, stride), -pad_begin)
    end = ir.add(ir.mul(out, stride), kernel - pad_begin)
    return ir.sub(ir.minimum(end, hi) if clip_hi else end,
                  ir.maximum(start, lo) if clip_lo else start)


@reduction("avg_pool2d")
def lower_avg_pool2d(ctx, node, store):
    """Sum over each window (zero padding) divided by the registry's window count."""
    x = node.inputs[0]
    a = node.attrs
    (kh, kw), (sh, sw), pads = a["kernel"], a["strides"], a["pads"]
    include = a["count_include_pad"]
    out = node.outputs[0]
    h, wd = x.shape[2:]
    ho, wo = out.shape[2:]
    acc_t = accumulator_dtype(x.dtype)
    taps = _window2d(x, out, (kh, kw), (sh, sw), (1, 1), pads)

    def element(idx: tuple[Expr, ...]) -> Stmt:
        n, c, p, q = idx

        def term(i: Expr, j: Expr) -> Expr:
            row, col, inside = taps(p, q, i, j)
            return masked(ir.cast(acc_t, ctx.load(x, (n, c, row, col))), inside, 0)

        acc, loops = _accumulate(ctx, acc_t, (kh, kw), term)
        count = ir.mul(
            _divisor(p, kernel=kh, stride=sh, pad_begin=pads[0], pad_end=pads[2], size=h,
                     out_len=ho, include_pad=include),
            _divisor(q, kernel=kw, stride=sw, pad_begin=pads[1], pad_end=pads[3], size=wd,
                     out_len=wo, include_pad=include))
        mean = ir.div(acc, ir.cast(acc_t, count))
        return ir.block(loops, store(idx, ir.cast(out.dtype, mean)))

    return ctx.loop_nest(out.shape, element)


@reduction("global_avg_pool", "global_max_pool")
def lower_global_pool(ctx, node, store):
    """Mean (in the accumulator dtype) or max over every axis from 2 on."""
    x = node.inputs[0]
    out = node.outputs[0]
    spatial = x.shape[2:]
    average = node.op == "global_avg_pool"
    acc_t = accumulator_dtype(x.dtype) if average else x.dtype

    def element(idx: tuple[Expr, ...]) -> Stmt:
        def term(*s: Expr) -> Expr:
            return ir.cast(acc_t, ctx.load(x, idx[:2] + s))

        if average:
            acc, loops = _accumulate(ctx, acc_t, spatial, term)
            result = ir.div(acc, ir.const(math.prod(spatial), acc_t))
        else:
            acc, loops = _accumulate(ctx, acc_t, spatial, term, _initial("reduce_max", acc_t),
                                     ir.maximum)
            result = acc
        return ir.block(loops, store(idx, ir.cast(out.dtype, result)))

    return ctx.loop_nest(out.shape, element)
