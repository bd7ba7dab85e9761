"""quantize / dequantize: bit-exact agreement with onnxruntime's QuantizeLinear/DequantizeLinear."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.ir.types import TensorType
from mlc.ops import FusionKind, OpError, get_op
from tests.ops.onnx_helpers import run_core_op, run_onnx_node


def randn(*shape: int, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def ort_quantize(x, scale, zero_point, axis=1, opset=13):
    feeds = {"x": x, "scale": np.asarray(scale, np.float32), "zero_point": np.asarray(zero_point)}
    return run_onnx_node("QuantizeLinear", feeds, {"axis": axis}, opset=opset)[0]


def ort_dequantize(x, scale, zero_point, axis=1, opset=13):
    feeds = {"x": x, "scale": np.asarray(scale, np.float32), "zero_point": np.asarray(zero_point)}
    return run_onnx_node("DequantizeLinear", feeds, {"axis": axis}, opset=opset)[0]


PER_TENSOR = [(np.uint8, 0.05, 128), (np.uint8, 0.5, 0), (np.int8, 0.05, 0), (np.int8, 0.02, -7),
              (np.uint8, 1.0, 3)]


@pytest.mark.parametrize("dtype,scale,zp", PER_TENSOR, ids=str)
def test_quantize_per_tensor_is_bit_exact(dtype, scale, zp):
    # Spread wide enough that some values saturate at both ends of the target range.
    x = randn(2, 3, 8, 8, scale=4.0)
    zero_point = np.asarray(zp, dtype)
    (ours,) = run_core_op("quantize", [x], {"scale": np.float32(scale), "zero_point": zero_point,
                                            "dtype": np.dtype(dtype)})
    theirs = ort_quantize(x, scale, zero_point)
    assert ours.dtype == dtype
    np.testing.assert_array_equal(ours, theirs)
    assert get_op("quantize").fusion is FusionKind.ELEMWISE


def test_quantize_rounds_half_to_even_and_saturates():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 1000.0, -1000.0], np.float32)
    (ours,) = run_core_op("quantize", [x], {"scale": np.float32(1.0), "zero_point": np.int8(0),
                                            "dtype": "i8"})
    np.testing.assert_array_equal(ours, [-2, -2, 0, 0, 2, 2, 4, 127, -128])
    np.testing.assert_array_equal(ours, ort_quantize(x, 1.0, np.int8(0)))


def test_quantize_ties_after_division_match_onnxruntime():
    # Values that land exactly on k + 0.5 after x / scale, where rounding direction matters.
    scale = np.float32(0.1)
    x = ((np.arange(-40, 40) + 0.5) * scale).astype(np.float32)
    zp = np.uint8(100)
    (ours,) = run_core_op("quantize", [x], {"scale": scale, "zero_point": zp})
    np.testing.assert_array_equal(ours, ort_quantize(x, scale, zp))


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_quantize_per_channel_is_bit_exact(axis, dtype):
    x = randn(3, 4, 5, scale=3.0)
    channels = x.shape[axis]
    scale = np.linspace(0.01, 0.08, channels).astype(np.float32)
    zp = (np.arange(channels) * 5 + (0 if dtype == np.int8 else 100)).astype(dtype)
    (ours,) = run_core_op("quantize", [x], {"scale": scale, "zero_point": zp, "axis": axis,
                                            "dtype": np.dtype(dtype)})
    np.testing.assert_array_equal(ours, ort_quantize(x, scale, zp, axis=axis))


@pytest.mark.parametrize("dtype,zp", [(np.uint8, 128), (np.int8, -3), (np.int8, 0), (np.int32, 0)])
def test_dequantize_per_tensor_is_bit_exact(dtype, zp):
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -100000), min(info.max, 100000)
    x = np.random.default_rng(1).integers(lo, hi, size=(2, 3, 6), endpoint=True).astype(dtype)
    zero_point = np.asarray(zp, dtype)
    (ours,) = run_core_op("dequantize", [x], {"scale": np.float32(0.037), "zero_point": zero_point})
    theirs = ort_dequantize(x, 0.037, zero_point)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("axis", [0, 2, -2])
def test_dequantize_per_channel_is_bit_exact(axis):
    x = np.random.default_rng(2).integers(-128, 128, size=(3, 4, 5)).astype(np.int8)
    channels = x.shape[axis]
    scale = np.linspace(0.5, 0.01, channels).astype(np.float32)
    zp = np.arange(channels).astype(np.int8) - 2
    (ours,) = run_core_op("dequantize", [x], {"scale": scale, "zero_point": zp, "axis": axis})
    np.testing.assert_array_equal(ours, ort_dequantize(x, scale, zp, axis=axis))


def test_quantize_then_dequantize_is_within_half_a_step():
    x = randn(64, seed=3)
    scale = np.float32(0.01)
    (q,) = run_core_op("quantize", [x], {"scale": scale, "zero_point": np.int8(0), "dtype": "i8"})
    (back,) = run_core_op("dequantize", [q], {"scale": scale, "zero_point": np.int8(0)})
    inside = np.abs(x) < 1.27
    assert np.all(np.abs(back - x)[inside] <= scale / 2 + 1e-7)


@pytest.mark.parametrize("op,x,attrs,match", [
    ("quantize", TensorType((2, 3), "f32"),
     {"scale": np.ones(4, np.float32), "zero_point": np.zeros(4, np.uint8)}, "do not match axis"),
    ("quantize", TensorType((2, 3), "f32"),
     {"scale": np.float32(0.1), "zero_point": np.int16(300)}, "does not fit u8"),
    ("quantize", TensorType((2, 3), "i32"),
     {"scale": np.float32(0.1), "zero_point": np.uint8(0)}, "float tensor"),
    ("quantize", TensorType((2, 3), "f32"),
     {"scale": np.float32(0.0), "zero_point": np.uint8(0)}, "positive"),
    ("quantize", TensorType((2, 3), "f32"),
     {"scale": np.float32(0.1), "zero_point": np.uint8(0), "dtype": "f16"}, "dtype must be"),
    ("quantize", TensorType((2, 3), "f32"),
     {"scale": np.ones(3, np.float32), "zero_point": np.zeros(2, np.uint8)}, "zero_point has 2"),
    ("dequantize", TensorType((2, 3), "f32"),
     {"scale": np.float32(0.1), "zero_point": np.uint8(0)}, "integer tensor"),
    ("dequantize", TensorType((2, 3), "i8"),
     {"scale": np.ones((3, 1), np.float32), "zero_point": np.zeros(3, np.int8)}, "scalars or 1-D"),
])
def test_bad_quantisation_parameters_raise(op, x, attrs, match):
    opdef = get_op(op)
    with pytest.raises(OpError, match=match):
        opdef.infer_types([x], opdef.normalize_attrs(attrs))
