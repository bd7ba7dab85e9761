"""Layout and indexing ops against onnxruntime running the equivalent ONNX node.

The core ops take attributes the frontend has already resolved (clamped slice bounds, Resize
output sizes, pads as attributes); each test translates one ONNX node into those attributes the
way the frontend must, and requires exactly equal results (interpolating resizes: 1e-5).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from mlc.ir import TensorType
from mlc.ops import FusionKind, OpError, get_op
from tests.ops.onnx_helpers import run_core_op, run_onnx_node


def run_core(op: str, inputs: list, **attrs) -> list[np.ndarray]:
    """Run a core op's kernel, checking its outputs against ``infer`` (see run_core_op)."""
    return run_core_op(op, inputs, attrs)


def infer(op: str, *types: TensorType, **attrs) -> list[TensorType]:
    opdef = get_op(op)
    return opdef.infer_types(list(types), opdef.normalize_attrs(attrs))


def rand(name: str, *shape: int) -> np.ndarray:
    """Seeded by the case name (str hash() changes between runs)."""
    return np.random.default_rng(zlib.crc32(name.encode())).standard_normal(shape).astype(np.float32)


def i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def exact(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


# --------------------------------------------------------------------------------------------
# reshape, transpose, concat, split


@pytest.mark.parametrize("shape, target", [((2, 3, 4), (6, 4)), ((2, 3, 4), (24,)),
                                           ((1, 8, 1, 1), (1, 8)), ((6,), (1, 2, 1, 3))])
def test_reshape_matches_onnxruntime(shape, target):
    x = rand(f"reshape{shape}", *shape)
    (got,) = run_core("reshape", [x], shape=target)
    (want,) = run_onnx_node("Reshape", {"x": x, "shape": i64(*target)}, {})
    exact(got, want)


def test_reshape_errors():
    with pytest.raises(OpError, match="24 elements"):
        infer("reshape", TensorType((2, 3, 4), "f32"), shape=(5, 5))
    with pytest.raises(OpError, match="negative"):
        infer("reshape", TensorType((2, 3, 4), "f32"), shape=(-1, 4))


@pytest.mark.parametrize("perm", [(1, 0, 2), (2, 0, 1), (0, 2, 3, 1), (3, 2, 1, 0)])
def test_transpose_matches_onnxruntime(perm):
    x = rand(f"transpose{perm}", *(2, 3, 4, 5)[:len(perm)])
    (got,) = run_core("transpose", [x], perm=perm)
    (want,) = run_onnx_node("Transpose", {"x": x}, {"perm": perm})
    exact(got, want)


def test_transpose_bad_perm_raises():
    for perm in [(0, 0, 1), (0, 1), (0, 1, 3)]:
        with pytest.raises(OpError, match="not a permutation"):
            infer("transpose", TensorType((2, 3, 4), "f32"), perm=perm)


@pytest.mark.parametrize("shapes, axis", [([(2, 3), (4, 3)], 0), ([(2, 3, 4), (2, 1, 4), (2, 5, 4)], 1),
                                          ([(1, 2, 2), (1, 2, 3)], -1), ([(3,)], 0)])
def test_concat_matches_onnxruntime(shapes, axis):
    arrays = {f"x{i}": rand(f"concat{i}{s}", *s) for i, s in enumerate(shapes)}
    (got,) = run_core("concat", list(arrays.values()), axis=axis)
    (want,) = run_onnx_node("Concat", arrays, {"axis": axis})
    exact(got, want)


def test_concat_errors():
    a = TensorType((2, 3), "f32")
    with pytest.raises(OpError, match="differ outside axis"):
        infer("concat", a, TensorType((3, 3), "f32"), axis=1)
    with pytest.raises(OpError, match="rank and dtype"):
        infer("concat", a, TensorType((2, 3), "f16"), axis=0)
    with pytest.raises(OpError, match="out of range"):
        infer("concat", a, a, axis=2)


@pytest.mark.parametrize("shape, axis, sizes", [((6, 4), 0, (2, 4)), ((2, 7, 3), 1, (3, 3, 1)),
                                                ((2, 5), -1, (5,)), ((4, 6), 1, (0, 6))])
def test_split_matches_onnxruntime(shape, axis, sizes):
    x = rand(f"split{shape}{sizes}", *shape)
    got = run_core("split", [x], axis=axis, sizes=sizes)
    want = run_onnx_node("Split", {"x": x, "split": i64(*sizes)}, {"axis": axis}, outputs=len(sizes))
    assert len(got) == len(sizes)
    for g, w in zip(got, want):
        exact(g, w)


def test_split_errors():
    with pytest.raises(OpError, match="sum to"):
        infer("split", TensorType((6, 4), "f32"), axis=0, sizes=(2, 3))
    with pytest.raises(OpError, match="sum to"):
        infer("split", TensorType((6, 4), "f32"), axis=0, sizes=(7, -1))


# --------------------------------------------------------------------------------------------
# slice: raw ONNX bounds, clamped here exactly as the frontend must clamp them


def clamp_slice(shape, starts, ends, axes, steps):
    """ONNX Slice's clamping rule, producing the core op's attributes."""
    out_starts, out_ends, out_axes = [], [], []
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = axis % len(shape)
        dim = shape[axis]
        start = start + dim if start < 0 else start
        end = end + dim if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        else:
            start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
        out_starts.append(start)
        out_ends.append(end)
        out_axes.append(axis)
    return dict(starts=out_starts, ends=out_ends, axes=out_axes, steps=list(steps))


BIG = 2**63 - 1
SLICE_CASES = {
    "simple": ((5, 6), [1], [4], [0], [1]),
    "two_axes_steps": ((7, 8), [0, 1], [7, 8], [0, 1], [2, 3]),
    "negative_bounds": ((6, 5), [-4], [-1], [1], [1]),
    "end_past_dim": ((6, 5), [2], [BIG], [0], [1]),
    "reverse_all": ((5, 4), [-1], [-BIG], [0], [-1]),
    "reverse_through_zero": ((6,), [4], [-100], [0], [-2]),
    "reverse_partial": ((3, 7), [5], [1], [1], [-1]),
    "reverse_start_past_dim": ((3, 7), [20], [2], [1], [-3]),
    "negative_axis": ((2, 3, 8), [1], [7], [-1], [3]),
    "empty_result": ((5,), [3], [1], [0], [1]),
    "empty_negative_step": ((5,), [1], [3], [0], [-1]),
    "start_before_begin_negative_step": ((5,), [-9], [-100], [0], [-1]),
}


@pytest.mark.parametrize("case", list(SLICE_CASES), ids=list(SLICE_CASES))
def test_slice_matches_onnxruntime(case):
    shape, starts, ends, axes, steps = SLICE_CASES[case]
    x = rand(case, *shape)
    (got,) = run_core("slice", [x], **clamp_slice(shape, starts, ends, axes, steps))
    (want,) = run_onnx_node("Slice", {"x": x, "starts": i64(*starts), "ends": i64(*ends),
                                      "axes": i64(*axes), "steps": i64(*steps)}, {})
    exact(got, want)


def test_slice_errors():
    x = TensorType((5, 6), "f32")
    with pytest.raises(OpError, match="outside"):
        infer("slice", x, starts=(-2,), ends=(5,), axes=(0,), steps=(1,))
    with pytest.raises(OpError, match="outside"):
        infer("slice", x, starts=(0,), ends=(9,), axes=(0,), steps=(1,))
    with pytest.raises(OpError, match="step 0"):
        infer("slice", x, starts=(0,), ends=(3,), axes=(0,), steps=(0,))
    with pytest.raises(OpError, match="unique"):
        infer("slice", x, starts=(0, 0), ends=(3, 3), axes=(0, 0), steps=(1, 1))
    with pytest.raises(OpError, match="one entry each"):
        infer("slice", x, starts=(0,), ends=(3, 3), axes=(0,), steps=(1,))


# --------------------------------------------------------------------------------------------
# gather, expand, tile


@pytest.mark.parametrize("shape, indices, axis", [
    ((5, 3), [0, 4, -1, -5], 0),
    ((2, 6, 3), [[1, -2], [5, 0]], 1),
    ((4, 5), -2, 1),
    ((3, 4), [[2]], -1),
    ((7,), [], 0),
])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
def test_gather_matches_onnxruntime(shape, indices, axis, index_dtype):
    x = rand(f"gather{shape}", *shape)
    idx = np.array(indices, dtype=index_dtype)
    (got,) = run_core("gather", [x, idx], axis=axis)
    (want,) = run_onnx_node("Gather", {"x": x, "i": idx}, {"axis": axis})
    exact(got, want)


def test_gather_errors():
    with pytest.raises(OpError, match="int32 or int64"):
        infer("gather", TensorType((3,), "f32"), TensorType((2,), "f32"))
    opdef = get_op("gather")
    with pytest.raises(OpError, match="out of range"):
        opdef.compute([np.zeros(3, np.float32), np.array([3])], {"axis": 0})


@pytest.mark.parametrize("shape, target", [((3, 1), (3, 4)), ((1,), (2, 3)), ((2, 1, 4), (3, 2, 5, 4)),
                                           ((4,), (4,))])
def test_expand_matches_onnxruntime(shape, target):
    x = rand(f"expand{shape}", *shape)
    (got,) = run_core("expand", [x], shape=target)
    (want,) = run_onnx_node("Expand", {"x": x, "shape": i64(*target)}, {})
    exact(got, want)
    assert got.flags.writeable  # a real array, not a read-only broadcast view


def test_expand_errors_and_kind():
    with pytest.raises(OpError, match="does not broadcast"):
        infer("expand", TensorType((3, 2), "f32"), shape=(3, 4))
    with pytest.raises(OpError, match="does not broadcast"):
        infer("expand", TensorType((3, 1), "f32"), shape=(1, 4))  # ONNX's result would be [3, 4]
    assert get_op("expand").fusion is FusionKind.BROADCAST


@pytest.mark.parametrize("shape, repeats", [((2, 3), (2, 1)), ((2, 3), (1, 3)), ((1, 2, 2), (3, 2, 0)),
                                            ((4,), (1,))])
def test_tile_matches_onnxruntime(shape, repeats):
    x = rand(f"tile{shape}", *shape)
    (got,) = run_core("tile", [x], repeats=repeats)
    (want,) = run_onnx_node("Tile", {"x": x, "repeats": i64(*repeats)}, {})
    exact(got, want)


def test_tile_errors():
    with pytest.raises(OpError, match="one non-negative entry per axis"):
        infer("tile", TensorType((2, 3), "f32"), repeats=(2,))


# --------------------------------------------------------------------------------------------
# pad

PAD_CASES = {
    "both_sides": ((3, 4), (1, 2, 2, 0)),
    "nchw_hw_only": ((1, 2, 4, 5), (0, 0, 1, 2, 0, 0, 2, 1)),
    "crop_begin": ((5, 6), (-2, 1, 0, 2)),
    "crop_end_pad_begin": ((5, 6), (2, 0, -1, -3)),
    "crop_and_pad_same_axis": ((6, 5), (-1, 2, 2, -2)),
    "zero": ((3,), (0, 0)),
}


@pytest.mark.parametrize("case", list(PAD_CASES), ids=list(PAD_CASES))
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_matches_onnxruntime(case, mode):
    shape, pads = PAD_CASES[case]
    x = rand(case, *shape)
    value = 1.5 if mode == "constant" else 0.0
    (got,) = run_core("pad", [x], pads=pads, mode=mode, value=value)
    (want,) = run_onnx_node("Pad", {"x": x, "pads": i64(*pads), "value": np.array(value, np.float32)},
                            {"mode": mode}, opset=19)
    exact(got, want)


def test_pad_int_constant_matches_onnxruntime():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    (got,) = run_core("pad", [x], pads=(1, 0, 0, 2), value=7)
    (want,) = run_onnx_node("Pad", {"x": x, "pads": i64(1, 0, 0, 2), "v": np.array(7, np.int32)}, {})
    exact(got, want)


def test_pad_errors():
    x = TensorType((3, 4), "f32")
    with pytest.raises(OpError, match="2×rank"):
        infer("pad", x, pads=(1, 1))
    with pytest.raises(OpError, match="crop more"):
        infer("pad", x, pads=(-2, 0, -2, 0))
    with pytest.raises(OpError, match="smaller than"):
        infer("pad", x, pads=(3, 0, 0, 0), mode="reflect")
    with pytest.raises(OpError, match="unknown mode"):
        infer("pad", x, pads=(1, 0, 0, 0), mode="symmetric")


# --------------------------------------------------------------------------------------------
# resize

COORD_MODES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"]
NEAREST_MODES = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
SCALES_4D = {"up2": (1.0, 1.0, 2.0, 2.0), "up3_down": (1.0, 1.0, 3.0, 0.6),
             "frac_up": (1.0, 1.0, 1.7, 2.5), "down": (1.0, 1.0, 0.5, 0.75), "to_one": (1.0, 1.0, 0.2, 1.0),
             "same_size_scale_not_1": (1.0, 1.0, 1.1, 1.2)}


def resize_pair(x, scales, onnx_attrs, sizes=None, **core):
    """Run ONNX Resize-19 (scales or sizes) and the core op with the attributes the frontend makes."""
    inputs = {"x": x, "roi": None}
    if sizes is None:
        inputs["scales"] = np.array(scales, np.float32)
    else:
        inputs["scales"], inputs["sizes"] = None, i64(*sizes)
    (want,) = run_onnx_node("Resize", inputs, onnx_attrs, opset=19)
    if sizes is not None:
        scales = [s / d for s, d in zip(sizes, x.shape)]
    attrs = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
             "nearest_mode": "round_prefer_floor", **onnx_attrs}
    (got,) = run_core("resize", [x], size=want.shape, scales=scales, **attrs, **core)
    return got, want


