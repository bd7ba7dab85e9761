"""Injective ops (layout and indexing) as TE computes: pure index maps, inlined by schedules."""

from __future__ import annotations

from tvm import te, tirx, topi

from mlc.ops.common import normalize_axis

from . import te_op
from .common import const, dtype_of


# ops that are one topi call on the input and one attribute
for _op, (_fn, _attr) in {"reshape": (topi.reshape, "shape"), "transpose": (topi.transpose, "perm"),
                          "expand": (topi.broadcast_to, "shape")}.items():
    te_op(_op)(lambda node, args, fn=_fn, attr=_attr: fn(args[0], node.attrs[attr]))


@te_op("concat")
def _concat(node, args):
    axis = normalize_axis(node.attrs["axis"], len(args[0].shape), "concat")
    return topi.concatenate([a for a in args if int(a.shape[axis]) > 0] or args[:1], axis)


@te_op("split")
def _split(node, args):
    x = args[0]
    axis = normalize_axis(node.attrs["axis"], len(x.shape), "split")

    def piece(begin: int):  # (TE's fcompute takes no keyword arguments, so no default-arg bind)
        return lambda *i: x(*(i[:axis] + (i[axis] + begin,) + i[axis + 1:]))

    def shape(size: int) -> list[int]:
        return [size if k == axis else int(d) for k, d in enumerate(x.shape)]

    sizes = node.attrs["sizes"]
    if len(sizes) > 1 and len(set(sizes)) == 1:  # one block writes all: one GPU kernel, not k
        return tuple(te.compute(shape(sizes[0]), lambda *i: [piece(k * sizes[0])(*i)
                                                             for k in range(len(sizes))],
                                name="split", tag="injective"))
    pieces, start = [], 0
    for k, size in enumerate(sizes):
        pieces.append(te.compute(shape(size), piece(start), name=f"split{k}", tag="injective"))
        start += size
    return tuple(pieces)


@te_op("slice")
def _slice(node, args):
    x = args[0]
    a = node.attrs
    rank = len(x.shape)
    first, stride = [0] * rank, [1] * rank
    shape = [int(d) for d in node.outputs[0].shape]
    for start, axis, step in zip(a["starts"], a["axes"], a["steps"]):
        first[axis], stride[axis] = start, step

    def element(*i):
        return x(*[i[k] * stride[k] + first[k] for k in range(rank)])
    return te.compute(shape, element, name="slice", tag="injective")


@te_op("gather")
def _gather(node, args):
    x, indices = args
    axis = normalize_axis(node.attrs["axis"], len(x.shape), "gather")
    dim = int(x.shape[axis])
    rank_i = len(indices.shape)
    shape = [int(d) for d in node.outputs[0].shape]

    def element(*i):
        idx = tirx.Cast("int64", indices(*i[axis:axis + rank_i]))
        idx = tirx.Select(idx < const(0, "int64"), idx + const(dim, "int64"), idx)
        # clamped, as the loop backends do, so an index out of range never reads outside x;
        # the executable refuses such inputs before the call (manifest option index_checks)
        idx = tirx.min(tirx.max(idx, 0), max(dim - 1, 0))
        return x(*(i[:axis] + (idx,) + i[axis + rank_i:]))
    return te.compute(shape, element, name="gather", tag="injective")


@te_op("tile")
def _tile(node, args):
    x = args[0]
    dims = [int(d) for d in x.shape]
    shape = [int(d) for d in node.outputs[0].shape]
    return te.compute(shape, lambda *i: x(*[i[k] % dims[k] for k in range(len(dims))]),
                      name="tile", tag="injective")


@te_op("pad")
def _pad(node, args):
    """Constant padding (negative pads crop first); edge, reflect and wrap index into the
    cropped input."""
    x = args[0]
    a = node.attrs
    rank = len(x.shape)
    pads = a["pads"]
    begin = [pads[k] for k in range(rank)]
    kept = [int(x.shape[k]) - max(-pads[k], 0) - max(-pads[k + rank], 0) for k in range(rank)]
    crop = [max(-pads[k], 0) for k in range(rank)]
    shape = [int(d) for d in node.outputs[0].shape]
    mode = a["mode"]

    def source(k, i):
        """(index into x along axis k, whether it lies inside) for output index i."""
        j = i - max(begin[k], 0)
        if mode == "edge":
            j = tirx.min(tirx.max(j, 0), kept[k] - 1)
        elif mode == "wrap":
            j = tirx.floormod(j, kept[k])
        elif mode == "reflect" and kept[k] > 1:
            period = 2 * (kept[k] - 1)
            m = tirx.floormod(j, period)
            j = tirx.Select(m < kept[k], m, period - m)
        elif mode == "reflect":
            j = tirx.const(0, "int32") * j
        return j + crop[k], tirx.all(i >= max(begin[k], 0), i < max(begin[k], 0) + kept[k])

    def element(*i):
        where = [source(k, i[k]) for k in range(rank)]
        if mode != "constant":
            return x(*[w[0] for w in where])
        inside = tirx.all(*[w[1] for w in where]) if rank else tirx.const(True, "bool")
        clamped = x(*[tirx.min(tirx.max(w[0], 0), int(x.shape[k]) - 1)
                      for k, w in enumerate(where)])
        return tirx.if_then_else(inside, clamped, const(a["value"], dtype_of(x)))
    return te.compute(shape, element, name="pad", tag="injective")
