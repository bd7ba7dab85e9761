"""Real models survive the text: print → parse → print is identical and the outputs are bit-equal.

The zoo goes through files (save_text/load_text with its sidecar); the nine ONNX light models,
which are large, go through parse_text with their arrays in memory.
"""

from __future__ import annotations

import pytest

import mlc
from mlc.interp import run
from mlc.testing.models import LIGHT_MODELS, ZOO_MODELS, light_model_path, zoo_model_path
from mlc.text import external_constants, load_text, parse_text, print_graph, save_text
from tests.strategies import random_feeds


def assert_bit_equal(expected: dict, actual: dict) -> None:
    assert list(expected) == list(actual)
    for name, a in expected.items():
        b = actual[name]
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert a.tobytes() == b.tobytes(), f"output {name} differs after the text round trip"


def _import(path):
    return mlc.load(path)


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_round_trips_through_files(name, tmp_path):
    graph = _import(zoo_model_path(name))
    text = print_graph(graph)
    save_text(graph, tmp_path / f"{name}.mlc")
    loaded = load_text(tmp_path / f"{name}.mlc")
    assert print_graph(loaded) == text
    feeds = random_feeds(graph, seed=0)
    assert_bit_equal(run(graph, feeds), run(loaded, feeds))


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_round_trips(name):
    from mlc.frontend import load_onnx

    path = light_model_path(name)
    graph = load_onnx(path)
    text = print_graph(graph)
    parsed = parse_text(text, external_constants(graph), source=f"{name}.mlc")
    assert print_graph(parsed) == text
    feeds = random_feeds(graph, seed=0)
    assert_bit_equal(run(graph, feeds), run(parsed, feeds))
