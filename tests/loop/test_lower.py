"""Lowering single ops and fused groups: the evaluator must agree with the reference interpreter
(the registry's numpy kernels) on small random inputs."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlc.backends.loop import LoweringError, evaluate, kernel_args, lower_node, print_kernel
from mlc.backends.loop.ir import Allocate
from mlc.backends.loop.ops import COMPUTE, REDUCE, has_lowering
from mlc.interp import run as interpret
from mlc.ir import DType, GraphBuilder
from mlc.ops import all_ops
from tests.strategies import random_feeds, random_graphs

from tests.loop.helpers import check_graph, fuse, hand_fused, op_graph, random_array

rng = np.random.default_rng(0)


_data = functools.partial(random_array, rng)


def evaluate_node(node, feeds):
    """The first output of ``node``'s kernel on ``feeds``."""
    kernel = lower_node(node)
    return evaluate(kernel, kernel_args(node, feeds))[node.outputs[0].name]


def check_op(op, shapes, attrs=None, dtypes=None, consts=()):
    """Build one node of ``op`` over inputs of ``shapes`` and compare its kernel."""
    graph, feeds = op_graph(rng, op, shapes, attrs, dtypes, consts)
    assert check_graph(graph, feeds) == 1


UNARY = ["relu", "sigmoid", "tanh", "erf", "exp", "neg", "abs", "reciprocal", "hard_swish",
         "silu", "identity", "dropout"]


@pytest.mark.parametrize("op", UNARY)
def test_unary(op):
    check_op(op, [(2, 3, 4)])


@pytest.mark.parametrize("op, attrs", [
    ("leaky_relu", {"alpha": 0.1}), ("hard_sigmoid", {"alpha": 0.3, "beta": 0.4}),
    ("gelu", {"approximate": "none"}), ("gelu", {"approximate": "tanh"}),
    ("clip", {"min": -0.5, "max": 0.5}), ("clip", {"max": 0.0}),
])
def test_unary_with_attributes(op, attrs):
    check_op(op, [(3, 5)], attrs)


def test_sqrt_and_log_of_positive_and_negative():
    check_op("sqrt", [(4, 4)])  # NaN for negatives, on both sides
    check_op("log", [(4, 4)])


@pytest.mark.parametrize("to", ["i32", "i8", "u8", "bool", "f16"])
def test_cast(to):
    check_op("cast", [(3, 4)], {"to": to})


def test_integer_ops():
    for op in ("add", "sub", "mul", "div", "max", "min"):
        check_op(op, [(3, 4), (4,)], dtypes=[np.int32, np.int32])
    check_op("clip", [(3, 4)], {"min": -3, "max": 300}, dtypes=[np.int8])
    check_op("abs", [(5,)], dtypes=[np.int8])


def test_comparisons_where_and_not():
    for op in ("equal", "less", "greater"):
        check_op(op, [(2, 3), (3,)])
    check_op("where", [(2, 1), (3,), (2, 3)], dtypes=[np.bool_, np.float32, np.float32])
    check_op("not", [(4,)], dtypes=[np.bool_])


def test_pow_prelu_and_scalar_constants():
    check_op("pow", [(3, 4), ()], consts=(1,))
    check_op("prelu", [(2, 3, 4), (3, 1)], consts=(1,))
    check_op("pow", [(3,), (3,)], dtypes=[np.int32, np.int32])


binary_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                  min_side=1, max_side=3)


@settings(max_examples=25, deadline=None)
@given(shapes=binary_shapes, op=st.sampled_from(["add", "sub", "mul", "div", "max", "pow"]))
def test_broadcasting(shapes, op):
    check_op(op, list(shapes.input_shapes))


@settings(max_examples=15, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3))
def test_where_broadcasting(shapes):
    check_op("where", list(shapes.input_shapes), dtypes=[np.bool_, np.float32, np.float32])


# -- injective ops ---------------------------------------------------------------------------------

