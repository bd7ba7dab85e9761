"""IR → ONNX export: the way out of mlc, so any graph (after any pass) can run in onnxruntime.

The exporter is one table, ``EXPORTERS``, from core op name to a function that emits the equivalent
ONNX node(s) through an :class:`_Emitter`; an op whose ONNX twin takes the same inputs and
attributes (:func:`~.converters.equivalents.onnx_twin`: Relu, Add, LeakyRelu, Concat …) gets its
entry from the op registry, and only the others are written here. Core ops hold everything static as attributes (the frontend resolved
ONNX's shape-like inputs), so exporting mostly turns attributes back into the int64 / float
initializers that modern opsets take as inputs (Reshape's shape, Clip's min/max, Slice's starts…).
``fused`` nodes are inlined: ONNX has no nested graphs of that kind, and their bodies are ordinary
core ops.

Names: graph inputs and outputs keep their names verbatim (callers feed and read by them); every
other name is made a C identifier (the ONNX IR spec's rule) and unique across the whole model,
including the bodies of inlined fused nodes.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any, Callable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlc.errors import MlcError
from mlc.ir.dtypes import DType
from mlc.ir.graph import Graph, Node, Value
from mlc.ops import all_ops
from mlc.registry import Registry

from .converters.equivalents import onnx_twin

MIN_OPSET = 13  # Softmax's one-axis semantics, Split/Squeeze/ReduceSum with input tensors
MAX_OPSET = onnx.defs.onnx_opset_version()


class ExportError(MlcError):
    """The graph cannot be written as ONNX (an op without an ONNX equivalent, a bad opset…)."""


ONNX_DTYPE: dict[DType, int] = {d: helper.np_dtype_to_tensor_dtype(d.numpy) for d in DType}

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _Emitter:
    """Collects ONNX nodes and initializers, maps mlc values to unique ONNX names."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.value_info: list[onnx.ValueInfoProto] = []
        self.used: set[str] = set()
        self.names: dict[int, str] = {}  # id(Value) -> ONNX name

    # -- names ----------------------------------------------------------------------------
    def fresh(self, base: str, *, verbatim: bool = False) -> str:
        """A name not used yet in the model; ``verbatim`` keeps ``base`` as is when it is free."""
        if not verbatim or not base:
            base = re.sub(r"[^A-Za-z0-9_]", "_", base or "t")
            if not _IDENT.match(base):
                base = "v" + base
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    def name_of(self, value: Value) -> str:
        try:
            return self.names[id(value)]
        except KeyError:
            raise ExportError(f"value %{value.name} is used before it is defined",
                              hint="run mlc.verify(graph) to find the broken node") from None

    def bind(self, value: Value, name: str) -> str:
        self.names[id(value)] = name
        return name

    # -- emission -------------------------------------------------------------------------
    def const(self, array, base: str = "c") -> str:
        """Add an initializer and return its name."""
        name = self.fresh(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(array, order="C"), name))
        return name

    def ints(self, values: Sequence[int], base: str) -> str:
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1), base)

    def node(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str] | int = 1,
             **attrs: Any) -> list[str]:
        """Emit one ONNX node; ``outputs`` is a list of names or a count of fresh temporaries.
        Trailing omitted inputs ("") are dropped, which is how ONNX reads them anyway."""
        if isinstance(outputs, int):
            outputs = [self.fresh(op_type.lower()) for _ in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        inputs = list(inputs)
        while inputs and inputs[-1] == "":
            inputs.pop()
        self.nodes.append(helper.make_node(op_type, inputs, list(outputs),
                                           name=self.fresh(f"{op_type}_node"), **attrs))
        return list(outputs)


# An exporter receives the emitter, the node, its inputs' ONNX names ("" for an omitted optional
# input) and its outputs' ONNX names, and emits nodes that define exactly those outputs.
Exporter = Callable[[_Emitter, Node, list[str], list[str]], None]
EXPORTERS: Registry[Exporter] = Registry("ONNX exporter")


def _simple(onnx_op: str, *same: str, **renamed: str | Callable[[Node], Any]) -> Exporter:
    """A one-to-one op: ``same`` are attributes ONNX spells as the core op does; ``renamed`` maps
    an ONNX attribute to a core attribute's name or to a function of the node. Tuples and bools
    need no conversion: ONNX writes them as INTS/FLOATS and INT attributes."""

    def export(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
        attrs = {k: node.attrs[k] for k in same}
        attrs.update({k: (f(node) if callable(f) else node.attrs[f]) for k, f in renamed.items()})
        em.node(onnx_op, ins, outs, **attrs)

    return export


def _ints_input(onnx_op: str, onnx_input: str, core_attr: str, *same: str) -> Exporter:
    """An op whose core attribute ``core_attr`` is ONNX's int64 input ``onnx_input`` (Reshape's
    shape, Tile's repeats …); ``same`` are attributes both spell alike."""

    def export(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
        em.node(onnx_op, [ins[0], em.ints(node.attrs[core_attr], f"{outs[0]}_{onnx_input}")], outs,
                **{k: node.attrs[k] for k in same})

    return export


def _kernel_shape(node: Node) -> tuple[int, ...]:
    return node.inputs[1].shape[2:]


for _core, _export in {
    "dropout": _simple("Identity"),  # inference dropout
    "cast": _simple("Cast", to=lambda n: ONNX_DTYPE[n.attrs["to"]]),
    "batch_norm": _simple("BatchNormalization", "epsilon"),
    "gemm": _simple("Gemm", "alpha", "beta", transA="trans_a", transB="trans_b"),
    "transpose": _simple("Transpose", "perm"),
    "conv2d": _simple("Conv", "strides", "pads", "dilations", "group", kernel_shape=_kernel_shape),
    "conv2d_transpose": _simple("ConvTranspose", "strides", "pads", "dilations", "group",
                                "output_padding", kernel_shape=_kernel_shape),
    "max_pool2d": _simple("MaxPool", "strides", "pads", "dilations", "ceil_mode",
                          kernel_shape="kernel"),
    "avg_pool2d": _simple("AveragePool", "strides", "pads", "ceil_mode", "count_include_pad",
                          kernel_shape="kernel"),
    "expand": _ints_input("Expand", "shape", "shape"),
    "tile": _ints_input("Tile", "repeats", "repeats"),
    "split": _ints_input("Split", "split", "sizes", "axis"),
}.items():
    EXPORTERS.add(_core, _export)


@EXPORTERS.register("reshape")
def _reshape(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
    """Core reshape's shape is literal; in ONNX a 0 copies the input's dim unless ``allowzero``."""
    shape = node.attrs["shape"]
    attrs = {}
    if 0 in shape:
        if em.opset < 14:
            raise ExportError(f"reshape to {list(shape)} (an empty dim) needs opset 14 or later",
                              hint="export with opset=14 or higher")
        attrs["allowzero"] = 1
    em.node("Reshape", [ins[0], em.ints(shape, f"{outs[0]}_shape")], outs, **attrs)


@EXPORTERS.register("clip")
def _clip(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
    x = node.inputs[0]
    dt = x.dtype.numpy
    bounds = []
    for key in ("min", "max"):
        v = node.attrs[key]
        unbounded = v is None or math.isinf(v) and (v < 0) == (key == "min")
        if unbounded or math.isinf(v) and np.issubdtype(dt, np.integer):
            bounds.append("")
            continue
        if np.issubdtype(dt, np.integer):
            info = np.iinfo(dt)
            v = min(max(math.ceil(v) if key == "min" else math.floor(v), info.min), info.max)
        bounds.append(em.const(np.asarray(v, dtype=dt), f"{outs[0]}_{key}"))
    em.node("Clip", [ins[0], *bounds], outs)


@EXPORTERS.register("hard_swish")
def _hard_swish(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
    if em.opset >= 14:
        em.node("HardSwish", ins, outs)
    else:
        gate = em.node("HardSigmoid", ins, alpha=1.0 / 6.0, beta=0.5)
        em.node("Mul", [ins[0], *gate], outs)


@EXPORTERS.register("silu")
def _silu(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
    em.node("Mul", [ins[0], *em.node("Sigmoid", ins)], outs)  # ONNX has no SiLU before Swish-24


@EXPORTERS.register("gelu")
def _gelu(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
    approximate = node.attrs["approximate"]
    if em.opset >= 20:
        em.node("Gelu", ins, outs, approximate=approximate)
        return
    dt = node.inputs[0].dtype.numpy
    x = ins[0]

    def c(v: float) -> str:
        return em.const(np.asarray(v, dtype=dt), "gelu_c")

    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = em.node("Mul", [x, *em.node("Mul", [x, x])])
        inner = em.node("Add", [x, *em.node("Mul", [*cube, c(0.044715)])])
        t = em.node("Tanh", em.node("Mul", [*inner, c(math.sqrt(2.0 / math.pi))]))
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        t = em.node("Erf", em.node("Mul", [x, c(1.0 / math.sqrt(2.0))]))
    half_x = em.node("Mul", [x, c(0.5)])
    em.node("Mul", [*half_x, *em.node("Add", [*t, c(1.0)])], outs)


def _reduce(onnx_op: str) -> Exporter:
    def export(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
        axes = list(node.attrs["axes"])
        keepdims = int(node.attrs["keepdims"])
        axes_as_input = em.opset >= 18 or onnx_op == "ReduceSum"
        if not axes:  # () = every axis, ONNX's meaning of omitted axes
            em.node(onnx_op, ins, outs, keepdims=keepdims)
        elif axes_as_input:
            em.node(onnx_op, [ins[0], em.ints(axes, f"{outs[0]}_axes")], outs, keepdims=keepdims)
        else:
            em.node(onnx_op, ins, outs, axes=axes, keepdims=keepdims)

    return export


for _core in ("reduce_mean", "reduce_sum", "reduce_max", "reduce_min"):
    EXPORTERS.add(_core, _reduce(all_ops()[_core].onnx[0]))


@EXPORTERS.register("layer_norm")
def _layer_norm(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
    axis, eps = node.attrs["axis"], node.attrs["epsilon"]
    if em.opset >= 17:
        em.node("LayerNormalization", ins, outs, axis=axis, epsilon=eps)
        return
    x = node.inputs[0]
    rank = len(x.shape)
    axes = list(range(axis % rank, rank))
    dt = x.dtype.numpy
    mean = em.node("ReduceMean", [ins[0]], axes=axes, keepdims=1)
    d = em.node("Sub", [ins[0], *mean])
    var = em.node("ReduceMean", em.node("Mul", [*d, *d]), axes=axes, keepdims=1)
    std = em.node("Sqrt", em.node("Add", [*var, em.const(np.asarray(eps, dtype=dt), "eps")]))
    normed = em.node("Div", [*d, *std])
    if len(ins) > 2 and ins[2]:
        scaled = em.node("Mul", [*normed, ins[1]])
        em.node("Add", [*scaled, ins[2]], outs)
    else:
        em.node("Mul", [*normed, ins[1]], outs)


@EXPORTERS.register("slice")
def _slice(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
    # The core op's end = -1 with a negative step means "through index 0"; ONNX reads -1 as the
    # last index, so that case becomes INT64_MIN, which ONNX clamps to "before index 0".
    ends = [np.iinfo(np.int64).min if step < 0 and end == -1 else end
            for end, step in zip(node.attrs["ends"], node.attrs["steps"])]
    base = outs[0]
    em.node("Slice", [ins[0], em.ints(node.attrs["starts"], f"{base}_starts"),
                      em.ints(ends, f"{base}_ends"), em.ints(node.attrs["axes"], f"{base}_axes"),
                      em.ints(node.attrs["steps"], f"{base}_steps")], outs)


@EXPORTERS.register("pad")
def _pad(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
    mode = node.attrs["mode"]
    if mode == "wrap" and em.opset < 19:
        raise ExportError(f"pad mode 'wrap' (node %{node.outputs[0].name}) needs ONNX opset 19",
                          hint="export with opset=19 or later")
    inputs = [ins[0], em.ints(node.attrs["pads"], f"{outs[0]}_pads")]
    if mode == "constant":
        inputs.append(em.const(np.asarray(node.attrs["value"]).astype(node.inputs[0].dtype.numpy),
                               f"{outs[0]}_value"))
    em.node("Pad", inputs, outs, mode=mode)


@EXPORTERS.register("resize")
def _resize(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
    a = node.attrs
    x = node.inputs[0]
    size, scales = list(a["size"]), list(a.get("scales") or ())
    # Coordinate transforms use the scales when ONNX gave them, so export scales unless they are
    # exactly size/in (then sizes say the same thing without float rounding of the output shape).
    implied = [s / d if d else 1.0 for s, d in zip(size, x.shape)]
    use_scales = bool(scales) and not np.allclose(np.float32(scales), np.float32(implied), rtol=0,
                                                  atol=0)
    roi = ""
    if a["coordinate_transformation_mode"] == "tf_crop_and_resize":
        roi = em.const(np.asarray(a["roi"], dtype=np.float32), f"{outs[0]}_roi")
    if use_scales:
        inputs = [roi, em.const(np.asarray(scales, dtype=np.float32), f"{outs[0]}_scales")]
    else:
        inputs = [roi, "", em.ints(size, f"{outs[0]}_sizes")]
    em.node("Resize", [ins[0], *inputs], outs, mode=a["mode"],
            coordinate_transformation_mode=a["coordinate_transformation_mode"],
            nearest_mode=a["nearest_mode"], cubic_coeff_a=a["cubic_coeff_a"],
            exclude_outside=int(a["exclude_outside"]), extrapolation_value=a["extrapolation_value"])


def _qparams(em: _Emitter, node: Node, zp_dtype: DType, base: str) -> list[str]:
    scale = np.asarray(node.attrs["scale"], dtype=np.float32)
    zero = np.asarray(node.attrs["zero_point"]).astype(zp_dtype.numpy)
    if scale.size == 1:
        scale, zero = scale.reshape(()), zero.reshape(())
    return [em.const(scale, f"{base}_scale"), em.const(zero, f"{base}_zero_point")]


@EXPORTERS.register("quantize")
def _quantize(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
    x = ins[0]
    if node.inputs[0].dtype != DType.float32:  # ONNX wants the scale's type (f32) for x
        x = em.node("Cast", [x], to=TensorProto.FLOAT)[0]
    em.node("QuantizeLinear", [x, *_qparams(em, node, node.attrs["dtype"], outs[0])], outs,
            axis=node.attrs["axis"])


@EXPORTERS.register("dequantize")
def _dequantize(em: _Emitter, node: Node, ins: list[str], outs: list[str]) -> None:
    em.node("DequantizeLinear", [ins[0], *_qparams(em, node, node.inputs[0].dtype, outs[0])], outs,
            axis=node.attrs["axis"])


# The rest are the ops whose ONNX twin takes the same inputs and attributes (see onnx_twin).
for _op in all_ops().values():
    if onnx_twin(_op) is not None and _op.name not in EXPORTERS:
        EXPORTERS.add(_op.name, _simple(onnx_twin(_op), *_op.attrs))


# -- graph walk ---------------------------------------------------------------------------------
def _value_info(name: str, value: Value) -> onnx.ValueInfoProto:
    dims = [d if isinstance(d, int) else str(d) for d in value.shape]
    return helper.make_tensor_value_info(name, ONNX_DTYPE[value.dtype], dims)


def _emit_constants(em: _Emitter, graph: Graph) -> None:
    for value in graph.constants.values():
        em.bind(value, em.const(value.const, value.name))


def _emit_nodes(em: _Emitter, graph: Graph) -> None:
    for node in graph.nodes:
        ins = ["" if v is None else em.name_of(v) for v in node.inputs]
        if node.op == "fused":
            _inline(em, node, ins)
            continue
        export = EXPORTERS.get(node.op)
        if export is None:
            raise ExportError(f"op {node.op} has no ONNX equivalent, so the graph cannot be "
                              f"exported (node %{node.outputs[0].name})",
                              hint="export before the pass that introduced it, or use mlc's "
                                   "textual IR (.mlc) instead")
        outs = [em.names.get(id(v)) or em.bind(v, em.fresh(v.name)) for v in node.outputs]
        em.value_info.extend(_value_info(name, v) for name, v in zip(outs, node.outputs))
        export(em, node, ins, outs)


def _inline(em: _Emitter, node: Node, ins: list[str]) -> None:
    """Emit a fused node's body in place: body inputs alias the node's input names."""
    body = node.body
    for inner, outer in zip(body.inputs, ins):
        em.bind(inner, outer)
    _emit_constants(em, body)
    _emit_nodes(em, body)
    for outer, inner in zip(node.outputs, body.outputs):
        if id(outer) in em.names:  # a graph output whose name is reserved
            em.node("Identity", [em.name_of(inner)], [em.names[id(outer)]])
        else:
            em.bind(outer, em.name_of(inner))


def to_onnx(graph: Graph, opset: int = 17) -> onnx.ModelProto:
    """Write ``graph`` as an ONNX model (default domain, ``opset``) that onnxruntime can run."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(f"cannot export to opset {opset}",
                          hint=f"choose an opset between {MIN_OPSET} and {MAX_OPSET}")
    em = _Emitter(opset)
    inputs = []
    for value in graph.inputs:
        name = em.bind(value, em.fresh(value.name, verbatim=True))
        inputs.append(_value_info(name, value))
    # Outputs computed by a node keep their names: reserve them before anything else is named.
    for value in graph.outputs:
        if value.producer is not None and id(value) not in em.names:
            em.bind(value, em.fresh(value.name, verbatim=True))
    _emit_constants(em, graph)
    _emit_nodes(em, graph)

    outputs, seen = [], set()
    for value in graph.outputs:
        name = em.name_of(value)
        if value.producer is None or name in seen:
            # A graph input, a constant or a repeated output: ONNX wants every output defined
            # once, by a node, under a name of its own.
            target = em.fresh(f"{value.name}_out", verbatim=True)
            em.node("Identity", [name], [target])
            name = target
        seen.add(name)
        outputs.append(_value_info(name, value))

    output_set = {o.name for o in outputs}
    value_info = [vi for vi in em.value_info if vi.name not in output_set]
    name = graph.name if _IDENT.match(graph.name or "") else "main"
    onnx_graph = helper.make_graph(em.nodes, name, inputs, outputs,
                                   initializer=em.initializers, value_info=value_info)
    opset_ids = [helper.make_opsetid("", opset)]
    return helper.make_model(onnx_graph, opset_imports=opset_ids, producer_name="mlc",
                             ir_version=helper.find_min_ir_version_for(opset_ids))


def export_onnx(graph: Graph, path: str | os.PathLike, opset: int = 17) -> None:
    """Write ``graph`` to ``path`` as ONNX (checked by onnx.checker before it is written)."""
    model = to_onnx(graph, opset)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"the exported model does not pass onnx.checker: {exc}",
                          hint="this is a bug in mlc's exporter; please report it") from exc
    onnx.save(model, os.fspath(path))
