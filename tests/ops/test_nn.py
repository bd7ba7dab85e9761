"""Tensor ops (conv, matmul, gemm, pools) against onnxruntime running the equivalent ONNX node.

Every case runs the registry's kernel, checks its output type against the op's ``infer``, and
compares the values with onnxruntime on random seeded inputs.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from mlc.ir import TensorType
from mlc.ops import OpError, get_op
from tests.ops.onnx_helpers import run_core_op, run_onnx_node

F32 = dict(rtol=1e-4, atol=1e-5)


def run_core(op: str, inputs: list, **attrs) -> list[np.ndarray]:
    """Run a core op's kernel, checking its outputs against ``infer`` (see run_core_op)."""
    return run_core_op(op, inputs, attrs)


def infer(op: str, *types: TensorType | None, **attrs) -> list[TensorType]:
    opdef = get_op(op)
    return opdef.infer_types(list(types), opdef.normalize_attrs(attrs))


def seed(name: str) -> int:
    """A stable per-case seed (str hash() changes between runs)."""
    return zlib.crc32(name.encode())


def rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


# --------------------------------------------------------------------------------------------
# conv2d

CONV_CASES = {
    # name: (N, C, H, W, Cout, (kh, kw), strides, pads, dilations, group, bias)
    "3x3_pad1": (1, 3, 8, 8, 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, True),
    "1x1": (1, 8, 5, 5, 6, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, True),
    "1x1_stride2": (2, 8, 7, 7, 6, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1, False),
    "stem_7x7_s2_p3": (1, 3, 32, 32, 8, (7, 7), (2, 2), (3, 3, 3, 3), (1, 1), 1, True),
    "groups2": (1, 4, 9, 9, 6, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2, True),
    "groups4_stride2": (2, 8, 10, 11, 8, (3, 3), (2, 2), (1, 0, 1, 0), (1, 1), 4, True),
    "depthwise": (1, 6, 10, 10, 6, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 6, True),
    "depthwise_s2_asym": (2, 5, 11, 9, 5, (3, 3), (2, 2), (0, 0, 1, 1), (1, 1), 5, False),
    "depthwise_multiplier2": (1, 4, 8, 8, 8, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 4, True),
    "depthwise_dilated": (1, 3, 12, 12, 3, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2), 3, True),
    "dilation2": (1, 3, 12, 12, 4, (3, 3), (1, 1), (0, 0, 0, 0), (2, 2), 1, True),
    "dilation_mixed_stride": (1, 4, 15, 13, 4, (3, 2), (2, 1), (1, 2, 0, 1), (2, 3), 2, True),
    "asymmetric_pads": (1, 2, 7, 6, 3, (3, 3), (1, 1), (0, 1, 2, 0), (1, 1), 1, True),
    "rect_kernel_strides": (2, 3, 9, 14, 5, (2, 5), (3, 2), (1, 2, 1, 2), (1, 1), 1, True),
    "kernel_fills_input": (1, 2, 4, 4, 3, (5, 5), (1, 1), (1, 0, 0, 1), (1, 1), 1, True),
    "1x1_pads": (1, 3, 4, 4, 2, (1, 1), (2, 2), (1, 1, 0, 2), (1, 1), 1, True),
}


@pytest.mark.parametrize("case", list(CONV_CASES), ids=list(CONV_CASES))
def test_conv2d_matches_onnxruntime(case):
    n, c, h, w, co, kernel, strides, pads, dilations, group, bias = CONV_CASES[case]
    rng = np.random.default_rng(seed(case))
    x = rand(rng, n, c, h, w)
    wt = rand(rng, co, c // group, *kernel)
    b = rand(rng, co) if bias else None
    (got,) = run_core("conv2d", [x, wt, b], strides=strides, pads=pads, dilations=dilations,
                      group=group)
    (want,) = run_onnx_node("Conv", {"x": x, "w": wt, "b": b},
                            dict(strides=strides, pads=pads, dilations=dilations, group=group,
                                 kernel_shape=kernel))
    np.testing.assert_allclose(got, want, **F32)


def test_conv2d_float16_matches_onnxruntime():
    rng = np.random.default_rng(3)
    x = rand(rng, 1, 4, 6, 6).astype(np.float16)
    w = rand(rng, 4, 2, 3, 3).astype(np.float16)
    (got,) = run_core("conv2d", [x, w], pads=(1, 1, 1, 1), group=2)
    (want,) = run_onnx_node("Conv", {"x": x, "w": w}, dict(pads=(1, 1, 1, 1), group=2))
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=2e-3, atol=2e-3)