@pytest.mark.parametrize("op, shape, attrs", [
    ("reshape", (2, 3, 4), {"shape": (4, 6)}),
    ("reshape", (2, 1, 6), {"shape": (3, 1, 4)}),
    ("transpose", (2, 3, 4), {"perm": (2, 0, 1)}),
    ("expand", (3, 1), {"shape": (2, 3, 4)}),
    ("tile", (2, 3), {"repeats": (2, 1)}),
    ("tile", (1, 3), {"repeats": (3, 2)}),
    ("slice", (5, 6), {"starts": (1, 5), "ends": (4, -1), "axes": (0, 1), "steps": (2, -2)}),
    ("slice", (4, 6), {"starts": (0,), "ends": (6,), "axes": (1,), "steps": (3,)}),
    ("pad", (3, 4), {"pads": (1, 2, 0, 1), "mode": "constant", "value": 1.5}),
    ("pad", (3, 4), {"pads": (2, 1, 1, 3), "mode": "edge"}),
    ("pad", (3, 4), {"pads": (2, 1, 1, 3), "mode": "reflect"}),
    ("pad", (3, 4), {"pads": (2, 5, 1, 3), "mode": "wrap"}),
    ("pad", (4, 5), {"pads": (-1, 2, 1, -2), "mode": "constant"}),
    ("split", (6, 2), {"axis": 0, "sizes": (1, 2, 3)}),
])
def test_injective(op, shape, attrs):
    check_op(op, [shape], attrs)


def test_concat():
    check_op("concat", [(2, 1, 3), (2, 4, 3), (2, 2, 3)], {"axis": 1})
    check_op("concat", [(2, 3), (2, 0), (2, 1)], {"axis": -1})


@pytest.mark.parametrize("idx_shape, axis", [((), 0), ((2, 2), 1), ((4,), 0)])
def test_gather(idx_shape, axis):
    b = GraphBuilder("g")
    x = b.input("x", (3, 4))
    idx = b.const(rng.integers(-3, 3, size=idx_shape).astype(np.int64), name="idx")
    b.outputs(b.gather(x, idx, axis=axis))
    assert check_graph(b.graph, {"x": _data((3, 4))}) == 1


# -- reductions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"])
@pytest.mark.parametrize("axes, keepdims",
                         [((1,), True), ((0, 2), False), ((), True), ((-1,), False)])
def test_reductions(op, axes, keepdims):
    check_op(op, [(2, 3, 4)], {"axes": axes, "keepdims": keepdims})


def test_integer_reductions():
    check_op("reduce_mean", [(3, 5)], {"axes": (1,), "keepdims": False}, dtypes=[np.int32])
    check_op("reduce_sum", [(3, 5)], {"axes": (0,)}, dtypes=[np.int8])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax(op, axis):
    check_op(op, [(2, 3, 4)], {"axis": axis})


def test_softmax_is_stable_for_large_inputs():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3))
    b.outputs(b.softmax(x, axis=1))
    feeds = {"x": np.array([[1000, 1001, 999], [-np.inf, 0, 1]], np.float32)}
    check_graph(b.graph, feeds)


# -- fused groups ----------------------------------------------------------------------------------

def test_elementwise_chain_is_one_loop_nest():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3, 4))
    s = b.input("s", (3, 1))
    y = b.mul(b.sigmoid(x), x)
    y = b.reshape(b.transpose(b.add(y, s), perm=(0, 2, 1)), shape=(8, 3))
    b.outputs(b.clip(y, min=0.0, max=0.6))
    graph = fuse(b.graph)
    assert [n.op for n in graph.nodes] == ["fused"]
    assert check_graph(graph, {"x": _data((2, 3, 4)), "s": _data((3, 1))}) == 1
    assert print_kernel(lower_node(graph.nodes[0])).count("for ") == 2  # one nest over (8, 3)


def test_reduction_with_prologue_and_epilogue_fuses_into_the_store():
    b = GraphBuilder("g")
    x = b.input("x", (3, 5))
    y = b.softmax(b.mul(x, b.const(np.float32(2.0))), axis=1)
    b.outputs(b.relu(b.sub(y, b.const(np.float32(0.1)))))
    graph = fuse(b.graph)
    assert [n.op for n in graph.nodes] == ["fused"]
    kernel = lower_node(graph.nodes[0])
    assert not isinstance(kernel.body, Allocate)
    assert check_graph(graph, {"x": _data((3, 5))}) == 1


def test_epilogue_that_broadcasts_the_reduction_uses_scratch():
    b = GraphBuilder("g")
    x = b.input("x", (3, 4))
    m = b.reduce_max(x, axes=(1,), keepdims=True)
    b.outputs(b.exp(b.sub(x, m)))
    graph = fuse(b.graph)
    assert [n.op for n in graph.nodes] == ["fused"]
    assert isinstance(lower_node(graph.nodes[0]).body, Allocate)
    assert check_graph(graph, {"x": _data((3, 4))}) == 1