@pytest.mark.parametrize("scales", list(SCALES_4D), ids=list(SCALES_4D))
@pytest.mark.parametrize("coord", COORD_MODES)
@pytest.mark.parametrize("nearest_mode", NEAREST_MODES)
def test_resize_nearest_matches_onnxruntime(scales, coord, nearest_mode):
    x = rand("nearest", 1, 2, 5, 4)
    got, want = resize_pair(x, SCALES_4D[scales], {"mode": "nearest", "nearest_mode": nearest_mode,
                                                   "coordinate_transformation_mode": coord})
    exact(got, want)


def test_resize_nearest_on_every_axis_matches_onnxruntime():
    x = rand("nearest_all", 2, 3, 4, 5)
    got, want = resize_pair(x, (2.0, 0.5, 1.5, 0.8), {"mode": "nearest",
                                                      "coordinate_transformation_mode": "asymmetric"})
    exact(got, want)


@pytest.mark.parametrize("scales", list(SCALES_4D), ids=list(SCALES_4D))
@pytest.mark.parametrize("coord", COORD_MODES)
def test_resize_linear_matches_onnxruntime(scales, coord):
    x = rand("linear", 2, 3, 6, 5)
    got, want = resize_pair(x, SCALES_4D[scales], {"mode": "linear",
                                                   "coordinate_transformation_mode": coord})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("coord", COORD_MODES)
