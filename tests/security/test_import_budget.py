"""Import-time memory bombs (issue 14, item 6): a few bytes of ONNX that would expand into
gigabytes at import are refused by the import budget, with one line naming the node and the
limit, before the memory is allocated."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mlc.frontend import BudgetError, ImportBudget, import_model
from mlc.frontend.budget import MIB

ADDRESS_SPACE = 3 << 30  # the CLI runs in a process that may map at most this much


def _constant_of_shape(numel: int) -> onnx.ModelProto:
    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [numel])
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["y"], name="bomb")]
    graph = helper.make_graph(nodes, "bomb", [], [helper.make_tensor_value_info("y", 1, None)],
                              [shape])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _folded_chain(numel: int, count: int) -> onnx.ModelProto:
    """``count`` int64 additions on a ConstantOfShape: each folds into a new tensor."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [numel])
    one = helper.make_tensor("one", TensorProto.INT64, [], [1])
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["c0"], value=one)]
    nodes += [helper.make_node("Add", [f"c{i}", f"c{i}"], [f"c{i + 1}"], name=f"add{i}")
              for i in range(count)]
    graph = helper.make_graph(nodes, "chain", [],
                              [helper.make_tensor_value_info(f"c{count}", 7, None)], [shape])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_tiny_constant_of_shape_asking_for_gigabytes_is_refused_by_name() -> None:
    model = _constant_of_shape(1 << 30)  # 4 GiB of float32 from a file of ~100 bytes
    assert len(model.SerializeToString()) < 200
    with pytest.raises(BudgetError) as err:
        import_model(model)
    line = err.value.one_line()
    assert "ConstantOfShape node 'bomb'" in line and "4096.0 MiB" in line
    assert "512.0 MiB per tensor" in line and "--import-limit" in line


def test_folding_is_charged_in_total_across_nodes() -> None:
    model = _folded_chain(1 << 20, 10)  # 8 MiB per folded tensor: the eighth Add passes 64 MiB
    with pytest.raises(BudgetError, match=r"Add node 'add7'.* 64.0 MiB in total"):
        import_model(model, budget=ImportBudget(tensor_bytes=16 * MIB, total_bytes=64 * MIB))
    graph = import_model(model, budget=ImportBudget(tensor_bytes=16 * MIB, total_bytes=96 * MIB))
    np.testing.assert_array_equal(graph.outputs[0].const, np.full(1 << 20, 1024, np.int64))


def test_range_is_charged() -> None:
    scalars = [helper.make_tensor(n, TensorProto.INT64, [], [v])
               for n, v in (("start", 0), ("limit", 1 << 22), ("delta", 1))]
    graph = helper.make_graph([helper.make_node("Range", ["start", "limit", "delta"], ["y"],
                                                name="counting")], "range", [],
                              [helper.make_tensor_value_info("y", 7, None)], scalars)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(BudgetError, match="Range node 'counting' would create a tensor of 32.0"):
        import_model(model, budget=ImportBudget(tensor_bytes=16 * MIB))
    assert import_model(model).outputs[0].shape == (1 << 22,)


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _mlc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlc.cli", *args], capture_output=True,
                          text=True, timeout=120, preexec_fn=_limited)


@pytest.mark.parametrize("model", [_constant_of_shape(1 << 30), _folded_chain(1 << 22, 40)],
                         ids=["constant-of-shape", "forty-folds"])
def test_the_cli_refuses_memory_bombs_in_one_line_within_bounded_memory(
        model: onnx.ModelProto, tmp_path: Path) -> None:
    path = tmp_path / "bomb.onnx"
    onnx.save(model, path)
    result = _mlc("show", str(path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "import limit" in errors[0], result.stderr


def test_the_cli_limit_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "zeros.onnx"
    onnx.save(_constant_of_shape(1 << 19), path)  # 2 MiB of zeros
    refused = _mlc("--import-limit", "1", "show", str(path))
    assert refused.returncode != 0 and "1.0 MiB per tensor" in refused.stderr
    assert _mlc("--import-limit", "4", "show", str(path)).returncode == 0