def test_group_with_two_anchors_is_staged():
    """softmax then a reduction over its result: each anchor fills a scratch buffer in turn and
    the epilogue's nest reads the second (this raised "may hold one anchor")."""
    b = GraphBuilder("g")
    x = b.input("x", (3, 4))
    (y,) = hand_fused(b, [x], lambda g, p: [g.relu(g.reduce_sum(
        g.softmax(p, axis=1), axes=(0,), keepdims=True))])
    b.outputs(y)
    kernel = lower_node(b.graph.nodes[0])
    scratch = []
    body = kernel.body
    while isinstance(body, Allocate):
        scratch.append(body.buffer.name)
        body = body.body
    assert len(scratch) == 2
    assert check_graph(b.graph, {"x": _data((3, 4))}) == 1


def test_group_with_a_reduction_and_two_outputs():
    """A group yielding both a reduction and a value computed from it (this raised "a group
    with a reduction must have one output")."""
    b = GraphBuilder("g")
    x = b.input("x", (3, 4))
    m, e = hand_fused(b, [x], lambda g, p: (
        lambda m: [m, g.exp(g.sub(p, m))])(g.reduce_max(p, axes=(1,), keepdims=True)))
    b.outputs(e, m)
    assert check_graph(b.graph, {"x": _data((3, 4))}) == 1


def test_nested_fused_node_lowers_as_one_group():
    """A fused node inside a fused body joins the group (this raised "no loop-IR lowering for
    fused"); the inner body's parameters read the outer values bound to them."""
    b = GraphBuilder("g")
    x, s = b.input("x", (2, 3)), b.input("s", (3,))
    (y,) = hand_fused(b, [x, s], lambda g, p, q: [g.mul(hand_fused(
        g, [p, q], lambda h, u, v: [h.softmax(h.add(u, v), axis=1)], name="inner")[0], p)])
    b.outputs(y)
    kernel = lower_node(b.graph.nodes[0])
    assert sorted(p.name for p in kernel.inputs) == ["s", "x"]
    assert check_graph(b.graph, {"x": _data((2, 3)), "s": _data((3,))}) == 1


def test_body_constants_do_not_meet_outer_values_of_the_same_name():
    """A body's constant named like a value outside it: the outer constant "c" is bound to a
    parameter, the body holds its own "c" (an array and a scalar). The kernel owns the body's
    constants, so kernel_args binds only the outer one (it bound both to "c", and the evaluator
    saw 1 element where 28 were due)."""
    b = GraphBuilder("g")
    outer = b.const(_data((7, 4)), name="c")
    (y,) = hand_fused(b, [outer], lambda g, p: [g.add(g.mul(p, g.const(_data((4,)), name="c")),
                                                        g.const(np.float32(0.5), name="c"))])
    b.outputs(y)
    node = b.graph.nodes[0]
    kernel = lower_node(node)
    assert set(kernel_args(node)) == {"c"}
    assert [name for name, _ in kernel.constants] == ["c_"]
    assert check_graph(b.graph, {}) == 1


@pytest.mark.parametrize("attrs, want", [({"min": np.inf}, np.inf), ({"max": -np.inf}, -np.inf),
                                         ({"min": np.inf, "max": -np.inf}, -np.inf)])
def test_clip_binds_infinite_bounds_that_bind(attrs, want):
    """min=+inf and max=-inf bind (every number becomes that infinity); only min=-inf and
    max=+inf are no bound. The lowering dropped every infinite bound."""
    graph, feeds = op_graph(rng, "clip", [(3, 1)], attrs)
    feeds["x0"][0, 0] = np.nan  # NaN stays NaN, as in the reference
    assert check_graph(graph, feeds) == 1
    got = evaluate_node(graph.nodes[0], feeds)
    assert np.isnan(got[0, 0]) and (got[1:] == want).all()


@pytest.mark.parametrize("op, attrs", [
    ("leaky_relu", {"alpha": 8e-121}),  # underflows to 0 in f32: -inf·0 would be NaN
    ("hard_sigmoid", {"alpha": 2.5e-137, "beta": 0.0}),
    ("hard_sigmoid", {"alpha": 1e-44, "beta": 0.0}),  # subnormal in f32: 2% of it lost
    ("hard_sigmoid", {"alpha": 7e16, "beta": 2.2e-309}),  # subnormal in f64 too
    ("leaky_relu", {"alpha": 1e300}),  # overflows f32 (the case handled before)
])
def test_attributes_that_do_not_fit_f32_are_applied_in_f64(op, attrs):
    """The registry multiplies by alpha in f64; an attribute that underflows or is subnormal in
    f32 must not be rounded there first (-inf · 8e-121 is -inf, not -inf · 0 = NaN; 1e-44 is
    9.8e-45 in f32). Done in f64 and rounded once, the kernel equals the reference bit for bit."""
    graph, feeds = op_graph(rng, op, [(2, 3)], attrs)
    feeds["x0"][0] = [-np.inf, np.inf, 3e38]
    feeds["x0"][1] = [-3e38, -1.5, 0.25]
    want = interpret(graph, feeds)[graph.outputs[0].name]
    np.testing.assert_array_equal(evaluate_node(graph.nodes[0], feeds), want)


