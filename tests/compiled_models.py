"""Whole-model acceptance checks shared by the compiled targets' tests (llvm, c).

A model is compiled once per target (the target caches artifacts per model file within a
process) and compared through ``mlc.runtime.compare`` — what `mlc compare MODEL --targets
ort,TARGET --threads N` runs — at rtol 1e-4, atol 1e-5. The light models ship every weight as
0.02, which hides wrong channel indexing, so they are also checked with random weights
(He-scaled), with the final softmax dropped so the logits are compared rather than a one-hot
vector. Random weights without trained normalisation make activations grow layer by layer
(shufflenet's logits reach ~1e6), so there the absolute tolerance scales with the largest output,
as rounding error does.
"""

from __future__ import annotations

import numpy as np

from mlc.frontend import load_onnx
from mlc.inputs import make_feeds
from mlc.interp import run
from mlc.runtime import Model, compare
from mlc.testing.models import light_model_path, randomize_weights

RTOL, ATOL = 1e-4, 1e-5


def check_model(model: Model, target: str, atol: float = ATOL, threads=(1, 2)) -> None:
    feeds = make_feeds(model.graph)
    for n in threads:
        report = compare(model, [target], feeds, threads=n, repeat=1, warmup=0, rtol=RTOL,
                         atol=atol)
        result = {r.target: r for r in report.results}[target]
        print(f"{model.name} on {target} at {n} thread(s): max abs err "
              f"{result.max_abs_err:.3g}, {result.median_ms:.3f} ms, "
              f"{result.ratio_to_ort:.2f}x onnxruntime")
        assert result.ok, (f"{model.name} on {target} at {n} threads: {result.error}\n"
                           f"{result.traceback or ''}")


def random_weight_model(name: str) -> tuple[Model, float]:
    """The light model ``name`` with random weights and no final softmax, and the absolute
    tolerance its output scale calls for."""
    graph = randomize_weights(load_onnx(light_model_path(name)))
    last = graph.outputs[0].producer
    if last is not None and last.op == "softmax":
        graph.outputs = [last.inputs[0]]
        graph.remove_node(last)
    outputs = run(graph, make_feeds(graph), as_list=True)
    assert all(np.ptp(y) > 0 for y in outputs)  # random weights: the outputs differ per element
    scale = max(1.0, max(float(np.abs(y).max()) for y in outputs))
    return Model.from_graph(graph), ATOL * scale
