"""The fuzzer's reproducers of bugs since fixed: each runs on every target here and must agree
with onnxruntime under the fuzz comparison rules (or be refused in one line). A folder holds what
``mlc fuzz`` saves: model.onnx, model.mlc, input*.npy and failure.json (the original failure)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mlc
from mlc.testing.fuzz.campaign import FAILURES, default_targets, oracle, run_on_target

CORPUS = Path(__file__).parent / "corpus"
FOLDERS = sorted(p for p in CORPUS.iterdir() if (p / "failure.json").exists())


def _load(folder: Path):
    graph = mlc.load(folder / "model.mlc")
    feeds = {v.name: np.load(folder / f"input{i}.npy") for i, v in enumerate(graph.inputs)}
    return graph, feeds


def test_the_corpus_is_not_empty():
    assert len(FOLDERS) >= 2


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_reproducer_passes_on_every_target(folder):
    graph, feeds = _load(folder)
    onnx_graph = mlc.load(folder / "model.onnx")
    assert [v.name for v in onnx_graph.inputs] == list(feeds)  # both forms describe one graph
    truth = oracle(graph, feeds)
    assert truth.outputs is not None, truth.problem
    failed = json.loads((folder / "failure.json").read_text())["target"]
    targets = [t for t in default_targets() if t != "ort"]
    assert failed in targets or failed.startswith("c-cortex") or failed == "cuda"
    for target in targets:
        (verdict,) = run_on_target(target, [graph], [feeds], [truth], jobs=1, batch_size=1)
        assert verdict[0] not in FAILURES, f"{target}: {verdict}"
