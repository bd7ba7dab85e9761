"""Vectorized loops: W iterations of a loop body at once, as ``<W x T>`` LLVM values.

The contract (backends/loop): constant bounds, step 1, an extent divisible by W; inside, only
unrolled loops and locals declared in the body. An expression that does not depend on the loop
variable stays scalar (and is splatted where it meets a vector); a Load or Store whose index is
``base + 1 * var`` with a uniform base is one contiguous vector access aligned to the element
size (buffers are only element-aligned); any other index is a gather or a scatter (one
instruction on AVX2/AVX-512, scalarized by LLVM elsewhere), whose lanes go in order, so even a
store at a repeated index gives the serial loop's result.
"""

from __future__ import annotations

import llvmlite.ir as lir

from mlc.backends.loop import ir
from mlc.backends.loop.ir import Assign, Binary, Buffer, Const, Expr, For, Let, Load, Store, Var
from mlc.backends.loop.verify import loop_kind_violation

from . import lltypes as T
from .emitter import KernelEmitter


def renders_as_vectors(loop: For) -> bool:
    """Whether ``loop`` (kind vectorized) meets the contract (``verify.loop_kind_violation``) and
    is wider than one lane, so it is rendered as vectors; if not it is rendered serially, which
    gives the same results."""
    if (loop.width or 1) < 2 or loop_kind_violation(loop) is not None:
        return False
    return int(loop.stop.value) >= int(loop.start.value)  # type: ignore[union-attr]


