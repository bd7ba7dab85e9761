"""Checks every semantics-preserving pass must pass on random graphs (shared by the pass tests)."""

from __future__ import annotations

import numpy as np

from mlc.errors import MlcError
from mlc.interp import run
from mlc.ir import Graph, verify
from mlc.passes import make_pass
from mlc.text import print_graph
from tests.strategies import random_feeds


def outputs_or_none(graph: Graph, feeds) -> list[np.ndarray] | None:
    try:
        return run(graph, feeds, as_list=True)
    except MlcError:
        return None  # a kernel refuses these values; structure is still checked


def check_pass_keeps_outputs(graph: Graph, pass_name: str) -> None:
    """``pass_name`` leaves a valid graph with the same output names and bit-identical outputs
    (when the kernels accept the random feeds), and a second run reports no change."""
    feeds = random_feeds(graph)
    before = outputs_or_none(graph, feeds)
    names = [v.name for v in graph.outputs]
    make_pass(pass_name).run(graph)
    verify(graph)
    assert [v.name for v in graph.outputs] == names
    if before is not None:
        for a, b in zip(run(graph, feeds, as_list=True), before):
            np.testing.assert_array_equal(a, b)
    assert make_pass(pass_name).run(graph) is False, print_graph(graph)
