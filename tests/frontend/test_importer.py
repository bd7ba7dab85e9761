"""The import driver: unsupported ops listed at once, opsets, specialisation of symbolic dims,
folding of shape arithmetic, constants that must be bound, value names, the public API."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from mlc import interp
from mlc.errors import ModelLoadError, ShapeError, UnsupportedOpError
from mlc.frontend import NeedsConstantError, import_model, supported_onnx_ops
from mlc.frontend.specialize import check_shapes_match
from mlc.ir import GraphBuilder
from tests.frontend.onnx_models import check_vs_ort, make_model, ops, rand, value_info


def relu_model(shape, opset: int = 17) -> onnx.ModelProto:
    return make_model([helper.make_node("Relu", ["x"], ["y"])], [value_info("x", np.float32, shape)],
                      ["y"], opset=opset)


# -- unsupported ops ------------------------------------------------------------------------------
def test_unsupported_ops_listed_at_once_with_counts() -> None:
    body = helper.make_graph([], "body", [], [])
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("FusedConv", ["a"], ["b"], domain="com.microsoft"),
        helper.make_node("Loop", ["", ""], ["c"], body=body),
        helper.make_node("FusedConv", ["b"], ["d"], domain="com.microsoft"),
        helper.make_node("Loop", ["", ""], ["e"], body=body),
        helper.make_node("FusedConv", ["d"], ["f"], domain="com.microsoft"),
        helper.make_node("TopK", ["f", "k"], ["g", "h"]),
    ]
    model = make_model(nodes, [value_info("x", np.float32, (2, 3)), value_info("k", np.int64, (1,))],
                       ["g"], extra_opsets={"com.microsoft": 1})
    with pytest.raises(UnsupportedOpError) as err:
        import_model(model)
    assert err.value.one_line() == (
        "unsupported ONNX ops: Loop ×2, TopK ×1, com.microsoft.FusedConv ×3 "
        "(see `mlc ops` for what is supported)")


def test_old_opset_version_without_converter_is_unsupported() -> None:
    model = make_model([helper.make_node("Tile", ["x", "t", "a"], ["y"])],
                       [value_info("x", np.float32, (2, 3))], ["y"],
                       {"t": np.array(2, np.int64), "a": np.array(0, np.int64)}, opset=5)
    with pytest.raises(UnsupportedOpError, match=r"Tile \(opset 5\) ×1"):
        import_model(model)


def test_deprecated_upsample_is_unsupported_at_opset_10() -> None:
    model = make_model([helper.make_node("Upsample", ["x", "s"], ["y"])],
                       [value_info("x", np.float32, (1, 1, 2, 2))], ["y"],
                       {"s": np.array([1, 1, 2, 2], np.float32)}, opset=10)
    with pytest.raises(UnsupportedOpError, match=r"Upsample \(opset 10\)"):
        import_model(model)


def test_newer_opset_with_unchanged_schema_is_accepted() -> None:
    model = make_model([helper.make_node("Conv", ["x", "w"], ["y"])],
                       [value_info("x", np.float32, (1, 2, 5, 5))], ["y"], {"w": rand(3, 2, 3, 3)},
                       opset=22)
    graph = import_model(model)
    assert ops(graph) == ["conv2d"]


def test_newer_opset_with_new_attribute_set_is_refused() -> None:
    model = make_model([helper.make_node("Cast", ["x"], ["y"], to=6, round_mode="up")],
                       [value_info("x", np.float32, (2,))], ["y"], opset=24)
    with pytest.raises(UnsupportedOpError, match=r"Cast \(opset 24, attribute round_mode\)"):
        import_model(model)
    plain = make_model([helper.make_node("Cast", ["x"], ["y"], to=6)],
                       [value_info("x", np.float32, (2,))], ["y"], opset=24)
    assert ops(import_model(plain)) == ["cast"]


def test_unused_extra_output_is_fine_but_used_one_is_refused() -> None:
    pool = helper.make_node("MaxPool", ["x"], ["y", "idx"], kernel_shape=[2, 2])
    x = value_info("x", np.float32, (1, 1, 4, 4))
    graph = import_model(make_model([pool], [x], ["y"], opset=12))
    assert ops(graph) == ["max_pool2d"]
    with pytest.raises(UnsupportedOpError, match="indices"):
        import_model(make_model([pool], [x], ["y", "idx"], opset=12))


def test_used_dropout_mask_and_layer_norm_statistics_match_onnxruntime() -> None:
    """Unlike MaxPool's indices, these extra outputs are cheap to compute from core ops."""
    x = value_info("x", np.float32, (2, 3, 4))
    dropout = helper.make_node("Dropout", ["x"], ["d", "mask"])
    model = make_model([dropout, helper.make_node("Not", ["mask"], ["z"])], [x], ["d", "z"],
                       opset=13)
    check_vs_ort(model, {"x": rand(2, 3, 4)})
    norm = helper.make_node("LayerNormalization", ["x", "s"], ["y", "mean", "inv"], axis=1)
    model = make_model([norm], [x], ["y", "mean", "inv"], {"s": rand(3, 4)}, opset=17)
    check_vs_ort(model, {"x": rand(2, 3, 4)}, rtol=1e-4, atol=1e-5)


