"""The target registry and the ref / ort runners."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mlc.runtime import Model, get_target, target_names
from mlc.runtime.reference import ort_session
from mlc.runtime.targets import TargetError, parse_target_list


def test_ref_and_ort_are_registered():
    assert {"ref", "ort"} <= set(target_names())


def test_unknown_target_names_the_available_ones():
    with pytest.raises(TargetError) as info:
        get_target("llvmm")
    line = info.value.one_line()
    assert "llvmm" in line and "ref" in line and "ort" in line


@pytest.mark.parametrize("text, problem", [("", "no targets"), ("ref,ref", "twice"),
                                           ("ref,nope", "nope")])
def test_target_lists_are_checked(text, problem):
    with pytest.raises(TargetError, match=problem):
        parse_target_list(text)


def test_target_list_keeps_order_and_strips_spaces():
    assert parse_target_list(" ort , ref ") == ["ort", "ref"]


def test_ref_and_ort_compute_the_mlp(mlp, mlp_model, feeds):
    expected = np.maximum(feeds["x"] @ mlp.W + mlp.B, 0)
    for name in ("ref", "ort"):
        runner = get_target(name).prepare(mlp_model, threads=1)
        assert runner.compile_s >= 0
        y, = runner.run(feeds)
        assert y.dtype == np.float32 and y.shape == (2, 3)
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_ref_runs_the_graph_not_the_onnx(mlp, feeds):
    # The two sides disagree on purpose: ref must follow the mlc graph.
    model = Model.from_graph(mlp.graph(w=np.zeros_like(mlp.W)), onnx_model=mlp.onnx())
    y, = get_target("ref").prepare(model, 1).run(feeds)
    np.testing.assert_allclose(y, np.maximum(np.broadcast_to(mlp.B, (2, 3)), 0))


def test_ort_session_uses_the_requested_threads(mlp):
    session = ort_session(mlp.onnx(), threads=3)
    options = session.get_session_options()
    assert options.intra_op_num_threads == 3 and options.inter_op_num_threads == 1


def test_ort_feeds_by_position_when_the_importer_renamed_inputs(mlp, feeds):
    # An importer may sanitise "input:0" into another name; ort then maps inputs by position.
    model = onnx.load_from_string(mlp.onnx())
    model.graph.input[0].name = "input:0"
    model.graph.node[0].input[0] = "input:0"
    runner = get_target("ort").prepare(Model.from_graph(mlp.graph(),
                                                        onnx_model=model.SerializeToString()), 1)
    y, = runner.run({"x": feeds["x"]})
    np.testing.assert_allclose(y, np.maximum(feeds["x"] @ mlp.W + mlp.B, 0), rtol=1e-5, atol=1e-6)


def test_ort_run_failure_is_a_target_error(mlp):
    runner = get_target("ort").prepare(Model.from_graph(mlp.graph(), onnx_model=mlp.onnx()), 1)
    with pytest.raises(TargetError, match="onnxruntime failed"):
        runner.run({"x": np.zeros((5, 4), np.float32)})


def test_ort_refuses_an_op_it_does_not_know():
    node = helper.make_node("NoSuchOp", ["x"], ["y"])
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(TargetError, match="onnxruntime could not load"):
        ort_session(model.SerializeToString(), 1)
