"""canonicalize: each rule rewrites what it should, leaves what it should not, and keeps the
outputs (the interpreter before and after, rtol 1e-5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings

from mlc.errors import MlcError
from mlc.frontend import import_model, load_onnx, to_onnx
from mlc.interp import run
from mlc.ir import GraphBuilder, verify
from mlc.passes import PassError, PassManager, make_pass, parse_pipeline
from mlc.passes.canonicalize import RULES
from mlc.passes.rewrite import apply_rules
from mlc.testing.models import zoo_model_path
from mlc.text import print_graph
from tests.strategies import random_feeds, random_graphs

RNG = np.random.default_rng(7)


def randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def feeds_for(graph) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for v in graph.inputs:
        if v.dtype.is_float:
            feeds[v.name] = (rng.standard_normal(v.shape) * 3).astype(v.dtype.numpy)
        else:
            feeds[v.name] = rng.integers(0, 5, v.shape).astype(v.dtype.numpy)
    return feeds


def canonicalize(graph, rtol: float = 1e-5, atol: float = 1e-6):
    """Run the pass (verifying after it) and check every output against the original graph's."""
    feeds = feeds_for(graph)
    before = run(graph, feeds, as_list=True)
    PassManager(parse_pipeline("canonicalize")).run(graph)
    after = run(graph, feeds, as_list=True)
    assert [v.name for v in graph.outputs] == list(run(graph, feeds))  # names kept
    for a, b in zip(after, before):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    return graph


def ops(graph) -> list[str]:
    return [n.op for n in graph.nodes]


# -- gemm ------------------------------------------------------------------------------------------

def test_gemm_trans_b_becomes_matmul_with_a_transposed_constant_and_add():
    b = GraphBuilder()
    x = b.input("x", (2, 4))
    w, c = b.const(randn(3, 4), "w"), b.const(randn(3), "c")
    b.outputs(b.gemm(x, w, c, trans_b=True))
    g = canonicalize(b.graph)
    assert ops(g) == ["matmul", "add"]
    mm, add = g.nodes
    weight = mm.inputs[1]
    assert weight.is_const and weight.shape == (4, 3) and weight.name == "w.T"
    np.testing.assert_array_equal(weight.const, w.const.T)
    assert add.inputs == (mm.outputs[0], c)
    assert sorted(g.constants) == ["c", "w.T"]  # the old weight is gone


def test_gemm_alpha_beta_and_trans_a_fold_into_constants_and_a_transpose():
    b = GraphBuilder()
    x = b.input("x", (4, 2))
    b.outputs(b.gemm(x, b.const(randn(4, 3), "w"), b.const(randn(1, 3), "c"), alpha=0.5, beta=2.0,
                     trans_a=True))
    g = canonicalize(b.graph)
    assert ops(g) == ["transpose", "matmul", "add"]  # no mul: alpha went into W, beta into C
    assert g.nodes[0].attrs["perm"] == (1, 0)
    bias = g.nodes[2].inputs[1]
    assert bias.is_const and bias.shape == (3,)


def test_gemm_with_computed_operands_keeps_alpha_and_beta_as_muls():
    b = GraphBuilder()
    x, w, c = b.input("x", (2, 4)), b.input("w", (3, 4)), b.input("c", (2, 3))
    b.outputs(b.gemm(x, w, c, alpha=3.0, beta=-1.5, trans_b=True))
    g = canonicalize(b.graph)
    assert ops(g) == ["transpose", "matmul", "mul", "mul", "add"]


def test_gemm_alpha_that_would_overflow_a_weight_stays_a_mul():
    b = GraphBuilder()
    x = b.input("x", (2, 4))
    b.outputs(b.gemm(x, b.const(np.full((4, 3), 1e30, np.float32)), alpha=1e10))
    g = b.graph
    PassManager(parse_pipeline("canonicalize")).run(g)
    assert ops(g) == ["matmul", "mul"]
    assert np.all(np.isfinite(g.nodes[0].inputs[1].const))


def test_gemm_alpha_folds_into_a_constant_a():
    b = GraphBuilder()
    w = b.input("w", (4, 3))
    b.outputs(b.gemm(b.const(randn(4, 2), "a"), w, alpha=2.0, trans_a=True))
    g = canonicalize(b.graph)
    assert ops(g) == ["matmul"]
    assert g.nodes[0].inputs[0].shape == (2, 4)


