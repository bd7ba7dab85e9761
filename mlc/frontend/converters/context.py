"""What a converter works with: the import context (emits core ops, folds shape arithmetic) and a
view of one ONNX node (inputs as Values, decoded attributes, constant inputs as arrays).

Folding lives in :meth:`ImportContext.emit`, so every converter gets it for free: a core op whose
inputs are all constants and whose results are integer or bool tensors is evaluated with the
registry's kernel and becomes a constant (that is how Shape → Gather → Concat → Reshape chains
disappear). Float ops on constants stay nodes (the fold-constants pass owns them), but small
results are still computed on the side (``known``) so that a shape input computed in float —
``Cast(Shape) * 2.0`` feeding Resize — can be read at import; such nodes die in the final DCE.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import onnx
from onnx import numpy_helper

from mlc.errors import ModelLoadError, ShapeError, UnsupportedOpError
from mlc.ir import DType, Graph, Value
from mlc.ops import get_op

from ..budget import BudgetMeter
from ..errors import NeedsConstantError, UnsupportedTypeError

#: Integer/bool results up to this many elements are folded at import; larger ones stay nodes.
FOLD_LIMIT = 1 << 22
#: Float results up to this many elements are also computed on the side, for shape inputs.
KNOWN_LIMIT = 4096

_MISSING = object()


def onnx_dtype(elem_type: int, what: str) -> DType:
    """The IR dtype of an ONNX TensorProto element type, or UnsupportedTypeError naming ``what``."""
    try:
        return DType.from_numpy(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        name = onnx.TensorProto.DataType.Name(elem_type) if elem_type in \
            onnx.TensorProto.DataType.values() else str(elem_type)
        raise UnsupportedTypeError(f"{what} has element type {name}, which mlc does not support",
                                   hint="supported: " + ", ".join(d.name for d in DType)) from None


def tensor_to_array(tensor: onnx.TensorProto, what: str) -> np.ndarray:
    """Decode a TensorProto (data already inline; see loader.load_external_data)."""
    onnx_dtype(tensor.data_type, what)
    try:
        return numpy_helper.to_array(tensor)
    except Exception as exc:
        reason = " ".join(str(exc).split())
        raise ModelLoadError(f"{what}: malformed tensor data ({reason})") from None


def _no_subgraphs(graph: onnx.GraphProto) -> list[Value]:
    raise UnsupportedOpError("subgraphs cannot be imported here")


class ImportContext:
    """The graph under construction and the map from ONNX tensor names to IR values."""

    def __init__(self, graph: Graph, initializers: dict[str, onnx.TensorProto],
                 consumed: set[str], meter: BudgetMeter | None = None):
        self.graph = graph
        self.meter = meter or BudgetMeter()
        self.label = "the model"  # the node being converted, as errors name it
        self.env: dict[str, Value] = {}
        self.initializers = initializers
        self.consumed = consumed  # ONNX names read by some node or listed as a graph output
        self.known: dict[int, np.ndarray] = {}
        self.prefix = "t"  # base name of the intermediate values of the node being converted
        self.fresh: set[int] = set()  # values created while converting the current node
        #: converts a subgraph's nodes into this graph and returns its outputs (set by the
        #: importer, which owns node conversion; used by If to inline the branch it takes)
        self.inline: Callable[[onnx.GraphProto], list[Value]] = _no_subgraphs

    # -- values ---------------------------------------------------------------------------
    def value(self, name: str) -> Value:
        if name in self.env:
            return self.env[name]
        if name in self.initializers:
            array = tensor_to_array(self.initializers[name], f"initializer '{name}'")
            self.env[name] = self.graph.add_constant(array, name=name)
            return self.env[name]
        raise ModelLoadError(f"tensor '{name}' is read before anything defines it")

    def const(self, array: Any, dtype: DType | str | None = None, name: str | None = None) -> Value:
        arr = np.asarray(array, dtype=None if dtype is None else DType.parse(dtype).numpy)
        value = self.graph.add_constant(arr, name=name or f"{self.prefix}.c")
        self.fresh.add(id(value))
        return value

    def array_of(self, value: Value) -> np.ndarray | None:
        """The value's array when it is known at import (a constant or a small folded result)."""
        return value.const if value.const is not None else self.known.get(id(value))

    # -- emitting core ops ------------------------------------------------------------------
    def emit(self, op: str, *inputs: Value | None, **attrs: Any) -> Value:
        """Apply a one-output core op (folded when it is shape arithmetic on constants)."""
        outputs = self.emit_multi(op, list(inputs), attrs)
        assert len(outputs) == 1, f"{op} has {len(outputs)} outputs"
        return outputs[0]

    def emit_multi(self, op: str, inputs: Sequence[Value | None],
                   attrs: dict[str, Any]) -> list[Value]:
        """Apply a core op and return its outputs: constants when it folds, else a new node's."""
        opdef = get_op(op)
        attrs = opdef.normalize_attrs(attrs)
        types = opdef.infer_types([None if v is None else v.type for v in inputs], attrs)
        arrays = [None if v is None else self.array_of(v) for v in inputs]
        base = f"{self.prefix}.{op}"
        if all(v.is_const for v in inputs if v is not None) and all(
                (t.dtype.is_int or t.dtype is DType.bool) and t.numel <= FOLD_LIMIT for t in types):
            for t in types:  # each result is a tensor of its own dtype, charged before compute
                self.charge(t.numel, t.dtype)
            return [self.const(r, name=base) for r in self._compute(opdef, arrays, attrs, types)]
        node = self.graph.add_node(op, list(inputs), attrs, output_types=types,
                                   output_names=[base] * len(types))
        self.fresh.update(id(v) for v in node.outputs)
        if all(a is not None for a, v in zip(arrays, inputs) if v is not None) and all(
                t.numel <= KNOWN_LIMIT for t in types):
            try:
                results = self._compute(opdef, arrays, attrs, types)
            except Exception:  # only a convenience for shape inputs; the node itself stays valid
                results = []
            for out, result in zip(node.outputs, results):
                self.known[id(out)] = result
        return list(node.outputs)

    def charge(self, count: int, dtype: DType) -> None:
        """Account for ``count`` elements of ``dtype`` the current node is about to create."""
        self.meter.charge(count * dtype.itemsize, self.label)

    @staticmethod
    def _compute(opdef, arrays, attrs, types) -> list[np.ndarray]:
        out = []
        for result, t in zip(opdef.compute(arrays, attrs), types):
            result = np.asarray(result).astype(t.dtype.numpy, copy=False)
            if result.shape != tuple(t.shape):
                raise AssertionError(f"{opdef.name} kernel gave shape {result.shape}, "
                                     f"type inference {t}")
            out.append(result)
        return out

    # -- helpers converters share ---------------------------------------------------------
    def reshape(self, x: Value, shape: Sequence[int]) -> Value:
        """A reshape; a constant is reshaped directly (a view, not a computation)."""
        shape = tuple(int(d) for d in shape)
        if tuple(x.shape) == shape:
            return x
        if x.is_const:
            return self.const(x.const.reshape(shape), name=f"{x.name}.reshaped")
        return self.emit("reshape", x, shape=shape)


