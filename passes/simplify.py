"""simplify: local rewrites that remove work without changing any value.

Every rule either forwards a node's input to its readers (identity, dropout, x*1, no-op cast/pad/
slice/expand, concat or split of one piece, reshape or transpose that changes nothing) or folds a
chain into one node (reshape→reshape, transpose→transpose, a transpose that only moves size-1
axes becomes a reshape). Results are bit-identical: x+0 and x-0 can turn -0.0 into +0.0, which
compares equal. A rule that would forward a graph input or constant into a graph output keeps
the node, so output names never change (see :func:`mlc.ir.replace_node`).

The rules run on the pattern rewriter (passes/rewrite.py), producers first, so a chain collapses
from its start and a forwarded value reaches the end of a chain before names are decided.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mlc.ir import GraphBuilder, Value

from .base import register_pass
from .rewrite import Match, PatternBuilder, RewritePass, Rule, RuleSet

Why = Callable[[Match], "str | None"]  # the reason a match must stay, or None


def _same_type(match: Match) -> str | None:
    x, y = match["x"], match.root.outputs[0]
    return None if x.type == y.type else f"it turns {x.type} into {y.type}"


def _no_pads(match: Match) -> str | None:
    return "it pads" if any(match.root.attrs["pads"]) else None


def _whole(match: Match) -> str | None:
    a, shape = match.root.attrs, match["x"].shape
    for start, end, axis, step in zip(a["starts"], a["ends"], a["axes"], a["steps"]):
        if step != 1 or start != 0 or end != shape[axis]:
            return f"it keeps part of axis {axis}"
    return None


def _one_piece(match: Match) -> str | None:
    return None if len(match.root.outputs) == 1 else "it makes several pieces"


def _identity_perm(match: Match) -> str | None:
    perm = tuple(match.root.attrs["perm"])
    return None if perm == tuple(range(len(perm))) else f"it permutes axes {list(perm)}"


class NoOp(Rule):
    """op(x) → x where the op changes nothing (``why_not`` finds no reason it would)."""

    def __init__(self, op: str, why_not: Why = lambda match: None):
        self.op, self.why_not = op, why_not
        self.name = f"no-op-{op}"

    def pattern(self, p: PatternBuilder):
        return p.op(self.op, p.any("x"))

    def check(self, match: Match) -> str | None:
        return self.why_not(match)

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        return match["x"]


class Neutral(NoOp):
    """x op c → x when every element of the constant c is ``neutral`` and x keeps its type."""

    def __init__(self, op: str, neutral: float, *, commutative: bool):
        self.op, self.neutral, self.commutative = op, neutral, commutative
        self.name = f"{op}-neutral"

    def pattern(self, p: PatternBuilder):
        return p.op(self.op, p.any("x"), p.const("c"), commutative=self.commutative)

    def check(self, match: Match) -> str | None:
        c = match.const("c")
        if not c.size or not np.all(c == self.neutral):
            return f"@{match['c'].name} is not all {self.neutral:g}"
        return _same_type(match)


class ReshapeReshape(Rule):
    """reshape(reshape(x)) → reshape(x); the inner one stays while something else reads it."""

    allow_interior_uses = True

    def pattern(self, p: PatternBuilder):
        return p.reshape(p.reshape(p.any("x")))

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        return b.reshape(match["x"], shape=match.root.attrs["shape"])


class TransposeTranspose(Rule):
    """transpose(transpose(x)) → one transpose by the composed permutation."""

    allow_interior_uses = True

    def pattern(self, p: PatternBuilder):
        return p.transpose(p.transpose(p.any("x"), name="inner"))

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        inner, outer = match.node("inner").attrs["perm"], match.root.attrs["perm"]
        return b.transpose(match["x"], perm=tuple(inner[p] for p in outer))


class TransposeToReshape(Rule):
    """A transpose that keeps the order of the axes larger than 1 is a reshape."""

    def pattern(self, p: PatternBuilder):
        return p.transpose(p.any("x"))

    def check(self, match: Match) -> str | None:
        shape = match["x"].shape
        kept = [p for p in match.root.attrs["perm"] if shape[p] != 1]
        return None if kept == sorted(kept) else "it moves an axis larger than 1"

    def rewrite(self, match: Match, b: GraphBuilder) -> Value:
        return b.reshape(match["x"], shape=match.root.outputs[0].shape)


# On each node the first rule that applies decides: a reshape or transpose that changes nothing
# goes before the chain rules look at it.
RULES = RuleSet([
    NoOp("identity"),
    NoOp("cast", _same_type),
    NoOp("pad", _no_pads),
    NoOp("slice", _whole),
    NoOp("expand", _same_type),
    NoOp("concat"),  # the pattern has one input: a concat of one piece
    NoOp("split", _one_piece),
    NoOp("reshape", _same_type),
    ReshapeReshape(),
    NoOp("transpose", _identity_perm),
    TransposeTranspose(),
    TransposeToReshape(),
    Neutral("mul", 1, commutative=True),
    Neutral("add", 0, commutative=True),
    Neutral("sub", 0, commutative=False),
    Neutral("div", 1, commutative=False),
])


@register_pass("simplify")
class Simplify(RewritePass):
    """Remove identity/dropout and no-op ops, x*1 and x+0, and merge reshape/transpose chains."""

    bodies = True
    producers_first = True
    remove_dropout: bool = True  # inference dropout is the identity

    def rules(self) -> RuleSet:
        return RULES + [NoOp("dropout")] if self.remove_dropout else RULES
