"""The TVM backend's per-op TE computes (backends/tvm/ops): coverage, results and GPU kernels.

Every op the loop backend lowers has a TE compute; the graph cases the loop-IR renderers are
held to (tests/codegen_cases.py) run through ``tvm-llvm`` against the interpreter with that
file's tolerances; and representative op graphs compile for ``cuda`` to exactly one kernel per
fused group (dlight schedules each PrimFunc as one kernel, so a second one means a compute that
dlight splits — the launch overhead mlc's fusion exists to avoid). All cases of a test share one
compile (node_batch.merge), as a TVM build costs seconds.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.tvm_backend.tools import need_nvcc, need_tvm

need_tvm()

import mlc  # noqa: E402
from mlc.backends.loop.ops import lowered_ops  # noqa: E402
from mlc.backends.program import optimise  # noqa: E402
from mlc.backends.tvm.ops import te_ops  # noqa: E402
from mlc.interp import run as interpret  # noqa: E402
from mlc.ir import DType, GraphBuilder  # noqa: E402
from mlc.runtime import load  # noqa: E402
from mlc.testing.node_batch import merge  # noqa: E402
from tests.codegen_cases import assert_matches, graph_specs  # noqa: E402
from tests.rounding import rounding_bounds  # noqa: E402

from .gpu_kernels import assert_one_kernel_per_group  # noqa: E402


def test_every_lowered_op_has_a_te_compute():
    missing = sorted(set(lowered_ops()) - set(te_ops()))
    assert not missing, f"ops the loop backend lowers but TVM cannot compute: {missing}"


CASES = graph_specs()  # built as the llvm and c codegen tests build them


def _rtol(graph) -> float:
    """codegen_cases' rtol_for: 2e-3 when float16 is involved, 1e-5 otherwise."""
    values = [*graph.inputs, *graph.outputs, *(o for n in graph.nodes for o in n.outputs)]
    return 2e-3 if any(v.dtype.numpy == np.float16 for v in values) else 1e-5