def test_supported_onnx_ops_table() -> None:
    table = supported_onnx_ops()
    assert table["Relu"] == (1, 6, 13, 14)
    assert table["Upsample"] == (7, 9)
    assert table["Resize"] == (10, 11, 13, 18, 19)
    assert "Tile" in table and 1 not in table["Tile"]
    assert all(1 <= v <= 21 for versions in table.values() for v in versions)
    assert len(table) >= 69


# -- specialisation -----------------------------------------------------------------------------
def test_symbolic_dims_resolved_from_shapes() -> None:
    graph = import_model(relu_model(("batch", 3, None)), shapes={"x": [2, 3, 5]})
    assert graph.inputs[0].shape == (2, 3, 5)
    assert graph.outputs[0].shape == (2, 3, 5)


def test_unresolved_symbolic_dim_names_input_and_dim() -> None:
    with pytest.raises(ShapeError) as err:
        import_model(relu_model(("batch", 3, 224)))
    line = err.value.one_line()
    assert "'x'" in line and "'batch'" in line and "--shape x=1,3,224" in line


def test_unknown_dim_and_missing_shape() -> None:
    with pytest.raises(ShapeError, match="unknown dim at axis 1"):
        import_model(relu_model((1, None)))
    with pytest.raises(ShapeError, match="no shape"):
        import_model(relu_model(None))
    assert import_model(relu_model(None), shapes={"x": (4, 2)}).inputs[0].shape == (4, 2)


def test_shape_for_unknown_input() -> None:
    with pytest.raises(ShapeError) as err:
        import_model(relu_model((2, 3)), shapes={"image": [2, 3]})
    assert "'image'" in err.value.message and "x" in err.value.hint


def test_shape_rank_mismatch() -> None:
    with pytest.raises(ShapeError, match="rank 3"):
        import_model(relu_model(("n", 3)), shapes={"x": [1, 3, 4]})


def test_shape_conflicts_with_static_dim() -> None:
    with pytest.raises(ShapeError, match="fixes it to 3"):
        import_model(relu_model(("n", 3)), shapes={"x": [1, 4]})


def test_shared_dim_param_binds_every_input() -> None:
    model = make_model([helper.make_node("Add", ["a", "b"], ["y"])],
                       [value_info("a", np.float32, ("n", 4)), value_info("b", np.float32, ("n", 1))],
                       ["y"])
    graph = import_model(model, shapes={"a": [5, 4]})
    assert [v.shape for v in graph.inputs] == [(5, 4), (5, 1)]
    with pytest.raises(ShapeError, match="'n' is 5"):
        import_model(model, shapes={"a": [5, 4], "b": [6, 1]})


def test_initializer_listed_as_input_is_a_constant() -> None:
    """Opset < 9 models list every initializer among the graph inputs too."""
    model = make_model([helper.make_node("Add", ["x", "w"], ["y"])],
                       [value_info("x", np.float32, (2, 3)), value_info("w", np.float32, (2, 3))],
                       ["y"], {"w": rand(2, 3)}, opset=8)
    graph = import_model(model)
    assert [v.name for v in graph.inputs] == ["x"]
    assert graph.nodes[0].inputs[1].is_const
    with pytest.raises(ShapeError, match="unknown input"):
        import_model(model, shapes={"w": [2, 3]})


