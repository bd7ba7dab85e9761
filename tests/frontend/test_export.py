"""IR → ONNX export: every core op, run in onnxruntime, must compute what mlc's interpreter does."""

from __future__ import annotations

import re
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import mlc
from mlc.frontend.export import EXPORTERS, ExportError, export_onnx, to_onnx
from mlc.interp import run
from mlc.ir import Graph, GraphBuilder
from mlc.ops import all_ops

RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float32, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape).astype(dtype)


def ort_run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    onnx.checker.check_model(model, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def check_against_interp(graph: Graph, feeds: dict[str, np.ndarray], opset: int = 17,
                         rtol: float = 1e-5, atol: float = 1e-6) -> onnx.ModelProto:
    model = to_onnx(graph, opset)
    expected = run(graph, feeds, as_list=True)
    got = ort_run(model, feeds)
    assert len(got) == len(expected) == len(graph.outputs)
    seen = set()
    for value, out in zip(graph.outputs, model.graph.output):
        if value.producer is not None and value.name not in seen:  # computed outputs keep names
            assert out.name == value.name
        seen.add(value.name)
    for name, want, have in zip([o.name for o in model.graph.output], expected, got):
        assert have.dtype == want.dtype, name
        assert have.shape == want.shape, name
        np.testing.assert_allclose(have, want, rtol=rtol, atol=atol, err_msg=name)
    return model


# Each case builds a graph with the builder and returns the feeds; the opset is the export's.
CASES: dict[str, tuple[Callable[[GraphBuilder], dict], int]] = {}


def case(name: str, opset: int = 17):
    def wrap(fn):
        CASES[name] = (fn, opset)
        return fn

    return wrap


def unary(op: str, low=-2.0, high=2.0, **attrs):
    def build(b: GraphBuilder):
        x = b.input("x", (2, 3, 4))
        b.outputs(getattr(b, op)(x, **attrs))
        return {"x": rand(2, 3, 4, low=low, high=high)}

    return build


for _op in ["relu", "sigmoid", "tanh", "erf", "exp", "neg", "abs", "identity", "hard_swish",
            "silu"]:
    case(_op)(unary(_op))
for _op in ["sqrt", "log", "reciprocal"]:
    case(_op)(unary(_op, low=0.1, high=3.0))
case("leaky_relu")(unary("leaky_relu", alpha=0.3))
case("hard_sigmoid")(unary("hard_sigmoid", alpha=0.3, beta=0.4))
case("hard_swish_opset13", 13)(unary("hard_swish"))
case("dropout")(unary("dropout", ratio=0.3))
case("gelu")(unary("gelu"))
case("gelu_tanh")(unary("gelu", approximate="tanh"))
case("gelu_opset20", 20)(unary("gelu"))
case("gelu_tanh_opset20", 20)(unary("gelu", approximate="tanh"))
case("clip")(unary("clip", min=-0.5, max=1.25))
case("clip_min_only")(unary("clip", min=0.0))
case("clip_max_only")(unary("clip", max=0.5))
case("clip_unbounded")(unary("clip"))


@case("clip_int32")
def _(b):
    x = b.input("x", (10,), "int32")
    b.outputs(b.clip(x, min=-3.5, max=4.0))
    return {"x": np.arange(-5, 5, dtype=np.int32)}


@case("float16_clip_gelu_layer_norm", 13)
def _(b):
    x = b.input("x", (2, 8), "float16")
    c = b.clip(x, min=-1.5, max=1.0)
    g = b.gelu(x)
    n = b.layer_norm(x, b.const(np.ones(8, np.float16)), None, epsilon=1e-3)
    b.outputs(c, g, n)
    return {"x": rand(2, 8, dtype=np.float16)}


@case("not")
def _(b):
    x = b.input("x", (6,), "bool")
    b.outputs(b.op("not", x))
    return {"x": np.array([True, False, True, True, False, False])}


@case("cast_f32_i32")
def _(b):
    x = b.input("x", (8,))
    b.outputs(b.cast(x, to="int32"))
    return {"x": rand(8, low=-5, high=5)}


@case("cast_i64_f16")
def _(b):
    x = b.input("x", (4,), "int64")
    b.outputs(b.cast(x, to="float16"))
    return {"x": np.array([-3, 0, 7, 1000], dtype=np.int64)}


def binary(op: str, dtype=np.float32, low=-2.0, high=2.0):
    def build(b: GraphBuilder):
        a = b.input("a", (2, 3, 4), np.dtype(dtype).name)
        c = b.input("b", (3, 1), np.dtype(dtype).name)
        b.outputs(b.op(op, a, c))
        return {"a": rand(2, 3, 4, dtype=dtype, low=low, high=high),
                "b": rand(3, 1, dtype=dtype, low=low, high=high)}

    return build


for _op in ["add", "sub", "mul", "min", "max", "equal", "less", "greater"]:
    case(_op)(binary(_op))
case("div")(binary("div", low=0.5, high=3.0))
case("pow")(binary("pow", low=0.5, high=2.0))


@case("div_int_truncates")
def _(b):
    a, c = b.input("a", (6,), "int32"), b.input("b", (6,), "int32")
    b.outputs(b.div(a, c))
    return {"a": np.array([7, -7, 7, -7, 0, 9], np.int32),
            "b": np.array([2, 2, -2, -2, 3, 4], np.int32)}


@case("equal_int64")
def _(b):
    a, c = b.input("a", (5,), "int64"), b.input("b", (5,), "int64")
    b.outputs(b.equal(a, c))
    return {"a": np.arange(5, dtype=np.int64), "b": np.array([0, 2, 2, 0, 4], np.int64)}


@case("where")
def _(b):
    cond, x, y = b.input("c", (3, 4), "bool"), b.input("x", (3, 4)), b.input("y", (4,))
    b.outputs(b.where(cond, x, y))
    return {"c": rand(3, 4) > 0, "x": rand(3, 4), "y": rand(4)}


@case("prelu")
def _(b):
    x = b.input("x", (2, 3, 4, 4))
    b.outputs(b.prelu(x, b.const(rand(3, 1, 1))))
    return {"x": rand(2, 3, 4, 4)}


def reduce_case(op: str, axes, keepdims: bool):
    def build(b: GraphBuilder):
        x = b.input("x", (2, 3, 4))
        b.outputs(getattr(b, op)(x, axes=axes, keepdims=keepdims))
        return {"x": rand(2, 3, 4)}

    return build


for _op in ["reduce_mean", "reduce_sum", "reduce_max", "reduce_min"]:
    case(f"{_op}_axes")(reduce_case(_op, (1, -1), True))
    case(f"{_op}_all_nokeep")(reduce_case(_op, (), False))
    case(f"{_op}_opset18", 18)(reduce_case(_op, (0,), False))

case("softmax")(unary("softmax", axis=1))
case("log_softmax")(unary("log_softmax", axis=-1))


@case("batch_norm")
def _(b):
    x = b.input("x", (2, 3, 4, 5))
    params = [b.const(rand(3)), b.const(rand(3)), b.const(rand(3)),
              b.const(rand(3, low=0.5, high=2))]
    b.outputs(b.batch_norm(x, *params, epsilon=1e-3))
    return {"x": rand(2, 3, 4, 5)}


def layer_norm(with_bias: bool, axis: int):
    def build(b):
        x = b.input("x", (2, 3, 8))
        shape = (2, 3, 8)[axis:]
        bias = b.const(rand(*shape)) if with_bias else None
        b.outputs(b.layer_norm(x, b.const(rand(*shape)), bias, axis=axis, epsilon=1e-4))
        return {"x": rand(2, 3, 8)}

    return build


case("layer_norm")(layer_norm(True, -1))
case("layer_norm_no_bias_axis1")(layer_norm(False, 1))
case("layer_norm_opset13", 13)(layer_norm(True, -2))
case("layer_norm_opset13_no_bias", 13)(layer_norm(False, -1))


@case("lrn")
def _(b):
    x = b.input("x", (1, 6, 5, 5))
    b.outputs(b.lrn(x, size=3, alpha=2e-4, beta=0.7, bias=1.5))
    return {"x": rand(1, 6, 5, 5)}


@case("conv2d")
def _(b):
    x = b.input("x", (1, 4, 9, 8))
    y = b.conv2d(x, b.const(rand(6, 2, 3, 2)), b.const(rand(6)), strides=(2, 1), pads=(1, 0, 2, 1),
                 dilations=(1, 2), group=2)
    b.outputs(y)
    return {"x": rand(1, 4, 9, 8)}


@case("conv2d_no_bias")
def _(b):
    x = b.input("x", (2, 3, 7, 7))
    b.outputs(b.conv2d(x, b.const(rand(5, 3, 3, 3)), None, pads=(1, 1, 1, 1)))
    return {"x": rand(2, 3, 7, 7)}


@case("conv2d_transpose")
def _(b):
    x = b.input("x", (1, 4, 5, 6))
    b.outputs(b.conv2d_transpose(x, b.const(rand(4, 3, 3, 3)), b.const(rand(6)), strides=(2, 2),
                                 pads=(1, 0, 1, 1), group=2, output_padding=(1, 0)))
    return {"x": rand(1, 4, 5, 6)}


@case("matmul_batched")
def _(b):
    a, c = b.input("a", (2, 1, 3, 4)), b.input("b", (5, 4, 6))
    b.outputs(b.matmul(a, c))
    return {"a": rand(2, 1, 3, 4), "b": rand(5, 4, 6)}


@case("gemm")
def _(b):
    a = b.input("a", (4, 3))
    b.outputs(b.gemm(a, b.const(rand(5, 4)), b.const(rand(5)), alpha=0.5, beta=2.0, trans_a=True,
                     trans_b=True))
    return {"a": rand(4, 3)}


@case("gemm_no_c")
def _(b):
    a = b.input("a", (3, 4))
    b.outputs(b.gemm(a, b.const(rand(4, 5)), None))
    return {"a": rand(3, 4)}


@case("max_pool2d")
def _(b):
    x = b.input("x", (1, 2, 9, 9))
    b.outputs(b.max_pool2d(x, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), dilations=(1, 2),
                           ceil_mode=True))
    return {"x": rand(1, 2, 9, 9)}


