"""GFLOP/s of mlc's scheduled conv2d kernels next to onnxruntime, layer by layer, at 1 thread.

For each conv layer shape of ResNet-50 (and a few of MobileNet and SqueezeNet) it lowers one
conv2d node with the host's schedules, compiles it through LLVM (``LlvmKernelLibrary``), times it, and
times onnxruntime running a one-Conv ONNX model of the same shape. The ratio (mlc / ort
throughput) is what the scheduled lowerings in ``backends/loop/ops/gemm*.py`` are tuned on.

    python benchmarks/conv_kernels.py [--json] [--threads N] [--only resnet50]
                                      [--schedule gemm.mr=4]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from mlc.backends.loop import lower_node
from mlc.backends.loop.schedule import default_schedules
from mlc.runtime.bench import time_runs
from mlc.backends.toolchain.host import host_target
from mlc.runtime.kernels import LlvmKernelLibrary
from mlc.ir import GraphBuilder

# (model, name, Cin, H(=W), Cout, kernel, stride, pad, group)
LAYERS = [
    ("resnet50", "conv1 7x7/2", 3, 224, 64, 7, 2, 3, 1),
    ("resnet50", "l1 1x1 64>64", 64, 56, 64, 1, 1, 0, 1),
    ("resnet50", "l1 3x3 64", 64, 56, 64, 3, 1, 1, 1),
    ("resnet50", "l1 1x1 64>256", 64, 56, 256, 1, 1, 0, 1),
    ("resnet50", "l1 1x1 256>64", 256, 56, 64, 1, 1, 0, 1),
    ("resnet50", "l2 1x1 256>128", 256, 56, 128, 1, 1, 0, 1),
    ("resnet50", "l2 3x3/2 128", 128, 56, 128, 3, 2, 1, 1),
    ("resnet50", "l2 3x3 128", 128, 28, 128, 3, 1, 1, 1),
    ("resnet50", "l2 1x1 128>512", 128, 28, 512, 1, 1, 0, 1),
    ("resnet50", "l2 down 1x1/2 256>512", 256, 56, 512, 1, 2, 0, 1),
    ("resnet50", "l3 3x3 256", 256, 14, 256, 3, 1, 1, 1),
    ("resnet50", "l3 1x1 256>1024", 256, 14, 1024, 1, 1, 0, 1),
    ("resnet50", "l3 1x1 1024>256", 1024, 14, 256, 1, 1, 0, 1),
    ("resnet50", "l4 3x3 512", 512, 7, 512, 3, 1, 1, 1),
    ("resnet50", "l4 1x1 512>2048", 512, 7, 2048, 1, 1, 0, 1),
    ("resnet50", "l4 1x1 2048>512", 2048, 7, 512, 1, 1, 0, 1),
    ("mobilenet", "dw 3x3 32", 32, 112, 32, 3, 1, 1, 32),
    ("mobilenet", "dw 3x3/2 64", 64, 112, 64, 3, 2, 1, 64),
    ("mobilenet", "dw 3x3 512", 512, 14, 512, 3, 1, 1, 512),
    ("mobilenet", "pw 1x1 32>64", 32, 112, 64, 1, 1, 0, 1),
    ("squeezenet", "conv1 3x3/2", 3, 224, 64, 3, 2, 0, 1),
    ("squeezenet", "fire squeeze 1x1", 128, 55, 16, 1, 1, 0, 1),
    ("squeezenet", "fire expand 3x3", 16, 55, 64, 3, 1, 1, 1),
]


def _graph(cin, h, cout, k, stride, pad, group, rng):
    b = GraphBuilder("conv")
    x = b.input("x", (1, cin, h, h))
    w = rng.standard_normal((cout, cin // group, k, k)).astype(np.float32) * 0.1
    bias = rng.standard_normal(cout).astype(np.float32)
    y = b.op("conv2d", x, b.const(w, "w"), b.const(bias, "bias"), strides=(stride, stride),
             pads=(pad,) * 4, group=group)
    b.outputs(y)
    return b.graph, w, bias


def _ort_session(x_shape, w, bias, stride, pad, group, threads):
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[stride, stride],
                            pads=[pad] * 4, group=group)
    graph = helper.make_graph([conv], "conv",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def _median_seconds(call, repeat: int) -> float:
    return time_runs(call, warmup=2, repeat=repeat).median_ms / 1e3


def bench(layer, schedules, threads: int, repeat: int, rng) -> dict:
    model, name, cin, h, cout, k, stride, pad, group = layer
    graph, w, bias = _graph(cin, h, cout, k, stride, pad, group, rng)
    node = graph.nodes[0]
    out_shape = node.outputs[0].shape
    flops = 2 * math.prod(out_shape) * (cin // group) * k * k
    x = rng.standard_normal((1, cin, h, h)).astype(np.float32)
    start = time.perf_counter()
    kernel = lower_node(node, schedules=schedules)
    library = LlvmKernelLibrary(kernel, threads=threads)
    compile_s = time.perf_counter() - start
    args = {"x": x, "w": w, "bias": bias}
    got = library.run(args)[node.outputs[0].name]
    mlc_s = library.time(args, repeat=repeat)
    # onnxruntime second: its idle pool threads spin after a run and would steal mlc's cores
    session = _ort_session(list(x.shape), w, bias, stride, pad, group, threads)
    want = session.run(None, {"x": x})[0]
    ort_s = _median_seconds(lambda: session.run(None, {"x": x}), repeat)
    error = float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-12))
    return {"model": model, "layer": name, "out": list(out_shape), "gflop": flops / 1e9,
            "mlc_ms": mlc_s * 1e3, "ort_ms": ort_s * 1e3, "mlc_gflops": flops / mlc_s / 1e9,
            "ort_gflops": flops / ort_s / 1e9, "ratio": ort_s / mlc_s, "rel_error": error,
            "compile_s": compile_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--only", help="only layers of this model (resnet50, mobilenet, ...)")
    parser.add_argument("--schedule", action="append", default=[],
                        help="schedule override, e.g. gemm.mr=4 (repeatable)")
    args = parser.parse_args(argv)
    isa = host_target().isa
    schedules = default_schedules(isa).with_overrides(args.schedule)
    rng = np.random.default_rng(0)
    rows = []
    for layer in LAYERS:
        if args.only and layer[0] != args.only:
            continue
        rows.append(bench(layer, schedules, args.threads, args.repeat, rng))
        if not args.json:
            r = rows[-1]
            print(f"{r['model']:10s} {r['layer']:22s} {r['gflop']:6.3f} GF  "
                  f"mlc {r['mlc_ms']:7.3f} ms "
                  f"{r['mlc_gflops']:6.1f} GF/s  ort {r['ort_ms']:7.3f} ms {r['ort_gflops']:6.1f} "
                  f"GF/s  ratio {r['ratio']:5.2f}  err {r['rel_error']:.1e}", flush=True)
    geomean = math.exp(sum(math.log(r["ratio"]) for r in rows) / len(rows)) if rows else 0.0
    if args.json:
        json.dump({"isa": isa, "threads": args.threads, "schedules": schedules.to_json(),
                   "layers": rows, "geomean_ratio": geomean}, sys.stdout, indent=1)
        print()
    else:
        print(f"geomean throughput ratio mlc/ort: {geomean:.2f} ({isa}, {args.threads} thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
