"""The reference interpreter: results, freeing after last use, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from mlc import interp
from mlc.interp import InterpreterError, run
from mlc.ir import GraphBuilder


def test_runs_and_frees_values_after_last_use(monkeypatch):
    b = GraphBuilder()
    x = b.input("x", (3,))
    a = b.relu(x)
    c = b.add(a, a)
    d = b.relu(c)
    b.outputs(d)
    g = b.graph
    dying = interp._last_uses(g)
    # a dies at the add (position 1), c at the second relu (position 2); the output never dies.
    assert [v.name for v in dying[1]] == [a.name]
    assert [v.name for v in dying[2]] == [c.name]
    assert all(d not in vs for vs in dying.values())
    out = run(g, {"x": np.array([-1, 0, 2], np.float32)})
    np.testing.assert_array_equal(out[d.name], [0, 0, 4])


def test_missing_and_misshapen_inputs_are_clear_errors():
    b = GraphBuilder()
    x = b.input("x", (2, 2))
    b.outputs(b.relu(x))
    with pytest.raises(InterpreterError, match="missing input"):
        run(b.graph, {})
    with pytest.raises(InterpreterError, match=r"shape \[3\]"):
        run(b.graph, {"x": np.zeros(3, np.float32)})


def test_fused_node_runs_its_body():
    body_b = GraphBuilder("body")
    p = body_b.input("p", (2,))
    body_b.outputs(body_b.relu(body_b.add(p, p)))
    b = GraphBuilder()
    x = b.input("x", (2,))
    node = b.node("fused", x, body=body_b.graph)
    b.outputs(node.outputs[0])
    out = run(b.graph, {"x": np.array([-1.0, 3.0], np.float32)})
    np.testing.assert_array_equal(list(out.values())[0], [0.0, 6.0])
