"""The verifier catches broken invariants and shows the offending node."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.errors import VerifyError
from mlc.ir import GraphBuilder, TensorType, verify
from mlc.ir.graph import Value


def build():
    b = GraphBuilder("v")
    x = b.input("x", (2, 2))
    y = b.relu(b.add(x, x))
    b.outputs(y)
    return b.graph


def test_valid_graph_passes():
    verify(build())


def test_wrong_output_type_is_reported_with_node_text():
    g = build()
    g.nodes[1].outputs[0].type = TensorType((3, 3), "f32")
    with pytest.raises(VerifyError) as err:
        verify(g)
    assert "disagree with the registry" in err.value.message
    assert "relu" in err.value.message


def test_value_from_another_graph_is_dangling():
    g = build()
    other = build()
    g.nodes[1].set_input(0, other.nodes[0].outputs[0])
    with pytest.raises(VerifyError, match="used before it is defined"):
        verify(g)


def test_undefined_graph_output():
    g = build()
    g.outputs = [Value("ghost", TensorType((1,), "f32"))]
    with pytest.raises(VerifyError, match="not defined"):
        verify(g)


def test_duplicate_definition():
    g = build()
    g.nodes[1].outputs[0].name = g.nodes[0].outputs[0].name
    with pytest.raises(VerifyError, match="defined twice"):
        verify(g)


def test_corrupted_use_list():
    g = build()
    x = g.inputs[0]
    x._uses.clear()
    with pytest.raises(VerifyError, match="use-list"):
        verify(g)


def test_bad_attributes_are_reported():
    g = build()
    g.nodes[1].attrs["bogus"] = 1
    with pytest.raises(VerifyError, match="no attribute bogus"):
        verify(g)


def test_constant_registry_consistency():
    b = GraphBuilder()
    c = b.const(np.zeros(2, np.float32), name="c")
    b.outputs(b.relu(c))
    g = b.graph
    verify(g)
    c.name = "renamed_behind_the_graphs_back"
    with pytest.raises(VerifyError, match="constant"):
        verify(g)


def test_use_listed_twice_is_a_broken_use_list():
    g = build()
    x = g.inputs[0]
    x._uses.append(x._uses[0])
    with pytest.raises(VerifyError, match="%x lists the same use twice"):
        verify(g)


def test_use_with_an_index_past_the_node_inputs_is_reported():
    g = build()
    x = g.inputs[0]
    x._uses.append(type(x._uses[0])(g.nodes[1], 5))
    with pytest.raises(VerifyError, match="%x lists a use by a node that does not read it"):
        verify(g)
