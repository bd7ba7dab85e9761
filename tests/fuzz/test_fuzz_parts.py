"""The fuzzer's parts: seeded generation, the comparison rules, the minimiser."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest

from mlc import interp
from mlc.ir import DType, GraphBuilder, verify
from mlc.ir.printer import print_graph
from mlc.ops import all_ops
from mlc.testing.fuzz.compare import Freedom, freedom, mismatch
from mlc.testing.fuzz.generate import COVERED_OPS, generate
from mlc.testing.fuzz.minimize import minimize, subgraph

SEEDS = range(400)


@pytest.fixture(scope="module")
def cases():
    return [generate(seed) for seed in SEEDS]


def test_a_seed_gives_the_same_graph_and_feeds():
    first, again = generate(1234), generate(1234)
    assert print_graph(first.graph, inline_limit=None) == print_graph(again.graph, inline_limit=None)
    assert first.feeds.keys() == again.feeds.keys()
    for name in first.feeds:
        np.testing.assert_array_equal(first.feeds[name], again.feeds[name])


def test_seeds_give_different_graphs(cases):
    texts = {print_graph(c.graph, inline_limit=None) for c in cases}
    assert len(texts) > 0.95 * len(cases)


def test_generated_graphs_verify_and_run_on_the_reference(cases):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for case in cases[:100]:
            verify(case.graph)
            outputs = interp.run(case.graph, case.feeds, as_list=True)
            assert len(outputs) == len(case.graph.outputs) >= 1


def test_every_covered_op_is_registered_and_drawn(cases):
    assert COVERED_OPS <= set(all_ops())
    drawn = Counter(node.op for case in cases for node in case.graph.nodes)
    assert COVERED_OPS <= set(drawn), f"never drawn: {sorted(COVERED_OPS - set(drawn))}"


def test_graphs_have_chains_edge_values_and_empty_dims(cases):
    sizes = [len(c.graph.nodes) for c in cases]
    assert max(sizes) >= 10 and np.mean(sizes) >= 4
    assert 0.1 < np.mean([c.special for c in cases]) < 0.4
    assert any(0 in v.shape for c in cases for v in c.graph.inputs)
    # a chain: some node reads the node just before it
    assert sum(any(n.inputs[0] is p.outputs[0] for p, n in zip(c.graph.nodes, c.graph.nodes[1:]))
               for c in cases) > len(cases) / 2


# -- comparison rules -----------------------------------------------------------------------------

def f32(*values):
    return np.array(values, np.float32)


def test_floats_within_tolerance_match_and_beyond_do_not():
    assert mismatch([f32(1.0, 2.0)], [f32(1.00005, 2.0)]) == ""
    assert "1 of 2 elements differ" in mismatch([f32(1.0, 2.0)], [f32(1.01, 2.0)])


def test_nan_equals_nan_but_not_a_number_without_the_freedom():
    assert mismatch([f32(np.nan, np.inf)], [f32(np.nan, np.inf)]) == ""
    assert mismatch([f32(np.nan)], [f32(1.0)]) != ""
    assert mismatch([f32(np.nan)], [f32(1.0)], Freedom(non_finite=True)) == ""
    # the freedom covers non-finite positions only: finite ones are still compared
    assert mismatch([f32(np.nan, 1.0)], [f32(1.0, 3.0)], Freedom(non_finite=True)) != ""


def test_structure_and_integers_are_exact():
    assert "outputs" in mismatch([f32(1.0)], [])
    assert "is float32[2]" in mismatch([f32(1.0, 2.0)], [f32(1.0, 2.0, 3.0)])
    assert mismatch([np.array([1, 2])], [np.array([1, 3])]) == "output 0 differs in 1 of 2 elements"
    assert mismatch([np.array([1, 2])], [np.array([1, 3])],
                    Freedom(undefined_conversion_outputs=frozenset({0}))) == ""


def test_float16_gets_one_rounding_step():
    half = np.array([0.571], np.float16)
    assert mismatch([half], [np.array([0.5713], np.float16)]) == ""
    assert mismatch([half], [np.array([0.58], np.float16)]) != ""


def _graph_with_cast():
    b = GraphBuilder("g")
    x = b.input("x", (3,))
    y = b.cast(b.mul(x, b.const(np.float32(2.0))), to=DType.int32)
    z = b.relu(x)
    b.outputs(y, z)
    return b.graph


def test_freedom_comes_from_the_feeds_and_the_reference_trace():
    graph = _graph_with_cast()
    plain = {"x": f32(1.0, 2.0, 3.0)}
    assert freedom(graph, plain, interp.run_traced(graph, plain)) == Freedom()
    with np.errstate(all="ignore"):
        nan = {"x": f32(1.0, np.nan, 3.0)}
        allowed = freedom(graph, nan, interp.run_traced(graph, nan))
        assert allowed.non_finite and allowed.undefined_conversion_outputs == {0}
        huge = {"x": f32(1.0, 3e9, 3.0)}  # 6e9 does not fit int32: that cast is undefined
        allowed = freedom(graph, huge, interp.run_traced(graph, huge))
    assert not allowed.non_finite and allowed.undefined_conversion_outputs == {0}


def test_a_comparison_that_met_nan_frees_what_it_selects():
    b = GraphBuilder("g")
    x = b.input("x", (3,))
    picked = b.where(b.less(x, b.const(np.float32(0.5))), x, b.const(np.float32(1.0)))
    b.outputs(picked, b.exp(x))
    with np.errstate(all="ignore"):
        feeds = {"x": f32(0.1, np.nan, 3.0)}
        allowed = freedom(b.graph, feeds, interp.run_traced(b.graph, feeds))
    assert allowed.undefined_conversion_outputs == {0}  # exp(x) is only under rule 4


# -- the minimiser --------------------------------------------------------------------------------

def _chain():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3))
    a = b.exp(x)
    t = b.tanh(b.add(a, b.const(np.ones(3, np.float32))))
    b.outputs(b.sigmoid(b.mul(t, a)))
    return b.graph, {"x": np.arange(6, dtype=np.float32).reshape(2, 3) / 6}


def test_a_cut_feeds_the_reference_values_of_dropped_nodes():
    graph, feeds = _chain()
    trace = interp.run_traced(graph, feeds)
    tanh = next(n for n in graph.nodes if n.op == "tanh")
    sub, sub_feeds = subgraph(graph, [tanh], feeds, trace)
    assert [n.op for n in sub.nodes] == ["tanh"]
    (cut,) = sub.inputs
    np.testing.assert_array_equal(sub_feeds[cut.name], trace[tanh.inputs[0].name])
    (out,) = interp.run(sub, sub_feeds, as_list=True)
    np.testing.assert_array_equal(out, trace[tanh.outputs[0].name])


def test_minimize_keeps_only_the_failing_node():
    graph, feeds = _chain()
    trace = interp.run_traced(graph, feeds)
    tried = []

    def still_fails(candidate, candidate_feeds):
        tried.append(len(candidate.nodes))
        return any(n.op == "tanh" for n in candidate.nodes)

    small, small_feeds, tests = minimize(graph, feeds, trace, still_fails)
    assert [n.op for n in small.nodes] == ["tanh"]
    assert tests == len(tried) and tests < 20
    assert set(small_feeds) == {v.name for v in small.inputs}


def test_minimize_respects_the_test_budget():
    graph, feeds = _chain()
    trace = interp.run_traced(graph, feeds)
    calls = []
    small, _, tests = minimize(graph, feeds, trace, lambda g, f: calls.append(1) or True,
                               max_tests=2)
    assert tests == len(calls) == 2 and len(small.nodes) >= 1
