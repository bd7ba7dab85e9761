"""Structural keys for loop-IR expressions, computed once per expression object.

Why: Exprs are frozen dataclasses whose hash walks the whole tree on every call, so dicts keyed
by them (the renderer's memo of emitted values) cost O(tree) per lookup — quadratic on the deep
index expressions of scheduled kernels. Here every distinct structure gets a small integer,
found through the object's id (kept alive, so the id cannot be reused), and equal structures
built separately share it, which is what common-subexpression reuse needs. Float constants are
keyed by their exact bits' repr, so 0.0 and -0.0 stay apart (dataclass equality merges them).
"""

from __future__ import annotations

from .ir import Binary, Call, Cast, Const, Expr, Load, Select, Unary, Var


class ExprKeys:
    def __init__(self) -> None:
        self._by_id: dict[int, tuple[Expr, int]] = {}
        self._by_structure: dict[tuple, int] = {}

    def __call__(self, e: Expr) -> int:
        hit = self._by_id.get(id(e))
        if hit is not None and hit[0] is e:
            return hit[1]
        signature = self._signature(e)
        key = self._by_structure.setdefault(signature, len(self._by_structure))
        self._by_id[id(e)] = (e, key)
        return key

    def _signature(self, e: Expr) -> tuple:
        if isinstance(e, Const):
            return ("const", e.dtype, type(e.value).__name__, repr(e.value))
        if isinstance(e, Var):
            return ("var", e.name, e.dtype)
        if isinstance(e, Load):
            return ("load", e.buffer, self(e.index))
        if isinstance(e, Binary):
            return ("binary", e.op, self(e.a), self(e.b))
        if isinstance(e, Unary):
            return ("unary", e.op, self(e.x))
        if isinstance(e, Call):
            return ("call", e.fn, *(self(a) for a in e.args))
        if isinstance(e, Cast):
            return ("cast", e.dtype, self(e.x))
        if isinstance(e, Select):
            return ("select", self(e.cond), self(e.a), self(e.b))
        raise TypeError(f"unknown expression {type(e).__name__}")
