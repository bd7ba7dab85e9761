"""Static checks of a Kernel's well-formedness, run before rendering and in tests.

The evaluator finds what goes wrong on one run (an out-of-bounds index); this finds what is wrong
on every run, without data: a variable used outside its loop or before its Let, a buffer that is
neither a parameter nor allocated, a store into an input or constant, dtypes that disagree.
A renderer may then assume all of it and stay simple.

It also checks the contract of the loop kinds (``loop_kind_violation``): an unrolled loop has
constant bounds; a vectorized loop has constant bounds, step 1, an extent divisible by its width,
and a body with only unrolled loops, no Allocate, only locals it declares itself, and stores at
indices that vary with the loop variable; a parallel loop holds no scratch too large for the
stack. Renderers fall back to serial code for a vectorized loop that breaks it, but that is a
bug in the schedule that made it, so it is an error here.
"""

from __future__ import annotations

from mlc.ir.dtypes import DType

from .analysis import depends_on
from .ir import (Allocate, Assign, Binary, Block, Buffer, Call, Cast, Const, Expr, For, Kernel,
                 Let, Load, Select, Stmt, Store, Unary, Var)
from .scratch import STACK_LIMIT_BYTES, on_stack
from .visit import children, walk


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
    problem = _loop_kinds(kernel.body, in_parallel=False)
    if problem:
        raise KernelError(f"kernel {kernel.name}: {problem}")


def loop_kind_violation(loop: For) -> str | None:
    """Why ``loop`` breaks the contract of its kind (see the module docstring), or None."""
    if loop.kind == "unrolled" and not (isinstance(loop.start, Const) and
                                        isinstance(loop.stop, Const)):
        return f"unrolled loop {loop.var.name} needs constant bounds"
    if loop.kind != "vectorized":
        return None
    name = loop.var.name
    if not (isinstance(loop.start, Const) and isinstance(loop.stop, Const)):
        return f"vectorized loop {name} needs constant bounds"
    width = loop.width or 1
    if loop.step != 1:
        return f"vectorized loop {name} needs step 1"
    if (int(loop.stop.value) - int(loop.start.value)) % width:
        return f"vectorized loop {name}: extent is not a multiple of the width {width}"
    return _vector_body(loop.body, name)


def _vector_body(body: Stmt, var: str) -> str | None:
    """What in ``body`` breaks the contract of vectorized loop ``var`` (the first in program
    order), or None. A store's index varies when it mentions ``var`` or a local of the body."""
    where = f"in the body of vectorized loop {var}"
    declared: set[str] = set()
    for s in walk(body):
        if isinstance(s, For) and (s.kind != "unrolled" or
                                   not (isinstance(s.start, Const) and isinstance(s.stop, Const))):
            return f"{where}: loop {s.var.name} is not unrolled with constant bounds"
        if isinstance(s, Let):
            declared.add(s.var.name)
        elif isinstance(s, Assign) and s.var.name not in declared:
            return f"{where}: assignment to {s.var.name}, a local declared outside it"
        elif isinstance(s, Allocate):
            return f"{where}: allocation of {s.buffer.name}"
        elif isinstance(s, Store) and not depends_on(s.index, {var} | declared):
            return f"{where}: store into {s.buffer.name} at an index that does not vary with {var}"
    return None


def _loop_kinds(s: Stmt, in_parallel: bool) -> str | None:
    if isinstance(s, For):
        problem = loop_kind_violation(s)
        if problem:
            return problem
        in_parallel = in_parallel or s.kind == "parallel"
    elif isinstance(s, Allocate) and in_parallel and not on_stack(s):
        return (f"scratch {s.buffer.name} ({s.buffer.numel * s.buffer.dtype.itemsize} bytes) "
                f"inside a parallel loop is over the {STACK_LIMIT_BYTES}-byte stack limit")
    return next((p for p in (_loop_kinds(c, in_parallel) for c in children(s)) if p), None)


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
        elif isinstance(e, (Unary, Cast)):
            self.expr(e.x, loops)
        elif isinstance(e, Call):
            if len({self.expr(a, loops) for a in e.args}) != 1:
                self.fail(f"{e.fn} with mixed argument dtypes")
        elif isinstance(e, Select):
            if self.expr(e.cond, loops) != DType.bool:
                self.fail("select condition is not bool")
            if self.expr(e.a, loops) != self.expr(e.b, loops):
                self.fail(f"select between {e.a.dtype.short} and {e.b.dtype.short}")
        else:
            self.fail(f"unknown expression {type(e).__name__}")
        return e.dtype
