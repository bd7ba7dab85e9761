"""Pattern rewriting: rules written as builder calls, a check that says why, a rewrite; one driver.

A rule has three parts, as in onnxscript's rewriter::

    class SiluRule(Rule):
        \"\"\"x·sigmoid(x) → silu(x)\"\"\"

        def pattern(self, p):                   # the same calls as GraphBuilder, on pattern values
            x = p.any("x")
            return p.mul(x, p.sigmoid(x), commutative=True)

        def check(self, match):                 # None accepts; a string is the reason it does not
            return None if match["x"].dtype.is_float else "x is not a float tensor"

        def rewrite(self, match, b):            # b inserts before the matched root node;
            return b.silu(match["x"])           # None declines

Pattern calls: ``p.<op>(*inputs, **attrs)`` for any registered op (attributes given are
constraints: a value, compared after the registry's coercion, floats to 1e-6 relative, or a
predicate ``lambda v: ...``; attributes not given match anything); ``commutative=True`` on a
two-input op tries both operand orders; ``name="g"`` captures the matched node as
``match.node("g")``. Leaves: ``p.any(name)`` binds any value, ``p.const(name)`` a constant,
``p.scalar(name, value=None, rtol=1e-6)`` a one-element constant (equal to ``value`` within
``rtol`` when given); ``optional=True`` on ``any`` also binds an omitted input (None), and a
literal ``None`` input means "must be omitted". A name used twice must bind the same value both
times (``x·sigmoid(x)`` above). ``p.either(a, b, ...)`` matches the first alternative that fits.

The driver, :func:`apply_rules`, runs an ordered :class:`RuleSet` over a worklist to a fixpoint.
Consumers are visited before their producers, so a rule rooted further down the graph (a whole
LayerNorm ending in ``add(·, bias)``) sees its nodes before a smaller rule rooted inside it can
take them; ``producers_first=True`` reverses that for rules that forward values or absorb what
follows a node (simplify, fold-bn). On each node the first rule (in set order) that matches and
passes its check decides; its rewrite may still decline by returning None (or the root's own
outputs). After a rewrite the driver replaces the root with :func:`mlc.ir.replace_node`: every
use of its outputs moves to the replacement, which takes over the root's output names when it
was built by the rewrite or a graph output demands it (a root that must keep a graph output's
name the replacement cannot take stays, and only its readers move). It then deletes what nothing
reads any more (the matched nodes, and transitively what only they read, constants included), and
puts the new nodes, the replacement's users and the producers of the match's inputs back on the
worklist. A rule that absorbs a run of nodes
after the root, which no pattern can spell, calls ``match.extend(chain)`` in its rewrite: its
values then replace the chain's last node.

A match is rejected automatically when a value computed inside it (any matched node but the root)
is read outside it or is a graph output: deleting that node would break the reader, keeping it
would duplicate work. A rule that accepts the duplication sets ``allow_interior_uses = True``.

Debugging: ``explain=True`` (``canonicalize{explain=true}`` on the command line, or the
environment variable ``MLC_EXPLAIN_REWRITES=1`` for every rewrite pass) writes one line to stderr
for each rewrite, each rejected match with its reason, and each near miss (a pattern whose root
and at least one more node matched) with what differed where it got furthest.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Iterator, Sequence

import numpy as np

from mlc.ir import Graph, GraphBuilder, Node, Value, remove_dead, remove_if_dead, replace_node
from mlc.ir.builder import OpMethods

from .base import Pass, PassError

EXPLAIN_ENV = "MLC_EXPLAIN_REWRITES"


class RewriteError(PassError):
    """A rule misbehaved (wrong result type or count) or the rules never reached a fixpoint."""


# -- patterns ------------------------------------------------------------------------------------

class Pattern:
    """A pattern value: what one graph value must look like."""


class Var(Pattern):
    """A leaf: any value, a constant, or a one-element constant; bound under ``name``."""

    def __init__(self, kind: str, name: str | None, *, value: float | None = None,
                 rtol: float = 1e-6, optional: bool = False):
        self.kind = kind
        self.name = name
        self.value = value
        self.rtol = rtol
        self.optional = optional

    @property
    def key(self) -> Any:
        return self.name if self.name is not None else id(self)

    def __repr__(self) -> str:
        shown = "" if self.value is None else f", value={self.value:g}"
        return f"{self.kind}({self.name or ''}{shown})"


class NodePattern:
    """One op application in a pattern; ``inputs`` are patterns or None (must be omitted)."""

    def __init__(self, op: str, inputs: Sequence[Pattern | None], attrs: dict[str, Any],
                 commutative: bool, name: str | None):
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = attrs
        self.commutative = commutative
        self.name = name

    def orders(self) -> list[tuple[Pattern | None, ...]]:
        if self.commutative:
            return [self.inputs, self.inputs[::-1]]
        return [self.inputs]


class Out(Pattern):
    """Output ``index`` of a node pattern."""

    def __init__(self, node: NodePattern, index: int = 0):
        self.node = node
        self.index = index

    def __repr__(self) -> str:
        return f"{self.node.op}(...)" + (f"[{self.index}]" if self.index else "")


class Either(Pattern):
    """The first of several alternatives that matches."""

    def __init__(self, alternatives: Sequence[Pattern]):
        self.alternatives = tuple(alternatives)


class PatternBuilder(OpMethods):
    """The ``p`` a rule's ``pattern`` receives: GraphBuilder's calls, building patterns instead."""

    def any(self, name: str | None = None, *, optional: bool = False) -> Var:
        return Var("any", name, optional=optional)

    def const(self, name: str | None = None) -> Var:
        return Var("const", name)

    def scalar(self, name: str | None = None, value: float | None = None, *,
               rtol: float = 1e-6) -> Var:
        return Var("scalar", name, value=value, rtol=rtol)

    def either(self, *alternatives: Pattern) -> Either:
        if not alternatives:
            raise ValueError("either() needs at least one alternative")
        return Either(alternatives)

    def op(self, op: str, *inputs: Pattern | None, commutative: bool = False,
           name: str | None = None, outputs: int = 1, **attrs: Any) -> Out | tuple[Out, ...]:
        """Pattern for ``op`` applied to ``inputs``; a tuple of outputs when ``outputs`` > 1."""
        from mlc.ops import get_op

        opdef = get_op(op)
        for item in inputs:
            if item is not None and not isinstance(item, Pattern):
                raise TypeError(f"pattern {op}: inputs must be patterns (p.any(), p.const(), "
                                f"p.<op>(...)) or None, got {item!r}")
        if commutative and len(inputs) != 2:
            raise ValueError(f"pattern {op}: commutative=True needs exactly two inputs")
        constraints: dict[str, Any] = {}
        for key, wanted in attrs.items():
            if key not in opdef.attrs:
                known = ", ".join(opdef.attrs) or "none"
                raise ValueError(f"pattern {op}: no attribute {key!r} (its attributes: {known})")
            constraints[key] = wanted if callable(wanted) else opdef.attrs[key].coerce(wanted)
        node = NodePattern(op, inputs, constraints, commutative, name)
        outs = tuple(Out(node, i) for i in range(outputs))
        return outs[0] if outputs == 1 else outs


def root_ops(pattern: Pattern) -> set[str]:
    """The ops a graph node must have to be the root of ``pattern``."""
    if isinstance(pattern, Out):
        return {pattern.node.op}
    if isinstance(pattern, Either):
        return set().union(*(root_ops(a) for a in pattern.alternatives))
    raise TypeError("a rule's pattern must end in an op (p.<op>(...)), not a leaf like p.any()")


# -- matching --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _State:
    values: dict  # Var.key -> Value | None
    nodes: dict  # id(NodePattern) -> Node
    named: dict  # capture name -> Node

    def bind_value(self, key: Any, value: Value | None) -> _State:
        return _State({**self.values, key: value}, self.nodes, self.named)

    def bind_node(self, pattern: NodePattern, node: Node) -> _State:
        named = {**self.named, pattern.name: node} if pattern.name else self.named
        return _State(self.values, {**self.nodes, id(pattern): node}, named)


def _describe(value: Value) -> str:
    if value.is_const:
        return f"constant @{value.name}"
    if value.producer is None:
        return f"graph input %{value.name}"
    return f"%{value.name} from {value.producer.op}"


def _attr_ok(wanted: Any, actual: Any) -> bool:
    if callable(wanted):
        return bool(wanted(actual))
    if isinstance(wanted, float) and isinstance(actual, float):
        return math.isclose(wanted, actual, rel_tol=1e-6, abs_tol=1e-12)
    if isinstance(wanted, np.ndarray) or isinstance(actual, np.ndarray):
        return np.array_equal(np.asarray(wanted), np.asarray(actual))
    if isinstance(wanted, tuple) and wanted and isinstance(wanted[0], float):
        return len(wanted) == len(actual) and all(
            math.isclose(w, a, rel_tol=1e-6, abs_tol=1e-12) for w, a in zip(wanted, actual))
    return wanted == actual


def scalar_value(value: Value) -> float | None:
    """The number in a one-element constant, else None."""
    if not value.is_const or value.const.size != 1:
        return None
    return float(np.asarray(value.const).reshape(-1)[0])


def per_channel(array: np.ndarray, like: Value) -> np.ndarray | None:
    """``array`` as one float64 value per channel (axis 1) of ``like``, or None if it varies along
    another axis (or does not broadcast that way)."""
    rank, channels = like.type.rank, like.shape[1]
    if array.ndim > rank or not isinstance(channels, int):
        return None
    shape = (1,) * (rank - array.ndim) + array.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(np.asarray(array, np.float64).reshape(-1), (channels,))


class _Matcher:
    """Backtracking matcher; remembers the deepest failure for explain mode."""

    def __init__(self) -> None:
        self.reason = ""
        self.depth = -1

    def fail(self, state: _State, reason: str) -> None:
        if len(state.nodes) >= self.depth:
            self.depth, self.reason = len(state.nodes), reason

    def root(self, pattern: Pattern, node: Node, state: _State) -> Iterator[_State]:
        if isinstance(pattern, Either):
            for alternative in pattern.alternatives:
                yield from self.root(alternative, node, state)
        elif isinstance(pattern, Out):
            yield from self.node(pattern.node, node, state)

    def value(self, pattern: Pattern | None, value: Value | None,
              state: _State) -> Iterator[_State]:
        if pattern is None:
            if value is None:
                yield state
            else:
                self.fail(state, f"{_describe(value)} where the pattern has no input")
            return
        if isinstance(pattern, Either):
            for alternative in pattern.alternatives:
                yield from self.value(alternative, value, state)
            return
        if isinstance(pattern, Var):
            yield from self.var(pattern, value, state)
            return
        assert isinstance(pattern, Out)
        if value is None:
            self.fail(state, f"an omitted input where the pattern has {pattern!r}")
            return
        producer = value.producer
        if producer is None:
            self.fail(state, f"{_describe(value)} where the pattern has {pattern.node.op}")
            return
        if pattern.index >= len(producer.outputs) or producer.outputs[pattern.index] is not value:
            self.fail(state, f"{_describe(value)} is not output {pattern.index} of its node")
            return
        yield from self.node(pattern.node, producer, state)

    def var(self, pattern: Var, value: Value | None, state: _State) -> Iterator[_State]:
        if value is None:
            if pattern.optional and (pattern.key not in state.values
                                     or state.values[pattern.key] is None):
                yield state.bind_value(pattern.key, None)
            else:
                self.fail(state, f"an omitted input where the pattern has {pattern!r}")
            return
        if pattern.kind in ("const", "scalar") and not value.is_const:
            self.fail(state, f"{_describe(value)} where the pattern has a constant {pattern!r}")
            return
        if pattern.kind == "scalar":
            number = scalar_value(value)
            if number is None:
                self.fail(state, f"constant @{value.name} has {value.const.size} elements, "
                                 f"the pattern wants one ({pattern!r})")
                return
            if pattern.value is not None and not math.isclose(number, pattern.value,
                                                              rel_tol=pattern.rtol, abs_tol=0.0):
                self.fail(state, f"constant @{value.name} is {number:g}, the pattern wants "
                                 f"{pattern.value:g}")
                return
        if pattern.key in state.values:
            if state.values[pattern.key] is value:
                yield state
            else:
                bound = state.values[pattern.key]
                self.fail(state, f"{pattern.name or 'a value'} would be both "
                                 f"{'nothing' if bound is None else _describe(bound)} and "
                                 f"{_describe(value)}")
            return
        yield state.bind_value(pattern.key, value)

    def node(self, pattern: NodePattern, node: Node, state: _State) -> Iterator[_State]:
        seen = state.nodes.get(id(pattern))
        if seen is not None:
            if seen is node:
                yield state
            else:
                self.fail(state, f"{pattern.op} of the pattern would be two different nodes")
            return
        if node.op != pattern.op:
            self.fail(state, f"%{node.outputs[0].name if node.outputs else '?'} comes from "
                             f"{node.op}, the pattern wants {pattern.op}")
            return
        for key, wanted in pattern.attrs.items():
            actual = node.attrs.get(key)
            if not _attr_ok(wanted, actual):
                shown = "a predicate" if callable(wanted) else repr(wanted)
                self.fail(state, f"{node.op} has {key}={actual!r}, the pattern wants {shown}")
                return
        state = state.bind_node(pattern, node)
        for order in pattern.orders():
            yield from self.inputs(order, node.inputs, 0, state)

    def inputs(self, patterns: Sequence[Pattern | None], values: Sequence[Value | None], index: int,
               state: _State) -> Iterator[_State]:
        if index >= max(len(patterns), len(values)):
            yield state
            return
        pattern = patterns[index] if index < len(patterns) else None
        value = values[index] if index < len(values) else None
        for after in self.value(pattern, value, state):
            yield from self.inputs(patterns, values, index + 1, after)


# -- rules -----------------------------------------------------------------------------------------

class Match:
    """What a pattern bound: ``match["x"]`` is a value, ``match.node("g")`` a captured node."""

    def __init__(self, rule: Rule, root: Node, state: _State):
        self.rule = rule
        self.root = root
        self.values: dict[str, Value | None] = {k: v for k, v in state.values.items()
                                                if isinstance(k, str)}
        self.named_nodes: dict[str, Node] = dict(state.named)
        # the root first; a node two patterns matched once
        self.nodes: list[Node] = list({id(n): n for n in state.nodes.values()}.values())
        self.bound: list[Value] = [v for v in state.values.values() if v is not None]
        self.tail = root  # the node whose outputs the rewrite replaces

    def extend(self, chain: Sequence[Node]) -> None:
        """Take ``chain``, nodes after the root that a pattern cannot spell (fold-bn's run of
        per-channel mul/add after a batch_norm), into the match: each must be the only reader of
        the one before, the root first. The rewrite's values then replace the last one's outputs,
        the builder inserts before it, and the chain goes with the match."""
        for node in chain:
            self.nodes.append(node)
            self.bound.extend(v for v in node.inputs if v is not None)
            self.tail = node

    def __getitem__(self, name: str) -> Value:
        if name in self.values:
            value = self.values[name]
            if value is None:
                raise KeyError(f"{name} matched an omitted input; use match.get({name!r})")
            return value
        if name in self.named_nodes:
            return self.named_nodes[name].outputs[0]
        bound = ", ".join(self.values) or "nothing"
        raise KeyError(f"the pattern binds no {name!r} (it binds {bound})")

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) is not None or name in self.named_nodes

    def node(self, name: str) -> Node:
        return self.named_nodes[name]

    def const(self, name: str) -> np.ndarray:
        """The array of the constant bound to ``name``."""
        value = self[name]
        if not value.is_const:
            raise ValueError(f"{name} is bound to {_describe(value)}, not a constant")
        return value.const

    def scalar(self, name: str) -> float:
        number = scalar_value(self[name])
        if number is None:
            raise ValueError(f"{name} is not a one-element constant")
        return number


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower().removesuffix("-rule")


class Rule:
    """A rewrite rule: ``pattern``, ``check``, ``rewrite``. Subclass and override."""

    name: str = ""  # defaults to the class name in kebab case (GeluTanh → gelu-tanh)
    allow_interior_uses: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = _kebab(cls.__name__)

    def pattern(self, p: PatternBuilder) -> Pattern:
        raise NotImplementedError

    def check(self, match: Match) -> str | None:
        """The reason this match is rejected, or None to accept it."""
        return None

    def rewrite(self, match: Match, b: GraphBuilder) -> Value | Sequence[Value] | None:
        """The values replacing the root's outputs (the tail's, after ``match.extend``), or None
        to leave the match as it is."""
        raise NotImplementedError

    def compiled(self) -> Pattern:
        """The pattern, built once per rule instance."""
        cached = self.__dict__.get("_compiled")
        if cached is None:
            cached = self.pattern(PatternBuilder())
            if not isinstance(cached, (Out, Either)):
                raise TypeError(f"rule {self.name}: pattern() must return p.<op>(...) or "
                                f"p.either(...), got {cached!r}")
            self.__dict__["_compiled"] = cached
        return cached

    def match(self, node: Node, explain: Callable[[str], None] | None = None) -> Match | None:
        """The first binding of the pattern rooted at ``node`` that passes the checks, else None."""
        matcher = _Matcher()
        rejected = False
        for state in matcher.root(self.compiled(), node, _State({}, {}, {})):
            match = Match(self, node, state)
            reason = None if self.allow_interior_uses else interior_use(match)
            if reason is None:
                reason = self.check(match)
            if reason is None:
                return match
            rejected = True
            if explain:
                explain(f"{self.name}: rejected at {_where(node)}: {reason}")
        if explain and not rejected and matcher.depth >= 2:
            explain(f"{self.name}: no match at {_where(node)}: {matcher.reason}")
        return None

    def __repr__(self) -> str:
        return f"<rule {self.name}>"


def _where(node: Node) -> str:
    outs = ", ".join(f"%{v.name}" for v in node.outputs)
    return f"{outs} = {node.op}(...)"


def interior_use(match: Match) -> str | None:
    """Why the matched nodes other than the root cannot be deleted, or None when they can."""
    inside = {id(n) for n in match.nodes}
    for node in match.nodes:
        if node is match.root:
            continue
        for out in node.outputs:
            if out.is_graph_output:
                return f"%{out.name} (inside the match) is a graph output"
            for use in out.uses:
                if id(use.node) not in inside:
                    return f"%{out.name} (inside the match) is also read by {_where(use.node)}"
    return None


class RuleSet:
    """An ordered list of rules; on each node the first one that applies wins."""

    def __init__(self, rules: Iterable[Rule] = ()):
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._by_op: dict[str, list[Rule]] | None = None

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __add__(self, other: Iterable[Rule]) -> RuleSet:
        return RuleSet((*self.rules, *other))

    def by_root_op(self) -> dict[str, list[Rule]]:
        if self._by_op is None:
            table: dict[str, list[Rule]] = {}
            for rule in self.rules:
                for op in sorted(root_ops(rule.compiled())):
                    table.setdefault(op, []).append(rule)
            self._by_op = table
        return self._by_op


# -- the driver ------------------------------------------------------------------------------------

class RewriteBuilder(GraphBuilder):
    """The ``b`` a rewrite receives: inserts before the replaced node (the root, unless the rule
    extended the match) and names what it makes after it.

    New values are named ``<root output>.<op>`` (the replacement of the root then takes the root's
    own name back), new nodes keep the root's source location, and new constants default to
    ``<root output>.c``. A constant named after one the rewrite makes dead (``b.const(w2,
    name=w.name)``) takes over that name once the old constant is deleted; ``b.adopt(v, name)``
    asks the same for any value.
    """

    def __init__(self, graph: Graph, match: Match):
        super().__init__(graph=graph)
        self.match = match
        self.created_nodes: list[Node] = []
        self.created_constants: list[Value] = []
        self.wanted_names: list[tuple[Value, str]] = []  # a value named like one the rewrite
        # replaces gets a suffix while the old one lives; it takes the plain name once it is gone

    @property
    def base(self) -> str:
        tail = self.match.tail
        return tail.outputs[0].name if tail.outputs else tail.op

    def node(self, op: str, *inputs: Value | None, name: str | None = None, output_names=None,
             body: Graph | None = None, **attrs: Any) -> Node:
        if output_names is None:
            output_names = [f"{self.base}.{op}"]
        self.insert_before = self.match.tail
        node = super().node(op, *inputs, name=self.match.root.name if name is None else name,
                            output_names=output_names, body=body, **attrs)
        self.created_nodes.append(node)
        return node

    def const(self, array, name: str | None = None, dtype=None) -> Value:
        wanted = name or f"{self.base}.c"
        value = super().const(array, name=wanted, dtype=dtype)
        self.created_constants.append(value)
        return self.adopt(value, wanted)

    def adopt(self, value: Value, name: str) -> Value:
        """Rename ``value`` to ``name`` after the rewrite, if the name is free then."""
        self.wanted_names.append((value, name))
        return value


def _explainer(explain: bool | Callable[[str], None] | None) -> Callable[[str], None] | None:
    if callable(explain):
        return explain
    if explain or os.environ.get(EXPLAIN_ENV, "") not in ("", "0"):
        return lambda line: print(f"[rewrite] {line}", file=sys.stderr)
    return None


def apply_rules(graph: Graph, rules: RuleSet | Iterable[Rule], *, max_rewrites: int = 10000,
                explain: bool | Callable[[str], None] | None = None,
                producers_first: bool = False) -> bool:
    """Apply ``rules`` to ``graph`` in place until none applies; True when anything changed.

    ``explain`` is True (lines to stderr), a callable taking each line, or None/False (then the
    MLC_EXPLAIN_REWRITES environment variable decides). Raises RewriteError when more than
    ``max_rewrites`` rewrites happen: rules that undo each other never reach a fixpoint.
    ``producers_first`` starts the worklist at the graph's first node instead of its last.
    Only ``graph`` is rewritten; the PassManager runs a rewrite pass on fused bodies when the pass
    declares ``bodies``.
    """
    rules = rules if isinstance(rules, RuleSet) else RuleSet(rules)
    table = rules.by_root_op()
    log = _explainer(explain)
    worklist: list[Node] = list(graph.nodes)  # popped from the end
    if producers_first:
        worklist.reverse()
    queued = {id(n) for n in worklist}
    fired: Counter[str] = Counter()
    count = 0

    def push(nodes: Iterable[Node]) -> None:
        for n in nodes:
            if id(n) not in queued and n.graph is graph:
                queued.add(id(n))
                worklist.append(n)

    while worklist:
        node = worklist.pop()
        queued.discard(id(node))
        if node.graph is not graph:
            continue  # deleted by an earlier rewrite
        match = next(filter(None, (rule.match(node, log) for rule in table.get(node.op, ()))), None)
        if match is None:
            continue
        builder = RewriteBuilder(graph, match)
        replacements = _replace(graph, match, match.rule.rewrite(match, builder), builder)
        if replacements is None:
            continue  # the rule declined: no other rule gets this node
        rule = match.rule
        count += 1
        fired[rule.name] += 1
        if log:
            log(f"{rule.name}: rewrote {', '.join('%' + v.name for v in replacements)}")
        if count > max_rewrites:
            busiest = ", ".join(f"{n} ×{k}" for n, k in fired.most_common(3))
            raise RewriteError(f"rewrite rules did not reach a fixpoint after {max_rewrites} "
                               f"rewrites (most fired: {busiest})",
                               hint="two rules probably undo each other, or a rewrite "
                                    "recreates its own pattern")
        push(v.producer for v in match.bound if v.producer is not None)
        push(builder.created_nodes)
        push(use.node for v in replacements for use in v.uses)
    return count > 0


def _replace(graph: Graph, match: Match, result: Value | Sequence[Value] | None,
             builder: RewriteBuilder) -> list[Value] | None:
    """Replace the tail's outputs by ``result`` and delete what died; the replacement values, or
    None when nothing changed (the rule declined, or the tail must stay for an output name and
    nothing read it)."""
    rule, tail = match.rule, match.tail
    if result is None:
        return None
    news = [result] if isinstance(result, Value) else list(result)
    if len(news) != len(tail.outputs):
        raise RewriteError(f"rule {rule.name} returned {len(news)} values for the "
                           f"{len(tail.outputs)} outputs of {_where(tail)}")
    if all(new is old for new, old in zip(news, tail.outputs)) and not builder.created_nodes:
        return None
    for new, old in zip(news, tail.outputs):
        if not isinstance(new, Value):
            raise RewriteError(f"rule {rule.name} returned {new!r}, not a Value")
        if new.type != old.type:
            raise RewriteError(f"rule {rule.name} replaced %{old.name}: {old.type} by "
                               f"%{new.name}: {new.type} at {_where(tail)}",
                               hint="a rewrite must keep the type of every value it replaces")
    olds = {id(v) for v in tail.outputs}
    for node in builder.created_nodes:
        if any(v is not None and id(v) in olds for v in node.inputs):
            raise RewriteError(f"rule {rule.name} built {_where(node)} from the root it replaces")
    created = {id(n) for n in builder.created_nodes}
    fresh = all(new.producer is not None and id(new.producer) in created
                for new, old in zip(news, tail.outputs) if new is not old)
    order = list(graph.constants.values())
    changed = replace_node(graph, tail, news, adopt_names=fresh)
    remove_dead(graph, match.nodes + builder.created_nodes)
    for value in [*match.bound, *builder.created_constants]:
        remove_if_dead(graph, value)
    _tidy_constants(graph, order, builder)
    return news if changed else None


def _tidy_constants(graph: Graph, order: list[Value], builder: RewriteBuilder) -> None:
    """Give values the names the rewrite asked for, now that what held them is gone; the new
    constants take the place of the first constant the rewrite deleted (``order`` is the listing
    before), so a transposed weight stays at the top of the listing, where the weight it replaces
    was."""
    for value, wanted in builder.wanted_names:
        alive = graph.constants.get(value.name) is value if value.is_const else \
            value.producer is not None and value.producer.graph is graph
        if alive and value.name != wanted and graph.unique_name(wanted) == wanted:
            graph.rename(value, wanted)
    created = {id(v) for v in builder.created_constants}
    slots = [i for i, v in enumerate(order)
             if id(v) not in created and graph.constants.get(v.name) is not v]
    fresh = [v for v in builder.created_constants if graph.constants.get(v.name) is v]
    if not slots or not fresh:
        return
    kept_before = sum(1 for c in order[:min(slots)] if graph.constants.get(c.name) is c)
    others = [v for v in graph.constants.values() if id(v) not in created]
    others[kept_before:kept_before] = fresh
    graph.constants.clear()
    graph.constants.update((v.name, v) for v in others)


# -- passes built from rules -----------------------------------------------------------------------

@dataclass
class RewritePass(Pass):
    """A pass made of rewrite rules: subclasses return them from ``rules()``.

    ``explain`` logs rewrites, rejections and near misses to stderr; ``max_rewrites`` bounds the
    work (exceeding it is an error naming the rules that kept firing). A subclass whose rules
    forward values or absorb what follows a node sets ``producers_first``, so chains collapse
    from their start.
    """

    producers_first: ClassVar[bool] = False
    explain: bool = False
    max_rewrites: int = 10000

    def rules(self) -> RuleSet:
        raise NotImplementedError

    def run(self, graph: Graph) -> bool:
        return apply_rules(graph, self.rules(), max_rewrites=self.max_rewrites,
                           explain=True if self.explain else None,
                           producers_first=self.producers_first)


__all__ = ["Either", "Match", "NodePattern", "Out", "Pattern", "PatternBuilder", "RewriteBuilder",
           "RewriteError", "RewritePass", "Rule", "RuleSet", "Var", "apply_rules", "interior_use",
           "per_channel", "root_ops", "scalar_value"]
