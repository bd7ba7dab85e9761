"""Reductions, softmax and normalisations: numpy kernels against onnxruntime."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlc.ir.types import TensorType
from mlc.ops import FusionKind, OpError, get_op
from tests.ops.onnx_helpers import run_core_op, run_onnx_node

F32_TOL = dict(rtol=1e-5, atol=1e-6)


def randn(*shape: int, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def assert_matches(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if np.issubdtype(ours.dtype, np.floating):
        np.testing.assert_allclose(ours, theirs, **F32_TOL)
    else:
        np.testing.assert_array_equal(ours, theirs)


# -- reductions -----------------------------------------------------------------------------------

REDUCES = [("reduce_sum", "ReduceSum"), ("reduce_mean", "ReduceMean"), ("reduce_max", "ReduceMax"),
           ("reduce_min", "ReduceMin")]
AXES = [(), (1,), (0, 2), (-1,), (-1, 0), (0, 1, 2, 3)]


@pytest.mark.parametrize("keepdims", [True, False])
@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("op,onnx_op", REDUCES)
def test_reduce_float_matches_onnxruntime(op, onnx_op, axes, keepdims):
    x = randn(2, 3, 4, 5, scale=3.0)
    (ours,) = run_core_op(op, [x], {"axes": axes, "keepdims": keepdims})
    # Opset 18: axes is an input; an omitted one (with noop_with_empty_axes=0) means all axes.
    feeds = {"x": x, "axes": np.array(axes, np.int64) if axes else None}
    (theirs,) = run_onnx_node(onnx_op, feeds, {"keepdims": int(keepdims)}, opset=18)
    assert_matches(ours, theirs)
    assert get_op(op).fusion is FusionKind.REDUCTION


@pytest.mark.parametrize("op,onnx_op", REDUCES)
def test_reduce_int_matches_onnxruntime(op, onnx_op):
    x = np.random.default_rng(1).integers(-1000, 1000, size=(3, 5, 7)).astype(np.int32)
    (ours,) = run_core_op(op, [x], {"axes": (1,), "keepdims": False})
    (theirs,) = run_onnx_node(onnx_op, {"x": x, "axes": np.array([1], np.int64)}, {"keepdims": 0},
                              opset=18)
    assert_matches(ours, theirs)


@pytest.mark.parametrize("op,onnx_op", [("reduce_max", "ReduceMax"), ("reduce_min", "ReduceMin")])
def test_reduce_extremes_of_bool_are_any_and_all(op, onnx_op):
    x = np.array([[True, False], [True, True], [False, False]])
    (ours,) = run_core_op(op, [x], {"axes": (1,), "keepdims": False})
    (theirs,) = run_onnx_node(onnx_op, {"x": x, "axes": np.array([1], np.int64)}, {"keepdims": 0},
                              opset=20)
    assert_matches(ours, theirs)


def test_integer_mean_truncates_toward_zero():
    x = np.array([[-1, -2], [3, 4], [-7, 0]], np.int64)
    (ours,) = run_core_op("reduce_mean", [x], {"axes": (1,), "keepdims": False})
    np.testing.assert_array_equal(ours, [-1, 3, -3])


@pytest.mark.parametrize("op,onnx_op", [("reduce_max", "ReduceMax"), ("reduce_min", "ReduceMin")])
def test_reduce_extreme_of_nothing_is_infinite(op, onnx_op):
    x = np.zeros((2, 0, 3), np.float32)
    (ours,) = run_core_op(op, [x], {"axes": (1,)})
    (theirs,) = run_onnx_node(onnx_op, {"x": x, "axes": np.array([1], np.int64)}, {}, opset=18)
    assert_matches(ours, theirs)
    assert np.all(np.isinf(ours))


def test_reduce_sum_accumulates_accurately():
    # 2^24 + many ones: naive float32 accumulation would lose every 1.
    x = np.concatenate([[2.0 ** 24], np.ones(4096)]).astype(np.float32)
    (ours,) = run_core_op("reduce_sum", [x], {"keepdims": False})
    assert ours == np.float32(2.0 ** 24 + 4096)


@pytest.mark.parametrize("axes,match", [((4,), "out of range"), ((-5,), "out of range"),
                                        ((1, -3), "same axis twice")])
def test_reduce_bad_axes_raise_op_error(axes, match):
    with pytest.raises(OpError, match=match):
        get_op("reduce_sum").infer_types([TensorType((2, 3, 4, 5), "f32")],
                                         get_op("reduce_sum").normalize_attrs({"axes": axes}))


def test_reduce_cost_counts_bytes_but_no_macs():
    x = TensorType((2, 3, 4), "f32")
    attrs = get_op("reduce_mean").normalize_attrs({"axes": (2,)})
    out = get_op("reduce_mean").infer_types([x], attrs)
    cost = get_op("reduce_mean").cost([x], out, attrs)
    assert (cost.macs, cost.bytes_read, cost.bytes_written) == (0, 96, 24)


# -- softmax ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 1000.0], ids=["normal", "huge"])
@pytest.mark.parametrize("axis", [-1, 0, 1, 2])
@pytest.mark.parametrize("op,onnx_op", [("softmax", "Softmax"), ("log_softmax", "LogSoftmax")])
def test_softmax_matches_onnxruntime(op, onnx_op, axis, scale):
    x = randn(3, 4, 5, seed=2, scale=scale)
    (ours,) = run_core_op(op, [x], {"axis": axis})
    (theirs,) = run_onnx_node(onnx_op, {"x": x}, {"axis": axis}, opset=13)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert ours.dtype == np.float32


def test_softmax_rows_sum_to_one_with_infinite_logit():
    x = np.array([[-np.inf, 0.0, 1.0], [-np.inf, -np.inf, 3.0]], np.float32)
    (ours,) = run_core_op("softmax", [x], {"axis": 1})
    np.testing.assert_allclose(ours.sum(axis=1), [1.0, 1.0], rtol=1e-6)
    assert ours[1, 2] == 1.0 and ours[0, 0] == 0.0


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_bad_axis_and_dtype(op):
    with pytest.raises(OpError, match="out of range"):
        get_op(op).infer_types([TensorType((2, 3), "f32")], {"axis": 2})
    with pytest.raises(OpError, match="float"):
        get_op(op).infer_types([TensorType((2, 3), "i32")], {"axis": 1})


# -- batch_norm ------------------------------------------------------------------------------------

def _bn_params(channels: int) -> list[np.ndarray]:
    scale = randn(channels, seed=3)
    bias = randn(channels, seed=4)
    mean = randn(channels, seed=5)
    var = np.abs(randn(channels, seed=6)) + 0.1
    return [scale, bias, mean, var]


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 3), (1, 6, 7), (2, 3, 2, 2, 2)], ids=str)
@pytest.mark.parametrize("epsilon", [1e-5, 1e-3])
def test_batch_norm_matches_onnxruntime(shape, epsilon):
    x = randn(*shape, seed=7, scale=2.0)
    params = _bn_params(shape[1])
    (ours,) = run_core_op("batch_norm", [x, *params], {"epsilon": epsilon})
    feeds = dict(zip(["x", "scale", "bias", "mean", "var"], [x, *params]))
    (theirs,) = run_onnx_node("BatchNormalization", feeds, {"epsilon": epsilon}, opset=15)
    assert_matches(ours, theirs)


@pytest.mark.parametrize("shapes,match", [
    ([(2, 3, 4), (4,), (3,), (3,), (3,)], "scale must have shape \\[3\\]"),
    ([(2, 3, 4), (3,), (3,), (3, 1), (3,)], "mean must have shape"),
    ([(3,), (3,), (3,), (3,), (3,)], "rank ≥ 2"),
])
def test_batch_norm_bad_params_raise(shapes, match):
    with pytest.raises(OpError, match=match):
        get_op("batch_norm").infer_types([TensorType(s, "f32") for s in shapes], {"epsilon": 1e-5})


# -- layer_norm ------------------------------------------------------------------------------------

LAYER_NORMS = [((2, 5, 8), -1, (8,), True), ((2, 5, 8), 1, (5, 8), True),
               ((2, 5, 8), -2, (5, 8), False), ((4, 6), 0, (4, 6), True),
               ((2, 3, 8), -1, (1,), True)]


@pytest.mark.parametrize("shape,axis,param_shape,with_bias", LAYER_NORMS, ids=str)
def test_layer_norm_matches_onnxruntime(shape, axis, param_shape, with_bias):
    x = randn(*shape, seed=8, scale=3.0) + 5.0
    scale = randn(*param_shape, seed=9)
    bias = randn(*param_shape, seed=10) if with_bias else None
    (ours,) = run_core_op("layer_norm", [x, scale, bias], {"axis": axis, "epsilon": 1e-5})
    (theirs,) = run_onnx_node("LayerNormalization", {"x": x, "scale": scale, "bias": bias},
                              {"axis": axis, "epsilon": 1e-5}, opset=17)
    np.testing.assert_allclose(ours, theirs, **F32_TOL)
    assert ours.dtype == np.float32


@pytest.mark.parametrize("x,scale,axis,match", [
    ((2, 5, 8), (5,), -1, "do not broadcast"),
    ((2, 5, 8), (8,), 3, "out of range"),
    ((2, 5, 8), (2, 5, 8), 1, "do not broadcast|must broadcast"),
])
def test_layer_norm_bad_inputs_raise(x, scale, axis, match):
    with pytest.raises(OpError, match=match):
        get_op("layer_norm").infer_types([TensorType(x, "f32"), TensorType(scale, "f32"), None],
                                         {"axis": axis, "epsilon": 1e-5})


# -- lrn -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 3, 5, 9])
def test_lrn_matches_onnxruntime(size):
    x = randn(2, 7, 3, 4, seed=11, scale=4.0)
    attrs = {"size": size, "alpha": 2e-3, "beta": 0.75, "bias": 1.5}
    (ours,) = run_core_op("lrn", [x], attrs)
    (theirs,) = run_onnx_node("LRN", {"x": x}, attrs, opset=13)
    assert_matches(ours, theirs)


@pytest.mark.parametrize("size", [2, 4, 6])
def test_lrn_even_size_matches_the_onnx_formula(size):
    # onnxruntime refuses even sizes (it asserts size % 2 == 1) and onnx.reference's LRN loops over
    # the batch axis instead of channels, so the yardstick here is the spec's formula as a loop.
    x = randn(2, 7, 3, 4, seed=12, scale=4.0)
    alpha, beta, bias = 2e-3, 0.75, 1.5
    (ours,) = run_core_op("lrn", [x], {"size": size, "alpha": alpha, "beta": beta, "bias": bias})
    expected = np.empty_like(x, dtype=np.float64)
    for c in range(x.shape[1]):
        lo = max(0, c - math.floor((size - 1) / 2))
        hi = min(x.shape[1] - 1, c + math.ceil((size - 1) / 2))
        square_sum = np.sum(x[:, lo:hi + 1].astype(np.float64) ** 2, axis=1)
        expected[:, c] = x[:, c] / (bias + alpha / size * square_sum) ** beta
    np.testing.assert_allclose(ours, expected.astype(np.float32), **F32_TOL)


def test_lrn_window_follows_onnx_for_even_size():
    # size 4: channel c sums the squares of channels [c-1, c+2], clipped to [0, 5].
    x = np.arange(1, 7, dtype=np.float32).reshape(1, 6, 1, 1)
    (ours,) = run_core_op("lrn", [x], {"size": 4, "alpha": 4.0, "beta": 1.0, "bias": 1.0})
    # c=0: 1+4+9 = 14;  c=2: 4+9+16+25 = 54;  c=5: 25+36 = 61;  y = x / (1 + 4/4 · sum)
    np.testing.assert_allclose(ours[0, [0, 2, 5], 0, 0], [1 / 15, 3 / 55, 6 / 62], rtol=1e-6)


def test_lrn_rejects_low_rank():
    with pytest.raises(OpError, match="rank ≥ 3"):
        get_op("lrn").infer_types([TensorType((2, 3), "f32")],
                                  get_op("lrn").normalize_attrs({"size": 3}))


def test_batch_norm_with_float32_statistics_on_float16_input():
    x = randn(2, 3, 4, seed=13).astype(np.float16)
    params = _bn_params(3)
    (ours,) = run_core_op("batch_norm", [x, *params], {"epsilon": 1e-5})
    feeds = dict(zip(["x", "scale", "bias", "mean", "var"], [x, *params]))
    (theirs,) = run_onnx_node("BatchNormalization", feeds, {"epsilon": 1e-5}, opset=15)
    assert ours.dtype == np.float16
    np.testing.assert_allclose(ours.astype(np.float32), theirs.astype(np.float32), rtol=2e-3,
                               atol=2e-3)  # float16 has 11 significant bits: ~5e-4 relative per op
