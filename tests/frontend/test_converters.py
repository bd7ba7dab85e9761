"""Every converter, across its opset variants: import a one-node model, check the core ops it
became, and check the interpreter's result against onnxruntime's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from tests.frontend.onnx_models import check_vs_ort, node_model, ops, rand

I64_MAX = np.iinfo(np.int64).max


def i64(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def f32(*values: float) -> np.ndarray:
    return np.array(values, np.float32)


@dataclass
class Case:
    id: str
    op: str
    inputs: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)
    opset: int = 17
    constant: tuple[str, ...] = ()
    core: list[str] | None = None  # the core ops the node must become (None: not checked)
    outputs: int = 1
    tol: float = 1e-5


X4 = rand(2, 4, 7, 6)
X3 = rand(2, 4, 9)
POS = rand(2, 3, 4, low=0.1, high=2.0)
A = rand(3, 4, seed=1)
B = rand(3, 4, seed=2)
ROW = rand(4, seed=3)

ELEMENTWISE = [
    Case("relu-6", "Relu", {"x": A}, opset=6, core=["relu"]),
    Case("relu-14", "Relu", {"x": A}, opset=14, core=["relu"]),
    *[Case(f"{op.lower()}", op, {"x": POS if op in ("Sqrt", "Log") else A}, core=[core])
      for op, core in [("Sigmoid", "sigmoid"), ("Tanh", "tanh"), ("Erf", "erf"), ("Sqrt", "sqrt"),
                       ("Exp", "exp"), ("Log", "log"), ("Neg", "neg"), ("Abs", "abs"),
                       ("Reciprocal", "reciprocal"), ("Identity", "identity")]],
    Case("not", "Not", {"x": A > 0}, core=["not"]),
    Case("hardswish-14", "HardSwish", {"x": A * 5}, opset=14, core=["hard_swish"]),
    Case("hardsigmoid-6", "HardSigmoid", {"x": A * 5}, {"alpha": 0.3, "beta": 0.4}, opset=6,
         core=["hard_sigmoid"]),
    Case("leakyrelu-6", "LeakyRelu", {"x": A}, {"alpha": 0.2}, opset=6, core=["leaky_relu"]),
    Case("leakyrelu-16-default", "LeakyRelu", {"x": A}, opset=16, core=["leaky_relu"]),
    Case("gelu-none", "Gelu", {"x": A * 3}, opset=20, core=["gelu"]),
    Case("gelu-tanh", "Gelu", {"x": A * 3}, {"approximate": "tanh"}, opset=20, core=["gelu"]),
    Case("prelu-9-channel", "PRelu", {"x": X4, "s": rand(4, 1, 1, seed=5)}, opset=9,
         constant=("s",), core=["prelu"]),
    Case("prelu-16-scalar", "PRelu", {"x": X4, "s": f32(0.25)}, opset=16, core=["prelu"]),
    Case("clip-6-attrs", "Clip", {"x": A}, {"min": -0.5, "max": 0.25}, opset=6, core=["clip"]),
    Case("clip-13-inputs", "Clip", {"x": A, "lo": np.float32(-0.5), "hi": np.float32(0.3)},
         opset=13, constant=("lo", "hi"), core=["clip"]),
    Case("clip-13-min-only", "Clip", {"x": A, "lo": np.float32(0.1)}, opset=13, constant=("lo",),
         core=["clip"]),
    Case("clip-11-none", "Clip", {"x": A}, opset=11, core=["clip"]),
    *[Case(f"{op.lower()}-bcast", op, {"a": A, "b": ROW}, opset=14, core=[core])
      for op, core in [("Add", "add"), ("Sub", "sub"), ("Mul", "mul"), ("Div", "div")]],
    Case("pow-15", "Pow", {"a": POS, "b": f32(2.5)}, opset=15, core=["pow"]),
    Case("pow-int-exponent", "Pow", {"a": POS, "b": np.array(3, np.int64)}, opset=15, core=["pow"]),
    Case("div-int-truncates", "Div", {"a": np.array([7, -7, 9, -9], np.int32),
                                      "b": np.array([2, 2, -4, -4], np.int32)}, opset=13,
         core=["div"]),
    *[Case(f"{op.lower()}", op, {"a": A, "b": np.round(B)}, opset=13, core=[core])
      for op, core in [("Equal", "equal"), ("Less", "less"), ("Greater", "greater")]],
    Case("equal-int", "Equal", {"a": i64(1, 2, 3), "b": i64(1, 0, 3)}, opset=19, core=["equal"]),
    Case("where", "Where", {"c": A > 0, "a": A, "b": ROW}, opset=16, core=["where"]),
    Case("min-3", "Min", {"a": A, "b": B, "c": ROW}, opset=13, core=["min", "min"]),
    Case("max-1", "Max", {"a": A}, opset=13, core=["identity"]),
    Case("max-8", "Max", {"a": A, "b": ROW}, opset=8, core=["max"]),
    Case("sum-3", "Sum", {"a": A, "b": B, "c": ROW}, opset=13, core=["add", "add"]),
    Case("mean-3", "Mean", {"a": A, "b": B, "c": ROW}, opset=13, core=["add", "add", "div"]),
    Case("cast-float-int", "Cast", {"x": A * 10}, {"to": 6}, opset=13, core=["cast"]),
    Case("cast-float-f16", "Cast", {"x": A}, {"to": 10}, opset=19, core=["cast"]),
    Case("cast-int-float-6", "Cast", {"x": i64(3, -4)}, {"to": 1}, opset=6, core=["cast"]),
    Case("cast-bool", "Cast", {"x": A}, {"to": 9}, opset=21, core=["cast"]),
    Case("dropout-7", "Dropout", {"x": A}, {"ratio": 0.3}, opset=7, core=["dropout"]),
    Case("dropout-13-ratio", "Dropout", {"x": A, "r": np.float32(0.2)}, opset=13,
         constant=("r",), core=["dropout"]),
]

W = rand(6, 4, 3, 3, seed=7)
W_G = rand(6, 2, 3, 3, seed=8)
BIAS6 = rand(6, seed=9)

NN = [
    Case("conv-basic", "Conv", {"x": X4, "w": W, "b": BIAS6}, opset=11, constant=("w", "b"),
         core=["conv2d"], tol=1e-4),
    Case("conv-1", "Conv", {"x": X4, "w": W}, {"pads": [1, 1, 1, 1]}, opset=1, constant=("w",),
         core=["conv2d"], tol=1e-4),
    Case("conv-strides-dil-group", "Conv", {"x": X4, "w": W_G},
         {"strides": [2, 1], "dilations": [1, 2], "group": 2, "pads": [1, 0, 2, 1]},
         opset=11, constant=("w",), core=["conv2d"], tol=1e-4),
    *[Case(f"conv-{pad.lower()}", "Conv", {"x": X4, "w": W},
           {"auto_pad": pad, "strides": [2, 2], "kernel_shape": [3, 3]}, opset=11,
           constant=("w",), core=["conv2d"], tol=1e-4)
      for pad in ("SAME_UPPER", "SAME_LOWER", "VALID")],
    Case("conv-same-lower-even-kernel", "Conv", {"x": X4, "w": rand(3, 4, 2, 4, seed=3)},
         {"auto_pad": "SAME_LOWER"}, opset=11, constant=("w",), tol=1e-4),
    Case("conv-1d", "Conv", {"x": X3, "w": rand(5, 4, 3, seed=4), "b": rand(5)},
         {"pads": [2, 1], "strides": [2]}, opset=11, constant=("w", "b"),
         core=["reshape", "conv2d", "reshape"], tol=1e-4),
    Case("conv-1d-same", "Conv", {"x": X3, "w": rand(6, 2, 4, seed=4)},
         {"auto_pad": "SAME_UPPER", "group": 2, "strides": [2]}, opset=11, constant=("w",),
         tol=1e-4),
    Case("convtranspose-basic", "ConvTranspose", {"x": X4, "w": rand(4, 3, 3, 3), "b": rand(3)},
         {"strides": [2, 2], "pads": [1, 1, 1, 1]}, opset=11, constant=("w", "b"),
         core=["conv2d_transpose"], tol=1e-4),
    Case("convtranspose-outpad-group", "ConvTranspose", {"x": X4, "w": rand(4, 2, 3, 3)},
         {"strides": [2, 3], "output_padding": [1, 2], "group": 2, "dilations": [1, 2]},
         opset=11, constant=("w",), tol=1e-4),
    Case("convtranspose-output-shape", "ConvTranspose", {"x": X4, "w": rand(4, 3, 3, 3)},
         {"strides": [2, 2], "output_shape": [14, 12]}, opset=11, constant=("w",), tol=1e-4),
    Case("convtranspose-output-shape-even", "ConvTranspose", {"x": X4, "w": rand(4, 3, 3, 3)},
         {"strides": [2, 2], "output_shape": [13, 11]}, opset=11, constant=("w",), tol=1e-4),
    Case("convtranspose-output-shape-same-upper", "ConvTranspose",
         {"x": X4, "w": rand(4, 3, 3, 3)},
         {"strides": [2, 2], "output_shape": [14, 12], "auto_pad": "SAME_UPPER"}, opset=11,
         constant=("w",), tol=1e-4),
    Case("convtranspose-output-shape-larger", "ConvTranspose", {"x": X4, "w": rand(4, 3, 3, 3)},
         {"strides": [2, 2], "output_shape": [16, 14]}, opset=11, constant=("w",), tol=1e-4),
    *[Case(f"convtranspose-{pad.lower()}", "ConvTranspose", {"x": X4, "w": rand(4, 3, 4, 3)},
           {"strides": [2, 2], "auto_pad": pad}, opset=11, constant=("w",), tol=1e-4)
      for pad in ("SAME_UPPER", "SAME_LOWER", "VALID")],
    Case("convtranspose-1d", "ConvTranspose", {"x": X3, "w": rand(4, 2, 3)},
         {"strides": [2], "pads": [1, 0]}, opset=11, constant=("w",),
         core=["reshape", "conv2d_transpose", "reshape"], tol=1e-4),
    Case("gemm-trans", "Gemm", {"a": rand(4, 3), "b": rand(5, 4), "c": rand(5)},
         {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}, opset=13, constant=("b", "c"),
         core=["gemm"]),
    Case("gemm-7", "Gemm", {"a": rand(2, 4), "b": rand(4, 5), "c": rand(2, 5)}, opset=7,
         core=["gemm"]),
    Case("gemm-no-c", "Gemm", {"a": rand(2, 4), "b": rand(4, 5)}, opset=13, core=["gemm"]),
    Case("matmul-2d", "MatMul", {"a": rand(3, 4), "b": rand(4, 5)}, opset=13, core=["matmul"]),
    Case("matmul-batched", "MatMul", {"a": rand(2, 1, 3, 4), "b": rand(3, 4, 5)}, opset=13),
    Case("matmul-1d", "MatMul", {"a": rand(4), "b": rand(2, 4, 5)}, opset=9),
    Case("maxpool-8", "MaxPool", {"x": X4}, {"kernel_shape": [3, 3], "strides": [2, 2],
                                             "pads": [1, 1, 1, 1]}, opset=8, core=["max_pool2d"]),
    Case("maxpool-ceil-dil", "MaxPool", {"x": X4}, {"kernel_shape": [2, 2], "strides": [2, 2],
                                                    "ceil_mode": 1, "dilations": [2, 1]},
         opset=12, core=["max_pool2d"]),
    Case("maxpool-same", "MaxPool", {"x": X4}, {"kernel_shape": [3, 2], "strides": [2, 2],
                                                "auto_pad": "SAME_UPPER"}, opset=12),
    Case("maxpool-int8", "MaxPool", {"x": (X4 * 100).astype(np.int8)},
         {"kernel_shape": [2, 2]}, opset=12),
    Case("maxpool-1d", "MaxPool", {"x": X3}, {"kernel_shape": [3], "strides": [2]}, opset=12,
         core=["reshape", "max_pool2d", "reshape"]),
    Case("avgpool-7-include-pad", "AveragePool", {"x": X4},
         {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}, opset=7,
         core=["avg_pool2d"]),
    Case("avgpool-exclude-pad-ceil", "AveragePool", {"x": X4},
         {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1},
         opset=19),
    Case("avgpool-same-lower", "AveragePool", {"x": X4},
         {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_LOWER"}, opset=11),
    Case("avgpool-1d", "AveragePool", {"x": X3}, {"kernel_shape": [2], "strides": [2]}, opset=11),
    Case("globalavgpool", "GlobalAveragePool", {"x": X4}, core=["global_avg_pool"]),
    Case("globalmaxpool", "GlobalMaxPool", {"x": X3}, core=["global_max_pool"]),
]

NORM = [
    *[Case(f"batchnorm-{v}", "BatchNormalization",
           {"x": X4, "s": rand(4), "b": rand(4), "m": rand(4), "v": rand(4, low=0.5, high=2)},
           {"epsilon": 1e-3}, opset=v, constant=("s", "b", "m", "v"), core=["batch_norm"], tol=1e-4)
      for v in (7, 9, 15)],
    Case("layernorm-last", "LayerNormalization", {"x": X3, "s": rand(9), "b": rand(9)},
         opset=17, constant=("s", "b"), core=["layer_norm"], tol=1e-4),
    Case("layernorm-axis1-nobias", "LayerNormalization", {"x": X3, "s": rand(4, 9)},
         {"axis": 1, "epsilon": 1e-3}, opset=17, constant=("s",), tol=1e-4),
    Case("lrn", "LRN", {"x": X4}, {"size": 3, "alpha": 1e-3, "beta": 0.8, "bias": 2.0},
         opset=13, core=["lrn"]),
    Case("softmax-11-coerced", "Softmax", {"x": rand(2, 3, 4)}, {"axis": 1}, opset=11,
         core=["reshape", "softmax", "reshape"]),
    Case("softmax-11-default", "Softmax", {"x": rand(2, 3, 4)}, opset=11),
    Case("softmax-1-last", "Softmax", {"x": rand(3, 5)}, opset=1, core=["softmax"]),
    Case("softmax-13-axis", "Softmax", {"x": rand(2, 3, 4)}, {"axis": 1}, opset=13,
         core=["softmax"]),
    Case("logsoftmax-11", "LogSoftmax", {"x": rand(2, 3, 4)}, {"axis": 0}, opset=11),
    Case("logsoftmax-13", "LogSoftmax", {"x": rand(2, 3, 4)}, opset=13, core=["log_softmax"]),
]

REDUCE = [
    Case("reducemean-13-attr", "ReduceMean", {"x": X4}, {"axes": [1, -1], "keepdims": 0},
         opset=13, core=["reduce_mean"]),
    Case("reducemean-18-input", "ReduceMean", {"x": X4, "axes": i64(2)}, opset=18,
         constant=("axes",), core=["reduce_mean"]),
    Case("reducemean-18-all", "ReduceMean", {"x": X4}, {"keepdims": 0}, opset=18),
    Case("reducesum-11-attr", "ReduceSum", {"x": X4}, {"axes": [0, 2]}, opset=11, tol=1e-4),
    Case("reducesum-13-input", "ReduceSum", {"x": X4, "axes": i64(-1, 1)}, opset=13,
         constant=("axes",), tol=1e-4),
    Case("reducesum-13-noop", "ReduceSum", {"x": X4}, {"noop_with_empty_axes": 1}, opset=13,
         core=["identity"]),
    Case("reducemax-18", "ReduceMax", {"x": X4, "axes": i64(1)}, {"keepdims": 0}, opset=18,
         constant=("axes",), core=["reduce_max"]),
    Case("reducemax-12-all", "ReduceMax", {"x": X4}, opset=12),
    Case("reducemin-13", "ReduceMin", {"x": X4}, {"axes": [-2]}, opset=13, core=["reduce_min"]),
    Case("reducemin-20", "ReduceMin", {"x": X4, "axes": i64(0, 3)}, opset=20, constant=("axes",)),
]

SHAPE = [
    Case("reshape-0-minus1", "Reshape", {"x": X4, "s": i64(0, -1, 6)}, opset=13,
         constant=("s",), core=["reshape"]),
    Case("reshape-14-allowzero", "Reshape", {"x": X4, "s": i64(2, 28, 6)}, {"allowzero": 1},
         opset=14, constant=("s",)),
    Case("reshape-14-allowzero-literal-zero", "Reshape",
         {"x": np.zeros((2, 0, 3), np.float32), "s": i64(0, 3, 0)}, {"allowzero": 1}, opset=14,
         constant=("s",)),
    Case("reshape-14-zero-copies", "Reshape",
         {"x": np.zeros((2, 0, 3), np.float32), "s": i64(0, 3, -1)}, opset=14, constant=("s",)),
    Case("reshape-5", "Reshape", {"x": X4, "s": i64(-1)}, opset=5, constant=("s",)),
    Case("flatten-0", "Flatten", {"x": X4}, {"axis": 0}, opset=9, core=["reshape"]),
    Case("flatten-neg", "Flatten", {"x": X4}, {"axis": -1}, opset=13),
    Case("flatten-default", "Flatten", {"x": X4}, opset=21),
    Case("transpose-default", "Transpose", {"x": X4}, opset=13, core=["transpose"]),
    Case("transpose-perm", "Transpose", {"x": X4}, {"perm": [0, 2, 3, 1]}, opset=13),
    Case("squeeze-11-attr", "Squeeze", {"x": rand(1, 3, 1, 2)}, {"axes": [-2]}, opset=11,
         core=["reshape"]),
    Case("squeeze-13-input", "Squeeze", {"x": rand(1, 3, 1, 2), "a": i64(0, 2)}, opset=13,
         constant=("a",)),
    Case("squeeze-13-all", "Squeeze", {"x": rand(1, 3, 1, 2)}, opset=13),
    Case("unsqueeze-11-attr", "Unsqueeze", {"x": rand(3, 2)}, {"axes": [0, -1]}, opset=11,
         core=["reshape"]),
    Case("unsqueeze-13-input", "Unsqueeze", {"x": rand(3, 2), "a": i64(1, 3)}, opset=13,
         constant=("a",)),
    Case("concat-neg-axis", "Concat", {"a": A, "b": B, "c": rand(3, 2)}, {"axis": -1}, opset=13,
         core=["concat"]),
    Case("split-11-attr", "Split", {"x": rand(2, 7)}, {"axis": 1, "split": [3, 4]}, opset=11,
         outputs=2, core=["split"]),
    Case("split-13-input", "Split", {"x": rand(6, 2), "s": i64(1, 2, 3)}, opset=13,
         constant=("s",), outputs=3),
    Case("split-13-equal", "Split", {"x": rand(6, 2)}, opset=13, outputs=3),
    Case("split-18-num-outputs-uneven", "Split", {"x": rand(2, 7)},
         {"axis": -1, "num_outputs": 3}, opset=18, outputs=3),
    Case("slice-9-attrs", "Slice", {"x": X4}, {"starts": [1, -3], "ends": [100, -1],
                                              "axes": [1, 3]}, opset=9, core=["slice"]),
    Case("slice-13-neg-step", "Slice", {"x": X4, "st": i64(-1, 5), "en": i64(-I64_MAX, 0),
                                        "ax": i64(2, -1), "sp": i64(-2, -1)},
         opset=13, constant=("st", "en", "ax", "sp")),
    Case("slice-13-clamp", "Slice", {"x": X4, "st": i64(-100, 2), "en": i64(I64_MAX, 3)},
         opset=13, constant=("st", "en")),
    Case("slice-10-steps", "Slice", {"x": X4, "st": i64(0), "en": i64(7), "ax": i64(2),
                                     "sp": i64(3)}, opset=10, constant=("st", "en", "ax", "sp")),
    Case("slice-neg-step-past-start", "Slice", {"x": X4, "st": i64(100), "en": i64(-100),
                                                "ax": i64(1), "sp": i64(-1)},
         opset=13, constant=("st", "en", "ax", "sp")),
    Case("gather-axis1-neg", "Gather", {"x": X4, "i": np.array([[0, -1], [2, 1]], np.int64)},
         {"axis": 1}, opset=13, constant=("i",), core=["gather"]),
    Case("gather-scalar", "Gather", {"x": X4, "i": np.array(-2, np.int64)}, {"axis": -1},
         opset=13, constant=("i",)),
    Case("expand", "Expand", {"x": rand(3, 1), "s": i64(2, 1, 4)}, opset=13, constant=("s",),
         core=["expand"]),
    Case("tile", "Tile", {"x": rand(2, 3), "r": i64(2, 3)}, opset=13, constant=("r",),
         core=["tile"]),
    Case("pad-2-reflect", "Pad", {"x": X4}, {"pads": [0, 0, 1, 2, 0, 0, 2, 1], "mode": "reflect"},
         opset=2, core=["pad"]),
    Case("pad-13-value", "Pad", {"x": X4, "p": i64(0, 1, 0, 0, 0, 0, 2, 1), "v": np.float32(1.5)},
         opset=13, constant=("p", "v")),
    Case("pad-13-crop", "Pad", {"x": X4, "p": i64(0, 0, -1, 1, 0, 0, 1, -2)}, opset=13,
         constant=("p",)),
    Case("pad-19-wrap", "Pad", {"x": X4, "p": i64(0, 0, 2, 1, 0, 0, 1, 3)}, {"mode": "wrap"},
         opset=19, constant=("p",)),
    Case("pad-18-axes-edge", "Pad", {"x": X4, "p": i64(2, 1, 0, 3), "v": None, "a": i64(-1, 2)},
         {"mode": "edge"}, opset=18, constant=("p", "a")),
]

RESIZE = [
    Case("upsample-7-nearest", "Upsample", {"x": X4}, {"scales": [1.0, 1.0, 2.0, 3.0]}, opset=7,
         core=["resize"]),
    Case("upsample-9-linear", "Upsample", {"x": X4, "s": f32(1, 1, 2, 2)}, {"mode": "linear"},
         opset=9, constant=("s",)),
    Case("resize-10-nearest", "Resize", {"x": X4, "s": f32(1, 1, 2, 1.5)}, opset=10,
         constant=("s",), core=["resize"]),
    Case("resize-10-linear", "Resize", {"x": X4, "s": f32(1, 1, 1.5, 2)}, {"mode": "linear"},
         opset=10, constant=("s",)),
    Case("resize-10-nearest-mixed", "Resize", {"x": X4, "s": f32(1, 1, 0.5, 2.5)}, opset=10,
         constant=("s",)),
    Case("resize-13-cubic", "Resize", {"x": X4, "roi": None, "s": f32(1, 1, 1.7, 0.8)},
         {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": 1}, opset=13,
         constant=("s",)),
    Case("resize-11-sizes-linear", "Resize",
         {"x": X4, "roi": f32(), "s": f32(), "z": i64(2, 4, 10, 9)}, {"mode": "linear"},
         opset=11, constant=("roi", "s", "z")),
    Case("resize-13-scales-nearest-asym", "Resize",
         {"x": X4, "roi": None, "s": f32(1, 1, 2, 2)},
         {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
         opset=13, constant=("s",)),
    Case("resize-13-align-corners", "Resize", {"x": X4, "roi": None, "s": None,
                                               "z": i64(2, 4, 5, 11)},
         {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
         opset=13, constant=("z",)),
    Case("resize-13-downsample", "Resize", {"x": X4, "roi": None, "s": f32(1, 1, 0.6, 0.5)},
         {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
         opset=13, constant=("s",)),
    Case("resize-18-axes-keep-ratio", "Resize",
         {"x": X4, "roi": None, "s": None, "z": i64(14, 15)},
         {"axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"}, opset=18, constant=("z",)),
    Case("resize-19-half-pixel-symmetric", "Resize", {"x": X4, "roi": None, "s": f32(1, 1, 2, 1.5)},
         {"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"},
         opset=19, constant=("s",)),
]

QUANT = [
    Case("quantize-13-tensor-u8", "QuantizeLinear",
         {"x": A * 3, "s": np.float32(0.02), "z": np.uint8(128)}, opset=13, constant=("s", "z"),
         core=["quantize"]),
    Case("quantize-13-axis-i8", "QuantizeLinear",
         {"x": X4, "s": f32(0.01, 0.02, 0.03, 0.04), "z": np.array([0, 1, -2, 3], np.int8)},
         {"axis": 1}, opset=13, constant=("s", "z")),
    Case("quantize-21-int16-output-dtype", "QuantizeLinear", {"x": A * 300, "s": np.float32(0.01)},
         {"output_dtype": 5}, opset=21, constant=("s",)),
    Case("quantize-21-one-element-axis", "QuantizeLinear",
         {"x": rand(2, 1, 3), "s": f32(0.05), "z": np.array([4], np.int8)}, {"axis": 1},
         opset=21, constant=("s", "z")),
    Case("quantize-10-no-zero", "QuantizeLinear", {"x": A, "s": np.float32(0.01)}, opset=10,
         constant=("s",)),
    Case("dequantize-13-axis", "DequantizeLinear",
         {"x": (X4 * 100).astype(np.int8), "s": f32(0.1, 0.2, 0.3, 0.4),
          "z": np.array([0, 1, -2, 3], np.int8)}, {"axis": 1}, opset=13, constant=("s", "z"),
         core=["dequantize"]),
    Case("dequantize-10-tensor", "DequantizeLinear",
         {"x": np.arange(12, dtype=np.uint8).reshape(3, 4), "s": np.float32(0.5),
          "z": np.uint8(3)}, opset=10, constant=("s", "z")),
    Case("dequantize-int32", "DequantizeLinear",
         {"x": np.arange(-6, 6, dtype=np.int32), "s": np.float32(0.25)}, opset=19,
         constant=("s",)),
]

CASES = ELEMENTWISE + NN + NORM + REDUCE + SHAPE + RESIZE + QUANT


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_converter_matches_onnxruntime(case: Case) -> None:
    model, feeds = node_model(case.op, case.inputs, case.attrs, opset=case.opset,
                              constant=case.constant, outputs=case.outputs)
    graph = check_vs_ort(model, feeds, rtol=case.tol, atol=case.tol)
    if case.core is not None:
        assert ops(graph) == case.core


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


# -- variants onnxruntime cannot run (opset < 7) or that need no runtime at all ------------------
def run_ours(model, feeds):
    from mlc import interp
    from mlc.frontend import import_model

    graph = import_model(model)
    return graph, interp.run(graph, feeds)


def test_prelu_6_slope_per_channel() -> None:
    slope = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    model, feeds = node_model("PRelu", {"x": X4, "s": slope}, {}, opset=6, constant=("s",))
    graph, out = run_ours(model, feeds)
    np.testing.assert_allclose(out["y0"], np.where(X4 >= 0, X4, X4 * slope.reshape(4, 1, 1)))


def test_cast_1_string_target() -> None:
    model, feeds = node_model("Cast", {"x": A * 10}, {"to": "INT32"}, opset=1)
    graph, out = run_ours(model, feeds)
    assert out["y0"].dtype == np.int32
    np.testing.assert_array_equal(out["y0"], (A * 10).astype(np.int32))


def test_pad_1_paddings_attribute() -> None:
    model, feeds = node_model("Pad", {"x": A}, {"paddings": [1, 0, 0, 2], "value": 3.0}, opset=1)
    graph, out = run_ours(model, feeds)
    np.testing.assert_array_equal(out["y0"], np.pad(A, ((1, 0), (0, 2)), constant_values=3.0))


def test_reshape_1_shape_attribute() -> None:
    model, feeds = node_model("Reshape", {"x": X4}, {"shape": [0, -1]}, opset=1)
    graph, out = run_ours(model, feeds)
    np.testing.assert_array_equal(out["y0"], X4.reshape(2, -1))


@pytest.mark.parametrize("start,limit,delta",
                         [(0, 10, 3), (10, -3, -4), (5, 5, 1), (2.5, -1.0, -0.75)])
def test_range_becomes_a_constant(start, limit, delta) -> None:
    dtype = np.int64 if isinstance(start, int) else np.float32
    inputs = {k: np.array(v, dtype) for k, v in (("a", start), ("b", limit), ("c", delta))}
    model, feeds = node_model("Range", inputs, {}, opset=11, constant=("a", "b", "c"))
    graph = check_vs_ort(model, feeds)
    assert graph.nodes == [] and graph.outputs[0].is_const


@pytest.mark.parametrize("attr,value", [("value_int", 7), ("value_ints", [1, 2]),
                                        ("value_float", 0.5), ("value_floats", [0.25, -1.0])])
def test_constant_attribute_forms(attr, value) -> None:
    model, feeds = node_model("Constant", {}, {attr: value}, opset=13)
    graph = check_vs_ort(model, feeds)
    assert graph.nodes == []


def test_constant_string_is_unsupported() -> None:
    from mlc.errors import UnsupportedOpError
    from mlc.frontend import import_model

    model, _ = node_model("Constant", {}, {"value_string": "hi"}, opset=13)
    with pytest.raises(UnsupportedOpError, match="Constant node 'the_constant'"):
        import_model(model)


@pytest.mark.parametrize("opset,attrs", [(13, {}), (15, {"start": -3}), (15, {"start": 1, "end": -1}),
                                         (15, {"start": -10, "end": 10})])
def test_shape_start_end(opset, attrs) -> None:
    model, feeds = node_model("Shape", {"x": X4}, attrs, opset=opset)
    graph = check_vs_ort(model, feeds)
    assert graph.nodes == []


def test_cubic_upsample_is_refused() -> None:
    from mlc.errors import UnsupportedOpError
    from mlc.frontend import import_model

    model, _ = node_model("Upsample", {"x": X4}, {"scales": [1.0, 1.0, 2.0, 2.0], "mode": "cubic"},
                          opset=7)
    with pytest.raises(UnsupportedOpError, match="mode 'cubic'"):
        import_model(model)


def test_training_mode_dropout_is_refused() -> None:
    from mlc.errors import UnsupportedOpError
    from mlc.frontend import import_model

    model, _ = node_model("Dropout", {"x": A, "r": np.float32(0.5), "t": np.bool_(True)}, {},
                          opset=13, constant=("r", "t"))
    with pytest.raises(UnsupportedOpError, match="training_mode"):
        import_model(model)


def test_three_d_convolution_is_refused() -> None:
    from mlc.errors import UnsupportedOpError
    from mlc.frontend import import_model

    model, _ = node_model("Conv", {"x": rand(1, 2, 3, 4, 5), "w": rand(2, 2, 1, 1, 1)}, {},
                          opset=11, constant=("w",))
    with pytest.raises(UnsupportedOpError, match="3-D input"):
        import_model(model)


def test_onnx_equivalents_take_the_same_inputs_and_no_attributes() -> None:
    """``OpDef.onnx_equivalent`` is where the importer and exporter read 1:1 pairs from: hold
    it to ONNX's schema, so an op without attributes cannot name an ONNX op that needs some."""
    import onnx.defs

    from mlc.frontend.converters import CONVERTERS, MAX_OPSET
    from mlc.frontend.export import EXPORTERS
    from mlc.ops import all_ops

    pairs = {op.name: op.onnx_equivalent for op in all_ops().values() if op.onnx_equivalent}
    assert {"relu", "add", "matmul", "where", "min"} <= set(pairs)
    for name, onnx_op in pairs.items():
        schema = onnx.defs.get_schema(onnx_op, MAX_OPSET)
        assert not schema.attributes and schema.max_output == 1, onnx_op
        assert schema.min_input <= len(all_ops()[name].inputs) <= schema.max_input, onnx_op
        assert onnx_op in CONVERTERS and name in EXPORTERS


