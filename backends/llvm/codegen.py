"""Loop-IR kernels → LLVM IR functions in one llvmlite module.

``ModuleCodegen`` owns the module (triple and data layout of the host, unique sanitized names,
declarations of intrinsics and libm); ``_StmtEmitter`` renders one kernel under the ABI
``void @name(ptr %p0, ..., ptr %workspace)`` (one pointer per parameter the kernel does not own).
It is the ``emitter.KernelEmitter`` that the other parts call back into. Expression semantics
(``exprs.py``) follow ``backends/loop/scalar.py`` exactly; this module does the statements:
loops of every kind, locals, scratch, and outlining of parallel loops into ``mlc_parallel_for``
calls.

How each loop kind is rendered (the contract in backends/loop, written once here):
- serial: header/body/exit blocks with an i64 phi;
- unrolled: one copy of the body per iteration, the variable a constant;
- vectorized (width W): W iterations at once as ``<W x T>`` values (``vector.py`` decides which
  loads and stores are contiguous); a body that breaks the contract is rendered serially;
- parallel: the body becomes ``void body(ptr ctx, i64 i)``, the values it reads from outside are
  copied into a context struct, and the runtime's thread pool runs it.
"""

from __future__ import annotations

import re

import llvmlite.ir as lir
import numpy as np

from mlc.backends.loop.analysis import let_names
from mlc.backends.loop.ir import (Allocate, Assign, Block, Buffer, Const, For, Kernel, Let, Stmt,
                                  Store, Var)
from mlc.backends.loop.scratch import on_stack, scratch_placement
from mlc.backends.loop.verify import verify_kernel
from mlc.backends.toolchain.host import HostTarget

from . import lltypes as T
from .emitter import Scope
from .exprs import ExprEmitter
from .host import data_layout
from .vector import VectorContext, renders_as_vectors

MAX_UNROLLED_VECTOR_TRIPS = 4  # a short vectorized loop becomes straight-line code (SROA-able)


class _TargetAttributes(lir.values.FunctionAttributes):
    """llvmlite only knows keyword attributes; kernels also need "target-cpu"/"target-features"
    so LLVM may use the host's vector extensions inside them."""

    def __init__(self, host: HostTarget):
        super().__init__(["nounwind"])
        self.strings = {"target-cpu": host.cpu, "target-features": host.features}

    def _to_list(self, ret_type):
        return super()._to_list(ret_type) + [f'"{k}"="{v}"' for k, v in self.strings.items()]


def sanitize(name: str, prefix: str) -> str:
    """A symbol from an untrusted model name: only [A-Za-z0-9_], with a fixed prefix."""
    return prefix + (re.sub(r"[^A-Za-z0-9_]", "_", name)[:80] or "anon")


class ModuleCodegen:
    """One LLVM module for the host: add kernels and constant arrays, then ``compile_module``."""

    def __init__(self, name: str, host: HostTarget):
        self.host = host
        self.module = lir.Module(name=sanitize(name, "mlc_"))
        self.module.triple = host.triple
        self.module.data_layout = data_layout(host)
        self._names: set[str] = set()
        self._declared: dict[str, lir.Function] = {}

    def unique_name(self, raw: str, prefix: str) -> str:
        base = sanitize(raw, prefix)
        name, k = base, 1
        while name in self._names or name in self.module.globals:
            name, k = f"{base}_{k}", k + 1
        self._names.add(name)
        return name

    def add_global_array(self, name: str, array: np.ndarray) -> lir.GlobalVariable:
        """A private constant holding ``array``'s bytes, 64-byte aligned."""
        data = np.ascontiguousarray(array).tobytes() or b"\0"
        ty = lir.ArrayType(T.i8, len(data))
        var = lir.GlobalVariable(self.module, ty, self.unique_name(name, "mlc_c_"))
        var.type = T.ptr  # opaque pointers (LLVM ≥ 17)
        var.initializer = lir.Constant(ty, bytearray(data))
        var.global_constant = True
        var.linkage = "private"
        var.unnamed_addr = True
        var.align = 64
        return var

    def declare(self, name: str, ret: lir.Type, args: list[lir.Type]) -> lir.Function:
        """An external function or intrinsic (vector signatures included), declared once."""
        fn = self._declared.get(name)
        if fn is None:
            fn = lir.Function(self.module, lir.FunctionType(ret, args), name)
            fn.attributes.add("nounwind")
            self._declared[name] = fn
        return fn

    def new_function(self, name: str, args: list[lir.Type], linkage: str = "") -> lir.Function:
        fn = lir.Function(self.module, lir.FunctionType(lir.VoidType(), args), name)
        fn.attributes = _TargetAttributes(self.host)
        fn.linkage = linkage
        return fn

    def add_kernel(self, kernel: Kernel, verify: bool = True) -> lir.Function:
        """Render ``kernel`` as ``void @<name>(ptr per non-owned param..., ptr workspace)``;
        owned constants become private globals. Hidden visibility: callable inside the library,
        not exported from it. ``verify=False`` skips ``verify_kernel`` (tests of fallbacks)."""
        if verify:
            verify_kernel(kernel)
        owned = dict(kernel.constants)
        params = [p for p in kernel.params if p.name not in owned]
        fn = self.new_function(self.unique_name(kernel.name, "mlc_k_"),
                               [T.ptr] * (len(params) + 1), linkage="hidden")
        buffers: dict[str, lir.Value] = {}
        for arg, param in zip(fn.args, params):
            arg.name = sanitize(param.name, "p_")
            buffers[param.name] = arg
        fn.args[-1].name = "workspace"
        arrays = kernel.constant_arrays()
        for name in owned:
            buffers[name] = self.add_global_array(f"{fn.name}_{name}", arrays[name])
        emitter = _StmtEmitter(self, kernel, fn.name)
        scope = emitter.open_scope(fn, buffers, fn.args[-1])
        emitter.stmt(kernel.body)
        scope.close()
        return fn