@pytest.mark.parametrize("c_shape,expected", [((), (3,)), ((1,), (3,)), ((1, 3), (3,)),
                                              ((2, 3), (2, 3)), ((2, 1), (2, 1))])
def test_gemm_constant_bias_is_one_row_when_it_can_be(c_shape, expected):
    b = GraphBuilder()
    x = b.input("x", (2, 4))
    b.outputs(b.gemm(x, b.const(randn(4, 3)), b.const(randn(*c_shape), "bias")))
    g = canonicalize(b.graph)
    assert ops(g) == ["matmul", "add"]
    assert g.nodes[1].inputs[1].shape == expected
    assert g.nodes[1].inputs[1].name == "bias"


@pytest.mark.parametrize("beta", [1.0, 0.0])
def test_gemm_without_c_or_with_beta_zero_has_no_add(beta):
    b = GraphBuilder()
    x = b.input("x", (2, 4))
    c = None if beta == 1.0 else b.const(randn(3))
    b.outputs(b.gemm(x, b.const(randn(4, 3)), c, beta=beta))
    g = canonicalize(b.graph)
    assert ops(g) == ["matmul"]
    assert not any(v.shape == (3,) for v in g.constants.values())


def test_integer_gemm_with_alpha_is_left_alone():
    b = GraphBuilder()
    x = b.input("x", (2, 4), "i32")
    b.outputs(b.gemm(x, b.const(np.ones((4, 3), np.int32)), alpha=2.0))
    assert ops(canonicalize(b.graph)) == ["gemm"]


# -- conv bias -------------------------------------------------------------------------------------

def conv_graph(c_shape, *, bias: bool = False, const_first: bool = False, transpose: bool = False):
    b = GraphBuilder()
    x = b.input("x", (1, 2, 5, 5))
    if transpose:
        y = b.conv2d_transpose(x, b.const(randn(2, 3, 3, 3), "w"),
                               b.const(randn(3), "b") if bias else None, strides=(2, 2))
    else:
        y = b.conv2d(x, b.const(randn(3, 2, 3, 3), "w"), b.const(randn(3), "b") if bias else None,
                     pads=(1, 1, 1, 1))
    c = b.const(randn(*c_shape), "c")
    b.outputs(b.relu(b.add(c, y) if const_first else b.add(y, c)))
    return b.graph


@pytest.mark.parametrize("c_shape", [(3, 1, 1), (1, 3, 1, 1), (1,), ()])
@pytest.mark.parametrize("const_first", [False, True])
def test_conv_plus_per_channel_constant_becomes_the_conv_bias(c_shape, const_first):
    g = canonicalize(conv_graph(c_shape, const_first=const_first))
    assert ops(g) == ["conv2d", "relu"]
    conv = g.nodes[0]
    assert conv.inputs[2].is_const and conv.inputs[2].shape == (3,)
    assert conv.attrs["pads"] == (1, 1, 1, 1)


def test_conv_constant_adds_to_an_existing_bias():
    g = conv_graph((3, 1, 1), bias=True)
    old = g.constants["b"].const + g.constants["c"].const.reshape(-1)
    g = canonicalize(g)
    assert ops(g) == ["conv2d", "relu"]
    np.testing.assert_allclose(g.nodes[0].inputs[2].const, old, rtol=1e-6)
    assert g.nodes[0].inputs[2].name == "b"


def test_conv_transpose_bias_too():
    g = canonicalize(conv_graph((1, 3, 1, 1), transpose=True))
    assert ops(g) == ["conv2d_transpose", "relu"]
    assert g.nodes[0].attrs["strides"] == (2, 2)


@pytest.mark.parametrize("c_shape", [(5,), (1, 3, 5, 5), (2, 3, 1, 1)])
def test_conv_add_that_is_not_per_channel_stays(c_shape):
    g = canonicalize(conv_graph(c_shape))  # (2, 3, 1, 1) would widen the batch
    assert ops(g) == ["conv2d", "add", "relu"]


def test_conv_add_of_a_computed_value_or_shared_conv_stays():
    b = GraphBuilder()
    x = b.input("x", (1, 2, 5, 5))
    y = b.conv2d(x, b.const(randn(3, 2, 1, 1)))
    b.outputs(b.add(y, b.input("c", (3, 1, 1))), b.add(y, b.const(randn(3, 1, 1))))
    assert ops(canonicalize(b.graph)) == ["conv2d", "add", "add"]


