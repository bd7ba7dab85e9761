"""The register-blocked micro-kernel shared by conv2d and matmul, and small loop helpers.

A tile is ``rows`` × ``nr`` outputs accumulated over all of K in a stack scratch ``acc``: for each
k, every row's A value (one scalar, broadcast) multiplies one ``nr``-wide B row (contiguous vector
loads) into ``rows`` × ``nr/lanes`` vector accumulators. Rows and vector groups are unrolled here,
in Python, so every ``acc`` offset is a constant: the renderer (LLVM's SROA) can then keep the
whole tile in registers, which is what makes the product run near the FMA peak. Only the vector
loop over one group of ``lanes`` columns is left to the renderer (``kind="vectorized"``).

The IR has no ``if``; a loop of 0 or 1 trips (``when``) selects between full and tail tiles,
which must be separate code because their shapes (unrolled rows, stored columns) are static.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mlc.ir.dtypes import DType

from .. import ir
from ..ir import Allocate, Buffer, Expr, For, Load, Stmt, Store

f32 = DType.float32
TRUE = ir.const(True, ir.boolean)
AFn = Callable[[Expr, int], Expr]          # (k, row) -> A value (a scalar, uniform in columns)
BFn = Callable[[Expr, Expr], Expr]         # (k, column) -> B value (affine in column)
OutFn = Callable[[int, Expr, Expr], Stmt]  # (row, column, value) -> the store of one output


def constant_of(ctx, value) -> np.ndarray | None:
    """The array of ``value`` when it is a graph constant, else None. Inside a fused group the
    weights are the body's inputs, bound to the constants outside (``ctx.source``)."""
    source = ctx.source(value)
    return source.const if source.is_const else None


def when(ctx, cond: Expr, body: Stmt) -> Stmt:
    """``if cond: body`` as a loop of 0 or 1 trips; a constant condition needs no loop."""
    if isinstance(cond, ir.Const):
        return body if cond.value else ir.Block(())
    return For(ctx.var("if"), ir.const(0), ir.select(cond, ir.const(1), ir.const(0)), body)


def loop(ctx, start: int, stop: int, body: Callable[[Expr], Stmt], kind: str = "serial",
         prefix: str = "i") -> Stmt:
    """``for v in start..stop`` (no loop for one trip, nothing for none)."""
    if stop <= start:
        return ir.Block(())
    if stop - start == 1 and kind != "parallel":
        return body(ir.const(start))
    var = ctx.var(prefix)
    return For(var, ir.const(start), ir.const(stop), body(var), kind=kind)


def vector_loop(ctx, start: int, stop: int, lanes: int, body: Callable[[Expr], Stmt],
                vectorize: bool = True) -> Stmt:
    """``[start, stop)`` with the longest ``lanes``-multiple prefix vectorized and a serial tail
    (all serial when ``lanes`` is 1 or ``vectorize`` is false)."""
    if stop <= start:
        return ir.Block(())
    if lanes <= 1 or not vectorize:
        return loop(ctx, start, stop, body)
    split = start + (stop - start) // lanes * lanes
    parts = []
    if split > start:
        var = ctx.var("v")
        parts.append(For(var, ir.const(start), ir.const(split), body(var), kind="vectorized",
                         width=lanes))
    if stop > split:
        parts.append(loop(ctx, split, stop, body))
    return ir.block(*parts)


def panel_cases(panel: Expr, extent: int, size: int) -> list[tuple[Expr, int]]:
    """(condition on ``panel``, tile size) for an ``extent`` cut into panels of ``size``: the
    full panels, then the partial last one (a condition that always holds is ``TRUE``)."""
    full, tail = divmod(extent, size)
    cases = [(ir.lt(panel, full) if tail else TRUE, size)] * (full > 0)
    return cases + [(ir.ge(panel, full) if full else TRUE, tail)] * (tail > 0)


def tile(ctx, *, rows: int, cols: int, nr: int, lanes: int, depth: int, a: AFn, b: BFn,
         out: OutFn) -> Stmt:
    """One ``rows`` × ``nr`` tile over K = ``depth``; stores the first ``cols`` columns of each
    row through ``out`` (vectorized where whole groups of ``lanes`` are valid). B must be readable
    (zero-padded) for all ``nr`` columns."""
    groups = nr // lanes
    acc = Buffer(ctx.var("acc").name, f32, (rows * nr,), "scratch")

    def per_group(fn: Callable[[int, Expr], Stmt]) -> Stmt:
        stmts = []
        for r in range(rows):
            for g in range(groups):
                if lanes == 1:
                    stmts.append(fn(r, ir.const(g)))
                else:
                    c = ctx.var("c")
                    stmts.append(For(c, ir.const(g * lanes), ir.const((g + 1) * lanes),
                                     fn(r, c), kind="vectorized", width=lanes))
        return ir.block(*stmts)

    zero = per_group(lambda r, c: Store(acc, ir.add(r * nr, c), ir.const(0.0, f32)))
    k = ctx.var("k")

    def update(r: int, c: Expr) -> Stmt:
        at = ir.add(r * nr, c)
        return Store(acc, at, ir.add(Load(acc, at), ir.mul(a(k, r), b(k, c))))

    product = For(k, ir.const(0), ir.const(depth), per_group(update))
    stores = [vector_loop(ctx, 0, cols, lanes,
                          lambda c, r=r: out(r, c, Load(acc, ir.add(r * nr, c))))
              for r in range(rows)]
    return Allocate(acc, ir.block(zero, product, *stores))
