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
