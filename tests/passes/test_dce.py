"""dce beyond its text cases: random graphs keep their outputs, the zoo loses nothing live, and the
pass reports change honestly (a second run changes nothing)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from mlc.interp import run
from mlc.ir import GraphBuilder
from mlc.passes import make_pass
from mlc.text import print_graph
from tests.passes.pass_checks import check_pass_keeps_outputs, outputs_or_none
from tests.strategies import plain_names, random_feeds, random_graphs


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(max_nodes=10, names=plain_names))
def test_random_graphs_keep_outputs_and_only_live_nodes(graph):
    check_pass_keeps_outputs(graph, "dce")
    for node in graph.nodes:  # every remaining node feeds something
        assert any(o.uses or o.is_graph_output for o in node.outputs), print_graph(graph)
    assert all(c.uses or c.is_graph_output for c in graph.constants.values())


def test_returns_whether_it_changed():
    b = GraphBuilder()
    x = b.input("x", (3,))
    b.neg(x)
    b.outputs(b.relu(x))
    assert make_pass("dce").run(b.graph) is True
    assert [n.op for n in b.graph.nodes] == ["relu"]
    assert make_pass("dce").run(b.graph) is False


def test_long_dead_chain_goes_in_one_run():
    b = GraphBuilder()
    x = b.input("x", (3,))
    v = x
    for _ in range(50):
        v = b.neg(v)
    b.outputs(b.relu(x))
    make_pass("dce").run(b.graph)
    assert [n.op for n in b.graph.nodes] == ["relu"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(max_nodes=12))
def test_all_five_passes_in_a_row_on_graphs_with_awkward_names(graph):
    """dce, cse, simplify, fold-constants and fold-bn together, on names that need quoting: the
    output names survive, the IR still round-trips, and the outputs do not move."""
    from mlc.passes import run_pipeline
    from mlc.text import parse_text

    feeds = random_feeds(graph)
    before = outputs_or_none(graph, feeds)
    names = [v.name for v in graph.outputs]
    run_pipeline(graph, "simplify,fold-constants,cse,fold-bn,simplify,dce")
    assert [v.name for v in graph.outputs] == names
    text = print_graph(graph, inline_limit=None)
    assert print_graph(parse_text(text), inline_limit=None) == text
    if before is not None:
        for a, b in zip(run(graph, feeds, as_list=True), before):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)