def test_conv2d_cost_counts_macs_per_group():
    opdef = get_op("conv2d")
    attrs = opdef.normalize_attrs({"strides": (2, 2), "pads": (1, 1, 1, 1), "group": 4})
    x, w, b = TensorType((2, 8, 16, 16), "f32"), TensorType((12, 2, 3, 3), "f32"), TensorType((12,), "f32")
    (y,) = opdef.infer_types([x, w, b], attrs)
    cost = opdef.cost([x, w, b], [y], attrs)
    assert y.shape == (2, 12, 8, 8)
    assert cost.macs == 2 * 12 * 8 * 8 * (8 // 4) * 3 * 3
    assert cost.bytes_read == (x.numel + w.numel + b.numel) * 4
    assert cost.bytes_written == y.numel * 4


@pytest.mark.parametrize("x_shape, w_shape, attrs, message", [
    ((1, 3, 8, 8), (4, 2, 3, 3), {}, "channels"),
    ((1, 4, 8, 8), (4, 2, 3, 3), {"group": 3}, "group=3"),
    ((1, 3, 4, 4), (4, 3, 7, 7), {}, "larger than the padded input"),
    ((1, 3, 4, 4), (4, 3, 3, 3), {"dilations": (3, 3)}, "larger than the padded input"),
    ((1, 3, 8), (4, 3, 3, 3), {}, "rank 4"),
    ((1, 3, 8, 8), (4, 3, 3), {}, "rank 4"),
    ((1, 3, 8, 8), (4, 3, 3, 3), {"pads": (1, 1)}, "pads must have 4"),
    ((1, 3, 8, 8), (4, 3, 3, 3), {"strides": (0, 1)}, "positive"),
    ((1, 3, 8, 8), (4, 3, 3, 3), {"pads": (-1, 0, 0, 0)}, "non-negative"),
])
def test_conv2d_bad_shapes_raise(x_shape, w_shape, attrs, message):
    with pytest.raises(OpError, match=message):
        infer("conv2d", TensorType(x_shape, "f32"), TensorType(w_shape, "f32"), **attrs)


def test_conv2d_bad_bias_and_dtype_raise():
    x, w = TensorType((1, 3, 8, 8), "f32"), TensorType((4, 3, 3, 3), "f32")
    with pytest.raises(OpError, match="bias"):
        infer("conv2d", x, w, TensorType((3,), "f32"))
    with pytest.raises(OpError, match="share one dtype"):
        infer("conv2d", x, TensorType((4, 3, 3, 3), "f16"))
    with pytest.raises(OpError, match="floating-point"):
        infer("conv2d", TensorType((1, 3, 8, 8), "i8"), TensorType((4, 3, 3, 3), "i8"))


def test_conv2d_symbolic_batch_passes_through_but_spatial_dims_must_be_static():
    w = TensorType((4, 3, 3, 3), "f32")
    (y,) = infer("conv2d", TensorType(("N", 3, 8, 8), "f32"), w)
    assert y.shape == ("N", 4, 6, 6)
    with pytest.raises(OpError, match="symbolic"):
        infer("conv2d", TensorType((1, 3, "H", 8), "f32"), w)


# --------------------------------------------------------------------------------------------
# conv2d_transpose

CONVT_CASES = {
    # name: (N, Cin, H, W, Cout, (kh, kw), strides, pads, dilations, group, output_padding, bias)
    "basic": (1, 3, 5, 5, 4, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, (0, 0), True),
    "stride2_pad1": (1, 4, 6, 6, 3, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1, (0, 0), True),
    "stride2_outpad1": (2, 4, 5, 6, 3, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1, (1, 1), True),
    "k4_s2_p1": (1, 8, 4, 4, 4, (4, 4), (2, 2), (1, 1, 1, 1), (1, 1), 1, (0, 0), False),
    "groups2": (1, 4, 5, 5, 6, (3, 3), (2, 2), (1, 0, 0, 1), (1, 1), 2, (0, 1), True),
    "depthwise": (1, 5, 6, 6, 5, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 5, (1, 1), True),
    "dilation2": (1, 2, 5, 4, 3, (3, 2), (1, 2), (0, 1, 2, 0), (2, 2), 1, (0, 1), True),
    "asym_stride3": (1, 3, 4, 5, 2, (2, 3), (3, 2), (2, 0, 0, 1), (1, 1), 1, (2, 1), True),
}


@pytest.mark.parametrize("case", list(CONVT_CASES), ids=list(CONVT_CASES))
def test_conv2d_transpose_matches_onnxruntime(case):
    n, ci, h, w, co, kernel, strides, pads, dilations, group, out_pad, bias = CONVT_CASES[case]
    rng = np.random.default_rng(seed(case))
    x = rand(rng, n, ci, h, w)
    wt = rand(rng, ci, co // group, *kernel)
    b = rand(rng, co) if bias else None
    (got,) = run_core("conv2d_transpose", [x, wt, b], strides=strides, pads=pads,
                      dilations=dilations, group=group, output_padding=out_pad)
    (want,) = run_onnx_node("ConvTranspose", {"x": x, "w": wt, "b": b},
                            dict(strides=strides, pads=pads, dilations=dilations, group=group,
                                 output_padding=out_pad, kernel_shape=kernel))
    np.testing.assert_allclose(got, want, **F32)


def test_conv2d_transpose_infer_errors_and_cost():
    x = TensorType((1, 4, 5, 5), "f32")
    with pytest.raises(OpError, match="4 channels but weight"):
        infer("conv2d_transpose", x, TensorType((3, 2, 3, 3), "f32"))
    with pytest.raises(OpError, match="group=3"):
        infer("conv2d_transpose", x, TensorType((4, 2, 3, 3), "f32"), group=3)
    with pytest.raises(OpError, match="empty output"):
        infer("conv2d_transpose", TensorType((1, 4, 1, 1), "f32"), TensorType((4, 2, 1, 1), "f32"),
              pads=(1, 0, 0, 0))
    opdef = get_op("conv2d_transpose")
    attrs = opdef.normalize_attrs({"strides": (2, 2), "group": 2})
    w = TensorType((4, 3, 3, 3), "f32")
    (y,) = opdef.infer_types([x, w], attrs)
    assert y.shape == (1, 6, 11, 11)
    # every input pixel of a group meets Cout/group·kh·kw weights per input channel
    assert opdef.cost([x, w], [y], attrs).macs == 1 * 4 * 5 * 5 * 3 * 3 * 3


# --------------------------------------------------------------------------------------------
# matmul and gemm

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 1, 3, 4), (5, 4, 6)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
    ((1, 64), (64, 10)),
]


