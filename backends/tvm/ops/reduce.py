"""Reductions, softmax and normalisations as TE computes.

Float reductions accumulate in float32 (float16 too); integers in their own dtype, wrapping as
the reference does. Softmax subtracts the row maximum only when it is finite, as the reference
does, so a row of -inf gives NaN like numpy and not a silent 0.
"""

from __future__ import annotations

from tvm import te, tirx, topi

from mlc.ops.common import normalize_axis
from mlc.ops.reduce import reduced_axes

from . import te_op
from .common import (broadcast_index, const, dtype_of, element_count, is_float, nan_flags, narrow,
                     widen)


def _map(y: te.Tensor, fn, name: str) -> te.Tensor:
    return te.compute(y.shape, lambda *i: fn(y(*i), i), name=name, tag="elemwise")


def _reduce(node, args, kind: str):
    x = args[0]
    axes = list(reduced_axes(node.attrs["axes"], len(x.shape), node.op))
    return reduce_over(x, axes, node.attrs["keepdims"], kind)


def reduce_over(x: te.Tensor, axes: list[int], keep: bool, kind: str) -> te.Tensor:
    """The registry's reduce_``kind`` (sum, mean, max, min) of ``x`` over ``axes``."""
    if element_count(x, axes) == 0:
        return _empty_reduction(x, axes, keep, kind)
    if dtype_of(x) == "bool":  # max is any, min is all
        as_int = te.compute(x.shape, lambda *i: tirx.Cast("int8", x(*i)), name="widen")
        fn = topi.max if kind == "max" else topi.min
        y = fn(as_int, axis=axes, keepdims=keep)
        return _map(y, lambda v, i: v != const(0, "int8"), "to_bool")
    src = widen(x)
    if kind in ("max", "min"):
        return narrow(extreme(src, axes, keep, largest=kind == "max"), dtype_of(x))
    total = topi.sum(src, axis=axes, keepdims=keep)
    if kind == "sum":
        return narrow(total, dtype_of(x))
    count = element_count(x, axes)
    if is_float(dtype_of(x)):
        return narrow(_map(total, lambda v, i: v / const(count, dtype_of(v)), "mean"), dtype_of(x))
    return _map(total, lambda v, i: tirx.truncdiv(v, const(count, dtype_of(v))), "mean")


def _empty_reduction(x: te.Tensor, axes, keepdims: bool, kind: str) -> te.Tensor:
    """A reduction over no elements as its constant (the registry's): 0 for a sum and an
    integer mean, NaN for a float mean, ∓inf / the integer bounds / False, True for max, min.

    Not left to the reduction block: TIR runs a block's init inside its reduction loop, so
    with an empty loop the output would never be written."""
    dtype = dtype_of(x)
    shape = [1 if k in axes else int(d) for k, d in enumerate(x.shape)
             if keepdims or k not in axes]
    if kind in ("sum", "mean"):
        value = float("nan") if kind == "mean" and is_float(dtype) else 0
    elif dtype == "bool":
        value = kind == "min"
    elif is_float(dtype):
        value = float("-inf") if kind == "max" else float("inf")
    else:
        info = tirx.min_value(dtype) if kind == "max" else tirx.max_value(dtype)
        value = info.value
    return te.compute(shape, lambda *i: const(value, dtype), name=f"empty_{kind}")


def extreme(x: te.Tensor, axes, keepdims: bool, largest: bool) -> te.Tensor:
    """max (``largest``) or min of ``x`` over ``axes``, then -inf/+inf for a float result that
    is still the reducer's identity, and NaN where the reduced elements hold one.

    The registry gives -inf (+inf) for an empty or an all -inf (+inf) reduction; TE's max/min
    start from the largest finite value instead, and only those reducers are the ones TVM can
    split across GPU threads (rfactor / cross-thread reduction match the reducer by its
    identity), so the identity is mapped back in an epilogue. (A float input whose maximum is
    exactly -FLT_MAX reads as -inf too.) For the same reason NaN is not the combiner's job
    (TVM's max keeps a NaN only until the next element, see ``common.maximum``): a second
    reduction with a standard reducer flags it, as the registry's ``np.max`` propagates NaN.
    """
    y = _reduce_by(x, axes, keepdims, te.max if largest else te.min, "max" if largest else "min")
    dtype = dtype_of(x)
    if not is_float(dtype):
        return y
    nan = _reduce_by(nan_flags(x), axes, keepdims, te.max, "any_nan")
    bound = tirx.min_value(dtype) if largest else tirx.max_value(dtype)
    inf = const(-float("inf") if largest else float("inf"), dtype)

    def finish(*i):
        v = tirx.Select(y(*i) == bound, inf, y(*i))
        return tirx.Select(nan(*i) > const(0, dtype), const(float("nan"), dtype), v)
    return te.compute(y.shape, finish, name="extreme", tag="elemwise")


def _reduce_by(x: te.Tensor, axes, keepdims: bool, reducer, name: str) -> te.Tensor:
    """``reducer`` (te.max, te.min) of ``x`` over ``axes``."""
    shape = [int(d) for d in x.shape]
    rs = {axis: te.reduce_axis((0, shape[axis]), name=f"r{axis}") for axis in axes}
    out = [1 if k in rs else d for k, d in enumerate(shape) if keepdims or k not in rs]

    def element(*i):
        it = iter(i)
        index = []
        for k in range(len(shape)):
            if k in rs:
                index.append(rs[k])
                if keepdims:
                    next(it)
            else:
                index.append(next(it))
        return reducer(x[tuple(index)], axis=list(rs.values()))
    return te.compute(out, element, name=name, tag="reduce")


