"""conv2d (NCHW) as a matrix product per image and group, with weights packed at compile time.

out[g·M + m, p] = Σ_k W[g·M + m, k] · col[g, k, p] with M = Cout/g, K = Cin/g·KH·KW and
p = oh·OW + ow over N = OH·OW pixels. The weights become ``mr``-row panels [g][m-panel][k][mr]
(zero-padded rows), a kernel-owned constant. The B operand is either

- ``im2col``: the input patches copied at run time into a scratch matrix col[g][k][Npad] (Npad =
  N rounded up to ``nr``, zero columns after N). It is stored row-major, not in nr-wide panels,
  because then both sides of the copy are contiguous along ow for stride-1 convs and the copy
  vectorizes; the micro-kernel reads an nr-wide slice of a row just as well from it. Any kernel
  size, stride, dilation and padding (padded taps are zeros; edge columns are found at compile
  time, edge rows by a select on a clamped load);
- ``direct`` (1×1, stride 1, no padding): the input itself is that matrix; only the last, partial
  column panel is copied (zero-padded) so that no vector load runs past the input.

Tiles (g, n-panel, m-panel) run in a parallel loop, consecutive tiles sharing their B panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mlc.ir.dtypes import DType

from .. import ir
from ..ir import Allocate, Buffer, Expr, Load, Stmt, Store
from .gemm_tile import constant_of, loop, panel_cases, tile, vector_loop, when

f32 = DType.float32


@dataclass(frozen=True)
class ConvShape:
    """The static geometry of one conv2d node."""

    batch: int
    c: int
    h: int
    w: int
    co: int
    cg: int
    kh: int
    kw: int
    oh: int
    ow: int
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]
    dilations: tuple[int, int]
    groups: int

    @classmethod
    def of(cls, node) -> ConvShape:
        x, w = node.inputs[0], node.inputs[1]
        out = node.outputs[0]
        return cls(x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0], w.shape[1],
                   w.shape[2], w.shape[3], out.shape[2], out.shape[3],
                   tuple(node.attrs["strides"]), tuple(node.attrs["pads"]),
                   tuple(node.attrs["dilations"]), int(node.attrs["group"]))

    @property
    def m(self) -> int:
        return self.co // self.groups

    @property
    def k(self) -> int:
        return self.cg * self.kh * self.kw

    @property
    def n(self) -> int:
        return self.oh * self.ow

    @property
    def pointwise(self) -> bool:
        """1×1, stride 1, no padding: the input already is the B matrix."""
        return (self.kh, self.kw) == (1, 1) and self.strides == (1, 1) and not any(self.pads)

    def spatial(self, p: Expr) -> tuple[Expr, Expr]:
        """(oh, ow) of output pixel ``p``; written so that a flat index over them folds back to
        an expression affine in ``p`` (a dim of 1 is skipped by ``flat_index``)."""
        if self.ow == 1:
            return p, ir.const(0)
        if self.oh == 1:
            return ir.const(0), p
        return ir.floordiv(p, self.ow), ir.mod(p, self.ow)

    def tap_range(self, axis: int, tap: int) -> tuple[int, int]:
        """The output rows (``axis`` 0) or columns (1) [lo, hi) whose tap ``tap`` along that
        axis reads inside the input."""
        stride, pad, dilation = self.strides[axis], self.pads[axis], self.dilations[axis]
        size, out = (self.h, self.oh) if axis == 0 else (self.w, self.ow)
        lo = min(max(0, -(-(pad - tap * dilation) // stride)), out)
        return lo, min(out, max(lo, (size - 1 + pad - tap * dilation) // stride + 1))


def pack_weights(w: np.ndarray, groups: int, mr: int) -> np.ndarray:
    """[Cout, Cin/g, kh, kw] → [g][m-panel][k][mr], rows past M zero."""
    co = w.shape[0]
    m, k = co // groups, int(np.prod(w.shape[1:]))
    panels = -(-m // mr)
    padded = np.zeros((groups, panels * mr, k), np.float32)
    padded[:, :m] = w.reshape(groups, m, k)
    return np.ascontiguousarray(padded.reshape(groups, panels, mr, k).transpose(0, 1, 3, 2))


def lower_conv_gemm(ctx, node, store, schedules) -> Stmt | None:
    x, w = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    s = ConvShape.of(node)
    gemm = schedules.gemm
    lanes = schedules.lanes(4)
    mr, nr = gemm.mr, -(-gemm.nr // lanes) * lanes
    m, k, n = s.m, s.k, s.n
    np_full, n_tail = divmod(n, nr)
    mps, nps = -(-m // mr), np_full + (n_tail > 0)
    npad = nps * nr
    direct = s.pointwise and gemm.conv in ("auto", "direct")
    apack = ctx.constant(f"{w.name}_packed{mr}", pack_weights(constant_of(ctx, w), s.groups, mr))
    parallel = "parallel" if gemm.parallel else "serial"

    col = None if direct else Buffer(ctx.var("col").name, f32, (s.groups * k * npad,), "scratch")
    tail = Buffer(ctx.var("coltail").name, f32, (s.groups * k * nr,), "scratch") \
        if direct and n_tail else None

    def image(b: Expr) -> Stmt:
        if direct:
            pack = _pack_tail(ctx, x, s, b, tail, np_full * nr, nr, lanes, parallel) \
                if tail is not None else ir.Block(())
        else:
            pack = _im2col(ctx, x, s, b, col, npad, lanes, parallel)

        def tiles(t: Expr) -> Stmt:
            g = ir.floordiv(t, nps * mps)
            npanel = ir.mod(ir.floordiv(t, mps), nps)
            mpanel = ir.mod(t, mps)
            p0 = ir.mul(npanel, nr)
            a_base = ir.mul(ir.add(ir.mul(g, mps), mpanel), k * mr)

            def a(kk: Expr, r: int) -> Expr:
                return Load(apack, ir.add(ir.add(a_base, ir.mul(kk, mr)), r))

            def b_col(kk: Expr, c: Expr) -> Expr:
                return Load(col, ir.add(ir.add(ir.mul(ir.add(ir.mul(g, k), kk), npad), p0), c))

            def b_input(kk: Expr, c: Expr) -> Expr:
                return ctx.load(x, (b, ir.add(ir.mul(g, k), kk)) + s.spatial(ir.add(p0, c)))

            def b_tail(kk: Expr, c: Expr) -> Expr:
                return Load(tail, ir.add(ir.mul(ir.add(ir.mul(g, k), kk), nr), c))

            def out(r: int, c: Expr, value: Expr) -> Stmt:
                co = ir.add(ir.add(ir.mul(g, m), ir.mul(mpanel, mr)), r)
                if bias is not None:
                    value = ir.add(value, ctx.load(bias, (co,)))
                return store((b, co) + s.spatial(ir.add(p0, c)), value)

            return ir.block(*(when(ctx, ir.and_(rc, cc), tile(
                ctx, rows=nrows, cols=ncols, nr=nr, lanes=lanes, depth=k, a=a, out=out,
                b=b_col if not direct else b_input if ncols == nr else b_tail))
                for rc, nrows in panel_cases(mpanel, m, mr)
                for cc, ncols in panel_cases(npanel, n, nr)))

        total = s.groups * nps * mps
        return ir.block(pack, loop(ctx, 0, total, tiles, parallel if total > 1 else "serial", "t"))

    body = ctx.loop(s.batch, image, prefix="n")
    scratch = col if col is not None else tail
    return Allocate(scratch, body) if scratch is not None else body


def _row_source(ctx, x, s: ConvShape, b: Expr, ci: Expr, i: Expr, oh: Expr,
                rows_valid: bool) -> Callable[[Expr], Expr]:
    """A function iw → input value at row oh·sh − top + i·dh (zero when that row is padding)."""
    ih = ir.add(ir.mul(oh, s.strides[0]), ir.sub(ir.mul(i, s.dilations[0]), s.pads[0]))
    if rows_valid:
        return lambda iw: ctx.load(x, (b, ci, ih, iw))
    inside = ir.and_(ir.ge(ih, 0), ir.lt(ih, s.h))
    clamped = ir.clamp(ih, 0, s.h - 1)
    zero = ir.const(0.0, f32)
    return lambda iw: ir.select(inside, ctx.load(x, (b, ci, clamped, iw)), zero)


def _im2col(ctx, x, s: ConvShape, b: Expr, col: Buffer, npad: int, lanes: int,
            parallel: str) -> Stmt:
    """col[(ci·KH + i)·KW + j][p] = x[b, ci, oh·sh − top + i·dh, ow·sw − left + j·dw] (0 where
    padded), parallel over (ci, i) rows; ow runs contiguously on both sides when sw is 1."""
    rows_valid = all(s.tap_range(0, i) == (0, s.oh) for i in range(s.kh))

    def row(q: Expr) -> Stmt:
        ci, i = (q, ir.const(0)) if s.kh == 1 else (ir.floordiv(q, s.kh), ir.mod(q, s.kh))
        parts = []
        for j in range(s.kw):
            base = ir.mul(ir.add(ir.mul(q, s.kw), j), npad)
            lo, hi = s.tap_range(1, j)

            def line(oh: Expr, j=j, base=base, lo=lo, hi=hi) -> Stmt:
                source = _row_source(ctx, x, s, b, ci, i, oh, rows_valid)
                start = ir.add(base, ir.mul(oh, s.ow))

                def zero(ow: Expr) -> Stmt:
                    return Store(col, ir.add(start, ow), ir.const(0.0, f32))

                def copy(ow: Expr) -> Stmt:
                    iw = ir.add(ir.mul(ow, s.strides[1]), j * s.dilations[1] - s.pads[1])
                    return Store(col, ir.add(start, ow), source(iw))

                return ir.block(vector_loop(ctx, 0, lo, lanes, zero),
                                vector_loop(ctx, lo, hi, lanes, copy, vectorize=s.strides[1] == 1),
                                vector_loop(ctx, hi, s.ow, lanes, zero))

            pad = vector_loop(ctx, s.n, npad, lanes,
                              lambda p, base=base: Store(col, ir.add(base, p), ir.const(0.0, f32)))
            parts.append(ir.block(loop(ctx, 0, s.oh, line, prefix="oh"), pad))
        return ir.block(*parts)

    count = s.c * s.kh
    return loop(ctx, 0, count, row, parallel if count > 1 else "serial", "q")


def _pack_tail(ctx, x, s: ConvShape, b: Expr, tail: Buffer, p0: int, nr: int, lanes: int,
               parallel: str) -> Stmt:
    """The last, partial column panel of a pointwise conv's input, zero-padded to ``nr``."""
    valid = s.n - p0

    def row(ci: Expr) -> Stmt:
        base = ir.mul(ci, nr)
        copy = vector_loop(ctx, 0, valid, lanes, lambda c: Store(
            tail, ir.add(base, c), ctx.load(x, (b, ci) + s.spatial(ir.add(c, p0)))))
        zero = vector_loop(ctx, valid, nr, lanes,
                           lambda c: Store(tail, ir.add(base, c), ir.const(0.0, f32)))
        return ir.block(copy, zero)

    big = s.c * nr >= 4096  # a few thousand copies are not worth waking the pool
    return loop(ctx, 0, s.c, row, parallel if big else "serial", "q")
