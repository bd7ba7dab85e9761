"""Layout and indexing ops: reshape, transpose, concat, split, slice, gather, expand, tile, pad,
resize.

Their attributes are already resolved by the frontend (no -1 in shapes, slice bounds clamped,
Resize scales turned into an output size), so inference is plain arithmetic and every bad
combination is caught here with a message naming the op and the numbers that disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlc.ir.op_registry import Attr, FusionKind, OpError, register
from mlc.ir.types import TensorType

from .common import normalize_axis


def static_dims(t: TensorType, op: str, what: str, start: int = 0) -> tuple[int, ...]:
    """The dims of ``t`` from ``start`` on, which must be static ints (symbolic ones raise)."""
    dims = t.shape[start:]
    symbolic = [d for d in dims if isinstance(d, str)]
    if symbolic:
        raise OpError(f"{op}: {what} {t} has symbolic dims {', '.join(symbolic)}",
                      hint="specialise them, e.g. --shape name=1,3,224,224")
    return dims  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# reshape, transpose


def _reshape_infer(x: TensorType, *, shape) -> TensorType:
    if any(d < 0 for d in shape):
        raise OpError(f"reshape: target shape {list(shape)} has negative dims",
                      hint="the frontend resolves -1 and 0 to explicit sizes")
    numel = math.prod(static_dims(x, "reshape", "input x"))
    if math.prod(shape) != numel:
        raise OpError(f"reshape: cannot reshape {x} ({numel} elements) to {list(shape)} "
                      f"({math.prod(shape)} elements)")
    return TensorType(shape, x.dtype)


@register("reshape", inputs=["x"], attrs={"shape": Attr("ints")}, fusion=FusionKind.INJECTIVE,
          infer=_reshape_infer, onnx=["Reshape", "Flatten", "Squeeze", "Unsqueeze"])
def reshape(x, *, shape):
    """Same elements in row-major order, new shape."""
    return np.reshape(x, shape)


def _transpose_infer(x: TensorType, *, perm) -> TensorType:
    if sorted(perm) != list(range(x.rank)):
        raise OpError(f"transpose: perm {list(perm)} is not a permutation of 0..{x.rank - 1} "
                      f"for {x}")
    return TensorType(tuple(x.shape[p] for p in perm), x.dtype)


@register("transpose", inputs=["x"], attrs={"perm": Attr("ints")}, fusion=FusionKind.INJECTIVE,
          infer=_transpose_infer, onnx=["Transpose"])
def transpose(x, *, perm):
    """Output axis i is input axis perm[i] — ONNX Transpose."""
    return np.transpose(x, perm).copy(order="C")  # (ascontiguousarray would make 0-d 1-d)


# ---------------------------------------------------------------------------------------------
# concat, split


def _concat_infer(*inputs: TensorType, axis) -> TensorType:
    if not inputs:
        raise OpError("concat: needs at least one input")
    first = inputs[0]
    axis = normalize_axis(axis, first.rank, "concat")
    total = 0
    for t in inputs:
        if t.rank != first.rank or t.dtype != first.dtype:
            raise OpError(f"concat: inputs must share rank and dtype, got {first} and {t}")
        others = [d for i, d in enumerate(t.shape) if i != axis]
        if others != [d for i, d in enumerate(first.shape) if i != axis]:
            raise OpError(f"concat: shapes {first} and {t} differ outside axis {axis}")
        total += static_dims(t, "concat", "input")[axis]
    return first.with_shape(first.shape[:axis] + (total,) + first.shape[axis + 1:])


@register("concat", inputs=["inputs*"], attrs={"axis": Attr("int")}, fusion=FusionKind.INJECTIVE,
          infer=_concat_infer, onnx=["Concat"])
def concat(*inputs, axis):
    """Join along ``axis`` — ONNX Concat."""
    return np.concatenate(inputs, axis=axis)


def _split_infer(x: TensorType, *, axis, sizes) -> list[TensorType]:
    axis = normalize_axis(axis, x.rank, "split")
    dim = static_dims(x, "split", "input x")[axis]
    if not sizes or any(s < 0 for s in sizes) or sum(sizes) != dim:
        raise OpError(f"split: sizes {list(sizes)} must be non-negative and sum to dim {axis} "
                      f"of {x} ({dim})")
    return [x.with_shape(x.shape[:axis] + (s,) + x.shape[axis + 1:]) for s in sizes]


@register("split", inputs=["x"], outputs=["outputs*"], variadic_outputs=True,
          attrs={"axis": Attr("int"), "sizes": Attr("ints")}, fusion=FusionKind.INJECTIVE,
          infer=_split_infer, onnx=["Split"])
def split(x, *, axis, sizes):
    """One output per entry of ``sizes``, consecutive pieces along ``axis`` — ONNX Split."""
    bounds = np.cumsum(sizes)[:-1]
    return tuple(np.ascontiguousarray(p) for p in np.split(x, bounds, axis=axis))


# ---------------------------------------------------------------------------------------------
# slice, gather


def _slice_infer(x: TensorType, *, starts, ends, axes, steps) -> TensorType:
    op = "slice"
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise OpError(f"{op}: starts, ends, axes and steps need one entry each per sliced axis, "
                      f"got {len(starts)}, {len(ends)}, {len(axes)}, {len(steps)}")
    if len(set(axes)) != len(axes) or any(not 0 <= a < x.rank for a in axes):
        raise OpError(f"{op}: axes {list(axes)} must be unique and in [0, {x.rank}) for {x}")
    shape = list(x.shape)
    dims = static_dims(x, op, "input x")
    for start, end, axis, step in zip(starts, ends, axes, steps):
        dim = dims[axis]
        if step == 0:
            raise OpError(f"{op}: step 0 on axis {axis}")
        low, high = (0, dim) if step > 0 else (-1, dim - 1)
        if not (low <= start <= high and low <= end <= high):
            raise OpError(f"{op}: start {start} / end {end} on axis {axis} (dim {dim}, step {step}) "
                          f"are outside [{low}, {high}]",
                          hint="the frontend clamps Slice bounds as ONNX specifies")
        shape[axis] = len(range(dim)[_axis_slice(start, end, step)])
    return x.with_shape(shape)


def _axis_slice(start: int, end: int, step: int) -> slice:
    """The Python slice for clamped bounds; -1 with a negative step means "before index 0"."""
    if step < 0 and start < 0:
        return slice(0, 0, step)
    return slice(start, None if step < 0 and end < 0 else end, step)


@register("slice", inputs=["x"],
          attrs={"starts": Attr("ints"), "ends": Attr("ints"), "axes": Attr("ints"),
                 "steps": Attr("ints")},
          fusion=FusionKind.INJECTIVE, infer=_slice_infer, onnx=["Slice"])
def slice_(x, *, starts, ends, axes, steps):
    """x[start:end:step] on each listed axis, bounds clamped by the frontend — ONNX Slice."""
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[axis] = _axis_slice(start, end, step)
    return np.ascontiguousarray(x[tuple(index)])


def _gather_infer(x: TensorType, indices: TensorType, *, axis) -> TensorType:
    axis = normalize_axis(axis, x.rank, "gather")
    if indices.dtype.name not in ("int32", "int64"):
        raise OpError(f"gather: indices must be int32 or int64, got {indices}")
    return x.with_shape(x.shape[:axis] + indices.shape + x.shape[axis + 1:])


@register("gather", inputs=["x", "indices"], attrs={"axis": Attr("int", 0)},
          fusion=FusionKind.INJECTIVE, infer=_gather_infer, onnx=["Gather"])
def gather(x, indices, *, axis):
    """Take entries along ``axis``; negative indices count from the end — ONNX Gather."""
    axis = axis % x.ndim
    dim = x.shape[axis]
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < -dim or idx.max() >= dim):
        raise OpError(f"gather: index out of range [{-dim}, {dim - 1}] for axis {axis} "
                      f"(got {idx.min()}..{idx.max()})")
    return np.take(x, np.where(idx < 0, idx + dim, idx), axis=axis)


# ---------------------------------------------------------------------------------------------
# expand, tile, pad


def _expand_infer(x: TensorType, *, shape) -> TensorType:
    dims = static_dims(x, "expand", "input x")
    if len(shape) < x.rank or any(d not in (1, t) for d, t in zip(dims[::-1], shape[::-1])):
        raise OpError(f"expand: {x} does not broadcast to the target shape {list(shape)}",
                      hint="the frontend passes the full broadcast result shape")
    return x.with_shape(shape)


@register("expand", inputs=["x"], attrs={"shape": Attr("ints")}, fusion=FusionKind.BROADCAST,
          infer=_expand_infer, onnx=["Expand"])
def expand(x, *, shape):
    """Broadcast x to ``shape`` — ONNX Expand (with the result shape resolved)."""
    return np.array(np.broadcast_to(x, shape))


def _tile_infer(x: TensorType, *, repeats) -> TensorType:
    dims = static_dims(x, "tile", "input x")
    if len(repeats) != x.rank or any(r < 0 for r in repeats):
        raise OpError(f"tile: repeats {list(repeats)} need one non-negative entry per axis of {x}")
    return x.with_shape(tuple(d * r for d, r in zip(dims, repeats)))


@register("tile", inputs=["x"], attrs={"repeats": Attr("ints")}, fusion=FusionKind.INJECTIVE,
          infer=_tile_infer, onnx=["Tile"])
def tile(x, *, repeats):
    """Repeat the whole tensor ``repeats[i]`` times along axis i — ONNX Tile."""
    return np.tile(x, repeats)


PAD_MODES = ("constant", "reflect", "edge", "wrap")


def _pad_infer(x: TensorType, *, pads, mode, value) -> TensorType:
    op = "pad"
    dims = static_dims(x, op, "input x")
    if len(pads) != 2 * x.rank:
        raise OpError(f"{op}: pads {list(pads)} need 2×rank = {2 * x.rank} entries "
                      f"[begin..., end...] for {x}")
    if mode not in PAD_MODES:
        raise OpError(f"{op}: unknown mode {mode!r}; expected one of {', '.join(PAD_MODES)}")
    shape = []
    for axis, dim in enumerate(dims):
        begin, end = pads[axis], pads[axis + x.rank]
        kept = dim + min(begin, 0) + min(end, 0)
        if kept < 0:
            raise OpError(f"{op}: negative pads {begin}, {end} crop more than dim {axis} ({dim})")
        grow = max(begin, 0) + max(end, 0)
        if grow and mode == "reflect" and max(begin, end) > kept - 1:
            raise OpError(f"{op}: reflect pads {begin}, {end} on axis {axis} must be smaller than "
                          f"the (cropped) dim {kept}")
        if grow and mode in ("edge", "wrap") and kept == 0:
            raise OpError(f"{op}: cannot {mode}-pad the empty axis {axis}")
        shape.append(kept + grow)
    return x.with_shape(shape)


@register("pad", inputs=["x"],
          attrs={"pads": Attr("ints"), "mode": Attr("str", "constant"),
                 "value": Attr("float", 0.0)},
          fusion=FusionKind.INJECTIVE, infer=_pad_infer, onnx=["Pad"])
def pad(x, *, pads, mode, value):
    """Pad (or, with negative pads, crop first) each axis — ONNX Pad."""
    rank = x.ndim
    crop = tuple(slice(max(-pads[i], 0), x.shape[i] - max(-pads[i + rank], 0)) for i in range(rank))
    x = x[crop]
    widths = [(max(pads[i], 0), max(pads[i + rank], 0)) for i in range(rank)]
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=np.asarray(value).astype(x.dtype))
    return np.pad(x, widths, mode=mode)


# ---------------------------------------------------------------------------------------------
# resize

RESIZE_MODES = ("nearest", "linear", "cubic")
COORD_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
               "asymmetric", "tf_crop_and_resize")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple")


def _resize_infer(x: TensorType, *, size, scales, mode, coordinate_transformation_mode,
                  nearest_mode, cubic_coeff_a, exclude_outside, extrapolation_value,
                  roi=()) -> TensorType:
    op = "resize"
    static_dims(x, op, "input x")
    if len(size) != x.rank or len(scales) != x.rank:
        raise OpError(f"{op}: size {list(size)} and scales {list(scales)} need one entry per axis "
                      f"of {x}")
    if any(s < 1 for s in size) or any(not s > 0 for s in scales):
        raise OpError(f"{op}: size {list(size)} and scales {list(scales)} must be positive")
    if mode not in RESIZE_MODES:
        raise OpError(f"{op}: unknown mode {mode!r}; expected one of {', '.join(RESIZE_MODES)}")
    if coordinate_transformation_mode not in COORD_MODES:
        raise OpError(f"{op}: coordinate_transformation_mode {coordinate_transformation_mode!r} is "
                      f"not supported; expected one of {', '.join(COORD_MODES)}")
    if coordinate_transformation_mode == "tf_crop_and_resize" and len(roi) != 2 * x.rank:
        raise OpError(f"{op}: tf_crop_and_resize needs roi with {2 * x.rank} entries "
                      f"(starts then ends, normalised), got {list(roi)}")
    if nearest_mode not in NEAREST_MODES:
        raise OpError(f"{op}: unknown nearest_mode {nearest_mode!r}; expected one of "
                      f"{', '.join(NEAREST_MODES)}")
    if mode != "nearest" and not x.dtype.is_float:
        raise OpError(f"{op}: {mode} interpolation needs a floating-point input, got {x}")
    return x.with_shape(size)


def _source_coords(out_len: int, in_len: int, scale: float, transform: str,
                   roi: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Input coordinate of each output index, in float32 as onnxruntime computes it.

    align_corners divides by the integer output length minus one, as onnxruntime does; the ONNX
    reference (and its test_resize_downsample_scales_linear_align_corners data) uses scale·in.
    """
    x = np.arange(out_len, dtype=np.float32)
    scale = np.float32(scale)
    half = np.float32(0.5)
    if transform == "asymmetric":
        return x / scale
    if transform == "tf_crop_and_resize":  # roi = (start, end) of this axis, normalised
        start, end = np.float32(roi[0]), np.float32(roi[1])
        if out_len == 1:
            return np.full(1, (start + end) * np.float32(in_len - 1) / 2, np.float32)
        return start * np.float32(in_len - 1) + \
            x * (end - start) * np.float32(in_len - 1) / np.float32(out_len - 1)
    if transform == "align_corners":
        if out_len == 1:
            return np.zeros(1, np.float32)
        return x * np.float32(in_len - 1) / np.float32(out_len - 1)
    if transform == "pytorch_half_pixel" and out_len == 1:
        return np.zeros(1, np.float32)
    coords = (x + half) / scale - half
    if transform == "half_pixel_symmetric":
        adjustment = np.float32(out_len) / (scale * np.float32(in_len))
        coords += np.float32(in_len) / 2 * (1 - adjustment)
    return coords


