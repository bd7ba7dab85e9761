"""In-place reuse: which nodes write over a dying input, and that execution stays correct."""

from __future__ import annotations

import numpy as np

from mlc.interp import run
from mlc.ir import GraphBuilder
from mlc.memory import plan_memory, validate_plan
from mlc.memory.inplace import can_run_in_place
from mlc.passes import PassManager, parse_pipeline


def chain():
    b = GraphBuilder("g")
    x = b.input("x", (2, 8))
    w = b.const(np.eye(8, dtype=np.float32), name="w")
    h = b.matmul(x, w)
    r = b.relu(h)
    e = b.exp(r)
    b.outputs(b.matmul(e, w))
    return b.graph, (h, r, e)


def feeds():
    return {"x": np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)}


def test_an_elementwise_chain_shares_one_buffer():
    graph, (h, r, e) = chain()
    plan = plan_memory(graph, alignment=1)
    assert plan.value_offsets[h.name] == plan.value_offsets[r.name] == plan.value_offsets[e.name]
    assert plan.aliases == {h.name: (h.name, r.name, e.name)}
    (t,) = plan.tensors
    assert (t.name, t.start, t.end) == (h.name, 0, 3)
    assert plan.lower_bound == plan.arena == 64 and plan.naive_sum == 192
    validate_plan(plan)
    np.testing.assert_array_equal(run(graph, feeds(), as_list=True, plan=plan)[0],
                                  run(graph, feeds(), as_list=True)[0])


def test_not_over_an_input_that_is_read_later():
    b = GraphBuilder("g")
    x = b.input("x", (4,))
    h = b.neg(x)
    r = b.relu(h)
    b.outputs(b.add(h, r))
    plan = plan_memory(b.graph, alignment=1)
    assert plan.value_offsets[h.name] != plan.value_offsets[r.name]


def test_not_for_reshape_dtype_changes_or_size_changes():
    b = GraphBuilder("g")
    x = b.input("x", (2, 4))
    h = b.neg(x)
    s = b.reshape(h, shape=(8,))
    n = b.neg(s)
    c = b.cast(n, to="int32")  # same bytes, other dtype
    n2 = b.neg(c)
    m = b.add(n2, b.const(np.ones((3, 1, 1), np.int32)))  # broadcast to a larger output
    b.outputs(b.neg(m))
    plan = plan_memory(b.graph, alignment=1)
    merged = [set(v) for v in plan.aliases.values()]
    assert merged == [{s.name, n.name}, {c.name, n2.name}]  # the negs themselves do run in place
    assert not can_run_in_place(s.producer)


def test_graph_inputs_are_overwritten_only_inside_the_arena():
    b = GraphBuilder("g")
    x = b.input("x", (2, 8))
    e = b.exp(b.relu(x))
    b.outputs(b.matmul(e, b.const(np.eye(8, dtype=np.float32))))
    graph = b.graph
    PassManager(parse_pipeline("fuse")).run(graph)
    group = graph.nodes[0]
    assert group.op == "fused" and can_run_in_place(group)
    assert plan_memory(graph, alignment=1).aliases == {}
    plan = plan_memory(graph, alignment=1, include_io=True)
    assert plan.value_offsets["x"] == plan.value_offsets[group.output.name]
    want = run(graph, feeds(), as_list=True)
    inputs = feeds()
    got = run(graph, inputs, as_list=True, plan=plan)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(inputs["x"], feeds()["x"])  # the caller's array is untouched


def test_fused_groups_with_an_anchor_do_not_run_in_place():
    graph, _ = chain()
    PassManager(parse_pipeline("fuse")).run(graph)
    assert not any(can_run_in_place(n) for n in graph.nodes)


def test_a_graph_output_read_by_the_last_node_is_not_overwritten():
    """Found by the property test: %h is an output (live to the last step) and the last node's
    input; it must not host that node's output."""
    b = GraphBuilder("g")
    x = b.input("x", ())
    h = b.abs(b.neg(x))
    b.outputs(b.sigmoid(h), h)
    plan = plan_memory(b.graph, alignment=1, include_io=True)
    assert plan.value_offsets[h.name] != plan.value_offsets[b.graph.outputs[0].name]
    feeds = {"x": np.array(-0.5, np.float32)}
    want = run(b.graph, feeds, as_list=True)
    got = run(b.graph, feeds, as_list=True, plan=plan)
    assert [g.tobytes() for g in got] == [w.tobytes() for w in want]


def test_a_multi_output_group_passing_inputs_through():
    """Found by the property test: a fused node yields its inputs; one output is written over one
    input while the other output is that same input's value."""
    b = GraphBuilder("g")
    x = b.input("x", (4,))
    p = b.neg(x)
    q = b.exp(p)
    body = GraphBuilder("body")
    a, a1 = body.input("a", (4,)), body.input("a1", (4,))
    body.abs(a1)
    body.outputs(a1, a)
    node = b.node("fused", q, p, body=body.graph)
    b.outputs(node.outputs[1])
    plan = plan_memory(b.graph, alignment=1)
    assert node.outputs[0].name in plan.aliases.get(q.name, ())
    feeds = {"x": np.arange(4, dtype=np.float32)}
    want = run(b.graph, feeds, as_list=True)
    got = run(b.graph, feeds, as_list=True, plan=plan)
    assert [g.tobytes() for g in got] == [w.tobytes() for w in want]
