"""Convolutions, matrix products and pooling as TE computes (topi where it has ONNX's semantics)."""

from __future__ import annotations

from functools import partial

from tvm import te, tirx, topi

from . import te_op
from .common import (broadcast_index, broadcast_shape, const, dtype_of, is_float, nan_flags,
                     narrow, widen, work_dtype)
from .reduce import reduce_over


def _add_channel_bias(y: te.Tensor, b: te.Tensor | None) -> te.Tensor:
    if b is None:
        return y
    return te.compute(y.shape, lambda n, c, h, w: y[n, c, h, w] + tirx.Cast(dtype_of(y), b[c]),
                      name="bias", tag="broadcast")


@te_op("conv2d")
def _conv2d(node, args):
    x, w, b = (list(args) + [None])[:3]
    a = node.attrs
    acc = work_dtype(dtype_of(x))
    if a["group"] == 1:
        y = topi.nn.conv2d_nchw(x, w, a["strides"], a["pads"], a["dilations"], out_dtype=acc)
    else:
        y = topi.nn.group_conv2d_nchw(x, w, a["strides"], a["pads"], a["dilations"], a["group"],
                                      out_dtype=acc)
    return narrow(_add_channel_bias(y, b), dtype_of(x))


@te_op("matmul")
def _matmul(node, args):
    """numpy matmul: 1-D operands gain (and lose) a unit dim, batch dims broadcast."""
    a, b = args
    a_shape, b_shape = [int(d) for d in a.shape], [int(d) for d in b.shape]
    a2 = a_shape if len(a_shape) > 1 else [1] + a_shape
    b2 = b_shape if len(b_shape) > 1 else b_shape + [1]
    batch = broadcast_shape(a2[:-2], b2[:-2]) if len(a2) > 2 or len(b2) > 2 else ()
    m, kk, n = a2[-2], a2[-1], b2[-1]
    acc = work_dtype(dtype_of(a))
    k = te.reduce_axis((0, kk), name="k")

    def element(*i):
        bi, row, col = i[:len(batch)], i[len(batch)], i[len(batch) + 1]
        a_index = broadcast_index(a2[:-2], bi, len(batch)) + [row, k]
        b_index = broadcast_index(b2[:-2], bi, len(batch)) + [k, col]
        av = a[k] if len(a_shape) == 1 else a[tuple(a_index)]
        bv = b[k] if len(b_shape) == 1 else b[tuple(b_index)]
        return te.sum(tirx.Cast(acc, av) * tirx.Cast(acc, bv), axis=k)

    y = te.compute(tuple(batch) + (m, n), element, name="matmul", tag="matmul")
    out_shape = list(batch) + ([m] if len(a_shape) > 1 else []) + ([n] if len(b_shape) > 1 else [])
    if len(out_shape) != len(batch) + 2:
        y = topi.reshape(y, out_shape)
    return narrow(y, dtype_of(a))


@te_op("gemm")
def _gemm(node, args):
    a, b, c = (list(args) + [None])[:3]
    attrs = node.attrs
    acc = work_dtype(dtype_of(a))
    m = int(a.shape[1] if attrs["trans_a"] else a.shape[0])
    kk = int(a.shape[0] if attrs["trans_a"] else a.shape[1])
    n = int(b.shape[0] if attrs["trans_b"] else b.shape[1])
    k = te.reduce_axis((0, kk), name="k")

    def element(i, j):
        av = a[k, i] if attrs["trans_a"] else a[i, k]
        bv = b[j, k] if attrs["trans_b"] else b[k, j]
        return te.sum(tirx.Cast(acc, av) * tirx.Cast(acc, bv), axis=k)

    y = te.compute((m, n), element, name="gemm", tag="matmul")
    alpha, beta = attrs["alpha"], attrs["beta"]

    def epilogue(i, j):
        v = y[i, j]
        if alpha != 1.0:
            v = v * tirx.const(alpha, acc)
        if c is not None and beta != 0.0:
            cv = tirx.Cast(acc, c[tuple(broadcast_index(c.shape, (i, j), 2))])
            v = v + (cv if beta == 1.0 else cv * tirx.const(beta, acc))
        return tirx.Cast(dtype_of(a), v)
    return te.compute((m, n), epilogue, name="gemm_epilogue", tag="broadcast")