def _nearest_index(coords: np.ndarray, nearest_mode: str, scale: float, in_len: int) -> np.ndarray:
    floor = np.floor(coords)
    frac = coords - floor
    if nearest_mode == "simple":  # Upsample and Resize-10: truncate up-sampling, ceil down-sampling
        index = np.ceil(coords) if scale < 1 else np.trunc(coords)
    elif nearest_mode == "floor":
        index = floor
    elif nearest_mode == "ceil":
        index = np.ceil(coords)
    elif nearest_mode == "round_prefer_ceil":
        index = np.where(frac >= 0.5, floor + 1, floor)
    else:
        index = np.where(frac > 0.5, floor + 1, floor)
    return np.clip(index.astype(np.int64), 0, in_len - 1)


def _cubic_weights(frac: np.ndarray, a: float) -> np.ndarray:
    """Keys cubic convolution weights for taps at offsets -1, 0, 1, 2 (onnxruntime's formula)."""
    t = frac.astype(np.float64)[:, None] + np.array([1.0, 0.0, -1.0, -2.0])
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def interpolation_taps(coords: np.ndarray, in_len: int, mode: str, cubic_a: float,
                       exclude_outside: bool) -> tuple[np.ndarray, np.ndarray]:
    """Linear or cubic resampling of one axis as (taps[o, t] source indices, weights[o, t]) for
    output coordinates mapped to source ``coords``; the loop-IR lowering builds the same tables."""
    if mode == "linear":
        coords = np.clip(coords, 0, in_len - 1)
        low = np.floor(coords).astype(np.int64)
        taps = np.stack([low, np.minimum(low + 1, in_len - 1)], axis=1)
        frac = (coords - low).astype(np.float64)
        return taps, np.stack([1 - frac, frac], axis=1)
    low = np.floor(coords).astype(np.int64)
    raw = low[:, None] + np.arange(-1, 3)
    weights = _cubic_weights(coords - low, cubic_a)
    if exclude_outside:
        weights = np.where((raw >= 0) & (raw < in_len), weights, 0.0)
        weights /= weights.sum(axis=1, keepdims=True)
    return np.clip(raw, 0, in_len - 1), weights