class VectorContext:
    """The state of one vectorized loop being rendered: its variable, the scalar i64 ``base``
    of the current W iterations, and the body's locals (``<W x T>`` stack slots)."""

    def __init__(self, em: KernelEmitter, var: Var, base: lir.Value, width: int):
        self.em = em
        self.loop_var = var
        self.base = base
        self.width = width
        self.locals: dict[str, tuple[lir.Value, lir.Type]] = {}
        self._varying = frozenset((var.name,))
        self._linear: dict[int, tuple[Expr, int] | None] = {}  # by ExprKeys key

    # -- variables --------------------------------------------------------------------------------

    def handles(self, var: Var) -> bool:
        return var.name == self.loop_var.name or var.name in self.locals

    def owns(self, var: Var) -> bool:
        return var.name in self.locals

    def var(self, var: Var) -> lir.Value:
        em = self.em
        if var.name == self.loop_var.name:
            lanes = lir.Constant(lir.VectorType(T.i64, self.width),
                                 [T.const_i64(k) for k in range(self.width)])
            return em.builder.add(em.splat(self.base, self.width), lanes)
        slot, ty = self.locals[var.name]
        return em.builder.load(slot, typ=ty)

    def set_local(self, s: Let | Assign) -> None:
        """A Let of the body declares a ``<W x T>`` slot (once), an Assign sets it."""
        em = self.em
        if isinstance(s, Let) and s.var.name not in self.locals:
            ty = T.reg(s.var.dtype, self.width)
            self.locals[s.var.name] = (em.alloca(ty), ty)
            self._varying = self._varying | {s.var.name}
            self._linear.clear()
        value = s.init if isinstance(s, Let) else s.value
        em.builder.store(em.splat(em.expr(value), self.width), self.locals[s.var.name][0])

    # -- memory -----------------------------------------------------------------------------------

    def load(self, e: Load) -> lir.Value:
        em = self.em
        linear = self.linear(e.index)
        if linear is not None and linear[1] == 0:
            return em.load_scalar(e.buffer, em.expr(e.index))
        if linear is not None and linear[1] == 1:
            pointer = self.contiguous_pointer(e.buffer, linear[0])
            value = em.builder.load(pointer, typ=lir.VectorType(T.mem(e.buffer.dtype), self.width))
            value.align = e.buffer.dtype.itemsize
            return em.from_memory(value, e.buffer.dtype)
        return self.gather(e)

    def gather(self, e: Load) -> lir.Value:
        """A load at lane-varying, non-contiguous offsets: ``llvm.masked.gather`` (one
        instruction with AVX2/AVX-512; LLVM scalarizes it elsewhere)."""
        em = self.em
        vector = lir.VectorType(T.mem(e.buffer.dtype), self.width)
        pointers = self.addresses(e.buffer, e.index)
        mask_type = lir.VectorType(T.i1, self.width)
        gather = em.codegen.declare(
            f"llvm.masked.gather.{T.suffix(vector)}.v{self.width}p0", vector,
            [pointers.type, T.i32, mask_type, vector])
        value = em.builder.call(gather, [pointers, lir.Constant(T.i32, e.buffer.dtype.itemsize),
                                         T.constant(mask_type, 1), lir.Constant(vector, None)])
        return em.from_memory(value, e.buffer.dtype)

    def store(self, s: Store) -> None:
        em = self.em
        value = em.splat(em.expr(s.value), self.width)
        linear = self.linear(s.index)
        if linear is not None and linear[1] == 1:
            pointer = self.contiguous_pointer(s.buffer, linear[0])
            stored = em.builder.store(em.to_memory(value, s.buffer.dtype), pointer)
            stored.align = s.buffer.dtype.itemsize
            return
        # elsewhere: a scatter, whose lanes write in order (the serial loop's last write wins)
        elem = T.mem(s.buffer.dtype)
        vector = lir.VectorType(elem, self.width)
        pointers = self.addresses(s.buffer, s.index)
        mask_type = lir.VectorType(T.i1, self.width)
        scatter = em.codegen.declare(
            f"llvm.masked.scatter.{T.suffix(vector)}.v{self.width}p0", lir.VoidType(),
            [vector, pointers.type, T.i32, mask_type])
        em.builder.call(scatter, [em.to_memory(value, s.buffer.dtype), pointers,
                                  lir.Constant(T.i32, s.buffer.dtype.itemsize),
                                  T.constant(mask_type, 1)])

    def addresses(self, buffer: Buffer, index: Expr) -> lir.Value:
        """``<W x ptr>``: the address of each lane's element."""
        em = self.em
        offsets = em.splat(em.expr(index), self.width)
        pointers = em.builder.gep(em.buffer_pointer(buffer), [offsets],
                                  source_etype=T.mem(buffer.dtype), inbounds=True)
        pointers.type = lir.VectorType(T.ptr, self.width)  # llvmlite assumes a scalar pointer
        return pointers

    def contiguous_pointer(self, buffer: Buffer, base: Expr) -> lir.Value:
        em = self.em
        start = em.builder.add(em.expr(base), self.base, flags=("nsw",))
        return em.element_pointer(buffer, start)

    # -- index analysis ---------------------------------------------------------------------------

    def linear(self, e: Expr) -> tuple[Expr, int] | None:
        """``(base, c)`` with ``e == base + c * var`` and ``base`` uniform, or None."""
        key = self.em.key(e)
        if key not in self._linear:
            self._linear[key] = self._analyse(e)
        return self._linear[key]

    def _analyse(self, e: Expr) -> tuple[Expr, int] | None:
        if not self.depends(e):
            return e, 0
        if isinstance(e, Var) and e.name == self.loop_var.name:
            return ir.const(0), 1
        if isinstance(e, Binary) and e.op in ("add", "sub", "mul"):
            a, b = self.linear(e.a), self.linear(e.b)
            if a is None or b is None:
                return None
            if e.op == "add":
                return ir.add(a[0], b[0]), a[1] + b[1]
            if e.op == "sub":
                return ir.sub(a[0], b[0]), a[1] - b[1]
            if a[1] == 0 and isinstance(a[0], Const):
                return ir.mul(a[0], b[0]), int(a[0].value) * b[1]
            if b[1] == 0 and isinstance(b[0], Const):
                return ir.mul(a[0], b[0]), a[1] * int(b[0].value)
        return None

    def depends(self, e: Expr) -> bool:
        """Whether ``e`` varies across the lanes (reads the loop variable or a body local)."""
        return not self._varying.isdisjoint(self.em.facts(e)[1])
