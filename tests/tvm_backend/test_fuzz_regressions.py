"""Regressions the differential fuzzer (mlc.testing.fuzz) found on ``tvm-llvm``, each as the
smallest graph that showed it (a section per root cause), held to the reference interpreter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.tvm_backend.tools import need_tvm

need_tvm()

import mlc  # noqa: E402
from mlc.interp import run as interpret  # noqa: E402
from mlc.ir import DType, Graph, GraphBuilder  # noqa: E402
from mlc.runtime import load  # noqa: E402
from tests.codegen_cases import assert_matches  # noqa: E402

_rng = np.random.default_rng(7)


def _random(*shape: int) -> np.ndarray:
    return _rng.standard_normal(shape).astype(np.float32)


def _graph(shape: tuple[int, ...], build) -> Graph:
    """A one-input graph ``x`` → ``build(builder, x)``."""
    b = GraphBuilder("fuzz")
    out = build(b, b.input("x", shape, DType.float32))
    b.outputs(*(out if isinstance(out, tuple) else (out,)))
    return b.graph


def _assert_like_reference(graph: Graph, x: np.ndarray, tmp_path: Path) -> None:
    """tvm-llvm's outputs equal the interpreter's (NaN where it has NaN)."""
    with np.errstate(all="ignore"):
        want = {k: np.asarray(v) for k, v in interpret(graph, {"x": x}).items()}
    outputs = load(mlc.compile(graph, target="tvm-llvm", output=tmp_path / "a")).run({"x": x})
    got = {v.name: np.asarray(o) for v, o in zip(graph.outputs, outputs)}
    assert_matches(got, want, "tvm-llvm", rtol=1e-5)


# -- a reduction over one element: its epilogue was inlined into both the init and the update ----

def _conv(b, x, cout: int, **attrs):
    attrs = {"strides": (1, 1), "dilations": (1, 1), "group": 1, **attrs}
    return b.op("conv2d", x, b.const(_random(cout, 1, 1, 1)), b.const(_random(cout)), **attrs)


@pytest.mark.parametrize("pads, strides", [((0, 1, 0, 0), (1, 1)), ((1, 0, 1, 1), (1, 2))])
def test_conv_with_one_tap_adds_its_bias_once(pads, strides, tmp_path):
    """A 1×1 kernel over one input channel reduces over one element; TVM's scheduling used to
    add the bias in the reduction's init and again in its update (2× the bias)."""
    graph = _graph((3, 1, 4, 4), lambda b, x: _conv(b, x, 4, pads=pads, strides=strides))
    _assert_like_reference(graph, _random(3, 1, 4, 4), tmp_path)


def test_matmul_with_k_1_adds_its_bias_once(tmp_path):
    graph = _graph((1, 5, 4, 1), lambda b, x: b.add(b.op("matmul", x, b.const(_random(1, 6))),
                                                    b.const(_random(6))))
    _assert_like_reference(graph, _random(1, 5, 4, 1), tmp_path)


def test_lrn_of_size_1_scales_once(tmp_path):
    """LRN's window sum over one channel is a one-element reduction feeding the division."""
    graph = _graph((2, 2, 4, 5), lambda b, x: b.op("lrn", x, size=1, alpha=0.5, beta=0.75,
                                                   bias=1.0))
    _assert_like_reference(graph, _random(2, 2, 4, 5) * 3, tmp_path)


# -- NaN through max and min: the registry propagates it (numpy's maximum / minimum) -------------

def _with_nans(*shape: int) -> np.ndarray:
    """Random values with a NaN in every other position along the last axis: followed by
    larger and smaller finite values, so a max/min that drops it shows."""
    x = _random(*shape)
    x[..., ::2] = np.nan
    return x


def test_global_max_pool_propagates_nan(tmp_path):
    graph = _graph((2, 3, 4, 2), lambda b, x: b.op("global_max_pool", x))
    x = _random(2, 3, 4, 2)
    x[:, :, 0, 0] = np.nan  # first in each window, then finite values
    x[1, 2] = -5.0  # a window without NaN still gives its max
    _assert_like_reference(graph, x, tmp_path)


def test_reduce_min_propagates_nan(tmp_path):
    graph = _graph((3, 6), lambda b, x: b.op("reduce_min", x, axes=(1,), keepdims=True))
    x = _random(3, 6)
    x[0, 0], x[1, 3] = np.nan, np.nan
    _assert_like_reference(graph, x, tmp_path)


def test_max_pool_with_pads_propagates_nan(tmp_path):
    graph = _graph((2, 3, 5, 7), lambda b, x: b.op(
        "max_pool2d", x, kernel=(3, 2), strides=(2, 2), pads=(1, 0, 1, 0), ceil_mode=True))
    x = _random(2, 3, 5, 7)
    x[1, 1, 4, 4] = np.nan  # ahead of a larger value in its window
    x[1, 1, 3, 5] = 3.0
    _assert_like_reference(graph, x, tmp_path)


@pytest.mark.parametrize("op", ["min", "max"])
def test_binary_min_max_propagate_nan(op, tmp_path):
    """min(NaN, c) is NaN, so a comparison downstream is false (the fuzzer's min → exp →
    less → where chain picked the wrong branch)."""
    def build(b, x):
        low = b.op(op, x, b.const(_random(1, 6)))
        high = b.op(op, b.const(_random(1, 6)), x)
        picked = b.op("where", b.op("less", b.exp(low), b.const(np.float32(1.0))),
                      b.const(np.float32(-7.0)), b.const(np.float32(7.0)))
        return low, high, picked
    _assert_like_reference(_graph((2, 6), build), _with_nans(2, 6), tmp_path)


@pytest.mark.parametrize("op, attrs", [("relu", {}), ("clip", {"min": -0.5, "max": 0.5}),
                                       ("hard_sigmoid", {"alpha": 0.2, "beta": 0.5}),
                                       ("hard_swish", {})])
def test_clamping_ops_propagate_nan(op, attrs, tmp_path):
    graph = _graph((2, 6), lambda b, x: b.op(op, x, **attrs))
    _assert_like_reference(graph, _with_nans(2, 6), tmp_path)


# -- empty constants: TVM 0.27 reads an empty tensor back only if its first dim is 0 -------------

def test_empty_constants_load(tmp_path):
    """An empty constant with a non-zero first dim (f32[1, 0]) is folded into the kernels that
    read it; bound into the module, model.so failed to load ('Invalid DLTensor file format')."""
    def build(b, x):
        k = b.const(np.zeros((1, 1, 0), np.float32))
        y = b.op("mul", k, x)
        return b.op("sub", b.const(_random(1, 1, 8, 1)), y), b.op("equal", b.relu(y), y)
    graph = _graph((1, 1, 8, 0), build)
    _assert_like_reference(graph, np.zeros((1, 1, 8, 0), np.float32), tmp_path)


@pytest.mark.parametrize("direct", [True, False])
def test_empty_constant_output_loads(direct, tmp_path):
    """An empty constant as a graph output, directly or through an op."""
    def build(b, x):
        empty = b.const(np.zeros((2, 0), np.float32))
        return b.relu(x), empty if direct else b.op("neg", empty)
    _assert_like_reference(_graph((2, 3), build), _random(2, 3), tmp_path)
