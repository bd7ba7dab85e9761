"""Generic loop schedules (transform.schedule_loops): the scheduled kernel must evaluate bit for
bit like the plain one, pass verify_kernel, and have the loop kinds the schedule promises."""

from __future__ import annotations

import dataclasses

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mlc
from mlc.backends.loop import evaluate, kernel_args, lower_node, print_kernel, verify_kernel
from mlc.backends.loop import ir
from mlc.backends.loop.analysis import affine_coefficient
from mlc.backends.loop.ir import Allocate, Assign, Buffer, For, Kernel, Let, Load, Store, Var
from mlc.backends.loop.lower import LoweringError
from mlc.backends.loop.schedule import LoopSchedule, Schedules, default_schedules
from mlc.backends.loop.transform import schedule_loops
from mlc.interp import run_traced
from mlc.ir import DType, GraphBuilder
from mlc.passes import run_pipeline
from mlc.testing.models import zoo_model_path
from tests.strategies import random_feeds, random_graphs

from tests.loop.helpers import fuse, op_graph, random_array

rng = np.random.default_rng(0)
AVX512 = default_schedules("avx512")
# Small widths and a low parallel threshold so tiny shapes (the evaluator is slow) exercise
# every rewrite: 4 f32 lanes, parallel from 16 stores.
SMALL = dataclasses.replace(AVX512, loops=LoopSchedule(lanes=4, min_parallel_elements=16))


_data = functools.partial(random_array, rng)


def kinds(kernel: Kernel) -> dict[str, int]:
    """How many loops of each non-serial kind the printed kernel has."""
    text = print_kernel(kernel)
    return {k: text.count(f" {k}") for k in ("parallel", "vectorized", "unrolled")}


def bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def check_node(node, feeds, schedules: Schedules = SMALL) -> Kernel:
    """Lower ``node`` plain and scheduled; both must evaluate to the same bits."""
    plain = lower_node(node)
    scheduled = lower_node(node, schedules=schedules)
    verify_kernel(scheduled)
    args = kernel_args(node, feeds)
    want, got = evaluate(plain, args), evaluate(scheduled, args)
    for name in want:
        assert bits(got[name]) == bits(want[name]), \
            f"{name}\n{print_kernel(plain)}\n{print_kernel(scheduled)}"
    return scheduled


def check_graph(graph, feeds, schedules: Schedules = SMALL) -> list[Kernel]:
    env = {k: np.asarray(v) for k, v in feeds.items()}
    env.update(run_traced(graph, feeds))
    kernels = []
    for node in graph.nodes:
        inputs = {v.name: env[v.name] for v in node.inputs if v is not None and not v.is_const}
        kernels.append(check_node(node, inputs, schedules))
    return kernels


def one_op(op, shapes, attrs=None, dtypes=None, schedules: Schedules = SMALL) -> Kernel:
    graph, feeds = op_graph(rng, op, shapes, attrs, dtypes)
    (kernel,) = check_graph(graph, feeds, schedules)
    return kernel


# -- the analysis helper ---------------------------------------------------------------------------

def test_affine_coefficient():
    i, j = Var("i"), Var("j")
    acc = Var("acc", DType.int64)
    buf = Buffer("b", DType.int64, (100,))
    assert affine_coefficient(ir.add(ir.mul(j, 56), i), i) == 1
    assert affine_coefficient(ir.sub(ir.mul(i, 3), ir.mul(i, 5)), i) == -2
    assert affine_coefficient(ir.mul(j, 7), i) == 0
    assert affine_coefficient(ir.const(4), i) == 0
    assert affine_coefficient(ir.floordiv(i, 2), i) is None
    assert affine_coefficient(ir.mod(i, 7), i) is None
    assert affine_coefficient(ir.mul(i, j), i) is None
    assert affine_coefficient(Load(buf, j), i) == 0
    assert affine_coefficient(Load(buf, i), i) is None
    assert affine_coefficient(ir.add(acc, i), i) == 1
    assert affine_coefficient(ir.add(acc, i), i, frozenset({"acc"})) is None
    # unravel then flat_index of a flat variable folds back to the variable itself
    f = Var("f")
    idx = ir.flat_index((4, 56, 56), ir.unravel((4, 56, 56), f))
    assert affine_coefficient(idx, f) == 1