# -- GELU ----------------------------------------------------------------------------------------

def gelu_erf_graph(form: str, inv_sqrt2: float = 1 / math.sqrt(2)):
    b = GraphBuilder()
    x = b.input("x", (2, 8))
    h = b.add(x, b.const(randn(8)))  # x is computed, as after a dense layer
    half, one = b.const(np.float32(0.5)), b.const(np.float32(1.0))
    if form == "mul":
        e = b.erf(b.mul(h, b.const(np.float32(inv_sqrt2))))
    else:
        e = b.erf(b.div(h, b.const(np.float32(math.sqrt(2)))))
    gate = b.add(e, one) if form != "const-first" else b.add(one, e)
    if form in ("div", "mul", "const-first"):  # PyTorch: (x·(1+erf))·0.5
        y = b.mul(b.mul(h, gate), half)
    elif form == "half-first":  # 0.5·x·(1+erf)
        y = b.mul(b.mul(half, h), gate)
    else:  # x·(0.5·(1+erf))
        y = b.mul(h, b.mul(half, gate))
    b.outputs(b.relu(y))
    return b.graph


@pytest.mark.parametrize("form", ["div", "mul", "const-first", "half-first", "half-gate"])
def test_gelu_erf_forms_become_gelu(form):
    g = canonicalize(gelu_erf_graph(form))
    assert ops(g) == ["add", "gelu", "relu"]
    assert g.nodes[1].attrs["approximate"] == "none"


def test_gelu_constants_match_within_1e4_relative():
    g = canonicalize(gelu_erf_graph("mul", inv_sqrt2=0.7071), rtol=1e-4, atol=1e-5)
    assert "gelu" in ops(g)
    g = canonicalize(gelu_erf_graph("mul", inv_sqrt2=0.7))
    assert "gelu" not in ops(g)


@pytest.mark.parametrize("cube", ["pow", "mul"])
def test_gelu_tanh_becomes_gelu_tanh(cube):
    b = GraphBuilder()
    x = b.input("x", (2, 8))
    x3 = b.pow(x, b.const(np.float32(3.0))) if cube == "pow" else b.mul(x, b.mul(x, x))
    inner = b.add(x, b.mul(b.const(np.float32(0.044715)), x3))
    t = b.tanh(b.mul(b.const(np.float32(math.sqrt(2 / math.pi))), inner))
    b.outputs(b.mul(b.mul(b.const(np.float32(0.5)), x), b.add(b.const(np.float32(1.0)), t)))
    g = canonicalize(b.graph)
    assert ops(g) == ["gelu"]
    assert g.nodes[0].attrs["approximate"] == "tanh"
    assert g.outputs[0].name == b.graph.outputs[0].name


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_the_exporters_own_gelu_decomposition_comes_back(approximate):
    b = GraphBuilder()
    x = b.input("x", (2, 8))
    b.outputs(b.gelu(x, approximate=approximate))
    g = import_model(to_onnx(b.graph, opset=17))  # opset 17 has no Gelu: written out
    assert "gelu" not in ops(g)
    g = canonicalize(g)
    assert ops(g) == ["gelu"] and g.nodes[0].attrs["approximate"] == approximate


# -- SiLU, HardSwish -------------------------------------------------------------------------------

def test_silu_in_both_orders_and_not_for_different_values():
    b = GraphBuilder()
    x, z = b.input("x", (4,)), b.input("z", (4,))
    b.outputs(b.mul(x, b.sigmoid(x)), b.mul(b.sigmoid(z), z), b.mul(x, b.sigmoid(z)))
    g = canonicalize(b.graph)
    assert ops(g) == ["silu", "silu", "sigmoid", "mul"]


def test_exported_silu_comes_back():
    b = GraphBuilder()
    b.outputs(b.silu(b.input("x", (3, 4))))
    g = import_model(to_onnx(b.graph))
    assert ops(g) == ["sigmoid", "mul"]
    assert ops(canonicalize(g)) == ["silu"]


def test_hard_swish_from_hard_sigmoid():
    b = GraphBuilder()
    x = b.input("x", (4, 4))
    b.outputs(b.mul(b.hard_sigmoid(x, alpha=float(np.float32(1 / 6)), beta=0.5), x),
              b.mul(x, b.hard_sigmoid(x)))  # default alpha 0.2: not a hard swish
    g = canonicalize(b.graph)
    assert ops(g) == ["hard_swish", "hard_sigmoid", "mul"]


