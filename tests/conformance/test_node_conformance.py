"""The ONNX node conformance gate: mlc's importer + interpreter on ONNX's own node test cases.

Which cases count, and why, is documented at the top of mlc/testing/node_suite.py. The gate keeps
the expected-failures list honest in both directions: a new failure must be added to it (with its
reason), and a listed case that now passes must be removed from it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlc.testing import node_suite

# One xdist worker runs every node-suite test: run_all() caches its results per process, so the
# docs/ops.md check reuses the compiled targets' runs instead of compiling every case again.
pytestmark = pytest.mark.xdist_group("node_suite")

EXPECTED_FAILURES = Path(__file__).with_name("expected_failures.txt")
MIN_PASS_RATE = 0.95


@pytest.fixture(scope="module")
def results() -> list[node_suite.CaseResult]:
    return node_suite.run_all()


@pytest.mark.slow
def test_pass_rate(results):
    assert results, "no supported cases: is mlc.frontend.supported_onnx_ops() empty?"
    passed = sum(r.passed for r in results)
    assert passed / len(results) >= MIN_PASS_RATE, node_suite.summary(results)


@pytest.mark.slow
def test_every_failure_is_expected(results):
    expected = node_suite.read_expected_failures(EXPECTED_FAILURES)
    new = sorted(f"{r.name}  # {r.reason}" for r in results
                 if not r.passed and r.name not in expected)
    assert not new, ("new failures; fix them or add them to "
                     "tests/conformance/expected_failures.txt with their reason:\n" + "\n".join(new))


@pytest.mark.slow
def test_no_expected_failure_now_passes(results):
    expected = node_suite.read_expected_failures(EXPECTED_FAILURES)
    by_name = {r.name: r for r in results}
    fixed = sorted(n for n in expected if n in by_name and by_name[n].passed)
    assert not fixed, "these cases pass now; remove them from expected_failures.txt:\n" + \
        "\n".join(fixed)
    gone = sorted(n for n in expected if n not in by_name)
    assert not gone, ("these listed cases are no longer supported cases (or no longer exist); "
                      "remove them from expected_failures.txt:\n" + "\n".join(gone))


@pytest.mark.slow
def test_docs_ops_page_is_up_to_date(results):
    from mlc import docs_ops

    page = Path(__file__).resolve().parents[2] / "docs" / "ops.md"
    assert page.read_text() == docs_ops.generate(results=results), \
        "docs/ops.md is stale: regenerate it with `make docs`"


def _case(op_type: str, in_type: int, out_type: int, opset: int = 13, **attrs):
    from types import SimpleNamespace

    from onnx import helper

    graph = helper.make_graph([helper.make_node(op_type, ["x"], ["y"], **attrs)], "g",
                              [helper.make_tensor_value_info("x", in_type, [2])],
                              [helper.make_tensor_value_info("y", out_type, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return SimpleNamespace(name=f"test_{op_type}", model=model)


def test_supported_cases_exclude_types_mlc_cannot_name():
    """The rule of node_suite: imported ops, and types the IR has; everything else is out."""
    from onnx import TensorProto as T

    ops = node_suite.supported_ops()
    assert node_suite.unsupported_because(_case("Relu", T.FLOAT, T.FLOAT), ops) is None
    assert node_suite.unsupported_because(_case("Cast", T.FLOAT, T.INT64, to=T.INT64), ops) is None
    bf16 = _case("Cast", T.FLOAT, T.BFLOAT16, to=T.BFLOAT16)
    assert node_suite.unsupported_because(bf16, ops) == "dtype bfloat16: not in mlc's IR"
    assert node_suite.unsupported_because(_case("Einsum", T.FLOAT, T.FLOAT, equation="i->i"),
                                          ops) == "op Einsum: not imported"


def test_compare_follows_assert_allclose_with_nan_equal():
    import numpy as np

    a = np.array([1.0, np.nan, 3.0], np.float32)
    assert node_suite._compare([a], [a.copy()], ["y"], 1e-3, 1e-7) == ""
    reason = node_suite._compare([a + 0.01], [a], ["y"], 1e-3, 1e-7)
    assert reason.startswith("mismatch: y max abs err 0.01")
    assert node_suite._compare([a.astype(np.float64)], [a], ["y"], 1e-3, 1e-7).startswith("dtype")
    assert node_suite._compare([a[:2]], [a], ["y"], 1e-3, 1e-7).startswith("shape")


def _reshape_case(shape_value, expected_shape):
    from types import SimpleNamespace

    import numpy as np
    from onnx import TensorProto as T
    from onnx import helper

    graph = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", T.FLOAT, [2, 3]),
                               helper.make_tensor_value_info("shape", T.INT64, [2])],
                              [helper.make_tensor_value_info("y", T.FLOAT, [3, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    data = ([x, np.array(shape_value, np.int64)], [x.reshape(expected_shape)])
    return SimpleNamespace(name="test_reshape_bind", model=model, data_sets=[data],
                           rtol=None, atol=None)


def test_shape_input_is_bound_from_the_data_set():
    result = node_suite.run_case(_reshape_case([3, -1], (3, 2)))
    assert result.passed, result.reason
    assert result.bound == ("shape",)


def test_failure_names_the_stage_and_the_problem():
    # The expected output disagrees with what Reshape computes: a numeric mismatch, not a crash.
    result = node_suite.run_case(_reshape_case([3, 2], (3, 2)))
    assert result.passed
    bad = _reshape_case([3, 2], (3, 2))
    bad.data_sets[0][1][0] = bad.data_sets[0][1][0] + 1
    result = node_suite.run_case(bad)
    assert result.status == node_suite.FAILED
    assert result.reason == "mismatch: y max abs err 1 (rtol 0.001, atol 1e-07)"
    result = node_suite.run_case(_reshape_case([4, 2], (3, 2)))
    assert result.status == node_suite.FAILED and result.reason.startswith("import: ")