# -- structure -------------------------------------------------------------------------------------

def test_big_relu_is_one_parallel_and_one_vectorized_loop():
    b = GraphBuilder("g")
    b.outputs(b.relu(b.input("x", (1, 64, 56, 56))))
    kernel = lower_node(b.graph.nodes[0], schedules=AVX512)
    verify_kernel(kernel)
    assert kinds(kernel) == {"parallel": 1, "vectorized": 1, "unrolled": 0}
    assert "vectorized(16)" in print_kernel(kernel)


def test_bias_relu_keeps_channels_parallel_and_merges_rows_into_one_vector_loop():
    b = GraphBuilder("g")
    x, bias = b.input("x", (1, 64, 56, 56)), b.input("bias", (1, 64, 1, 1))
    b.outputs(b.relu(b.add(x, bias)))
    kernel = lower_node(fuse(b.graph).nodes[0], schedules=AVX512)
    text = print_kernel(kernel)
    assert "for i0 in 0..64 parallel:" in text
    assert "in 0..3136 vectorized(16):" in text and text.count("for ") == 2  # no tail


def test_small_kernels_stay_serial_but_vectorize():
    kernel = one_op("add", [(3, 7), (7,)], schedules=AVX512)  # 7 < 16 lanes: 4 lanes and 3
    assert kinds(kernel) == {"parallel": 0, "vectorized": 1, "unrolled": 0}
    assert "in 0..4 vectorized(4):" in print_kernel(kernel) and "in 4..7:" in print_kernel(kernel)
    b = GraphBuilder("g")
    b.outputs(b.exp(b.input("x", (100, 20))))
    kernel = lower_node(b.graph.nodes[0], schedules=AVX512)
    assert kinds(kernel)["parallel"] == 0 and kinds(kernel)["vectorized"] == 1


def test_scalar_and_serial_schedules():
    b = GraphBuilder("g")
    b.outputs(b.relu(b.input("x", (1, 64, 56, 56))))
    node = b.graph.nodes[0]
    scalar = lower_node(node, schedules=default_schedules("scalar"))
    assert kinds(scalar) == {"parallel": 1, "vectorized": 0, "unrolled": 0}
    serial = AVX512.with_overrides(["loops.parallel=false"])
    assert kinds(lower_node(node, schedules=serial)) == {"parallel": 0, "vectorized": 1,
                                                         "unrolled": 0}
    assert kinds(lower_node(node, schedules=serial.with_overrides(["loops.lanes=1"]))) == \
        {"parallel": 0, "vectorized": 0, "unrolled": 0}


def test_width_follows_the_element_size_and_narrows_for_the_rest():
    serial = AVX512.with_overrides(["loops.parallel=false"])
    text = print_kernel(one_op("neg", [(13,)], dtypes=[np.float64], schedules=serial))
    assert "in 0..8 vectorized(8):" in text and "in 8..12 vectorized(4):" in text
    assert "in 12..13:" in text
    text = print_kernel(one_op("neg", [(94,)], dtypes=[np.int8], schedules=serial))
    assert "in 0..64 vectorized(64):" in text and "in 64..80 vectorized(16):" in text
    assert "in 80..88 vectorized(8):" in text and "in 88..92 vectorized(4):" in text
    assert "in 92..94:" in text
    assert "in 0..48 vectorized(16):" in print_kernel(one_op("neg", [(48,)], schedules=serial))


def test_a_kernel_with_a_scheduled_loop_is_left_alone():
    x, y = Buffer("x", DType.float32, (64,)), Buffer("y", DType.float32, (64,), "output")
    i = Var("i")
    body = For(i, ir.const(0), ir.const(64), Store(y, i, Load(x, i)), kind="parallel")
    kernel = Kernel("k", (x, y), For(Var("j"), ir.const(0), ir.const(2), body))
    assert schedule_loops(kernel, SMALL) is kernel


# -- legality of the hand-built awkward cases ------------------------------------------------------

def _kernel_checks(kernel: Kernel, args) -> Kernel:
    scheduled = schedule_loops(kernel, SMALL)
    verify_kernel(scheduled)
    want, got = evaluate(kernel, args), evaluate(scheduled, args)
    for name in want:
        assert bits(got[name]) == bits(want[name]), print_kernel(scheduled)
    return scheduled


