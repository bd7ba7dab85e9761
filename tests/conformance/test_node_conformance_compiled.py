"""The ONNX node conformance gate on the compiled targets (llvm, c, tvm-llvm): the ref gate's rules.

The supported cases (mlc/testing/node_suite.py) are compiled in merged batches and run through
``mlc.runtime.load``; mlc/testing/node_batch.py bisects a failing batch so each case fails with
its own reason. A new failure must be added to expected_failures_<target>.txt with its reason,
and a listed case that now passes must be removed from it. The fast tests at the bottom check
the batching itself on a few cases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlc.testing import node_suite
from tests.skips import need_target as need

# One xdist worker runs every node-suite test: run_all() caches its results per process, so the
# docs/ops.md check reuses the compiled targets' runs instead of compiling every case again.
pytestmark = pytest.mark.xdist_group("node_suite")

MIN_PASS_RATE = 0.95
TARGETS = [t for t in node_suite.conformance_targets() if t != "ref"]  # the compiled ones


def expected_failures_file(target: str) -> Path:
    return node_suite.expected_failures_path(target)


def regenerate(target: str) -> str:
    return (f"python -m mlc.testing.node_suite -t {target} --write-expected "
            f"tests/conformance/expected_failures_{target}.txt "
            "--reasons-from tests/conformance/expected_failures.txt")


@pytest.fixture(scope="module", params=TARGETS)
def target(request) -> str:
    need(request.param)
    return request.param


@pytest.fixture(scope="module")
def results(target) -> list[node_suite.CaseResult]:
    return node_suite.run_all(target)


@pytest.mark.slow
def test_pass_rate(results, target):
    assert results, "no supported cases: is mlc.frontend.supported_onnx_ops() empty?"
    passed = sum(r.passed for r in results)
    assert passed / len(results) >= MIN_PASS_RATE, node_suite.summary(results) + f" on {target}"


@pytest.mark.slow
def test_every_failure_is_expected(results, target):
    expected = node_suite.read_expected_failures(expected_failures_file(target))
    new = sorted(f"{r.name}  # {r.reason}" for r in results
                 if not r.passed and r.name not in expected)
    assert not new, (f"new {target} failures; fix them or add them to "
                     f"tests/conformance/expected_failures_{target}.txt ({regenerate(target)}):\n"
                     + "\n".join(new))


@pytest.mark.slow
def test_no_expected_failure_now_passes(results, target):
    expected = node_suite.read_expected_failures(expected_failures_file(target))
    by_name = {r.name: r for r in results}
    fixed = sorted(n for n in expected if n in by_name and by_name[n].passed)
    assert not fixed, (f"these cases pass on {target} now; remove them from "
                       f"expected_failures_{target}.txt ({regenerate(target)}):\n"
                       + "\n".join(fixed))
    gone = sorted(n for n in expected if n not in by_name)
    assert not gone, ("these listed cases are no longer supported cases (or no longer exist); "
                      f"remove them from expected_failures_{target}.txt:\n" + "\n".join(gone))


@pytest.mark.slow
def test_ref_failures_are_compiled_failures_too(results, target):
    """A case that fails on the interpreter cannot pass compiled: if it does, one of the two is
    comparing against something else."""
    ref_expected = node_suite.read_expected_failures(expected_failures_file("ref"))
    passing = sorted(r.name for r in results if r.passed and r.name in ref_expected)
    assert not passing, f"these fail on ref but pass on {target}:\n" + "\n".join(passing)


# -- fast: a few cases through the real batched llvm path ------------------------------------
FEW = ("test_relu", "test_add_bcast", "test_softmax_axis_0", "test_maxpool_2d_pads",
       "test_averagepool_3d_default", "test_conv_with_strides_padding", "test_gemm_default_no_bias")


@pytest.mark.parametrize("compiled", TARGETS)
def test_batched_results_match_ref_case_by_case(compiled):
    """Merged into one compile, each case still gets its own outputs and its own result."""
    need(compiled)
    cases = [c for c in node_suite.supported_cases() if c.name in FEW]
    assert len(cases) == len(FEW)
    on_llvm = {r.name: r for r in node_suite.run_cases(cases, compiled)}
    on_ref = {r.name: r for r in node_suite.run_cases(cases, "ref")}
    for name in FEW:
        assert (on_llvm[name].passed, on_llvm[name].ops) == (on_ref[name].passed, on_ref[name].ops)
    assert on_llvm["test_relu"].passed
    # an import failure is the same failure on every target
    assert on_llvm["test_averagepool_3d_default"].reason == \
        on_ref["test_averagepool_3d_default"].reason


def test_a_wrong_expected_output_fails_only_its_own_case():
    cases = [c for c in node_suite.supported_cases() if c.name in FEW[:3]]
    bad = _with_expected_plus_one(cases[1])
    results = node_suite.run_cases([cases[0], bad, cases[2]], "llvm")
    assert [r.passed for r in results] == [True, False, True]
    assert results[1].reason.startswith("mismatch: ") and "max abs err 1 " in results[1].reason


def _with_expected_plus_one(case):
    from types import SimpleNamespace

    inputs, expected = case.data_sets[0]
    shifted = [np.asarray(e) + 1 for e in expected]
    return SimpleNamespace(name=case.name, model=case.model, data_sets=[(inputs, shifted)],
                           rtol=case.rtol, atol=case.atol)