def test_onnx_twins_take_the_same_inputs_and_attributes() -> None:
    """``onnx_twin`` extends the 1:1 rule to ops with attributes: the importer and exporter pass
    them through by name, so hold each pair to ONNX's schema at every opset the importer reads
    and the exporter writes (where the op exists): same names, types and float32 defaults."""
    import onnx.defs
    from onnx import helper

    from mlc.frontend.converters import CONVERTERS, MAX_OPSET
    from mlc.frontend.converters.equivalents import onnx_twin
    from mlc.frontend.export import EXPORTERS, MIN_OPSET
    from mlc.frontend.export import MAX_OPSET as EXPORT_MAX_OPSET
    from mlc.ops import REQUIRED, all_ops

    pairs = {op.name: onnx_twin(op) for op in all_ops().values() if op.attrs and onnx_twin(op)}
    assert pairs == {"concat": "Concat", "gather": "Gather", "gelu": "Gelu",
                     "hard_sigmoid": "HardSigmoid", "leaky_relu": "LeakyRelu",
                     "log_softmax": "LogSoftmax", "lrn": "LRN", "softmax": "Softmax"}
    kinds = {"int": onnx.AttributeProto.INT, "float": onnx.AttributeProto.FLOAT,
             "str": onnx.AttributeProto.STRING}
    for name, onnx_op in pairs.items():
        op = all_ops()[name]
        assert op.onnx_equivalent is None and onnx_op in CONVERTERS and name in EXPORTERS
        schemas = [onnx.defs.get_schema(onnx_op, v) for v in (MIN_OPSET, MAX_OPSET, EXPORT_MAX_OPSET)
                   if onnx.defs.has(onnx_op, v)]
        assert schemas, onnx_op
        for schema in schemas:
            assert schema.max_output == 1, onnx_op
            assert schema.min_input <= len(op.inputs) <= schema.max_input, onnx_op
            assert sorted(schema.attributes) == sorted(op.attrs), (onnx_op, schema.since_version)
            for key, attr in op.attrs.items():
                spec = schema.attributes[key]
                assert spec.type == kinds[attr.kind], (onnx_op, key)
                assert spec.required == (attr.default is REQUIRED), (onnx_op, key)
                if not spec.required:
                    default = helper.get_attribute_value(spec.default_value)
                    if attr.kind == "float":
                        assert np.float32(default) == np.float32(attr.default), (onnx_op, key)
                    else:
                        assert default in (attr.default, str(attr.default).encode()), (onnx_op, key)


def test_twins_import_attributes_by_name_and_core_defaults() -> None:
    """A generated converter passes the attributes a node sets and leaves the rest to the core
    op's defaults, which equal ONNX's."""
    from mlc.frontend import import_model

    model, _ = node_model("LRN", {"x": X4}, {"size": 3, "beta": 0.5}, opset=13)
    (node,) = import_model(model).nodes
    assert (node.op, node.attrs["size"], node.attrs["beta"]) == ("lrn", 3, 0.5)
    assert (node.attrs["alpha"], node.attrs["bias"]) == (1e-4, 1.0)