def test_accumulator_loops_are_neither_parallel_nor_vectorized():
    x, y = Buffer("x", DType.float32, (64,)), Buffer("y", DType.float32, (1,), "output")
    acc, i = Var("acc", DType.float32), Var("i")
    kernel = Kernel("k", (x, y), ir.block(
        Let(acc, ir.const(0.0, DType.float32)),
        For(i, ir.const(0), ir.const(64), Assign(acc, ir.add(acc, Load(x, i)))),
        Store(y, ir.const(0), acc)))
    scheduled = _kernel_checks(kernel, {"x": _data((64,))})
    assert kinds(scheduled) == {"parallel": 0, "vectorized": 0, "unrolled": 0}


def test_loop_carried_memory_stays_serial():
    """y[i] = y[i-1] + x[i] reads what the previous iteration wrote."""
    x, y = Buffer("x", DType.float32, (33,)), Buffer("y", DType.float32, (33,), "output")
    i = Var("i")
    kernel = Kernel("k", (x, y), ir.block(
        Store(y, ir.const(0), Load(x, ir.const(0))),
        For(i, ir.const(1), ir.const(33),
            Store(y, i, ir.add(Load(y, ir.sub(i, 1)), Load(x, i))))))
    scheduled = _kernel_checks(kernel, {"x": _data((33,))})
    assert kinds(scheduled) == {"parallel": 0, "vectorized": 0, "unrolled": 0}


def test_scratch_shared_across_iterations_is_not_parallel():
    """A row buffer allocated outside and reused by every outer iteration would race; one
    allocated inside is private and fine; a large one inside is not allowed in parallel."""
    x, y = Buffer("x", DType.float32, (8, 8)), Buffer("y", DType.float32, (8, 8), "output")
    i, j, k = Var("i"), Var("j"), Var("k")

    def nest(row: Buffer) -> For:
        fill = For(j, ir.const(0), ir.const(8), Store(row, j, ir.mul(Load(x, ir.add(ir.mul(i, 8),
                                                                                    j)), 2.0)))
        use = For(k, ir.const(0), ir.const(8), Store(y, ir.add(ir.mul(i, 8), k),
                                                     Load(row, ir.sub(7, k))))
        return fill, use

    shared = Buffer("row", DType.float32, (8,), "scratch")
    kernel = Kernel("k", (x, y), Allocate(shared, For(i, ir.const(0), ir.const(8),
                                                      ir.block(*nest(shared)))))
    assert kinds(_kernel_checks(kernel, {"x": _data((8, 8))}))["parallel"] == 0
    private = Kernel("k", (x, y), For(i, ir.const(0), ir.const(8),
                                      Allocate(shared, ir.block(*nest(shared)))))
    assert kinds(_kernel_checks(private, {"x": _data((8, 8))}))["parallel"] == 1
    big = Buffer("row", DType.float32, (1 << 15,), "scratch")
    large = Kernel("k", (x, y), For(i, ir.const(0), ir.const(8),
                                    Allocate(big, ir.block(*nest(big)))))
    assert kinds(schedule_loops(large, SMALL))["parallel"] == 0
    # every outer iteration writing the same output row (the last one wins) races too
    same_row = Kernel("k", (x, y), For(i, ir.const(0), ir.const(8), For(
        j, ir.const(0), ir.const(8), Store(y, j, Load(x, ir.add(ir.mul(i, 8), j))))))
    assert kinds(schedule_loops(same_row, SMALL))["parallel"] == 0


def test_single_loop_is_split_into_parallel_chunks():
    b = GraphBuilder("g")
    b.outputs(b.sigmoid(b.input("x", (1001,))))
    node = b.graph.nodes[0]
    kernel = check_node(node, {"x": _data((1001,))})
    text = print_kernel(kernel)
    assert kinds(kernel)["parallel"] == 1 and kinds(kernel)["vectorized"] >= 1
    assert "..1001:" in text  # the remainder after the chunks


def test_small_outer_loop_is_collapsed_before_parallelizing():
    # transpose keeps its loads strided, so nothing merges for vectors; the outer extent 2 is
    # merged with the next loop into one parallel loop of 2*5 iterations.
    kernel = one_op("transpose", [(2, 5, 3, 6)], {"perm": (0, 1, 3, 2)})
    text = print_kernel(kernel)
    assert kinds(kernel)["parallel"] == 1
    assert "in 0..10 parallel:" in text


