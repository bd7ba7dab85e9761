"""Acceptance: the reference interpreter matches onnxruntime on every zoo and light model.

Tolerance rtol 1e-4, atol 1e-5, the issue's bar. The max errors are printed (`pytest -s`) so a
run shows how close each model is, not only that it passed.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

import mlc
from mlc.inputs import make_feeds
from mlc.interp import run
from mlc.testing.models import LIGHT_MODELS, ZOO_MODELS, light_model_path, zoo_model_path

RTOL, ATOL = 1e-4, 1e-5


def check_against_ort(path) -> float:
    graph = mlc.load(path)
    feeds = make_feeds(graph)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    expected = session.run(None, feeds)
    actual = run(graph, feeds)
    worst = 0.0
    for (name, got), want in zip(actual.items(), expected):
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=f"{path.name}:{name}")
        if got.size:
            worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - want))))
    print(f"{path.name}: max abs err {worst:.3g}")
    return worst


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_matches_onnxruntime(name):
    check_against_ort(zoo_model_path(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_matches_onnxruntime(name):
    check_against_ort(light_model_path(name))
