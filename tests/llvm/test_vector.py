"""Vectorized loops: the ``<W x T>`` rendering must give the serial loop's results, and the
register-blocked GEMM micro-kernel must compile to register-resident FMA code.

Most kernels here are the serial kernels of small graphs with their innermost loops marked
vectorized wherever the contract allows (so every expression kind meets vectors: contiguous,
uniform and per-lane loads, casts, intrinsics, bools in memory); all of them share one library.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re

import numpy as np
import pytest

from mlc.backends.llvm import ModuleCodegen, compile_module
from mlc.backends.toolchain.host import host_target
from mlc.runtime.kernels import LlvmKernelLibrary
from mlc.backends.loop import evaluate, kernel_args, lower_node
from mlc.backends.loop import ir
from mlc.backends.loop.ir import (Allocate, Assign, Block, Buffer, For, Kernel, Let, Load, Stmt,
                                  Store, Var)
from mlc.backends.loop.verify import KernelError, loop_kind_violation, verify_kernel
from mlc.interp import run_traced
from mlc.ir import DType
from tests.codegen_cases import GRAPHS, assert_matches, op_case

rng = np.random.default_rng(1)
f32 = DType.float32


def vectorize_innermost(s: Stmt, width: int) -> tuple[Stmt, int]:
    """Mark every innermost loop vectorized when the contract allows; returns how many."""
    if isinstance(s, Block):
        parts = [vectorize_innermost(c, width) for c in s.stmts]
        return Block(tuple(p for p, _ in parts)), sum(n for _, n in parts)
    if isinstance(s, Allocate):
        body, n = vectorize_innermost(s.body, width)
        return Allocate(s.buffer, body), n
    if isinstance(s, For):
        body, n = vectorize_innermost(s.body, width)
        if n == 0 and not _has_loop(s.body):
            candidate = dataclasses.replace(s, kind="vectorized", width=width)
            if loop_kind_violation(candidate) is None:
                return candidate, 1
        return dataclasses.replace(s, body=body), n
    return s, 0


def _has_loop(s: Stmt) -> bool:
    if isinstance(s, For):
        return True
    if isinstance(s, Block):
        return any(_has_loop(c) for c in s.stmts)
    return isinstance(s, Allocate) and _has_loop(s.body)


def _graph_kernels():
    """(name, vectorized kernel, args) for the graph cases whose shapes allow a vector loop;
    shapes are widened so the innermost extent is a multiple of 4 or 8."""
    cases = []
    for name, spec in GRAPHS.items():
        op, shapes, *rest = spec
        shapes = [tuple(d * 4 if k == len(s) - 1 else d for k, d in enumerate(s)) if s else s
                  for s in shapes]
        attrs = rest[0] if len(rest) > 0 else None
        if attrs and any(key in attrs for key in ("shape", "starts", "pads", "sizes", "repeats")):
            continue  # shape-bound attributes: the widened shapes would not fit them
        dtypes = rest[1] if len(rest) > 1 else None
        consts = rest[2] if len(rest) > 2 else ()
        try:
            graph, feeds = op_case(op, shapes, attrs, dtypes, consts)
        except Exception:
            continue
        env = {**feeds, **run_traced(graph, feeds)}
        for node in graph.nodes:
            kernel = lower_node(node)
            for width in (4, 8):
                body, count = vectorize_innermost(kernel.body, width)
                if count:
                    inputs = {v.name: env[v.name] for v in node.inputs
                              if v is not None and not v.is_const}
                    vectorized = dataclasses.replace(kernel, body=body)
                    verify_kernel(vectorized)
                    cases.append((f"{name}_w{width}", vectorized, kernel_args(node, inputs)))
    return cases


def _hand_kernels():
    """Vector bodies the graph lowerings do not make: locals inside the body, an unrolled loop
    inside, a non-contiguous (per-lane) load and store, uniform loads, bool and f16 memory."""
    n = 160  # 10 vector iterations: a real loop, not straight-line copies
    x = Buffer("x", f32, (n,))
    h = Buffer("h", DType.float16, (n,))
    flags = Buffer("flags", DType.bool, (n,))
    table = Buffer("table", DType.int32, (4,))
    out = Buffer("out", f32, (n,), "output")
    out_t = Buffer("out_t", f32, (n,), "output")
    out_b = Buffer("out_b", DType.bool, (n,), "output")
    out_h = Buffer("out_h", DType.float16, (n,), "output")
    out_i = Buffer("out_i", DType.uint8, (n,), "output")
    out_g = Buffer("out_g", f32, (n,), "output")
    i, u = Var("i"), Var("u")
    acc = Var("acc", f32)
    xi = Load(x, i)
    body = Block((
        Let(acc, ir.const(0.0, f32)),
        For(u, ir.const(0), ir.const(3), Assign(acc, ir.add(acc, ir.mul(xi, ir.cast(
            f32, ir.add(u, ir.cast(DType.int64, Load(table, ir.const(1)))))))),
            kind="unrolled"),
        Store(out, i, ir.select(Load(flags, i), acc, ir.call("tanh", xi))),
        # the transpose of a 20 x 8 matrix: a scattered store, and a gathered load
        Store(out_t, ir.add(ir.mul(ir.mod(i, 8), 20), ir.floordiv(i, 8)), ir.call("exp", xi)),
        Store(out_g, i, Load(x, ir.add(ir.mul(ir.mod(i, 20), 8), ir.floordiv(i, 20)))),
        Store(out_b, i, ir.lt(xi, ir.cast(f32, Load(h, i)))),
        Store(out_h, i, ir.cast(DType.float16, ir.maximum(xi, ir.cast(f32, Load(h, i))))),
        Store(out_i, i, ir.cast(DType.uint8, ir.mul(xi, ir.const(100.0, f32)))),
    ))
    kernel = Kernel("hand", (x, h, flags, table, out, out_t, out_b, out_h, out_i, out_g),
                    For(i, ir.const(0), ir.const(n), body, kind="vectorized", width=16))
    verify_kernel(kernel)
    args = {"x": rng.standard_normal(n).astype(np.float32),
            "h": rng.standard_normal(n).astype(np.float16),
            "flags": rng.random(n) < 0.5, "table": np.array([3, -2, 5, 7], np.int32)}
    args["x"][:3] = [np.nan, np.inf, -np.inf]
    return [("hand", kernel, args)]


@functools.lru_cache(maxsize=1)
def _library():
    cases = _graph_kernels() + _hand_kernels()
    return cases, LlvmKernelLibrary([kernel for _, kernel, _ in cases])


def test_enough_kernels_vectorize():
    cases, _ = _library()
    assert len(cases) >= 40


def test_vectorized_kernels_match_evaluator():
    cases, library = _library()
    for index, (name, kernel, args) in enumerate(cases):
        with np.errstate(all="ignore"):
            want = evaluate(kernel, args)
        rtol = 2e-3 if any(p.dtype == DType.float16 for p in kernel.params) else 1e-5
        assert_matches(library.run(args, kernel=index), want, name, rtol)


def test_vector_code_is_vector():
    """The hand kernel's contiguous accesses became <16 x ...> loads and stores, its strided
    read a gather."""
    _, library = _library()
    text = library.compiled.llvm_ir
    assert re.search(r"load <16 x float>, ptr .*, align 4", text)
    assert re.search(r"store <16 x i8>", text)
    assert "llvm.masked.gather.v16f32" in text  # the transposed read
    assert "llvm.masked.scatter.v16f32" in text  # the transposed write


def test_contract_violations_are_flagged_and_still_correct():
    """verify rejects a broken vectorized loop; the renderer runs it serially anyway."""
    x = Buffer("x", f32, (10,))
    out = Buffer("out", f32, (10,), "output")
    total = Buffer("total", f32, (1,), "output")
    i = Var("i")
    tail = For(i, ir.const(0), ir.const(10), Store(out, i, Load(x, i)), kind="vectorized",
               width=4)
    racy = For(i, ir.const(0), ir.const(8), Store(total, ir.const(0), ir.add(
        Load(total, ir.const(0)), Load(x, i))), kind="vectorized", width=4)
    assert "multiple of the width" in loop_kind_violation(tail)
    assert "does not vary" in loop_kind_violation(racy)
    assert "constant bounds" in loop_kind_violation(For(i, ir.const(0), Var("n"), Store(
        out, i, Load(x, i)), kind="unrolled"))
    broken = Kernel("broken", (x, out, total), Block((
        tail, Store(total, ir.const(0), ir.const(0.0, f32)), racy)))
    with pytest.raises(KernelError):
        verify_kernel(broken)
    codegen = ModuleCodegen("m", host_target())
    codegen.add_kernel(broken, verify=False)
    assert "<4 x" not in str(codegen.module)  # both loops fell back to serial code
    compile_module(codegen.module, host_target())
    args = {"x": rng.standard_normal(10).astype(np.float32)}
    got = LlvmKernelLibrary(broken, verify=False).run(args)
    assert_matches(got, evaluate(broken, args), "broken")


# -- the register-blocked GEMM micro-kernel --------------------------------------------------------

MR, NR = 6, 32


def gemm_kernel(m: int, n: int, k: int, split: bool = False) -> Kernel:
    """C = A @ B with B pre-packed into 32-wide panels (``Bp[n/32][k][32]``): each 6 x 32 tile
    of C is accumulated in a scratch ``acc`` over the whole K, A broadcast, B contiguous.
    ``split``: the 32 columns as an unrolled 2 x vectorized 16 instead of one vectorized 32."""
    a = Buffer("A", f32, (m, k))
    bp = Buffer("Bp", f32, (n // NR, k, NR))
    c = Buffer("C", f32, (m, n), "output")
    acc = Buffer("acc", f32, (MR * NR,), "scratch")
    mt, nt, kk, r = Var("mt"), Var("nt"), Var("k"), Var("r")
    col, half = Var("c"), Var("h")

    def tile(body) -> Stmt:
        """for r unrolled 6: for c in 0..32 (vectorized, maybe split) body(r, c)"""
        if split:
            inner = For(half, ir.const(0), ir.const(2), For(
                col, ir.const(0), ir.const(16), body(ir.add(ir.mul(half, 16), col)),
                kind="vectorized", width=16), kind="unrolled")
        else:
            inner = For(col, ir.const(0), ir.const(NR), body(col), kind="vectorized", width=NR)
        return For(r, ir.const(0), ir.const(MR), inner, kind="unrolled")

    slot = lambda cc: ir.add(ir.mul(r, NR), cc)  # noqa: E731
    row = ir.add(ir.mul(mt, MR), r)
    body = Allocate(acc, ir.block(
        tile(lambda cc: Store(acc, slot(cc), ir.const(0.0, f32))),
        For(kk, ir.const(0), ir.const(k), tile(lambda cc: Store(acc, slot(cc), ir.add(
            Load(acc, slot(cc)), ir.mul(Load(a, ir.add(ir.mul(row, k), kk)), Load(
                bp, ir.add(ir.mul(ir.add(ir.mul(nt, k), kk), NR), cc))))))),
        tile(lambda cc: Store(c, ir.add(ir.mul(row, n), ir.add(ir.mul(nt, NR), cc)),
                              Load(acc, slot(cc))))))
    nest = For(mt, ir.const(0), ir.const(m // MR), For(nt, ir.const(0), ir.const(n // NR), body))
    kernel = Kernel(f"gemm{'_split' if split else ''}", (a, bp, c), nest)
    verify_kernel(kernel)
    return kernel


def pack(b: np.ndarray) -> np.ndarray:
    k, n = b.shape
    return np.ascontiguousarray(b.reshape(k, n // NR, NR).transpose(1, 0, 2))


def _k_loop(asm: str) -> str:
    """The innermost loop of the assembly that contains FMAs (from its label to the back
    branch)."""
    blocks = re.split(r"\n(?=\.LBB\d+_\d+:)", asm)
    loops = [b for b in blocks if "vfmadd" in b and re.search(r"\n\s*j\w+\s+\.LBB", b)]
    return min(loops, key=len) if loops else ""


@pytest.mark.parametrize("split", [False, True])
def test_gemm_micro_kernel_is_correct_and_register_blocked(split):
    m, n, k = 12, 64, 40
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    library = LlvmKernelLibrary(gemm_kernel(m, n, k, split))
    got = library.run({"A": a, "Bp": pack(b)})["C"]
    np.testing.assert_allclose(got, a @ b, rtol=1e-4, atol=1e-4)
    if host_target().isa != "avx512":
        pytest.skip("the zmm checks need AVX-512")
    loop = _k_loop(library.compiled.asm or "")
    assert loop.count("vfmadd231ps") >= 12, loop
    assert "zmm" in loop and ("{1to16}" in loop or "vbroadcastss" in loop), loop
    assert "(%rsp)" not in loop, f"spills in the k loop:\n{loop}"


def test_gemm_micro_kernel_at_full_size():
    """resnet50's im2col shapes (its speed is benchmarks/conv_kernels.py's to measure)."""
    for m, n, k in ((3132, 64, 576), (600, 64, 576)):
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        library = LlvmKernelLibrary(gemm_kernel(m, n, k))
        args = {"A": a, "Bp": pack(b)}
        np.testing.assert_allclose(library.run(args)["C"], a @ b, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("kind", ["vectorized", "serial"])
@pytest.mark.parametrize("fn", ["exp", "tanh", "erf"])
def test_f32_math_is_accurate_everywhere(fn, kind):
    """The inline polynomials (f32, vector and scalar) against numpy in f64, over the range:
    tiny, moderate, overflowing and underflowing arguments, infinities and NaN."""
    values = np.concatenate([np.linspace(-110, 95, 4000), rng.standard_normal(4000) * 3,
                             np.geomspace(1e-30, 1, 500), -np.geomspace(1e-30, 1, 500),
                             [np.inf, -np.inf, np.nan, 0.0, -0.0, 88.72, 88.73, -87.4, -103.9]])
    values = values.astype(np.float32)
    values = np.concatenate([values, np.zeros(-len(values) % 16, np.float32)])
    n = len(values)
    x, out = Buffer("x", f32, (n,)), Buffer("out", f32, (n,), "output")
    i = Var("i")
    kernel = Kernel(fn, (x, out), For(i, ir.const(0), ir.const(n), Store(
        out, i, ir.call(fn, Load(x, i))), kind=kind, width=16))
    library = LlvmKernelLibrary(kernel)
    assert f"llvm.{fn}.v16f32" not in library.compiled.llvm_ir
    got = library.run({"x": values})["out"]
    with np.errstate(all="ignore"):
        reference = np.vectorize(math.erf) if fn == "erf" else getattr(np, fn)
        want = reference(values.astype(np.float64)).astype(np.float32)
    normal = np.abs(want) >= np.finfo(np.float32).tiny
    np.testing.assert_allclose(got[normal], want[normal], rtol=4e-7 if fn == "erf" else 3e-7,
                               atol=0)
    np.testing.assert_allclose(got[~normal], want[~normal], rtol=0, atol=1e-37)  # (denormals)
    assert np.array_equal(np.isnan(got), np.isnan(want))
