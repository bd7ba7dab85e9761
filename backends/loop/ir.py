"""The loop IR: immutable, hashable nodes for kernels (tinygrad's UOp and TVM's TIR in spirit).

Expressions carry their dtype (so int8 data with int32 accumulators needs nothing new);
statements build loop nests; a Kernel is a named function over Buffers. Indexing is flat: a
Load or Store takes one int64 element offset into a dense row-major buffer, which is what both
renderers emit (a GEP / a C subscript). ``flat_index`` and ``broadcast_index`` build offsets
from per-axis indices.

Build expressions with the lower-case helpers (``add``, ``mul``, ``select``…), not the classes:
they fold constants and drop ``x*1``, ``x+0`` so printed kernels stay readable, using the
semantics of ``scalar`` (the same the evaluator runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence, Union

import numpy as np

from mlc.ir.dtypes import DType

from . import scalar

BUFFER_KINDS = ("input", "output", "arena", "const", "scratch")
LOOP_KINDS = ("serial", "parallel", "vectorized", "unrolled")
i64, f32, boolean = DType.int64, DType.float32, DType.bool


@dataclass(frozen=True)
class Buffer:
    """A dense row-major tensor a kernel reads or writes. ``kind`` says where it lives: kernel
    parameters are input/output/const (a backend binds them to arena slices or weights);
    scratch buffers are declared inside a kernel by Allocate."""

    name: str
    dtype: DType
    shape: tuple[int, ...]
    kind: str = "input"

    def __post_init__(self) -> None:
        if self.kind not in BUFFER_KINDS:
            raise ValueError(f"buffer kind {self.kind!r} not in {BUFFER_KINDS}")
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def strides(self) -> tuple[int, ...]:
        return row_major_strides(self.shape)


# -- expressions --------------------------------------------------------------------------------

class Expr:
    """Base of all expressions; every subclass has a ``dtype``."""

    dtype: DType


@dataclass(frozen=True)
class Const(Expr):
    value: Union[int, float, bool]
    dtype: DType


@dataclass(frozen=True)
class Var(Expr):
    """A loop index (int64) or a scalar local declared by Let (any dtype)."""

    name: str
    dtype: DType = i64


@dataclass(frozen=True)
class Load(Expr):
    buffer: Buffer
    index: Expr

    @property
    def dtype(self) -> DType:  # type: ignore[override]
        return self.buffer.dtype


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # one of scalar.BINARY_OPS
    a: Expr
    b: Expr

    @property
    def dtype(self) -> DType:  # type: ignore[override]
        return boolean if self.op in scalar.COMPARE or self.op in scalar.LOGIC else self.a.dtype


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # neg | not
    x: Expr

    @property
    def dtype(self) -> DType:  # type: ignore[override]
        return self.x.dtype


@dataclass(frozen=True)
class Call(Expr):
    """An intrinsic (scalar.INTRINSICS): exp, log, tanh, erf, sqrt, abs, floor, ceil, round, pow."""

    fn: str
    args: tuple[Expr, ...]

    @property
    def dtype(self) -> DType:  # type: ignore[override]
        return self.args[0].dtype


@dataclass(frozen=True)
class Cast(Expr):
    dtype: DType
    x: Expr


@dataclass(frozen=True)
class Select(Expr):
    """``a if cond else b``. Both sides may be evaluated (LLVM's select): keep loads in bounds."""

    cond: Expr
    a: Expr
    b: Expr

    @property
    def dtype(self) -> DType:  # type: ignore[override]
        return self.a.dtype


# -- statements ---------------------------------------------------------------------------------

class Stmt:
    """Base of all statements."""


@dataclass(frozen=True)
class Store(Stmt):
    buffer: Buffer
    index: Expr
    value: Expr


@dataclass(frozen=True)
class For(Stmt):
    """``for var in start..stop step step``. ``kind`` and ``width`` are schedule annotations:
    every kind means the same iterations; renderers choose how to run them."""

    var: Var
    start: Expr
    stop: Expr
    body: Stmt
    step: int = 1
    kind: str = "serial"
    width: int | None = None  # vector width for kind="vectorized", unroll factor for "unrolled"

    def __post_init__(self) -> None:
        if self.kind not in LOOP_KINDS:
            raise ValueError(f"loop kind {self.kind!r} not in {LOOP_KINDS}")


@dataclass(frozen=True)
class Block(Stmt):
    stmts: tuple[Stmt, ...]


@dataclass(frozen=True)
class Allocate(Stmt):
    """A scratch buffer that exists while ``body`` runs (small; a backend may put it on the
    stack or in the arena)."""

    buffer: Buffer
    body: Stmt


@dataclass(frozen=True)
class Let(Stmt):
    """Declare the mutable scalar local ``var`` (an accumulator) with an initial value."""

    var: Var
    init: Expr


@dataclass(frozen=True)
class Assign(Stmt):
    var: Var
    value: Expr


@dataclass(frozen=True)
class Kernel:
    """One function: reads its input/const params, writes its output params.

    ``constants`` holds data the kernel itself owns — tables made from attributes (per-channel
    scales) and, later, weights a schedule pre-packs at compile time — as (const param name,
    raw bytes) pairs, so the kernel stays hashable; ``constant_arrays`` gives them as arrays.
    Other const params (graph weights) are bound by the caller like inputs."""

    name: str
    params: tuple[Buffer, ...]
    body: Stmt
    constants: tuple[tuple[str, bytes], ...] = ()

    def constant_arrays(self) -> dict[str, np.ndarray]:
        by_name = {p.name: p for p in self.params}
        return {name: np.frombuffer(data, by_name[name].dtype.numpy).reshape(by_name[name].shape)
                for name, data in self.constants}

    @property
    def inputs(self) -> tuple[Buffer, ...]:
        return tuple(p for p in self.params if p.kind != "output")

    @property
    def outputs(self) -> tuple[Buffer, ...]:
        return tuple(p for p in self.params if p.kind == "output")


# -- construction helpers with light simplification --------------------------------------------

ExprLike = Union[Expr, int, float, bool]


def const(value, dtype: DType = i64) -> Const:
    v = scalar.make(value, dtype)
    return Const(bool(v) if dtype == boolean else int(v) if dtype.is_int else float(v), dtype)


def _lift(x: ExprLike, like: Expr | None = None) -> Expr:
    if isinstance(x, Expr):
        return x
    if isinstance(x, bool):
        return const(x, boolean)
    return const(x, like.dtype if like is not None else (i64 if isinstance(x, int) else f32))


def _is(x: Expr, value) -> bool:
    """x is the constant ``value`` (True/False match only bool constants, numbers only numbers)."""
    if not isinstance(x, Const) or isinstance(x.value, bool) != isinstance(value, bool):
        return False
    return x.value == value


# The identities binary() drops: x op unit is x; for the commutative ops, unit op x is x too.
_RIGHT_UNIT = {"add": 0, "sub": 0, "mul": 1, "div": 1, "floordiv": 1, "and": True, "or": False}
_COMMUTATIVE = ("add", "mul", "and", "or")


def binary(op: str, a: ExprLike, b: ExprLike) -> Expr:
    """``Binary(op, a, b)`` with constant folding and identities (x+0, x*1, x*0 for ints…)."""
    if op not in scalar.BINARY_OPS:
        raise ValueError(f"unknown binary op {op!r}")
    a = _lift(a, b if isinstance(b, Expr) else None)
    b = _lift(b, a)
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: operand dtypes differ ({a.dtype.short} vs {b.dtype.short})")
    if isinstance(a, Const) and isinstance(b, Const):
        return const(scalar.binary(op, scalar.make(a.value, a.dtype), scalar.make(b.value, b.dtype),
                                   a.dtype), Binary(op, a, b).dtype)
    if op in _RIGHT_UNIT and _is(b, _RIGHT_UNIT[op]):
        return a
    if op in _COMMUTATIVE and _is(a, _RIGHT_UNIT[op]):
        return b
    if a.dtype.is_int:
        if (op == "mul" and (_is(a, 0) or _is(b, 0))) or (op == "mod" and _is(b, 1)):
            return const(0, a.dtype)
        if op == "add" and isinstance(b, Binary) and b.op == "mod":
            merged = _merge_unravel(a, b)
            if merged is not None:
                return merged
        if op in ("add", "mul") and isinstance(b, Const) and isinstance(a, Binary) and \
                a.op == op and isinstance(a.b, Const):  # (x + 2) + 3 is x + 5
            return binary(op, a.a, binary(op, a.b, b))
    return Binary(op, a, b)


def _merge_unravel(a: Expr, b: Binary) -> Expr | None:
    """Undo ``unravel`` inside ``flat_index``: ``(x//c)*c + x%c`` is ``x`` and
    ``((x//c)%d)*c + x%c`` is ``x%(c*d)``, for the non-negative ``x`` that indices are. So a
    loop over a flattened range that stores through per-axis indices keeps an index affine in
    the loop variable, which is what a renderer needs to vectorize it."""
    if not isinstance(b.b, Const):
        return None
    x, c = b.a, b.b.value

    def combine(term: Expr) -> Expr | None:
        if not (isinstance(term, Binary) and term.op == "mul" and _is(term.b, c)):
            return None
        inner = term.a
        if isinstance(inner, Binary) and inner.op == "floordiv" and inner.a == x and \
                _is(inner.b, c):
            return x
        if isinstance(inner, Binary) and inner.op == "mod" and isinstance(inner.b, Const):
            quotient = inner.a
            if isinstance(quotient, Binary) and quotient.op == "floordiv" and \
                    quotient.a == x and _is(quotient.b, c):
                return mod(x, const(c * inner.b.value, x.dtype))
        return None

    whole = combine(a)
    if whole is not None:
        return whole
    if isinstance(a, Binary) and a.op == "add":
        tail = combine(a.b)
        if tail is not None:
            return add(a.a, tail)
    return None


def _binary_builder(op: str) -> Callable[[ExprLike, ExprLike], Expr]:
    """``name(a, b)`` for ``binary(op, a, b)``: the builders lowerings write expressions with."""

    def build(a: ExprLike, b: ExprLike) -> Expr:
        return binary(op, a, b)

    build.__name__ = build.__qualname__ = op
    return build


add, sub, mul, div = (_binary_builder(op) for op in ("add", "sub", "mul", "div"))
floordiv, mod = _binary_builder("floordiv"), _binary_builder("mod")
maximum, minimum = _binary_builder("max"), _binary_builder("min")
lt, le, ge, eq = (_binary_builder(op) for op in ("lt", "le", "ge", "eq"))


def and_(*conds: Expr) -> Expr:
    result: Expr = const(True, boolean)
    for c in conds:
        result = binary("and", result, c)
    return result


def neg(x: Expr) -> Expr:
    if isinstance(x, Const):
        return const(scalar.unary("neg", scalar.make(x.value, x.dtype), x.dtype), x.dtype)
    return Unary("neg", x)


def not_(x: Expr) -> Expr:
    if isinstance(x, Const):
        return const(not x.value, boolean)
    return Unary("not", x)


def call(fn: str, *args: ExprLike) -> Expr:
    if scalar.INTRINSICS.get(fn) != len(args):
        raise ValueError(f"unknown intrinsic {fn} with {len(args)} arguments")
    first = _lift(args[0])
    lifted = tuple(_lift(a, first) for a in args)
    if all(isinstance(a, Const) for a in lifted):
        values = [scalar.make(a.value, a.dtype) for a in lifted]  # type: ignore[union-attr]
        return const(scalar.call(fn, values, first.dtype), first.dtype)
    return Call(fn, lifted)


def cast(dtype: DType, x: Expr) -> Expr:
    if x.dtype == dtype:
        return x
    if isinstance(x, Const):
        return const(scalar.cast(scalar.make(x.value, x.dtype), x.dtype, dtype), dtype)
    return Cast(dtype, x)


def select(cond: Expr, a: ExprLike, b: ExprLike) -> Expr:
    a = _lift(a, b if isinstance(b, Expr) else None)
    b = _lift(b, a)
    if isinstance(cond, Const):
        return a if cond.value else b
    if a == b:
        return a
    return Select(cond, a, b)


def clamp(x: Expr, low: ExprLike, high: ExprLike) -> Expr:
    return minimum(maximum(x, low), high)


def block(*stmts: Stmt) -> Stmt:
    """A Block of the given statements, flattening nested Blocks; one statement stays itself."""
    flat: list[Stmt] = []
    for s in stmts:
        flat.extend(s.stmts if isinstance(s, Block) else (s,))
    return flat[0] if len(flat) == 1 else Block(tuple(flat))


# -- index arithmetic ---------------------------------------------------------------------------

def row_major_strides(shape: Sequence[int]) -> tuple[int, ...]:
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= int(dim)
    return tuple(reversed(strides))


def flat_index(shape: Sequence[int], index: Sequence[Expr]) -> Expr:
    """The row-major element offset of ``index`` in a dense tensor of ``shape``."""
    if len(shape) != len(index):
        raise ValueError(f"index of rank {len(index)} for shape {list(shape)}")
    offset: Expr = const(0)
    for stride, (dim, i) in zip(row_major_strides(shape), zip(shape, index)):
        if dim != 1:
            offset = add(offset, mul(i, stride))
    return offset


def unravel(shape: Sequence[int], flat: Expr) -> tuple[Expr, ...]:
    """Per-axis indices of the row-major offset ``flat`` (which is < prod(shape))."""
    result = []
    strides = row_major_strides(shape)
    for axis, (dim, stride) in enumerate(zip(shape, strides)):
        if dim == 1:
            result.append(const(0))
            continue
        i = floordiv(flat, stride)
        result.append(i if axis == 0 or all(d == 1 for d in shape[:axis]) else mod(i, dim))
    return tuple(result)


def broadcast_index(in_shape: Sequence[int], out_shape: Sequence[int],
                    index: Sequence[Expr]) -> tuple[Expr, ...]:
    """The index into an input of ``in_shape`` numpy-broadcast to ``out_shape`` at ``index``."""
    lead = len(out_shape) - len(in_shape)
    return tuple(const(0) if dim == 1 and out_shape[lead + k] != 1 else index[lead + k]
                 for k, dim in enumerate(in_shape))
