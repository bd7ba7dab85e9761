"""fuse: group nodes into ``fused`` nodes by their ops' fusion kinds alone, as TVM's FuseOps does.

The pass never looks at op names, only at ``get_op(op).fusion``, so a newly registered op fuses
correctly from its declaration. Groups form in three phases, the first claiming nodes first:

1. every conv/matmul/gemm (OUT_ELEMWISE_FUSABLE) absorbs the elementwise/broadcast consumers that
   follow it — bias add, activation, residual add, clip, scale. The residual's other operand
   becomes a group input; nothing upstream of the conv joins its group;
2. every reduction (reduce_*, softmax, norms, pools) absorbs the elementwise/broadcast producers
   before it and the elementwise/broadcast consumers after it;
3. the remaining elementwise/broadcast/injective nodes fuse into chains.

Groups have exactly one output (a value read outside the group or returned by the graph). A value
with users in two groups, or a graph output, therefore ends a group. One output keeps the pass
simple and guarantees no cycles: every member reaches the group's output, so a path leaving the
group and coming back would be a cycle in the original graph. ``_has_outside_path`` still checks
each merge by reachability, as a guard that states the rule in code.

A group becomes one ``fused`` node whose body is a sub-graph: its parameters correspond 1:1 to the
node's inputs (constants too — a body holds no constants of its own) and it yields the node's one
output. The node keeps the group's output name and the last member's ``loc``, so printed IR and
error messages still point at the model's own names. Groups of one node stay plain nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlc.ir import Graph, Node, Value
from mlc.ops import FusionKind, get_op

from .base import Pass, register_pass

ELEMENTWISE = frozenset({FusionKind.ELEMWISE, FusionKind.BROADCAST})
CHAIN = ELEMENTWISE | {FusionKind.INJECTIVE}
ANCHORS = frozenset({FusionKind.OUT_ELEMWISE_FUSABLE, FusionKind.REDUCTION})
CLOSURE_ROUNDS = 8  # how far a consumer diamond (x * sigmoid(x)) is followed to its join


@register_pass("fuse")
@dataclass
class Fuse(Pass):
    """Group conv/matmul epilogues, elementwise chains and reductions into fused nodes."""

    max_group: int = 64  # most nodes in one group
    fuse_reductions: bool = True  # let reductions (softmax, pools, norms) take elementwise neighbours

    def run(self, graph: Graph) -> bool:
        groups = _Grouper(graph, max(1, self.max_group), self.fuse_reductions).groups()
        for members in groups:
            _materialize(graph, members)
        return bool(groups)


def kind(node: Node) -> FusionKind:
    return get_op(node.op).fusion


def escapes(members: list[Node]) -> list[Value]:
    """Values a group of ``members`` must output: read outside it or returned by the graph."""
    inside = {id(n) for n in members}
    return [v for n in members for v in n.outputs
            if v.is_graph_output or any(id(u) not in inside for u in v.users)]


class _Grouper:
    """Decides the groups on the unchanged graph; ``_materialize`` rewrites it afterwards."""

    def __init__(self, graph: Graph, max_group: int, fuse_reductions: bool):
        self.graph = graph
        self.max_group = max_group
        self.fuse_reductions = fuse_reductions
        self.position = {id(n): i for i, n in enumerate(graph.nodes)}
        self.claimed: set[int] = set()  # ids of nodes already in a group (of one or more)
        self.members: list[list[Node]] = []

    def groups(self) -> list[list[Node]]:
        nodes = self.graph.nodes
        for node in nodes:
            if kind(node) is FusionKind.OUT_ELEMWISE_FUSABLE:
                self.claim(self.grow_down([node]))
        if self.fuse_reductions:
            for node in nodes:
                if kind(node) is FusionKind.REDUCTION and self.free(node):
                    group = self.grow_down(self.grow_up([node], ELEMENTWISE))
                    self.claim(self.grow_up(group, ELEMENTWISE))  # producers of the epilogue too
        for node in reversed(nodes):
            if kind(node) in CHAIN and self.free(node):
                self.claim(self.grow_up([node], CHAIN))
        return [sorted(m, key=lambda n: self.position[id(n)]) for m in self.members if len(m) > 1]

    # -- bookkeeping --------------------------------------------------------------------------
    def free(self, node: Node) -> bool:
        return id(node) not in self.claimed

    def claim(self, members: list[Node]) -> None:
        self.members.append(members)
        self.claimed.update(id(n) for n in members)

    def acceptable(self, members: list[Node]) -> bool:
        """One output, at most ``max_group`` nodes, compatible kinds, and no cycle through outside."""
        if len(members) > self.max_group or len(escapes(members)) != 1:
            return False
        if any(not any(v.users or v.is_graph_output for v in n.outputs) for n in members):
            return False  # a dead member would not reach the output; dce removes it instead
        anchors = [n for n in members if kind(n) in ANCHORS]
        if len(anchors) > 1:
            return False
        if anchors:
            anchor = anchors[0]
            if any(kind(n) not in ELEMENTWISE for n in members if n is not anchor):
                return False
            inside = {id(n) for n in members}
            if kind(anchor) is FusionKind.OUT_ELEMWISE_FUSABLE and any(
                    v is not None and v.producer is not None and id(v.producer) in inside
                    for v in anchor.inputs):
                return False  # a conv takes no prologue: its inputs come from outside the group
        elif any(kind(n) not in CHAIN for n in members):
            return False
        return not self._has_outside_path(members)

    def _has_outside_path(self, members: list[Node]) -> bool:
        """Is there a path member → outside node(s) → member? (Fusing would make a cycle.)"""
        inside = {id(n) for n in members}
        last = max(self.position[id(n)] for n in members)
        stack = [u for n in members for v in n.outputs for u in v.users if id(u) not in inside]
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if id(node) in seen or self.position.get(id(node), last + 1) > last:
                continue  # nodes after the group's last member cannot lead back into it
            seen.add(id(node))
            for v in node.outputs:
                for user in v.users:
                    if id(user) in inside:
                        return True
                    stack.append(user)
        return False

    # -- growth -------------------------------------------------------------------------------
    def grow_up(self, members: list[Node], allowed: frozenset) -> list[Node]:
        """Absorb free producers of ``allowed`` kinds whose outputs are read only by the group."""
        changed = True
        while changed:
            changed = False
            for member in list(members):
                if kind(member) is FusionKind.OUT_ELEMWISE_FUSABLE:
                    continue
                for value in member.inputs:
                    producer = None if value is None else value.producer
                    if producer is None or not self.free(producer) or producer in members \
                            or kind(producer) not in allowed:
                        continue
                    candidate = members + [producer]
                    if self.acceptable(candidate):
                        members, changed = candidate, True
        return members

    def grow_down(self, members: list[Node]) -> list[Node]:
        """Absorb the elementwise consumers of the group's output, following diamonds to their join."""
        while True:
            escaping = escapes(members)
            if len(escaping) != 1 or escaping[0].is_graph_output:
                return members
            out = escaping[0]
            grown = self._consumer_closure(members, out)
            if grown is None:
                return members
            members = grown

    def _consumer_closure(self, members: list[Node], out: Value) -> list[Node] | None:
        """Consumers, added breadth-first, after which the group again has one output (or None).

        ``out`` is the group's output now; every reader of it must join. Then the readers of each
        new escaping value join, round by round, until the values meet again (a diamond such as
        ``x * sigmoid(x)`` or an unrecognised GELU) or ``CLOSURE_ROUNDS`` runs out.
        """
        frontier = out.users
        if not frontier or any(not self.fusable_consumer(u) for u in frontier):
            return None
        added: list[Node] = []
        for _ in range(CLOSURE_ROUNDS):
            added += [u for u in frontier if u not in added]
            candidate = members + added
            if self.acceptable(candidate):
                return candidate
            if len(candidate) >= self.max_group:
                return None
            frontier = [u for v in escapes(candidate) for u in v.users
                        if u not in candidate and self.fusable_consumer(u)]
            frontier = list({id(u): u for u in frontier}.values())
            if not frontier:
                return None
        return None

    def fusable_consumer(self, node: Node) -> bool:
        return self.free(node) and kind(node) in ELEMENTWISE


