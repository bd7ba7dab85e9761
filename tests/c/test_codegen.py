"""The C renderer against the reference evaluator, on the cases the LLVM renderer is held to.

Every case of tests/codegen_cases.py (kernels lowered from the registry's ops, hand-built probes
of scalar.py's corners) is rendered as C, compiled with ``-std=c99 -Wall -Wextra -Werror
-pedantic`` into one library and compared with ``evaluate``; and again the way a microcontroller
build renders it: parallel loops serial, scratch over a few hundred bytes in the workspace.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from mlc.backends.c.kernel import KernelOptions, render_kernel
from mlc.runtime.kernels import CKernelLibrary
from mlc.backends.loop import evaluate
from mlc.backends.loop import ir
from mlc.backends.loop.ir import Buffer, For, Kernel, Load, Store, Var
from mlc.backends.loop.scratch import scratch_placement
from mlc.ir import DType
from mlc.testing.models import ZOO_MODELS
from tests.codegen_cases import (CASE_NAMES, all_cases, assert_matches, check_case, rtol_for,
                                 check_integer_division_edges, check_random_fused_graph,
                                 check_zoo_model_kernels, workspace_kernel)
from tests.strategies import random_graphs

MCU_STACK_LIMIT = 256
rng = np.random.default_rng(0)


@functools.lru_cache(maxsize=None)
def _library(mcu: bool):
    cases = all_cases()
    kernels = [kernel for _, kernel, _ in cases]
    if mcu:
        return cases, CKernelLibrary(kernels, use_threads=False, stack_limit=MCU_STACK_LIMIT)
    return cases, CKernelLibrary(kernels)


@pytest.mark.parametrize("mcu", [False, True], ids=["host", "mcu-style"])
@pytest.mark.parametrize("case", CASE_NAMES)
def test_kernel_matches_evaluator(case, mcu):
    cases, library = _library(mcu)
    check_case(library, cases, case)


def test_integer_division_edges_exactly():
    cases, library = _library(False)
    check_integer_division_edges(library, cases)


@pytest.mark.parametrize("model", ZOO_MODELS)
def test_zoo_model_kernels(model):
    check_zoo_model_kernels(model, CKernelLibrary)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(graph=random_graphs())
def test_random_fused_graphs(graph):
    check_random_fused_graph(graph, CKernelLibrary)


def test_parallel_loop_and_workspace_at_two_threads():
    kernel = workspace_kernel(20000)
    args = {"x": rng.standard_normal(20000).astype(np.float32)}
    library = CKernelLibrary(kernel, threads=2)
    assert "mlc_parallel_for(" in library.source
    assert_matches(library.run(args), evaluate(kernel, args), "workspace")


def test_without_threads_parallel_loops_are_serial_and_scratch_leaves_the_stack():
    kernel = workspace_kernel(300)
    assert scratch_placement(kernel, MCU_STACK_LIMIT)["small"] is None  # 64 bytes: stack
    assert scratch_placement(kernel, MCU_STACK_LIMIT)["big"] is not None  # 1200 bytes
    text = render_kernel(kernel, "k", KernelOptions(threads=False,
                                                    stack_limit=MCU_STACK_LIMIT)).code
    assert "mlc_parallel_for" not in text and "(ws + " in text
    args = {"x": rng.standard_normal(300).astype(np.float32)}
    library = CKernelLibrary(kernel, use_threads=False, stack_limit=MCU_STACK_LIMIT)
    assert_matches(library.run(args), evaluate(kernel, args), "workspace")


def test_shared_subexpressions_are_written_once():
    """A chain where each step uses the previous one three times would print 3^depth copies
    as a tree (twenty thousand here); the renderer binds repeats to temporaries, so the text
    stays linear in the depth."""
    x, out = Buffer("x", DType.float32, (4,)), Buffer("out", DType.float32, (4,), "output")
    i = Var("i")
    value = Load(x, i)
    for _ in range(9):
        value = ir.add(ir.mul(value, value), value)
    kernel = Kernel("chain", (x, out), For(i, ir.const(0), ir.const(4), Store(out, i, value)))
    text = render_kernel(kernel, "k").code
    assert len(text) < 6000
    args = {"x": np.full(4, 1e-3, np.float32)}
    with np.errstate(all="ignore"):
        assert_matches(CKernelLibrary(kernel).run(args), evaluate(kernel, args), "chain")


def test_every_case_runs_clean_under_ubsan(capfd):
    """The wrapping helpers, division guards and casts of mlc_ops.h keep the scalar corners
    (INT_MIN / -1, x / 0, NaN to int, int64 wrap) free of C undefined behaviour: the whole case
    library built with -fsanitize=undefined prints no runtime error and still matches."""
    from mlc.backends.c.driver import CODE_FLAGS, WARNING_FLAGS

    cases = all_cases()
    library = CKernelLibrary([kernel for _, kernel, _ in cases],
                             flags=[*WARNING_FLAGS, "-Werror", *CODE_FLAGS, "-O1",
                                    "-fsanitize=undefined"])
    for index, (name, kernel, args) in enumerate(cases):
        with np.errstate(all="ignore"):
            want = evaluate(kernel, args)
        assert_matches(library.run(args, kernel=index), want, name, rtol_for(kernel))
    assert "runtime error" not in capfd.readouterr().err
