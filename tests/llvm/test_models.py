"""Acceptance: the llvm target matches onnxruntime on every zoo and light model, at 1 and 2 threads.

Each model is compiled once (the target caches artifacts per model file within a process) and
compared through ``mlc.runtime.compare`` — what `mlc compare MODEL --targets ort,llvm --threads N`
runs — at rtol 1e-4, atol 1e-5. The light models ship every weight as 0.02, which hides wrong
channel indexing, so they are also checked with random weights (He-scaled), with the final
softmax dropped so the logits are compared rather than a one-hot vector. Random weights without
trained normalisation make activations grow layer by layer (shufflenet's logits reach ~1e6), so
there the absolute tolerance scales with the largest output, as rounding error does.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlc.frontend import load_onnx
from mlc.inputs import make_feeds
from mlc.interp import run
from mlc.runtime import Model, compare
from mlc.testing.models import (LIGHT_MODELS, ZOO_MODELS, light_model_path, randomize_weights,
                                zoo_model_path)

RTOL, ATOL = 1e-4, 1e-5


def check_model(model: Model, atol: float = ATOL) -> None:
    feeds = make_feeds(model.graph)
    for threads in (1, 2):
        report = compare(model, ["llvm"], feeds, threads=threads, repeat=1, warmup=0,
                         rtol=RTOL, atol=atol)
        rows = {r.target: r for r in report.results}
        result = rows["llvm"]
        print(f"{model.name} at {threads} thread(s): max abs err {result.max_abs_err:.3g}, "
              f"{result.median_ms:.3f} ms, {result.ratio_to_ort:.2f}x onnxruntime")
        assert result.ok, (f"{model.name} at {threads} threads: {result.error}\n"
                           f"{result.traceback or ''}")


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_matches_onnxruntime(name):
    check_model(Model(zoo_model_path(name)))


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_matches_onnxruntime(name):
    check_model(Model(light_model_path(name)))


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_with_random_weights_matches_onnxruntime(name):
    graph = randomize_weights(load_onnx(light_model_path(name)))
    last = graph.outputs[0].producer
    if last is not None and last.op == "softmax":
        graph.outputs = [last.inputs[0]]
        graph.remove_node(last)
    outputs = run(graph, make_feeds(graph), as_list=True)
    assert all(np.ptp(y) > 0 for y in outputs)  # random weights: the outputs differ per element
    scale = max(1.0, max(float(np.abs(y).max()) for y in outputs))
    check_model(Model.from_graph(graph), atol=ATOL * scale)
