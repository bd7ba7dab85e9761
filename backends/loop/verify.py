"""Static checks of a Kernel's well-formedness, run before rendering and in tests.

The evaluator finds what goes wrong on one run (an out-of-bounds index); this finds what is wrong
on every run, without data: a variable used outside its loop or before its Let, a buffer that is
neither a parameter nor allocated, a store into an input or constant, dtypes that disagree.
A renderer may then assume all of it and stay simple.
"""

from __future__ import annotations

from mlc.ir.dtypes import DType

from .ir import (Allocate, Assign, Binary, Block, Buffer, Call, Cast, Const, Expr, For, Kernel,
                 Let, Load, Select, Stmt, Store, Unary, Var)


class KernelError(ValueError):
    """A kernel breaks a loop-IR invariant (a bug in a lowering or a schedule, not user input)."""


def verify_kernel(kernel: Kernel) -> None:
    names = [p.name for p in kernel.params]
    if len(set(names)) != len(names):
        raise KernelError(f"kernel {kernel.name}: parameter names repeat: {names}")
    owned = {name for name, _ in kernel.constants}
    if not owned <= {p.name for p in kernel.params if p.kind == "const"}:
        raise KernelError(f"kernel {kernel.name}: owned constants {sorted(owned)} must be const "
                          f"params")
    _Checker(kernel, {p.name: p for p in kernel.params}).stmt(kernel.body, frozenset())


class _Checker:
    def __init__(self, kernel: Kernel, buffers: dict[str, Buffer]):
        self.kernel = kernel
        self.buffers = buffers
        self.locals: dict[str, DType] = {}

    def fail(self, message: str) -> None:
        raise KernelError(f"kernel {self.kernel.name}: {message}")

    def buffer(self, buffer: Buffer, writing: bool) -> None:
        if self.buffers.get(buffer.name) != buffer:
            self.fail(f"buffer {buffer.name} is not a parameter or an enclosing allocation")
        if writing and buffer.kind in ("input", "const"):
            self.fail(f"store into {buffer.kind} buffer {buffer.name}")

    def stmt(self, s: Stmt, loops: frozenset[str]) -> None:
        if isinstance(s, Block):
            for child in s.stmts:
                self.stmt(child, loops)
        elif isinstance(s, For):
            if s.var.name in loops or s.var.name in self.locals:
                self.fail(f"loop variable {s.var.name} shadows another")
            if s.var.dtype != DType.int64 or s.step < 1:
                self.fail(f"loop {s.var.name} needs an i64 variable and a positive step")
            self.index(s.start, loops)
            self.index(s.stop, loops)
            self.stmt(s.body, loops | {s.var.name})
        elif isinstance(s, Store):
            self.buffer(s.buffer, writing=True)
            self.index(s.index, loops)
            if self.expr(s.value, loops) != s.buffer.dtype:
                self.fail(f"store of {s.value.dtype.short} into {s.buffer.dtype.short} buffer "
                          f"{s.buffer.name}")
        elif isinstance(s, Let):
            if s.var.name in loops:
                self.fail(f"local {s.var.name} shadows a loop variable")
            self.locals[s.var.name] = s.var.dtype
            if self.expr(s.init, loops) != s.var.dtype:
                self.fail(f"let {s.var.name}: {s.var.dtype.short} initialised with "
                          f"{s.init.dtype.short}")
        elif isinstance(s, Assign):
            if self.locals.get(s.var.name) != s.var.dtype:
                self.fail(f"assignment to undeclared local {s.var.name}")
            if self.expr(s.value, loops) != s.var.dtype:
                self.fail(f"assignment of {s.value.dtype.short} to {s.var.name}: "
                          f"{s.var.dtype.short}")
        elif isinstance(s, Allocate):
            if s.buffer.name in self.buffers or s.buffer.kind != "scratch":
                self.fail(f"allocation {s.buffer.name} must be a new scratch buffer")
            self.buffers[s.buffer.name] = s.buffer
            self.stmt(s.body, loops)
            del self.buffers[s.buffer.name]
        else:
            self.fail(f"unknown statement {type(s).__name__}")

    def index(self, e: Expr, loops: frozenset[str]) -> None:
        if self.expr(e, loops) != DType.int64:
            self.fail(f"index expression of dtype {e.dtype.short}, expected i64")

    def expr(self, e: Expr, loops: frozenset[str]) -> DType:
        """Check ``e`` and return its dtype."""
        if isinstance(e, Const):
            return e.dtype
        if isinstance(e, Var):
            if e.name not in loops and self.locals.get(e.name) != e.dtype:
                self.fail(f"variable {e.name} is not bound here")
            return e.dtype
        if isinstance(e, Load):
            self.buffer(e.buffer, writing=False)
            self.index(e.index, loops)
        elif isinstance(e, Binary):
            if self.expr(e.a, loops) != self.expr(e.b, loops):
                self.fail(f"{e.op} of {e.a.dtype.short} and {e.b.dtype.short}")
            if e.op in ("and", "or") and e.a.dtype != DType.bool:
                self.fail(f"{e.op} of non-bool {e.a.dtype.short}")
        elif isinstance(e, Unary):
            self.expr(e.x, loops)
        elif isinstance(e, Call):
            if len({self.expr(a, loops) for a in e.args}) != 1:
                self.fail(f"{e.fn} with mixed argument dtypes")
        elif isinstance(e, Cast):
            self.expr(e.x, loops)
        elif isinstance(e, Select):
            if self.expr(e.cond, loops) != DType.bool:
                self.fail("select condition is not bool")
            if self.expr(e.a, loops) != self.expr(e.b, loops):
                self.fail(f"select between {e.a.dtype.short} and {e.b.dtype.short}")
        else:
            self.fail(f"unknown expression {type(e).__name__}")
        return e.dtype
