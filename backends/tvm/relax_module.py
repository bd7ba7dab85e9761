"""mlc's optimised graph → one Relax function whose every compute node is one ``call_tir``.

Each top-level node (a ``fused`` group or a lone op) becomes one PrimFunc made from the TE
computes of its members (``ops/``), so TVM compiles exactly the kernels mlc's fusion chose; the
module is never passed through TVM's own FuseOps. A lone ``reshape`` is a Relax reshape (a view
at run time, no kernel). Weights are Relax constants bound into the module; a constant with a
single element, or none, is folded into the kernels that read it instead (an empty one has
nothing to read, and TVM 0.27 cannot load one back from ``model.so``: see ``_folded``). Names
come from the model file, so the PrimFunc names that reach generated code are sanitized first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from tvm import relax, te

from mlc.backends.names import NameTable
from mlc.errors import UnsupportedOpError
from mlc.ir import Graph
from mlc.ir.graph import Node, Value

from .ops import TE_OPS
from .ops.common import const, tvm_dtype

VIEW_OPS = frozenset({"reshape"})


@dataclass
class Group:
    """One top-level node of the graph (its index and name) and the PrimFunc that computes it
    (None for a view)."""

    index: int
    name: str
    ops: list[str]
    primfunc: str | None


@dataclass
class RelaxProgram:
    module: object  # tvm.IRModule
    groups: list[Group] = field(default_factory=list)

    @property
    def kernel_groups(self) -> list[Group]:
        return [g for g in self.groups if g.primfunc is not None]


def check_supported(graph: Graph) -> None:
    """Every op the TVM targets cannot compute, listed at once."""
    missing = Counter(inner.op for node in graph.nodes for inner in _members(node)
                      if inner.op not in TE_OPS)
    if missing:
        listed = ", ".join(f"{op} ({n}×)" for op, n in sorted(missing.items()))
        raise UnsupportedOpError(f"the TVM targets have no compute for: {listed}",
                                 hint="compile for llvm or c instead, or see docs/ops.md")


def to_relax(graph: Graph) -> RelaxProgram:
    """The Relax module ``main(*inputs) -> (outputs…)`` for an optimised ``graph``."""
    check_supported(graph)
    bb = relax.BlockBuilder()
    names = NameTable()
    params = [relax.Var(names.prefixed(v.name, "in_"), _tensor_type(v)) for v in graph.inputs]
    exprs: dict[int, relax.Expr] = {id(v): p for v, p in zip(graph.inputs, params)}
    groups: list[Group] = []
    with bb.function("main", params):
        with bb.dataflow():
            for index, node in enumerate(graph.nodes):
                groups.append(_emit_node(bb, index, node, exprs, names))
            outputs = [_output(bb, v, exprs) for v in graph.outputs]
            result = bb.emit_output(relax.Tuple(outputs))
        bb.emit_func_output(result)
    return RelaxProgram(bb.get(), groups)


def _emit_node(bb, index: int, node: Node, exprs: dict, names: NameTable) -> Group:
    members = _members(node)
    name = node.name or (node.body.name if node.body is not None else node.op)
    label = names.prefixed(name, "k_")
    # Relax's reshape reads a 0 in the target shape as "keep this dim": empty tensors take
    # the TE compute instead
    if node.body is None and node.op in VIEW_OPS and node.outputs[0].type.numel > 0:
        out = node.outputs[0]
        exprs[id(out)] = bb.emit(relax.op.reshape(_expr(node.inputs[0], exprs),
                                                  [int(d) for d in out.shape]))
        return Group(index, name, [node.op], None)
    outer = [v for v in node.inputs if v is not None]
    body_inputs = node.body.inputs if node.body is not None else outer
    body_outputs = node.body.outputs if node.body is not None else node.outputs
    # What the TE function reads, as (outer value, the body's name for it): the node's inputs,
    # then any constant a body holds itself.
    sources = list(zip(outer, body_inputs))
    seen = {id(inner) for _, inner in sources}
    for inner in members:
        for v in inner.inputs:
            if v is not None and v.is_const and id(v) not in seen:
                seen.add(id(v))
                sources.append((v, v))
    tensor_sources = [(o, i) for o, i in sources if not _folded(o)]

    def compute(*placeholders):
        values: dict[int, te.Tensor] = {
            id(inner): placeholder for (_, inner), placeholder in zip(tensor_sources, placeholders)}
        for value, inner in sources:
            if _folded(value):
                values[id(inner)] = _folded_tensor(value)
        for inner in members:
            args = [None if v is None else values[id(v)] for v in inner.inputs]
            results = TE_OPS[inner.op](inner, args)
            results = results if isinstance(results, (tuple, list)) else (results,)
            for value, tensor in zip(inner.outputs, results):
                values[id(value)] = tensor
        produced = [values[id(v)] for v in body_outputs]
        return produced[0] if len(produced) == 1 else produced

    call = bb.emit_te(compute, *[_expr(o, exprs) for o, _ in tensor_sources],
                      primfunc_name_hint=label)
    # emit_te names the PrimFunc after the hint, or reuses an equal one another group made
    primfunc = bb.lookup_binding(call).args[0].name_hint
    if len(node.outputs) == 1:
        exprs[id(node.outputs[0])] = call
    else:
        for k, value in enumerate(node.outputs):
            exprs[id(value)] = bb.emit(relax.TupleGetItem(call, k))
    return Group(index, name, [m.op for m in members], primfunc)


def _members(node: Node) -> list[Node]:
    """The ops a top-level node computes: a fused group's body, else the node itself."""
    return node.body.nodes if node.body is not None else [node]


def _folded(value: Value) -> bool:
    """Whether a constant is computed inside the kernels instead of bound into the module: one
    with a single element, or with none — TVM 0.27's Tensor::Load accepts the zero-byte read of
    an empty tensor only when its first dim is 0, so a bound f32[1, 0] made model.so fail to
    load ("Invalid DLTensor file format")."""
    return value.is_const and int(np.prod(value.shape, dtype=np.int64)) <= 1


def _folded_tensor(value: Value) -> te.Tensor:
    """A folded constant as a TE compute (its one element; an empty one has none to read)."""
    flat = np.asarray(value.const).reshape(-1)
    item = flat[0] if flat.size else 0
    dtype = tvm_dtype(value.dtype)
    return te.compute(value.shape, lambda *i: const(item, dtype), name="scalar")


def _output(bb, value: Value, exprs: dict) -> relax.Expr:
    """A graph output: an empty constant is made by a kernel, not bound (see ``_folded``)."""
    if value.is_const and value.type.numel == 0:
        return bb.emit_te(lambda: _folded_tensor(value), primfunc_name_hint="k_empty")
    return _expr(value, exprs)


def _expr(value: Value, exprs: dict) -> relax.Expr:
    if id(value) in exprs:
        return exprs[id(value)]
    if value.is_const:
        array = np.array(value.const, order="C")  # ascontiguousarray makes 0-d arrays 1-d
        exprs[id(value)] = relax.const(array, tvm_dtype(value.dtype))
        return exprs[id(value)]
    raise KeyError(f"value {value.name!r} is used before it is computed")


def _tensor_type(value: Value):
    return relax.TensorType(shape=[int(d) for d in value.shape], dtype=tvm_dtype(value.dtype))