def test_check_shapes_match() -> None:
    b = GraphBuilder("g")
    b.outputs(b.relu(b.input("x", (1, 3))))
    check_shapes_match(b.graph, {"x": [1, 3]})
    check_shapes_match(b.graph, None)
    with pytest.raises(ShapeError, match="disagrees"):
        check_shapes_match(b.graph, {"x": [2, 3]})
    with pytest.raises(ShapeError, match="disagrees"):
        check_shapes_match(b.graph, {"x": [1, 3, 1]})
    with pytest.raises(ShapeError, match="unknown input"):
        check_shapes_match(b.graph, {"y": [1, 3]})


# -- folding shape arithmetic -------------------------------------------------------------------
def dynamic_flatten_model() -> onnx.ModelProto:
    """y = reshape(x, [batch, -1]) with the batch read from the runtime shape, as exporters write."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"]),
        helper.make_node("Relu", ["flat"], ["y"]),
    ]
    inits = {"zero": np.array(0, np.int64), "axes0": np.array([0], np.int64),
             "minus1": np.array([-1], np.int64)}
    return make_model(nodes, [value_info("x", np.float32, ("batch", 3, 4, 4))], ["y"], inits,
                      opset=13)


def test_dynamic_model_becomes_static_without_shape_ops() -> None:
    x = rand(3, 3, 4, 4)
    graph = check_vs_ort(dynamic_flatten_model(), {"x": x}, shapes={"x": [3, 3, 4, 4]})
    assert ops(graph) == ["reshape", "relu"]
    assert graph.nodes[0].attrs["shape"] == (3, 48)
    assert graph.constants == {}  # the folded shape arrays are gone too


def test_float_shape_arithmetic_feeds_resize() -> None:
    """Exporters compute Resize sizes as Cast(Shape) * scale in float; that must still import."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Slice", ["s", "two", "four"], ["hw"]),
        helper.make_node("Cast", ["hw"], ["hwf"], to=onnx.TensorProto.FLOAT),
        helper.make_node("Mul", ["hwf", "scale"], ["hw2f"]),
        helper.make_node("Cast", ["hw2f"], ["hw2"], to=onnx.TensorProto.INT64),
        helper.make_node("Slice", ["s", "zero", "two"], ["nc"]),
        helper.make_node("Concat", ["nc", "hw2"], ["sizes"], axis=0),
        helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest"),
    ]
    inits = {"two": np.array([2], np.int64), "four": np.array([4], np.int64),
             "zero": np.array([0], np.int64), "scale": np.array([2.0, 2.0], np.float32)}
    model = make_model(nodes, [value_info("x", np.float32, ("n", 2, 3, 5))], ["y"], inits, opset=13)
    graph = check_vs_ort(model, {"x": rand(1, 2, 3, 5)}, shapes={"x": [1, 2, 3, 5]})
    assert ops(graph) == ["resize"]
    assert graph.outputs[0].shape == (1, 2, 6, 10)


def test_int_computation_on_runtime_values_stays_a_node() -> None:
    model = make_model([helper.make_node("Add", ["a", "one"], ["y"])],
                       [value_info("a", np.int64, (3,))], ["y"], {"one": np.array(1, np.int64)})
    graph = check_vs_ort(model, {"a": np.array([1, 2, 3], np.int64)})
    assert ops(graph) == ["add"]


def test_float_computation_on_constants_stays_a_node() -> None:
    model = make_model([helper.make_node("Mul", ["w", "w"], ["w2"]),
                        helper.make_node("Add", ["x", "w2"], ["y"])],
                       [value_info("x", np.float32, (2,))], ["y"],
                       {"w": np.array([1.5, 2], np.float32)})
    assert ops(check_vs_ort(model, {"x": rand(2)})) == ["mul", "add"]


def test_constant_ops_become_constants() -> None:
    nodes = [
        helper.make_node("Constant", [], ["c"], value_floats=[1.0, 2.0]),
        helper.make_node("ConstantOfShape", ["shape"], ["z"],
                         value=helper.make_tensor("v", onnx.TensorProto.FLOAT, [1], [0.5])),
        helper.make_node("Range", ["r0", "r1", "r2"], ["r"]),
        helper.make_node("Add", ["x", "c"], ["a"]),
        helper.make_node("Add", ["a", "z"], ["b"]),
        helper.make_node("Add", ["b", "r"], ["y"]),
    ]
    inits = {"shape": np.array([3, 2], np.int64), "r0": np.array(0.5, np.float32),
             "r1": np.array(1.5, np.float32), "r2": np.array(0.5, np.float32)}
    graph = check_vs_ort(make_model(nodes, [value_info("x", np.float32, (3, 2))], ["y"], inits,
                                    opset=13), {"x": rand(3, 2)})
    assert ops(graph) == ["add", "add", "add"]