def test_exported_hard_swish_at_opset_13_comes_back():
    b = GraphBuilder()
    b.outputs(b.hard_swish(b.input("x", (3, 4))))
    g = import_model(to_onnx(b.graph, opset=13))
    assert ops(g) == ["hard_sigmoid", "mul"]
    assert ops(canonicalize(g)) == ["hard_swish"]


@pytest.mark.parametrize("form", ["div-outer", "mul-outer", "div-inner", "mul-inner"])
def test_hard_swish_mobilenet_v3_forms(form):
    b = GraphBuilder()
    x = b.input("x", (2, 8))
    relu6 = b.clip(b.add(x, b.const(np.float32(3.0))), min=0.0, max=6.0)
    six, sixth = b.const(np.float32(6.0)), b.const(np.float32(1 / 6))
    y = {"div-outer": lambda: b.div(b.mul(x, relu6), six),
         "mul-outer": lambda: b.mul(sixth, b.mul(relu6, x)),
         "div-inner": lambda: b.mul(b.div(relu6, six), x),
         "mul-inner": lambda: b.mul(x, b.mul(relu6, sixth))}[form]()
    b.outputs(y)
    assert ops(canonicalize(b.graph)) == ["hard_swish"]


def test_clip_to_other_bounds_is_not_hard_swish():
    b = GraphBuilder()
    x = b.input("x", (8,))
    b.outputs(b.div(b.mul(x, b.clip(b.add(x, b.const(np.float32(3.0))), min=0.0, max=5.0)),
                    b.const(np.float32(6.0))))
    assert "hard_swish" not in ops(canonicalize(b.graph))


# -- LayerNorm -------------------------------------------------------------------------------------

def layer_norm_graph(*, square="pow", divide="div", scale=True, bias=True, axes=(-1,),
                     shape=(2, 3, 8), var_axes=None, scale_shape=None):
    b = GraphBuilder()
    x = b.input("x", shape)
    d = b.sub(x, b.reduce_mean(x, axes=axes, keepdims=True))
    sq = b.pow(d, b.const(np.float32(2.0))) if square == "pow" else b.mul(d, d)
    var = b.reduce_mean(sq, axes=var_axes or axes, keepdims=True)
    shifted = b.add(var, b.const(np.float32(1e-5), "eps"))
    if divide == "div":
        y = b.div(d, b.sqrt(shifted))
    elif divide == "reciprocal":
        y = b.mul(b.reciprocal(b.sqrt(shifted)), d)
    else:
        y = b.mul(d, b.pow(shifted, b.const(np.float32(-0.5))))
    k = len(axes)
    normalized = scale_shape or shape[len(shape) - k:]
    if scale:
        y = b.mul(b.const(randn(*normalized), "gamma"), y)
    if bias:
        y = b.add(y, b.const(randn(*normalized), "beta"))
    b.outputs(y)
    return b.graph


@pytest.mark.parametrize("square", ["pow", "mul"])
@pytest.mark.parametrize("divide", ["div", "reciprocal", "rsqrt-pow"])
def test_layer_norm_written_out_becomes_layer_norm(square, divide):
    g = canonicalize(layer_norm_graph(square=square, divide=divide))
    assert ops(g) == ["layer_norm"]
    ln = g.nodes[0]
    assert ln.attrs["axis"] == -1
    assert ln.attrs["epsilon"] == pytest.approx(1e-5, rel=1e-6)
    assert [v.name for v in ln.inputs] == ["x", "gamma", "beta"]
    assert sorted(g.constants) == ["beta", "gamma"]


@pytest.mark.parametrize("scale,bias", [(True, False), (False, True), (False, False)])
def test_layer_norm_without_scale_or_bias(scale, bias):
    g = canonicalize(layer_norm_graph(scale=scale, bias=bias))
    assert ops(g) == ["layer_norm"]
    ln = g.nodes[0]
    ln_scale, ln_bias = ln.inputs[1], ln.inputs[2] if len(ln.inputs) > 2 else None
    if not scale:
        np.testing.assert_array_equal(ln_scale.const, np.ones(8, np.float32))
    assert (ln_bias is not None) == bias


def test_layer_norm_over_the_last_two_axes():
    g = canonicalize(layer_norm_graph(axes=(1, 2), shape=(2, 3, 8)))
    assert ops(g) == ["layer_norm"]
    assert g.nodes[0].attrs["axis"] == -2


