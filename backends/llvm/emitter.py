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
    def builder(self) -> lir.IRBuilder:
        """Where instructions go (the current scope's)."""

    def open_scope(self, fn: lir.Function, buffers: dict[str, lir.Value], workspace: lir.Value,
                   in_parallel: bool = False) -> Scope:
        """Start filling ``fn``, with ``buffers`` and ``workspace`` bound; it is ``scope`` now."""

    def alloca(self, ty: lir.Type, align: int | None = None) -> lir.Value:
        """A stack slot of ``ty`` in the entry block of the current function."""

    def buffer_pointer(self, buffer: Buffer) -> lir.Value:
        """The base pointer of ``buffer`` here."""

    def element_pointer(self, buffer: Buffer, index: lir.Value) -> lir.Value:
        """The address of element ``index`` of ``buffer``."""

    def scalar_var(self, var: Var) -> lir.Value:
        """The scalar value of a loop variable or local."""

    def bind_scalar(self, var: Var, value: lir.Value, body: Callable[[], None]) -> None:
        """Run ``body`` with ``var`` bound to ``value``."""

    def expr(self, e: Expr) -> lir.Value:
        """``e`` as a value: scalar, or ``<W x T>`` where it varies in a vectorized loop."""

    def facts(self, e: Expr) -> tuple[bool, frozenset[str]]:
        """Whether ``e`` reads memory or a local, and the variable names it mentions."""

    def splat(self, value: lir.Value, width: int) -> lir.Value:
        """``value`` as a vector of ``width`` lanes (a vector stays itself)."""

    def intrinsic(self, name: str, args: list[lir.Value]) -> lir.Value:
        """A call of ``llvm.<name>`` overloaded on the first argument's type."""

    def load_scalar(self, buffer: Buffer, index: lir.Value) -> lir.Value:
        """One element of ``buffer``, in its register type."""

    def from_memory(self, value: lir.Value, dtype: DType) -> lir.Value:
        """A loaded value of ``dtype`` in its register type (bool: byte → i1)."""

    def to_memory(self, value: lir.Value, dtype: DType) -> lir.Value:
        """A register value of ``dtype`` in its memory type (bool: i1 → byte)."""

    def stmt(self, s: Stmt) -> None:
        """Emit statement ``s`` at the builder."""