def test_shape_output_as_graph_output() -> None:
    model = make_model([helper.make_node("Shape", ["x"], ["s"], start=1, end=-1),
                        helper.make_node("Size", ["x"], ["n"])],
                       [value_info("x", np.float32, ("b", 3, 4, 5))], ["s", "n"], opset=15)
    graph = check_vs_ort(model, {"x": rand(2, 3, 4, 5)}, shapes={"x": (2, 3, 4, 5)})
    assert graph.nodes == [] and [v.name for v in graph.outputs] == ["s", "n"]


# -- constants that must be bound ----------------------------------------------------------------
def reshape_by_input_model() -> onnx.ModelProto:
    return make_model([helper.make_node("Reshape", ["x", "shape"], ["y"])],
                      [value_info("x", np.float32, (2, 6)), value_info("shape", np.int64, (2,))],
                      ["y"], opset=13)


def test_shape_defining_graph_input_needs_binding() -> None:
    with pytest.raises(NeedsConstantError) as err:
        import_model(reshape_by_input_model())
    assert err.value.names == ["shape"]


def test_needs_constant_lists_every_input_up_front() -> None:
    nodes = [helper.make_node("Add", ["s", "one"], ["s1"]),
             helper.make_node("Reshape", ["x", "s1"], ["r"]),
             helper.make_node("Clip", ["r", "lo", "hi"], ["y"])]
    inputs = [value_info("x", np.float32, (2, 6)), value_info("s", np.int64, (2,)),
              value_info("lo", np.float32, ()), value_info("hi", np.float32, ())]
    model = make_model(nodes, inputs, ["y"], {"one": np.array(1, np.int64)}, opset=13)
    with pytest.raises(NeedsConstantError) as err:
        import_model(model)
    assert sorted(err.value.names) == ["hi", "lo", "s"]


def test_bind_makes_inputs_constant() -> None:
    shape = np.array([3, 4], np.int64)
    graph = check_vs_ort(reshape_by_input_model(), {"x": rand(2, 6), "shape": shape},
                         bind={"shape": shape})
    assert [v.name for v in graph.inputs] == ["x"]
    assert ops(graph) == ["reshape"]
    with pytest.raises(ShapeError, match="unknown input"):
        import_model(reshape_by_input_model(), bind={"nope": shape})


# -- names ----------------------------------------------------------------------------------------
def test_onnx_names_are_kept() -> None:
    nodes = [helper.make_node("Relu", ["input.1"], ["conv_out"]),
             helper.make_node("Sigmoid", ["conv_out"], ["prob:0"]),
             helper.make_node("Flatten", ["conv_out"], ["flat"], axis=0)]
    model = make_model(nodes, [value_info("input.1", np.float32, (2, 3))], ["prob:0", "flat"])
    model.graph.name = "my net"
    graph = import_model(model)
    assert graph.name == "my net"
    assert [v.name for v in graph.inputs] == ["input.1"]
    assert [v.name for v in graph.outputs] == ["prob:0", "flat"]
    assert graph.nodes[0].outputs[0].name == "conv_out"


def test_graph_input_and_initializer_as_outputs() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [value_info("x", np.float32, (2,))],
                       ["y", "x", "w"], {"w": np.array([1.0, 2.0], np.float32)})
    graph = import_model(model)
    assert [v.name for v in graph.outputs] == ["y", "x", "w"]
    out = interp.run(graph, {"x": np.array([-1.0, 1.0], np.float32)})
    np.testing.assert_array_equal(out["w"], [1.0, 2.0])


