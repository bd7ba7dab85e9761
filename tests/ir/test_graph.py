"""Graph IR invariants: use-lists maintain themselves, naming, removal, toposort, copy."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.errors import VerifyError
from mlc.interp import run
from mlc.ir import DType, Graph, GraphBuilder, TensorType, verify


def small_graph():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3))
    one = b.const(np.ones(3, np.float32), name="one")
    s = b.add(x, one)
    r = b.relu(s)
    b.outputs(r)
    return b.graph, x, one, s, r


def test_use_lists_follow_input_assignment():
    g, x, one, s, r = small_graph()
    add = s.producer
    assert [u.node for u in x.uses] == [add]
    assert r.producer.inputs == (s,)
    add.set_input(1, x)  # x + x
    assert [(u.node, u.index) for u in x.uses] == [(add, 0), (add, 1)]
    assert one.uses == ()
    assert x.users == [add]  # distinct users
    verify(g)


def test_replace_all_uses_updates_nodes_and_outputs():
    g, x, one, s, r = small_graph()
    s.replace_all_uses_with(x)
    assert r.producer.inputs == (x,)
    assert s.uses == ()
    r.replace_all_uses_with(x)
    assert g.outputs == [x]


def test_remove_node_refuses_while_used_and_detaches_inputs():
    g, x, one, s, r = small_graph()
    with pytest.raises(ValueError):
        g.remove_node(s.producer)
    r.producer.set_input(0, x)
    g.remove_node(s.producer)
    assert x.users == [r.producer]
    assert one.uses == ()
    verify(g)


def test_unique_names_and_rename():
    g = Graph()
    a = g.add_input("t", TensorType((1,), "f32"))
    b = g.add_constant(np.zeros(1, np.float32), name="t")
    assert a.name == "t" and b.name == "t_1"
    g.rename(b, "w")
    assert "w" in g.constants and "t_1" not in g.constants


def test_constants_are_read_only():
    g = Graph()
    c = g.add_constant([1.0, 2.0])
    assert c.dtype == DType.float32
    with pytest.raises(ValueError):
        c.const[0] = 5


def test_toposort_restores_order():
    g, x, one, s, r = small_graph()
    g.nodes.reverse()
    with pytest.raises(VerifyError, match="topological"):
        verify(g)
    g.toposort()
    verify(g)
    assert [n.op for n in g.nodes] == ["add", "relu"]


def test_copy_is_independent_and_equivalent():
    g, *_ = small_graph()
    h = g.copy()
    verify(h)
    feed = {"x": np.arange(6, dtype=np.float32).reshape(2, 3) - 3}
    np.testing.assert_array_equal(run(g, feed)[g.outputs[0].name], run(h, feed)[h.outputs[0].name])
    h.nodes[1].set_input(0, h.inputs[0])
    assert g.nodes[1].inputs[0] is g.nodes[0].outputs[0]


def test_builder_infers_types_and_checks_attrs():
    b = GraphBuilder()
    x = b.input("x", (4, 1), "f32")
    y = b.input("y", (1, 5), "f32")
    assert b.add(x, y).type == TensorType((4, 5), "f32")
    from mlc.ops import OpError

    with pytest.raises(OpError, match="no attribute"):
        b.relu(x, alpha=2.0)
    with pytest.raises(OpError, match="unknown op"):
        b.not_an_op(x)
    with pytest.raises(OpError, match="takes"):
        b.add(x)
