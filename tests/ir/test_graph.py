"""Graph IR invariants: use-lists maintain themselves, naming, removal, toposort, copy, and the
graph surgery passes share (replace a node, move readers, remove what died)."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.errors import VerifyError
from mlc.interp import run
from mlc.ir import (DType, Graph, GraphBuilder, TensorType, is_dead, remove_dead, remove_if_dead,
                    replace_node, replace_uses, verify)


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


# -- surgery ---------------------------------------------------------------------------------------

def test_replace_node_moves_readers_and_hands_a_graph_output_its_name():
    b = GraphBuilder()
    x = b.input("x", (3,))
    a = b.neg(x, output_names=["a"])
    y = b.identity(a, output_names=["y"])
    z = b.relu(y, output_names=["z"])
    b.outputs(y, z)
    g = b.graph
    assert replace_node(g, y.producer, [a]) is True
    verify(g)
    assert [n.op for n in g.nodes] == ["neg", "relu"]
    assert [v.name for v in g.outputs] == ["y", "z"] and g.outputs[0] is a
    assert z.producer.inputs == (a,)


def test_replace_node_keeps_a_node_whose_output_name_cannot_move():
    b = GraphBuilder()
    x = b.input("x", (3,))
    c = b.const(np.ones(3, np.float32), name="c")
    y = b.identity(x, output_names=["y"])
    k = b.identity(c, output_names=["k"])
    r = b.relu(y)
    b.outputs(y, k, r)
    g = b.graph
    # a graph input and a constant keep their own names: the nodes stay, their readers move
    assert replace_node(g, y.producer, [x]) is True
    assert r.producer.inputs == (x,) and y.producer.graph is g
    assert replace_node(g, y.producer, [x]) is False  # nothing left to move
    assert replace_node(g, k.producer, [c]) is False
    assert [v.name for v in g.outputs] == ["y", "k", r.name]
    verify(g)


def test_replace_node_gives_one_value_one_output_name():
    b = GraphBuilder()
    x = b.input("x", (4,))
    a = b.neg(x)
    p, q = b.split(a, axis=0, sizes=(2, 2))
    s, t = b.split(b.relu(a), axis=0, sizes=(2, 2))
    b.outputs(s, t)
    g = b.graph
    assert replace_node(g, s.producer, [p, p]) is False
    assert replace_node(g, s.producer, [p, q]) is True
    assert [v.name for v in g.outputs] == [s.name, t.name] and g.outputs == [p, q]


def test_replace_node_adopt_names_renames_fresh_replacements():
    b = GraphBuilder()
    x = b.input("x", (3,))
    bn = b.neg(x, output_names=["bn1"])
    b.outputs(b.relu(bn))
    g = b.graph
    fresh = g.add_node("abs", [x], index=0).output
    assert fresh.name != "bn1"
    replace_node(g, bn.producer, [fresh], adopt_names=True)
    assert fresh.name == "bn1"
    verify(g)


def test_replace_uses_moves_node_readers_but_not_graph_outputs():
    g, x, one, s, r = small_graph()
    g.outputs = [s, r]
    assert replace_uses(s, x) is True
    assert r.producer.inputs == (x,) and g.outputs[0] is s
    assert replace_uses(s, x) is False


def test_remove_if_dead_goes_up_the_chain_and_takes_constants():
    b = GraphBuilder()
    x = b.input("x", (3,))
    c = b.const(np.ones(3, np.float32), name="c")
    shared = b.neg(x)
    dead = b.relu(b.add(shared, c))
    b.outputs(b.exp(shared))
    g = b.graph
    remove_if_dead(g, dead)
    assert [n.op for n in g.nodes] == ["neg", "exp"]  # the shared neg still has a reader
    assert "c" not in g.constants
    remove_if_dead(g, x)  # a graph input is never removed
    remove_if_dead(g, None)
    verify(g)


def test_remove_dead_takes_a_dead_chain_in_one_call():
    b = GraphBuilder()
    x = b.input("x", (3,))
    chain = [b.neg(x)]
    for _ in range(3):
        chain.append(b.relu(chain[-1]))
    b.outputs(b.exp(x))
    g = b.graph
    nodes = [v.producer for v in chain]
    assert all(is_dead(n) for n in nodes[-1:]) and not is_dead(nodes[0])
    assert remove_dead(g, nodes) is True
    assert [n.op for n in g.nodes] == ["exp"]
    assert remove_dead(g, g.nodes) is False


def test_remove_input_drops_an_unread_parameter():
    g = Graph()
    x = g.add_input("x", TensorType((1,), "f32"))
    p = g.add_input("p", TensorType((1,), "f32"))
    g.outputs = [g.add_node("relu", [x]).output]
    with pytest.raises(ValueError):
        g.remove_input(x)
    g.remove_input(p)
    assert g.inputs == [x] and g.unique_name("p") == "p"
