"""The ONNX import driver: checks, specialisation, conversion node by node, clean-up, verify.

Order matters for the user: everything that can be said about a model before converting it is
said first and all at once (every unsupported op with its count; every graph input that would
have to be constant), so a user fixes a model in one round rather than one error at a time.
"""

from __future__ import annotations

import os
from collections import Counter
from functools import lru_cache, partial
from typing import Mapping, Sequence

import numpy as np
import onnx
import onnx.defs

from mlc.errors import MlcError, ModelLoadError, ShapeError, UnsupportedOpError
from mlc.ir import Graph, Value, remove_unused, verify
from mlc.ops import OpError

from . import loader, specialize
from .budget import BudgetMeter, ImportBudget
from .converters import CONVERTERS, MAX_OPSET
from .converters.context import ImportContext, NodeView
from .errors import NeedsConstantError

DEFAULT_DOMAINS = ("", "ai.onnx")


def load_onnx(path: str | os.PathLike, shapes: Mapping[str, Sequence[int]] | None = None, *,
              budget: ImportBudget | None = None) -> Graph:
    """Read an ONNX file safely and import it (symbolic dims specialised from ``shapes``)."""
    path = os.fspath(path)
    model = loader.read_model(path)
    try:
        return import_model(model, shapes, base_dir=os.path.dirname(os.path.abspath(path)),
                            origin=path, budget=budget)
    except ModelLoadError as err:
        if path in err.message:
            raise
        raise ModelLoadError(f"{path}: {err.message}", hint=err.hint) from None


def import_model(model: onnx.ModelProto, shapes: Mapping[str, Sequence[int]] | None = None,
                 base_dir: str | None = None, bind: Mapping[str, np.ndarray] | None = None,
                 *, origin: str | None = None, budget: ImportBudget | None = None) -> Graph:
    """Convert a ModelProto into a verified, static IR graph.

    ``bind`` turns the named graph inputs into constants (for inputs that must be known at
    import, e.g. a Reshape's shape fed as an input in the ONNX node tests). ``budget`` bounds
    the data import creates (folding, ConstantOfShape); see :mod:`mlc.frontend.budget`."""
    origin = origin or (model.graph.name and f"model '{model.graph.name}'") or "model"
    loader.check_structure(model, origin)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in loader.iter_tensors(model.graph)):
        copy = onnx.ModelProto()
        copy.CopyFrom(model)  # external data is filled in; leave the caller's proto untouched
        model = copy
    loader.load_external_data(model, base_dir, origin)
    graph = model.graph
    opset = default_opset(model, origin)
    check_ops(graph.node, opset)
    check_attribute_types(graph.node, opset)
    if len(graph.sparse_initializer):
        raise UnsupportedOpError("sparse initializers are not supported")

    initializers = {t.name: t for t in graph.initializer}
    bind = dict(bind or {})
    inputs = [i for i in graph.input if i.name not in initializers]
    specialize.check_names("bind", bind, sorted(i.name for i in inputs))
    real_inputs = [i for i in inputs if i.name not in bind]
    check_single_assignment(graph)
    nodes = sorted_nodes(graph, {i.name for i in graph.input} | set(initializers))
    missing = needed_constants(nodes, {i.name for i in real_inputs})
    if missing:
        raise NeedsConstantError(missing)
    types = specialize.input_types(real_inputs, shapes)

    result = Graph(graph.name or "main")
    consumed = {name for node in nodes for name in node_reads(node)}
    consumed |= {o.name for o in graph.output}
    ctx = ImportContext(result, initializers, consumed, BudgetMeter(budget))
    ctx.inline = partial(_inline, ctx, opset=opset)
    for info in inputs:
        if info.name in bind:
            ctx.env[info.name] = _bound(result, info, bind[info.name])
        else:
            ctx.env[info.name] = result.add_input(info.name, types[info.name])
    for proto in nodes:
        convert_node(ctx, proto, opset)
    _set_outputs(ctx, [o.name for o in graph.output])
    remove_unused(result)  # shape arithmetic folding left behind, ONNX outputs nobody reads
    verify(result)
    return result


# -- checks before conversion -------------------------------------------------------------------
def default_opset(model: onnx.ModelProto, origin: str) -> int:
    for entry in model.opset_import:
        if entry.domain in DEFAULT_DOMAINS:
            return int(entry.version)
    if any(n.domain in DEFAULT_DOMAINS for n in model.graph.node):
        raise ModelLoadError(f"{origin}: the model imports no version of the default ONNX domain")
    return MAX_OPSET


