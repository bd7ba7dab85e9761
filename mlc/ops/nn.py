"""Tensor ops: convolutions, matrix products and pooling (NCHW, static shapes, ONNX semantics).

The numpy kernels are the reference every backend is checked against, so they follow
onnxruntime exactly (ceil-mode window counts, average-pool divisors), and they are vectorised
enough for the interpreter to run ResNet-50 at 224×224 in seconds: convolution is im2col plus one
float32 matmul per group, never a Python loop over output pixels.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mlc.ir.op_registry import Attr, Cost, FusionKind, OpError, register
from mlc.ir.types import TensorType

from .common import broadcast_shape
from .shape import static_dims

# ---------------------------------------------------------------------------------------------
# shared checks and arithmetic


def _check_lengths(op: str, **named: tuple[int, ...]) -> None:
    expected = {"strides": 2, "dilations": 2, "pads": 4, "kernel": 2, "output_padding": 2}
    for name, value in named.items():
        if len(value) != expected[name]:
            raise OpError(f"{op}: {name} must have {expected[name]} values, got {list(value)}")
    for name in ("strides", "dilations", "kernel"):
        if name in named and any(v < 1 for v in named[name]):
            raise OpError(f"{op}: {name} must be positive, got {list(named[name])}")


def _window_count(op: str, axis: str, size: int, kernel: int, stride: int, pad_begin: int,
                  pad_end: int, dilation: int = 1, ceil_mode: bool = False) -> int:
    """Number of sliding-window positions along one axis (ONNX Conv/Pool output size).

    With ceil_mode the last partial window is kept only if it starts inside the input or the left
    padding — the rule onnxruntime and PyTorch share.
    """
    extent = dilation * (kernel - 1) + 1
    span = size + pad_begin + pad_end - extent
    if span < 0:
        raise OpError(f"{op}: kernel extent {extent} along {axis} is larger than the padded input "
                      f"({size} + pads {pad_begin}+{pad_end})",
                      hint="use a smaller kernel or dilation, or more padding")
    count = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (count - 1) * stride >= size + pad_begin:
        count -= 1
    return count


def _out_hw(op: str, shape, kernel, strides, pads, dilations,
            ceil_mode: bool = False) -> tuple[int, int]:
    """(Ho, Wo) of a convolution or pooling window over the spatial ``shape`` (H, W)."""
    h, w = shape
    return (_window_count(op, "H", h, kernel[0], strides[0], pads[0], pads[2], dilations[0],
                          ceil_mode),
            _window_count(op, "W", w, kernel[1], strides[1], pads[1], pads[3], dilations[1],
                          ceil_mode))


def _work_dtype(dtype: np.dtype) -> np.dtype:
    """float16 accumulates in float32 (as onnxruntime's CPU kernels do); others keep their type."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _float_inputs(op: str, *types: TensorType | None) -> None:
    present = [t for t in types if t is not None]
    if any(t.dtype != present[0].dtype for t in present):
        raise OpError(f"{op}: inputs must share one dtype, got {', '.join(str(t) for t in present)}")
    if not present[0].dtype.is_float:
        raise OpError(f"{op}: needs floating-point inputs, got {present[0]}",
                      hint="quantized models use qconv2d/qmatmul, or dequantize first")


def _rank(op: str, name: str, t: TensorType, rank: int) -> None:
    if t.rank != rank:
        raise OpError(f"{op}: {name} must have rank {rank}, got {t}")


def _conv_operands(op: str, x: TensorType, w: TensorType, b: TensorType | None, layout: str,
                   **lengths) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Checks conv2d and conv2d_transpose share; the static (C, H, W) of x and dims of w."""
    _check_lengths(op, **lengths)
    _float_inputs(op, x, w, b)
    _rank(op, "input x", x, 4)
    chw = static_dims(x, op, "input x", start=1)
    if w.rank != 4:
        raise OpError(f"{op}: weight w must have rank 4 {layout}, got {w}")
    return chw, static_dims(w, op, "weight w")


# ---------------------------------------------------------------------------------------------
# conv2d


def _conv2d_infer(x: TensorType, w: TensorType, b: TensorType | None = None, *, strides, pads,
                  dilations, group) -> TensorType:
    op = "conv2d"
    (c, h, wd), (co, cg, kh, kw) = _conv_operands(op, x, w, b, "[Cout, Cin/group, kh, kw]",
                                                  strides=strides, pads=pads, dilations=dilations)
    if group < 1 or c % group or co % group:
        raise OpError(f"{op}: group={group} must divide both input channels {c} and output "
                      f"channels {co}")
    if cg * group != c:
        raise OpError(f"{op}: input x has {c} channels but weight {w} with group={group} expects "
                      f"{cg * group}", hint="weights are [Cout, Cin/group, kh, kw]")
    if b is not None and tuple(b.shape) != (co,):
        raise OpError(f"{op}: bias b must have shape [{co}], got {b}")
    if any(p < 0 for p in pads):
        raise OpError(f"{op}: pads must be non-negative, got {list(pads)}",
                      hint="crop with slice or pad before the convolution")
    ho, wo = _out_hw(op, (h, wd), (kh, kw), strides, pads, dilations)
    return TensorType((x.shape[0], co, ho, wo), x.dtype)


def _conv2d_cost(inputs, outputs, **attrs) -> Cost:
    w = inputs[1]
    _, cg, kh, kw = w.shape
    return Cost(outputs[0].numel * cg * kh * kw, _bytes(inputs), _bytes(outputs))


def _bytes(types) -> int:
    return sum(t.nbytes for t in types if t is not None)


def _windows(xp: np.ndarray, kernel: tuple[int, int], strides, dilations,
             out: tuple[int, int]) -> np.ndarray:
    """A strided view (N, C, Ho, Wo, kh, kw) of every window of the padded input; no copy."""
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilations))
    view = sliding_window_view(xp, extent, axis=(2, 3))
    view = view[:, :, ::strides[0], ::strides[1], ::dilations[0], ::dilations[1]]
    return view[:, :, :out[0], :out[1]]


def _pad_hw(x: np.ndarray, pads, fill=0, extra=(0, 0)) -> np.ndarray:
    """Pad H and W by pads [top, left, bottom, right] (+ extra at the bottom/right) with ``fill``."""
    top, left, bottom, right = pads
    bottom, right = bottom + extra[0], right + extra[1]
    if not (top or left or bottom or right):
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)


@register("conv2d", inputs=["x", "w", "b?"],
          attrs={"strides": Attr("ints", (1, 1)), "pads": Attr("ints", (0, 0, 0, 0)),
                 "dilations": Attr("ints", (1, 1)), "group": Attr("int", 1)},
          fusion=FusionKind.OUT_ELEMWISE_FUSABLE, infer=_conv2d_infer, cost=_conv2d_cost,
          onnx=["Conv"])
def conv2d(x, w, b=None, *, strides, pads, dilations, group):
    """2-D convolution (cross-correlation), NCHW, w = [Cout, Cin/group, kh, kw] — ONNX Conv."""
    out_dtype = x.dtype
    work = _work_dtype(x.dtype)
    x, w = x.astype(work, copy=False), w.astype(work, copy=False)
    co, cg, kh, kw = w.shape
    out = _out_hw("conv2d", x.shape[2:], (kh, kw), strides, pads, dilations)
    conv = _depthwise if cg == 1 and group > 1 else _conv_im2col
    y = conv(_pad_hw(x, pads), w, group, strides, dilations, out)
    if b is not None:
        y += b.astype(work, copy=False).reshape(1, co, 1, 1)
    return y.astype(out_dtype, copy=False)


def _conv_im2col(xp, w, group, strides, dilations, out) -> np.ndarray:
    """Gather windows into columns [N, G, Cin/G·kh·kw, Ho·Wo] and multiply by each group's weights."""
    n, c = xp.shape[:2]
    co, cg, kh, kw = w.shape
    ho, wo = out
    if (kh, kw) == (1, 1):
        cols = xp[:, :, ::strides[0], ::strides[1]][:, :, :ho, :wo]
    else:
        cols = _windows(xp, (kh, kw), strides, dilations, out).transpose(0, 1, 4, 5, 2, 3)
    cols = np.ascontiguousarray(cols).reshape(n, group, cg * kh * kw, ho * wo)
    weights = w.reshape(group, co // group, cg * kh * kw)
    return np.matmul(weights, cols).reshape(n, co, ho, wo)


def _depthwise(xp, w, group, strides, dilations, out) -> np.ndarray:
    """One input channel per group: accumulate kernel taps as broadcast multiply-adds.

    A matmul per group would multiply 1×(kh·kw) matrices, far slower than kh·kw vector passes.
    """
    n = xp.shape[0]
    co, _, kh, kw = w.shape
    y = np.zeros((n, group, co // group) + tuple(out), dtype=xp.dtype)
    taps = w.reshape(group, co // group, kh, kw)
    for (i, j), patch in zip(np.ndindex(kh, kw), _taps(xp, (kh, kw), strides, dilations, out)):
        y += patch[:, :, None] * taps[None, :, :, i, j, None, None]
    return y.reshape(n, co, *out)


# ---------------------------------------------------------------------------------------------
# conv2d_transpose


def _transpose_out(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                   dilation: int, output_padding: int) -> int:
    return stride * (size - 1) + output_padding + dilation * (kernel - 1) + 1 - pad_begin - pad_end


def _conv2d_transpose_infer(x: TensorType, w: TensorType, b: TensorType | None = None, *, strides,
                            pads, dilations, group, output_padding) -> TensorType:
    op = "conv2d_transpose"
    (c, h, wd), (ci, cog, kh, kw) = _conv_operands(op, x, w, b, "[Cin, Cout/group, kh, kw]",
                                                   strides=strides, pads=pads, dilations=dilations,
                                                   output_padding=output_padding)
    if ci != c:
        raise OpError(f"{op}: input x has {c} channels but weight {w} has {ci} (its first dim)",
                      hint="conv2d_transpose weights are [Cin, Cout/group, kh, kw]")
    if group < 1 or c % group:
        raise OpError(f"{op}: group={group} must divide the input channels {c}")
    co = cog * group
    if b is not None and tuple(b.shape) != (co,):
        raise OpError(f"{op}: bias b must have shape [{co}], got {b}")
    if any(p < 0 for p in output_padding):
        raise OpError(f"{op}: output_padding must be non-negative, got {list(output_padding)}")
    ho = _transpose_out(h, kh, strides[0], pads[0], pads[2], dilations[0], output_padding[0])
    wo = _transpose_out(wd, kw, strides[1], pads[1], pads[3], dilations[1], output_padding[1])
    if ho < 1 or wo < 1:
        raise OpError(f"{op}: pads {list(pads)} leave an empty output ({ho}×{wo})")
    return TensorType((x.shape[0], co, ho, wo), x.dtype)


def _conv2d_transpose_cost(inputs, outputs, **attrs) -> Cost:
    x, w = inputs[0], inputs[1]
    _, cog, kh, kw = w.shape
    return Cost(x.numel * cog * kh * kw, _bytes(inputs), _bytes(outputs))


@register("conv2d_transpose", inputs=["x", "w", "b?"],
          attrs={"strides": Attr("ints", (1, 1)), "pads": Attr("ints", (0, 0, 0, 0)),
                 "dilations": Attr("ints", (1, 1)), "group": Attr("int", 1),
                 "output_padding": Attr("ints", (0, 0))},
          fusion=FusionKind.OUT_ELEMWISE_FUSABLE, infer=_conv2d_transpose_infer,
          cost=_conv2d_transpose_cost, onnx=["ConvTranspose"])
def conv2d_transpose(x, w, b=None, *, strides, pads, dilations, group, output_padding):
    """Transposed convolution — ONNX ConvTranspose with explicit pads and output_padding.

    Every input pixel scatters w·x into a full-size buffer (one matmul per group, then one strided
    add per kernel tap); pads then crop the buffer (negative pads widen it with zeros).
    """
    out_dtype = x.dtype
    work = _work_dtype(x.dtype)
    x, w = x.astype(work, copy=False), w.astype(work, copy=False)
    n, ci, h, wd = x.shape
    _, cog, kh, kw = w.shape
    co = cog * group
    sh, sw = strides
    dh, dw = dilations
    cols = np.matmul(w.reshape(group, ci // group, cog * kh * kw).transpose(0, 2, 1),
                     x.reshape(n, group, ci // group, h * wd))
    cols = cols.reshape(n, co, kh, kw, h, wd)
    full_h = _transpose_out(h, kh, sh, 0, 0, dh, output_padding[0])
    full_w = _transpose_out(wd, kw, sw, 0, 0, dw, output_padding[1])
    full = np.zeros((n, co, full_h, full_w), dtype=work)
    for i in range(kh):
        for j in range(kw):
            full[:, :, i * dh:i * dh + sh * (h - 1) + 1:sh,
                 j * dw:j * dw + sw * (wd - 1) + 1:sw] += cols[:, :, i, j]
    y = _crop_hw(full, pads)
    if b is not None:
        y += b.astype(work, copy=False).reshape(1, co, 1, 1)
    return y.astype(out_dtype, copy=False)


def _crop_hw(full: np.ndarray, pads) -> np.ndarray:
    """Remove pads [top, left, bottom, right] from H and W; a negative pad adds zeros instead."""
    top, left, bottom, right = pads
    full = np.pad(full, ((0, 0), (0, 0), (max(-top, 0), max(-bottom, 0)),
                         (max(-left, 0), max(-right, 0))))
    top, left, bottom, right = (max(p, 0) for p in pads)
    h, w = full.shape[2:]
    return np.ascontiguousarray(full[:, :, top:h - bottom, left:w - right])


# ---------------------------------------------------------------------------------------------
# matmul and gemm


def _matmul_infer(a: TensorType, b: TensorType) -> TensorType:
    op = "matmul"
    if a.dtype != b.dtype:
        raise OpError(f"matmul: operands must share one dtype, got {a} and {b}")
    if a.rank == 0 or b.rank == 0:
        raise OpError(f"matmul: operands must have rank >= 1, got {a} and {b}")
    ashape = static_dims(a, op, "operand a")
    bshape = static_dims(b, op, "operand b")
    a2 = ashape if a.rank >= 2 else (1,) + ashape
    b2 = bshape if b.rank >= 2 else bshape + (1,)
    if a2[-1] != b2[-2]:
        raise OpError(f"matmul: inner dimensions differ: {a} @ {b} ({a2[-1]} vs {b2[-2]})")
    batch = broadcast_shape(a2[:-2], b2[:-2], op=op)
    shape = batch + (a2[-2],) * (a.rank >= 2) + (b2[-1],) * (b.rank >= 2)
    return TensorType(shape, a.dtype)


def _matmul_cost(inputs, outputs) -> Cost:
    a = inputs[0]
    return Cost(outputs[0].numel * a.shape[-1], _bytes(inputs), _bytes(outputs))


@register("matmul", inputs=["a", "b"], fusion=FusionKind.OUT_ELEMWISE_FUSABLE, infer=_matmul_infer,
          cost=_matmul_cost, onnx=["MatMul"])
def matmul(a, b):
    """numpy matmul semantics (1-D operands, broadcast batch dims) — ONNX MatMul."""
    work = _work_dtype(a.dtype)
    return np.matmul(a.astype(work, copy=False), b.astype(work, copy=False)).astype(a.dtype,
                                                                                       copy=False)


def _gemm_infer(a: TensorType, b: TensorType, c: TensorType | None = None, *, alpha, beta,
                trans_a, trans_b) -> TensorType:
    op = "gemm"
    if a.rank != 2 or b.rank != 2:
        raise OpError(f"gemm: A and B must be 2-D, got {a} and {b}", hint="use matmul for N-D")
    if a.dtype != b.dtype or (c is not None and c.dtype != a.dtype):
        raise OpError(f"gemm: inputs must share one dtype, got "
                      f"{', '.join(str(t) for t in (a, b, c) if t is not None)}")
    m, k = static_dims(a, op, "A")[::-1] if trans_a else static_dims(a, op, "A")
    kb, n = static_dims(b, op, "B")[::-1] if trans_b else static_dims(b, op, "B")
    if k != kb:
        raise OpError(f"gemm: inner dimensions differ: A' is [{m},{k}] and B' is [{kb},{n}] "
                      f"(trans_a={trans_a}, trans_b={trans_b})")
    if c is not None and not _broadcasts_to(c.shape, (m, n)):
        raise OpError(f"gemm: C {c} does not broadcast to the result shape [{m},{n}]")
    return TensorType((m, n), a.dtype)


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    """Whether ``shape`` broadcasts to exactly ``target`` (ONNX unidirectional broadcasting)."""
    if len(shape) > len(target):
        return False
    return all(d in (1, t) for d, t in zip(shape[::-1], target[::-1]))


def _gemm_cost(inputs, outputs, *, trans_a, **attrs) -> Cost:
    a = inputs[0]
    k = a.shape[0] if trans_a else a.shape[1]
    return Cost(outputs[0].numel * k, _bytes(inputs), _bytes(outputs))


@register("gemm", inputs=["a", "b", "c?"],
          attrs={"alpha": Attr("float", 1.0), "beta": Attr("float", 1.0),
                 "trans_a": Attr("bool", False), "trans_b": Attr("bool", False)},
          fusion=FusionKind.OUT_ELEMWISE_FUSABLE, infer=_gemm_infer, cost=_gemm_cost,
          onnx=["Gemm"])
def gemm(a, b, c=None, *, alpha, beta, trans_a, trans_b):
    """alpha·A'·B' + beta·C with C broadcast to [M, N] — ONNX Gemm."""
    out_dtype = a.dtype
    work = _work_dtype(a.dtype)
    a = a.astype(work, copy=False)
    b = b.astype(work, copy=False)
    y = np.matmul(a.T if trans_a else a, b.T if trans_b else b)
    if alpha != 1.0:
        y = y * np.asarray(alpha, dtype=work)
    if c is not None and beta != 0.0:
        cw = c.astype(work, copy=False)
        y = y + (cw if beta == 1.0 else cw * np.asarray(beta, dtype=work))
    return y.astype(out_dtype, copy=False)


# ---------------------------------------------------------------------------------------------
# pooling


def _pool_checks(op: str, x: TensorType, kernel, strides, pads, dilations) -> tuple[int, ...]:
    _check_lengths(op, kernel=kernel, strides=strides, pads=pads, dilations=dilations)
    _rank(op, "input x", x, 4)
    if any(p < 0 for p in pads):
        raise OpError(f"{op}: pads must be non-negative, got {list(pads)}")
    if any(pads[i] >= kernel[i % 2] for i in range(4)):
        raise OpError(f"{op}: pads {list(pads)} must be smaller than the kernel {list(kernel)}",
                      hint="onnxruntime rejects such pooling too; a window could lie in padding only")
    return static_dims(x, op, "input x", start=2)


def _max_pool_infer(x: TensorType, *, kernel, strides, pads, dilations, ceil_mode) -> TensorType:
    op = "max_pool2d"
    spatial = _pool_checks(op, x, kernel, strides, pads, dilations)
    if x.dtype.name == "bool":
        raise OpError(f"{op}: bool inputs are not supported, got {x}")
    ho, wo = _out_hw(op, spatial, kernel, strides, pads, dilations, ceil_mode)
    return TensorType(x.shape[:2] + (ho, wo), x.dtype)


def _lowest(dtype: np.dtype):
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def _ceil_extra(shape, kernel, strides, pads, dilations, out) -> tuple[int, int]:
    """How far ceil-mode windows reach past the padded input, per axis (0 without ceil_mode)."""
    extra = []
    for axis in range(2):
        needed = (out[axis] - 1) * strides[axis] + dilations[axis] * (kernel[axis] - 1) + 1
        have = shape[axis] + pads[axis] + pads[axis + 2]
        extra.append(max(needed - have, 0))
    return extra[0], extra[1]


def _taps(xp: np.ndarray, kernel, strides, dilations, out):
    """Yield the (N, C, Ho, Wo) strided slice of the padded input under each kernel tap."""
    sh, sw = strides
    ho, wo = out
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            r, s = i * dilations[0], j * dilations[1]
            yield xp[:, :, r:r + sh * (ho - 1) + 1:sh, s:s + sw * (wo - 1) + 1:sw]


@register("max_pool2d", inputs=["x"],
          attrs={"kernel": Attr("ints"), "strides": Attr("ints", (1, 1)),
                 "pads": Attr("ints", (0, 0, 0, 0)), "dilations": Attr("ints", (1, 1)),
                 "ceil_mode": Attr("bool", False)},
          fusion=FusionKind.REDUCTION, infer=_max_pool_infer, onnx=["MaxPool"])
def max_pool2d(x, *, kernel, strides, pads, dilations, ceil_mode):
    """Max over each window; padding (and ceil-mode overhang) never wins — ONNX MaxPool output 0."""
    out = _out_hw("max_pool2d", x.shape[2:], kernel, strides, pads, dilations, ceil_mode)
    extra = _ceil_extra(x.shape[2:], kernel, strides, pads, dilations, out)
    xp = _pad_hw(x, pads, fill=_lowest(x.dtype), extra=extra)
    y = np.full(x.shape[:2] + out, _lowest(x.dtype), dtype=x.dtype)
    for tap in _taps(xp, kernel, strides, dilations, out):
        np.maximum(y, tap, out=y)
    return y


def _avg_pool_infer(x: TensorType, *, kernel, strides, pads, ceil_mode,
                    count_include_pad) -> TensorType:
    op = "avg_pool2d"
    spatial = _pool_checks(op, x, kernel, strides, pads, (1, 1))
    if not x.dtype.is_float:
        raise OpError(f"{op}: needs a floating-point input, got {x}")
    ho, wo = _out_hw(op, spatial, kernel, strides, pads, (1, 1), ceil_mode)
    return TensorType(x.shape[:2] + (ho, wo), x.dtype)


def _divisor(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, out: int,
             include_pad: bool) -> np.ndarray:
    """Elements each window averages over along one axis (onnxruntime's rule).

    With padding counted, a window is clipped to the padded input [−pad_begin, size+pad_end);
    otherwise to the input itself. Ceil-mode overhang is never counted.
    """
    start = np.arange(out) * stride - pad_begin
    end = start + kernel
    lo, hi = (-pad_begin, size + pad_end) if include_pad else (0, size)
    return np.minimum(end, hi) - np.maximum(start, lo)


@register("avg_pool2d", inputs=["x"],
          attrs={"kernel": Attr("ints"), "strides": Attr("ints", (1, 1)),
                 "pads": Attr("ints", (0, 0, 0, 0)), "ceil_mode": Attr("bool", False),
                 "count_include_pad": Attr("bool", False)},
          fusion=FusionKind.REDUCTION, infer=_avg_pool_infer, onnx=["AveragePool"])
def avg_pool2d(x, *, kernel, strides, pads, ceil_mode, count_include_pad):
    """Mean over each window — ONNX AveragePool, divisors exactly as onnxruntime computes them."""
    work = _work_dtype(x.dtype)
    h, w = x.shape[2:]
    out = _out_hw("avg_pool2d", (h, w), kernel, strides, pads, (1, 1), ceil_mode)
    extra = _ceil_extra((h, w), kernel, strides, pads, (1, 1), out)
    xp = _pad_hw(x.astype(work, copy=False), pads, extra=extra)
    y = np.zeros(x.shape[:2] + out, dtype=work)
    for tap in _taps(xp, kernel, strides, (1, 1), out):
        y += tap
    dh = _divisor(h, kernel[0], strides[0], pads[0], pads[2], out[0], count_include_pad)
    dw = _divisor(w, kernel[1], strides[1], pads[1], pads[3], out[1], count_include_pad)
    y /= np.outer(dh, dw).astype(work)
    return y.astype(x.dtype, copy=False)


def _global_infer(x: TensorType) -> TensorType:
    if x.rank < 3:
        raise OpError(f"global pooling needs an input of rank >= 3 (N, C, spatial...), got {x}")
    return TensorType(x.shape[:2] + (1,) * (x.rank - 2), x.dtype)


@register("global_avg_pool", inputs=["x"], fusion=FusionKind.REDUCTION, infer=_global_infer,
          onnx=["GlobalAveragePool"])
def global_avg_pool(x):
    """Mean over every axis >= 2, keeping them as size 1 — ONNX GlobalAveragePool."""
    axes = tuple(range(2, x.ndim))
    return np.mean(x, axis=axes, keepdims=True, dtype=_work_dtype(x.dtype)).astype(x.dtype)


@register("global_max_pool", inputs=["x"], fusion=FusionKind.REDUCTION, infer=_global_infer,
          onnx=["GlobalMaxPool"])
def global_max_pool(x):
    """Max over every axis >= 2, keeping them as size 1 — ONNX GlobalMaxPool."""
    return np.max(x, axis=tuple(range(2, x.ndim)), keepdims=True)
