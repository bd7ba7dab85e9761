"""Layer helpers that write ONNX nodes the way a training framework's exporter would.

Each helper appends nodes and initializers to a `GraphMaker`, computes its output shape itself and
adds its multiply-accumulates to a running total, so a builder's MAC count comes from the layer
shapes and not from a second tool that might share a bug with mlc's cost model. Only Conv, Gemm
and MatMul count as MACs (the convention `mlc show --stats` follows).

Names follow PyTorch's exporter: parameters are `layer.weight`, nodes `/layer/Conv`, values
`/layer/Conv_output_0`. Weights and statistics are initializers; scalars and shape vectors are
`Constant` nodes, so "params" (the sum of initializer sizes) counts exactly the model's tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # the IR version that introduced opset 17: loadable by every onnxruntime ≥ 1.12
PRODUCER = "mlc-zoo"

_NP_TO_ONNX = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64}


@dataclass(frozen=True)
class T:
    """A value in the graph being built: its name, static shape and numpy dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype = np.dtype(np.float32)


def conv_out(size: int, k: int, stride: int, pad_begin: int, pad_end: int, dilation: int = 1) -> int:
    return (size + pad_begin + pad_end - dilation * (k - 1) - 1) // stride + 1


def same_upper_pads(size: int, k: int, stride: int) -> tuple[int, int]:
    """TensorFlow/ONNX SAME_UPPER padding: output = ceil(size/stride), the odd pixel goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def broadcast(*shapes: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(d) for d in np.broadcast_shapes(*(tuple(s) for s in shapes)))


class GraphMaker:
    """Accumulates one ONNX graph: nodes, initializers, and the MAC count of what it holds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[T] = []
        self.macs = 0
        self._used: dict[str, int] = {}

    # -- naming and raw construction ------------------------------------------------------------
    def _unique(self, base: str) -> str:
        n = self._used.get(base, 0)
        self._used[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def input(self, name: str, shape: Sequence[int], dtype=np.float32) -> T:
        t = T(name, tuple(shape), np.dtype(dtype))
        self.inputs.append(t)
        return t

    def param(self, name: str, array: np.ndarray) -> T:
        """A weight or statistic, stored as an initializer (float32 unless it is an index table)."""
        array = np.ascontiguousarray(array)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        name = self._unique(name)
        self.initializers.append(numpy_helper.from_array(array, name))
        return T(name, tuple(array.shape), array.dtype)

    def const(self, array: np.ndarray | float | int | Sequence[int], scope: str) -> T:
        """A `Constant` node, as exporters write scalars and shape vectors."""
        if isinstance(array, float):
            array = np.array(array, np.float32)
        elif isinstance(array, int):
            array = np.array(array, np.int64)
        array = np.asarray(array)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        node_name = self._unique(f"{scope}/Constant")
        out = f"{node_name}_output_0"
        self.nodes.append(helper.make_node("Constant", [], [out], name=node_name,
                                           value=numpy_helper.from_array(array, out)))
        return T(out, tuple(array.shape), array.dtype)

    def node(self, op: str, inputs: Sequence[T | None], shape: Sequence[int], scope: str,
             dtype=np.float32, **attrs) -> T:
        node_name = self._unique(f"{scope}/{op}")
        out = f"{node_name}_output_0"
        names = ["" if t is None else t.name for t in inputs]
        self.nodes.append(helper.make_node(op, names, [out], name=node_name, **attrs))
        return T(out, tuple(int(d) for d in shape), np.dtype(dtype))

    # -- layers ---------------------------------------------------------------------------------
    def conv(self, x: T, w: T, b: T | None, scope: str, strides=(1, 1), pads=(0, 0, 0, 0),
             group: int = 1, auto_pad: str | None = None) -> T:
        n, cin, h, wd = x.shape
        cout, cin_g, kh, kw = w.shape
        assert cin_g * group == cin, f"{scope}: weight {w.shape} does not fit input {x.shape}"
        attrs: dict = {"kernel_shape": [kh, kw], "strides": list(strides), "group": group,
                       "dilations": [1, 1]}
        if auto_pad is not None:
            assert auto_pad == "SAME_UPPER"
            (pt, pb), (pl, pr) = same_upper_pads(h, kh, strides[0]), same_upper_pads(wd, kw, strides[1])
            attrs["auto_pad"] = auto_pad
        else:
            pt, pl, pb, pr = pads
            attrs["pads"] = list(pads)
        ho, wo = conv_out(h, kh, strides[0], pt, pb), conv_out(wd, kw, strides[1], pl, pr)
        self.macs += n * cout * ho * wo * cin_g * kh * kw
        return self.node("Conv", [x, w] + ([b] if b is not None else []), (n, cout, ho, wo), scope,
                         **attrs)

    def gemm(self, a: T, w: T, b: T | None, scope: str) -> T:
        """Gemm with B transposed (w is [N, K]), as PyTorch exports nn.Linear on a 2-D input."""
        m, k = a.shape
        n, k2 = w.shape
        assert k == k2, f"{scope}: {a.shape} @ {w.shape}ᵀ"
        self.macs += m * n * k
        return self.node("Gemm", [a, w] + ([b] if b is not None else []), (m, n), scope,
                         alpha=1.0, beta=1.0, transB=1)

    def matmul(self, a: T, b: T, scope: str) -> T:
        assert len(a.shape) >= 2 and len(b.shape) >= 2 and a.shape[-1] == b.shape[-2], (a, b)
        batch = broadcast(a.shape[:-2], b.shape[:-2])
        m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
        self.macs += math.prod(batch) * m * n * k
        return self.node("MatMul", [a, b], batch + (m, n), scope)

    def linear(self, x: T, w: T, b: T, scope: str) -> T:
        """MatMul + Add, as exporters write nn.Linear on a rank-3 input (w is [K, N])."""
        y = self.matmul(x, w, scope)
        return self.add(y, b, scope)

    def batch_norm(self, x: T, scale: T, bias: T, mean: T, var: T, scope: str,
                   epsilon: float = 1e-5) -> T:
        return self.node("BatchNormalization", [x, scale, bias, mean, var], x.shape, scope,
                         epsilon=epsilon, momentum=0.9)

    def layer_norm(self, x: T, scale: T, bias: T, scope: str, epsilon: float = 1e-5) -> T:
        return self.node("LayerNormalization", [x, scale, bias], x.shape, scope, axis=-1,
                         epsilon=epsilon)

    def relu(self, x: T, scope: str) -> T:
        return self.node("Relu", [x], x.shape, scope)

    def relu6(self, x: T, scope: str) -> T:
        """ReLU6 as Clip with min/max inputs (opset ≥ 11), the way tf2onnx and PyTorch write it."""
        lo, hi = self.const(0.0, scope), self.const(6.0, scope)
        return self.node("Clip", [x, lo, hi], x.shape, scope)

    def softmax(self, x: T, scope: str, axis: int = -1) -> T:
        return self.node("Softmax", [x], x.shape, scope, axis=axis)

    def add(self, a: T, b: T, scope: str) -> T:
        return self.node("Add", [a, b], broadcast(a.shape, b.shape), scope, dtype=a.dtype)

    def binary(self, op: str, a: T, b: T, scope: str) -> T:
        return self.node(op, [a, b], broadcast(a.shape, b.shape), scope, dtype=a.dtype)

    def max_pool(self, x: T, k: int, stride: int, scope: str) -> T:
        n, c, h, w = x.shape
        shape = (n, c, conv_out(h, k, stride, 0, 0), conv_out(w, k, stride, 0, 0))
        return self.node("MaxPool", [x], shape, scope, kernel_shape=[k, k], strides=[stride, stride],
                         pads=[0, 0, 0, 0])

    def avg_pool(self, x: T, kernel: tuple[int, int], scope: str) -> T:
        """AveragePool over a kernel that covers the whole map, as Keras' AveragePooling2D exports."""
        n, c, h, w = x.shape
        shape = (n, c, conv_out(h, kernel[0], kernel[0], 0, 0), conv_out(w, kernel[1], kernel[1], 0, 0))
        return self.node("AveragePool", [x], shape, scope, kernel_shape=list(kernel),
                         strides=list(kernel), pads=[0, 0, 0, 0])

    def flatten(self, x: T, scope: str) -> T:
        return self.node("Flatten", [x], (x.shape[0], math.prod(x.shape[1:])), scope, axis=1)

    def transpose(self, x: T, perm: Sequence[int], scope: str) -> T:
        return self.node("Transpose", [x], tuple(x.shape[p] for p in perm), scope, perm=list(perm))

    def reshape(self, x: T, shape_tensor: T, shape: Sequence[int], scope: str) -> T:
        assert math.prod(shape) == math.prod(x.shape), (x.shape, shape)
        return self.node("Reshape", [x, shape_tensor], shape, scope)

    # -- finishing ------------------------------------------------------------------------------
    def model(self, outputs: Sequence[T], doc: str) -> onnx.ModelProto:
        def info(t: T) -> onnx.ValueInfoProto:
            return helper.make_tensor_value_info(t.name, _NP_TO_ONNX[t.dtype], list(t.shape))

        graph = helper.make_graph(self.nodes, self.name, [info(t) for t in self.inputs],
                                  [info(t) for t in outputs], self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name=PRODUCER, producer_version="1", doc_string=doc)
        model.ir_version = IR_VERSION
        return model

    def rename_output(self, t: T, name: str) -> T:
        """Give the last node's output the graph-output name (`output`) instead of its own."""
        last = self.nodes[-1]
        assert last.output[0] == t.name, "rename_output must follow the node that made t"
        last.output[0] = name
        return T(name, t.shape, t.dtype)


def params_of(model: onnx.ModelProto) -> int:
    """The model's parameter count: elements of all initializers (weights, biases, BN statistics)."""
    return sum(math.prod(init.dims) for init in model.graph.initializer)