@lru_cache(maxsize=None)
def resolve_version(op_type: str, opset: int) -> tuple[int, frozenset[str]] | None:
    """The since-version of ``op_type`` at ``opset`` that a converter must handle.

    Opsets above MAX_OPSET are accepted when the newer schema keeps the inputs, outputs and
    attributes of the MAX_OPSET one (most bumps only add element types); attributes it adds are
    returned so that a node that sets them can be refused. None: no such op at that opset."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, "")
    except Exception:
        return None
    if schema.since_version <= MAX_OPSET:
        return schema.since_version, frozenset()
    try:
        old = onnx.defs.get_schema(op_type, MAX_OPSET, "")
    except Exception:
        return None
    if [i.name for i in old.inputs] != [i.name for i in schema.inputs] or \
            [o.name for o in old.outputs] != [o.name for o in schema.outputs] or \
            not set(old.attributes) <= set(schema.attributes):
        return None
    return old.since_version, frozenset(set(schema.attributes) - set(old.attributes))


def _problem(node: onnx.NodeProto, opset: int) -> str | None:
    """How ``node`` is unsupported (the key it is counted under), or None."""
    if node.domain not in DEFAULT_DOMAINS:
        return f"{node.domain}.{node.op_type}"
    conv = CONVERTERS.get(node.op_type)
    if conv is None:
        return node.op_type
    resolved = resolve_version(node.op_type, opset)
    if resolved is None or not conv.handles(resolved[0]):
        return f"{node.op_type} (opset {opset})"
    newer = sorted(resolved[1] & {a.name for a in node.attribute})
    if newer:
        return f"{node.op_type} (opset {opset}, attribute {', '.join(newer)})"
    return None


def check_ops(nodes: Sequence[onnx.NodeProto], opset: int) -> None:
    """Raise one UnsupportedOpError listing every unsupported op of the graph with its count."""
    problems = Counter(p for p in (_problem(n, opset) for n in nodes) if p is not None)
    if problems:
        listed = ", ".join(f"{key} ×{count}" for key, count in sorted(problems.items()))
        raise UnsupportedOpError(f"unsupported ONNX ops: {listed}",
                                 hint="see `mlc ops` for what is supported")


def check_attribute_types(nodes: Sequence[onnx.NodeProto], opset: int) -> None:
    """Refuse an attribute whose type is not the one its op's schema declares (a float ``perm``
    would otherwise be truncated to ints, and the model would silently compute something else)."""
    for node in nodes:
        try:
            declared = onnx.defs.get_schema(node.op_type, opset, node.domain).attributes
        except Exception:  # check_ops has refused every op without a schema
            continue
        for attr in node.attribute:
            spec = declared.get(attr.name)
            if spec is None or int(spec.type.value) == attr.type:
                continue
            names = onnx.AttributeProto.AttributeType
            given = names.Name(attr.type) if attr.type in names.values() else str(attr.type)
            raise ModelLoadError(f"{_label(node)}: attribute "
                                 f"'{attr.name}' is {given}, its schema declares "
                                 f"{names.Name(int(spec.type.value))}",
                                 hint="re-export the model; ONNX's checker refuses it too")


def check_single_assignment(graph: onnx.GraphProto) -> None:
    """Refuse a tensor defined twice (by two nodes, or by a node and a graph input or
    initializer): ONNX graphs are in SSA form, and importing one would let the last writer win."""
    first: dict[str, str] = {}
    for name in [*(i.name for i in graph.input), *(t.name for t in graph.initializer)]:
        first.setdefault(name, "the graph's inputs")
    for node in graph.node:
        label = _label(node)
        for name in node.output:
            if not name:
                continue
            if name in first:
                raise ModelLoadError(f"tensor '{name}' is defined twice: by {first[name]} and "
                                     f"by {label}", hint="ONNX graphs define each tensor once "
                                                         "(SSA); the model is malformed")
            first[name] = label


def _label(node: onnx.NodeProto) -> str:
    """How errors name a node: its name, else its first output (a hostile node may have none)."""
    return f"{node.op_type} node '{node.name or next(iter(node.output), '?')}'"


def _bound(graph: Graph, info: onnx.ValueInfoProto, array) -> Value:
    dtype = specialize.onnx_dtype(info.type.tensor_type.elem_type, f"input '{info.name}'")
    array = np.asarray(array, dtype=dtype.numpy)
    dims = specialize.declared_dims(info)
    if dims is not None and (len(dims) != array.ndim or any(
            isinstance(d, int) and d != s for d, s in zip(dims, array.shape))):
        raise ShapeError(f"bound value for input '{info.name}' has shape {list(array.shape)}, "
                         f"the model declares {dims}")
    return graph.add_constant(array, name=info.name)


def sorted_nodes(graph: onnx.GraphProto, defined: set[str]) -> list[onnx.NodeProto]:
    """The graph's nodes in a topological order (ONNX requires one, not every exporter obeys)."""
    nodes = list(graph.node)
    available = set(defined) | {""}
    for node in nodes:
        if not all(name in available for name in node_reads(node)):
            break
        available.update(node.output)
    else:
        return nodes
    producer = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    for node in nodes:
        for name in node_reads(node):
            if name not in defined and name not in producer:
                raise ModelLoadError(f"node '{node.name or node.op_type}' reads tensor '{name}', "
                                     "which no node, input or initializer defines")
    order: list[onnx.NodeProto] = []
    state: dict[int, int] = {}  # 1 = visiting, 2 = done
    for root in range(len(nodes)):
        if root in state:
            continue
        stack = [(root, iter(node_reads(nodes[root])))]  # depth-first, without recursion
        state[root] = 1
        while stack:
            index, pending = stack[-1]
            for name in pending:
                j = producer.get(name) if name not in defined else None
                if j is None or state.get(j) == 2:
                    continue
                if state.get(j) == 1:
                    raise ModelLoadError(f"the graph has a cycle through tensor '{name}'")
                state[j] = 1
                stack.append((j, iter(node_reads(nodes[j]))))
                break
            else:
                stack.pop()
                state[index] = 2
                order.append(nodes[index])
    return order