class _StmtEmitter(ExprEmitter):
    """Renders one kernel's statements (expressions come from ``ExprEmitter``)."""

    def __init__(self, codegen: ModuleCodegen, kernel: Kernel, fname: str):
        super().__init__(codegen, let_names(kernel.body))
        self.kernel = kernel
        self.fname = fname
        self.placement = scratch_placement(kernel)
        self.scope: Scope

    # -- scopes ---------------------------------------------------------------------------------

    def open_scope(self, fn: lir.Function, buffers: dict[str, lir.Value],
                   workspace: lir.Value, in_parallel: bool = False) -> Scope:
        entry = fn.append_basic_block("entry")
        start = fn.append_basic_block("start")
        allocas = lir.IRBuilder(entry)
        allocas.position_before(allocas.branch(start))
        self.scope = Scope(fn, lir.IRBuilder(start), allocas, dict(buffers), workspace,
                           in_parallel=in_parallel)
        return self.scope

    @property
    def builder(self) -> lir.IRBuilder:
        return self.scope.builder

    def alloca(self, ty: lir.Type, align: int | None = None) -> lir.Value:
        slot = self.scope.allocas.alloca(ty)
        slot.type = T.ptr
        if align:
            slot.align = align
        return slot

    # -- names ------------------------------------------------------------------------------------

    def buffer_pointer(self, buffer: Buffer) -> lir.Value:
        return self.scope.buffers[buffer.name]

    def scalar_var(self, var: Var) -> lir.Value:
        if var.name in self.scope.scalars:
            return self.scope.scalars[var.name]
        slot, ty = self.scope.slots[var.name]
        return self.builder.load(slot, typ=ty)

    # -- statements -------------------------------------------------------------------------------

    def stmt(self, s: Stmt) -> None:
        if isinstance(s, Block):
            for child in s.stmts:
                self.stmt(child)
        elif isinstance(s, Store):
            self.store(s)
        elif isinstance(s, For):
            self.loop(s)
        elif isinstance(s, (Let, Assign)):
            self.set_local(s)
        elif isinstance(s, Allocate):
            self.allocate(s)
        else:
            raise TypeError(f"unknown statement {type(s).__name__}")

    def store(self, s: Store) -> None:
        if self.vec is not None:
            self.vec.store(s)
        else:
            self.store_scalar(s.buffer, self.expr(s.index), self.expr(s.value))
        self.forget_state()

    def set_local(self, s: Let | Assign) -> None:
        """A Let declares a local (a stack slot), an Assign sets one; a vectorized loop's body
        keeps its own locals as vectors. A captured read-only local that is written anyway
        gets a slot here too, which hides the captured value."""
        if self.vec is not None and (isinstance(s, Let) or self.vec.owns(s.var)):
            self.vec.set_local(s)
        else:
            value = self.expr(s.init if isinstance(s, Let) else s.value)
            if s.var.name not in self.scope.slots:
                ty = T.reg(s.var.dtype)
                self.scope.slots[s.var.name] = (self.alloca(ty), ty)
                self.scope.scalars.pop(s.var.name, None)
            self.builder.store(value, self.scope.slots[s.var.name][0])
        self.forget_state()

    def allocate(self, s: Allocate) -> None:
        name = s.buffer.name
        previous = self.scope.buffers.get(name)
        if on_stack(s):
            elem = T.mem(s.buffer.dtype)
            pointer = self.alloca(lir.ArrayType(elem, max(s.buffer.numel, 1)), align=64)
        else:
            if self.scope.in_parallel:
                raise ValueError(f"kernel {self.kernel.name}: large scratch {name} inside a "
                                 f"parallel loop (verify_kernel rejects this)")
            offset = self.placement[name]
            assert offset is not None
            pointer = self.builder.gep(self.scope.workspace, [T.const_i64(offset)],
                                       source_etype=T.i8, inbounds=True)
        self.scope.buffers[name] = pointer
        self.stmt(s.body)
        if previous is None:
            del self.scope.buffers[name]
        else:
            self.scope.buffers[name] = previous

    # -- loops ------------------------------------------------------------------------------------

    def loop(self, s: For) -> None:
        kind = s.kind
        if kind == "unrolled" and not (isinstance(s.start, Const) and isinstance(s.stop, Const)):
            kind = "serial"
        if kind == "vectorized" and (self.vec is not None or not renders_as_vectors(s)):
            kind = "serial"
        if kind == "parallel" and self.vec is not None:
            kind = "serial"
        if kind == "unrolled":
            for i in range(int(s.start.value), int(s.stop.value), s.step):  # type: ignore
                self.bind_scalar(s.var, T.const_i64(i), lambda: self.stmt(s.body))
        elif kind == "vectorized":
            self.vectorized_loop(s)
        elif kind == "parallel":
            from .parallel import emit_parallel_loop

            emit_parallel_loop(self, s)
        else:
            self.serial_loop(s, s.step, lambda i: self.bind_scalar(s.var, i,
                                                                   lambda: self.stmt(s.body)))

    def bind_scalar(self, var: Var, value: lir.Value, body) -> None:
        self.scope.scalars[var.name] = value
        self.forget_var(var.name)
        try:
            body()
        finally:
            self.scope.scalars.pop(var.name, None)
            self.forget_var(var.name)

    def serial_loop(self, s: For, step: int, body, stop: lir.Value | None = None) -> None:
        """``for i in start..stop by step: body(i)`` as blocks with an i64 phi."""
        b = self.builder
        start = self.expr(s.start)
        stop = self.expr(s.stop) if stop is None else stop
        before = b.block
        header = b.append_basic_block(f"{s.var.name}.head")
        inner = b.append_basic_block(f"{s.var.name}.body")
        exit_ = b.append_basic_block(f"{s.var.name}.exit")
        b.branch(header)
        b.position_at_end(header)
        i = b.phi(T.i64, name=s.var.name)
        i.add_incoming(start, before)
        b.cbranch(b.icmp_signed("<", i, stop), inner, exit_)
        b.position_at_end(inner)
        before_loop = self.memo
        self.forget_state()  # the body's later iterations see its own stores
        body(i)
        following = b.add(i, T.const_i64(step), flags=("nsw",))
        i.add_incoming(following, b.block)
        b.branch(header)
        b.position_at_end(exit_)
        self.memo = before_loop  # values made before the loop dominate its exit
        self.forget_state()

    def vectorized_loop(self, s: For) -> None:
        width = int(s.width or 1)
        start, stop = int(s.start.value), int(s.stop.value)  # type: ignore[union-attr]
        trips = (stop - start) // width

        def run(base: lir.Value) -> None:
            self.vec = VectorContext(self, s.var, base, width)
            self.forget_var(s.var.name)
            try:
                self.stmt(s.body)
            finally:
                self.vec = None
                self.forget_var(s.var.name)
                self.forget_state()  # the body's locals were vectors

        if trips <= MAX_UNROLLED_VECTOR_TRIPS:
            for k in range(trips):
                run(T.const_i64(start + k * width))
        else:
            self.serial_loop(s, width, run)