def test_gemm_whose_products_overflow_may_round_either_way():
    """Products beyond f32's range: the evaluator rounds each a·b (to ±inf, then inf - inf is
    NaN), numpy's BLAS fuses them into the sum (-7.6e48 + 5.9e48 rounds to -inf). Both are
    correct f32 evaluations; the comparison leaves such elements free (tests/rounding.py) and
    still holds the others."""
    b = GraphBuilder("g")
    a = b.const(np.array([[-2.4e-22, 1.2e32], [-7.7e-24, 1.3e32], [-6.5e-23, 8.4e31]],
                         np.float32))
    w = b.const(np.array([[-0.0, -0.0, -0.0], [-0.0, -5.8e16, 7.0e16]], np.float32))
    b.outputs(b.gemm(a, w, None, alpha=1.1, beta=2.7e265, trans_a=True, trans_b=True))
    assert check_graph(b.graph, {}) == 1


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(graph=random_graphs())
def test_random_fused_graphs(graph):
    """Every node the fuse pass leaves (fused or plain) lowers and evaluates like the
    interpreter on random graphs."""
    fuse(graph)
    with np.errstate(all="ignore"):
        check_graph(graph, random_feeds(graph, seed=1))


# -- coverage and errors ---------------------------------------------------------------------------

def test_every_op_has_a_lowering():
    missing = [name for name in all_ops() if name != "fused" and not has_lowering(name)]
    assert missing == []


def test_an_op_lowers_one_way():
    assert set(COMPUTE) & set(REDUCE) == set(), "ops with both a compute and a reduction lowering"


def test_unlowered_ops_are_named():
    b = GraphBuilder("g")
    x = b.input("x", (1, 2, 4, 4))
    w = b.const(np.ones((2, 2, 3, 3), np.float32))
    b.outputs(b.relu(b.conv2d(x, w, pads=(1, 1, 1, 1))))
    graph = fuse(b.graph)
    plain = REDUCE["conv2d"]
    REDUCE.remove("conv2d")  # as if conv2d had no lowering
    try:
        with pytest.raises(LoweringError,
                           match=r"no loop-IR lowering for conv2d yet \(in fused node"):
            lower_node(graph.nodes[0])
    finally:
        REDUCE.add("conv2d", plain)


# -- quantization ----------------------------------------------------------------------------------

@pytest.mark.parametrize("scale, zero_point, dtype", [
    (np.float32(0.05), np.int64(3), "i8"),
    (np.array([0.02, 0.1, 0.5], np.float32), np.array([0, 10, 200]), "u8"),
])
def test_quantize_is_bit_exact(scale, zero_point, dtype):
    b = GraphBuilder("g")
    x = b.input("x", (2, 3, 4))
    b.outputs(b.quantize(x, scale=scale, zero_point=zero_point, axis=1, dtype=dtype))
    data = _data((2, 3, 4)) * 10
    data[0, 0, :3] = [np.nan, np.inf, 0.025]  # NaN → zero point, saturation, a tie
    assert check_graph(b.graph, {"x": data}) == 1


def test_dequantize_per_channel_owns_its_table():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3), "i8")
    b.outputs(b.dequantize(x, scale=np.array([0.5, 0.25], np.float32),
                           zero_point=np.array([1, -2]), axis=0))
    kernel = lower_node(b.graph.nodes[0])
    assert [name for name, _ in kernel.constants] == [
        f"{b.graph.outputs[0].name}_zero_point", f"{b.graph.outputs[0].name}_scale"]
    assert check_graph(b.graph, {"x": _data((2, 3), np.int8)}) == 1


@settings(max_examples=25, deadline=None)
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), data=st.data(),
       op=st.sampled_from(["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"]))
def test_reductions_over_random_axes(shape, data, op):
    axis = st.integers(0, max(len(shape) - 1, 0))
    axes = data.draw(st.lists(axis, unique=True, max_size=len(shape)))
    check_op(op, [shape], {"axes": tuple(axes), "keepdims": data.draw(st.booleans())})


def test_half_precision_softmax_and_bool_reduction():
    check_op("softmax", [(2, 5)], {"axis": 1}, dtypes=[np.float16])
    check_op("reduce_max", [(3, 4)], {"axes": (1,)}, dtypes=[np.bool_])