def node_reads(node: onnx.NodeProto) -> list[str]:
    """The tensors ``node`` reads: its inputs, and what its subgraphs (If's branches) read from
    the enclosing scope, which ONNX lets them name without listing them as inputs."""
    names = [name for name in node.input if name]
    for graph in _subgraphs(node):
        local = {i.name for i in graph.input} | {t.name for t in graph.initializer}
        local |= {out for inner in graph.node for out in inner.output}
        names += [name for inner in graph.node for name in node_reads(inner) if name not in local]
        names += [o.name for o in graph.output if o.name not in local]
    return names


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    return [g for a in node.attribute
            for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else a.graphs)]


def needed_constants(nodes: Sequence[onnx.NodeProto], graph_inputs: set[str]) -> list[str]:
    """Graph inputs whose values reach a shape-defining input (other than through Shape/Size)."""
    producer = {out: node for node in nodes for out in node.output if out}
    roots = [node.input[i] for node in nodes if node.op_type in CONVERTERS
             for i in CONVERTERS[node.op_type].const_inputs if i < len(node.input)]
    needed: list[str] = []
    seen: set[str] = set()
    stack = roots[::-1]  # popped in order: each root is traced to the end before the next
    while stack:
        current = stack.pop()
        if not current or current in seen:
            continue
        seen.add(current)
        if current in graph_inputs:
            needed.append(current)
        elif current in producer and producer[current].op_type not in ("Shape", "Size"):
            stack.extend(producer[current].input)
    return needed


# -- conversion ---------------------------------------------------------------------------------
def convert_node(ctx: ImportContext, proto: onnx.NodeProto, opset: int) -> None:
    n = NodeView(ctx, proto, opset)
    ctx.prefix = next((o for o in proto.output if o), proto.name or proto.op_type)
    ctx.label = n.label
    ctx.fresh = set()
    try:
        result = CONVERTERS[proto.op_type].fn(ctx, n)
    except OpError as err:
        raise ShapeError(f"{n.label}: {err.one_line()}") from err
    except MlcError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{n.label}: cannot import it ({type(exc).__name__}: {exc})") from exc
    results = [result] if isinstance(result, Value) else list(result)
    for i, name in enumerate(proto.output):
        if not name:
            continue
        value = results[i] if i < len(results) else None
        if value is None:
            if n.used(i):
                raise n.error(f"output {i} ('{name}') is used, but mlc supports only the first")
            continue
        if id(value) in ctx.fresh and value.name != name:
            ctx.graph.rename(value, name)
        ctx.env[name] = value


def _inline(ctx: ImportContext, graph: onnx.GraphProto, *, opset: int) -> list[Value]:
    """Convert a subgraph's nodes into the graph being built and return its outputs. Names are
    unique across an ONNX model (a subgraph may not shadow an outer name), which is what lets
    the subgraph share ``ctx.env`` with the graph around it."""
    check_ops(graph.node, opset)
    check_attribute_types(graph.node, opset)
    outer = set(ctx.env) | set(ctx.initializers)
    defined = [t.name for t in graph.initializer] + [o for n in graph.node for o in n.output if o]
    shadowed = sorted(set(defined) & outer)
    if shadowed or graph.input:
        what = f"redefines outer tensor '{shadowed[0]}'" if shadowed else "has inputs"
        raise ModelLoadError(f"subgraph '{graph.name}' {what}, which ONNX does not allow here")
    ctx.initializers.update({t.name: t for t in graph.initializer})
    ctx.consumed |= {name for node in graph.node for name in node_reads(node)}
    ctx.consumed |= {o.name for o in graph.output}
    for proto in sorted_nodes(graph, outer | {t.name for t in graph.initializer}):
        convert_node(ctx, proto, opset)
    return [ctx.value(o.name) for o in graph.output]


def _set_outputs(ctx: ImportContext, names: list[str]) -> None:
    """Graph outputs keep their ONNX names exactly: users read results by name."""
    graph = ctx.graph
    outputs: list[Value] = []
    for name in names:
        value = ctx.value(name)
        if any(v is value for v in outputs):  # one value listed twice needs a second name
            ctx.prefix = name
            value = ctx.emit("identity", value)
        if value.name != name:
            holder = next((v for v in graph.values() if v.name == name), None)
            if holder is not None:
                graph.rename(holder, f"{name}.renamed")
            graph.rename(value, name)
        outputs.append(value)
    graph.outputs = outputs


def supported_onnx_ops() -> dict[str, tuple[int, ...]]:
    """ONNX op type → the since-versions (1..MAX_OPSET) whose semantics the importer handles."""
    return {op: conv.versions for op, conv in sorted(CONVERTERS.items())}
