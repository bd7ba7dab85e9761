"""Layout, indexing and the ops that only describe shapes.

Reshape, Flatten, Squeeze and Unsqueeze all become the core ``reshape`` with a fully resolved
shape. Constant, ConstantOfShape, Shape, Size and Range never become nodes: their results are
known at import once the graph's input shapes are static.
"""

from __future__ import annotations

import math

import numpy as np

from mlc.errors import ModelLoadError, ShapeError
from mlc.ir import DType, Value
from mlc.ops.common import broadcast_shape

from ..loader import MAX_ELEMENTS
from .context import ImportContext, NodeView
from .registry import converter


def _axis(n: NodeView, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"{n.label}: axis {axis} is out of range for rank {rank}")
    return axis % max(rank, 1)


@converter("Reshape", const_inputs=(1,))
def reshape(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    shape = list(n.attr("shape", [])) if n.opset < 5 else n.ints(1)
    allowzero = bool(n.attr("allowzero", 0))
    resolved = []
    for i, d in enumerate(shape):
        if d == 0 and not allowzero:
            if i >= len(x.shape):
                raise ShapeError(f"{n.label}: shape {shape} copies dim {i} (0) but the input has "
                                 f"rank {len(x.shape)}")
            d = x.shape[i]
        resolved.append(int(d))
    numel = math.prod(x.shape)
    if resolved.count(-1) > 1:
        raise ShapeError(f"{n.label}: shape {shape} has more than one -1")
    if -1 in resolved:
        known = math.prod(d for d in resolved if d != -1)
        if known == 0 or numel % known:
            raise ShapeError(f"{n.label}: cannot reshape {list(x.shape)} to {shape}")
        resolved[resolved.index(-1)] = numel // known
    if math.prod(resolved) != numel or any(d < 0 for d in resolved):
        raise ShapeError(f"{n.label}: cannot reshape {list(x.shape)} ({numel} elements) to {shape}")
    return ctx.emit("reshape", x, shape=resolved)


@converter("Flatten")
def flatten(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    rank = len(x.shape)
    axis = int(n.attr("axis", 1))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis <= rank:
        raise ShapeError(f"{n.label}: axis {n.attr('axis')} is out of range for rank {rank}")
    return ctx.emit("reshape", x, shape=(math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


@converter("Transpose")
def transpose(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    perm = n.attr("perm")
    perm = list(range(len(x.shape)))[::-1] if perm is None else [int(p) for p in perm]
    return ctx.emit("transpose", x, perm=perm)


@converter("Squeeze", const_inputs=(1,))
def squeeze(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    rank = len(x.shape)
    axes = n.ints(1, default=None) if n.opset >= 13 else n.attr("axes")
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    axes = {_axis(n, int(a), rank) for a in axes}
    for a in sorted(axes):
        if x.shape[a] != 1:
            raise ShapeError(f"{n.label}: cannot squeeze axis {a} of shape {list(x.shape)} "
                             "(its size is not 1)")
    return ctx.emit("reshape", x, shape=[d for i, d in enumerate(x.shape) if i not in axes])


@converter("Unsqueeze", const_inputs=(1,))
def unsqueeze(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    axes = n.ints(1) if n.opset >= 13 else list(n.attr("axes", []))
    out_rank = len(x.shape) + len(axes)
    axes = sorted(_axis(n, int(a), out_rank) for a in axes)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{n.label}: axes {axes} repeat an axis")
    dims = iter(x.shape)
    shape = [1 if i in axes else next(dims) for i in range(out_rank)]
    return ctx.emit("reshape", x, shape=shape)


@converter("Concat")
def concat(ctx: ImportContext, n: NodeView) -> Value:
    inputs = n.inputs()
    axis = _axis(n, int(n.attr("axis", 1)), len(inputs[0].shape))
    return ctx.emit("concat", *inputs, axis=axis)


@converter("Split", const_inputs=(1,))
def split(ctx: ImportContext, n: NodeView) -> list[Value]:
    x = n.input(0)
    axis = _axis(n, int(n.attr("axis", 0)), len(x.shape))
    dim = x.shape[axis]
    if n.opset >= 13 or (n.opset < 2 and n.has_input(1)):
        sizes = n.ints(1, default=None)
    else:
        sizes = n.attr("split")
    if sizes is None and n.opset >= 18 and n.has_attr("num_outputs"):
        count = int(n.attr("num_outputs"))
        chunk = math.ceil(dim / count)
        sizes = [chunk] * (count - 1) + [dim - chunk * (count - 1)]
    elif sizes is None:
        count = n.num_outputs
        if dim % count:
            raise ShapeError(f"{n.label}: axis {axis} of size {dim} does not split evenly into "
                             f"{count} outputs")
        sizes = [dim // count] * count
    sizes = [int(s) for s in sizes]
    if sum(sizes) != dim or any(s < 0 for s in sizes) or len(sizes) != n.num_outputs:
        raise ShapeError(f"{n.label}: split sizes {sizes} do not cover axis {axis} of size {dim} "
                         f"with {n.num_outputs} outputs")
    return ctx.emit_multi("split", [x], dict(axis=axis, sizes=sizes))


@converter("Slice", const_inputs=(1, 2, 3, 4))
def slice_(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    rank = len(x.shape)
    if n.opset < 10:
        starts, ends = list(n.attr("starts")), list(n.attr("ends"))
        axes, steps = n.attr("axes"), None
    else:
        starts, ends = n.ints(1), n.ints(2)
        axes, steps = n.ints(3, default=None), n.ints(4, default=None)
    axes = list(range(len(starts))) if axes is None else [_axis(n, int(a), rank) for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ShapeError(f"{n.label}: starts, ends, axes and steps differ in length")
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{n.label}: axes {axes} repeat an axis")
    entries = []
    for start, end, axis, step in sorted(zip(starts, ends, axes, steps), key=lambda e: e[2]):
        if step == 0:
            raise ShapeError(f"{n.label}: step 0 on axis {axis}")
        entries.append((*clamp_slice(int(start), int(end), int(step), x.shape[axis]), axis, step))
    return ctx.emit("slice", x, starts=[e[0] for e in entries], ends=[e[1] for e in entries],
                    axes=[e[2] for e in entries], steps=[e[3] for e in entries])


def clamp_slice(start: int, end: int, step: int, dim: int) -> tuple[int, int]:
    """ONNX Slice clamping: [0, dim] for positive steps, [-1, dim-1] (end) for negative."""
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        return min(max(start, 0), dim), min(max(end, 0), dim)
    return min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)


@converter("Gather")
def gather(ctx: ImportContext, n: NodeView) -> Value:
    x, indices = n.input(0), n.input(1)
    return ctx.emit("gather", x, indices, axis=_axis(n, int(n.attr("axis", 0)), len(x.shape)))


@converter("Expand", since=8, const_inputs=(1,))
def expand(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    target = n.ints(1)
    try:
        shape = broadcast_shape(tuple(x.shape), tuple(target), op=n.label)
    except Exception:
        raise ShapeError(f"{n.label}: shape {list(x.shape)} cannot expand to {target}") from None
    return ctx.emit("expand", x, shape=shape)


@converter("Tile", since=6, const_inputs=(1,))
def tile(ctx: ImportContext, n: NodeView) -> Value:
    return ctx.emit("tile", n.input(0), repeats=n.ints(1))


@converter("Pad", const_inputs=(1, 2, 3))
def pad(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    rank = len(x.shape)
    if n.opset < 11:
        pads = list(n.attr("pads" if n.opset >= 2 else "paddings"))
        value = float(n.attr("value", 0.0))
        axes = None
    else:
        pads = n.ints(1)
        constant = n.const(2, default=None)
        value = 0.0 if constant is None or np.size(constant) == 0 else \
            float(np.asarray(constant).reshape(-1)[0])
        axes = n.ints(3, default=None)
    if axes is not None:
        axes = [_axis(n, a, rank) for a in axes]
        full = [0] * (2 * rank)
        for j, a in enumerate(axes):
            full[a], full[a + rank] = pads[j], pads[j + len(axes)]
        pads = full
    if len(pads) != 2 * rank:
        raise ShapeError(f"{n.label}: pads {pads} should have {2 * rank} entries")
    mode = n.attr("mode", "constant")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise n.error(f"mode {mode!r} is not supported (constant, reflect, edge, wrap are)")
    return ctx.emit("pad", x, pads=pads, mode=mode, value=value)


_CONSTANT_ATTRS = {
    "value": None, "value_float": np.float32, "value_floats": np.float32,
    "value_int": np.int64, "value_ints": np.int64,
}


@converter("Constant")
def constant(ctx: ImportContext, n: NodeView) -> Value:
    for name, dtype in _CONSTANT_ATTRS.items():
        if n.has_attr(name):
            return ctx.const(np.asarray(n.attr(name), dtype=dtype))
    present = ", ".join(a.name for a in n.proto.attribute) or "none"
    raise n.error(f"only tensor, float(s) and int(s) values are supported (attribute: {present})")


@converter("ConstantOfShape", const_inputs=(0,))
def constant_of_shape(ctx: ImportContext, n: NodeView) -> Value:
    shape = n.ints(0)
    numel = math.prod(shape)
    if any(d < 0 for d in shape) or numel > MAX_ELEMENTS:
        raise ModelLoadError(f"{n.label}: shape {shape} is negative or larger than "
                             f"{MAX_ELEMENTS} elements")
    value = n.attr("value")
    value = np.zeros((), np.float32) if value is None else np.asarray(value).reshape(-1)[:1]
    ctx.charge(numel, DType.from_numpy(value.dtype))
    return ctx.const(np.full(shape, value.reshape(()), dtype=value.dtype))


@converter("Shape")
def shape_(ctx: ImportContext, n: NodeView) -> Value:
    dims = list(n.input(0).shape)
    start, end = int(n.attr("start", 0)), int(n.attr("end", len(dims)))
    # Shape-15 counts negative start/end from the back and clamps to [0, rank], as slicing does.
    return ctx.const(np.array(dims[start:end], np.int64))


@converter("Size")
def size(ctx: ImportContext, n: NodeView) -> Value:
    return ctx.const(np.array(math.prod(n.input(0).shape), np.int64))


@converter("Range", since=11, const_inputs=(0, 1, 2))
def range_(ctx: ImportContext, n: NodeView) -> Value:
    start, limit, delta = (np.asarray(n.const(i)).reshape(()) for i in range(3))
    if delta == 0:
        raise ShapeError(f"{n.label}: delta is 0")
    count = max(int(math.ceil((float(limit) - float(start)) / float(delta))), 0)
    if count > MAX_ELEMENTS:
        raise ModelLoadError(f"{n.label}: {count} elements is more than {MAX_ELEMENTS}")
    ctx.charge(count, DType.from_numpy(start.dtype))
    values = start + np.arange(count, dtype=start.dtype) * delta
    return ctx.const(values.astype(start.dtype))
