"""What real exporters write that a hand-made model does not: ``?`` for every unknown dim, and
``If`` nodes whose condition is fixed once the input shapes are (issue 14, item 10)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mlc.errors import ModelLoadError, ShapeError, UnsupportedOpError
from mlc.frontend import NeedsConstantError, import_model
from tests.frontend.onnx_models import check_vs_ort, make_model, ops, rand, value_info


# -- '?' dims -------------------------------------------------------------------------------------
def _relu(shape, name: str = "x") -> onnx.ModelProto:
    return make_model([helper.make_node("Relu", [name], ["y"])],
                      [value_info(name, np.float32, shape)], ["y"])


def test_question_mark_dims_are_independent_unknowns() -> None:
    graph = import_model(_relu(("?", 3, "?", "?")), shapes={"x": [1, 3, 48, 192]})
    assert graph.inputs[0].shape == (1, 3, 48, 192)


def test_question_mark_dims_of_two_inputs_do_not_bind_each_other() -> None:
    model = make_model([helper.make_node("Concat", ["a", "b"], ["y"], axis=1)],
                       [value_info(n, np.float32, (1, "?")) for n in "ab"],
                       ["y"])
    check_vs_ort(model, {"a": rand(1, 2), "b": rand(1, 5)}, shapes={"a": [1, 2], "b": [1, 5]})


def test_a_question_mark_dim_left_open_is_named_as_unknown() -> None:
    with pytest.raises(ShapeError) as err:
        import_model(_relu((1, "?")))
    assert "unknown dim at axis 1" in err.value.one_line() and "'?'" not in err.value.message


def test_named_symbolic_dims_still_bind_across_inputs() -> None:
    model = make_model([helper.make_node("Add", ["a", "b"], ["y"])],
                       [value_info(n, np.float32, ("n", 4)) for n in "ab"],
                       ["y"])
    assert import_model(model, shapes={"a": [3, 4]}).inputs[1].shape == (3, 4)
    with pytest.raises(ShapeError, match="dim 'n' is 3"):
        import_model(model, shapes={"a": [3, 4], "b": [5, 4]})


# -- If with a condition known at import ---------------------------------------------------------
def _branch(name: str, nodes: list[onnx.NodeProto], output: str) -> onnx.GraphProto:
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(output, 1, None)])


def _rank_dispatch(then_nodes=None, else_nodes=None, opset: int = 17,
                   then_branch: onnx.GraphProto | None = None) -> onnx.ModelProto:
    """y = relu(x) when x's first dim is above 1, else -x: the condition comes from Shape."""
    then_branch = then_branch or _branch(
        "then", then_nodes or [helper.make_node("Relu", ["x"], ["t"])], "t")
    else_branch = _branch("else", else_nodes or [helper.make_node("Neg", ["x"], ["e"])], "e")
    nodes = [helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Gather", ["shape", "zero"], ["first"], axis=0),
             helper.make_node("Greater", ["first", "one"], ["cond"]),
             helper.make_node("If", ["cond"], ["y"], name="dispatch",
                              then_branch=then_branch, else_branch=else_branch)]
    return make_model(nodes, [value_info("x", np.float32, ("batch", 3))], ["y"],
                      {"zero": np.array(0, np.int64), "one": np.array(1, np.int64)}, opset=opset)


@pytest.mark.parametrize("batch, taken", [(2, "relu"), (1, "neg")])
def test_if_on_a_shape_imports_the_branch_taken(batch: int, taken: str) -> None:
    graph = check_vs_ort(_rank_dispatch(), {"x": rand(batch, 3)}, shapes={"x": [batch, 3]})
    assert ops(graph) == [taken]


@pytest.mark.parametrize("opset", [11, 13, 16, 21])
def test_if_across_opsets(opset: int) -> None:
    check_vs_ort(_rank_dispatch(opset=opset), {"x": rand(2, 3)}, shapes={"x": [2, 3]})


