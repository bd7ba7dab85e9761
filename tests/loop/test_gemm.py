"""The scheduled conv2d / matmul lowerings (backends/loop/ops/gemm*.py): the evaluator running the
tiled, packed, vectorized kernel must agree with the reference interpreter, for many attribute
combinations, tail tiles in M and N, fused epilogues, and every target's schedules."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.backends.loop import evaluate, kernel_args, lower_node, print_kernel
from mlc.backends.loop.ir import Allocate, Block, For, Kernel, Stmt
from mlc.backends.loop.ops import REDUCE
from mlc.backends.loop.schedule import Schedules, default_schedules
from mlc.backends.loop.verify import verify_kernel
from mlc.interp import run_traced
from mlc.ir import GraphBuilder
from mlc.text import print_node

from tests.loop.helpers import assert_same, fuse

rng = np.random.default_rng(7)
AVX512 = default_schedules("avx512")
AVX2 = default_schedules("avx2")
SCALAR = default_schedules("scalar")
SMALL = AVX512.with_overrides(["gemm.mr=4", "gemm.nr=16"])  # tails at tiny sizes


@pytest.fixture
def fast_only():
    """Make the plain conv2d/matmul lowerings fail, so a test proves the scheduled one ran."""
    def refuse(ctx, node, store):
        raise AssertionError(f"the scheduled lowering declined {node.op}")
    plain = {op: REDUCE[op] for op in ("conv2d", "matmul")}
    for op in plain:
        REDUCE.remove(op)
        REDUCE.add(op, refuse)
    yield
    for op, fn in plain.items():
        REDUCE.remove(op)
        REDUCE.add(op, fn)


def _loops(stmt: Stmt) -> list[For]:
    if isinstance(stmt, For):
        return [stmt] + _loops(stmt.body)
    if isinstance(stmt, Block):
        return [f for s in stmt.stmts for f in _loops(s)]
    if isinstance(stmt, Allocate):
        return _loops(stmt.body)
    return []


def run_scheduled(graph, feeds, schedules: Schedules) -> list[Kernel]:
    """Lower every node with ``schedules``, check it statically and against the interpreter."""
    env = {k: np.asarray(v) for k, v in feeds.items()}
    env.update(run_traced(graph, feeds))
    kernels = []
    for node in graph.nodes:
        kernel = lower_node(node, schedules=schedules)
        verify_kernel(kernel)
        inputs = {v.name: env[v.name] for v in node.inputs if v is not None and not v.is_const}
        got = evaluate(kernel, kernel_args(node, inputs))
        for out in node.outputs:
            assert_same(got[out.name], env[out.name],
                        f"{node.op} -> {out.name}\n{print_node(node)}\n{print_kernel(kernel)}")
        kernels.append(kernel)
    return kernels


def conv_graph(x_shape, co, kernel, *, bias=True, epilogue=(), **attrs):
    b = GraphBuilder("g")
    x = b.input("x", x_shape)
    group = attrs.get("group", 1)
    w = b.const(rng.standard_normal((co, x_shape[1] // group, *kernel)).astype(np.float32), "w")
    args = [x, w]
    if bias:
        args.append(b.const(rng.standard_normal(co).astype(np.float32), "bias"))
    y = b.op("conv2d", *args, **attrs)
    feeds = {"x": rng.standard_normal(x_shape).astype(np.float32)}
    if "residual" in epilogue:
        r = b.input("r", y.shape)
        feeds["r"] = rng.standard_normal(y.shape).astype(np.float32)
        y = b.op("add", y, r)
    if "relu" in epilogue:
        y = b.op("relu", y)
    b.outputs(y)
    return fuse(b.graph) if epilogue else b.graph, feeds


CONVS = [
    # x shape, Cout, kernel, attrs
    ((1, 3, 7, 9), 5, (3, 3), dict(pads=(1, 1, 1, 1))),
    ((2, 4, 6, 5), 7, (3, 3), dict(strides=(2, 2), pads=(1, 0, 2, 1))),
    ((1, 5, 9, 8), 6, (1, 1), {}),                                    # pointwise: direct
    ((2, 6, 5, 5), 9, (1, 1), dict(strides=(2, 2))),                  # 1×1 stride 2: im2col
    ((1, 3, 9, 9), 4, (3, 2), dict(dilations=(2, 3), pads=(2, 1, 0, 3))),
    ((1, 6, 6, 7), 6, (3, 3), dict(group=3, pads=(1, 1, 1, 1))),      # grouped
    ((1, 2, 11, 11), 5, (5, 5), dict(strides=(3, 2), pads=(2, 2, 2, 2))),
    ((1, 4, 2, 3), 3, (3, 3), dict(pads=(2, 2, 2, 2))),               # all border
    ((1, 2, 1, 9), 5, (1, 3), dict(pads=(0, 1, 0, 1))),               # one output row
]


@pytest.mark.parametrize("schedules", [SMALL, SCALAR], ids=["avx512-small", "scalar"])
@pytest.mark.parametrize("x_shape,co,kernel,attrs", CONVS)
def test_conv(x_shape, co, kernel, attrs, schedules, fast_only):
    graph, feeds = conv_graph(x_shape, co, kernel, **attrs)
    run_scheduled(graph, feeds, schedules)


@pytest.mark.parametrize("schedules", [AVX512, AVX2, SMALL.with_overrides(["gemm.mr=3"])],
                         ids=["avx512", "avx2", "mr3"])
def test_conv_epilogue_and_schedules(schedules, fast_only):
    """Bias, residual add and relu fused into the store of a conv with tails in M and N."""
    graph, feeds = conv_graph((2, 3, 5, 7), 7, (3, 3), pads=(1, 1, 1, 1),
                              epilogue=("residual", "relu"))
    (kernel,) = run_scheduled(graph, feeds, schedules)
    assert "relu" not in [n.op for n in graph.nodes]  # really fused into the one kernel


def test_pointwise_direct_reads_input_in_place(fast_only):
    """A 1×1 stride-1 conv packs only its partial last panel (no im2col of the whole input)."""
    graph, feeds = conv_graph((1, 4, 5, 7), 6, (1, 1), epilogue=("relu",))
    (direct,) = run_scheduled(graph, feeds, SMALL)
    (copied,) = run_scheduled(graph, feeds, SMALL.with_overrides(["gemm.conv=im2col"]))
    scratch = lambda k: [s.buffer.shape for s in _allocs(k.body) if s.buffer.name.startswith("col")]
    assert scratch(direct) == [(4 * 16,)]               # K × nr: the tail panel only
    assert scratch(copied) == [(4 * 48,)]               # K × Npad: all 35 columns, padded


def _allocs(stmt: Stmt) -> list[Allocate]:
    if isinstance(stmt, Allocate):
        return [stmt] + _allocs(stmt.body)
    if isinstance(stmt, For):
        return _allocs(stmt.body)
    if isinstance(stmt, Block):
        return [a for s in stmt.stmts for a in _allocs(s)]
    return []


@pytest.mark.parametrize("schedules", [SMALL, SCALAR], ids=["avx512-small", "scalar"])
@pytest.mark.parametrize("x_shape,kernel,attrs", [
    ((1, 3, 6, 21), (3, 3), dict(pads=(1, 1, 1, 1))),
    ((2, 4, 7, 6), (3, 3), dict(strides=(2, 2), pads=(0, 1, 1, 1))),
    ((1, 2, 5, 37), (5, 5), dict(pads=(2, 2, 2, 2), dilations=(1, 2))),
    ((1, 2, 3, 3), (3, 3), dict(pads=(1, 1, 1, 1))),                 # no interior column
])
def test_depthwise(x_shape, kernel, attrs, schedules, fast_only):
    c = x_shape[1]
    graph, feeds = conv_graph(x_shape, c, kernel, group=c, epilogue=("relu",), **attrs)
    (kernel_ir,) = run_scheduled(graph, feeds, schedules)
    assert not any(a.buffer.name.startswith("col") for a in _allocs(kernel_ir.body))
    if schedules is SMALL and x_shape[3] >= 19:
        assert any(f.kind == "vectorized" for f in _loops(kernel_ir.body))


def test_schedule_drives_the_code(fast_only):
    """mr, nr and parallel come from the schedule: an override changes the kernel (correctness
    of such kernels is checked above; here only their shape)."""
    graph, _ = conv_graph((1, 8, 6, 6), 16, (3, 3), pads=(1, 1, 1, 1))
    node = graph.nodes[0]

    def lowered(schedules: Schedules) -> Kernel:
        kernel = lower_node(node, schedules=schedules)
        verify_kernel(kernel)
        return kernel

    six, four = lowered(AVX512), lowered(AVX512.with_overrides(["gemm.mr=4"]))
    serial = lowered(AVX512.with_overrides(["gemm.parallel=false"]))
    packed = lambda k: {p.name: p.shape for p in k.params if p.name.startswith("w_packed")}
    assert packed(six) == {"w_packed6": (1, 3, 72, 6)}
    assert packed(four) == {"w_packed4": (1, 4, 72, 4)}
    assert any(f.kind == "parallel" for f in _loops(six.body))
    assert not any(f.kind == "parallel" for f in _loops(serial.body))
    widths = lambda k: {f.width for f in _loops(k.body) if f.kind == "vectorized"}
    assert widths(six) == {16}
    assert widths(lowered(AVX2)) == {8}


def matmul_graph(a_shape, b_shape, *, const_b=True, epilogue=()):
    b = GraphBuilder("g")
    a = b.input("a", a_shape)
    feeds = {"a": rng.standard_normal(a_shape).astype(np.float32)}
    bdata = rng.standard_normal(b_shape).astype(np.float32)
    if const_b:
        bv = b.const(bdata, "b")
    else:
        bv = b.input("b", b_shape)
        feeds["b"] = bdata
    y = b.op("matmul", a, bv)
    if "bias" in epilogue:
        y = b.op("add", y, b.const(rng.standard_normal(y.shape[-1]).astype(np.float32), "c"))
    if "relu" in epilogue:
        y = b.op("relu", y)
    b.outputs(y)
    return fuse(b.graph) if epilogue else b.graph, feeds


@pytest.mark.parametrize("schedules", [SMALL, AVX2, SCALAR], ids=["avx512-small", "avx2", "scalar"])
@pytest.mark.parametrize("a_shape,b_shape", [
    ((5, 7), (7, 19)),            # tails in both
    ((8, 3), (3, 32)),            # full tiles
    ((2, 3, 4), (4, 17)),         # batch dims fold into rows
    ((7,), (7, 5)),               # vector @ matrix
    ((2, 3, 4), (1, 4, 6)),       # B with a unit batch dim
])
def test_matmul_const(a_shape, b_shape, schedules, fast_only):
    graph, feeds = matmul_graph(a_shape, b_shape, epilogue=("bias", "relu"))
    (kernel,) = run_scheduled(graph, feeds, schedules)
    assert any(name.startswith("b_packed") for name, _ in kernel.constants)


@pytest.mark.parametrize("a_shape,b_shape,const_b", [
    ((3, 4), (4,), True), ((2, 3, 4), (2, 4, 5), True), ((3, 4), (4, 5), False)])
def test_matmul_declined_shapes_fall_back(a_shape, b_shape, const_b):
    """Shapes the fast path does not take still lower (plainly) and compute the right thing."""
    graph, feeds = matmul_graph(a_shape, b_shape, const_b=const_b)
    (kernel,) = run_scheduled(graph, feeds, SMALL)
    assert not kernel.constants


def test_compiled_through_llvm_matches_numpy(fast_only):
    """Real sizes, compiled by the LLVM backend and run at 1 and 2 threads: a 3×3 conv with a
    fused residual add and relu, a pointwise conv with an N tail, a depthwise conv and a
    fully connected layer, against the interpreter."""
    from mlc.backends.toolchain.host import host_target
    from mlc.runtime.kernels import LlvmKernelLibrary

    schedules = default_schedules(host_target().isa)
    cases = [conv_graph((1, 32, 20, 20), 40, (3, 3), pads=(1, 1, 1, 1),
                        epilogue=("residual", "relu")),
             conv_graph((2, 24, 9, 9), 30, (1, 1), epilogue=("relu",)),
             conv_graph((1, 16, 15, 15), 16, (3, 3), group=16, strides=(2, 2), pads=(1, 1, 1, 1)),
             matmul_graph((3, 200), (200, 70), epilogue=("bias", "relu"))]
    kernels, expected = [], []
    for graph, feeds in cases:
        (node,) = graph.nodes
        kernels.append(lower_node(node, schedules=schedules))
        env = run_traced(graph, feeds)
        inputs = {v.name: feeds[v.name] for v in node.inputs if v.name in feeds}
        expected.append((kernel_args(node, inputs), env[node.outputs[0].name],
                         node.outputs[0].name))
    library = LlvmKernelLibrary(kernels, threads=1)
    for threads in (1, 2):
        library.set_threads(threads)
        for k, (args, want, name) in enumerate(expected):
            got = library.run(args, kernel=k)[name]
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4,
                                       err_msg=f"{kernels[k].name} at {threads} threads")
