"""Convolutions, matrix products and pooling.

The core ops are 2-D only; 1-D ONNX convolutions and pools run as 2-D ones with H = 1 between
two reshapes. ``auto_pad`` is resolved here into explicit pads, and ConvTranspose's
``output_shape`` into pads plus output_padding, so the core ops never see either.
"""

from __future__ import annotations

import math
from typing import Sequence

from mlc.ir import Value

from .context import ImportContext, NodeView
from .registry import converter


def spatial_pads(n: NodeView, in_sizes: Sequence[int], kernel: Sequence[int],
                 strides: Sequence[int], dilations: Sequence[int]) -> list[int]:
    """ONNX ``pads`` layout [begin..., end...] for a conv/pool, with auto_pad resolved."""
    rank = len(in_sizes)
    auto = n.attr("auto_pad", "NOTSET") or "NOTSET"
    if auto == "NOTSET":
        pads = list(n.attr("pads", [0] * 2 * rank))
        if len(pads) != 2 * rank:
            raise n.error(f"pads {pads} should have {2 * rank} entries")
        return pads
    if auto == "VALID":
        return [0] * 2 * rank
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise n.error(f"auto_pad={auto!r} is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER")
    begins, ends = [], []
    for size, k, s, d in zip(in_sizes, kernel, strides, dilations):
        out = math.ceil(size / s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        begins.append(small if auto == "SAME_UPPER" else big)
        ends.append(big if auto == "SAME_UPPER" else small)
    return begins + ends


def _spatial_rank(n: NodeView, x: Value) -> int:
    rank = len(x.shape) - 2
    if rank not in (1, 2):
        raise n.error(f"{rank}-D input (shape {list(x.shape)}) is not supported; "
                      "mlc supports 1-D and 2-D spatial ops")
    return rank


def _as_2d(ctx: ImportContext, x: Value) -> Value:
    """[N, C, L] → [N, C, 1, L]."""
    return ctx.reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2]))


def _from_2d(ctx: ImportContext, y: Value) -> Value:
    return ctx.reshape(y, (y.shape[0], y.shape[1], y.shape[3]))


def _lift(values: Sequence[int], pad_value: int) -> tuple[int, ...]:
    """1-D attribute → 2-D (H first)."""
    return (pad_value, *values)


def _lift_pads(pads: Sequence[int]) -> tuple[int, ...]:
    return (0, pads[0], 0, pads[1])


@converter("Conv")
def conv(ctx: ImportContext, n: NodeView) -> Value:
    x, w, b = n.input(0), n.input(1), n.input(2)
    rank = _spatial_rank(n, x)
    kernel = list(w.shape[2:])
    if n.has_attr("kernel_shape") and list(n.attr("kernel_shape")) != kernel:
        raise n.error(f"kernel_shape {n.attr('kernel_shape')} disagrees with the weight's {kernel}")
    strides = list(n.attr("strides", [1] * rank))
    dilations = list(n.attr("dilations", [1] * rank))
    pads = spatial_pads(n, x.shape[2:], kernel, strides, dilations)
    group = int(n.attr("group", 1))
    if rank == 2:
        return ctx.emit("conv2d", x, w, b, strides=strides, pads=pads, dilations=dilations,
                        group=group)
    y = ctx.emit("conv2d", _as_2d(ctx, x), _as_2d(ctx, w), b, strides=_lift(strides, 1),
                 pads=_lift_pads(pads), dilations=_lift(dilations, 1), group=group)
    return _from_2d(ctx, y)