@pytest.mark.parametrize("a_shape, b_shape", MATMUL_SHAPES, ids=[f"{a}@{b}" for a, b in MATMUL_SHAPES])
def test_matmul_matches_onnxruntime(a_shape, b_shape):
    rng = np.random.default_rng(len(a_shape) * 10 + len(b_shape))
    a, b = rand(rng, *a_shape), rand(rng, *b_shape)
    (got,) = run_core("matmul", [a, b])
    (want,) = run_onnx_node("MatMul", {"a": a, "b": b}, {})
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, **F32)


def test_matmul_errors_and_cost():
    with pytest.raises(OpError, match="inner dimensions"):
        infer("matmul", TensorType((3, 4), "f32"), TensorType((5, 6), "f32"))
    with pytest.raises(OpError, match="do not broadcast"):
        infer("matmul", TensorType((2, 3, 4), "f32"), TensorType((3, 4, 5), "f32"))
    with pytest.raises(OpError, match="rank >= 1"):
        infer("matmul", TensorType((), "f32"), TensorType((3,), "f32"))
    with pytest.raises(OpError, match="dtype"):
        infer("matmul", TensorType((3, 4), "f32"), TensorType((4, 5), "f16"))
    opdef = get_op("matmul")
    a, b = TensorType((2, 1, 3, 4), "f32"), TensorType((5, 4, 6), "f32")
    (y,) = opdef.infer_types([a, b], {})
    assert y.shape == (2, 5, 3, 6)
    assert opdef.cost([a, b], [y], {}).macs == 2 * 5 * 3 * 6 * 4


GEMM_CASES = {
    "plain": ((3, 4), (4, 5), (5,), {}),
    "no_c": ((3, 4), (4, 5), None, {}),
    "trans_a": ((4, 3), (4, 5), (1, 5), {"transA": 1}),
    "trans_b": ((3, 4), (5, 4), (3, 1), {"transB": 1}),
    "both_alpha_beta": ((4, 3), (5, 4), (3, 5), {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}),
    "scalar_c": ((2, 6), (6, 3), (), {"alpha": -1.5}),
    "beta_zero": ((2, 6), (6, 3), (2, 3), {"beta": 0.0}),
}


