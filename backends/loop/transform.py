"""Generic loop schedules: vectorize and parallelize the plain loop nests of a kernel.

``schedule_loops`` is the last step of ``lower_node`` with schedules. It only changes how loops
run, never what they compute, so ``evaluate`` of its result equals ``evaluate`` of its input bit
for bit (the tests check exactly that). Per top-level loop nest it runs three rewrites:

1. collapse: an innermost loop and its parent merge into one loop over the product when every
   access stays affine in the merged variable (``(f//56)*56 + f%56`` folds back to ``f``), so a
   [64,56,56] relu becomes one contiguous loop of 200704 iterations with no vector tail;
2. parallelize: when the nest does at least ``loops.min_parallel_elements`` stores and
   accumulations, its outermost loop becomes ``parallel`` (a small outer loop is first collapsed
   with the next one; a nest that is a single loop is split into parallel chunks);
3. vectorize: each innermost loop with a contiguous store and no loop-carried state becomes a
   ``vectorized`` loop over the largest multiple of the vector width, then narrower vectorized
   loops over the rest and a serial tail of under MIN_WIDTH iterations. A loop
   whose body only holds small constant loops (a pool window, an LRN band: an accumulator
   declared inside) qualifies too, with those loops ``unrolled``: each lane then accumulates
   its own output element in the same order as before.

A kernel that already has a non-serial loop (a scheduled conv or matmul) is left as it is.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from . import ir
from .analysis import affine_coefficient, constant_extent, depends_on, footprint, work
from .ir import Allocate, Assign, Block, Expr, For, Kernel, Let, Stmt, Var
from .schedule import Schedules
from .scratch import on_stack
from .visit import Mutator, map_children, walk

MIN_WIDTH = 4  # narrower vectors than this are not worth it: the rest runs serially
MAX_SHUFFLE_STRIDE = 4  # loads this strided are left to LLVM's vectorizer (see _small_stride_loads)
UNROLL_LIMIT = 40  # statements a loop body may grow to when its small inner loops are unrolled
COLLAPSE_BELOW = 8  # an outer extent under ~2x a typical thread count balances badly
MAX_CHUNKS = 64  # a single-loop nest is split into at most this many parallel chunks


def schedule_loops(kernel: Kernel, schedules: Schedules) -> Kernel:
    """``kernel`` with its plain nests vectorized and parallelized as ``schedules.loops`` says."""
    if any(isinstance(s, For) and s.kind != "serial" for s in walk(kernel.body)):
        return kernel
    names = _Names(footprint(kernel.body).names)
    nest = _NestScheduler(schedules, names)
    return dataclasses.replace(kernel, body=_map_nests(kernel.body, nest))


def _map_nests(s: Stmt, fn: Callable[[For], Stmt]) -> Stmt:
    """Apply ``fn`` to every top-level loop nest (through Blocks and Allocates, not into loops)."""
    return fn(s) if isinstance(s, For) else map_children(s, lambda child: _map_nests(child, fn))


class _Names:
    """Fresh variable names that clash with none in the kernel."""

    def __init__(self, used: set[str]):
        self.used = set(used)

    def fresh(self, base: str) -> str:
        n = 0
        while f"{base}_{n}" in self.used:
            n += 1
        self.used.add(f"{base}_{n}")
        return f"{base}_{n}"


@dataclasses.dataclass
class _NestScheduler:
    schedules: Schedules
    names: _Names

    def __call__(self, nest: For) -> Stmt:
        loops = self.schedules.loops
        vector = loops.lanes > 1
        stmt: Stmt = _collapse_inner(nest, self) if vector else nest
        if loops.parallel and isinstance(stmt, For):
            stmt = self.parallelize(stmt)
        return self.vectorize_all(stmt) if vector else stmt

    # -- widths ---------------------------------------------------------------------------------
    def width(self, loop: For) -> int:
        """Vector lanes for the widest element the loop body stores or loads as a vector (a
        load at an index that does not move is one scalar). ``loops.lanes`` is for 4-byte
        elements: 16 f32 on AVX-512 means 8 f64 and 64 i8."""
        fp = footprint(loop.body)
        moving = {loop.var.name} | fp.declared
        sizes = [s.buffer.dtype.itemsize for s in fp.stores] + \
                [ld.buffer.dtype.itemsize for ld in fp.loads if depends_on(ld.index, moving)]
        return max(1, self.schedules.loops.lanes * 4 // max(sizes, default=4))

    # -- parallel -------------------------------------------------------------------------------
    def parallelize(self, loop: For) -> Stmt:
        if work(loop) < self.schedules.loops.min_parallel_elements or not _parallel_safe(loop):
            return loop
        while (constant_extent(loop) or 0) < COLLAPSE_BELOW and isinstance(loop.body, For) and \
                _has_loop(loop.body.body):
            merged = _collapse(loop, loop.body, self.names)
            if merged is None or not _parallel_safe(merged):
                break
            loop = merged
        if not _has_loop(loop.body):
            return self.strip_mine(loop)
        if (constant_extent(loop) or 0) < 2:
            return loop
        return dataclasses.replace(loop, kind="parallel")

    def strip_mine(self, loop: For) -> Stmt:
        """A single loop as ``for c parallel: for v in 0..chunk`` (chunk a multiple of the vector
        width) plus a serial remainder loop."""
        extent = constant_extent(loop)
        if extent is None or loop.step != 1:
            return loop
        width = self.width(loop)
        chunk = _round_up(-(-extent // MAX_CHUNKS), width)
        count = extent // chunk
        if count < 2:
            return loop
        c, v = Var(self.names.fresh(f"{loop.var.name}c")), Var(self.names.fresh(loop.var.name))
        at = ir.add(loop.start, ir.add(ir.mul(c, chunk), v))
        inner = For(v, ir.const(0), ir.const(chunk), _rename_copy(loop.body, {loop.var.name: at},
                                                                   self.names))
        chunks = For(c, ir.const(0), ir.const(count), inner, kind="parallel")
        done = int(loop.start.value) + count * chunk  # type: ignore[attr-defined]
        if done == int(loop.stop.value):  # type: ignore[attr-defined]
            return chunks
        return ir.block(chunks, dataclasses.replace(loop, start=ir.const(done)))

    # -- vectorize ------------------------------------------------------------------------------
    def vectorize_all(self, s: Stmt) -> Stmt:
        if not isinstance(s, For):
            return map_children(s, self.vectorize_all)
        if not _has_loop(s.body):
            return self.vectorize(s)
        if s.kind == "serial" and _unrollable(s.body):  # a pool window, an LRN band
            candidate = dataclasses.replace(s, body=_unroll(s.body))
            vectorized = self.vectorize(candidate)
            if vectorized is not candidate:
                return vectorized
        return dataclasses.replace(s, body=self.vectorize_all(s.body))

    def vectorize(self, loop: For) -> Stmt:
        """Split a qualifying innermost loop into vectorized loops of the full width, then of
        half, a quarter… (down to MIN_WIDTH) over what is left, and a serial tail: 56
        iterations at 16 lanes run as 48 + 8, not 48 vector and 8 scalar."""
        width = self.width(loop)
        extent = constant_extent(loop)
        if width < MIN_WIDTH or extent is None or extent < MIN_WIDTH or not _may_vectorize(loop) \
                or _small_stride_loads(loop):
            return loop
        start, stop = int(loop.start.value), int(loop.stop.value)  # type: ignore[attr-defined]
        pieces: list[Stmt] = []
        while start < stop:
            while width > stop - start and width % 2 == 0 and width // 2 >= MIN_WIDTH:
                width //= 2
            vector = width >= MIN_WIDTH and width <= stop - start
            end = start + (stop - start) // width * width if vector else stop
            if pieces:
                var = Var(self.names.fresh(loop.var.name))
                body = _rename_copy(loop.body, {loop.var.name: var}, self.names)
            else:
                var, body = loop.var, loop.body
            pieces.append(For(var, ir.const(start), ir.const(end), body,
                              kind="vectorized" if vector else "serial",
                              width=width if vector else None))
            start = end
        return ir.block(*pieces)


# -- legality -------------------------------------------------------------------------------------

def _has_loop(s: Stmt) -> bool:
    return any(isinstance(x, For) for x in walk(s))


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def _simple(loop: For) -> bool:
    return loop.step == 1 and constant_extent(loop) is not None


def _memory_safe(body: Stmt, var: Var, private: set[str]) -> bool:
    """Iterations of ``var``'s loop communicate through no buffer outside ``private``: each
    store's index moves with ``var``, and a buffer stored to is read back only at an index it is
    stored at (read-modify-write of the same element)."""
    fp = footprint(body)
    for store in fp.stores:
        if store.buffer.name not in private and not depends_on(store.index, {var.name}):
            return False
    for name in fp.stored_buffers - private:
        written = {s.index for s in fp.stores if s.buffer.name == name}
        if any(ld.buffer.name == name and ld.index not in written for ld in fp.loads):
            return False
    return True


def _parallel_safe(loop: For) -> bool:
    """The parallel contract: constant bounds, no assignment to a local declared outside, no
    large scratch inside (it would be shared), no communication through memory."""
    if not _simple(loop):
        return False
    fp = footprint(loop.body)
    if not fp.assigned <= fp.declared:
        return False
    if not all(on_stack(a) for a in fp.allocates):  # workspace scratch would be shared
        return False
    return _memory_safe(loop.body, loop.var, {a.buffer.name for a in fp.allocates})


def _may_vectorize(loop: For) -> bool:
    """Whether a serial innermost loop may become a vectorized one (run ``width`` iterations at
    once): constant bounds, a body with no loops (but unrolled ones) or scratch, no locals
    carried between iterations (an accumulator), a contiguous store, no store to one address
    from every lane, and each stored buffer stored at one index and read (if at all) only
    there."""
    if not _simple(loop):
        return False
    fp = footprint(loop.body)
    if any(x.kind != "unrolled" for x in fp.loops) or fp.allocates or \
            not fp.assigned <= fp.declared:
        return False
    varying = frozenset(fp.declared)
    coefficients = [affine_coefficient(s.index, loop.var, varying) for s in fp.stores]
    if 1 not in coefficients or 0 in coefficients:
        return False
    for name in fp.stored_buffers:
        written = {s.index for s in fp.stores if s.buffer.name == name}
        if len(written) != 1 or any(ld.buffer.name == name and ld.index not in written
                                    for ld in fp.loads):
            return False
    return True


# -- rewrites -------------------------------------------------------------------------------------

def _collapse(outer: For, inner: For, names: _Names) -> For | None:
    """``for a: for b: body`` as ``for f in 0..A*B: body[a := f // B, b := f % B]``."""
    if not (_simple(outer) and _simple(inner)) or outer.body is not inner:
        return None
    a_extent, b_extent = constant_extent(outer), constant_extent(inner)
    f = Var(names.fresh(f"{outer.var.name}{inner.var.name}"))
    mapping = {outer.var.name: ir.add(outer.start, ir.floordiv(f, b_extent)),
               inner.var.name: ir.add(inner.start, ir.mod(f, b_extent))}
    return For(f, ir.const(0), ir.const(a_extent * b_extent),  # type: ignore[operator]
               substitute(inner.body, mapping))


def _collapse_inner(s: Stmt, nest: _NestScheduler) -> Stmt:
    """Merge each innermost loop with its parent while the merged loop is vectorizable and
    every load and store stays affine in it (so it only removes vector tails)."""
    loop = map_children(s, lambda child: _collapse_inner(child, nest))
    if not isinstance(loop, For):
        return loop
    inner = loop.body
    if not isinstance(inner, For) or _has_loop(inner.body) or not _may_vectorize(inner):
        return loop
    merged = _collapse(loop, inner, nest.names)
    if merged is None or not _may_vectorize(merged):
        return loop
    fp = footprint(merged.body)
    varying = frozenset(fp.declared)
    indices = [x.index for x in fp.stores] + [x.index for x in fp.loads]
    if any(affine_coefficient(i, merged.var, varying) is None for i in indices):
        return loop
    return merged


def _small_stride_loads(loop: For) -> bool:
    """Whether the body loads with a small constant stride (a 2x2 stride-2 pool window).
    The renderer does those lane by lane, while LLVM's own vectorizer, given the serial loop,
    turns them into wide loads and shuffles — 4x faster on a stride-2 average pool."""
    fp = footprint(loop.body)
    varying = frozenset(fp.declared)
    return any((c := affine_coefficient(ld.index, loop.var, varying)) is not None and
               2 <= abs(c) <= MAX_SHUFFLE_STRIDE for ld in fp.loads)


def _static_size(s: Stmt) -> int | None:
    """Statements in ``s`` once its loops are unrolled (None: a loop of unknown extent)."""
    if isinstance(s, Block):
        sizes = [_static_size(child) for child in s.stmts]
        return None if None in sizes else sum(sizes)  # type: ignore[arg-type]
    if isinstance(s, For):
        extent, inner = constant_extent(s), _static_size(s.body)
        return None if extent is None or inner is None or s.step != 1 else extent * inner
    if isinstance(s, Allocate):
        return None
    return 1


def _unrollable(body: Stmt) -> bool:
    size = _static_size(body)
    return size is not None and size <= UNROLL_LIMIT


def _unroll(s: Stmt) -> Stmt:
    """``s`` with every loop marked ``unrolled``."""
    s = map_children(s, _unroll)
    return dataclasses.replace(s, kind="unrolled") if isinstance(s, For) else s


def _rename_copy(body: Stmt, mapping: dict[str, Expr], names: _Names) -> Stmt:
    """``body`` with ``mapping`` applied and every local and loop it declares renamed, for a
    second copy of a loop body (a tail) that must not declare the same names again."""
    fresh = {v.name: Var(names.fresh(v.name), v.dtype)
             for v in (s.var for s in walk(body) if isinstance(s, (Let, For)))}
    return substitute(body, {**mapping, **fresh})


def substitute(s: Stmt, mapping: dict[str, Expr]) -> Stmt:
    """``s`` with variables replaced by expressions (rebuilt through the folding helpers, so an
    unravelled index folds back to an affine one). A loop or local whose name maps to a Var is
    renamed."""
    return _Substitute(mapping).stmt(s)


class _Substitute(Mutator):
    def __init__(self, mapping: dict[str, Expr]):
        super().__init__()
        self.mapping = mapping

    def expr(self, e: Expr) -> Expr:
        return self.mapping.get(e.name, e) if isinstance(e, Var) else super().expr(e)

    def stmt(self, s: Stmt) -> Stmt:
        s = super().stmt(s)
        renamed = self.mapping.get(s.var.name) if isinstance(s, (For, Let, Assign)) else None
        return dataclasses.replace(s, var=renamed) if isinstance(renamed, Var) else s