class NodeView:
    """One ONNX node as a converter sees it."""

    def __init__(self, ctx: ImportContext, proto: onnx.NodeProto, opset: int):
        self.ctx = ctx
        self.proto = proto
        self.op_type = proto.op_type
        self.opset = opset
        self._attrs = {a.name: a for a in proto.attribute}

    @property
    def label(self) -> str:
        name = self.proto.name or (self.proto.output[0] if self.proto.output else "?")
        return f"{self.op_type} node '{name}'"

    # -- inputs ---------------------------------------------------------------------------
    def has_input(self, i: int) -> bool:
        return i < len(self.proto.input) and self.proto.input[i] != ""

    def input(self, i: int) -> Value | None:
        return self.ctx.value(self.proto.input[i]) if self.has_input(i) else None

    def inputs(self) -> list[Value]:
        return [self.ctx.value(name) for name in self.proto.input if name]

    def const(self, i: int, default: Any = _MISSING) -> np.ndarray:
        """The array of input ``i``, which must be known at import (it defines a shape/attr)."""
        if not self.has_input(i):
            if default is _MISSING:
                raise self.error(f"input {i} is required")
            return default
        value = self.input(i)
        array = self.ctx.array_of(value)
        if array is not None:
            return array
        name = self.proto.input[i]
        why = "but mlc needs its value at import (it defines a shape or an attribute)"
        if any(v is value for v in self.ctx.graph.inputs):
            raise NeedsConstantError([name], f"{self.label}: input {i} ('{name}') is a graph input, "
                                             + why)
        raise ShapeError(f"{self.label}: input {i} ('{name}') is computed at run time, {why}",
                         hint="specialise symbolic dims with --shape name=1,3,224,224 so shape "
                              "arithmetic folds, or make the input constant")

    def ints(self, i: int, default: Any = _MISSING) -> Any:
        """Input ``i`` as a list of Python ints (``default`` when the input is absent)."""
        if not self.has_input(i) and default is not _MISSING:
            return default
        return [int(v) for v in np.asarray(self.const(i)).reshape(-1)]

    # -- attributes -----------------------------------------------------------------------
    def has_attr(self, name: str) -> bool:
        return name in self._attrs

    def attr(self, name: str, default: Any = None) -> Any:
        if name not in self._attrs:
            return default
        value = onnx.helper.get_attribute_value(self._attrs[name])
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if isinstance(value, onnx.TensorProto):
            return tensor_to_array(value, f"{self.label}: attribute {name}")
        if isinstance(value, list):
            return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
        return value

    # -- outputs ---------------------------------------------------------------------------
    @property
    def num_outputs(self) -> int:
        return len(self.proto.output)

    def out(self, i: int) -> str:
        return self.proto.output[i] if i < len(self.proto.output) else ""

    def used(self, i: int) -> bool:
        name = self.out(i)
        return bool(name) and name in self.ctx.consumed

    def only_first_output(self, what: str) -> None:
        """Refuse the node if an output other than the first is read by anyone."""
        for i in range(1, self.num_outputs):
            if self.used(i):
                raise UnsupportedOpError(f"{self.label}: output {i} ('{self.out(i)}', {what}) is "
                                         "used, but mlc supports only the first output",
                                         hint="export the model without using that output")

    def error(self, message: str, hint: str | None = None) -> UnsupportedOpError:
        return UnsupportedOpError(f"{self.label}: {message}", hint=hint)