@case("avg_pool2d")
def _(b):
    x = b.input("x", (1, 2, 8, 8))
    b.outputs(b.avg_pool2d(x, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)))
    return {"x": rand(1, 2, 8, 8)}


@case("avg_pool2d_count_pad")
def _(b):
    x = b.input("x", (1, 2, 7, 7))
    b.outputs(b.avg_pool2d(x, kernel=(2, 2), strides=(2, 2), pads=(1, 1, 0, 0),
                           count_include_pad=True))
    return {"x": rand(1, 2, 7, 7)}


case("global_avg_pool")(unary("global_avg_pool"))
case("global_max_pool")(unary("global_max_pool"))


@case("reshape_transpose_concat")
def _(b):
    x, y = b.input("x", (2, 3, 4)), b.input("y", (4, 3, 1))
    r = b.reshape(x, shape=(4, 3, 2))
    t = b.transpose(y, perm=(0, 1, 2))
    b.outputs(b.concat(r, t, axis=2))
    return {"x": rand(2, 3, 4), "y": rand(4, 3, 1)}


@case("split")
def _(b):
    x = b.input("x", (2, 7))
    b.outputs(*b.split(x, axis=1, sizes=(2, 4, 1)))
    return {"x": rand(2, 7)}


@case("slice")
def _(b):
    x = b.input("x", (5, 6, 7))
    b.outputs(b.slice(x, starts=(1, 5, 0), ends=(4, -1, 7), axes=(0, 1, 2), steps=(2, -2, 3)))
    return {"x": rand(5, 6, 7)}