@pytest.mark.parametrize("case", list(GEMM_CASES), ids=list(GEMM_CASES))
def test_gemm_matches_onnxruntime(case):
    a_shape, b_shape, c_shape, onnx_attrs = GEMM_CASES[case]
    rng = np.random.default_rng(seed(case))
    a, b = rand(rng, *a_shape), rand(rng, *b_shape)
    c = None if c_shape is None else rand(rng, *c_shape)
    attrs = {"alpha": onnx_attrs.get("alpha", 1.0), "beta": onnx_attrs.get("beta", 1.0),
             "trans_a": bool(onnx_attrs.get("transA", 0)), "trans_b": bool(onnx_attrs.get("transB", 0))}
    (got,) = run_core("gemm", [a, b, c], **attrs)
    (want,) = run_onnx_node("Gemm", {"a": a, "b": b, "c": c}, onnx_attrs)
    np.testing.assert_allclose(got, want, **F32)


def test_gemm_errors_and_cost():
    a, b = TensorType((3, 4), "f32"), TensorType((4, 5), "f32")
    with pytest.raises(OpError, match="inner dimensions"):
        infer("gemm", a, b, trans_b=True)
    with pytest.raises(OpError, match="does not broadcast"):
        infer("gemm", a, b, TensorType((3, 5, 1), "f32"))
    with pytest.raises(OpError, match="does not broadcast"):
        infer("gemm", a, b, TensorType((2, 5), "f32"))
    with pytest.raises(OpError, match="2-D"):
        infer("gemm", TensorType((2, 3, 4), "f32"), b)
    opdef = get_op("gemm")
    attrs = opdef.normalize_attrs({"trans_a": True})
    at = TensorType((4, 3), "f32")
    (y,) = opdef.infer_types([at, b], attrs)
    assert y.shape == (3, 5)
    assert opdef.cost([at, b], [y], attrs).macs == 3 * 5 * 4


# --------------------------------------------------------------------------------------------
# pooling

POOL_CASES = {
    # name: (N, C, H, W, kernel, strides, pads, ceil_mode)
    "2x2_s2": (1, 3, 8, 8, (2, 2), (2, 2), (0, 0, 0, 0), False),
    "3x3_s2_p1": (2, 2, 9, 10, (3, 3), (2, 2), (1, 1, 1, 1), False),
    "3x3_s1_p1": (1, 2, 5, 5, (3, 3), (1, 1), (1, 1, 1, 1), False),
    "ceil_overhang": (1, 2, 6, 6, (3, 3), (2, 2), (0, 0, 0, 0), True),
    "ceil_past_padded_input": (1, 2, 6, 7, (3, 3), (2, 2), (1, 1, 1, 1), True),
    "ceil_asym_pads": (1, 3, 7, 8, (3, 2), (2, 3), (1, 0, 0, 1), True),
    "ceil_last_window_dropped": (1, 1, 5, 5, (2, 2), (2, 2), (1, 1, 1, 1), True),
    "ceil_no_effect": (1, 2, 7, 7, (3, 3), (2, 2), (0, 0, 0, 0), True),
    "rect_kernel_asym_pads": (2, 2, 9, 7, (2, 3), (1, 2), (0, 1, 1, 2), False),
    "big_stride": (1, 2, 11, 11, (3, 3), (4, 4), (2, 2, 1, 1), True),
}


@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
@pytest.mark.parametrize("count_include_pad", [False, True])
def test_avg_pool2d_matches_onnxruntime(case, count_include_pad):
    n, c, h, w, kernel, strides, pads, ceil_mode = POOL_CASES[case]
    x = rand(np.random.default_rng(seed(case)), n, c, h, w)
    (got,) = run_core("avg_pool2d", [x], kernel=kernel, strides=strides, pads=pads,
                      ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    (want,) = run_onnx_node("AveragePool", {"x": x},
                            dict(kernel_shape=kernel, strides=strides, pads=pads,
                                 ceil_mode=int(ceil_mode), count_include_pad=int(count_include_pad)))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
@pytest.mark.parametrize("dilations", [(1, 1), (2, 1)])
def test_max_pool2d_matches_onnxruntime(case, dilations):
    n, c, h, w, kernel, strides, pads, ceil_mode = POOL_CASES[case]
    if (h + pads[0] + pads[2]) < dilations[0] * (kernel[0] - 1) + 1:
        pytest.skip("dilated kernel does not fit this input")
    # all-negative inputs: a zero from padding would win the max if padding were counted
    x = -np.abs(rand(np.random.default_rng(seed(case)), n, c, h, w)) - 1
    (got,) = run_core("max_pool2d", [x], kernel=kernel, strides=strides, pads=pads,
                      dilations=dilations, ceil_mode=ceil_mode)
    (want,) = run_onnx_node("MaxPool", {"x": x},
                            dict(kernel_shape=kernel, strides=strides, pads=pads,
                                 dilations=dilations, ceil_mode=int(ceil_mode)))
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_max_pool2d_uint8_matches_onnxruntime():
    x = np.random.default_rng(5).integers(0, 255, (1, 2, 7, 7), dtype=np.uint8)
    (got,) = run_core("max_pool2d", [x], kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1),
                      ceil_mode=True)
    (want,) = run_onnx_node("MaxPool", {"x": x}, dict(kernel_shape=(3, 3), strides=(2, 2),
                                                      pads=(1, 1, 1, 1), ceil_mode=1))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 4, 6), (1, 2, 3, 4, 5)])