# -- numerics over many ops ------------------------------------------------------------------------

UNARY = ["relu", "sigmoid", "tanh", "erf", "exp", "neg", "abs", "reciprocal", "hard_swish", "silu",
         "sqrt", "log"]


@pytest.mark.parametrize("op", UNARY)
def test_unary(op):
    with np.errstate(all="ignore"):
        kernel = one_op(op, [(2, 3, 7)])
    assert kinds(kernel)["vectorized"] == 1 and kinds(kernel)["parallel"] == 1


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.uint8, np.float64, np.float16])
def test_dtypes(dtype):
    for op in ("add", "mul", "max"):
        one_op(op, [(3, 9), (9,)], dtypes=[dtype, dtype])
    one_op("cast", [(2, 11)], {"to": "f32"}, dtypes=[dtype])


def test_comparisons_where_and_casts():
    one_op("less", [(2, 17), (17,)])
    one_op("where", [(2, 1), (9,), (2, 9)], dtypes=[np.bool_, np.float32, np.float32])
    one_op("not", [(3, 19)], dtypes=[np.bool_])
    one_op("cast", [(3, 7)], {"to": "i8"})


@settings(max_examples=20, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                min_side=1, max_side=6),
       op=st.sampled_from(["add", "sub", "mul", "div", "max"]))
def test_broadcasting(shapes, op):
    one_op(op, list(shapes.input_shapes))


@pytest.mark.parametrize("op, shape, attrs", [
    ("reshape", (2, 3, 8), {"shape": (4, 12)}),
    ("transpose", (2, 3, 9), {"perm": (2, 0, 1)}),
    ("transpose", (4, 9, 5), {"perm": (0, 2, 1)}),
    ("expand", (3, 1), {"shape": (2, 3, 9)}),
    ("tile", (2, 5), {"repeats": (2, 3)}),
    ("slice", (5, 13), {"starts": (1, 12), "ends": (4, -1), "axes": (0, 1), "steps": (2, -2)}),
    ("pad", (3, 9), {"pads": (1, 2, 0, 1), "mode": "constant", "value": 1.5}),
    ("pad", (3, 9), {"pads": (2, 1, 1, 3), "mode": "reflect"}),
    ("split", (6, 10), {"axis": 0, "sizes": (1, 2, 3)}),
    ("concat", None, {"axis": 1}),
])
def test_injective(op, shape, attrs):
    shapes = [(2, 1, 9), (2, 4, 9), (2, 2, 9)] if op == "concat" else [shape]
    one_op(op, shapes, attrs)


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"])
@pytest.mark.parametrize("axes, keepdims", [((1,), True), ((0, 2), False), ((), True),
                                            ((-1,), False)])
def test_reductions(op, axes, keepdims):
    one_op(op, [(3, 5, 9)], {"axes": axes, "keepdims": keepdims})


def test_integer_reductions():
    one_op("reduce_sum", [(5, 9)], {"axes": (0,)}, dtypes=[np.int8])
    one_op("reduce_mean", [(5, 9)], {"axes": (1,), "keepdims": False}, dtypes=[np.int32])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax(op, axis):
    kernel = one_op(op, [(2, 3, 9)], {"axis": axis})
    text = print_kernel(kernel)
    if axis == -1:  # the normalising loop stores contiguously: vector body plus a tail of 1
        assert kinds(kernel)["vectorized"] == 1 and "in 8..9:" in text
    assert text.count("max0 = ") == 1  # the max and sum loops stay serial accumulations


def test_extent_smaller_than_the_width():
    # rows of 3 merge into one contiguous loop of 120 when every access allows it...
    assert kinds(one_op("relu", [(40, 3)]))["vectorized"] == 1
    # ...not when an operand is broadcast along the rows (its index would be f // 3)
    assert kinds(one_op("add", [(40, 3), (40, 1)]))["vectorized"] == 0
    assert kinds(one_op("relu", [(3,)]))["vectorized"] == 0