@converter("ConvTranspose")
def conv_transpose(ctx: ImportContext, n: NodeView) -> Value:
    x, w, b = n.input(0), n.input(1), n.input(2)
    rank = _spatial_rank(n, x)
    kernel = list(w.shape[2:])
    strides = list(n.attr("strides", [1] * rank))
    dilations = list(n.attr("dilations", [1] * rank))
    out_pad = list(n.attr("output_padding", [0] * rank))
    pads = _transpose_pads(n, list(x.shape[2:]), kernel, strides, dilations, out_pad)
    group = int(n.attr("group", 1))
    if rank == 2:
        return ctx.emit("conv2d_transpose", x, w, b, strides=strides, pads=pads,
                        dilations=dilations, group=group, output_padding=out_pad)
    y = ctx.emit("conv2d_transpose", _as_2d(ctx, x), _as_2d(ctx, w), b, strides=_lift(strides, 1),
                 pads=_lift_pads(pads), dilations=_lift(dilations, 1), group=group,
                 output_padding=_lift(out_pad, 0))
    return _from_2d(ctx, y)


def _transpose_pads(n: NodeView, in_sizes: list[int], kernel: list[int], strides: list[int],
                    dilations: list[int], out_pad: list[int]) -> list[int]:
    """Pads for ConvTranspose (out_pad may grow when output_shape asks for more than the
    natural size). An odd total puts the extra pad at the end for SAME_UPPER and at the start
    otherwise (also with output_shape and NOTSET), as the ONNX spec and onnxruntime do."""
    rank = len(in_sizes)
    auto = n.attr("auto_pad", "NOTSET") or "NOTSET"
    output_shape = n.attr("output_shape")
    if output_shape is None and auto not in ("SAME_UPPER", "SAME_LOWER"):
        if auto == "VALID":
            return [0] * 2 * rank
        return list(n.attr("pads", [0] * 2 * rank))
    if output_shape is not None:
        targets = list(output_shape)[-rank:]
    else:
        targets = [size * s for size, s in zip(in_sizes, strides)]
    begins, ends = [], []
    for i in range(rank):
        natural = strides[i] * (in_sizes[i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1
        total = natural - targets[i]
        if total < 0:
            out_pad[i] += -total
            total = 0
        small, big = total // 2, total - total // 2
        begins.append(small if auto == "SAME_UPPER" else big)
        ends.append(big if auto == "SAME_UPPER" else small)
    return begins + ends


@converter("Gemm")
def gemm(ctx: ImportContext, n: NodeView) -> Value:
    return ctx.emit("gemm", n.input(0), n.input(1), n.input(2), alpha=n.attr("alpha", 1.0),
                    beta=n.attr("beta", 1.0), trans_a=bool(n.attr("transA", 0)),
                    trans_b=bool(n.attr("transB", 0)))


def _pool(ctx: ImportContext, n: NodeView, core: str, **extra) -> Value:
    x = n.input(0)
    rank = _spatial_rank(n, x)
    kernel = list(n.attr("kernel_shape"))
    strides = list(n.attr("strides", [1] * rank))
    dilations = list(n.attr("dilations", [1] * rank))
    pads = spatial_pads(n, x.shape[2:], kernel, strides, dilations)
    attrs = dict(ceil_mode=bool(n.attr("ceil_mode", 0)), **extra)
    if core == "max_pool2d":
        attrs["dilations"] = dilations if rank == 2 else _lift(dilations, 1)
    elif any(d != 1 for d in dilations):
        raise n.error(f"dilations {dilations} are not supported for AveragePool")
    if rank == 2:
        return ctx.emit(core, x, kernel=kernel, strides=strides, pads=pads, **attrs)
    y = ctx.emit(core, _as_2d(ctx, x), kernel=_lift(kernel, 1), strides=_lift(strides, 1),
                 pads=_lift_pads(pads), **attrs)
    return _from_2d(ctx, y)


@converter("MaxPool")
def max_pool(ctx: ImportContext, n: NodeView) -> Value:
    n.only_first_output("the argmax indices")
    return _pool(ctx, n, "max_pool2d")


@converter("AveragePool")
def average_pool(ctx: ImportContext, n: NodeView) -> Value:
    return _pool(ctx, n, "avg_pool2d", count_include_pad=bool(n.attr("count_include_pad", 0)))