@case("slice_negative_step_partial")
def _(b):
    x = b.input("x", (6,))
    b.outputs(b.slice(x, starts=(4,), ends=(1,), axes=(0,), steps=(-1,)))
    return {"x": rand(6)}


@case("gather")
def _(b):
    x = b.input("x", (5, 4))
    b.outputs(b.gather(x, b.const(np.array([[0, -1], [3, 2]], np.int64)), axis=0))
    return {"x": rand(5, 4)}


@case("expand_tile")
def _(b):
    x = b.input("x", (3, 1))
    e = b.expand(x, shape=(2, 3, 4))
    b.outputs(e, b.tile(x, repeats=(2, 3)))
    return {"x": rand(3, 1)}


for _mode in ["constant", "reflect", "edge"]:
    @case(f"pad_{_mode}")
    def _(b, mode=_mode):
        x = b.input("x", (1, 2, 4, 5))
        b.outputs(b.pad(x, pads=(0, 0, 1, 2, 0, 0, 2, 1), mode=mode, value=0.5))
        return {"x": rand(1, 2, 4, 5)}


case("pad_wrap", 19)(lambda b: _pad_wrap(b))


def _pad_wrap(b):
    x = b.input("x", (3, 4))
    b.outputs(b.pad(x, pads=(1, 2, 2, 3), mode="wrap"))
    return {"x": rand(3, 4)}