def test_resize_trilinear_matches_onnxruntime(coord):
    x = rand("trilinear", 1, 2, 4, 5, 3)
    got, want = resize_pair(x, (1.0, 1.0, 1.5, 0.6, 2.0), {"mode": "linear",
                                                           "coordinate_transformation_mode": coord})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sizes", [(1, 2, 9, 3), (1, 2, 1, 7), (1, 2, 10, 8)])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("coord", ["half_pixel", "align_corners", "pytorch_half_pixel"])
def test_resize_from_sizes_matches_onnxruntime(sizes, mode, coord):
    x = rand("sizes", 1, 2, 5, 4)
    got, want = resize_pair(x, None, {"mode": mode, "coordinate_transformation_mode": coord},
                            sizes=sizes)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scales", ["up2", "frac_up", "down"])
@pytest.mark.parametrize("coord", ["half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"])
@pytest.mark.parametrize("a, exclude", [(-0.75, False), (-0.5, True)])
def test_resize_cubic_matches_onnxruntime(scales, coord, a, exclude):
    x = rand("cubic", 1, 2, 6, 7)
    got, want = resize_pair(x, SCALES_4D[scales], {"mode": "cubic", "cubic_coeff_a": a,
                                                   "exclude_outside": int(exclude),
                                                   "coordinate_transformation_mode": coord})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("opset, op_type, scales", [
    (9, "Upsample", (1.0, 1.0, 2.0, 3.0)), (10, "Resize", (1.0, 1.0, 2.0, 3.0)),
    (10, "Resize", (1.0, 1.0, 0.5, 0.7)), (10, "Resize", (1.0, 1.0, 1.5, 0.4))])  # Upsample: >= 1
