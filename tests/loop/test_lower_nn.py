"""Plain lowerings of convolutions, matrix products and pools: the evaluator must agree with the
registry's numpy kernels for every attribute the registry accepts, alone and fused with an
epilogue, and every node of every zoo model must lower at -O2."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc.backends.loop import evaluate, kernel_args, lower_node, print_kernel
from mlc.backends.loop.ir import For, Select
from mlc.backends.loop.verify import verify_kernel
from mlc.interp import run_traced
from mlc.ir import GraphBuilder
from mlc.passes import run_pipeline
from mlc.testing.models import ZOO_MODELS, zoo_model_path
from tests.strategies import random_feeds

from tests.loop.helpers import assert_same, check_graph, fuse
from tests.loop.test_lower import check_op

rng = np.random.default_rng(7)


def _walk(stmt):
    """Every statement and expression node under ``stmt`` (dataclass fields, recursively)."""
    stack, seen = [stmt], []
    while stack:
        node = stack.pop()
        seen.append(node)
        for value in getattr(node, "__dict__", {}).values():
            items = value if isinstance(value, tuple) else (value,)
            stack.extend(v for v in items if hasattr(v, "__dataclass_fields__"))
    return seen


# -- conv2d ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("x_shape, w_shape, attrs", [
    ((1, 2, 4, 4), (2, 2, 3, 3), {}),
    ((2, 2, 3, 4), (2, 2, 3, 2), {"pads": (1, 1, 1, 1)}),
    ((1, 4, 5, 5), (4, 2, 3, 3), {"strides": (2, 1), "pads": (1, 0, 2, 1), "dilations": (1, 2),
                                  "group": 2}),
    ((1, 3, 4, 4), (6, 1, 3, 3), {"pads": (1, 1, 1, 1), "strides": (2, 2), "group": 3}),
    ((1, 2, 5, 5), (2, 1, 3, 3), {"pads": (2, 2, 2, 2), "dilations": (2, 2), "group": 2}),
    ((1, 3, 4, 4), (5, 3, 1, 1), {"strides": (2, 2)}),
    ((1, 2, 3, 3), (2, 2, 3, 3), {"pads": (0, 2, 1, 0)}),
])
@pytest.mark.parametrize("bias", [False, True])
def test_conv2d(x_shape, w_shape, attrs, bias):
    shapes = [x_shape, w_shape] + [(w_shape[0],)] * bias
    check_op("conv2d", shapes, attrs, consts=(1, 2))


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_conv2d_random_attributes(data):
    draw = data.draw
    group = draw(st.sampled_from([1, 2]))
    cg, mult = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    low_h = max(dh * (kh - 1) + 1 - pads[0] - pads[2], 1)
    low_w = max(dw * (kw - 1) + 1 - pads[1] - pads[3], 1)
    h, w = draw(st.integers(low_h, low_h + 2)), draw(st.integers(low_w, low_w + 2))
    attrs = {"strides": (draw(st.integers(1, 3)), draw(st.integers(1, 2))), "pads": pads,
             "dilations": (dh, dw), "group": group}
    check_op("conv2d", [(1, cg * group, h, w), (mult * group, cg, kh, kw), (mult * group,)],
             attrs, consts=(1, 2))


def test_unpadded_conv_has_no_selects_and_padded_keeps_loads_in_bounds():
    """Only a padded conv needs the bounds test; the evaluator bounds-checks every load, so the
    padded case passing check_op is the in-bounds proof."""
    b = GraphBuilder("g")
    x = b.input("x", (1, 2, 4, 4))
    b.outputs(b.conv2d(x, b.const(np.ones((2, 2, 3, 3), np.float32))))
    assert not any(isinstance(n, Select) for n in _walk(lower_node(b.graph.nodes[0]).body))
    check_op("conv2d", [(1, 1, 2, 2), (1, 1, 3, 3)], {"pads": (2, 2, 2, 2)}, consts=(1,))


def test_half_precision_conv_and_matmul_accumulate_in_f32():
    check_op("conv2d", [(1, 2, 4, 4), (3, 2, 3, 3), (3,)], {"pads": (1, 1, 1, 1)},
             dtypes=[np.float16] * 3, consts=(1, 2))
    check_op("matmul", [(3, 17), (17, 2)], dtypes=[np.float16] * 2)


# -- conv2d_transpose ------------------------------------------------------------------------------

@pytest.mark.parametrize("x_shape, w_shape, attrs", [
    ((1, 2, 2, 3), (2, 2, 3, 3), {}),
    ((1, 4, 2, 2), (4, 1, 3, 3), {"strides": (2, 2), "pads": (1, 0, 0, 1), "group": 2,
                                  "output_padding": (1, 0)}),
    ((1, 1, 3, 2), (1, 2, 2, 3), {"strides": (3, 1), "pads": (-1, 1, 0, -2),
                                  "dilations": (2, 1)}),
    ((1, 3, 2, 2), (3, 1, 3, 2), {"strides": (2, 3), "pads": (1, 1, 1, 1), "group": 3,
                                  "dilations": (1, 2), "output_padding": (1, 2)}),
    ((1, 4, 2, 2), (4, 2, 2, 2), {"strides": (2, 1), "group": 2}),
])
def test_conv2d_transpose(x_shape, w_shape, attrs):
    full = {"strides": (1, 1), "pads": (0, 0, 0, 0), "dilations": (1, 1), "group": 1,
            "output_padding": (0, 0), **attrs}
    co = w_shape[1] * full["group"]
    check_op("conv2d_transpose", [x_shape, w_shape, (co,)], full, consts=(1, 2))
    check_op("conv2d_transpose", [x_shape, w_shape], full, consts=(1,))


# -- matmul and gemm -------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b", [
    ((3, 4), (4, 5)), ((4,), (4, 2)), ((3, 4), (4,)), ((5,), (5,)),
    ((2, 1, 3, 4), (3, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((1, 3, 0), (0, 2)),
])
def test_matmul(a, b):
    check_op("matmul", [a, b])


def test_matmul_with_constant_weights_and_integers():
    check_op("matmul", [(2, 3, 4), (4, 6)], consts=(1,))
    check_op("matmul", [(3, 4), (4, 2)], dtypes=[np.int32, np.int32])
    check_op("matmul", [(3, 4), (4, 2)], dtypes=[np.int8, np.int8])
    check_op("matmul", [(2, 3), (3, 2)], dtypes=[np.bool_, np.bool_])


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("alpha, beta, c", [(1.0, 1.0, (5,)), (0.5, 2.0, (3, 1)),
                                            (1.0, 0.0, (3, 5)), (-1.5, 1.0, None)])
def test_gemm(trans_a, trans_b, alpha, beta, c):
    a = (4, 3) if trans_a else (3, 4)
    b = (5, 4) if trans_b else (4, 5)
    shapes = [a, b] + ([c] if c is not None else [])
    check_op("gemm", shapes, {"alpha": alpha, "beta": beta, "trans_a": trans_a,
                              "trans_b": trans_b}, consts=(1,))


# -- pooling ---------------------------------------------------------------------------------------

POOLS = [
    {"kernel": (2, 2), "strides": (2, 2)},
    {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1)},
    {"kernel": (3, 2), "strides": (2, 3), "pads": (1, 0, 2, 1), "ceil_mode": True},
    {"kernel": (3, 3), "strides": (1, 1), "pads": (2, 1, 0, 2)},
    {"kernel": (2, 3), "strides": (3, 2), "ceil_mode": True},
]


@pytest.mark.parametrize("attrs", POOLS)
def test_max_pool2d(attrs):
    check_op("max_pool2d", [(1, 2, 7, 6)], attrs)
    check_op("max_pool2d", [(1, 2, 7, 6)], {**attrs, "dilations": (2, 1)})


def test_max_pool2d_integers_and_nan():
    check_op("max_pool2d", [(1, 2, 5, 5)], POOLS[1], dtypes=[np.int8])
    b = GraphBuilder("g")
    x = b.input("x", (1, 1, 4, 4))
    b.outputs(b.op("max_pool2d", x, **POOLS[1]))
    data = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    data[0, 0, 1, 1] = np.nan
    assert check_graph(b.graph, {"x": data}) == 1


@pytest.mark.parametrize("attrs", POOLS)
@pytest.mark.parametrize("count_include_pad", [False, True])
def test_avg_pool2d(attrs, count_include_pad):
    check_op("avg_pool2d", [(1, 2, 7, 6)], {**attrs, "count_include_pad": count_include_pad})


def test_half_precision_pools():
    check_op("avg_pool2d", [(1, 2, 5, 5)], {**POOLS[2], "count_include_pad": True},
             dtypes=[np.float16])
    check_op("global_avg_pool", [(1, 3, 4, 4)], dtypes=[np.float16])


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 6), (2, 2, 1, 1), (1, 2, 2, 3, 2)])
@pytest.mark.parametrize("op", ["global_avg_pool", "global_max_pool"])
def test_global_pools(op, shape):
    check_op(op, [shape])


# -- fused groups ----------------------------------------------------------------------------------

def test_conv_bias_relu_residual_is_one_kernel():
    """conv2d → add(bias) → relu → add(residual) fuses into one group whose epilogue runs in the
    conv's store: one output nest, no scratch."""
    b = GraphBuilder("g")
    x = b.input("x", (1, 2, 4, 4))
    skip = b.input("skip", (1, 3, 4, 4))
    w = b.const(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    bias = b.const(rng.standard_normal((1, 3, 1, 1)).astype(np.float32))
    y = b.relu(b.add(b.conv2d(x, w, pads=(1, 1, 1, 1)), bias))
    b.outputs(b.add(y, skip))
    graph = fuse(b.graph)
    assert [n.op for n in graph.nodes] == ["fused"]
    kernel = lower_node(graph.nodes[0])
    assert sum(isinstance(n, For) for n in _walk(kernel.body)) == 6  # 3 output, 3 reduction
    feeds = {"x": rng.standard_normal((1, 2, 4, 4)).astype(np.float32),
             "skip": rng.standard_normal((1, 3, 4, 4)).astype(np.float32)}
    assert check_graph(graph, feeds) == 1


@pytest.mark.parametrize("anchor", ["matmul", "max_pool2d", "global_avg_pool"])
def test_anchors_take_prologue_and_epilogue(anchor):
    b = GraphBuilder("g")
    x = b.input("x", (1, 2, 4, 4))
    pre = b.mul(b.sigmoid(x), x)
    if anchor == "matmul":
        y = b.matmul(pre, b.const(rng.standard_normal((4, 3)).astype(np.float32)))
    elif anchor == "max_pool2d":
        y = b.op("max_pool2d", pre, kernel=(3, 3), pads=(1, 1, 1, 1), strides=(2, 2))
    else:
        y = b.op("global_avg_pool", pre)
    b.outputs(b.clip(b.add(y, b.const(np.float32(0.25))), min=0.0, max=1.0))
    graph = fuse(b.graph)
    assert len(graph.nodes) <= 2
    assert check_graph(graph, {"x": rng.standard_normal((1, 2, 4, 4)).astype(np.float32)}) >= 1


# -- zoo models ------------------------------------------------------------------------------------

SMALL_ENOUGH = 3_000  # multiply-adds (or elements) the slow evaluator runs in about a second


def _work(node) -> int:
    nodes = list(node.body.nodes) if node.body is not None else [node]
    total = 0
    for n in nodes:
        if n.op in ("conv2d", "conv2d_transpose", "matmul", "gemm"):
            reduce = n.inputs[1].shape[1] * n.inputs[1].shape[2] * n.inputs[1].shape[3] \
                if n.op.startswith("conv") else n.inputs[0].shape[-1 if n.op == "matmul" or
                                                                  not n.attrs["trans_a"] else 0]
            total += int(np.prod(n.outputs[0].shape)) * reduce
        else:
            total += int(np.prod(n.outputs[0].shape))
    return total


@pytest.mark.parametrize("model", ZOO_MODELS)
def test_every_zoo_node_lowers_at_O2(model):
    """Every node of every -O2 zoo model lowers (no skipping) and verifies; the small ones also
    evaluate like the interpreter."""
    graph = mlc.load(zoo_model_path(model))
    run_pipeline(graph, "O2")
    feeds = random_feeds(graph, seed=0)
    env = {k: np.asarray(v) for k, v in feeds.items()}
    env.update(run_traced(graph, feeds))
    for node in graph.nodes:
        kernel = lower_node(node)
        verify_kernel(kernel)
        if _work(node) > SMALL_ENOUGH:
            continue
        inputs = {v.name: env[v.name] for v in node.inputs if v is not None and not v.is_const}
        got = evaluate(kernel, kernel_args(node, inputs))
        for out in node.outputs:
            assert_same(got[out.name], env[out.name], f"{node.op}\n{print_kernel(kernel)}")
