"""Small ONNX models for the importer tests, and the check every converter test makes: import the
model, run it with the reference interpreter, run it with onnxruntime, compare.

Import as ``from tests.frontend.onnx_models import ...`` (pytest uses --import-mode=importlib).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import onnx
from onnx import helper

from mlc import interp
from mlc.frontend import import_model
from mlc.ir import Graph

IR_VERSION_FOR_OPSET = {1: 3, 6: 3, 7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8,
                        16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}


def value_info(name: str, dtype: Any,
               shape: Sequence[int | str | None] | None) -> onnx.ValueInfoProto:
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return helper.make_tensor_value_info(name, elem, None if shape is None else list(shape))


def make_model(nodes: Sequence[onnx.NodeProto], inputs: Sequence[onnx.ValueInfoProto],
               outputs: Sequence[str], initializers: Mapping[str, np.ndarray] | None = None,
               opset: int = 17, name: str = "test", extra_opsets: Mapping[str, int] | None = None
               ) -> onnx.ModelProto:
    inits = [onnx.numpy_helper.from_array(np.asarray(a), n) for n, a in (initializers or {}).items()]
    graph = helper.make_graph(list(nodes), name, list(inputs),
                              [helper.make_empty_tensor_value_info(o) for o in outputs], inits)
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    return helper.make_model(graph, opset_imports=opsets,
                             ir_version=IR_VERSION_FOR_OPSET.get(opset, 10))


def node_model(op_type: str, inputs: Mapping[str, np.ndarray | None], attrs: Mapping[str, Any],
               *, opset: int, constant: Sequence[str] = (), outputs: int | Sequence[str] = 1
               ) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """A one-node model; inputs named in ``constant`` become initializers, ``None`` inputs are
    omitted optional inputs. Returns the model and the feeds for the remaining inputs."""
    out_names = [f"y{i}" for i in range(outputs)] if isinstance(outputs, int) else list(outputs)
    names = [n if a is not None else "" for n, a in inputs.items()]
    while names and not names[-1]:
        names.pop()
    node = helper.make_node(op_type, names, out_names, name=f"the_{op_type.lower()}", **attrs)
    feeds = {n: np.asarray(a) for n, a in inputs.items() if a is not None and n not in constant}
    inits = {n: np.asarray(inputs[n]) for n in constant}
    infos = [value_info(n, a.dtype, a.shape) for n, a in feeds.items()]
    return make_model([node], infos, out_names, inits, opset=opset), feeds


def run_ort(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds))))


def check_vs_ort(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], *,
                 shapes: Mapping[str, Sequence[int]] | None = None,
                 bind: Mapping[str, np.ndarray] | None = None,
                 rtol: float = 1e-5, atol: float = 1e-5) -> Graph:
    """Import ``model``, run it with mlc's interpreter and with onnxruntime, assert they agree."""
    graph = import_model(model, shapes=shapes, bind=bind)
    ours = interp.run(graph, {k: v for k, v in feeds.items() if k not in (bind or {})})
    theirs = run_ort(model, {**feeds, **(bind or {})})
    assert list(ours) == list(theirs), "output names differ"
    for name, expected in theirs.items():
        got = ours[name]
        assert got.shape == expected.shape, f"{name}: shape {got.shape} vs ort {expected.shape}"
        assert got.dtype == expected.dtype, f"{name}: dtype {got.dtype} vs ort {expected.dtype}"
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=name)
    return graph


def ops(graph: Graph) -> list[str]:
    return [node.op for node in graph.nodes]


def rand(*shape: int, seed: int = 0, dtype: Any = np.float32, low: float = -1.0,
         high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)
