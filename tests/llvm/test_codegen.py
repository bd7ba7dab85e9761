"""The LLVM renderer against the reference evaluator: scalar semantics and serial kernels.

The cases (tests/codegen_cases.py, shared with the C renderer's tests) are compiled into ONE
library (a library build costs a compiler run) and must match ``evaluate``: bit-exact for ints
and bools, rtol 1e-5 for floats.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from mlc.backends.llvm import ModuleCodegen, compile_module
from mlc.backends.toolchain.host import host_target
from mlc.runtime.kernels import LlvmKernelLibrary
from mlc.backends.loop import evaluate
from mlc.backends.loop import ir
from mlc.backends.loop.ir import Allocate, Buffer, For, Kernel, Load, Store, Var
from mlc.ir import DType
from mlc.testing.models import ZOO_MODELS
from tests.codegen_cases import (CASE_NAMES, all_cases, assert_matches, check_case,
                                 check_integer_division_edges, check_random_fused_graph,
                                 check_zoo_model_kernels, workspace_kernel)
from tests.strategies import random_graphs

rng = np.random.default_rng(0)


@functools.lru_cache(maxsize=1)
def _library():
    cases = all_cases()
    return cases, LlvmKernelLibrary([kernel for _, kernel, _ in cases])


@pytest.mark.parametrize("case", CASE_NAMES)
def test_kernel_matches_evaluator(case):
    cases, library = _library()
    check_case(library, cases, case)


def test_integer_division_edges_exactly():
    check_integer_division_edges(_library()[1], _library()[0])


# -- whole models ---------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ZOO_MODELS)
def test_zoo_model_kernels(model):
    check_zoo_model_kernels(model, LlvmKernelLibrary)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(graph=random_graphs())
def test_random_fused_graphs(graph):
    check_random_fused_graph(graph, LlvmKernelLibrary)


# -- the ABI ----------------------------------------------------------------------------------------

def test_abi_names_attributes_and_owned_constants():
    """Untrusted names are sanitized and made unique; owned constants are private aligned
    globals (not parameters); every kernel takes a trailing workspace pointer and carries the
    host's target attributes."""
    table = Buffer("t\"ab le", DType.float32, (3,), "const")
    out = Buffer("o/u t", DType.float32, (3,), "output")
    i = Var("i")
    kernel = Kernel("evil\"name; @x", (table, out),
                    For(i, ir.const(0), ir.const(3), Store(out, i, Load(table, i))),
                    ((table.name, np.array([1, 2, 3], np.float32).tobytes()),))
    host = host_target()
    codegen = ModuleCodegen("m", host)
    first, second = codegen.add_kernel(kernel), codegen.add_kernel(kernel)
    assert first.name != second.name
    for fn in (first, second):
        assert all(ch.isalnum() or ch == "_" for ch in fn.name)
        assert len(fn.args) == 2  # the output and the workspace: the table is owned
    text = str(codegen.module)
    assert '"target-cpu"="' + host.cpu in text and "nounwind" in text
    assert "private unnamed_addr constant" in text and "align 64" in text
    compile_module(codegen.module, host)
    got = LlvmKernelLibrary(kernel).run({})
    np.testing.assert_array_equal(got[out.name], [1, 2, 3])


# -- scratch: stack or workspace ------------------------------------------------------------------

def test_large_scratch_lives_in_the_workspace():
    """Scratch over 64 KiB gets a 64-byte-aligned workspace slice (one slot per name), smaller
    scratch the stack; a parallel loop may read a workspace buffer allocated outside it."""
    from mlc.backends.loop.scratch import scratch_placement, workspace_bytes

    kernel = workspace_kernel(20000)  # 80 000 bytes
    assert scratch_placement(kernel) == {"big": 0, "big2": 80000, "small": None}
    assert workspace_bytes(kernel) == 80000 + 80064
    args = {"x": rng.standard_normal(20000).astype(np.float32)}
    got = LlvmKernelLibrary(kernel, threads=2).run(args)
    assert_matches(got, evaluate(kernel, args), "workspace")


def test_scratch_names_reused_by_several_allocates_share_one_slot():
    from mlc.backends.loop.scratch import scratch_placement, workspace_bytes

    out = Buffer("out", DType.float32, (1,), "output")
    small = Buffer("s", DType.float32, (4,), "scratch")
    large = Buffer("s", DType.float32, (30000,), "scratch")
    other = Buffer("t", DType.uint8, (70000,), "scratch")
    fill = Store(out, ir.const(0), ir.const(1.0, DType.float32))
    kernel = Kernel("reuse", (out,), ir.block(Allocate(small, fill), Allocate(large, fill),
                                              Allocate(other, fill), Allocate(large, fill)))
    assert scratch_placement(kernel) == {"s": 0, "t": 120000}
    assert workspace_bytes(kernel) == 120000 + 70016
    assert LlvmKernelLibrary(kernel).run({})["out"][0] == 1.0


def test_llvm_errors_are_one_line_mlc_errors():
    from mlc.backends.llvm import LLVMCompileError

    with pytest.raises(LLVMCompileError) as error:
        compile_module("define void @f() { ret i32 0 }", host_target())
    assert "\n" not in error.value.one_line() and "LLVM rejected" in error.value.one_line()


def test_host_target_isa_and_machine():
    host = host_target()
    assert host is host_target()  # cached
    assert host.isa in ("avx512", "avx2", "scalar")
    from mlc.backends.llvm.host import target_machine
    from mlc.backends.toolchain.host import HostTarget

    assert target_machine(host).triple == host.triple
    assert HostTarget("x86_64-unknown-linux-gnu", "x", "+avx2,+fma,-avx512f").isa == "avx2"
    assert HostTarget("x86_64-unknown-linux-gnu", "x", "+avx2,-fma").isa == "scalar"
    assert HostTarget("x86_64-unknown-linux-gnu", "x", "+avx512f,+avx2").isa == "avx512"
