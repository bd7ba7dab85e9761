"""Schedules for the PrimFuncs of a Relax module: dlight on the GPU, a small rule set on the CPU.

GPU: dlight's default rules (Matmul, GEMV, Reduction, GeneralReduction, then Fallback) — what
TVM's own CUDA pipeline applies, so mlc-cuda and TVM's ONNX path differ only in the kernels mlc's
fusion made. CPU (``tvm-llvm``): ``CpuLoops`` inlines producers and epilogues, runs the outer
spatial loops in parallel and, for reductions (convolutions, matrix products), moves a block of
the innermost spatial axis inside the reduction loops and vectorizes it — a register-blocked
accumulation LLVM turns into vector FMAs. With ``--tune`` MetaSchedule replaces both. Before
any of them, ``single_element_reductions`` rewrites every reduction over one element as the
plain map it is (see there why).
"""

from __future__ import annotations

import math

import tvm_ffi
from tvm import ir, s_tir, tirx
from tvm.s_tir import dlight as dl
from tvm.s_tir.dlight.analysis import normalize_prim_func
from tvm.s_tir.dlight.base import try_inline
from tvm.target import Target

VECTOR_CHOICES = (16, 8, 4)  # lanes of the vectorized axis, widest first
ROW_CHOICES = (4, 2)  # rows of a register tile
# below this many loop iterations, waking the thread pool costs more than the loop
PARALLEL_MIN_WORK = 1 << 15


_COMBINERS = (tirx.Add, tirx.Mul, tirx.Max, tirx.Min)  # te.sum, prod, max and min's updates


def single_element_reductions(module):
    """``module`` with every reduction over exactly one element (all reduction axes of extent 1:
    a 1×1 convolution over one input channel, a matrix product with K = 1, an LRN of size 1)
    rewritten as the elementwise block it is: ``acc = init ⊕ term``, with no init statement.

    Left as a reduction, TVM 0.27 miscompiles it: dlight's ``normalize_prim_func`` (used by
    every dlight rule and by ``CpuLoops``) drops the unit reduction iterators but keeps the init,
    and ``reverse_compute_inline`` then takes that block for a complete one and inlines the
    epilogue (a bias add, LRN's division) into both its init and its update — applied twice.
    """
    result = module.clone()
    for gvar, func in module.functions.items():
        if isinstance(func, tirx.PrimFunc) and not _scheduled(func):
            sch = s_tir.Schedule(func)
            if any([_as_map(sch, block) for block in _blocks(sch)]):  # every block, no short cut
                result.update_func(gvar, sch.mod["main"])  # as dlight's ApplyDefaultSchedule
    return result


def _scheduled(func) -> bool:
    return func.attrs is not None and bool(func.attrs.get("tirx.is_scheduled", False))


def _blocks(sch) -> list:
    pending, found = list(sch.get_child_blocks(sch.get_sblock("root"))), []
    while pending:
        block = pending.pop()
        found.append(block)
        pending.extend(sch.get_child_blocks(block))
    return found


def _as_map(sch, block_rv) -> bool:
    """Rewrite one single-element reduction block in place; False if ``block_rv`` is not one
    (or not in the ``acc = acc ⊕ term`` form that TE's reducers write)."""
    block = sch.get(block_rv)
    reduce = [iv for iv in block.iter_vars if iv.iter_type == tirx.IterVar.CommReduce]
    body, init = block.body, block.init
    if not reduce or any(_constant(iv.dom.extent) != 1 for iv in reduce):
        return False
    if not (isinstance(body, tirx.BufferStore) and isinstance(init, tirx.BufferStore)):
        return False
    value = body.value
    acc = value.a if isinstance(value, _COMBINERS) else None
    if not (isinstance(acc, ir.TensorLoad) and acc.source.same_as(body.buffer)
            and tvm_ffi.structural_equal(list(acc.indices), list(body.indices))):
        return False
    iters = [tirx.IterVar(iv.dom, iv.var, tirx.IterVar.DataPar)
             if iv.iter_type == tirx.IterVar.CommReduce else iv for iv in block.iter_vars]
    store = tirx.BufferStore(body.buffer, type(value)(init.value, value.b), body.indices)
    reads = [r for r in block.reads if not r.source.same_as(body.buffer)]
    mapped = s_tir.SBlock(iters, reads, block.writes, block.name_hint, store, None,
                          block.alloc_buffers, block.match_buffers, block.annotations)
    sch.state.replace(sch.get_sref(block_rv), mapped, {block: mapped})
    return True


def _constant(extent) -> int | None:
    return extent.value if isinstance(extent, tirx.IntImm) else None


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
    return _constant(sch.get(loop).extent)


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
