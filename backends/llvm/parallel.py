"""Parallel loops: outline the body into ``void body(ptr ctx, i64 i)`` and hand it to the runtime.

``mlc_parallel_for(n, fn, ctx)`` (runtime/c/thread_pool.c) calls ``fn(ctx, i)`` once for each
i in [0, n) over the thread pool. Everything the body reads from the enclosing function — buffer
pointers, the workspace, enclosing loop variables and locals (read only), the loop's start — is
copied into a context struct on the caller's stack; the outlined function loads it back, so it
is an ordinary function LLVM optimizes on its own (its own stack for small scratch).
"""

from __future__ import annotations

import llvmlite.ir as lir

from mlc.backends.loop.analysis import references
from mlc.backends.loop.ir import For, Var

from . import lltypes as T
from .emitter import KernelEmitter

RUNTIME_PARALLEL_FOR = "mlc_parallel_for"


def emit_parallel_loop(em: KernelEmitter, loop: For) -> None:
    outer = em.scope
    b = outer.builder
    start, stop = em.expr(loop.start), em.expr(loop.stop)
    buffers, variables = references(loop)
    captured_buffers = sorted(n for n in buffers if n in outer.buffers)
    captured_scalars = sorted(n for n in variables if n in outer.scalars or n in outer.slots)
    values = [outer.workspace, start] + [outer.buffers[n] for n in captured_buffers] + \
        [em.scalar_var(Var(n)) for n in captured_scalars]
    struct = lir.LiteralStructType([v.type for v in values])
    ctx = em.alloca(struct)
    for k, value in enumerate(values):
        b.store(value, _field(b, struct, ctx, k))
    span = b.sub(stop, start)
    count = b.sdiv(b.add(span, T.const_i64(loop.step - 1)), T.const_i64(loop.step))
    count = b.select(b.icmp_signed(">", span, T.const_i64(0)), count, T.const_i64(0))

    fn = em.codegen.new_function(em.codegen.unique_name(f"{em.fname}_{loop.var.name}", "par_"),
                                 [T.ptr, T.i64], linkage="internal")
    fn.args[0].name, fn.args[1].name = "ctx", "i"
    outer_memo, em.memo = em.memo, {}  # values of the caller do not exist in the outlined body
    inner = em.open_scope(fn, {}, outer.workspace, in_parallel=True)
    ib = inner.builder
    loaded = [ib.load(_field(ib, struct, fn.args[0], k), typ=v.type)
              for k, v in enumerate(values)]
    inner.workspace = loaded[0]
    inner.buffers = dict(zip(captured_buffers, loaded[2:2 + len(captured_buffers)]))
    inner.scalars = dict(zip(captured_scalars, loaded[2 + len(captured_buffers):]))
    index = ib.add(loaded[1], ib.mul(fn.args[1], T.const_i64(loop.step)), flags=("nsw",))
    em.bind_scalar(loop.var, index, lambda: em.stmt(loop.body))
    inner.close()
    em.scope = outer
    em.memo = outer_memo

    runtime = em.codegen.declare(RUNTIME_PARALLEL_FOR, lir.VoidType(), [T.i64, T.ptr, T.ptr])
    b.call(runtime, [count, lir.FormattedConstant(T.ptr, fn.get_reference()), ctx])


def _field(b: lir.IRBuilder, struct: lir.Type, pointer: lir.Value, k: int) -> lir.Value:
    return b.gep(pointer, [lir.Constant(T.i32, 0), lir.Constant(T.i32, k)], source_etype=struct,
                 inbounds=True)