def _body_name(members: list[Node]) -> str:
    ops = [n.op for n in members]
    return "_".join(ops) if len(ops) <= 4 else "_".join(ops[:3]) + f"_and_{len(ops) - 3}_more"


def _materialize(graph: Graph, members: list[Node]) -> Node:
    """Replace ``members`` (in topological order) by one fused node at the last member's place."""
    inside = {id(n) for n in members}
    body = Graph(_body_name(members))
    outer_inputs: list[Value] = []
    mapping: dict[int, Value] = {}
    for node in members:
        for value in node.inputs:
            if value is None or id(value) in mapping:
                continue
            if value.producer is None or id(value.producer) not in inside:
                outer_inputs.append(value)
                mapping[id(value)] = body.add_input(value.name, value.type)
        inner = body.add_node(node.op, [None if v is None else mapping[id(v)] for v in node.inputs],
                              node.attrs, output_types=[v.type for v in node.outputs],
                              output_names=[v.name for v in node.outputs], name=node.name)
        for old, new in zip(node.outputs, inner.outputs):
            mapping[id(old)] = new
    (result,) = escapes(members)
    body.outputs = [mapping[id(result)]]

    root = members[-1]
    fused = graph.add_node("fused", outer_inputs, {}, output_types=[result.type], body=body,
                           name=root.name, index=graph.node_index(root))
    name = result.name
    result.replace_all_uses_with(fused.output)
    for node in reversed(members):
        graph.remove_node(node)
    graph.rename(fused.output, name)
    return fused
