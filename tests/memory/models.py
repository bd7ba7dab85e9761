"""Zoo and light models after -O2, loaded once per test session, with seeded feeds."""

from __future__ import annotations

import functools

import numpy as np

import mlc
from mlc.ir import Graph
from mlc.passes import PassManager, parse_pipeline
from mlc.testing.models import ZOO_MODELS, light_model_path, zoo_model_path


@functools.lru_cache(maxsize=None)
def optimised(name: str) -> Graph:
    """The model after -O2. Shared between tests: never mutate it (copy first)."""
    graph = mlc.load(zoo_model_path(name) if name in ZOO_MODELS else light_model_path(name))
    PassManager(parse_pipeline("O2")).run(graph)
    return graph


def seeded_feeds(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in graph.inputs:
        if value.dtype.is_float:
            feeds[value.name] = rng.standard_normal(value.shape).astype(value.dtype.numpy)
        else:
            feeds[value.name] = rng.integers(0, 10, value.shape).astype(value.dtype.numpy)
    return feeds