@dataclass(frozen=True)
class ResizeAxis:
    """How a compiled kernel resamples one axis, from the registry's own coordinate code:
    ``taps[o, t]`` source indices with ``weights[o, t]`` (None for nearest: one tap, no
    arithmetic), and ``outside[o]`` (the outputs tf_crop_and_resize extrapolates, or None)."""

    axis: int
    taps: np.ndarray
    weights: np.ndarray | None
    outside: np.ndarray | None


def resize_plan(shape: tuple[int, ...], attrs: dict, work: np.dtype) -> list[ResizeAxis] | None:
    """The per-axis tables of ``resize`` on an input of ``shape``, in the order ``resize``
    interpolates, skipping axes it leaves alone; None when ``resize`` is a plain copy. The numpy
    kernel applies these tables, so backends that compute them at compile time (loop IR, TVM)
    match it bit for bit."""
    mode, transform = attrs["mode"], attrs["coordinate_transformation_mode"]
    crop = transform == "tf_crop_and_resize"
    if tuple(attrs["size"]) == tuple(shape) and not crop:  # onnxruntime copies
        return None
    plan = []
    for axis, (out_len, scale) in enumerate(zip(attrs["size"], attrs["scales"])):
        roi = (attrs["roi"][axis], attrs["roi"][axis + len(shape)]) if crop else (0.0, 1.0)
        in_len = shape[axis]
        if out_len == in_len and scale == 1.0 and roi == (0.0, 1.0):
            continue
        coords = _source_coords(out_len, in_len, scale, transform, roi)
        outside = (coords < 0) | (coords > in_len - 1) if crop else None
        if mode == "nearest":
            index = _nearest_index(coords, attrs["nearest_mode"], scale, in_len)
            plan.append(ResizeAxis(axis, index.reshape(-1, 1), None, outside))
            continue
        taps, weights = interpolation_taps(coords, in_len, mode, attrs["cubic_coeff_a"],
                                           attrs["exclude_outside"])
        plan.append(ResizeAxis(axis, taps, weights.astype(work), outside))
    return plan