def test_pad_wrap_before_opset_19_is_a_clear_error():
    b = GraphBuilder("g")
    _pad_wrap(b)
    with pytest.raises(ExportError, match="opset 19"):
        to_onnx(b.graph, opset=18)


case("reshape_to_empty_dim", 14)(lambda b: _reshape_to_empty(b))


def _reshape_to_empty(b):
    """A literal 0 in the shape is an empty dim, not ONNX's "copy the input's dim" (found by
    mlc fuzz: onnxruntime read (3, 0) as (3, 6))."""
    x = b.input("x", (3, 6, 0))
    b.outputs(b.reshape(x, shape=(3, 0)))
    return {"x": np.zeros((3, 6, 0), np.float32)}


def test_reshape_to_an_empty_dim_before_opset_14_is_a_clear_error():
    b = GraphBuilder("g")
    _reshape_to_empty(b)
    with pytest.raises(ExportError, match="opset 14"):
        to_onnx(b.graph, opset=13)


@case("pad_crop")
def _(b):
    x = b.input("x", (4, 5))
    b.outputs(b.pad(x, pads=(1, -1, 0, 2), value=-3.0))
    return {"x": rand(4, 5)}


@case("resize_nearest")
def _(b):
    x = b.input("x", (1, 2, 3, 4))
    b.outputs(b.resize(x, size=(1, 2, 6, 8), scales=(1.0, 1.0, 2.0, 2.0), mode="nearest",
                       coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
    return {"x": rand(1, 2, 3, 4)}


@case("resize_linear_scales")
def _(b):
    x = b.input("x", (1, 1, 4, 4))
    b.outputs(b.resize(x, size=(1, 1, 6, 6), scales=(1.0, 1.0, 1.6, 1.6), mode="linear"))
    return {"x": rand(1, 1, 4, 4)}


for _mode in ["nearest", "linear", "cubic"]:
    @case(f"resize_tf_crop_and_resize_{_mode}")
    def _(b, mode=_mode):
        x = b.input("x", (1, 1, 4, 5))
        b.outputs(b.resize(x, size=(1, 1, 3, 7), scales=(1.0, 1.0, 0.75, 1.4), mode=mode,
                           coordinate_transformation_mode="tf_crop_and_resize",
                           roi=(0, 0, 0.2, -0.3, 1, 1, 0.9, 1.2), extrapolation_value=-7.0))
        return {"x": rand(1, 1, 4, 5)}


@case("quantize_dequantize")
def _(b):
    x = b.input("x", (2, 3, 4))
    q = b.quantize(x, scale=np.float32(0.05), zero_point=np.uint8(128), dtype="uint8")
    b.outputs(q, b.dequantize(q, scale=np.float32(0.05), zero_point=np.uint8(128)))
    return {"x": rand(2, 3, 4, low=-8, high=8)}


@case("quantize_per_channel_int8")
def _(b):
    x = b.input("x", (2, 3, 4))
    scale = np.array([0.02, 0.05, 0.1], np.float32)
    zp = np.array([0, -3, 5], np.int8)
    q = b.quantize(x, scale=scale, zero_point=zp, axis=1, dtype="int8")
    b.outputs(q, b.dequantize(q, scale=scale, zero_point=zp, axis=1))
    return {"x": rand(2, 3, 4, low=-8, high=8)}


@case("fused_inlined")
def _(b):
    x = b.input("x", (1, 3, 5, 5))
    body = GraphBuilder("body")
    bx, bw = body.input("x", (1, 3, 5, 5)), body.input("w", (4, 3, 3, 3))
    body.outputs(body.relu(body.conv2d(bx, bw, None, pads=(1, 1, 1, 1))))
    w = b.const(rand(4, 3, 3, 3), name="w")
    f = b.node("fused", x, w, body=body.graph).outputs[0]
    b.outputs(b.add(f, b.const(np.float32(1.0))), f)
    return {"x": rand(1, 3, 5, 5)}


@case("fused_nested_with_body_constant")
def _(b):
    x = b.input("x", (2, 4))
    inner = GraphBuilder("inner")
    ix = inner.input("x", (2, 4))
    inner.outputs(inner.mul(ix, inner.const(np.float32(3.0), name="x")), ix)
    outer = GraphBuilder("outer")
    ox = outer.input("x", (2, 4))
    tripled, same = outer.node("fused", ox, body=inner.graph).outputs
    outer.outputs(outer.sub(tripled, same))
    b.outputs(b.node("fused", x, body=outer.graph).outputs[0])
    return {"x": rand(2, 4)}


@case("outputs_input_const_and_repeat")
def _(b):
    x = b.input("x", (3,))
    y = b.relu(x)
    b.outputs(y, x, b.const(np.arange(3, dtype=np.float32), name="k"), y)
    return {"x": rand(3)}


def _build(name: str) -> tuple[Graph, dict, int]:
    fn, opset = CASES[name]
    b = GraphBuilder(name)
    feeds = fn(b)
    return b.graph, feeds, opset


@pytest.mark.parametrize("name", sorted(CASES))
def test_export_matches_interpreter(name):
    graph, feeds, opset = _build(name)
    # float16 kernels differ in where they round: onnxruntime computes some in f16, mlc in f32
    loose = any(v.dtype.name == "float16" for v in graph.inputs)
    check_against_interp(graph, feeds, opset, rtol=1e-2 if loose else 1e-4,
                         atol=1e-2 if loose else 1e-5)


@pytest.mark.parametrize("opset", [13, 21])
@pytest.mark.parametrize("name", sorted(n for n, (_, opset) in CASES.items() if opset == 17))
def test_export_at_oldest_and_newer_opsets(name, opset):
    """The opset-dependent paths: attributes that became inputs, ops missing from old opsets."""
    graph, feeds, _ = _build(name)
    check_against_interp(graph, feeds, opset, rtol=1e-4, atol=1e-5)


def test_every_registered_op_has_an_exporter_and_a_case():
    ops = set(all_ops()) - {"fused"}
    assert ops - set(EXPORTERS) == set(), "registered ops without an ONNX exporter"
    covered = set()
    for name in CASES:
        covered |= {n.op for n in _build(name)[0].nodes}
    assert ops - covered == set(), "registered ops without an export test case"


def test_names_are_unique_identifiers_and_interface_names_are_kept():
    b = GraphBuilder("g")
    x = b.input("input.1", (2, 2))
    body = GraphBuilder("body")
    bx = body.input("0", (2, 2))
    body.outputs(body.relu(body.neg(bx)))
    f = b.node("fused", x, body=body.graph).outputs[0]
    g = b.node("fused", f, body=body.graph.copy()).outputs[0]
    b.outputs(b.abs(g))
    graph = b.graph
    graph.rename(graph.outputs[0], "out:0")
    model = check_against_interp(graph, {"input.1": rand(2, 2)})
    assert [i.name for i in model.graph.input] == ["input.1"]
    assert [o.name for o in model.graph.output] == ["out:0"]
    defined = [o for n in model.graph.node for o in n.output] + \
        [i.name for i in model.graph.initializer]
    assert len(defined) == len(set(defined))
    internal = set(defined) - {"out:0"}
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in internal), internal
    assert len({n.name for n in model.graph.node}) == len(model.graph.node)


def test_constants_become_initializers_and_shapes_are_static():
    b = GraphBuilder("g")
    x = b.input("x", (1, 4))
    w = rand(4, 3)
    b.outputs(b.matmul(x, b.const(w, name="weight")))
    model = to_onnx(b.graph)
    (init,) = model.graph.initializer
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(init), w)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 4]
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [1, 3]
    assert model.opset_import[0].version == 17


