"""Depthwise conv2d (groups == Cin == Cout) as a direct loop nest.

As a product it would be a 1 × (KH·KW) matrix per channel — mostly packing overhead — so each
output pixel instead sums its KH·KW taps in a local, vectorized along the output width (on
narrower vectors when a row is shorter than one). Rows and
columns whose taps all fall inside the input (known at compile time) read without any check; the
padded borders use a select on a clamped load (a select may evaluate both sides, so the load
itself must stay in bounds). Channels (and images) run in parallel.
"""

from __future__ import annotations

from mlc.ir.dtypes import DType

from .. import ir
from ..ir import Assign, Expr, Let, Stmt
from .gemm_conv import ConvShape
from .gemm_tile import loop, vector_loop
from .nn import masked

f32 = DType.float32


def _interior(ranges: list[tuple[int, int]], extent: int) -> tuple[int, int]:
    """The [lo, hi) where every tap is inside (empty, lo == hi, when there is none)."""
    lo = max(r[0] for r in ranges)
    hi = min(r[1] for r in ranges)
    return (lo, hi) if lo < hi else (extent, extent)


def lower_depthwise(ctx, node, store, schedules, s: ConvShape) -> Stmt:
    x, w = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    lanes = schedules.lanes(4)
    sh, sw = s.strides
    dh, dw = s.dilations
    top, left = s.pads[0], s.pads[1]
    row_lo, row_hi = _interior([s.tap_range(0, i) for i in range(s.kh)], s.oh)
    col_lo, col_hi = _interior([s.tap_range(1, j) for j in range(s.kw)], s.ow)
    while lanes > 4 and col_hi - col_lo < lanes:
        lanes //= 2  # narrow rows (7×7, 14×14 maps) still vectorize, on half vectors

    def channel(t: Expr) -> Stmt:
        b, c = ir.floordiv(t, s.c), ir.mod(t, s.c)

        def row(oh: Expr, rows_inside: bool) -> Stmt:
            def pixel(ow: Expr, cols_inside: bool) -> Stmt:
                acc = ctx.local("acc", f32)
                stmts: list[Stmt] = [Let(acc, ir.const(0.0, f32))]
                for i in range(s.kh):
                    ih = ir.add(ir.mul(oh, sh), i * dh - top)
                    row_checks = [] if rows_inside else [ir.ge(ih, 0), ir.lt(ih, s.h)]
                    ihc = ih if rows_inside else ir.clamp(ih, 0, s.h - 1)
                    for j in range(s.kw):
                        iw = ir.add(ir.mul(ow, sw), j * dw - left)
                        col_checks = [] if cols_inside else [ir.ge(iw, 0), ir.lt(iw, s.w)]
                        iwc = iw if cols_inside else ir.clamp(iw, 0, s.w - 1)
                        value = masked(ctx.load(x, (b, c, ihc, iwc)), row_checks + col_checks, 0.0)
                        tap = ctx.load(w, (c, ir.const(0), ir.const(i), ir.const(j)))
                        stmts.append(Assign(acc, ir.add(acc, ir.mul(value, tap))))
                result: Expr = acc
                if bias is not None:
                    result = ir.add(result, ctx.load(bias, (c,)))
                stmts.append(store((b, c, oh, ow), result))
                return ir.block(*stmts)

            return ir.block(loop(ctx, 0, col_lo, lambda ow: pixel(ow, False), prefix="ow"),
                            vector_loop(ctx, col_lo, col_hi, lanes, lambda ow: pixel(ow, True),
                                        vectorize=sw == 1),
                            loop(ctx, col_hi, s.ow, lambda ow: pixel(ow, False), prefix="ow"))

        return ir.block(loop(ctx, 0, row_lo, lambda oh: row(oh, False), prefix="oh"),
                        loop(ctx, row_lo, row_hi, lambda oh: row(oh, True), prefix="oh"),
                        loop(ctx, row_hi, s.oh, lambda oh: row(oh, False), prefix="oh"))

    total = s.batch * s.c
    kind = "parallel" if schedules.gemm.parallel and total > 1 else "serial"
    return loop(ctx, 0, total, channel, kind, prefix="t")