def test_legacy_nearest_is_simple_asymmetric(opset, op_type, scales):
    """Upsample and Resize-10 truncate when up-sampling and round up when down-sampling."""
    x = rand("legacy", 1, 2, 6, 5)
    (want,) = run_onnx_node(op_type, {"x": x, "scales": np.array(scales, np.float32)},
                            {"mode": "nearest"}, opset=opset)
    (got,) = run_core("resize", [x], size=want.shape, scales=scales, mode="nearest",
                      coordinate_transformation_mode="asymmetric", nearest_mode="simple")
    exact(got, want)


def test_resize_linear_resizes_outer_axes_separably():
    """onnxruntime only interpolates the inner axes; batch/channel axes must behave the same."""
    x = rand("outer", 3, 4, 5)
    attrs = dict(mode="linear", coordinate_transformation_mode="half_pixel")
    (outer,) = run_core("resize", [x], size=(6, 4, 5), scales=(2.0, 1.0, 1.0), **attrs)
    (inner,) = run_core("resize", [np.ascontiguousarray(x.transpose(1, 2, 0))], size=(4, 5, 6),
                        scales=(1.0, 1.0, 2.0), **attrs)
    np.testing.assert_allclose(outer, inner.transpose(2, 0, 1), rtol=1e-6)


def test_resize_errors():
    x = TensorType((1, 2, 4, 4), "f32")
    base = dict(size=(1, 2, 8, 8), scales=(1.0, 1.0, 2.0, 2.0))
    with pytest.raises(OpError, match="tf_crop_and_resize"):
        infer("resize", x, coordinate_transformation_mode="tf_crop_and_resize", **base)
    with pytest.raises(OpError, match="unknown mode"):
        infer("resize", x, mode="area", **base)
    with pytest.raises(OpError, match="one entry per axis"):
        infer("resize", x, size=(8, 8), scales=(2.0, 2.0))
    with pytest.raises(OpError, match="positive"):
        infer("resize", x, size=(1, 2, 0, 8), scales=(1.0, 1.0, 0.0, 2.0))
    with pytest.raises(OpError, match="floating-point"):
        infer("resize", TensorType((1, 2, 4, 4), "u8"), mode="linear", **base)
    (y,) = infer("resize", TensorType((1, 2, 4, 4), "u8"), **base)
    assert y == TensorType((1, 2, 8, 8), "u8")


