"""Injective ops as index maps (semantics: mlc/ops/shape.py): each output element is one input
element, so the lowering only says which. Loads are always kept in bounds (clamped) because a
Select may evaluate both sides."""

from __future__ import annotations

from mlc.ops.common import normalize_axis

from .. import ir
from ..ir import Expr
from . import compute


def _replace(idx: tuple[Expr, ...], axis: int, value: Expr) -> tuple[Expr, ...]:
    return idx[:axis] + (value,) + idx[axis + 1:]


@compute("reshape")
def lower_reshape(ctx, node, k, idx) -> Expr:
    return ctx.load_flat(node.inputs[0], ir.flat_index(node.outputs[0].shape, idx))


@compute("transpose")
def lower_transpose(ctx, node, k, idx) -> Expr:
    source: list[Expr] = [ir.const(0)] * len(idx)
    for out_axis, in_axis in enumerate(node.attrs["perm"]):
        source[in_axis] = idx[out_axis]
    return ctx.load(node.inputs[0], tuple(source))


@compute("concat")
def lower_concat(ctx, node, k, idx) -> Expr:
    """A chain of selects on the concat axis (a schedule may later split the loop per input)."""
    out = node.outputs[0]
    axis = normalize_axis(node.attrs["axis"], len(out.shape), "concat")
    parts: list[tuple[int, Expr]] = []
    offset = 0
    for value in node.inputs:
        size = value.shape[axis]
        if size:
            local = ir.clamp(ir.sub(idx[axis], offset), 0, size - 1)
            parts.append((offset + size, ctx.load(value, _replace(idx, axis, local))))
        offset += size
    if not parts:
        return ir.const(0, out.dtype)
    result = parts[-1][1]
    for end, part in reversed(parts[:-1]):
        result = ir.select(ir.lt(idx[axis], end), part, result)
    return result


@compute("split")
def lower_split(ctx, node, k, idx) -> Expr:
    x = node.inputs[0]
    axis = normalize_axis(node.attrs["axis"], len(x.shape), "split")
    offset = sum(node.attrs["sizes"][:k])
    return ctx.load(x, _replace(idx, axis, ir.add(idx[axis], offset)))


@compute("slice")
def lower_slice(ctx, node, k, idx) -> Expr:
    source = list(idx)
    a = node.attrs
    for start, axis, step in zip(a["starts"], a["axes"], a["steps"]):
        source[axis] = ir.add(ir.mul(idx[axis], step), start)
    return ctx.load(node.inputs[0], tuple(source))


@compute("gather")
def lower_gather(ctx, node, k, idx) -> Expr:
    x, indices = node.inputs
    axis = normalize_axis(node.attrs["axis"], len(x.shape), "gather")
    rank = len(indices.shape)
    dim = x.shape[axis]
    i = ir.cast(ir.i64, ctx.load(indices, idx[axis:axis + rank]))
    i = ir.clamp(ir.select(ir.lt(i, 0), ir.add(i, dim), i), 0, max(dim - 1, 0))
    return ctx.load(x, idx[:axis] + (i,) + idx[axis + rank:])


@compute("tile")
def lower_tile(ctx, node, k, idx) -> Expr:
    x = node.inputs[0]
    source = tuple(i if r == 1 else ir.const(0) if d == 1 else ir.mod(i, d)
                   for i, d, r in zip(idx, x.shape, node.attrs["repeats"]))
    return ctx.load(x, source)


@compute("pad")
def lower_pad(ctx, node, k, idx) -> Expr:
    """Crop (negative pads) then pad: per axis, p is the position in the cropped input."""
    x = node.inputs[0]
    pads, mode = node.attrs["pads"], node.attrs["mode"]
    rank = len(x.shape)
    source, inside, empty = [], [], False
    for axis, (i, dim) in enumerate(zip(idx, x.shape)):
        begin, end = pads[axis], pads[axis + rank]
        crop = max(-begin, 0)
        kept = dim + min(begin, 0) + min(end, 0)
        p = ir.sub(i, max(begin, 0))
        empty = empty or kept == 0
        if max(begin, 0) + max(end, 0) == 0 or kept == 0:
            q = p
        elif mode == "constant":
            inside.append(ir.and_(ir.ge(p, 0), ir.lt(p, kept)))
            q = ir.clamp(p, 0, kept - 1)
        elif mode == "edge":
            q = ir.clamp(p, 0, kept - 1)
        elif mode == "reflect":
            q = ir.select(ir.lt(p, 0), ir.neg(p),
                          ir.select(ir.ge(p, kept), ir.sub(2 * (kept - 1), p), p))
        else:  # wrap
            q = ir.mod(ir.add(ir.mod(p, kept), kept), kept)
        source.append(ir.add(q, crop))
    fill = ir.const(node.attrs["value"], x.dtype)
    if empty:  # nothing of the input survives the crop: all padding
        return fill
    value = ctx.load(x, tuple(source))
    return ir.select(ir.and_(*inside), value, fill) if inside else value
