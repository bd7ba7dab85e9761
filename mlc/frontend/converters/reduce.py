"""Reductions. ONNX moved ``axes`` from an attribute to an input (ReduceSum at opset 13, the
others at 18) and added ``noop_with_empty_axes`` at the same time; both end up as the core op's
``axes`` attribute here."""

from __future__ import annotations

from mlc.ir import Value

from .context import ImportContext, NodeView
from .registry import converter

# ONNX op → (core op, first opset with axes as an input)
_REDUCE = {
    "ReduceMean": ("reduce_mean", 18),
    "ReduceSum": ("reduce_sum", 13),
    "ReduceMax": ("reduce_max", 18),
    "ReduceMin": ("reduce_min", 18),
}


def _reduce(core: str, axes_input_since: int):
    def convert(ctx: ImportContext, n: NodeView) -> Value:
        x = n.input(0)
        rank = len(x.shape)
        if n.opset >= axes_input_since:
            axes = n.ints(1, default=[])
            if not axes and n.attr("noop_with_empty_axes", 0):
                return ctx.emit("identity", x)
        else:
            axes = list(n.attr("axes", []))
        axes = sorted({a % rank for a in axes}) if rank else []
        return ctx.emit(core, x, axes=axes, keepdims=bool(n.attr("keepdims", 1)))

    return convert


for _onnx, (_core, _since) in _REDUCE.items():
    converter(_onnx, const_inputs=(1,))(_reduce(_core, _since))
