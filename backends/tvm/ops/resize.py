"""Resize as an injective TE compute, bit-exact with mlc/ops/shape.py ``resize``.

Everything that depends only on an output coordinate — source taps, interpolation weights, the
outputs tf_crop_and_resize extrapolates — is computed at compile time by the registry's own
float32 coordinate code, so nearest-neighbour ties and weights match it bit for bit whatever
the target's float contraction does. The tables become index arithmetic (``common.lookup``):
integer up/down-sampling is ``o // r`` or ``o·r``, 2× linear weights a period of two. Like the
registry, axes are interpolated one after the other, the weighted taps summed in tap order.
"""

from __future__ import annotations

import numpy as np
from tvm import te, tirx

from mlc.ops.shape import resize_plan

from . import te_op
from .common import const, dtype_of, lookup, work_dtype


@te_op("resize")
def _resize(node, args):
    x = args[0]
    a = node.attrs
    work = work_dtype(dtype_of(x)) if a["mode"] != "nearest" else dtype_of(x)
    axes = resize_plan(tuple(int(d) for d in x.shape), a, np.dtype(work))
    if axes is None:  # onnxruntime copies, as the registry does
        return te.compute(x.shape, lambda *i: x(*i), name="resize", tag="injective")

    def element(*idx):
        def value(j: int, source: tuple) -> tirx.PrimExpr:
            """The tensor after resizing axes[:j] at ``source`` (resized axes: output index)."""
            if j == 0:
                v = x(*source)
                return v if dtype_of(v) == work else tirx.Cast(work, v)
            plan = axes[j - 1]
            axis, taps, weights, outside = plan.axis, plan.taps, plan.weights, plan.outside
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
