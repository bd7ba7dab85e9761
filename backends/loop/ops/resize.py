"""Resize as an injective expression (semantics: mlc/ops/shape.py ``resize``).

Everything that depends only on an output coordinate — the source taps and interpolation
weights per axis, and which outputs tf_crop_and_resize extrapolates — is computed at compile time
by the registry's own float32 coordinate code, so nearest-neighbour ties and weights match it
bit for bit. The kernel keeps them as small per-axis tables (kernel-owned constants) and, like the
registry, interpolates one axis after the other: the value after axis j is the weighted sum of
the value after axis j-1 at that axis's taps, rounded to the work dtype in the same order.
A nearest tap table that is just ``o // r`` or ``o·r + c`` becomes that expression instead, so
the common integer up/down-sampling stays affine (vectorizable) and needs no table.
"""

from __future__ import annotations

import numpy as np

from mlc.ir.dtypes import DType
from mlc.ops.shape import ResizeAxis, resize_plan

from .. import ir
from ..ir import Expr
from . import compute


def _affine(column: np.ndarray, o: Expr) -> Expr | None:
    """``column`` (source index per output index) as ``o // r + c`` or ``o·r + c`` for a small
    integer r, or None."""
    out = np.arange(len(column))
    for r in range(1, 9):
        for divide in (True, False):
            form = out // r if divide else out * r
            c = int(column[0] - form[0])
            if np.array_equal(column, form + c):
                return ir.add(ir.floordiv(o, r) if divide else ir.mul(o, r), c)
    return None


@compute("resize")
def lower_resize(ctx, node, k, idx) -> Expr:
    x = node.inputs[0]
    a = node.attrs
    out = node.outputs[0]
    work = DType.float32 if a["mode"] != "nearest" and x.dtype == DType.float16 else x.dtype
    axes = resize_plan(tuple(x.shape), a, work.numpy)
    if axes is None:
        return ctx.load(x, idx)  # onnxruntime copies, even if a scale is not exactly 1

    def table(name: str, axis: int, array: np.ndarray) -> ir.Buffer:
        return ctx.constant(f"{out.name}_{name}{axis}", array)

    def tap(axis: int, plan: ResizeAxis, t: int) -> Expr:
        column = plan.taps[:, t]
        if plan.weights is None:
            expr = _affine(column, idx[axis])
            if expr is not None:
                return expr
        taps = table("taps", axis, plan.taps)
        return ir.Load(taps, ir.flat_index(taps.shape, (idx[axis], ir.const(t))))

    def value(j: int, source: tuple[Expr, ...]) -> Expr:
        """The tensor after resizing axes[:j], at ``source`` (resized axes hold output indices)."""
        if j == 0:
            return ir.cast(work, ctx.load(x, source))
        plan = axes[j - 1]
        axis = plan.axis

        def at(t: int) -> Expr:
            return value(j - 1, source[:axis] + (tap(axis, plan, t),) + source[axis + 1:])

        if plan.weights is None:
            result = at(0)
        else:
            weights = table("weights", axis, plan.weights)
            result = None
            for t in range(plan.taps.shape[1]):
                w = ir.Load(weights, ir.flat_index(weights.shape, (idx[axis], ir.const(t))))
                term = ir.mul(at(t), w)
                result = term if result is None else ir.add(result, term)
        if plan.outside is not None and plan.outside.any():
            fill = ir.const(a["extrapolation_value"], work)
            if plan.outside.all():
                return fill
            mask = table("outside", axis, plan.outside)
            result = ir.select(ir.Load(mask, idx[axis]), fill, result)
        return result

    return ir.cast(out.dtype, value(len(axes), tuple(idx)))
