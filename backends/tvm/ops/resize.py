"""Resize as an injective TE compute, bit-exact with mlc/ops/shape.py ``resize``.

Everything that depends only on an output coordinate — source taps, interpolation weights, the
outputs tf_crop_and_resize extrapolates — is computed at compile time by the registry's own
float32 coordinate code, so nearest-neighbour ties and weights match it bit for bit whatever
the target's float contraction does. The tables become index arithmetic (``common.lookup``):
integer up/down-sampling is ``o // r`` or ``o·r``, 2× linear weights a period of two. Like the
registry, axes are interpolated one after the other, the weighted taps summed in tap order.
"""

from __future__ import annotations

from tvm import te, tirx

from mlc.ops.shape import _nearest_index, _source_coords, interpolation_taps

from . import te_op
from .common import const, dtype_of, lookup, work_dtype


def _plan(in_len: int, out_len: int, scale: float, attrs: dict, roi: tuple[float, float],
          work: str):
    """(taps[o, t], weights[o, t] or None for nearest, outside[o] or None) for one axis."""
    mode, transform = attrs["mode"], attrs["coordinate_transformation_mode"]
    coords = _source_coords(out_len, in_len, scale, transform, roi)
    outside = None
    if transform == "tf_crop_and_resize":
        outside = (coords < 0) | (coords > in_len - 1)
    if mode == "nearest":
        index = _nearest_index(coords, attrs["nearest_mode"], scale, in_len)
        return index.reshape(-1, 1), None, outside
    taps, weights = interpolation_taps(coords, in_len, mode, attrs["cubic_coeff_a"],
                                       attrs["exclude_outside"])
    return taps, weights.astype(work), outside


@te_op("resize")
def _resize(node, args):
    x = args[0]
    a = node.attrs
    rank = len(x.shape)
    shape = [int(d) for d in x.shape]
    crop = a["coordinate_transformation_mode"] == "tf_crop_and_resize"
    if tuple(a["size"]) == tuple(shape) and not crop:  # onnxruntime copies, as the registry
        return te.compute(x.shape, lambda *i: x(*i), name="resize", tag="injective")
    work = work_dtype(dtype_of(x)) if a["mode"] != "nearest" else dtype_of(x)
    axes = []
    for axis, (out_len, scale) in enumerate(zip(a["size"], a["scales"])):
        roi = (a["roi"][axis], a["roi"][axis + rank]) if crop else (0.0, 1.0)
        if out_len == shape[axis] and scale == 1.0 and roi == (0.0, 1.0):
            continue
        axes.append((axis, _plan(shape[axis], out_len, scale, a, roi, work)))

    def element(*idx):
        def value(j: int, source: tuple) -> tirx.PrimExpr:
            """The tensor after resizing axes[:j] at ``source`` (resized axes: output index)."""
            if j == 0:
                v = x(*source)
                return v if dtype_of(v) == work else tirx.Cast(work, v)
            axis, (taps, weights, outside) = axes[j - 1]
            o = idx[axis]

            def at(t: int) -> tirx.PrimExpr:
                tap = lookup(taps[:, t], o, dtype_of(o))
                return value(j - 1, source[:axis] + (tap,) + source[axis + 1:])

            if weights is None:
                result = at(0)
            else:
                result = None
                for t in range(taps.shape[1]):
                    term = at(t) * lookup(weights[:, t], o, work)
                    result = term if result is None else result + term
            if outside is not None and outside.any():
                fill = const(a["extrapolation_value"], work)
                result = tirx.Select(lookup(outside, o, "bool"), fill, result)
            return result

        v = value(len(axes), tuple(idx))
        return v if dtype_of(v) == dtype_of(x) else tirx.Cast(dtype_of(x), v)
    return te.compute(node.outputs[0].shape, element, name="resize", tag="injective")
