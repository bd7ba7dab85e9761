"""cse beyond its text cases: random graphs keep their outputs bit for bit, duplicates built on
purpose merge, and attribute arrays compare by value."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from mlc.errors import MlcError
from mlc.interp import run
from mlc.ir import Graph, GraphBuilder, Value, verify
from mlc.passes import make_pass
from mlc.testing.models import zoo_model_path
from tests.passes.pass_checks import check_pass_keeps_outputs
from tests.strategies import plain_names, random_feeds, random_graphs


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(max_nodes=10, names=plain_names))
def test_random_graphs_keep_outputs(graph):
    check_pass_keeps_outputs(graph, "cse")


def test_attribute_arrays_compare_by_value():
    b = GraphBuilder()
    x = b.input("x", (2, 2))
    zero = np.array([0, 1], np.uint8)
    q1 = b.quantize(x, scale=np.array([0.5, 0.25], np.float32), zero_point=zero)
    q2 = b.quantize(x, scale=np.array([0.5, 0.25], np.float32), zero_point=zero.copy())
    q3 = b.quantize(x, scale=np.array([0.5, 0.5], np.float32), zero_point=zero)
    b.outputs(b.add(q1, q2), q3)
    assert make_pass("cse").run(b.graph) is True
    assert [n.op for n in b.graph.nodes] == ["quantize", "quantize", "add"]
    add = b.graph.nodes[2]
    assert add.inputs[0] is add.inputs[1]


def duplicate_work(graph: Graph) -> list[Value]:
    """Append a second copy of every node (and of every constant) reading the same inputs, and
    make the copies of the outputs extra graph outputs; returns those extra outputs."""
    copy = graph.copy()
    mapping = {id(c): o for c, o in zip(copy.inputs, graph.inputs)}
    for value in copy.constants.values():
        mapping[id(value)] = graph.add_constant(value.const, name=value.name + ".dup")
    for node in copy.nodes:
        new = graph.add_node(node.op, [None if v is None else mapping[id(v)] for v in node.inputs],
                             dict(node.attrs), output_types=[o.type for o in node.outputs],
                             body=node.body)
        mapping.update({id(o): n for o, n in zip(node.outputs, new.outputs)})
    extra = [mapping[id(v)] for v in copy.outputs]
    graph.outputs = list(graph.outputs) + extra
    return extra


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(max_nodes=8, names=plain_names))
def test_a_duplicated_random_graph_collapses_to_one_copy(graph):
    count = len(graph.nodes)
    extra = duplicate_work(graph)
    feeds = random_feeds(graph)
    try:
        before = run(graph, feeds, as_list=True)
    except MlcError:
        before = None
    make_pass("cse").run(graph)
    verify(graph)
    # Only copies that produce an output stay: two output names need two values.
    assert len(graph.nodes) <= count + len({id(v.producer) for v in extra if v.producer})
    if before is not None:
        for a, b in zip(run(graph, feeds, as_list=True), before):
            np.testing.assert_array_equal(a, b)


def test_a_duplicated_zoo_model_collapses_to_one_copy():
    from mlc.frontend import load_onnx

    graph = load_onnx(zoo_model_path("digits_cnn"))
    count, constants = len(graph.nodes), len(graph.constants)
    duplicate_work(graph)
    assert len(graph.nodes) == 2 * count and len(graph.constants) == 2 * constants
    make_pass("cse").run(graph)
    verify(graph)
    # One copy remains, except the last node (softmax): two output names need two values.
    assert len(graph.nodes) == count + 1
    assert len(graph.constants) == constants