def _pool(node, args, kind: str):
    """topi's pooling; a max pool then gives NaN for a window holding one, as the registry
    does (topi's max keeps a NaN only until the next element: see ``common.maximum``), from a
    second pool of NaN flags — a standard max reduction, as ``reduce.extreme`` does."""
    a = node.attrs
    x = widen(args[0])

    def pool(t: te.Tensor) -> te.Tensor:
        return topi.nn.pool2d(t, a["kernel"], a["strides"], a.get("dilations", (1, 1)),
                              a["pads"], kind, ceil_mode=a["ceil_mode"], layout="NCHW",
                              count_include_pad=a.get("count_include_pad", False))
    y = pool(x)
    dtype = dtype_of(x)
    if kind == "max" and is_float(dtype):
        nan = pool(nan_flags(x))
        y = te.compute(y.shape, lambda *i: tirx.Select(
            nan(*i) > const(0, dtype), const(float("nan"), dtype), y(*i)), name="pool_nan")
    return narrow(y, dtype_of(args[0]))


def _global_pool(node, args, kind: str):
    x = args[0]
    return reduce_over(x, list(range(2, len(x.shape))), True, kind)


for _kind in ("max", "avg"):
    te_op(f"{_kind}_pool2d")(partial(_pool, kind=_kind))
    te_op(f"global_{_kind}_pool")(partial(_global_pool, kind=_kind))


@te_op("conv2d_transpose")
def _conv2d_transpose(node, args):
    """ONNX ConvTranspose as a direct convolution over the scattered input.

    Output pixel (oh, ow) takes kernel tap (i, j) from input pixel (ih, iw) with
    ih·stride + i·dilation = oh + pad_top (same for w). ``scattered`` is x spread out by the
    stride with zeros between (and around) its pixels, indexed so that the reduction reads
    ``scattered[oh + (kh-1-i)·dilation]`` — a plain convolution body, which dlight's GPU rules
    schedule as one kernel like conv2d (a mask inside the reduction made it emit vector
    selects that nvcc rejects). Negative pads and output_padding need no special case:
    positions outside the scattered buffer have no tap.
    """
    x, w, b = (list(args) + [None])[:3]
    a = node.attrs
    acc = work_dtype(dtype_of(x))
    n, ci, h, wd = (int(d) for d in x.shape)
    _, cog, kh, kw = (int(d) for d in w.shape)
    cig = ci // a["group"]
    (sh, sw), (dh, dw) = a["strides"], a["dilations"]
    shape = [int(d) for d in node.outputs[0].shape]
    # scattered index P along H holds full-buffer row P + first_h (= ih·sh when it is a pixel)
    first_h, first_w = a["pads"][0] - (kh - 1) * dh, a["pads"][1] - (kw - 1) * dw
    span = (shape[2] + (kh - 1) * dh, shape[3] + (kw - 1) * dw)

    def source(p, first: int, stride: int, size: int):
        t = p + first
        i = tirx.floordiv(t, stride) if stride > 1 else t
        ok = tirx.all(t >= 0, i < size)
        if stride > 1:
            ok = tirx.all(ok, tirx.floormod(t, stride) == 0)
        return tirx.min(tirx.max(i, 0), size - 1), ok

    def spread(nn, c, p, q):
        ih, ok_h = source(p, first_h, sh, h)
        iw, ok_w = source(q, first_w, sw, wd)
        return tirx.if_then_else(tirx.all(ok_h, ok_w), tirx.Cast(acc, x[nn, c, ih, iw]),
                                 const(0, acc))
    scattered = te.compute((n, ci) + span, spread, name="scattered", tag="injective")
    rc = te.reduce_axis((0, cig), name="rc")
    ri = te.reduce_axis((0, kh), name="ri")
    rj = te.reduce_axis((0, kw), name="rj")

    def element(nn, co, oh, ow):
        g = tirx.floordiv(co, cog) if a["group"] > 1 else 0
        col = tirx.floormod(co, cog) if a["group"] > 1 else co
        c = g * cig + rc
        v = scattered[nn, c, oh + (kh - 1 - ri) * dh, ow + (kw - 1 - rj) * dw] * \
            tirx.Cast(acc, w[c, col, ri, rj])
        return te.sum(v, axis=[rc, ri, rj])

    y = te.compute(shape, element, name="conv2d_transpose", tag="conv2d_transpose")
    return narrow(_add_channel_bias(y, b), dtype_of(x))