for _kind in ("sum", "mean", "max", "min"):
    te_op(f"reduce_{_kind}")(lambda node, args, kind=_kind: _reduce(node, args, kind))


def _row_stats(x: te.Tensor, axis: int):
    """The stable softmax pieces along ``axis``: shifted values' exp and their sum."""
    shape = [int(d) for d in x.shape]
    src = widen(x)
    r = te.reduce_axis((0, shape[axis]), name="r")

    def at(i, value):
        return tuple(i[:axis]) + (value,) + tuple(i[axis + 1:])

    kept = shape[:axis] + [1] + shape[axis + 1:]
    top = te.compute(kept, lambda *i: te.max(src[at(i, r)], axis=r), name="row_max")

    def shift(*i):
        m = top[at(i, 0)]
        return src(*i) - tirx.Select(tirx.isfinite(m), m, const(0, dtype_of(m)))
    shifted = te.compute(shape, shift, name="shifted")
    expo = te.compute(shape, lambda *i: tirx.exp(shifted(*i)), name="exp")
    r2 = te.reduce_axis((0, shape[axis]), name="r2")
    total = te.compute(kept, lambda *i: te.sum(expo[at(i, r2)], axis=r2), name="row_sum")
    return shifted, expo, total, at


def _softmax_op(fn):
    """softmax or log_softmax: ``fn(i, shifted, exp, row_sum at i)`` along the node's axis."""
    def compute(node, args):
        x = args[0]
        axis = normalize_axis(node.attrs["axis"], len(x.shape), node.op)
        shifted, expo, total, at = _row_stats(x, axis)
        y = te.compute(x.shape, lambda *i: fn(i, shifted, expo, total[at(i, 0)]), name=node.op)
        return narrow(y, dtype_of(x))
    return compute


te_op("softmax")(_softmax_op(lambda i, shifted, expo, total: expo(*i) / total))
te_op("log_softmax")(_softmax_op(lambda i, shifted, expo, total: shifted(*i) - tirx.log(total)))


@te_op("layer_norm")
def _layer_norm(node, args):
    x, scale, bias = (list(args) + [None])[:3]
    rank = len(x.shape)
    start = normalize_axis(node.attrs["axis"], rank, "layer_norm")
    shape = [int(d) for d in x.shape]
    inner = shape[start:]
    count = element_count(x, range(start, rank))
    wide = "float64"  # as the loop IR and the reference: rows of equal values centre to exactly 0
    src = te.compute(x.shape, lambda *i: tirx.Cast(wide, x(*i)), name="widen", tag="elemwise")

    def reduce_axes(tag: str):
        return [te.reduce_axis((0, d), name=f"{tag}{k}") for k, d in enumerate(inner)]

    outer = shape[:start]
    ra = reduce_axes("r")
    total = te.compute(outer, lambda *o: te.sum(src[tuple(o) + tuple(ra)], axis=ra),
                       name="sum")
    mean = te.compute(outer, lambda *o: total(*o) / const(count, wide), name="mean")
    rb = reduce_axes("s")

    def square(*o):
        d = src[tuple(o) + tuple(rb)] - mean(*o)
        return te.sum(d * d, axis=rb)
    var = te.compute(outer, square, name="var")

    def tail(t, i):
        return tuple(broadcast_index(t.shape, i, rank))

    def normed(*i):
        o = i[:start]
        v = (src(*i) - mean(*o)) / tirx.sqrt(var(*o) / const(count, wide)
                                              + const(node.attrs["epsilon"], wide))
        v = v * tirx.Cast(wide, scale[tail(scale, i)])
        if bias is not None:
            v = v + tirx.Cast(wide, bias[tail(bias, i)])
        return tirx.Cast(dtype_of(x), v)
    return te.compute(shape, normed, name="layer_norm")


@te_op("lrn")
def _lrn(node, args):
    """x / (bias + alpha/size · Σ x²)^beta over the channel window [c - ⌊(size-1)/2⌋,
    c + ⌈(size-1)/2⌉] clipped to the tensor."""
    x = args[0]
    a = node.attrs
    size = a["size"]
    below = (size - 1) // 2
    channels = int(x.shape[1])
    src = widen(x)
    wide = dtype_of(src)
    r = te.reduce_axis((0, size), name="r")

    def square_sum(n, c, *rest):
        j = c - below + r
        inside = tirx.all(j >= 0, j < channels)
        v = src[(n, tirx.min(tirx.max(j, 0), channels - 1)) + tuple(rest)]
        return te.sum(tirx.Select(inside, v * v, const(0, wide)), axis=r)
    total = te.compute(x.shape, square_sum, name="square_sum")

    def element(*i):
        scale = const(a["bias"], wide) + const(a["alpha"] / size, wide) * total(*i)
        return tirx.Cast(dtype_of(x), src(*i) / tirx.power(scale, const(a["beta"], wide)))
    return te.compute(x.shape, element, name="lrn")


@te_op("batch_norm")
def _batch_norm(node, args):
    x, scale, bias, mean, var = args
    eps = node.attrs["epsilon"]
    src = widen(x)
    wide = dtype_of(src)

    def element(n, c, *rest):
        def ch(t):
            return tirx.Cast(wide, t[c])
        v = (src[(n, c) + tuple(rest)] - ch(mean)) / tirx.sqrt(ch(var) + const(eps, wide))
        return tirx.Cast(dtype_of(x), v * ch(scale) + ch(bias))
    return te.compute(x.shape, element, name="batch_norm")
