"""matmul with a constant right operand (fully connected layers, projections).

B [K, N] is packed at compile time into ``nr``-column panels [n-panel][k][nr] (zero-padded past N),
a kernel-owned constant, so the micro-kernel streams it contiguously. A is read in place, one
scalar per (row, k) broadcast across the tile: every batch dim of A folds into the rows, because
with a 2-D B (or one whose batch dims are all 1) the product is one [rows, K] × [K, N] matrix
product and the output's row-major layout matches A's rows.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ir
from ..ir import Expr, Load, Stmt
from .gemm_tile import constant_of, loop, panel_cases, tile, when


def pack_columns(b: np.ndarray, nr: int) -> np.ndarray:
    """[K, N] → [n-panel][k][nr], columns past N zero."""
    k, n = b.shape
    panels = -(-n // nr)
    padded = np.zeros((k, panels * nr), np.float32)
    padded[:, :n] = b
    return np.ascontiguousarray(padded.reshape(k, panels, nr).transpose(1, 0, 2))


def lower_matmul_const(ctx, node, store, schedules) -> Stmt | None:
    a_value, b_value = node.inputs
    out = node.outputs[0]
    b_array = constant_of(ctx, b_value)
    if b_array is None or len(b_value.shape) < 2 or \
            any(d != 1 for d in b_value.shape[:-2]):
        return None
    k, n = b_value.shape[-2:]
    rows = math.prod(out.shape[:-1])
    if rows != math.prod(a_value.shape[:-1]) or k == 0 or n == 0 or rows == 0:
        return None
    gemm = schedules.gemm
    lanes = schedules.lanes(4)
    mr, nr = gemm.mr, -(-gemm.nr // lanes) * lanes
    mps, nps = -(-rows // mr), -(-n // nr)
    bpack = ctx.constant(f"{b_value.name}_packed{nr}",
                         pack_columns(b_array.reshape(k, n).astype(np.float32), nr))
    out_rows = out.shape[:-1]

    def tiles(t: Expr) -> Stmt:
        npanel, mpanel = ir.floordiv(t, mps), ir.mod(t, mps)
        row0 = ir.mul(mpanel, mr)
        b_base = ir.mul(npanel, k * nr)

        def a(kk: Expr, r: int) -> Expr:
            return ctx.load_flat(a_value, ir.add(ir.mul(ir.add(row0, r), k), kk))

        def b(kk: Expr, c: Expr) -> Expr:
            return Load(bpack, ir.add(ir.add(b_base, ir.mul(kk, nr)), c))

        def put(r: int, c: Expr, value: Expr) -> Stmt:
            col = ir.add(ir.mul(npanel, nr), c)
            return store(ir.unravel(out_rows, ir.add(row0, r)) + (col,), value)

        return ir.block(*(when(ctx, ir.and_(rc, cc), tile(
            ctx, rows=nrows, cols=ncols, nr=nr, lanes=lanes, depth=k, a=a, b=b, out=put))
            for rc, nrows in panel_cases(mpanel, rows, mr)
            for cc, ncols in panel_cases(npanel, n, nr)))

    total = nps * mps
    kind = "parallel" if gemm.parallel and total > 1 else "serial"
    return loop(ctx, 0, total, tiles, kind, prefix="t")
