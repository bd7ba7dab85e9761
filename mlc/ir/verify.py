"""The verifier: SSA, topological order, registry-consistent types, no dangling uses.

Errors show the offending node in IR text so the reader sees exactly what is wrong.
"""

from __future__ import annotations

from mlc.errors import MlcError, VerifyError

from .graph import Graph, Node, Use, Value
from .printer import print_node  # never raises: a broken node prints as best it can


def _fail(graph: Graph, node: Node | None, message: str) -> VerifyError:
    message += f" in graph @{graph.name}"
    return VerifyError(message if node is None else f"{message}:\n  {print_node(node)}")


def _ref(value: Value) -> str:
    return f"{'@' if value.is_const else '%'}{value.name}"


def verify(graph: Graph) -> None:
    """Raise VerifyError on the first broken invariant.

    Linear in nodes plus uses: a weight read by 50 000 nodes is checked through one set of its
    uses, built once, not by scanning its use-list at every reader (this runs after every pass).
    """
    defined: set[int] = set()
    names: dict[str, Value] = {}
    listed: dict[int, set[Use]] = {}  # id(value) -> its use-list as a set, built on first read

    def define(value: Value, node: Node | None) -> None:
        if value.name in names and names[value.name] is not value:
            raise _fail(graph, node, f"value name %{value.name} is defined twice (SSA)")
        if id(value) in defined:
            raise _fail(graph, node, f"value %{value.name} is defined twice (SSA)")
        if value.graph is not graph:
            raise _fail(graph, node, f"value %{value.name} belongs to another graph")
        names[value.name] = value
        defined.add(id(value))

    for value in graph.inputs:
        if value.producer is not None or value.is_const:
            raise _fail(graph, None, f"graph input %{value.name} has a producer or a constant")
        define(value, None)
    for name, value in graph.constants.items():
        if value.const is None or value.name != name:
            raise _fail(graph, None, f"constant @{name} is not registered under its own name")
        define(value, None)

    node_ids = {id(n) for n in graph.nodes}
    for node in graph.nodes:
        if node.graph is not graph:
            raise _fail(graph, node, "node is not attached to this graph")
        for index, value in enumerate(node.inputs):
            if value is None:
                continue
            if id(value) not in defined:
                where = "later" if value.producer is not None and id(value.producer) in node_ids \
                    else "nowhere in this graph"
                raise _fail(graph, node, f"input %{value.name} is used before it is defined "
                                         f"(defined {where}; nodes must be in topological order)")
            uses = listed.get(id(value))
            if uses is None:
                uses = listed[id(value)] = set(value._uses)
            if Use(node, index) not in uses:
                raise _fail(graph, node, f"use of {_ref(value)} is missing from its use-list")
        for out in node.outputs:
            if out.producer is not node:
                raise _fail(graph, node, f"output %{out.name} names another producer")
            define(out, node)
        _check_types(graph, node)
        if node.body is not None:
            _check_body(graph, node)

    for value in names.values():
        _check_listed_uses(graph, value, node_ids)
    for value in graph.outputs:
        if id(value) not in defined:
            raise _fail(graph, None, f"graph output %{value.name} is not defined in the graph")


def _check_listed_uses(graph: Graph, value: Value, node_ids: set[int]) -> None:
    """Every entry of the use-list is a real read, listed once (a duplicate would outlive the
    read it names when that read is removed)."""
    seen: set[Use] = set()
    for use in value._uses:
        reads = use.node._inputs
        if id(use.node) not in node_ids or not 0 <= use.index < len(reads) \
                or reads[use.index] is not value:
            raise _fail(graph, use.node,
                        f"{_ref(value)} lists a use by a node that does not read it")
        if use in seen:
            raise _fail(graph, use.node, f"{_ref(value)} lists the same use twice")
        seen.add(use)


def _check_types(graph: Graph, node: Node) -> None:
    try:
        opdef = node.opdef
        attrs = opdef.normalize_attrs(node.attrs)
        expected = opdef.infer_types([None if v is None else v.type for v in node.inputs], attrs,
                                     body=node.body)
    except MlcError as err:
        raise _fail(graph, node, err.one_line()) from None
    actual = [o.type for o in node.outputs]
    if expected != actual:
        raise _fail(graph, node, "output types " + ", ".join(map(str, actual))
                    + " disagree with the registry's " + ", ".join(map(str, expected)))


def _check_body(graph: Graph, node: Node) -> None:
    body = node.body
    assert body is not None
    outer = [v.type for v in node.inputs if v is not None]
    inner = [v.type for v in body.inputs]
    if outer != inner:
        raise _fail(graph, node, "fused body inputs " + ", ".join(map(str, inner))
                    + " do not match the node's inputs " + ", ".join(map(str, outer)))
    verify(body)