def test_fused_chain_and_epilogues():
    b = GraphBuilder("g")
    x, s = b.input("x", (2, 3, 13)), b.input("s", (3, 1))
    y = b.mul(b.sigmoid(x), x)
    y = b.reshape(b.transpose(b.add(y, s), perm=(0, 2, 1)), shape=(26, 3))
    b.outputs(b.clip(y, min=0.0, max=0.6))
    check_graph(fuse(b.graph), {"x": _data((2, 3, 13)), "s": _data((3, 1))})

    b = GraphBuilder("g")
    x = b.input("x", (4, 11))
    y = b.softmax(b.mul(x, b.const(np.float32(2.0))), axis=1)
    b.outputs(b.relu(b.sub(y, b.const(np.float32(0.1)))))
    check_graph(fuse(b.graph), {"x": _data((4, 11))})

    b = GraphBuilder("g")  # the epilogue reads the reduction broadcast: a scratch buffer
    x = b.input("x", (6, 10))
    m = b.reduce_max(x, axes=(1,), keepdims=True)
    b.outputs(b.exp(b.sub(x, m)))
    graph = fuse(b.graph)
    (kernel,) = check_graph(graph, {"x": _data((6, 10))})
    assert isinstance(kernel.body, Allocate) and kinds(kernel)["parallel"] == 2


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(graph=random_graphs())
def test_random_fused_graphs(graph):
    fuse(graph)
    feeds = random_feeds(graph, seed=1)
    env = {k: np.asarray(v) for k, v in feeds.items()}
    with np.errstate(all="ignore"):
        env.update(run_traced(graph, feeds))
        for node in graph.nodes:
            try:
                lower_node(node)
            except LoweringError:
                continue
            inputs = {v.name: env[v.name] for v in node.inputs
                      if v is not None and not v.is_const}
            check_node(node, inputs)


@pytest.mark.parametrize("model", ["digits_cnn", "kws_dscnn", "tiny_transformer"])
def test_zoo_model_kernels_verify(model):
    """Every kernel of an -O2 zoo model that lowers verifies after scheduling for AVX-512."""
    graph = mlc.load(zoo_model_path(model))
    run_pipeline(graph, "O2")
    for node in graph.nodes:
        try:
            verify_kernel(lower_node(node, schedules=AVX512))
        except LoweringError:
            continue


# -- anchors with small windows: unrolled inside the vector loop -----------------------------------

def test_pool_window_is_unrolled_inside_a_vector_loop():
    kernel = one_op("max_pool2d", [(1, 2, 6, 9)], {"kernel": (3, 3), "pads": (1, 1, 1, 1)})
    assert kinds(kernel)["vectorized"] >= 1 and kinds(kernel)["unrolled"] >= 2
    kernel = one_op("lrn", [(1, 5, 3, 9)], {"size": 3})
    assert kinds(kernel)["vectorized"] >= 1 and kinds(kernel)["unrolled"] >= 1


def test_small_stride_loads_are_left_to_llvm():
    kernel = one_op("avg_pool2d", [(1, 2, 8, 18)], {"kernel": (2, 2), "strides": (2, 2)})
    assert kinds(kernel)["vectorized"] == 0 and kinds(kernel)["unrolled"] == 0


def test_scheduled_kernels_compile_and_match_the_evaluator():
    """The shapes this transform makes (chunks, vector cascades, unrolled windows, collapsed
    loops) through the LLVM renderer at 2 threads."""
    from mlc.runtime.kernels import LlvmKernelLibrary

    cases = [("sigmoid", [(1003,)], {}), ("add", [(2, 9, 37), (9, 1)], {}),
             ("softmax", [(5, 45)], {"axis": -1}),
             ("max_pool2d", [(1, 3, 7, 23)], {"kernel": (3, 3), "pads": (1, 1, 1, 1)})]
    for op, shapes, attrs in cases:
        b = GraphBuilder("g")
        xs = [b.input(f"x{k}", s) for k, s in enumerate(shapes)]
        b.outputs(b.op(op, *xs, **attrs))
        node = b.graph.nodes[0]
        kernel = lower_node(node, schedules=SMALL)
        args = {f"x{k}": _data(s) for k, s in enumerate(shapes)}
        want = evaluate(kernel, args)
        got = LlvmKernelLibrary(kernel, threads=2).run(args)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6,
                                       err_msg=print_kernel(kernel))
