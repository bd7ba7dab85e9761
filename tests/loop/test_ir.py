"""The loop IR core: simplification, index helpers, scalar semantics and the evaluator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlc.backends.loop import ir, scalar
from mlc.backends.loop.evaluate import EvaluationError, evaluate
from mlc.backends.loop.ir import Buffer, For, Kernel, Store, Var
from mlc.backends.loop.printer import print_expr
from mlc.ir.dtypes import DType

i = Var("i")


def test_identities_fold_away():
    assert ir.add(i, 0) == i and ir.add(0, i) == i
    assert ir.mul(i, 1) == i and ir.mul(i, 0) == ir.const(0)
    assert ir.add(ir.add(i, 2), 3) == ir.add(i, 5)
    assert ir.add(ir.const(2), ir.const(3)) == ir.const(5)
    assert ir.select(ir.const(True, DType.bool), i, ir.const(7)) == i


def test_float_zero_multiplication_is_kept():
    x = Var("x", DType.float32)
    assert isinstance(ir.mul(x, ir.const(0.0, DType.float32)), ir.Binary)  # NaN * 0 is NaN


def test_nodes_are_hashable_and_structural():
    a = ir.add(ir.mul(i, 3), 1)
    b = ir.add(ir.mul(Var("i"), 3), 1)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1


def test_mixed_dtypes_are_rejected():
    with pytest.raises(TypeError):
        ir.add(i, Var("x", DType.float32))


def test_index_helpers():
    j, k = Var("j"), Var("k")
    assert print_expr(ir.flat_index((2, 1, 4), (i, ir.const(0), k))) == "i * 4 + k"
    assert ir.broadcast_index((3, 1), (2, 3, 4), (i, j, k)) == (j, ir.const(0))
    assert print_expr(ir.unravel((2, 3, 4), Var("f"))[1]) == "f // 4 % 3"


@pytest.mark.parametrize("op, a, b, want", [
    ("div", -7, 2, -3), ("mod", -7, 2, -1), ("floordiv", -7, 2, -4), ("div", 5, 0, 0),
    ("add", 127, 1, -128),
])
def test_integer_semantics_are_c_like(op, a, b, want):
    dt = DType.int8
    assert int(scalar.binary(op, scalar.make(a, dt), scalar.make(b, dt), dt)) == want


def test_max_propagates_nan():
    dt = DType.float32
    assert math.isnan(scalar.binary("max", np.float32("nan"), np.float32(1), dt))
    assert math.isnan(scalar.binary("min", np.float32(1), np.float32("nan"), dt))


def test_float_to_int_cast_truncates():
    assert int(scalar.cast(np.float32(-2.7), DType.float32, DType.int32)) == -2
    assert int(scalar.cast(np.float32(300.5), DType.float32, DType.uint8)) == 44  # 300 wraps


def _copy_kernel(n_in: int, n_out: int, extent: int) -> Kernel:
    a = Buffer("a", DType.float32, (n_in,))
    b = Buffer("b", DType.float32, (n_out,), "output")
    return Kernel("copy", (a, b), For(i, ir.const(0), ir.const(extent),
                                      Store(b, i, ir.Load(a, i))))


def test_evaluator_runs_loops():
    out = evaluate(_copy_kernel(4, 4, 4), {"a": np.arange(4, dtype=np.float32)})
    np.testing.assert_array_equal(out["b"], np.arange(4, dtype=np.float32))


def test_evaluator_catches_out_of_bounds():
    with pytest.raises(EvaluationError, match=r"a\[4\] is out of bounds"):
        evaluate(_copy_kernel(4, 8, 5), {"a": np.zeros(4, np.float32)})


def test_evaluator_needs_every_input():
    with pytest.raises(EvaluationError, match="no array for parameter a"):
        evaluate(_copy_kernel(4, 4, 4), {})


def test_verify_rejects_broken_kernels():
    from mlc.backends.loop.verify import KernelError, verify_kernel

    a = Buffer("a", DType.float32, (4,))
    b = Buffer("b", DType.float32, (4,), "output")
    loop = lambda body: For(i, ir.const(0), ir.const(4), body)  # noqa: E731
    verify_kernel(Kernel("ok", (a, b), loop(Store(b, i, ir.Load(a, i)))))
    with pytest.raises(KernelError, match="store into input buffer a"):
        verify_kernel(Kernel("k", (a, b), loop(Store(a, i, ir.Load(a, i)))))
    with pytest.raises(KernelError, match="variable j is not bound"):
        verify_kernel(Kernel("k", (a, b), loop(Store(b, Var("j"), ir.Load(a, i)))))
    with pytest.raises(KernelError, match="store of i64 into f32"):
        verify_kernel(Kernel("k", (a, b), loop(Store(b, i, i))))


def test_lowered_kernels_are_hashable_values():
    from mlc.backends.loop import lower_node
    from mlc.ir import GraphBuilder

    def build():
        b = GraphBuilder("g")
        x = b.input("x", (2, 3))
        b.outputs(b.softmax(b.relu(x), output_names=["y"]))
        return lower_node(b.graph.nodes[1])

    assert build() == build() and hash(build()) == hash(build())
