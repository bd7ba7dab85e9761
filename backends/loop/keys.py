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
from .visit import children

# what an expression holds besides its operands
_ATTRIBUTES = {Var: lambda e: (e.name, e.dtype), Load: lambda e: (e.buffer,),
               Binary: lambda e: (e.op,), Unary: lambda e: (e.op,), Call: lambda e: (e.fn,),
               Cast: lambda e: (e.dtype,), Select: lambda e: ()}


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
        """The kind, what the node holds itself, and its operands' keys."""
        if isinstance(e, Const):
            return (Const, e.dtype, type(e.value).__name__, repr(e.value))
        if type(e) not in _ATTRIBUTES:
            raise TypeError(f"unknown expression {type(e).__name__}")
        return (type(e), *_ATTRIBUTES[type(e)](e), *(self(c) for c in children(e)))