@pytest.fixture(scope="module")
def tvm_llvm_outputs(tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    """Every graph case's outputs on tvm-llvm, from one merged compile."""
    names = list(CASES)
    merged = merge([CASES[n][0] for n in names])
    folder = tmp_path_factory.mktemp("tvm-cases") / "artifact"
    run = load(mlc.compile(merged.graph, target="tvm-llvm", output=folder)).run
    feeds = {merged.inputs[k][name]: array
             for k, n in enumerate(names) for name, array in CASES[n][1].items()}
    outputs = run(feeds)
    result = {}
    for k, n in enumerate(names):
        graph = CASES[n][0]
        result[n] = {v.name: np.asarray(outputs[i])
                     for v, i in zip(graph.outputs, merged.outputs[k])}
    shutil.rmtree(folder, ignore_errors=True)
    return result


@pytest.mark.parametrize("case", sorted(CASES))
def test_graph_case_on_tvm_llvm(case, tvm_llvm_outputs):
    graph, feeds = CASES[case]
    with np.errstate(all="ignore"):
        want = {k: np.asarray(v) for k, v in interpret(graph, feeds).items()}
    assert_matches(tvm_llvm_outputs[case], want, f"{case} on tvm-llvm", _rtol(graph))


# -- representative op graphs: the ops codegen_cases lacks, on tvm-llvm and for cuda -------------
_rng = np.random.default_rng(1)


def _w(*shape) -> np.ndarray:
    return _rng.standard_normal(shape).astype(np.float32)


def _conv(b, x, w, bias=None, **attrs):
    attrs = {"strides": (1, 1), "pads": (1, 1, 1, 1), "dilations": (1, 1), "group": 1, **attrs}
    return b.op("conv2d", x, b.const(w), None if bias is None else b.const(bias), **attrs)


IMAGE, ROWS = (1, 4, 6, 6), (4, 8, 32)
REPRESENTATIVE = {
    "conv_relu": (IMAGE, lambda b, x: b.relu(_conv(b, x, _w(8, 4, 3, 3), _w(8)))),
    "conv_depthwise": (IMAGE, lambda b, x: _conv(b, x, _w(4, 1, 3, 3), strides=(2, 2),
                                                 group=4)),
    "conv_transpose": (IMAGE, lambda b, x: b.op(
        "conv2d_transpose", x, b.const(_w(4, 2, 3, 3)), b.const(_w(2)), strides=(2, 2),
        pads=(1, 1, 0, 1), dilations=(1, 1), group=1, output_padding=(1, 0))),
    "conv_transpose_group": (IMAGE, lambda b, x: b.op(
        "conv2d_transpose", x, b.const(_w(4, 3, 2, 2)), None, strides=(1, 2), pads=(0, 1, 1, 0),
        dilations=(2, 1), group=2, output_padding=(0, 1))),
    "matmul_add": (ROWS, lambda b, x: b.add(b.op("matmul", x, b.const(_w(32, 16))),
                                            b.const(_w(16)))),
    "gemm": ((4, 32), lambda b, x: b.op("gemm", x, b.const(_w(16, 32)), b.const(_w(16)),
                                        alpha=0.5, beta=2.0, trans_a=False, trans_b=True)),
    "softmax": (ROWS, lambda b, x: b.op("softmax", x, axis=-1)),
    "log_softmax": (ROWS, lambda b, x: b.op("log_softmax", x, axis=1)),
    "layer_norm": (ROWS, lambda b, x: b.op("layer_norm", x, b.const(_w(32)), b.const(_w(32)),
                                           axis=-1, epsilon=1e-5)),
    "lrn": ((1, 8, 5, 5), lambda b, x: b.op("lrn", x, size=5, alpha=1e-2, beta=0.75,
                                            bias=1.0)),
    "batch_norm": (IMAGE, lambda b, x: b.op("batch_norm", x, *[b.const(np.abs(_w(4)) + 0.1)
                                                               for _ in range(4)],
                                            epsilon=1e-5)),
    "max_pool": (IMAGE, lambda b, x: b.op("max_pool2d", x, kernel=(3, 3), strides=(2, 2),
                                          pads=(1, 1, 1, 1), ceil_mode=False)),
    "avg_pool": (IMAGE, lambda b, x: b.op("avg_pool2d", x, kernel=(2, 2), strides=(2, 2),
                                          pads=(0, 0, 0, 0), ceil_mode=False)),
    "global_avg_pool": (IMAGE, lambda b, x: b.op("global_avg_pool", x)),
    "global_max_pool": (IMAGE, lambda b, x: b.op("global_max_pool", x)),
    "reduce_max": (ROWS, lambda b, x: b.op("reduce_max", x, axes=(1, 2), keepdims=False)),
    "concat": (IMAGE, lambda b, x: b.op("concat", b.relu(x), b.exp(x), axis=1)),
    "split": (IMAGE, lambda b, x: b.op("split", x, axis=1, sizes=(2, 2))),
    "resize_linear": (IMAGE, lambda b, x: b.op("resize", x, size=(1, 4, 12, 9),
                                               scales=(1.0, 1.0, 2.0, 1.5), mode="linear")),
    "resize_nearest": (IMAGE, lambda b, x: b.op("resize", x, size=(1, 4, 12, 3),
                                                scales=(1.0, 1.0, 2.0, 0.5), mode="nearest")),
    "resize_cubic": (IMAGE, lambda b, x: b.op(
        "resize", x, size=(1, 4, 5, 8), scales=(1.0, 1.0, 5 / 6, 4 / 3), mode="cubic",
        coordinate_transformation_mode="align_corners", exclude_outside=True)),
    "quantize_dequantize": (IMAGE, lambda b, x: b.op(
        "dequantize", b.op("quantize", x, scale=np.array([0.1, 0.2, 0.3, 0.4], np.float32),
                           zero_point=np.array([0, 1, 2, 3]), axis=1, dtype="i8"),
        scale=np.float32(0.1), zero_point=np.int64(0), axis=1)),
}


def _representative(name: str):
    shape, build = REPRESENTATIVE[name]
    b = GraphBuilder(name)
    out = build(b, b.input("x", shape, DType.float32))
    b.outputs(*(out if isinstance(out, tuple) else (out,)))
    return b.graph, {"x": _rng.standard_normal(shape).astype(np.float32) * 2}


def test_representative_ops_on_tvm_llvm(tmp_path):
    """The ops with index arithmetic of their own (conv_transpose, resize, quantize, …) match
    the interpreter; one merged compile.

    TVM sums a K-deep product in its own order (and numpy's BLAS in one chosen for the CPU), so
    a result made by cancellation — matmul_add's K = 32 terms of magnitude ~2 summing to 0.008 —
    differs by a few ulps of the terms, not of the result: the comparison allows that rounding
    per element from the terms' magnitudes (tests/rounding.py), on top of rtol."""
    cases = {name: _representative(name) for name in REPRESENTATIVE}
    merged = merge([g for g, _ in cases.values()])
    run = load(mlc.compile(merged.graph, target="tvm-llvm", output=tmp_path / "a")).run
    outputs = run({merged.inputs[k]["x"]: feeds["x"] for k, (_, feeds) in
                   enumerate(cases.values())})
    for k, (name, (graph, feeds)) in enumerate(cases.items()):
        want = interpret(graph, feeds)
        got = {v.name: outputs[i] for v, i in zip(graph.outputs, merged.outputs[k])}
        assert_matches(got, want, f"{name} on tvm-llvm", rtol=1e-5,
                       bounds=rounding_bounds(graph, feeds))


def test_representative_ops_are_one_cuda_kernel_per_group(tmp_path):
    """dlight schedules every group's PrimFunc as exactly one GPU kernel (built here, no GPU)."""
    need_nvcc()
    merged = merge([_representative(name)[0] for name in REPRESENTATIVE])
    artifact = mlc.compile(merged.graph, target="cuda", output=tmp_path / "a")
    optimised, _ = optimise(merged.graph, "O2")
    assert_one_kernel_per_group(artifact, optimised)