def test_a_row_scale_over_two_axes_still_broadcasts():
    g = canonicalize(layer_norm_graph(axes=(1, 2), shape=(2, 3, 8), scale_shape=(8,)))
    assert ops(g) == ["layer_norm"]


@pytest.mark.parametrize("kwargs,reason", [
    (dict(axes=(1,)), "not the last ones"),
    (dict(axes=(-1,), var_axes=(1, 2)), "different axes"),
])
def test_layer_norm_lookalikes_are_left_alone(kwargs, reason):
    g = layer_norm_graph(**kwargs)
    count = len(g.nodes)
    lines: list[str] = []
    assert apply_rules(g, RULES, explain=lines.append) is False
    assert len(g.nodes) == count
    assert any(reason in line for line in lines), lines


def test_a_scale_over_more_axes_stays_outside_the_layer_norm():
    lines: list[str] = []
    g = layer_norm_graph(scale_shape=(3, 8))
    assert apply_rules(g, RULES, explain=lines.append) is True
    assert ops(g) == ["layer_norm", "mul", "add"]  # [3, 8] scales more than the normalised [8]
    assert any("scale f32[3,8] does not broadcast to the normalised shape [8]" in line
               for line in lines)


# -- the pass --------------------------------------------------------------------------------------

def test_canonicalize_options_and_errors():
    (pass_,) = parse_pipeline("canonicalize{explain=true,max-rewrites=5}")
    assert pass_.explain is True and pass_.max_rewrites == 5
    with pytest.raises(PassError) as err:
        parse_pipeline("canonicalize{verbose=1}")
    assert "explain" in err.value.hint and "max-rewrites" in err.value.hint


def test_canonicalize_is_a_fixpoint():
    g = canonicalize(layer_norm_graph())
    assert PassManager(parse_pipeline("canonicalize")).run(g) is False


def test_zoo_digits_mlp_gemms_become_matmul_add():
    g = load_onnx(zoo_model_path("digits_mlp"))
    assert ops(g).count("gemm") == 3
    g = canonicalize(g)
    assert "gemm" not in ops(g)
    assert ops(g).count("matmul") == 3 and ops(g).count("add") == 3
    for node in g.nodes:
        if node.op == "matmul":
            assert node.inputs[1].is_const
            (user,) = node.outputs[0].users
            assert user.op == "add" and user.inputs[1].is_const and user.inputs[1].type.rank == 1


def test_zoo_tiny_transformer_gelu_is_recognised():
    g = load_onnx(zoo_model_path("tiny_transformer"))
    layer_norms = ops(g).count("layer_norm")  # imported from LayerNormalization already
    assert "erf" in ops(g)
    g = canonicalize(g, rtol=1e-5, atol=1e-5)
    assert ops(g).count("gelu") == 2
    assert "erf" not in ops(g)
    assert ops(g).count("layer_norm") == layer_norms


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(max_nodes=10, ops=["gemm", "conv2d", "matmul", "add", "mul", "div", "sub",
                                        "sigmoid", "hard_sigmoid", "erf", "tanh", "clip", "relu",
                                        "reduce_mean", "sqrt", "pow", "layer_norm"]))
def test_random_graphs_keep_outputs_names_and_reach_a_fixpoint(graph):
    note(print_graph(graph, inline_limit=None))
    feeds = random_feeds(graph)
    try:
        before = run(graph, feeds, as_list=True)
    except MlcError:
        before = None
    # Folding alpha into a weight reassociates float products: with the strategy's 1e30s and
    # infs that moves results by any amount. Outputs are compared where values are moderate, to
    # a tolerance that catches a wrong transpose or bias (errors of the outputs' own size).
    moderate = before is not None and all(np.all(np.isfinite(b)) for b in before) and all(
        np.all(np.abs(c.const) <= 100) for c in graph.constants.values() if c.dtype.is_float)
    names = [v.name for v in graph.outputs]
    make_pass("canonicalize").run(graph)
    verify(graph)
    assert [v.name for v in graph.outputs] == names
    if moderate:
        for a, b in zip(run(graph, feeds, as_list=True), before):
            scale = 1.0 + float(np.max(np.abs(b), initial=0.0))
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3 * scale)
    assert make_pass("canonicalize").run(graph) is False, print_graph(graph)
    assert "gemm" not in [n.op for n in graph.nodes if n.inputs[0].dtype.is_float]
