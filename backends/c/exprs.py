"""Loop-IR expressions → C99 expression text with ``backends/loop/scalar.py``'s semantics.

Plain C operators are used where C means what the IR means; ``mlc_ops.h`` helpers where it does
not (wrapping int32/int64 arithmetic, division by zero, NaN-propagating max, float → int casts,
float16). Index arithmetic over loop variables and constants cannot overflow (it addresses a
buffer), so it stays plain ``+ - *`` the C compiler can reason about; integer arithmetic on data
(anything that reads memory or a local) wraps through the helpers.

Expressions are DAGs: lowering shares subtrees and schedules repeat index arithmetic. Printed as
trees they could grow exponentially, so ``ExprRenderer`` binds every non-trivial subexpression
used twice in one statement to a ``const`` temporary declared just before it. Hoisting a load
out of a ``select`` is allowed: the loop IR promises that both sides of a select are safe to
evaluate. Parentheses follow C precedence, so the output stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from mlc.backends.loop.ir import (Binary, Buffer, Call, Cast, Const, Expr, Load, Select, Unary,
                                  Var)
from mlc.backends.loop.keys import ExprKeys
from mlc.backends.loop.visit import children
from mlc.ir.dtypes import DType

from .approx import FUNCTIONS as APPROXIMATED
from .ctypes_table import INDEX_TYPE, WIDE_INTS, helper_suffix, literal, register_type

PRIMARY, UNARY, MULTIPLY, ADD, RELATION, EQUALITY, AND, OR, CONDITIONAL = \
    16, 15, 13, 12, 10, 9, 5, 4, 3
_OPERATOR = {"add": ("+", ADD), "sub": ("-", ADD), "mul": ("*", MULTIPLY), "div": ("/", MULTIPLY),
             "mod": ("%", MULTIPLY), "lt": ("<", RELATION), "le": ("<=", RELATION),
             "gt": (">", RELATION), "ge": (">=", RELATION), "eq": ("==", EQUALITY),
             "ne": ("!=", EQUALITY), "and": ("&&", AND), "or": ("||", OR)}
_BOOL_ARITH = {"add": "or", "max": "or", "or": "or", "sub": "ne", "mul": "and", "min": "and",
               "and": "and"}
SHARE_ABOVE = 16  # characters: a repeated subexpression longer than this gets a temporary
_MATH = {"exp": "exp", "log": "log", "tanh": "tanh", "erf": "erf", "sqrt": "sqrt", "abs": "fabs",
         "floor": "floor", "ceil": "ceil", "round": "nearbyint", "pow": "pow"}


@dataclass(frozen=True)
class CExpr:
    text: str
    precedence: int


class ExprRenderer:
    """Renders the expressions of one statement at a time (``begin_statement``); the caller
    writes ``declarations`` (temporaries) before the statement that uses them.

    ``buffer_name(buffer)`` and ``variable_name(var)`` give C identifiers; ``fresh(base)`` makes
    a new unique one; ``locals`` are the names declared by Let (reading one reads state)."""

    def __init__(self, buffer_name: Callable[[Buffer], str], variable_name: Callable[[Var], str],
                 fresh: Callable[[str], str], locals_: frozenset[str] = frozenset(),
                 nonnegative: Callable[[str], bool] = lambda name: False):
        self.nonnegative = nonnegative
        self.buffer_name = buffer_name
        self.variable_name = variable_name
        self.fresh = fresh
        self.locals = locals_
        self.key = ExprKeys()
        self._pure_by_key: dict[int, bool] = {}
        self._sign: dict[int, bool] = {}
        self._uses: dict[int, int] = {}
        self._bound: dict[int, str] = {}
        self.declarations: list[str] = []

    # -- statements -----------------------------------------------------------------------------

    def begin_statement(self, roots: Sequence[Expr]) -> None:
        """Count how often each subexpression of ``roots`` is referenced, to share repeats."""
        self._uses = {}
        self._bound = {}
        self.declarations = []
        pending = list(roots)
        while pending:
            e = pending.pop()
            k = self.key(e)
            self._uses[k] = self._uses.get(k, 0) + 1
            if self._uses[k] == 1:
                pending.extend(children(e))

    def text(self, e: Expr) -> str:
        return self.render(e).text

    # -- expressions ----------------------------------------------------------------------------

    def render(self, e: Expr) -> CExpr:
        k = self.key(e)
        if k in self._bound:
            return CExpr(self._bound[k], PRIMARY)
        result = self._render(e)
        if self._uses.get(k, 0) > 1 and not isinstance(e, (Const, Var)) and \
                len(result.text) > SHARE_ABOVE:
            name = self.fresh("e")
            ctype = INDEX_TYPE if self._is_index(e) else register_type(e.dtype)
            self.declarations.append(f"const {ctype} {name} = {result.text};")
            self._bound[k] = name
            return CExpr(name, PRIMARY)
        return result

    def operand(self, e: Expr, precedence: int) -> str:
        """``e`` as an operand of an operator of ``precedence`` (parenthesised if needed)."""
        r = self.render(e)
        return r.text if r.precedence >= precedence else f"({r.text})"

    def _render(self, e: Expr) -> CExpr:
        if isinstance(e, Const):
            text = literal(e.value, e.dtype)
            return CExpr(text, UNARY if text.startswith("-") else PRIMARY)
        if isinstance(e, Var):
            return CExpr(self.variable_name(e), PRIMARY)
        if isinstance(e, Load):
            return self.load(e.buffer, self.text(e.index))
        if isinstance(e, Binary):
            return self.binary(e)
        if isinstance(e, Unary):
            return self.unary(e)
        if isinstance(e, Call):
            return self.call(e)
        if isinstance(e, Cast):
            return self.cast(e)
        if isinstance(e, Select):
            text = (f"{self.operand(e.cond, OR)} ? {self.operand(e.a, OR)} : "
                    f"{self.operand(e.b, CONDITIONAL)}")
            return self._round_half(CExpr(text, CONDITIONAL), e.dtype, exact=True)
        raise TypeError(f"unknown expression {type(e).__name__}")

    def load(self, buffer: Buffer, index: str) -> CExpr:
        element = f"{self.buffer_name(buffer)}[{index}]"
        if buffer.dtype == DType.bool:
            return CExpr(f"{element} != 0", EQUALITY)
        if buffer.dtype == DType.float16:
            return CExpr(f"mlc_f16_to_f32({element})", PRIMARY)
        return CExpr(element, PRIMARY)

    def store_value(self, buffer: Buffer, value: Expr) -> str:
        """``value`` converted to ``buffer``'s memory type."""
        if buffer.dtype == DType.bool:
            return f"(uint8_t){self.operand(value, UNARY)}"
        if buffer.dtype == DType.float16:
            return f"mlc_f32_to_f16({self.text(value)})"
        return self.text(value)

    def binary(self, e: Binary) -> CExpr:
        dtype, op = e.a.dtype, e.op
        if dtype == DType.bool and op in _BOOL_ARITH:
            op = _BOOL_ARITH[op]
        if dtype.is_float:
            return self.float_binary(op, e)
        if op in ("max", "min"):
            return self._helper(f"mlc_{op}_{helper_suffix(dtype)}", e.a, e.b)
        if op in ("div", "mod", "floordiv"):
            divisor = e.b.value if isinstance(e.b, Const) else None
            if op != "floordiv" and divisor not in (None, 0, -1):
                return self._narrow(self._infix(op, e.a, e.b), dtype)
            if op == "floordiv" and divisor is not None and divisor > 0 and self.nonneg(e.a):
                return self._narrow(self._infix("div", e.a, e.b), dtype)  # floor = truncation
            return self._helper(f"mlc_{op}_{helper_suffix(dtype)}", e.a, e.b)
        if op in ("add", "sub", "mul") and dtype in WIDE_INTS and not self._is_index(e):
            return self._helper(f"mlc_{op}_{helper_suffix(dtype)}", e.a, e.b)
        result = self._infix(op, e.a, e.b)
        return self._narrow(result, dtype) if op in ("add", "sub", "mul") else result

    def float_binary(self, op: str, e: Binary) -> CExpr:
        suffix = helper_suffix(e.a.dtype)
        if op in ("max", "min", "floordiv"):
            result = self._helper(f"mlc_{op}_{suffix}", e.a, e.b)
        elif op == "mod":  # exact: fmod's result is representable in its operands' type
            return self._helper("fmodf" if suffix == "f32" else "fmod", e.a, e.b)
        else:
            result = self._infix(op, e.a, e.b)
            if op in _OPERATOR and _OPERATOR[op][1] in (RELATION, EQUALITY, AND, OR):
                return result
        return self._round_half(result, e.a.dtype, exact=op in ("max", "min"))

    def unary(self, e: Unary) -> CExpr:
        if e.op == "not":
            return CExpr(f"!{self.operand(e.x, UNARY)}", UNARY)
        dtype = e.x.dtype
        if dtype == DType.bool:
            return self.render(e.x)
        if dtype in WIDE_INTS and not self._is_index(e):
            return CExpr(f"mlc_neg_{helper_suffix(dtype)}({self.text(e.x)})", PRIMARY)
        operand = self.operand(e.x, UNARY)
        if operand.startswith("-"):  # "--x" would be a decrement
            operand = f"({operand})"
        return self._narrow(CExpr(f"-{operand}", UNARY), dtype)

    def call(self, e: Call) -> CExpr:
        dtype = e.dtype
        if not dtype.is_float:
            if e.fn == "abs" and dtype not in (DType.uint8, DType.bool):
                return CExpr(f"mlc_abs_{helper_suffix(dtype)}({self.text(e.args[0])})", PRIMARY)
            if e.fn in ("abs", "floor", "ceil", "round"):
                return self.render(e.args[0])
            raise ValueError(f"intrinsic {e.fn} is not defined for {dtype.short}")
        if e.fn in APPROXIMATED and dtype != DType.float64:  # vectorizable; libm's are not
            name = APPROXIMATED[e.fn]
        else:
            name = _MATH[e.fn] + ("" if dtype == DType.float64 else "f")
        args = ", ".join(self.text(a) for a in e.args)
        return self._round_half(CExpr(f"{name}({args})", PRIMARY), dtype,
                                exact=e.fn in ("abs", "floor", "ceil", "round"))

    def cast(self, e: Cast) -> CExpr:
        source, to = e.x.dtype, e.dtype
        if to == DType.bool:
            zero = "0" if not source.is_float else literal(0.0, source)
            return CExpr(f"{self.operand(e.x, RELATION)} != {zero}", EQUALITY)
        if source.is_float and to.is_float:
            if to == DType.float16:
                return CExpr(f"mlc_round_f16({self._as_float(e.x, source)})", PRIMARY)
            if register_type(source) == register_type(to):
                return self.render(e.x)
            return CExpr(f"({register_type(to)}){self.operand(e.x, UNARY)}", UNARY)
        if source.is_float:  # → int: through int64
            helper = "mlc_f64_to_i64" if source == DType.float64 else "mlc_f32_to_i64"
            wide = CExpr(f"{helper}({self.text(e.x)})", PRIMARY)
            return wide if to == DType.int64 else CExpr(f"({register_type(to)}){wide.text}", UNARY)
        if to.is_float:
            converted = CExpr(f"({register_type(to)}){self.operand(e.x, UNARY)}", UNARY)
            return self._round_half(converted, to)
        return CExpr(f"({register_type(to)}){self.operand(e.x, UNARY)}", UNARY)

    # -- helpers --------------------------------------------------------------------------------

    def _infix(self, op: str, a: Expr, b: Expr) -> CExpr:
        symbol, precedence = _OPERATOR[op]
        return CExpr(f"{self.operand(a, precedence)} {symbol} {self.operand(b, precedence + 1)}",
                     precedence)

    def _helper(self, name: str, *args: Expr) -> CExpr:
        return CExpr(f"{name}({', '.join(self.text(a) for a in args)})", PRIMARY)

    @staticmethod
    def _narrow(result: CExpr, dtype: DType) -> CExpr:
        """int8/int16/uint8 arithmetic happens in int; the cast back wraps it."""
        if dtype in (DType.int8, DType.int16, DType.uint8):
            return CExpr(f"({register_type(dtype)})({result.text})", UNARY)
        return result

    @staticmethod
    def _round_half(result: CExpr, dtype: DType, exact: bool = False) -> CExpr:
        if dtype == DType.float16 and not exact:
            return CExpr(f"mlc_round_f16({result.text})", PRIMARY)
        return result

    def _as_float(self, e: Expr, source: DType) -> str:
        return self.text(e) if source != DType.float64 else f"(float){self.operand(e, UNARY)}"

    def _is_index(self, e: Expr) -> bool:
        """i64 arithmetic over loop variables and constants only (no memory, no locals)."""
        return e.dtype == DType.int64 and self._pure(e)

    def nonneg(self, e: Expr) -> bool:
        """Provably >= 0 (loop variables that start at >= 0, and arithmetic keeping that):
        where floor division is C's truncating division, which compilers analyse better."""
        k = self.key(e)
        known = self._sign.get(k)
        if known is None:
            known = self._sign[k] = self._nonneg_uncached(e)
        return known

    def forget_signs(self) -> None:
        """A loop variable's sign changed (a new loop of that name): signs are recomputed."""
        self._sign.clear()

    def _nonneg_uncached(self, e: Expr) -> bool:
        if isinstance(e, Const):
            return e.value >= 0
        if e.dtype in (DType.uint8, DType.bool):
            return True
        if isinstance(e, Var):
            return e.name not in self.locals and self.nonnegative(e.name)
        if isinstance(e, Binary):
            if e.op in ("add", "mul", "min"):
                return self.nonneg(e.a) and self.nonneg(e.b)
            if e.op == "max":
                return self.nonneg(e.a) or self.nonneg(e.b)
            if e.op in ("div", "floordiv", "mod"):
                return self.nonneg(e.a) and isinstance(e.b, Const) and e.b.value > 0
        if isinstance(e, Select):
            return self.nonneg(e.a) and self.nonneg(e.b)
        if isinstance(e, Cast):
            return e.x.dtype in (DType.uint8, DType.bool)
        return False

    def _pure(self, e: Expr) -> bool:
        k = self.key(e)
        known = self._pure_by_key.get(k)
        if known is None:
            if isinstance(e, Load):
                known = False
            elif isinstance(e, Var):
                known = e.name not in self.locals
            else:
                known = all(self._pure(c) for c in children(e))
            self._pure_by_key[k] = known
        return known