@pytest.mark.parametrize("op, onnx_op", [("global_avg_pool", "GlobalAveragePool"),
                                         ("global_max_pool", "GlobalMaxPool")])
def test_global_pools_match_onnxruntime(shape, op, onnx_op):
    x = rand(np.random.default_rng(len(shape)), *shape)
    (got,) = run_core(op, [x])
    (want,) = run_onnx_node(onnx_op, {"x": x}, {})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op, attrs, message", [
    ("max_pool2d", {"kernel": (3, 3), "pads": (3, 0, 0, 0)}, "smaller than the kernel"),
    ("avg_pool2d", {"kernel": (9, 9)}, "larger than the padded input"),
    ("max_pool2d", {"kernel": (3,)}, "kernel must have 2"),
    ("avg_pool2d", {"kernel": (2, 2), "strides": (0, 1)}, "positive"),
])
def test_pool_bad_attrs_raise(op, attrs, message):
    with pytest.raises(OpError, match=message):
        infer(op, TensorType((1, 3, 8, 8), "f32"), **attrs)


def test_pool_rank_and_kernel_required():
    with pytest.raises(OpError, match="rank 4"):
        infer("max_pool2d", TensorType((1, 3, 8), "f32"), kernel=(2, 2))
    with pytest.raises(OpError, match="needs attribute kernel"):
        infer("avg_pool2d", TensorType((1, 3, 8, 8), "f32"))
    with pytest.raises(OpError, match="rank >= 3"):
        infer("global_avg_pool", TensorType((1, 3), "f32"))


def test_registry_declarations_follow_the_contract():
    from mlc.ops import FusionKind

    kinds = {"conv2d": FusionKind.OUT_ELEMWISE_FUSABLE, "conv2d_transpose": FusionKind.OUT_ELEMWISE_FUSABLE,
             "matmul": FusionKind.OUT_ELEMWISE_FUSABLE, "gemm": FusionKind.OUT_ELEMWISE_FUSABLE,
             "max_pool2d": FusionKind.REDUCTION, "avg_pool2d": FusionKind.REDUCTION,
             "global_avg_pool": FusionKind.REDUCTION, "global_max_pool": FusionKind.REDUCTION}
    for name, kind in kinds.items():
        assert get_op(name).fusion is kind, name
    assert get_op("conv2d").inputs == ("x", "w", "b?")
    assert get_op("gemm").inputs == ("a", "b", "c?")
    assert "MaxPool" in get_op("max_pool2d").onnx and "ConvTranspose" in get_op("conv2d_transpose").onnx
    pool_cost = get_op("max_pool2d").cost([TensorType((1, 1, 4, 4), "f32")],
                                          [TensorType((1, 1, 2, 2), "f32")], {})
    assert pool_cost.macs == 0 and pool_cost.bytes_read == 64 and pool_cost.bytes_written == 16


def test_conv2d_transpose_negative_pads_widen_with_zeros():
    """Negative pads (from a resolved output_shape larger than natural) add zero borders."""
    rng = np.random.default_rng(11)
    x, w = rand(rng, 1, 2, 4, 4), rand(rng, 2, 3, 3, 3)
    (full,) = run_core("conv2d_transpose", [x, w], strides=(2, 2))
    (wide,) = run_core("conv2d_transpose", [x, w], strides=(2, 2), pads=(-1, 1, -2, 0))
    np.testing.assert_array_equal(wide, np.pad(full, ((0, 0), (0, 0), (1, 2), (0, 0)))[..., 1:])
