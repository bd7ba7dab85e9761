"""Converters nobody writes: an ONNX op that is a core op's twin — the same inputs, and the same
attributes in name, type and default (often none: Relu, Add, MatMul, Where; else LeakyRelu, LRN …)
— imports as that op, input for input and attribute for attribute, read from the op registry. The
package imports this module after the hand-written ones, and a hand-written converter for the same
ONNX op is the one kept (Min folds n inputs, PRelu reads opset 6's slope, Softmax before opset 13
normalises over all trailing axes, Concat and Gather check and normalise the axis)."""

from __future__ import annotations

from typing import Callable

import onnx.defs
from onnx import AttributeProto, helper

from mlc.ir import Value
from mlc.ops import REQUIRED, Attr, OpDef, all_ops

from .context import ImportContext, NodeView
from .registry import CONVERTERS, MAX_OPSET, converter

_ATTR_TYPES = {"int": AttributeProto.INT, "float": AttributeProto.FLOAT,
               "str": AttributeProto.STRING, "ints": AttributeProto.INTS,
               "floats": AttributeProto.FLOATS}


def onnx_twin(op: OpDef) -> str | None:
    """The ONNX op that is ``op`` input for input and attribute for attribute: its
    ``onnx_equivalent`` (no attributes), or the first of ``onnx`` when that op's MAX_OPSET schema
    has exactly the core op's attributes, each of the same type and default (required where the
    core op has none). Such a pair translates nothing, so the importer and exporter need no code."""
    if op.onnx_equivalent is not None or not op.onnx:
        return op.onnx_equivalent
    spec = onnx.defs.get_schema(op.onnx[0], MAX_OPSET).attributes
    if set(spec) == set(op.attrs) and all(_same(a, spec[k]) for k, a in op.attrs.items()):
        return op.onnx[0]
    return None


def _same(attr: Attr, spec: onnx.defs.OpSchema.Attribute) -> bool:
    if _ATTR_TYPES.get(attr.kind) != spec.type or spec.required != (attr.default is REQUIRED):
        return False  # ONNX stores float defaults as float32, and so does make_attribute
    return spec.required or spec.default_value == helper.make_attribute(spec.name, attr.default)


def legacy_broadcast(ctx: ImportContext, n: NodeView, a: Value, b: Value) -> Value:
    """Opset < 7 binary ops broadcast b onto a only with ``broadcast=1``, aligned at ``axis``
    (default: trailing). Reshape b so that numpy's trailing alignment gives the same result."""
    if n.opset >= 7 or not n.attr("broadcast", 0) or not n.has_attr("axis"):
        return b
    axis = int(n.attr("axis")) % max(len(a.shape), 1)
    trailing = len(a.shape) - axis - len(b.shape)
    if trailing <= 0:
        return b
    return ctx.reshape(b, tuple(b.shape) + (1,) * trailing)


def _twin(op: OpDef) -> Callable[[ImportContext, NodeView], Value]:
    arity = len(op.inputs)

    def convert(ctx: ImportContext, n: NodeView) -> Value:
        inputs = [n.input(i) for i in range(arity)]
        if arity == 2:
            inputs[1] = legacy_broadcast(ctx, n, *inputs)
        # An attribute the node omits takes the core default, which is ONNX's.
        return ctx.emit(op.name, *inputs, **{k: n.attr(k) for k in op.attrs if n.has_attr(k)})

    return convert


for _op in all_ops().values():
    _onnx = onnx_twin(_op)
    if _onnx is not None and _onnx not in CONVERTERS:
        converter(_onnx)(_twin(_op))
