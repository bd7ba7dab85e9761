"""Run one ONNX node in onnxruntime: the yardstick that op tests compare the numpy kernels against.

Building a one-node model by hand in every test is noisy; this helper turns an op type, named input
arrays and attributes into a model, runs it on the CPU provider with one thread, and returns the
outputs. Input names in ``inputs`` are used as the ONNX input names in order; an input given as
``None`` becomes an omitted optional input (empty name), as ONNX spells it.

Import it as ``from tests.ops.onnx_helpers import run_onnx_node`` (pytest runs with
``--import-mode=importlib``, so sibling modules are not on ``sys.path``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper

_IR_VERSION_FOR_OPSET = {7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8,
                         18: 8, 19: 9, 20: 9, 21: 10}


def _value_info(name: str, array: np.ndarray) -> onnx.ValueInfoProto:
    elem = helper.np_dtype_to_tensor_dtype(array.dtype)
    return helper.make_tensor_value_info(name, elem, list(array.shape))


def make_onnx_node_model(op_type: str, inputs: dict[str, np.ndarray | None], attrs: dict[str, Any],
                         outputs: int | list[str] = 1, opset: int = 17,
                         domain: str = "") -> onnx.ModelProto:
    """A model with one node whose graph inputs are the non-None ``inputs``.

    Output types are left unspecified (ORT infers them), so the helper works for any op.
    """
    out_names = [f"out{i}" for i in range(outputs)] if isinstance(outputs, int) else list(outputs)
    in_names = [name if arr is not None else "" for name, arr in inputs.items()]
    while in_names and not in_names[-1]:
        in_names.pop()  # trailing optional inputs are left out (onnxruntime crashes on some "")
    node = helper.make_node(op_type, in_names, out_names, domain=domain, **attrs)
    graph_inputs = [_value_info(n, np.asarray(a)) for n, a in inputs.items() if a is not None]
    graph_outputs = [helper.make_empty_tensor_value_info(n) for n in out_names]
    graph = helper.make_graph([node], f"one_{op_type}", graph_inputs, graph_outputs)
    opsets = [helper.make_opsetid("", opset)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    return helper.make_model(graph, opset_imports=opsets,
                             ir_version=_IR_VERSION_FOR_OPSET.get(opset, 8))


def run_onnx_node(op_type: str, inputs: dict[str, np.ndarray | None], attrs: dict,
                  outputs: int | list[str] = 1, opset: int = 17,
                  domain: str = "") -> list[np.ndarray]:
    """Run one ONNX node in onnxruntime (CPU, one thread) and return its outputs in order."""
    import onnxruntime as ort

    model = make_onnx_node_model(op_type, inputs, attrs, outputs, opset, domain)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    feeds = {n: np.asarray(a) for n, a in inputs.items() if a is not None}
    return [np.asarray(r) for r in session.run(None, feeds)]


def run_core_op(op: str, inputs: list[np.ndarray | None],
                attrs: dict | None = None) -> list[np.ndarray]:
    """Run core op ``op``'s numpy kernel and check it against the op's own ``infer``.

    Every output must have exactly the shape and dtype that type inference promised: the
    interpreter and the backends rely on that agreement.
    """
    from mlc.ir.types import TensorType
    from mlc.ops import get_op

    opdef = get_op(op)
    norm = opdef.normalize_attrs(attrs or {})
    types = opdef.infer_types([None if a is None else TensorType.of(a) for a in inputs], norm)
    results = opdef.compute(inputs, norm)
    assert len(results) == len(types), \
        f"{op}: kernel gave {len(results)} outputs, infer {len(types)}"
    for result, expected in zip(results, types):
        got = TensorType.of(result)
        assert got == expected, f"{op}: kernel returned {got}, infer says {expected}"
    return results
