"""A tiny MLP as both an ONNX model and the equivalent hand-built mlc graph.

Runtime tests must not depend on the ONNX importer: ``Model.from_graph`` pairs the graph (run by
the ``ref`` target) with the ONNX bytes (run by onnxruntime, the reference).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlc.ir import GraphBuilder

RNG = np.random.default_rng(1234)
W = RNG.standard_normal((4, 3)).astype(np.float32)
B = RNG.standard_normal((3,)).astype(np.float32)


def mlp_onnx(w: np.ndarray = W, b: np.ndarray = B) -> bytes:
    """y = relu(x @ w + b) with x: f32[2,4]."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["z"]),
             helper.make_node("Relu", ["z"], ["y"])]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def mlp_graph(w: np.ndarray = W, b: np.ndarray = B):
    g = GraphBuilder("mlp")
    x = g.input("x", (2, 4))
    y = g.relu(g.add(g.matmul(x, g.const(w, name="w")), g.const(b, name="b")))
    g.outputs(y)
    return g.graph


@pytest.fixture
def mlp():
    """The builders, for tests that vary the weights on one side only."""
    import types

    return types.SimpleNamespace(W=W, B=B, graph=mlp_graph, onnx=mlp_onnx)


@pytest.fixture
def mlp_model():
    from mlc.runtime import Model

    return Model.from_graph(mlp_graph(), onnx_model=mlp_onnx())


@pytest.fixture
def feeds():
    return {"x": np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)}
