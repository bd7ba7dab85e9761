"""Loop-IR expressions → LLVM values, scalar or ``<W x T>``, with ``scalar.py``'s semantics.

Every operation works on scalars and vectors alike (LLVM's instructions do): a vectorized loop
body is rendered by the same code, with ``VectorContext`` supplying the loop variable's lanes and
the contiguous loads. Where C or LLVM would differ from ``scalar.py`` the rule is spelled out:
integer division by zero gives 0 and ``INT_MIN / -1`` wraps (guarded by a safe divisor); max/min
of floats propagate NaN (``llvm.maximum``); float → int casts give INT64_MIN (then wrapped) for
NaN, ±inf and out-of-range values; fadd/fsub/fmul carry only the ``contract`` flag so LLVM may
form FMAs but NaN and inf behave.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import llvmlite.ir as lir

from mlc.backends.loop.ir import (Binary, Buffer, Call, Cast, Const, Expr, Load, Select, Unary,
                                  Var)
from mlc.backends.loop.keys import ExprKeys
from mlc.backends.loop.visit import children
from mlc.ir.dtypes import DType

from . import lltypes as T
from . import vector_math
from .emitter import KernelEmitter

if TYPE_CHECKING:
    from .codegen import ModuleCodegen
    from .vector import VectorContext

CONTRACT = ("contract",)
FLOAT_COMPARE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
LLVM_MATH = {"exp": "exp", "log": "log", "sqrt": "sqrt", "abs": "fabs", "floor": "floor",
             "ceil": "ceil", "round": "roundeven", "pow": "pow"}
LIBM = {"tanh": "tanh", "erf": "erf"}


class ExprEmitter(KernelEmitter):
    """The values half of a ``KernelEmitter``: the subclass in ``codegen`` provides the
    function being filled (``builder``, ``scope``…), names (``buffer_pointer``,
    ``scalar_var``) and statements; ``vec`` is the enclosing vectorized loop, if any.

    Expressions are DAGs (lowering shares subtrees, schedules repeat index arithmetic in every
    unrolled copy), so emitted values are memoized per Expr while they stay valid: the statement
    emitter calls ``forget_state`` after anything that writes memory or a local, ``forget_var``
    when a loop variable is rebound, and saves/restores the memo around loop bodies (a value
    made inside a loop does not dominate the code after it). That keeps the IR handed to LLVM,
    and the time spent printing and parsing it, proportional to the kernel's text."""

    def __init__(self, codegen: ModuleCodegen, local_names: frozenset[str] = frozenset()):
        self.codegen = codegen
        self.vec: VectorContext | None = None
        self.key = ExprKeys()
        self.memo: dict[int, lir.Value] = {}  # by ExprKeys key
        self.local_names = local_names  # names declared by Let: reading them reads state
        self._facts: dict[int, tuple[bool, frozenset[str]]] = {}

    # -- memory -----------------------------------------------------------------------------------

    def element_pointer(self, buffer: Buffer, index: lir.Value) -> lir.Value:
        return self.builder.gep(self.buffer_pointer(buffer), [index],
                                source_etype=T.mem(buffer.dtype), inbounds=True)

    def load_scalar(self, buffer: Buffer, index: lir.Value) -> lir.Value:
        value = self.builder.load(self.element_pointer(buffer, index), typ=T.mem(buffer.dtype))
        value.align = buffer.dtype.itemsize
        return self.from_memory(value, buffer.dtype)

    def store_scalar(self, buffer: Buffer, index: lir.Value, value: lir.Value) -> None:
        stored = self.builder.store(self.to_memory(value, buffer.dtype),
                                    self.element_pointer(buffer, index))
        stored.align = buffer.dtype.itemsize

    def from_memory(self, value: lir.Value, dtype: DType) -> lir.Value:
        if dtype == DType.bool:
            return self.builder.icmp_unsigned("!=", value, T.constant(value.type, 0))
        return value

    def to_memory(self, value: lir.Value, dtype: DType) -> lir.Value:
        if dtype == DType.bool:
            return self.builder.zext(value, T.reg(DType.int8, T.lanes(value)))
        return value

    # -- memo -------------------------------------------------------------------------------------

    def facts(self, e: Expr) -> tuple[bool, frozenset[str]]:
        """(whether ``e`` reads memory or a local, the variable names it mentions)."""
        key = self.key(e)
        known = self._facts.get(key)
        if known is not None:
            return known
        if isinstance(e, Var):
            result = (e.name in self.local_names, frozenset((e.name,)))
        elif isinstance(e, Const):
            result = (False, frozenset())
        else:
            parts = [self.facts(c) for c in children(e)]
            result = (isinstance(e, Load) or any(p[0] for p in parts),
                      frozenset().union(*(p[1] for p in parts)))
        self._facts[key] = result
        return result

    def forget_state(self) -> None:
        """Memory or a local changed: values that read either are stale."""
        facts = self._facts
        self.memo = {k: v for k, v in self.memo.items() if not facts[k][0]}

    def forget_var(self, name: str) -> None:
        facts = self._facts
        self.memo = {k: v for k, v in self.memo.items() if name not in facts[k][1]}

    def expr(self, e: Expr) -> lir.Value:
        key = self.key(e)
        value = self.memo.get(key)
        if value is None:
            self.facts(e)
            value = self.memo[key] = self._expr(e)
        return value

    def _expr(self, e: Expr) -> lir.Value:
        if isinstance(e, Const):
            return T.constant(T.reg(e.dtype), int(e.value) if not e.dtype.is_float
                              else float(e.value))
        if isinstance(e, Var):
            if self.vec is not None and self.vec.handles(e):
                return self.vec.var(e)
            return self.scalar_var(e)
        if isinstance(e, Load):
            if self.vec is not None:
                return self.vec.load(e)
            return self.load_scalar(e.buffer, self.expr(e.index))
        if isinstance(e, Binary):
            a, b = self.unify(self.expr(e.a), self.expr(e.b))
            return self.binary(e.op, a, b, e.a.dtype)
        if isinstance(e, Unary):
            return self.unary(e.op, self.expr(e.x), e.x.dtype)
        if isinstance(e, Call):
            args = self.unify(*[self.expr(a) for a in e.args])
            return self.call(e.fn, args, e.dtype)
        if isinstance(e, Cast):
            return self.cast(self.expr(e.x), e.x.dtype, e.dtype)
        if isinstance(e, Select):
            cond, a, b = self.unify(self.expr(e.cond), self.expr(e.a), self.expr(e.b))
            return self.builder.select(cond, a, b)
        raise TypeError(f"unknown expression {type(e).__name__}")

    def splat(self, value: lir.Value, width: int) -> lir.Value:
        if T.is_vector(value):
            return value
        if isinstance(value, lir.Constant):
            return lir.Constant(lir.VectorType(value.type, width), [value] * width)
        vty = lir.VectorType(value.type, width)
        one = self.builder.insert_element(lir.Constant(vty, None), value, lir.Constant(T.i32, 0))
        return self.builder.shuffle_vector(one, lir.Constant(vty, None),
                                           lir.Constant(lir.VectorType(T.i32, width), [0] * width))

    def unify(self, *values: lir.Value) -> list[lir.Value]:
        """Splat the scalars among ``values`` when any of them is a vector."""
        width = next((v.type.count for v in values if T.is_vector(v)), None)
        return [self.splat(v, width) for v in values] if width else list(values)

    # -- operators --------------------------------------------------------------------------------

    def binary(self, op: str, a: lir.Value, b: lir.Value, dtype: DType) -> lir.Value:
        bld = self.builder
        if dtype.is_float:
            contracted = {"add": bld.fadd, "sub": bld.fsub, "mul": bld.fmul}
            if op in contracted:
                return contracted[op](a, b, flags=CONTRACT)
            if op in ("div", "mod"):
                return (bld.fdiv if op == "div" else bld.frem)(a, b)
            if op == "floordiv":
                return self.float_floordiv(a, b)
            if op in ("max", "min"):
                return self.intrinsic("maximum" if op == "max" else "minimum", [a, b])
            if op == "ne":
                return bld.fcmp_unordered("!=", a, b)
            return bld.fcmp_ordered(FLOAT_COMPARE[op], a, b)
        unsigned = dtype in T.UNSIGNED
        ops = {"add": bld.add, "sub": bld.sub, "mul": bld.mul, "and": bld.and_, "or": bld.or_}
        if dtype == DType.bool:
            ops.update(add=bld.or_, max=bld.or_, sub=bld.xor, mul=bld.and_, min=bld.and_)
        if op in ops:
            return ops[op](a, b)
        if op in ("div", "mod", "floordiv"):
            return self.int_division(op, a, b, unsigned)
        if op in ("max", "min"):
            cmp = (bld.icmp_unsigned if unsigned else bld.icmp_signed)(
                ">" if op == "max" else "<", a, b)
            return bld.select(cmp, a, b)
        return (bld.icmp_unsigned if unsigned else bld.icmp_signed)(FLOAT_COMPARE[op], a, b)

    def int_division(self, op: str, a: lir.Value, b: lir.Value, unsigned: bool) -> lir.Value:
        """C division/remainder or floor division; x/0 = x%0 = 0 and INT_MIN/-1 wraps, with no
        trapping instruction ever executed (the divisor is made safe first)."""
        bld = self.builder
        ty = a.type
        zero, one = T.constant(ty, 0), T.constant(ty, 1)
        is_zero = bld.icmp_unsigned("==", b, zero)
        if unsigned:
            safe = bld.select(is_zero, one, b)
            result = (bld.urem if op == "mod" else bld.udiv)(a, safe)
            return bld.select(is_zero, zero, result)
        is_minus_one = bld.icmp_signed("==", b, T.constant(ty, -1))
        safe = bld.select(bld.or_(is_zero, is_minus_one), one, b)
        quotient, remainder = bld.sdiv(a, safe), bld.srem(a, safe)
        if op == "mod":
            result = remainder
            special = zero
        else:
            result = quotient
            if op == "floordiv":  # round toward -inf: q - 1 when r != 0 and r, b differ in sign
                adjust = bld.and_(bld.icmp_signed("!=", remainder, zero),
                                  bld.icmp_signed("<", bld.xor(remainder, b), zero))
                result = bld.sub(quotient, bld.zext(adjust, ty))
            special = bld.sub(zero, a)  # x / -1 wraps: INT_MIN stays INT_MIN
        result = bld.select(is_minus_one, special, result)
        return bld.select(is_zero, zero, result)

    def float_floordiv(self, a: lir.Value, b: lir.Value) -> lir.Value:
        """numpy's floor_divide (npy_divmod): floor((a - fmod(a, b)) / b) with its corrections."""
        bld = self.builder
        ty = a.type
        zero = T.constant(ty, 0.0)
        mod = bld.frem(a, b)
        div = bld.fdiv(bld.fsub(a, mod), b)
        mod_nonzero = bld.fcmp_unordered("!=", mod, zero)
        signs_differ = bld.xor(bld.fcmp_ordered("<", b, zero), bld.fcmp_ordered("<", mod, zero))
        div = bld.select(bld.and_(mod_nonzero, signs_differ),
                         bld.fsub(div, T.constant(ty, 1.0)), div)
        floor = self.intrinsic("floor", [div])
        floor = bld.select(bld.fcmp_ordered(">", bld.fsub(div, floor), T.constant(ty, 0.5)),
                           bld.fadd(floor, T.constant(ty, 1.0)), floor)
        quotient = bld.fdiv(a, b)
        signed_zero = self.intrinsic("copysign", [zero, quotient])
        floor = bld.select(bld.fcmp_unordered("!=", div, zero), floor, signed_zero)
        return bld.select(bld.fcmp_ordered("==", b, zero), quotient, floor)

    def unary(self, op: str, x: lir.Value, dtype: DType) -> lir.Value:
        if op == "not":
            return self.builder.xor(x, T.constant(x.type, 1))
        if dtype.is_float:
            return self.builder.fneg(x)
        if dtype == DType.bool:
            return x
        return self.builder.sub(T.constant(x.type, 0), x)

    def call(self, fn: str, args: list[lir.Value], dtype: DType) -> lir.Value:
        bld = self.builder
        if dtype.is_int or dtype == DType.bool:
            if fn == "abs" and dtype not in T.UNSIGNED:
                return self.intrinsic("abs", [args[0], lir.Constant(T.i1, 0)])
            if fn in ("abs", "floor", "ceil", "round"):
                return args[0]
            raise ValueError(f"intrinsic {fn} is not defined for {dtype.short}")
        if dtype == DType.float16:  # computed in f32 and rounded once to half
            wide = [bld.fpext(a, T.reg(DType.float32, T.lanes(a))) for a in args]
            return bld.fptrunc(self.call(fn, wide, DType.float32), args[0].type)
        if vector_math.supports(fn, args[0]):
            return vector_math.emit(self, fn, args[0])
        if fn in LLVM_MATH:
            return self.intrinsic(LLVM_MATH[fn], args)
        name = LIBM[fn] + ("f" if dtype == DType.float32 else "")
        return self.per_lane(lambda xs: bld.call(self.codegen.declare(
            name, xs[0].type, [x.type for x in xs]), xs), args)

    def per_lane(self, fn, args: list[lir.Value]) -> lir.Value:
        """Apply a scalar-only ``fn`` to each lane of vector ``args`` (libm calls)."""
        if not T.is_vector(args[0]):
            return fn(args)
        bld = self.builder
        width = args[0].type.count
        result: lir.Value | None = None
        for lane in range(width):
            index = lir.Constant(T.i32, lane)
            out = fn([bld.extract_element(a, index) for a in args])
            if result is None:
                result = lir.Constant(lir.VectorType(out.type, width), None)
            result = bld.insert_element(result, out, index)
        assert result is not None
        return result

    def intrinsic(self, name: str, args: list[lir.Value]) -> lir.Value:
        """``llvm.<name>.<suffix>`` overloaded on the first argument's (vector) type."""
        ty = args[0].type
        fn = self.codegen.declare(f"llvm.{name}.{T.suffix(ty)}", ty, [a.type for a in args])
        return self.builder.call(fn, args)

    def cast(self, x: lir.Value, source: DType, to: DType) -> lir.Value:
        bld = self.builder
        width = T.lanes(x)
        target = T.reg(to, width)
        if to == DType.bool:
            if source.is_float:
                return bld.fcmp_unordered("!=", x, T.constant(x.type, 0.0))
            return bld.icmp_unsigned("!=", x, T.constant(x.type, 0))
        if source.is_float and to.is_float:
            if source.itemsize < to.itemsize:
                return bld.fpext(x, target)
            return bld.fptrunc(x, target)
        if source.is_float:  # → int: through i64, NaN/inf/out of range give INT64_MIN
            wide = T.reg(DType.int64, width)
            limit = T.constant(x.type, 2.0 ** 63)
            in_range = bld.fcmp_ordered("<", bld.call(self.codegen.declare(
                f"llvm.fabs.{T.suffix(x.type)}", x.type, [x.type]), [x]), limit)
            safe = bld.select(in_range, x, T.constant(x.type, 0.0))
            value = bld.select(in_range, bld.fptosi(safe, wide), T.constant(wide, -(1 << 63)))
            return value if to == DType.int64 else bld.trunc(value, target)
        unsigned = source in T.UNSIGNED
        if to.is_float:
            return (bld.uitofp if unsigned else bld.sitofp)(x, target)
        if source.itemsize == to.itemsize and source != DType.bool:
            return x
        if T.reg(source).width > T.reg(to).width:
            return bld.trunc(x, target)
        return (bld.zext if unsigned else bld.sext)(x, target)
