"""Generic traversal of loop IR: the one place that knows which fields of a node are its children.

Why: the nodes are immutable dataclasses, so a transform that changes one node rebuilds every node
above it. Written by hand in each transform, that walk repeats the list of node kinds (and misses
one when a kind is added); here it is written once, as in TVM's ``StmtExprMutator`` and tinygrad's
rewrites of immutable UOps. ``children``, ``stmt_exprs`` and ``walk`` read a tree;
``map_children`` rebuilds one node from new children, and ``Mutator`` rewrites a whole tree.

A rebuilt node goes through ``ir``'s construction helpers (``ir.binary``, ``ir.block``…), so a
rewritten kernel folds and flattens like one built fresh (substituting ``f`` into
``(f//56)*56 + f%56`` gives an affine index again). A node whose children all come back as the
same objects is returned itself: an identity rewrite copies nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterator, TypeVar

from . import ir
from .ir import (Allocate, Assign, Binary, Block, Call, Cast, Expr, For, Let, Load, Select, Stmt,
                 Store, Unary)

Node = TypeVar("Node", Stmt, Expr)

# Per node kind: its children, the expressions it holds itself, and how it is rebuilt from new
# ones. A new kind of node is one row in each table.
_CHILDREN: dict[type, Callable] = {
    Block: lambda s: s.stmts, For: lambda s: (s.body,), Allocate: lambda s: (s.body,),
    Load: lambda e: (e.index,), Binary: lambda e: (e.a, e.b), Unary: lambda e: (e.x,),
    Cast: lambda e: (e.x,), Call: lambda e: e.args, Select: lambda e: (e.cond, e.a, e.b),
}
_EXPRS: dict[type, Callable] = {
    Store: lambda s: (s.index, s.value), For: lambda s: (s.start, s.stop),
    Let: lambda s: (s.init,), Assign: lambda s: (s.value,),
}
_REBUILD: dict[type, Callable] = {
    Block: lambda s, b, _: ir.block(*b), Allocate: lambda s, b, _: Allocate(s.buffer, *b),
    For: lambda s, b, x: dataclasses.replace(s, start=x[0], stop=x[1], body=b[0]),
    Store: lambda s, _, x: Store(s.buffer, *x), Let: lambda s, _, x: Let(s.var, *x),
    Assign: lambda s, _, x: Assign(s.var, *x), Load: lambda e, a, _: Load(e.buffer, *a),
    Binary: lambda e, a, _: ir.binary(e.op, *a), Call: lambda e, a, _: ir.call(e.fn, *a),
    Unary: lambda e, a, _: ir.neg(*a) if e.op == "neg" else ir.not_(*a),
    Cast: lambda e, a, _: ir.cast(e.dtype, *a), Select: lambda e, a, _: ir.select(*a),
}


def children(node: Node) -> tuple[Node, ...]:
    """A statement's nested statements, or an expression's operands. (The expressions a
    statement holds itself are ``stmt_exprs``.)"""
    get = _CHILDREN.get(type(node))
    return get(node) if get is not None else ()


def stmt_exprs(s: Stmt) -> tuple[Expr, ...]:
    """The expressions a statement itself holds (not those of nested statements)."""
    get = _EXPRS.get(type(s))
    return get(s) if get is not None else ()


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node of its kind inside it, parents first, in program order."""
    yield node
    for child in children(node):
        yield from walk(child)


def map_children(node: Node, fn: Callable[[Node], Node],
                 exprs: Callable[[Expr], Expr] | None = None) -> Node:
    """``node`` rebuilt with ``fn`` applied to each of its ``children`` and, for a statement,
    ``exprs`` (default: unchanged) to each of its ``stmt_exprs``; ``node`` itself when every
    result is the object it replaces."""
    old = children(node)
    new = tuple(fn(c) for c in old)
    own = stmt_exprs(node) if isinstance(node, Stmt) else ()
    new_own = tuple(exprs(e) for e in own) if exprs is not None else own
    if all(a is b for a, b in zip(old + own, new + new_own)):
        return node
    return _REBUILD[type(node)](node, new, new_own)


class Mutator:
    """Rewrites a statement tree and its expressions. ``stmt(s)`` and ``expr(e)`` return the
    rewritten node; by default they rebuild it from its rewritten children (``map_children``),
    so a subclass overrides them for the kinds it changes and returns ``super().stmt(s)`` /
    ``super().expr(e)`` for the rest (before or after its own change: top-down or bottom-up).
    Expressions are rewritten once per object: lowering shares subexpressions, and walking a
    DAG as a tree can take exponential time."""

    def __init__(self) -> None:
        self._done: dict[int, tuple[Expr, Expr]] = {}  # id → (expression kept alive, result)

    def stmt(self, s: Stmt) -> Stmt:
        return map_children(s, self.stmt, self._expr)

    def expr(self, e: Expr) -> Expr:
        return map_children(e, self._expr)

    def _expr(self, e: Expr) -> Expr:
        done = self._done.get(id(e))
        if done is None or done[0] is not e:
            done = self._done[id(e)] = (e, self.expr(e))
        return done[1]
