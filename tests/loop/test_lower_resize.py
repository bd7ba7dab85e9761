"""Resize lowered as an expression: the evaluator must match the registry (onnxruntime's float32
coordinate rules) for every mode, coordinate transform, nearest rounding and cubic option."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.backends.loop import lower_node, print_kernel
from mlc.ir import GraphBuilder

from tests.loop.helpers import check_graph, fuse
from tests.loop.test_lower import check_op

TRANSFORMS = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
              "asymmetric"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"]


def _resize(shape, size, scales, **attrs):
    check_op("resize", [shape], {"size": size, "scales": scales, **attrs})


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("nearest_mode", NEAREST)
def test_nearest(transform, nearest_mode):
    _resize((1, 2, 3, 4), (1, 2, 5, 3), (1.0, 1.0, 5 / 3, 0.75), mode="nearest",
            coordinate_transformation_mode=transform, nearest_mode=nearest_mode)


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_interpolating(mode, transform):
    _resize((1, 1, 3, 4), (1, 1, 5, 3), (1.0, 1.0, 5 / 3, 0.75), mode=mode,
            coordinate_transformation_mode=transform)


@pytest.mark.parametrize("exclude_outside", [False, True])
def test_cubic_options(exclude_outside):
    _resize((1, 1, 4, 3), (1, 1, 2, 7), (1.0, 1.0, 0.5, 7 / 3), mode="cubic",
            cubic_coeff_a=-0.5, exclude_outside=exclude_outside)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_tf_crop_and_resize_extrapolates(mode):
    _resize((1, 1, 4, 4), (1, 1, 3, 5), (1.0, 1.0, 0.75, 1.25), mode=mode,
            coordinate_transformation_mode="tf_crop_and_resize",
            roi=(0.0, 0.0, -0.2, 0.1, 1.0, 1.0, 0.8, 1.3), extrapolation_value=-7.0)


def test_one_output_per_axis_and_three_axes():
    _resize((2, 3, 4), (1, 5, 1), (0.5, 5 / 3, 0.25), mode="linear",
            coordinate_transformation_mode="align_corners")
    _resize((2, 3, 4), (3, 1, 6), (1.5, 1 / 3, 1.5), mode="linear",
            coordinate_transformation_mode="pytorch_half_pixel")


def test_identity_size_is_a_copy_and_other_dtypes():
    _resize((1, 2, 3), (1, 2, 3), (1.0, 1.0, 1.01), mode="linear")
    check_op("resize", [(1, 2, 3)], {"size": (1, 4, 6), "scales": (1.0, 2.0, 2.0),
                                     "mode": "nearest"}, dtypes=[np.int32])
    check_op("resize", [(1, 2, 3)], {"size": (1, 3, 5), "scales": (1.0, 1.5, 5 / 3),
                                     "mode": "linear"}, dtypes=[np.float16])


def test_integer_upsampling_needs_no_table():
    """Nearest ×2 (half_pixel, round_prefer_floor) taps are o // 2: an expression, no table."""
    b = GraphBuilder("g")
    x = b.input("x", (1, 2, 3, 3))
    b.outputs(b.op("resize", x, size=(1, 2, 6, 6), scales=(1.0, 1.0, 2.0, 2.0)))
    kernel = lower_node(b.graph.nodes[0])
    assert kernel.constants == (), print_kernel(kernel)
    assert check_graph(b.graph, {"x": np.arange(18, dtype=np.float32).reshape(1, 2, 3, 3)}) == 1


def test_resize_fuses_into_a_consumer():
    b = GraphBuilder("g")
    x = b.input("x", (1, 2, 2, 3))
    up = b.op("resize", x, size=(1, 2, 4, 5), scales=(1.0, 1.0, 2.0, 5 / 3), mode="linear")
    b.outputs(b.relu(b.add(up, b.const(np.float32(-0.2)))))
    graph = fuse(b.graph)
    assert [n.op for n in graph.nodes] == ["fused"]
    rng = np.random.default_rng(3)
    assert check_graph(graph, {"x": rng.standard_normal((1, 2, 2, 3)).astype(np.float32)}) == 1
