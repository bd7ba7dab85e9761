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
