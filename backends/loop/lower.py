"""Lowering: a graph node, or a ``fused`` node's whole group, to one loop-IR Kernel.

The group is lowered pull-style from its output. ``_Group.load(value, idx)`` asks for one element
of a value: a value from outside the group is a Load from a kernel parameter; a value made inside
is the producing op's compute expression at that index, so elementwise and injective producers
inline into their consumer's loads and the group becomes one loop nest over its output.

A group with a reduction anchor (reduce_*, softmax) is the anchor's own loop nest; the elementwise
ops after it run inside the anchor's ``store`` callback on the finished value (the epilogue), and
those before it inline into its loads. When the epilogue reads the anchor at another index (it
broadcasts the reduced value, e.g. ``x - reduce_max(x)``), the anchor is first written to a
scratch buffer and a second loop nest computes the epilogue from it.

That staged form also lowers every other group the IR allows (the ``fuse`` pass makes none of
them, but a fused node may come from text, a plugin pass or a test): several anchors, or an
anchor and several outputs. Each anchor, in order, fills a scratch buffer that later anchors and
the output nests read. A fused node nested in a body is lowered as part of the group (its body's
nodes join it), and a constant a body holds itself becomes a constant the kernel owns, so it
never meets a parameter of the same name from outside.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from mlc.errors import MlcError
from mlc.ir.dtypes import DType
from mlc.ir.graph import Graph, Node, Value

from . import ir
from .analysis import footprint
from .ir import Allocate, Buffer, Expr, For, Kernel, Stmt, Store
from .ops import COMPUTE, REDUCE, SCHEDULED, has_lowering
from .schedule import Schedules

Schedule = Callable[[Kernel], Kernel]


class LoweringError(MlcError):
    """A node (or an op inside a fused node) has no loop-IR lowering yet."""


def lower_node(node: Node, *, schedule: Schedule | None = None,
               schedules: Schedules | None = None) -> Kernel:
    """The kernel computing ``node`` (a plain node or a ``fused`` group).

    Parameters are the node's distinct non-scalar inputs (kind input, or const for constants,
    named after the values) then its outputs (kind output); one-element constants are inlined.
    ``schedule`` is the hook where schedules plug in: a function from the plain serial kernel to
    the scheduled one (tiled, vectorized, parallel, unrolled); a schedule changes how the loops
    run, never what they compute, so ``evaluate`` checks it against the unscheduled kernel.

    ``schedules`` (a target's ``Schedules``) turns on the scheduled lowerings: an anchor with an
    entry in ``ops.SCHEDULED`` (conv2d, matmul) is emitted by it (tiled, packed, vectorized,
    parallel) when it applies, and ``transform.schedule_loops`` then vectorizes and parallelizes
    the plain loop nests of the kernel. Without it the kernel is the plain serial reference.
    """
    aliases: dict[int, Value] = {}
    if node.body is not None:
        nodes = _flatten(node.body, aliases)
        outer = {id(inner): value for inner, value in zip(node.body.inputs, node.inputs)}
        outputs = list(zip(node.body.outputs, node.outputs))
    else:
        nodes = [node]
        outer = {id(v): v for v in node.inputs if v is not None}
        outputs = [(v, v) for v in node.outputs]
    missing = sorted({n.op for n in nodes if not has_lowering(n.op)})
    if missing:
        where = f" (in fused node %{node.outputs[0].name})" if node.body is not None else ""
        raise LoweringError(f"no loop-IR lowering for {', '.join(missing)} yet{where}",
                            hint="add its lowering to backends/loop/ops, or run the ref target")
    kernel = _Group(f"{node.op}_{node.outputs[0].name}", nodes, outer, outputs,
                    schedules, aliases).build()
    if schedules is not None:
        from .transform import schedule_loops

        kernel = schedule_loops(kernel, schedules)
    return schedule(kernel) if schedule is not None else kernel


def kernel_args(node: Node, feeds: dict[str, object] | None = None) -> dict[str, object]:
    """Arrays for a kernel's input parameters: constants from the graph, the rest from ``feeds``
    (value name → array). What a test or a backend binds before running the kernel.

    Only the node's own inputs are parameters: a constant inside a fused body is owned by the
    kernel (``Kernel.constants``). Body names live in their own scope, so binding those here by
    name would let a body constant replace an outside value that happens to share its name."""
    args = dict(feeds or {})
    for value in node.inputs:
        if value is not None and value.is_const:
            args[value.name] = value.const
    return args


def _flatten(body: Graph, aliases: dict[int, Value]) -> list[Node]:
    """``body``'s nodes in order, each nested fused node replaced by its own body's nodes.

    ``aliases`` learns, for every nested node, which value each of its body's parameters stands
    for and which body value each of its outputs is, so the group reads through the nesting."""
    nodes: list[Node] = []
    for node in body.nodes:
        if node.body is None:
            nodes.append(node)
            continue
        for param, value in zip(node.body.inputs, node.inputs):
            aliases[id(param)] = value
        for made, inner in zip(node.outputs, node.body.outputs):
            aliases[id(made)] = inner
        nodes += _flatten(node.body, aliases)
    return nodes


class _Fallback(Exception):
    """The epilogue reads the anchor at an index other than the one being stored."""


class _Group:
    def __init__(self, name: str, nodes: Sequence[Node], outer: dict[int, Value],
                 outputs: list[tuple[Value, Value]], schedules: Schedules | None = None,
                 aliases: dict[int, Value] | None = None):
        self.name = name
        self.schedules = schedules
        self.members = {id(n) for n in nodes}
        self.nodes = nodes
        self.outer = outer
        self.aliases = aliases or {}
        self.outputs = [(self.resolve(inner), o) for inner, o in outputs]
        self.params: dict[str, Buffer] = {}
        self.scalars: dict[str, Expr] = {}
        for value in outer.values():
            self._bind(value)
        self.out_buffers = [Buffer(o.name, o.dtype, o.shape, "output") for _, o in outputs]
        self.owned: dict[str, bytes] = {}
        self.held: dict[int, Expr | Buffer] = {}  # constants a body holds itself, by identity
        self.scratch_names: set[str] = set()
        self.counters: dict[str, int] = {}
        self.cache: dict[tuple[int, tuple[Expr, ...]], Expr] = {}
        self.anchor: Node | None = None
        self.staged: dict[int, Buffer] = {}  # anchor output → the scratch buffer holding it
        self.override: tuple[tuple[Expr, ...], Expr] | None = None

    def resolve(self, value: Value) -> Value:
        """``value`` as this group sees it: a nested fused node's output is the value its body
        yields, and a nested body's parameter is the value bound to it."""
        while id(value) in self.aliases:
            value = self.aliases[id(value)]
        return value

    def source(self, value: Value) -> Value:
        """The value ``value`` reads from: the node's input bound to it when it is a parameter of
        the group (so a lowering can see that it is a graph constant), else itself."""
        value = self.resolve(value)
        return self.outer.get(id(value), value)

    def _taken(self, name: str) -> bool:
        return (name in self.params or name in self.scalars or name in self.scratch_names
                or any(b.name == name for b in self.out_buffers))

    def _bind(self, value: Value) -> Expr | Buffer:
        """The parameter (or inlined scalar) for a value from outside the group."""
        if value.name not in self.params and value.name not in self.scalars:
            if value.is_const and value.const.size == 1:
                self.scalars[value.name] = ir.const(value.const.reshape(-1)[0].item(), value.dtype)
            else:
                kind = "const" if value.is_const else "input"
                self.params[value.name] = Buffer(value.name, value.dtype, value.shape, kind)
        return self.scalars.get(value.name) or self.params[value.name]

    # -- the API per-op lowerings use ---------------------------------------------------------
    def constant(self, name: str, array: np.ndarray) -> Buffer:
        """A const param holding ``array``, owned by the kernel (a table made from attributes)."""
        array = np.ascontiguousarray(array)
        while self._taken(name):
            if name in self.params and self.owned.get(name) == array.tobytes() \
                    and self.params[name].dtype == DType.from_numpy(array.dtype) \
                    and self.params[name].shape == array.shape:
                return self.params[name]  # the same table, asked for again
            name += "_"
        self.params[name] = Buffer(name, DType.from_numpy(array.dtype), array.shape, "const")
        self.owned[name] = array.tobytes()
        return self.params[name]

    def var(self, prefix: str = "i") -> ir.Var:
        n = self.counters.get(prefix, 0)
        self.counters[prefix] = n + 1
        return ir.Var(f"{prefix}{n}")

    def local(self, prefix: str, dtype) -> ir.Var:
        return ir.Var(self.var(prefix).name, dtype)

    def loop(self, extent: int, body: Callable[[Expr], Stmt], prefix: str = "r") -> Stmt:
        """``for v in 0..extent: body(v)``; an extent of 1 is no loop, just body(0)."""
        if extent == 1:
            return body(ir.const(0))
        var = self.var(prefix)
        return For(var, ir.const(0), ir.const(extent), body(var))

    def loop_nest(self, shape: Sequence[int], body: Callable[[tuple[Expr, ...]], Stmt],
                  prefix: str = "i") -> Stmt:
        """Serial loops over every axis of ``shape`` (none for axes of extent 1)."""
        index = tuple(ir.const(0) if dim == 1 else self.var(prefix) for dim in shape)
        stmt = body(index)
        for i, dim in reversed(list(zip(index, shape))):
            if dim != 1:
                stmt = For(i, ir.const(0), ir.const(dim), stmt)
        return stmt

    def arg(self, node: Node, i: int, idx: tuple[Expr, ...]) -> Expr:
        """Input ``i`` of ``node`` at output index ``idx``, numpy-broadcast to the output."""
        value = node.inputs[i]
        return self.load(value, ir.broadcast_index(value.shape, node.outputs[0].shape, idx))

    def _read(self, value: Value) -> Expr | Buffer | None:
        """What a group input or constant reads from (a parameter or an inlined scalar); None for
        a value made inside the group. ``value`` is resolved."""
        if id(value) in self.outer:
            return self._bind(self.outer[id(value)])
        if not value.is_const:
            return None
        # A constant the body holds itself: its name is the body's, so it may equal a parameter's
        # name from outside; the kernel owns it under a name of its own (``constant``).
        if id(value) not in self.held:
            if value.const.size == 1:
                self.held[id(value)] = ir.const(value.const.reshape(-1)[0].item(), value.dtype)
            else:
                self.held[id(value)] = self.constant(value.name, value.const)
        return self.held[id(value)]

    def load(self, value: Value, idx: tuple[Expr, ...]) -> Expr:
        """One element of ``value``: a parameter load, or its producer's inlined expression."""
        value = self.resolve(value)
        source = self._read(value)
        if source is not None:
            if isinstance(source, Expr):
                return source
            return ir.Load(source, ir.flat_index(value.shape, idx))
        producer = value.producer
        if producer is None or id(producer) not in self.members:
            raise AssertionError(f"value {value.name} is neither a group input nor made inside")
        if id(value) in self.staged:
            return ir.Load(self.staged[id(value)], ir.flat_index(value.shape, idx))
        if producer is self.anchor:
            if self.override is None or self.override[0] != tuple(idx):
                raise _Fallback
            return self.override[1]
        key = (id(value), tuple(idx))
        if key not in self.cache:
            k = producer.outputs.index(value)
            self.cache[key] = COMPUTE[producer.op](self, producer, k, tuple(idx))
        return self.cache[key]

    def load_flat(self, value: Value, flat: Expr) -> Expr:
        """One element of ``value`` by row-major offset (reshape needs no index arithmetic when
        its input is a parameter)."""
        value = self.resolve(value)
        source = self._read(value)
        if source is not None:
            return source if isinstance(source, Expr) else ir.Load(source, flat)
        return self.load(value, ir.unravel(value.shape, flat))

    # -- building -------------------------------------------------------------------------------
    def build(self) -> Kernel:
        anchors = [n for n in self.nodes if n.op in REDUCE]
        if len(anchors) == 1 and len(self.outputs) == 1:
            body = self._anchored(anchors[0])
        else:  # with no anchors, just the output nests
            body = self._staged(anchors)
        read = {load.buffer.name for load in footprint(body).loads}
        params = tuple(p for p in self.params.values() if p.name in read)  # e.g. a conv's raw
        owned = tuple((k, v) for k, v in self.owned.items() if k in read)  # weights once packed
        return Kernel(self.name, params + tuple(self.out_buffers), body, owned)

    def _storer(self, buffer: Buffer, value: Value) -> Callable[[tuple[Expr, ...]], Stmt]:
        return lambda idx: Store(buffer, ir.flat_index(value.shape, idx), self.load(value, idx))

    def _anchored(self, anchor: Node) -> Stmt:
        """One anchor and one output: the epilogue runs in the anchor's store when it can."""
        if len(anchor.outputs) != 1:
            return self._staged([anchor])
        self.anchor = anchor
        inner, _ = self.outputs[0]
        out = self.out_buffers[0]
        reduce = self._emitter(anchor)
        made = anchor.outputs[0]
        if inner is made:
            return reduce(self, anchor,
                          lambda idx, v: Store(out, ir.flat_index(made.shape, idx), v))
        if tuple(inner.shape) == tuple(made.shape):
            try:
                return reduce(self, anchor, lambda idx, v: Store(
                    out, ir.flat_index(inner.shape, idx), self._epilogue(inner, idx, v)))
            except _Fallback:
                self.counters.clear()  # start the names afresh for the two-nest form
        self.anchor = None
        self.cache.clear()
        return self._staged([anchor])

    def _staged(self, anchors: list[Node]) -> Stmt:
        """Each anchor (in order) fills a scratch buffer; then one loop nest per output reads
        them. Loads of an anchor's result, by later anchors or by the outputs, read its buffer."""
        fills: list[Stmt] = []
        scratch: list[Buffer] = []
        for anchor in anchors:
            if len(anchor.outputs) != 1:
                raise LoweringError(f"{self.name}: {anchor.op} has {len(anchor.outputs)} outputs; "
                                    f"a loop-IR reduction makes one")
            made = anchor.outputs[0]
            name = f"{made.name}_tmp"
            while self._taken(name):
                name += "_"
            self.scratch_names.add(name)
            buffer = Buffer(name, made.dtype, made.shape, "scratch")
            fills.append(self._emitter(anchor)(
                self, anchor,
                lambda idx, v, b=buffer, m=made: Store(b, ir.flat_index(m.shape, idx), v)))
            self.staged[id(made)] = buffer
            scratch.append(buffer)
        nests = [self.loop_nest(inner.shape, self._storer(buf, inner))
                 for (inner, _), buf in zip(self.outputs, self.out_buffers)]
        body = ir.block(*fills, *nests)
        for buffer in reversed(scratch):
            body = Allocate(buffer, body)
        return body

    def _emitter(self, anchor: Node) -> Callable:
        """The anchor's loop-nest emitter: its scheduled lowering when there are schedules and
        that lowering applies to this node (it returns None when not), else the plain one."""
        plain = REDUCE[anchor.op]
        scheduled = SCHEDULED.get(anchor.op) if self.schedules is not None else None
        if scheduled is None:
            return plain

        def emit(ctx, node, store):
            stmt = scheduled(ctx, node, store, self.schedules)
            return plain(ctx, node, store) if stmt is None else stmt
        return emit

    def _epilogue(self, inner: Value, idx: tuple[Expr, ...], value: Expr) -> Expr:
        self.override = (tuple(idx), value)
        self.cache.clear()
        try:
            return self.load(inner, idx)
        finally:
            self.override = None
            self.cache.clear()
