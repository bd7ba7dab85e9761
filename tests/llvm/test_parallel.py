"""Parallel loops: outlined into the runtime's thread pool, they must give exactly the serial
kernel's results at 2 threads (each iteration runs the same code, only elsewhere)."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from mlc.runtime.kernels import LlvmKernelLibrary
from mlc.backends.loop import evaluate
from mlc.backends.loop import ir
from mlc.backends.loop.ir import (Allocate, Assign, Block, Buffer, For, Kernel, Let, Load, Stmt,
                                  Store, Var)
from mlc.backends.loop.verify import KernelError, verify_kernel
from tests.codegen_cases import assert_matches, graph_cases
from tests.llvm.test_vector import gemm_kernel, pack

rng = np.random.default_rng(2)
f32, i64 = ir.f32, ir.i64


def parallelize_outermost(s: Stmt) -> tuple[Stmt, int]:
    """Mark the outermost loop of every nest parallel (their iterations write disjoint outputs
    in the kernels lowered from graphs); returns how many."""
    if isinstance(s, For):
        return dataclasses.replace(s, kind="parallel"), 1
    if isinstance(s, Block):
        parts = [parallelize_outermost(c) for c in s.stmts]
        return Block(tuple(p for p, _ in parts)), sum(n for _, n in parts)
    if isinstance(s, Allocate):
        body, n = parallelize_outermost(s.body)
        return Allocate(s.buffer, body), n
    return s, 0


def _captures_kernel() -> Kernel:
    """A parallel loop with a non-zero start and step 3 inside a serial loop, reading the
    enclosing loop variable and a Let local, holding a stack scratch buffer, a nested parallel
    loop (run serially by the pool) and a vectorized loop; then an empty parallel loop."""
    x = Buffer("x", f32, (4, 40))
    out = Buffer("out", f32, (4, 40), "output")
    tmp = Buffer("tmp", f32, (8,), "scratch")
    o, i, j, v, e = Var("o"), Var("i"), Var("j"), Var("v"), Var("e")
    scale = Var("scale", f32)
    acc = Var("acc", f32)
    row = ir.mul(o, 40)
    inner = Allocate(tmp, ir.block(
        For(v, ir.const(0), ir.const(8), Store(tmp, v, ir.mul(ir.cast(f32, ir.add(v, i)), scale)),
            kind="vectorized", width=8),
        Let(acc, ir.const(0.0, f32)),
        For(j, ir.const(0), ir.const(8), Assign(acc, ir.add(acc, Load(tmp, j)))),
        For(j, ir.const(0), ir.const(1), Store(out, ir.add(ir.add(row, i), j), ir.add(
            acc, Load(x, ir.add(ir.add(row, i), j)))), kind="parallel")))
    body = For(o, ir.const(0), ir.const(4), ir.block(
        Let(scale, ir.add(ir.cast(f32, o), ir.const(0.5, f32))),
        For(i, ir.const(1), ir.const(40), inner, step=3, kind="parallel"),
        For(e, ir.const(5), ir.const(2), Store(out, e, ir.const(-1.0, f32)), kind="parallel")))
    kernel = Kernel("captures", (x, out), body)
    verify_kernel(kernel)
    return kernel


@functools.lru_cache(maxsize=1)
def _cases():
    cases = []
    for name, kernel, args in graph_cases():
        body, count = parallelize_outermost(kernel.body)
        if count:
            cases.append((name, kernel, body, args))
    gemm = gemm_kernel(60, 64, 48)
    a = rng.standard_normal((60, 48)).astype(np.float32)
    b = rng.standard_normal((48, 64)).astype(np.float32)
    cases.append(("gemm", gemm, parallelize_outermost(gemm.body)[0], {"A": a, "Bp": pack(b)}))
    captures = _captures_kernel()
    cases.append(("captures", captures, captures.body, {"x": rng.standard_normal((4, 40)).astype(
        np.float32)}))
    return cases


@functools.lru_cache(maxsize=1)
def _libraries():
    cases = _cases()
    serial = LlvmKernelLibrary([k for _, k, _, _ in cases], threads=1)
    parallel = LlvmKernelLibrary([dataclasses.replace(k, body=body) for _, k, body, _ in cases],
                             threads=2)
    return serial, parallel


def test_libraries_run_two_threads_and_outline_bodies():
    serial, parallel = _libraries()
    assert parallel.threads == 2
    assert "mlc_parallel_for" in parallel.compiled.llvm_ir
    assert serial.threads == 1


def test_parallel_results_equal_serial_results():
    serial, parallel = _libraries()
    for index, (name, _, _, args) in enumerate(_cases()):
        with np.errstate(all="ignore"):
            want = serial.run(args, kernel=index)
            got = parallel.run(args, kernel=index)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{name}: {key}")


def test_captures_kernel_matches_evaluator():
    serial, parallel = _libraries()
    index = [name for name, *_ in _cases()].index("captures")
    _, kernel, _, args = _cases()[index]
    assert_matches(parallel.run(args, kernel=index), evaluate(kernel, args), "captures")


def test_gemm_with_parallel_tiles_matches_numpy():
    _, parallel = _libraries()
    index = [name for name, *_ in _cases()].index("gemm")
    args = _cases()[index][3]
    a, bp = args["A"], args["Bp"]
    b = bp.transpose(1, 0, 2).reshape(48, 64)
    for _ in range(5):  # the pool is reused across calls
        np.testing.assert_allclose(parallel.run(args, kernel=index)["C"], a @ b, rtol=1e-4,
                                   atol=1e-4)


def test_large_scratch_inside_a_parallel_loop_is_rejected():
    out = Buffer("out", f32, (2,), "output")
    big = Buffer("big", f32, (20000,), "scratch")
    i = Var("i")
    kernel = Kernel("big", (out,), For(i, ir.const(0), ir.const(2), Allocate(big, Store(
        out, i, ir.const(1.0, f32))), kind="parallel"))
    with pytest.raises(KernelError, match="parallel loop"):
        verify_kernel(kernel)
