"""Graph, Node and Value: the mutable graph IR that passes rewrite.

Use-lists maintain themselves: assigning a node's inputs (``node.inputs = ...``,
``node.set_input(i, v)``) or calling ``value.replace_all_uses_with(other)`` updates every
producer's user list, so a pass never fixes them by hand (the torch.fx rule).
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from .dtypes import DType
from .op_registry import get_op
from .types import TensorType


class Use(NamedTuple):
    node: Node
    index: int


class Value:
    """An SSA value: a graph input, a constant (``const`` holds its array) or a node output."""

    __slots__ = ("name", "type", "producer", "const", "graph", "_uses")

    def __init__(self, name: str, type: TensorType, producer: Node | None = None,
                 const: np.ndarray | None = None):
        self.name = name
        self.type = type
        self.producer = producer
        self.const = const
        self.graph: Graph | None = None
        self._uses: list[Use] = []

    @property
    def shape(self) -> tuple:
        return self.type.shape

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    @property
    def is_const(self) -> bool:
        return self.const is not None

    @property
    def uses(self) -> tuple[Use, ...]:
        return tuple(self._uses)

    @property
    def users(self) -> list[Node]:
        """Distinct nodes that read this value, in first-use order."""
        seen: dict[int, Node] = {}
        for use in self._uses:
            seen.setdefault(id(use.node), use.node)
        return list(seen.values())

    @property
    def is_graph_output(self) -> bool:
        return self.graph is not None and any(o is self for o in self.graph.outputs)

    def replace_all_uses_with(self, new: Value) -> None:
        """Make every reader of this value (nodes and graph outputs) read ``new`` instead."""
        if new is self:
            return
        for use in list(self._uses):
            use.node.set_input(use.index, new)
        if self.graph is not None:
            self.graph.outputs = [new if o is self else o for o in self.graph.outputs]

    def __repr__(self) -> str:
        sigil = "@" if self.is_const else "%"
        return f"<Value {sigil}{self.name}: {self.type}>"


class Node:
    """One op application. ``inputs`` may contain ``None`` for an omitted optional input."""

    __slots__ = ("op", "attrs", "name", "_inputs", "outputs", "body", "graph")

    def __init__(self, op: str, inputs: Sequence[Value | None], outputs: Sequence[Value],
                 attrs: dict[str, Any] | None = None, name: str | None = None,
                 body: Graph | None = None):
        self.op = op
        self.attrs: dict[str, Any] = dict(attrs or {})
        self.name = name
        self._inputs: list[Value | None] = []
        self.outputs: list[Value] = list(outputs)
        self.body = body
        self.graph: Graph | None = None
        for out in self.outputs:
            out.producer = self
        self.inputs = inputs

    @property
    def inputs(self) -> tuple[Value | None, ...]:
        return tuple(self._inputs)

    @inputs.setter
    def inputs(self, values: Sequence[Value | None]) -> None:
        self._drop_uses()
        self._inputs = list(values)
        for i, v in enumerate(self._inputs):
            if v is not None:
                v._uses.append(Use(self, i))

    def set_input(self, index: int, value: Value | None) -> None:
        old = self._inputs[index]
        if old is not None:
            old._uses.remove(Use(self, index))
        self._inputs[index] = value
        if value is not None:
            value._uses.append(Use(self, index))

    def _drop_uses(self) -> None:
        for i, v in enumerate(self._inputs):
            if v is not None:
                v._uses.remove(Use(self, i))

    @property
    def output(self) -> Value:
        """The single output of a one-output node."""
        if len(self.outputs) != 1:
            raise ValueError(f"{self.op} has {len(self.outputs)} outputs")
        return self.outputs[0]

    @property
    def opdef(self):
        return get_op(self.op)

    def __repr__(self) -> str:
        ins = ", ".join("_" if v is None else v.name for v in self._inputs)
        outs = ", ".join(v.name for v in self.outputs)
        return f"<Node {outs} = {self.op}({ins})>"


class Graph:
    """A topologically ordered list of nodes with named inputs, outputs and constants."""

    def __init__(self, name: str = "main"):
        self.name = name
        self.inputs: list[Value] = []
        self._outputs: list[Value] = []
        self.nodes: list[Node] = []
        self.constants: dict[str, Value] = {}
        self._names: set[str] = set()
        self._counter = itertools.count()

    # -- naming ---------------------------------------------------------------------------
    def unique_name(self, base: str | None = None) -> str:
        """``base`` if unused in this graph, else ``base_1``, ``base_2``…; a fresh number if None."""
        if base and base not in self._names:
            return base
        fresh = (f"{base}_{k}" for k in itertools.count(1)) if base else map(str, self._counter)
        return next(name for name in fresh if name not in self._names)

    def _claim(self, value: Value) -> Value:
        value.name = self.unique_name(value.name)
        self._names.add(value.name)
        value.graph = self
        return value

    def rename(self, value: Value, new_name: str) -> None:
        self._names.discard(value.name)
        if value.is_const:
            self.constants.pop(value.name, None)
        value.name = self.unique_name(new_name)
        self._names.add(value.name)
        if value.is_const:
            self.constants[value.name] = value

    # -- construction ---------------------------------------------------------------------
    def add_input(self, name: str, type: TensorType) -> Value:
        value = self._claim(Value(name, type))
        self.inputs.append(value)
        return value

    def remove_input(self, value: Value) -> None:
        """Drop an unread parameter (of a fused body: the owning node drops the matching input)."""
        if value._uses or value.is_graph_output:
            raise ValueError(f"cannot remove input {value.name}: still used")
        self.inputs.remove(value)
        self._names.discard(value.name)

    def add_constant(self, array, name: str | None = None, dtype=None) -> Value:
        arr = np.asarray(array, dtype=None if dtype is None else DType.parse(dtype).numpy)
        if arr.dtype == np.float64 and dtype is None and not isinstance(array, np.ndarray):
            arr = arr.astype(np.float32)  # Python floats default to f32, the IR's working type
        # A read-only view: the caller's array stays writeable, the graph's cannot be changed by
        # accident. (Not ascontiguousarray: it turns 0-d arrays into 1-d ones.)
        arr = np.asarray(arr, order="C").view()
        arr.flags.writeable = False
        value = self._claim(Value(name or "c", TensorType.of(arr), const=arr))
        self.constants[value.name] = value
        return value

    def add_node(self, op: str, inputs: Sequence[Value | None], attrs: dict[str, Any] | None = None,
                 *, output_types: Sequence[TensorType] | None = None,
                 output_names: Sequence[str | None] | None = None, name: str | None = None,
                 body: Graph | None = None, index: int | None = None) -> Node:
        """Create a node, infer its output types from the registry unless given, and insert it.

        Attributes are checked against the op's declaration and completed with defaults. The node
        goes at the end, or before position ``index`` of ``self.nodes``.
        """
        opdef = get_op(op)
        attrs = opdef.normalize_attrs(attrs or {})
        if output_types is None:
            output_types = opdef.infer_types([None if v is None else v.type for v in inputs], attrs,
                                             body=body)
        names = list(output_names or [])
        names += [None] * (len(output_types) - len(names))
        outputs = [self._claim(Value(n or "", t)) for n, t in zip(names, output_types)]
        node = Node(op, inputs, outputs, attrs, name=name, body=body)
        node.graph = self
        if index is None:
            self.nodes.append(node)
        else:
            self.nodes.insert(index, node)
        return node

    def remove_node(self, node: Node) -> None:
        """Remove a node whose outputs are no longer read."""
        for out in node.outputs:
            if out._uses or out.is_graph_output:
                raise ValueError(f"cannot remove {node!r}: output {out.name} is still used")
        node.inputs = []
        self.nodes.remove(node)
        node.graph = None
        for out in node.outputs:
            self._names.discard(out.name)

    def remove_constant(self, value: Value) -> None:
        if value._uses or value.is_graph_output:
            raise ValueError(f"cannot remove constant {value.name}: still used")
        del self.constants[value.name]
        self._names.discard(value.name)

    @property
    def outputs(self) -> list[Value]:
        return self._outputs

    @outputs.setter
    def outputs(self, values: Iterable[Value]) -> None:
        self._outputs = list(values)

    # -- queries ----------------------------------------------------------------------------
    def values(self) -> Iterator[Value]:
        """Every value defined in this graph: inputs, constants, node outputs."""
        yield from self.inputs
        yield from self.constants.values()
        for node in self.nodes:
            yield from node.outputs

    def node_index(self, node: Node) -> int:
        return self.nodes.index(node)

    def toposort(self) -> None:
        """Reorder nodes so every producer precedes its users, keeping the current order otherwise."""
        position = {id(n): i for i, n in enumerate(self.nodes)}
        done: set[int] = set()
        order: list[Node] = []
        visiting: set[int] = set()

        def visit(node: Node) -> None:
            if id(node) in done:
                return
            if id(node) in visiting:
                raise ValueError(f"cycle through {node!r}")
            visiting.add(id(node))
            for v in node.inputs:
                if v is not None and v.producer is not None and id(v.producer) in position:
                    visit(v.producer)
            visiting.discard(id(node))
            done.add(id(node))
            order.append(node)

        for node in list(self.nodes):
            visit(node)
        self.nodes = order

    def copy(self) -> Graph:
        """A structural deep copy; constant arrays are shared (they are read-only)."""
        from .clone import clone_graph

        return clone_graph(self)

    def __str__(self) -> str:
        from .printer import print_graph

        return print_graph(self)

    def __repr__(self) -> str:
        return f"<Graph @{self.name}: {len(self.inputs)} inputs, {len(self.nodes)} nodes>"
