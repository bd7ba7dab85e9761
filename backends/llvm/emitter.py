"""The emitter of one kernel as the LLVM code generator's parts see it: ``KernelEmitter``.

Why: the emitter is split over modules by job — statements and loops (``codegen.py``),
expressions (``exprs.py``), vectorized loops (``vector.py``), parallel outlining
(``parallel.py``), inline vector math (``vector_math.py``) — and the parts call back into it.
This protocol names everything they may call, so each part types against one public contract
instead of the implementation. ``exprs.ExprEmitter`` subclasses it and implements the values;
``codegen`` implements the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

import llvmlite.ir as lir

from mlc.backends.loop.ir import Buffer, Expr, Stmt, Var
from mlc.backends.loop.keys import ExprKeys
from mlc.ir.dtypes import DType

if TYPE_CHECKING:
    from .codegen import ModuleCodegen
    from .vector import VectorContext


@dataclass
class Scope:
    """One LLVM function being filled: its builder, an alloca block, and what names mean in it."""

    fn: lir.Function
    builder: lir.IRBuilder
    allocas: lir.IRBuilder
    buffers: dict[str, lir.Value]
    workspace: lir.Value
    scalars: dict[str, lir.Value] = field(default_factory=dict)  # loop vars, read-only locals
    slots: dict[str, tuple[lir.Value, lir.Type]] = field(default_factory=dict)  # mutable locals
    in_parallel: bool = False

    def close(self) -> None:
        self.builder.ret_void()


class KernelEmitter(Protocol):
    """The emitter of one kernel; its attributes and methods are all the parts may use."""

    codegen: ModuleCodegen  # the module: declarations, new functions, unique names
    fname: str  # the kernel's function (outlined functions are named after it)
    scope: Scope  # the function being filled now
    vec: VectorContext | None  # the vectorized loop being rendered, if any
    key: ExprKeys  # structural keys of expressions
    memo: dict[int, lir.Value]  # emitted values by key, while they stay valid

    @property
    def builder(self) -> lir.IRBuilder: ...  # where instructions go (the scope's)

    # start filling ``fn`` with ``buffers`` and ``workspace`` bound: it is ``scope`` from now on
    def open_scope(self, fn: lir.Function, buffers: dict[str, lir.Value], workspace: lir.Value,
                   in_parallel: bool = False) -> Scope: ...

    # a stack slot in the entry block of the scope's function
    def alloca(self, ty: lir.Type, align: int | None = None) -> lir.Value: ...

    # names: a buffer's base pointer and an element's address; a loop variable's or local's
    # scalar value; run ``body`` with ``var`` bound to ``value``
    def buffer_pointer(self, buffer: Buffer) -> lir.Value: ...
    def element_pointer(self, buffer: Buffer, index: lir.Value) -> lir.Value: ...
    def scalar_var(self, var: Var) -> lir.Value: ...
    def bind_scalar(self, var: Var, value: lir.Value, body: Callable[[], None]) -> None: ...

    # values: ``e`` (scalar, or ``<W x T>`` where it varies in a vectorized loop); whether ``e``
    # reads memory or a local and the variables it mentions; a scalar splatted to ``width``
    # lanes; a call of ``llvm.<name>`` overloaded on the first argument's type
    def expr(self, e: Expr) -> lir.Value: ...
    def facts(self, e: Expr) -> tuple[bool, frozenset[str]]: ...
    def splat(self, value: lir.Value, width: int) -> lir.Value: ...
    def intrinsic(self, name: str, args: list[lir.Value]) -> lir.Value: ...

    # memory: one element of a buffer; a value between its memory and register types (bool is
    # a byte in memory, i1 in registers)
    def load_scalar(self, buffer: Buffer, index: lir.Value) -> lir.Value: ...
    def from_memory(self, value: lir.Value, dtype: DType) -> lir.Value: ...
    def to_memory(self, value: lir.Value, dtype: DType) -> lir.Value: ...

    def stmt(self, s: Stmt) -> None: ...  # emit a statement at the builder
