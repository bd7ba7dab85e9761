"""simplify beyond its text cases: random graphs (and random layout chains) keep their outputs
bit for bit and their output names, and the pass reaches a fixpoint in one run."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlc.frontend import load_onnx
from mlc.interp import run
from mlc.ir import GraphBuilder, verify
from mlc.passes import make_pass
from mlc.testing.models import ZOO_MODELS, zoo_model_path
from tests.passes.pass_checks import check_pass_keeps_outputs
from tests.strategies import plain_names, random_feeds, random_graphs


def check_simplify_keeps_outputs(graph):
    check_pass_keeps_outputs(graph, "simplify")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(max_nodes=10, names=plain_names))
def test_random_graphs_keep_outputs(graph):
    check_simplify_keeps_outputs(graph)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(max_nodes=10, names=plain_names,
                     ops=["reshape", "transpose", "cast", "slice", "pad", "concat", "split",
                          "relu"]))
def test_random_layout_chains_keep_outputs(graph):
    check_simplify_keeps_outputs(graph)


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(4)), st.permutations(range(4)), st.permutations(range(4)))
def test_transpose_chains_compose(p1, p2, p3):
    b = GraphBuilder()
    x = b.input("x", (2, 3, 4, 5))
    y = b.transpose(b.transpose(b.transpose(x, perm=p1), perm=p2), perm=p3)
    b.outputs(b.relu(y))
    feeds = {"x": np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5)}
    before = run(b.graph, feeds, as_list=True)
    make_pass("simplify").run(b.graph)
    assert [n.op for n in b.graph.nodes].count("transpose") <= 1
    np.testing.assert_array_equal(run(b.graph, feeds, as_list=True)[0], before[0])


def test_transpose_kept_when_it_moves_a_real_axis_of_a_graph_input_to_an_output():
    b = GraphBuilder()
    x = b.input("x", (2, 3))
    b.outputs(b.identity(b.transpose(b.transpose(x, perm=(1, 0)), perm=(1, 0))))
    make_pass("simplify").run(b.graph)
    # x itself cannot be renamed to the output: one node must stay, and it must be the identity
    assert [n.op for n in b.graph.nodes] == ["identity"]
    assert b.graph.nodes[0].inputs[0] is b.graph.inputs[0]


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_models_keep_outputs(name):
    graph = load_onnx(zoo_model_path(name))
    feeds = random_feeds(graph)
    before = run(graph, feeds, as_list=True)
    make_pass("simplify").run(graph)
    verify(graph)
    assert not [n for n in graph.nodes if n.op in ("identity", "dropout")]
    for a, b in zip(run(graph, feeds, as_list=True), before):
        np.testing.assert_array_equal(a, b)
