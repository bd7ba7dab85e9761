"""GraphBuilder: write graphs as calls, in tests, passes' rewrite patterns and the model zoo.

    b = GraphBuilder("mlp")
    x = b.input("x", (1, 64))
    h = b.relu(b.matmul(x, b.const(w)))       # any registered op is a method
    y, = b.outputs(b.add(h, b.const(bias)))
    graph = b.graph

Each call infers output types from the registry and returns a Value, or a tuple of Values for an
op with several outputs.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .dtypes import DType
from .graph import Graph, Node, Value
from .op_registry import get_op
from .types import TensorType


class OpMethods:
    """Makes every registered op a method of a class with ``op(name, *inputs, **kwargs)``:
    ``b.relu(x)`` is ``b.op("relu", x)`` (GraphBuilder, and the rewriter's PatternBuilder)."""

    def __getattr__(self, op: str):
        if op.startswith("_"):
            raise AttributeError(op)
        get_op(op)  # fail early with the registry's message for a misspelt op
        return functools.partial(self.op, op)


class GraphBuilder(OpMethods):
    def __init__(self, name: str = "main", graph: Graph | None = None,
                 insert_before: Node | None = None):
        self.graph = graph if graph is not None else Graph(name)
        self.insert_before = insert_before

    def input(self, name: str, shape, dtype: DType | str = DType.float32) -> Value:
        return self.graph.add_input(name, TensorType(shape, dtype))

    def const(self, array, name: str | None = None, dtype=None) -> Value:
        return self.graph.add_constant(np.asarray(array) if dtype is None else array, name=name,
                                       dtype=dtype)

    def op(self, op: str, *inputs: Value | None, name: str | None = None,
           output_names=None, **attrs: Any) -> Value | tuple[Value, ...]:
        """Apply ``op``; returns its output Value (or a tuple when it has several)."""
        node = self.node(op, *inputs, name=name, output_names=output_names, **attrs)
        return node.outputs[0] if len(node.outputs) == 1 else tuple(node.outputs)

    def node(self, op: str, *inputs: Value | None, name: str | None = None, output_names=None,
             body: Graph | None = None, **attrs: Any) -> Node:
        index = None
        if self.insert_before is not None:
            index = self.graph.node_index(self.insert_before)
        return self.graph.add_node(op, list(inputs), attrs, name=name, output_names=output_names,
                                   body=body, index=index)

    def outputs(self, *values: Value) -> tuple[Value, ...]:
        self.graph.outputs = list(values)
        return values