def _resample(x: np.ndarray, step: ResizeAxis, extrapolation: float) -> np.ndarray:
    """One axis of ``resize``: the weighted sum of its taps (one tap, unweighted, for nearest),
    then ``extrapolation`` where tf_crop_and_resize samples outside the input."""
    shape = [1] * x.ndim
    shape[step.axis] = -1
    if step.weights is None:
        result = np.take(x, step.taps[:, 0], axis=step.axis)
    else:
        result = 0
        for k in range(step.taps.shape[1]):
            weight = step.weights[:, k].reshape(shape)
            result = result + np.take(x, step.taps[:, k], axis=step.axis) * weight
    if step.outside is not None:
        result = np.where(step.outside.reshape(shape), np.asarray(extrapolation, result.dtype),
                          result)
    return result


@register("resize", inputs=["x"],
          attrs={"size": Attr("ints"), "scales": Attr("floats"), "mode": Attr("str", "nearest"),
                 "coordinate_transformation_mode": Attr("str", "half_pixel"),
                 "nearest_mode": Attr("str", "round_prefer_floor"),
                 "cubic_coeff_a": Attr("float", -0.75), "exclude_outside": Attr("bool", False),
                 "extrapolation_value": Attr("float", 0.0), "roi": Attr("floats", ())},
          fusion=FusionKind.INJECTIVE, infer=_resize_infer, onnx=["Resize", "Upsample"])
def resize(x, **attrs):
    """Resize every axis to ``size`` — ONNX Resize, interpolated separably one axis at a time.

    Coordinates follow onnxruntime (float32 arithmetic, scales as given rather than size/in), so
    nearest-neighbour ties pick the same pixels. ``roi`` (starts then ends, normalised, one
    pair per axis) and ``extrapolation_value`` only matter for tf_crop_and_resize.
    """
    widen = attrs["mode"] != "nearest" and x.dtype == np.float16  # interpolate f16 in f32
    y = x.astype(np.float32) if widen else x
    plan = resize_plan(x.shape, attrs, y.dtype)
    if plan is None:  # onnxruntime copies, even if a scale is not exactly 1
        return x.copy()
    for step in plan:
        y = _resample(y, step, attrs["extrapolation_value"])
    return np.ascontiguousarray(y, dtype=x.dtype)