def test_the_branch_not_taken_may_hold_unsupported_ops() -> None:
    loop = helper.make_node("Loop", ["", ""], ["e"], body=helper.make_graph([], "b", [], []))
    graph = import_model(_rank_dispatch(else_nodes=[loop]), shapes={"x": [2, 3]})
    assert ops(graph) == ["relu"]


def test_unsupported_ops_in_the_branch_taken_are_listed() -> None:
    odd = helper.make_node("Mystery", ["x"], ["e"], domain="com.example")
    with pytest.raises(UnsupportedOpError, match="com.example.Mystery ×1"):
        import_model(_rank_dispatch(else_nodes=[odd]), shapes={"x": [1, 3]})


def test_a_branch_with_several_nodes_initializers_and_outer_reads() -> None:
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    then_branch = helper.make_graph(
        [helper.make_node("Mul", ["x", "scale"], ["m"]),
         helper.make_node("Add", ["m", "bias"], ["t"])],
        "then", [], [helper.make_tensor_value_info("t", 1, None)], [scale])
    model = _rank_dispatch(then_branch=then_branch)
    model.graph.initializer.append(onnx.numpy_helper.from_array(rand(3, seed=1), "bias"))
    check_vs_ort(model, {"x": rand(4, 3)}, shapes={"x": [4, 3]})


def test_nested_ifs_take_their_branches() -> None:
    inner = helper.make_node("If", ["cond"], ["t"], then_branch=_branch(
        "inner_then", [helper.make_node("Abs", ["x"], ["it"])], "it"),
        else_branch=_branch("inner_else", [helper.make_node("Neg", ["x"], ["ie"])], "ie"))
    graph = check_vs_ort(_rank_dispatch(then_nodes=[inner]), {"x": rand(2, 3)},
                         shapes={"x": [2, 3]})
    assert ops(graph) == ["abs"]


def test_an_if_reading_a_tensor_defined_after_it_is_sorted() -> None:
    model = _rank_dispatch(then_nodes=[helper.make_node("Add", ["x", "late"], ["t"])])
    late = helper.make_node("Relu", ["x"], ["late"])
    model.graph.node.insert(0, model.graph.node.pop(3))  # the If first: exporters do this
    model.graph.node.append(late)
    check_vs_ort(model, {"x": rand(2, 3)}, shapes={"x": [2, 3]})


def test_a_condition_computed_from_input_values_asks_for_the_input() -> None:
    """A condition on the values, not the shape, of an input cannot be fixed at import: the
    importer says which input it would need as a constant, before converting anything."""
    model = _rank_dispatch()
    model.graph.node[0].CopyFrom(helper.make_node("ReduceMax", ["x"], ["shape"], keepdims=0))
    model.graph.node[1].CopyFrom(helper.make_node("Cast", ["shape"], ["first"], to=7))
    with pytest.raises(NeedsConstantError) as err:
        import_model(model, shapes={"x": [2, 3]})
    assert err.value.names == ["x"]


def test_a_condition_fed_by_a_graph_input_asks_for_it_and_binds() -> None:
    model = _rank_dispatch()
    del model.graph.node[:3]
    model.graph.input.append(value_info("cond", np.bool_, ()))
    with pytest.raises(NeedsConstantError) as err:
        import_model(model, shapes={"x": [2, 3]})
    assert err.value.names == ["cond"]
    for cond in (True, False):
        check_vs_ort(model, {"x": rand(2, 3), "cond": np.array(cond)}, shapes={"x": [2, 3]},
                     bind={"cond": np.array(cond)})


def test_a_branch_that_redefines_an_outer_tensor_is_refused() -> None:
    model = _rank_dispatch(then_nodes=[helper.make_node("Relu", ["x"], ["first"]),
                                       helper.make_node("Relu", ["first"], ["t"])])
    with pytest.raises(ModelLoadError, match="redefines outer tensor 'first'"):
        import_model(model, shapes={"x": [2, 3]})
