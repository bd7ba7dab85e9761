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
    totals = [max(0, (math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size)
              for size, k, s, d in zip(in_sizes, kernel, strides, dilations)]
    return _split_pads(auto, totals)


def _split_pads(auto: str, totals: Sequence[int]) -> list[int]:
    """Each axis' total padding as [begin..., end...]: an odd total puts the extra pad at the end
    for SAME_UPPER and at the start otherwise, as the ONNX spec and onnxruntime do."""
    small, big = [t // 2 for t in totals], [t - t // 2 for t in totals]
    return small + big if auto == "SAME_UPPER" else big + small


def _spatial_rank(n: NodeView, x: Value) -> int:
    rank = len(x.shape) - 2
    if rank not in (1, 2):
        raise n.error(f"{rank}-D input (shape {list(x.shape)}) is not supported; "
                      "mlc supports 1-D and 2-D spatial ops")
    return rank


#: The value a 1-D op's attributes get on the H axis it is run with (pads get 0 on both ends).
_LIFT = {"kernel": 1, "strides": 1, "dilations": 1, "output_padding": 0}


def _as_2d(ctx: ImportContext, x: Value) -> Value:
    """[N, C, L] → [N, C, 1, L]."""
    return ctx.reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2]))


def _emit_2d(ctx: ImportContext, core: str, rank: int, x: Value, *weights: Value | None,
             **attrs) -> Value:
    """Emit a 2-D core op; a 1-D one (``rank`` 1) runs as 2-D with H = 1 between two reshapes.
    ``weights`` are the weight, lifted like ``x``, and the bias, which is not."""
    if rank == 2:
        return ctx.emit(core, x, *weights, **attrs)
    x = _as_2d(ctx, x)
    if weights:
        weights = (_as_2d(ctx, weights[0]), *weights[1:])
    attrs.update({k: (h, *attrs[k]) for k, h in _LIFT.items() if k in attrs})
    attrs["pads"] = (0, attrs["pads"][0], 0, attrs["pads"][1])
    y = ctx.emit(core, x, *weights, **attrs)
    return ctx.reshape(y, (y.shape[0], y.shape[1], y.shape[3]))


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
    return _emit_2d(ctx, "conv2d", rank, x, w, b, strides=strides, pads=pads,
                    dilations=dilations, group=int(n.attr("group", 1)))


@converter("ConvTranspose")
def conv_transpose(ctx: ImportContext, n: NodeView) -> Value:
    x, w, b = n.input(0), n.input(1), n.input(2)
    rank = _spatial_rank(n, x)
    kernel = list(w.shape[2:])
    strides = list(n.attr("strides", [1] * rank))
    dilations = list(n.attr("dilations", [1] * rank))
    out_pad = list(n.attr("output_padding", [0] * rank))
    pads = _transpose_pads(n, list(x.shape[2:]), kernel, strides, dilations, out_pad)
    return _emit_2d(ctx, "conv2d_transpose", rank, x, w, b, strides=strides, pads=pads,
                    dilations=dilations, group=int(n.attr("group", 1)), output_padding=out_pad)


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
    totals = []
    for i in range(rank):
        natural = strides[i] * (in_sizes[i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1
        out_pad[i] += max(targets[i] - natural, 0)
        totals.append(max(natural - targets[i], 0))
    return _split_pads(auto, totals)


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
        attrs["dilations"] = dilations
    elif any(d != 1 for d in dilations):
        raise n.error(f"dilations {dilations} are not supported for AveragePool")
    return _emit_2d(ctx, core, rank, x, kernel=kernel, strides=strides, pads=pads, **attrs)


@converter("MaxPool")
def max_pool(ctx: ImportContext, n: NodeView) -> Value:
    n.only_first_output("the argmax indices")
    return _pool(ctx, n, "max_pool2d")


@converter("AveragePool")
def average_pool(ctx: ImportContext, n: NodeView) -> Value:
    return _pool(ctx, n, "avg_pool2d", count_include_pad=bool(n.attr("count_include_pad", 0)))
