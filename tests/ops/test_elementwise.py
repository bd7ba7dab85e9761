"""Elementwise and broadcasting ops: each numpy kernel against onnxruntime running the ONNX op."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings
from onnx import TensorProto

from mlc.ir.types import TensorType
from mlc.ops import FusionKind, OpError, get_op
from tests.ops.onnx_helpers import run_core_op, run_onnx_node

F32_TOL = dict(rtol=1e-5, atol=1e-6)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def randn(*shape: int, seed: int = 0, scale: float = 3.0) -> np.ndarray:
    return (rng(seed).standard_normal(shape) * scale).astype(np.float32)


def assert_matches(ours: np.ndarray, theirs: np.ndarray, **tol) -> None:
    assert ours.dtype == theirs.dtype, f"dtype {ours.dtype} != onnxruntime's {theirs.dtype}"
    assert ours.shape == theirs.shape
    if np.issubdtype(ours.dtype, np.floating):
        np.testing.assert_allclose(ours, theirs, **(tol or F32_TOL))
    else:
        np.testing.assert_array_equal(ours, theirs)


# -- one input, float ---------------------------------------------------------------------------

POSITIVE = np.abs(randn(3, 4, 5, seed=1)) + 1e-3

UNARY_FLOAT = [
    # core op, core attrs, ONNX op, ONNX attrs, opset, input
    ("relu", {}, "Relu", {}, 14, randn(3, 4, 5)),
    ("leaky_relu", {}, "LeakyRelu", {}, 16, randn(3, 4, 5)),
    ("leaky_relu", {"alpha": 0.3}, "LeakyRelu", {"alpha": 0.3}, 16, randn(3, 4, 5)),
    ("sigmoid", {}, "Sigmoid", {}, 13, randn(3, 4, 5, scale=10)),
    ("tanh", {}, "Tanh", {}, 13, randn(3, 4, 5)),
    ("erf", {}, "Erf", {}, 13, randn(3, 4, 5, scale=1.5)),
    ("sqrt", {}, "Sqrt", {}, 13, POSITIVE),
    ("exp", {}, "Exp", {}, 13, randn(3, 4, 5)),
    ("log", {}, "Log", {}, 13, POSITIVE),
    ("neg", {}, "Neg", {}, 13, randn(3, 4, 5)),
    ("abs", {}, "Abs", {}, 13, randn(3, 4, 5)),
    ("reciprocal", {}, "Reciprocal", {}, 13, POSITIVE * np.sign(randn(3, 4, 5, seed=2))),
    ("hard_sigmoid", {}, "HardSigmoid", {}, 6, randn(3, 4, 5)),
    ("hard_sigmoid", {"alpha": 0.1666, "beta": 0.4}, "HardSigmoid", {"alpha": 0.1666, "beta": 0.4},
     6, randn(3, 4, 5)),
    ("hard_swish", {}, "HardSwish", {}, 14, randn(3, 4, 5)),
    ("gelu", {}, "Gelu", {}, 20, randn(3, 4, 5)),
    ("gelu", {"approximate": "tanh"}, "Gelu", {"approximate": "tanh"}, 20, randn(3, 4, 5)),
    ("identity", {}, "Identity", {}, 16, randn(3, 4, 5)),
    ("dropout", {}, "Dropout", {}, 13, randn(3, 4, 5)),
    ("dropout", {"ratio": 0.2}, "Dropout", {}, 7, randn(3, 4, 5)),
]


@pytest.mark.parametrize("op,attrs,onnx_op,onnx_attrs,opset,x", UNARY_FLOAT,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(UNARY_FLOAT)])
def test_unary_float_matches_onnxruntime(op, attrs, onnx_op, onnx_attrs, opset, x):
    (ours,) = run_core_op(op, [x], attrs)
    (theirs,) = run_onnx_node(onnx_op, {"x": x}, onnx_attrs, opset=opset)
    assert_matches(ours, theirs)
    assert get_op(op).fusion is FusionKind.ELEMWISE


def test_gelu_tails_are_accurate():
    # 0.5·x·(1 + erf(x/√2)) cancels to 0 for x ≪ 0; the result must keep the true tiny value.
    # Φ values from tables of the standard normal CDF.
    x = np.array([-12.0, -8.0, -5.0, 0.0, 5.0, 8.0], np.float64)
    phi = np.array([1.7764821120776e-33, 6.220960574271785e-16, 2.866515718791939e-07, 0.5,
                    1 - 2.866515718791939e-07, 1 - 6.220960574271785e-16])
    (ours,) = run_core_op("gelu", [x.astype(np.float32)])
    np.testing.assert_allclose(ours, (x * phi).astype(np.float32), rtol=1e-6, atol=0)


def test_sigmoid_does_not_overflow():
    x = np.array([-1000.0, -88.0, 0.0, 88.0, 1000.0], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is right
        (ours,) = run_core_op("sigmoid", [x])
    np.testing.assert_allclose(ours, [0.0, 6.0546e-39, 0.5, 1.0, 1.0], rtol=1e-4, atol=0)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_unary_keeps_dtype(dtype):
    x = randn(4, 6).astype(dtype)
    for op in ("sigmoid", "tanh", "gelu", "exp", "hard_swish"):
        (y,) = run_core_op(op, [x])
        assert y.dtype == dtype


# -- one input, integer and bool -----------------------------------------------------------------

INTS = rng(3).integers(-100, 100, size=(4, 7)).astype(np.int32)


@pytest.mark.parametrize("op,onnx_op,opset", [("relu", "Relu", 14), ("abs", "Abs", 13),
                                              ("neg", "Neg", 13)])
def test_unary_int_matches_onnxruntime(op, onnx_op, opset):
    (ours,) = run_core_op(op, [INTS])
    (theirs,) = run_onnx_node(onnx_op, {"x": INTS}, {}, opset=opset)
    assert_matches(ours, theirs)


def test_not_matches_onnxruntime():
    x = rng(4).random((3, 5)) > 0.5
    (ours,) = run_core_op("not", [x])
    (theirs,) = run_onnx_node("Not", {"x": x}, {}, opset=1)
    assert_matches(ours, theirs)


@pytest.mark.parametrize("op,x", [("sigmoid", INTS), ("gelu", INTS), ("not", randn(3)),
                                  ("neg", np.array([True])), ("leaky_relu", INTS)])
def test_unary_rejects_wrong_dtype(op, x):
    with pytest.raises(OpError, match=op):
        get_op(op).infer_types([TensorType.of(x)], get_op(op).normalize_attrs({}))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(OpError, match="approximate"):
        run_core_op("gelu", [randn(3)], {"approximate": "erf"})


# -- clip -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("lo,hi", [(-1.0, 2.0), (None, 0.5), (-0.5, None), (1.0, -1.0)])
def test_clip_matches_onnxruntime_opset13(lo, hi):
    x = randn(3, 4, 5)
    attrs = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
    (ours,) = run_core_op("clip", [x], attrs)
    feeds = {"x": x, "min": None if lo is None else np.float32(lo),
             "max": None if hi is None else np.float32(hi)}
    (theirs,) = run_onnx_node("Clip", feeds, {}, opset=13)
    assert_matches(ours, theirs)


def test_clip_matches_onnxruntime_opset6_attributes():
    x = randn(3, 4, 5)
    (ours,) = run_core_op("clip", [x], {"min": -0.7, "max": 1.3})
    (theirs,) = run_onnx_node("Clip", {"x": x}, {"min": -0.7, "max": 1.3}, opset=6)
    assert_matches(ours, theirs)


def test_clip_on_integers_saturates_the_bounds():
    x = rng(5).integers(-128, 128, size=(20,)).astype(np.int8)
    (ours,) = run_core_op("clip", [x], {"min": -20})  # max stays +inf → int8's 127
    (theirs,) = run_onnx_node("Clip", {"x": x, "min": np.int8(-20), "max": None}, {}, opset=13)
    assert_matches(ours, theirs)


# -- cast -----------------------------------------------------------------------------------------

CASTS = [
    (randn(4, 5), "i32", TensorProto.INT32),
    (np.abs(randn(4, 5)) * 20, "u8", TensorProto.UINT8),
    (randn(4, 5), "i8", TensorProto.INT8),
    (randn(4, 5), "f16", TensorProto.FLOAT16),
    (randn(4, 5), "bool", TensorProto.BOOL),
    (np.array([0.0, -0.0, np.nan, 1e-30], np.float32), "bool", TensorProto.BOOL),
    (INTS.astype(np.int64), "f32", TensorProto.FLOAT),
    (INTS, "i8", TensorProto.INT8),  # in range: values are in [-100, 100)
    (rng(6).random((3, 3)) > 0.5, "f32", TensorProto.FLOAT),
    (randn(4, 5).astype(np.float16), "f32", TensorProto.FLOAT),
]


@pytest.mark.parametrize("x,to,onnx_to", CASTS, ids=[f"{c[0].dtype}-{c[1]}" for c in CASTS])
def test_cast_matches_onnxruntime(x, to, onnx_to):
    (ours,) = run_core_op("cast", [x], {"to": to})
    (theirs,) = run_onnx_node("Cast", {"x": x}, {"to": onnx_to}, opset=13)
    assert_matches(ours, theirs)


def test_cast_float_to_int_truncates_toward_zero():
    (ours,) = run_core_op("cast", [np.array([-2.7, -0.5, 0.5, 2.7], np.float32)], {"to": "i32"})
    np.testing.assert_array_equal(ours, [-2, 0, 0, 2])


# -- broadcasting ---------------------------------------------------------------------------------

SHAPE_PAIRS = [((3, 4, 5), (3, 4, 5)), ((3, 1, 5), (4, 1)), ((5,), (2, 3, 5)), ((), (2, 3))]

BINARY = [("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div"), ("min", "Min"),
          ("max", "Max"), ("equal", "Equal"), ("less", "Less"), ("greater", "Greater")]


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("op,onnx_op", BINARY)
def test_binary_float_matches_onnxruntime(op, onnx_op, shapes):
    a = randn(*shapes[0], seed=7)
    b = randn(*shapes[1], seed=8)
    if op == "div":
        b = np.where(np.abs(b) < 0.1, np.float32(0.5), b)
    if op == "equal":
        b = np.where(rng(9).random(b.shape) < 0.5, b, np.resize(a, b.shape)).astype(np.float32)
    (ours,) = run_core_op(op, [a, b])
    (theirs,) = run_onnx_node(onnx_op, {"a": a, "b": b}, {}, opset=13)
    assert_matches(ours, theirs)
    assert get_op(op).fusion is FusionKind.BROADCAST


@pytest.mark.parametrize("op,onnx_op", BINARY)
def test_binary_int_matches_onnxruntime(op, onnx_op):
    a = rng(10).integers(-50, 50, size=(3, 1, 6)).astype(np.int32)
    b = rng(11).integers(-9, 9, size=(4, 1)).astype(np.int32)
    b[b == 0] = 3
    (ours,) = run_core_op(op, [a, b])
    (theirs,) = run_onnx_node(onnx_op, {"a": a, "b": b}, {}, opset=13)
    assert_matches(ours, theirs)


def test_integer_div_truncates_toward_zero():
    a = np.array([7, -7, 7, -7, 6, -6], np.int64)
    b = np.array([2, 2, -2, -2, 4, 4], np.int64)
    (ours,) = run_core_op("div", [a, b])
    np.testing.assert_array_equal(ours, [3, -3, -3, 3, 1, -1])
    (theirs,) = run_onnx_node("Div", {"a": a, "b": b}, {}, opset=14)
    assert_matches(ours, theirs)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int64])
def test_integer_div_other_dtypes(dtype):
    info = np.iinfo(dtype)
    a = rng(12).integers(max(info.min, -120), min(info.max, 120), size=(40,)).astype(dtype)
    b = rng(13).integers(1, 9, size=(40,)).astype(dtype)
    if info.min < 0:
        b = (b * np.where(rng(14).random(40) < 0.5, -1, 1)).astype(dtype)
    (ours,) = run_core_op("div", [a, b])
    (theirs,) = run_onnx_node("Div", {"a": a, "b": b}, {}, opset=14)
    assert_matches(ours, theirs)


POWS = [
    (np.abs(randn(3, 4)) + 0.1, randn(3, 4, seed=3, scale=1.0)),
    (randn(3, 4), np.array([2.0, 3.0, 0.0, -1.0], np.float32)),
    (randn(3, 4), np.array([2, 3, 0, -1], np.int64)),
    (INTS[:, :3], np.array([2, 0, 3], np.int32)),
    (INTS[:, :3], np.array([2, 1, 3], np.int64)),
    (np.abs(INTS[:, :3]) + 1, np.array([0.5, 2.0, -1.0], np.float32)),
]


@pytest.mark.parametrize("a,b", POWS,
                         ids=[f"{a.dtype}^{b.dtype}-{i}" for i, (a, b) in enumerate(POWS)])
def test_pow_matches_onnxruntime_and_keeps_base_dtype(a, b):
    (ours,) = run_core_op("pow", [a, b])
    (theirs,) = run_onnx_node("Pow", {"a": a, "b": b}, {}, opset=15)
    assert ours.dtype == a.dtype
    assert_matches(ours, theirs)


def test_where_matches_onnxruntime():
    cond = rng(15).random((3, 1, 5)) > 0.5
    a, b = randn(4, 1, seed=16), randn(3, 4, 5, seed=17)
    (ours,) = run_core_op("where", [cond, a, b])
    (theirs,) = run_onnx_node("Where", {"c": cond, "a": a, "b": b}, {}, opset=16)
    assert_matches(ours, theirs)


@pytest.mark.parametrize("slope_shape", [(1,), (3, 1, 1), (5,), (2, 3, 4, 5)])
def test_prelu_matches_onnxruntime(slope_shape):
    x = randn(2, 3, 4, 5)
    slope = randn(*slope_shape, seed=18, scale=0.5)
    (ours,) = run_core_op("prelu", [x, slope])
    (theirs,) = run_onnx_node("PRelu", {"x": x, "slope": slope}, {}, opset=16)
    assert_matches(ours, theirs)


def test_prelu_on_integers_matches_onnxruntime():
    slope = np.array([2, -1, 3, 0, 1, 2, 5], np.int32)
    (ours,) = run_core_op("prelu", [INTS, slope])
    (theirs,) = run_onnx_node("PRelu", {"x": INTS, "slope": slope}, {}, opset=16)
    assert_matches(ours, theirs)


@pytest.mark.parametrize("op,types,match", [
    ("add", [TensorType((3, 4), "f32"), TensorType((5,), "f32")], "do not broadcast"),
    ("mul", [TensorType((2, 3), "f32"), TensorType((3, 2), "f32")], "do not broadcast"),
    ("sub", [TensorType((3,), "f32"), TensorType((3,), "i32")], "same dtype"),
    ("less", [TensorType((3,), "bool"), TensorType((3,), "bool")], "bool"),
    ("where", [TensorType((3,), "f32"), TensorType((3,), "f32"), TensorType((3,), "f32")],
     "condition must be bool"),
    ("where", [TensorType((2,), "bool"), TensorType((3,), "f32"), TensorType((3,), "f32")],
     "do not broadcast"),
    ("prelu", [TensorType((1, 3), "f32"), TensorType((2, 3), "f32")], "one-directional"),
    ("pow", [TensorType((2,), "bool"), TensorType((2,), "f32")], "bool"),
])
def test_binary_bad_inputs_raise_op_error(op, types, match):
    with pytest.raises(OpError, match=match):
        get_op(op).infer_types(types, {})


def test_comparisons_output_bool_and_equal_takes_bool():
    a = rng(19).random(6) > 0.5
    b = rng(20).random(6) > 0.5
    (ours,) = run_core_op("equal", [a, b])
    (theirs,) = run_onnx_node("Equal", {"a": a, "b": b}, {}, opset=13)
    assert_matches(ours, theirs)
    for op in ("equal", "less", "greater"):
        t = get_op(op).infer_types([TensorType((2, 1), "i64"), TensorType((3,), "i64")], {})
        assert t == [TensorType((2, 3), "bool")]


def test_elementwise_cost_counts_bytes_and_no_macs():
    a, b = TensorType((4, 1), "f32"), TensorType((1, 8), "f32")
    (out,) = get_op("add").infer_types([a, b], {})
    cost = get_op("add").cost([a, b], [out], {})
    assert (cost.macs, cost.bytes_read, cost.bytes_written) == (0, 4 * 4 + 8 * 4, 32 * 4)


def test_onnx_names_are_declared():
    declared = {name for op in ("relu", "gelu", "clip", "cast", "add", "pow", "where", "prelu")
                for name in get_op(op).onnx}
    assert {"Relu", "Gelu", "Clip", "Cast", "Add", "Sum", "Pow", "Where", "PRelu"} <= declared


@settings(max_examples=25, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       op=st.sampled_from(["add", "sub", "mul", "max", "less"]))
def test_broadcasting_agrees_with_numpy_and_onnxruntime(shapes, op):
    a = randn(*shapes.input_shapes[0], seed=21)
    b = randn(*shapes.input_shapes[1], seed=22)
    (ours,) = run_core_op(op, [a, b])  # also checks infer's shape against the kernel's
    assert ours.shape == shapes.result_shape
    onnx_op = {"add": "Add", "sub": "Sub", "mul": "Mul", "max": "Max", "less": "Less"}[op]
    (theirs,) = run_onnx_node(onnx_op, {"a": a, "b": b}, {}, opset=13)
    assert_matches(ours, theirs)


def test_silu_matches_onnxruntime_sigmoid_mul():
    # ONNX has no SiLU op (Swish arrives in opset 24): the yardstick is x·Sigmoid(x), which is
    # also exactly what the exporter writes for silu, so this checks the kernel and the export.
    import onnxruntime as ort

    from mlc.frontend.export import to_onnx
    from mlc.ir import GraphBuilder

    x = randn(3, 4, 5, scale=10)
    b = GraphBuilder("silu")
    b.outputs(b.silu(b.input("x", x.shape)))
    model = to_onnx(b.graph)
    assert [n.op_type for n in model.graph.node] == ["Sigmoid", "Mul"]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {"x": x})
    (ours,) = run_core_op("silu", [x])
    assert_matches(ours, theirs)
    assert get_op("silu").fusion is FusionKind.ELEMWISE


def test_silu_keeps_dtype_and_tails():
    x = np.array([-1000.0, -20.0, 0.0, 20.0, 1000.0], np.float64)
    with np.errstate(over="raise", invalid="raise"):
        (ours,) = run_core_op("silu", [x])
    with np.errstate(over="ignore"):
        expected = x / (1 + np.exp(-x))  # exp overflows to inf for x = -1000: the result is -0
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=0)
    (half,) = run_core_op("silu", [x.astype(np.float16)])
    assert half.dtype == np.float16
