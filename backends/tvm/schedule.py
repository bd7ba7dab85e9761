"""Schedules for the PrimFuncs of a Relax module: dlight on the GPU, a small rule set on the CPU.

GPU: dlight's default rules (Matmul, GEMV, Reduction, GeneralReduction, then Fallback) — what
TVM's own CUDA pipeline applies, so mlc-cuda and TVM's ONNX path differ only in the kernels mlc's
fusion made. CPU (``tvm-llvm``): ``CpuLoops`` inlines producers and epilogues, runs the outer
spatial loops in parallel and, for reductions (convolutions, matrix products), moves a block of
the innermost spatial axis inside the reduction loops and vectorizes it — a register-blocked
accumulation LLVM turns into vector FMAs. With ``--tune`` MetaSchedule replaces both.
"""

from __future__ import annotations

import math

from tvm import s_tir, tirx
from tvm.s_tir import dlight as dl
from tvm.s_tir.dlight.analysis import normalize_prim_func
from tvm.s_tir.dlight.base import try_inline
from tvm.target import Target

VECTOR_CHOICES = (16, 8, 4)  # lanes of the vectorized axis, widest first
ROW_CHOICES = (4, 2)  # rows of a register tile
# below this many loop iterations, waking the thread pool costs more than the loop
PARALLEL_MIN_WORK = 1 << 15


class CpuLoops(dl.ScheduleRule):
    """Inline, parallelize the outer spatial loops, vectorize one inner spatial axis."""

    def is_target_available(self, target: Target) -> bool:
        return target.kind.name == "llvm"

    def apply(self, func: tirx.PrimFunc, target: Target, _tunable: bool):
        if not isinstance(func, tirx.PrimFunc):
            return None
        sch = s_tir.Schedule(func)
        infos = normalize_prim_func(sch)
        if infos is None:
            return None
        infos = try_inline(sch, infos)
        parallel = int(target.attrs.get("num-cores", 1) or 1) > 1
        for info in infos:
            block = info.block_rv
            kinds = info.dom_kind()
            loops = sch.get_loops(block)
            if len(loops) != len(kinds) or any(k == "O" for k in kinds):
                continue
            spatial = [lp for lp, k in zip(loops, kinds) if k == "S"]
            reduce = [lp for lp, k in zip(loops, kinds) if k == "R"]
            extents = [_extent(sch, lp) for lp in loops]
            if not spatial or 0 in extents:
                continue  # nothing to run in parallel (and fusing a 0-extent loop fails)
            work = math.prod(e or PARALLEL_MIN_WORK for e in extents)
            try:
                _schedule_block(sch, block, spatial, reduce, parallel and
                                work >= PARALLEL_MIN_WORK)
            except s_tir.ScheduleError:  # a primitive that fails changes nothing: keep the rest
                continue
        return sch


def _extent(sch, loop) -> int | None:
    extent = sch.get(loop).extent
    return extent.value if isinstance(extent, tirx.IntImm) else None


def _factor(extent: int | None, choices: tuple[int, ...]) -> int | None:
    """The largest of ``choices`` that divides ``extent`` (no tail, so no predicate to block
    vectorizing), or None."""
    return next((c for c in choices if extent and extent % c == 0), None)


def _schedule_block(sch, block, spatial, reduce, parallel: bool) -> None:
    lanes = _factor(_extent(sch, spatial[-1]), VECTOR_CHOICES)
    if reduce:
        _schedule_reduction(sch, block, spatial, reduce, parallel, lanes)
        return
    if lanes is not None and len(spatial) > 1:
        outer_i, inner_i = sch.split(spatial[-1], factors=[None, lanes])
        sch.vectorize(inner_i)
        spatial = spatial[:-1] + [outer_i]
    _parallel(sch, spatial, parallel)


def _schedule_reduction(sch, block, spatial, reduce, parallel: bool, lanes: int | None) -> None:
    """A register tile of the output: ``rows`` of another spatial axis (unrolled) by ``lanes``
    of the last (vectorized), accumulated across all reduction loops before it is
    stored, so every input vector and every broadcast weight is reused ``rows``/``lanes``
    times."""
    sch.reorder(*spatial, *reduce)
    tile_inner, tile_rows = [], []
    if lanes is not None:
        outer_i, inner_i = sch.split(spatial[-1], factors=[None, lanes])
        spatial, tile_inner = spatial[:-1] + [outer_i], [inner_i]
    # the rows: the innermost other spatial axis that splits evenly (a conv's output rows,
    # else its output channels; a matrix product's rows)
    for k in range(len(spatial) - 2, -1, -1):
        rows = _factor(_extent(sch, spatial[k]), ROW_CHOICES)
        if rows is not None:
            outer_r, inner_r = sch.split(spatial[k], factors=[None, rows])
            spatial, tile_rows = spatial[:k] + [outer_r] + spatial[k + 1:], [inner_r]
            break
    sch.reorder(*spatial, *reduce, *tile_rows, *tile_inner)
    _parallel(sch, spatial, parallel)
    sch.decompose_reduction(block, reduce[0])
    for loop in tile_rows:
        sch.unroll(loop)
    for loop in tile_inner:
        sch.vectorize(loop)


def _parallel(sch, spatial, parallel: bool) -> None:
    if parallel and len(spatial) > 0:
        fused = sch.fuse(*spatial[:max(1, len(spatial) - 1)]) if len(spatial) > 1 else spatial[0]
        sch.parallel(fused)


class Guarded(dl.ScheduleRule):
    """A dlight rule that declines (returns None, so the next rule is tried) where it would
    raise: some rules assert on block shapes they do not expect (e.g. Reduction on a reduction
    with no spatial loop left after inlining) instead of declining."""

    def __init__(self, rule: dl.ScheduleRule):
        self.rule = rule

    def is_target_available(self, target: Target) -> bool:
        return self.rule.is_target_available(target)

    def apply(self, func, target: Target, tunable: bool):
        try:
            return self.rule.apply(func, target, tunable)
        except (AssertionError, s_tir.ScheduleError, ValueError, IndexError):
            return None


def gpu_rules() -> list:
    return [Guarded(rule) for rule in (dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(),
                                       dl.gpu.GeneralReduction())] + [dl.gpu.Fallback()]


def default_schedule(target: Target):
    """The module pass that schedules every PrimFunc not yet scheduled for ``target``."""
    if target.kind.name == "cuda":
        return dl.ApplyDefaultSchedule(*gpu_rules())
    return dl.ApplyDefaultSchedule(CpuLoops())
