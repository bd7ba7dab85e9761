"""docs/ops.md's generator: every registered op and every imported ONNX op gets a row."""

from __future__ import annotations

from mlc import docs_ops
from mlc.ops import all_ops


def test_tables_list_every_core_op_with_defaults_and_onnx_mapping():
    text = docs_ops.generate(conformance=False)
    for name, op in all_ops().items():
        assert f"| `{name}` | {', '.join(op.inputs)} |" in text, name
    assert "alpha: float = 0.01" in text  # leaky_relu's default, from the registry
    assert "| Conv | " in text and "`conv2d`" in text
    assert "| Constant | " in text and "folded at import" in text
    assert "## Conformance" not in text


def test_onnx_table_lists_every_imported_op():
    from mlc.frontend import supported_onnx_ops

    text = docs_ops.generate(conformance=False)
    for onnx_op in supported_onnx_ops():
        assert f"| {onnx_op} | " in text, onnx_op


def test_core_op_table_has_an_llvm_column_from_the_loop_lowerings():
    from mlc.backends.loop.ops import has_lowering

    text = docs_ops.generate(conformance=False)
    assert "| ONNX ops (since-versions imported) | ref | llvm |" in text
    rows = {line.split(" | ")[0][3:-1]: line for line in text.splitlines()
            if line.startswith("| `")}
    assert rows.keys() == all_ops().keys()
    for name, row in rows.items():
        lowers = name == "fused" or has_lowering(name)
        assert row.endswith("| ✓ | ✓ |" if lowers else "| ✓ |  |"), row


def test_onnx_table_counts_node_cases_per_target():
    from mlc.testing.node_suite import FAILED, PASSED, CaseResult

    ref = [CaseResult("a", ("Add",), PASSED), CaseResult("b", ("Add", "Relu"), PASSED)]
    llvm = [CaseResult("a", ("Add",), PASSED), CaseResult("b", ("Add", "Relu"), FAILED, "x")]
    lines = docs_ops.onnx_ops_table({"Add": None, "Relu": None, "Exp": None},
                                    {"ref": ref, "llvm": llvm})
    assert "| ONNX op | since-versions imported | becomes | ref: node cases passed | " \
           "llvm: node cases passed |" in lines
    assert "| Add | all | `add` | 2/2 | 1/2 |" in lines
    assert "| Relu | all | `relu` | 1/1 | 0/1 |" in lines
    assert "| Exp | all | `exp` | — | — |" in lines