def test_op_without_onnx_equivalent_is_a_clear_error():
    b = GraphBuilder("g")
    b.outputs(b.relu(b.input("x", (2,))))
    relu = EXPORTERS["relu"]
    EXPORTERS.remove("relu")
    try:
        with pytest.raises(ExportError, match="op relu has no ONNX equivalent"):
            to_onnx(b.graph)
    finally:
        EXPORTERS.add("relu", relu)


def test_opset_out_of_range_is_a_clear_error():
    b = GraphBuilder("g")
    b.outputs(b.relu(b.input("x", (2,))))
    with pytest.raises(ExportError, match="opset 7"):
        to_onnx(b.graph, opset=7)


def test_export_onnx_and_mlc_save_write_a_checked_file(tmp_path):
    b = GraphBuilder("g")
    x = b.input("x", (3,))
    b.outputs(b.sigmoid(x))
    export_onnx(b.graph, tmp_path / "a.onnx")
    feeds = {"x": rand(3)}
    (got,) = ort_run(onnx.load(tmp_path / "a.onnx"), feeds)
    np.testing.assert_allclose(got, run(b.graph, feeds)[b.graph.outputs[0].name],
                               rtol=1e-6)
    mlc.save(b.graph, tmp_path / "b.onnx")
    assert (tmp_path / "b.onnx").read_bytes() == (tmp_path / "a.onnx").read_bytes()


# -- round trip: ONNX → import → export → onnxruntime, on the real-architecture light models ---
from mlc.frontend import import_model  # noqa: E402
from mlc.testing.models import (LIGHT_MODELS, ZOO_MODELS, light_model_path,  # noqa: E402
                                zoo_model_path)


def check_round_trip(path) -> None:
    """ONNX → import → export → onnxruntime computes what onnxruntime computes on the original."""
    original = onnx.load(path)
    graph = import_model(original)
    feeds = {v.name: rand(*v.shape, low=0, high=1).astype(v.dtype.numpy) for v in graph.inputs}
    exported = to_onnx(graph)
    want = ort_run(original, feeds)
    got = ort_run(exported, feeds)
    assert [o.name for o in exported.graph.output] == [o.name for o in original.graph.output]
    assert len(got) == len(want)
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_round_trip(name):
    check_round_trip(zoo_model_path(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_round_trip(name):
    check_round_trip(light_model_path(name))


def test_scalar_constants_stay_0d():
    b = GraphBuilder()
    x = b.input("x", (2,))
    b.outputs(b.mul(x, b.const(np.float32(2.0), name="two")))
    (init,) = to_onnx(b.graph).graph.initializer
    assert list(init.dims) == []