def test_output_name_colliding_with_an_intermediate_is_kept() -> None:
    """Conv 1-D emits intermediates named after its output; a later ONNX tensor may reuse one."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Relu", ["c"], ["c.conv2d"])]
    model = make_model(nodes, [value_info("x", np.float32, (1, 2, 8))], ["c.conv2d"],
                       {"w": rand(3, 2, 3)})
    graph = check_vs_ort(model, {"x": rand(1, 2, 8)})
    assert [v.name for v in graph.outputs] == ["c.conv2d"]


def test_unsorted_nodes_are_sorted() -> None:
    nodes = [helper.make_node("Sigmoid", ["a"], ["y"]), helper.make_node("Relu", ["x"], ["a"])]
    graph = import_model(make_model(nodes, [value_info("x", np.float32, (2,))], ["y"]))
    assert ops(graph) == ["relu", "sigmoid"]


def test_legacy_broadcast_attribute() -> None:
    """Opset < 7 Add with broadcast=1, axis=1 aligns b with axis 1 (onnxruntime has no Add-6)."""
    model = make_model([helper.make_node("Add", ["x", "b"], ["y"], broadcast=1, axis=1)],
                       [value_info("x", np.float32, (2, 3, 4, 5))], ["y"],
                       {"b": np.arange(3, dtype=np.float32)}, opset=6)
    x = rand(2, 3, 4, 5)
    out = interp.run(import_model(model), {"x": x})["y"]
    np.testing.assert_allclose(out, x + np.arange(3, dtype=np.float32).reshape(3, 1, 1))


def test_reshape_mismatch_names_the_node() -> None:
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="bad_reshape")],
                       [value_info("x", np.float32, (2, 3))], ["y"],
                       {"s": np.array([4, -1], np.int64)}, opset=13)
    with pytest.raises(ShapeError, match="Reshape node 'bad_reshape'"):
        import_model(model)


def test_zoo_transformer_with_symbolic_dims_folds_its_shape_arithmetic() -> None:
    """The zoo's tiny transformer splits and merges attention heads with Shape → Gather →
    Unsqueeze → Concat → Reshape. With its input made symbolic, --shape must make it static."""
    from mlc.testing.models import zoo_model_path

    path = zoo_model_path("tiny_transformer")
    model = onnx.load(str(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    static = [d.dim_value for d in dims]
    dims[0].dim_param = "batch"
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 10, static).astype(np.int64)
    graph = check_vs_ort(model, {model.graph.input[0].name: tokens},
                         shapes={model.graph.input[0].name: static}, rtol=1e-4, atol=1e-5)
    assert "concat" not in ops(graph)
    assert all(v.dtype.is_float for n in graph.nodes for v in n.outputs if n.op != "gather")


def test_unsorted_nodes_sort_depth_first_from_the_first_node() -> None:
    """Each node, in file order, is placed right after the producers it still waits for, so a
    sorted graph keeps its order and an unsorted one moves as little as it must."""
    from mlc.frontend.importer import sorted_nodes

    nodes = [helper.make_node("Relu", ["c"], ["d"], name="D"),
             helper.make_node("Relu", ["x"], ["a"], name="A"),
             helper.make_node("Relu", ["x"], ["b"], name="B"),
             helper.make_node("Relu", ["a"], ["c"], name="C")]
    graph = helper.make_graph(nodes, "g", [], [])
    assert [n.name for n in sorted_nodes(graph, {"x"})] == ["A", "C", "D", "B"]
    cycle = helper.make_graph([helper.make_node("Relu", ["b"], ["a"]),
                               helper.make_node("Relu", ["a"], ["b"])], "g", [], [])
    with pytest.raises(ModelLoadError, match="cycle through tensor"):
        sorted_nodes(cycle, {"x"})
    dangling = helper.make_graph([helper.make_node("Relu", ["a"], ["b"]),
                                  helper.make_node("Relu", ["nope"], ["a"], name="N")], "g", [], [])
    with pytest.raises(ModelLoadError, match="node 'N' reads tensor 'nope'"):
        sorted_nodes(dangling, {"x"})


def test_needed_constants_trace_each_shape_input_in_node_order() -> None:
    from mlc.frontend.importer import needed_constants

    nodes = [helper.make_node("Reshape", ["x", "a"], ["r"]),
             helper.make_node("Clip", ["r", "lo", "hi"], ["y"]),
             helper.make_node("Add", ["s", "t"], ["a"]),
             helper.make_node("Shape", ["x"], ["shp"]),
             helper.make_node("Expand", ["x", "shp"], ["e"])]
    assert needed_constants(nodes, {"x", "s", "t", "lo", "hi"}) == ["t", "s", "lo", "hi"]