def test_layout_ops_are_injective_and_map_their_onnx_ops():
    expected = {"reshape": ["Reshape", "Flatten", "Squeeze", "Unsqueeze"], "transpose": ["Transpose"],
                "concat": ["Concat"], "split": ["Split"], "slice": ["Slice"], "gather": ["Gather"],
                "tile": ["Tile"], "pad": ["Pad"], "resize": ["Resize", "Upsample"]}
    for name, onnx_ops in expected.items():
        opdef = get_op(name)
        assert opdef.fusion is FusionKind.INJECTIVE, name
        assert set(onnx_ops) <= set(opdef.onnx), name
    assert get_op("expand").onnx == ("Expand",)


def test_split_outputs_flow_through_builder_and_interpreter():
    from mlc.interp import run
    from mlc.ir import GraphBuilder, verify

    b = GraphBuilder("split")
    x = b.input("x", (2, 6))
    first, second, third = b.split(x, axis=1, sizes=(1, 2, 3))
    b.outputs(b.concat(third, first, axis=1), second)
    verify(b.graph)
    data = rand("split_graph", 2, 6)
    joined, middle = run(b.graph, {"x": data}).values()
    exact(joined, np.concatenate([data[:, 3:], data[:, :1]], axis=1))
    exact(middle, data[:, 1:3])
