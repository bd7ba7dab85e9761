"""Read-only questions about loop IR that schedules and renderers ask before rewriting a loop.

``affine_coefficient`` is the one that decides vectorization: a Load or Store whose index moves by
exactly one element per iteration of a loop is a contiguous vector access; one that does not move
is a scalar (splat); anything else is a per-lane gather/scatter. The rest collect what a loop body
touches (buffers it stores and loads, locals it declares or assigns, variables it reads) so a
transform can prove a rewrite keeps the loop's meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Allocate, Assign, Binary, Const, Expr, For, Let, Load, Stmt, Store, Unary, Var
from .visit import children, stmt_exprs, walk


def affine_coefficient(expr: Expr, var: Var | str,
                       varying: frozenset[str] = frozenset()) -> int | None:
    """How much ``expr`` grows when ``var`` grows by one, when that is a constant: 0 when ``expr``
    does not depend on ``var``, None when the dependence is not affine with a constant
    coefficient (``var // c``, ``var % c``, ``var * j``, a Load at an index that moves, a float).
    ``varying`` names other variables that change with ``var`` (locals set inside its loop):
    an expression reading them counts as non-affine."""
    name = var.name if isinstance(var, Var) else var
    return _coefficient(expr, name, varying)


def _coefficient(e: Expr, name: str, varying: frozenset[str]) -> int | None:
    if isinstance(e, Const):
        return 0
    if isinstance(e, Var):
        if e.name == name:
            return 1
        return None if e.name in varying else 0
    if not e.dtype.is_int:
        return 0 if not depends_on(e, {name} | varying) else None
    if isinstance(e, Binary) and e.op in ("add", "sub", "mul"):
        a, b = _coefficient(e.a, name, varying), _coefficient(e.b, name, varying)
        if a is None or b is None:
            return None
        if e.op == "add":
            return a + b
        if e.op == "sub":
            return a - b
        if a == 0 and b == 0:
            return 0
        if a == 0 and isinstance(e.a, Const):
            return int(e.a.value) * b
        if b == 0 and isinstance(e.b, Const):
            return int(e.b.value) * a
        return None  # the coefficient is itself a variable
    if isinstance(e, Unary) and e.op == "neg":
        c = _coefficient(e.x, name, varying)
        return None if c is None else -c
    return 0 if not depends_on(e, {name} | varying) else None


def depends_on(e: Expr, names: set[str] | frozenset[str]) -> bool:
    """Whether ``e`` reads any of the variables ``names``."""
    return any(isinstance(x, Var) and x.name in names for x in walk(e))


def let_names(s: Stmt) -> frozenset[str]:
    """The locals that ``s`` declares (reading one reads state that stores may change)."""
    return frozenset(t.var.name for t in walk(s) if isinstance(t, Let))


@dataclass
class Footprint:
    """What a statement touches: stores, loads (buffer name → indices), locals it declares and
    assigns, loops and allocations inside it."""

    stores: list[Store] = field(default_factory=list)
    loads: list[Load] = field(default_factory=list)
    declared: set[str] = field(default_factory=set)
    assigned: set[str] = field(default_factory=set)
    loops: list[For] = field(default_factory=list)
    allocates: list[Allocate] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # every variable and local name seen

    @property
    def stored_buffers(self) -> set[str]:
        return {s.buffer.name for s in self.stores}


def footprint(s: Stmt) -> Footprint:
    fp = Footprint()
    for stmt in walk(s):
        if isinstance(stmt, Store):
            fp.stores.append(stmt)
        elif isinstance(stmt, Let):
            fp.declared.add(stmt.var.name)
            fp.names.add(stmt.var.name)
        elif isinstance(stmt, Assign):
            fp.assigned.add(stmt.var.name)
        elif isinstance(stmt, For):
            fp.loops.append(stmt)
            fp.names.add(stmt.var.name)
        elif isinstance(stmt, Allocate):
            fp.allocates.append(stmt)
        for e in stmt_exprs(stmt):
            for x in walk(e):
                if isinstance(x, Load):
                    fp.loads.append(x)
                elif isinstance(x, Var):
                    fp.names.add(x.name)
    return fp


def constant_extent(loop: For) -> int | None:
    """The trip count of a loop with constant bounds (None when a bound is not constant)."""
    if not (isinstance(loop.start, Const) and isinstance(loop.stop, Const)):
        return None
    return max(0, -(-(int(loop.stop.value) - int(loop.start.value)) // loop.step))


def work(s: Stmt) -> int:
    """How many Stores and Assigns one run of ``s`` executes (loops of unknown extent count
    once): the amount of work that decides whether a nest is worth running in parallel."""
    if isinstance(s, (Store, Assign)):
        return 1
    extent = constant_extent(s) if isinstance(s, For) else 1
    return (1 if extent is None else extent) * sum(work(child) for child in children(s))


def references(s: Stmt) -> tuple[set[str], set[str]]:
    """Names of the buffers and variables ``s`` mentions anywhere (shared subexpressions are
    visited once)."""
    buffers: set[str] = set()
    variables: set[str] = set()
    pending: list[Expr] = []
    for t in walk(s):
        if isinstance(t, Store):
            buffers.add(t.buffer.name)
        pending.extend(stmt_exprs(t))
    seen: set[Expr] = set()
    while pending:
        e = pending.pop()
        if e in seen:
            continue
        seen.add(e)
        if isinstance(e, Var):
            variables.add(e.name)
        elif isinstance(e, Load):
            buffers.add(e.buffer.name)
        pending.extend(children(e))
    return buffers, variables
