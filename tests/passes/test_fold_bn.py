"""fold-bn beyond its text cases: every producer kind with random shapes, groups, strides and
statistics stays within 1e-5 relative of the original, and real models lose every batch_norm."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlc.frontend import load_onnx
from mlc.interp import run
from mlc.ir import GraphBuilder, verify
from mlc.passes import make_pass, run_pipeline
from mlc.testing.models import LIGHT_MODELS, light_model_path, randomize_weights, zoo_model_path
from tests.strategies import random_feeds


def stats(b: GraphBuilder, rng, channels: int):
    return [b.const(a.astype(np.float32)) for a in (
        rng.uniform(0.5, 2.0, channels), rng.standard_normal(channels),
        rng.standard_normal(channels), rng.uniform(0.1, 3.0, channels))]


def check_folds(b: GraphBuilder, expect_ops: list[str]) -> None:
    graph = b.graph
    feeds = random_feeds(graph, seed=1)
    before = run(graph, feeds, as_list=True)
    assert make_pass("fold-bn").run(graph) is True
    verify(graph)
    assert [n.op for n in graph.nodes] == expect_ops
    for a, e in zip(run(graph, feeds, as_list=True), before):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from([1, 2, 4]), st.integers(1, 2), st.integers(1, 3),
       st.booleans(), st.booleans())
def test_conv_and_conv_transpose(seed, group, per_group, kernel, transpose, bias):
    rng = np.random.default_rng(seed)
    cin, cout = group * per_group, group * rng.integers(1, 3)
    b = GraphBuilder()
    x = b.input("x", (1, cin, 5, 5))
    if transpose:
        w = b.const(rng.standard_normal((cin, cout // group, kernel, kernel)).astype(np.float32))
        op = "conv2d_transpose"
    else:
        w = b.const(rng.standard_normal((cout, per_group, kernel, kernel)).astype(np.float32))
        op = "conv2d"
    bias_value = b.const(rng.standard_normal(cout).astype(np.float32)) if bias else None
    y = b.op(op, x, w, bias_value, group=group, strides=(2, 1))
    b.outputs(b.batch_norm(y, *stats(b, rng, cout), epsilon=1e-3))
    check_folds(b, [op])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.booleans(), st.booleans(),
       st.sampled_from([None, "n", "1n", "mn", "m1", "s"]),
       st.sampled_from([1.0, 0.5, 0.0]))
def test_gemm(seed, trans_a, trans_b, c_shape, beta):
    rng = np.random.default_rng(seed)
    m, k, n = 3, 4, 5
    b = GraphBuilder()
    x = b.input("x", (k, m) if trans_a else (m, k))
    w = b.const(rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32))
    shapes = {"n": (n,), "1n": (1, n), "mn": (m, n), "m1": (m, 1), "s": ()}
    c = None
    if c_shape is not None:
        c = b.const(rng.standard_normal(shapes[c_shape]).astype(np.float32))
    y = b.gemm(x, w, c, alpha=1.5, beta=beta, trans_a=trans_a, trans_b=trans_b)
    b.outputs(b.batch_norm(y, *stats(b, rng, n)))
    check_folds(b, ["gemm"])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.booleans(),
       st.lists(st.tuples(st.sampled_from(["mul", "add", "sub", "div"]),
                          st.sampled_from([(3, 1, 1), (1, 3, 1, 1), (1,), ()]), st.booleans()),
                max_size=4))
def test_affine_chains_after_conv_or_batch_norm_fold_into_the_conv(seed, with_bn, chain):
    rng = np.random.default_rng(seed)
    b = GraphBuilder()
    x = b.input("x", (1, 2, 4, 4))
    y = b.conv2d(x, b.const(rng.standard_normal((3, 2, 3, 3)).astype(np.float32)))
    if with_bn:
        y = b.batch_norm(y, *stats(b, rng, 3))
    for op, shape, swap in chain:
        c = b.const(rng.uniform(0.5, 2.0, shape).astype(np.float32))
        y = b.op(op, c, y) if swap and op in ("mul", "add") else b.op(op, y, c)
    b.outputs(b.relu(y))
    if not with_bn and not chain:
        assert make_pass("fold-bn").run(b.graph) is False
        return
    check_folds(b, ["conv2d", "relu"])


def test_matmul_rank2_folds_and_rank3_falls_back():
    rng = np.random.default_rng(0)
    b = GraphBuilder()
    x = b.input("x", (2, 4))
    y = b.matmul(x, b.const(rng.standard_normal((4, 3)).astype(np.float32)))
    b.outputs(b.batch_norm(y, *stats(b, rng, 3)))
    check_folds(b, ["matmul", "add"])

    b = GraphBuilder()
    x = b.input("x", (2, 3, 4))  # channel axis 1 is not the product's last axis: no weight fold
    y = b.matmul(x, b.const(rng.standard_normal((4, 5)).astype(np.float32)))
    b.outputs(b.batch_norm(y, *stats(b, rng, 3)))
    check_folds(b, ["matmul", "mul", "add"])


def test_shared_weights_are_not_changed_for_the_other_reader():
    rng = np.random.default_rng(0)
    b = GraphBuilder()
    x = b.input("x", (1, 2, 3, 3))
    w = b.const(rng.standard_normal((2, 2, 1, 1)).astype(np.float32), name="w")
    first = b.batch_norm(b.conv2d(x, w), *stats(b, rng, 2))
    second = b.conv2d(x, w)
    b.outputs(first, second)
    check_folds(b, ["conv2d", "conv2d"])
    convs = b.graph.nodes
    assert convs[0].inputs[1] is not convs[1].inputs[1]
    assert convs[1].inputs[1].name == "w"


BN_MODELS = ["digits_cnn", "kws_dscnn", "ad_autoencoder", "ic_resnet8", "vww_mobilenet_v1_025"]
BN_LIGHT_MODELS = ["resnet50", "shufflenet", "inception_v2", "densenet121"]


def check_model(graph, pipeline: str = "fold-bn") -> None:
    assert any(n.op == "batch_norm" for n in graph.nodes)
    feeds = random_feeds(graph)
    before = run(graph, feeds, as_list=True)
    run_pipeline(graph, pipeline)
    verify(graph)
    assert not [n for n in graph.nodes if n.op == "batch_norm"]
    for a, e in zip(run(graph, feeds, as_list=True), before):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", BN_MODELS)
def test_zoo_models(name):
    check_model(load_onnx(zoo_model_path(name)))


@pytest.mark.slow
@pytest.mark.parametrize("name", BN_LIGHT_MODELS)
def test_light_models(name):
    # As in -O2. Light-model weights are all alike, so cse makes batch_norms share one constant as
    # gamma and beta at once: the case where rewriting a statistic in place would go wrong.
    check_model(load_onnx(light_model_path(name)), "simplify,fold-constants,cse,fold-bn")


@pytest.mark.slow
@pytest.mark.parametrize("name", BN_LIGHT_MODELS)
def test_light_models_with_random_weights(name):
    graph = randomize_weights(load_onnx(light_model_path(name)))
    last = graph.outputs[0].producer
    if last.op == "softmax":  # compare logits: a softmax of random logits is one-hot
        graph.outputs = [last.inputs[0]]
        graph.remove_node(last)
    feeds = random_feeds(graph)
    before = run(graph, feeds, as_list=True)
    make_pass("fold-bn").run(graph)
    verify(graph)
    assert not [n for n in graph.nodes if n.op == "batch_norm"]
    for a, e in zip(run(graph, feeds, as_list=True), before):
        scale = float(np.abs(e).max())
        assert scale > 1.0  # the check means something
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-5 * scale)


def test_every_light_model_with_batch_norm_is_covered():
    import onnx

    def has_bn(name: str) -> bool:
        model = onnx.load(light_model_path(name), load_external_data=False)
        return any(n.op_type == "BatchNormalization" for n in model.graph.node)

    carrying = [name for name in LIGHT_MODELS if has_bn(name)]
    assert sorted(carrying) == sorted(BN_LIGHT_MODELS)
