"""graph_stats: node and op counts, params, MACs and naive activation bytes, fused groups included."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.ir import Graph, GraphBuilder, TensorType
from mlc.stats import graph_stats, render_table


def _fused_mlp(w: np.ndarray, b: np.ndarray) -> Graph:
    """relu(x @ w + b) as one fused node whose body holds b as its own constant."""
    body = GraphBuilder("group")
    bx = body.input("x", (2, 4))
    bw = body.input("w", (4, 3))
    body.outputs(body.relu(body.add(body.matmul(bx, bw), body.const(b, name="b"))))
    outer = GraphBuilder("fused_mlp")
    x = outer.input("x", (2, 4))
    node = outer.node("fused", x, outer.const(w, name="w"), body=body.graph)
    outer.outputs(node.output)
    return outer.graph


def test_plain_mlp(mlp):
    stats = graph_stats(mlp.graph())
    assert stats["nodes"] == 3
    assert stats["ops"] == {"add": 1, "matmul": 1, "relu": 1}
    assert stats["params"] == 4 * 3 + 3
    assert stats["macs"] == 2 * 4 * 3  # M * K * N
    assert stats["activation_bytes"] == 3 * (2 * 3 * 4)  # three f32[2,3] outputs


def test_fused_group_counts_once_but_keeps_its_work(mlp):
    stats = graph_stats(_fused_mlp(mlp.W, mlp.B))
    assert stats["nodes"] == 1 and stats["ops"] == {"fused": 1}
    assert stats["params"] == 4 * 3 + 3  # the body's own constant b included
    assert stats["macs"] == 2 * 4 * 3
    assert stats["activation_bytes"] == 2 * 3 * 4  # intermediates of the group are not materialised


def test_graph_inputs_are_not_activations():
    g = GraphBuilder("noop")
    x = g.input("x", (1000,), "f32")
    g.outputs(g.relu(x))
    stats = graph_stats(g.graph)
    assert stats["activation_bytes"] == 4000 and stats["params"] == 0 and stats["macs"] == 0


def test_types_of_every_field(mlp):
    stats = graph_stats(mlp.graph())
    assert set(stats) == {"nodes", "ops", "params", "macs", "activation_bytes"}
    assert all(isinstance(stats[k], int) for k in ("nodes", "params", "macs", "activation_bytes"))
    assert all(isinstance(k, str) and isinstance(v, int) for k, v in stats["ops"].items())


def test_table_has_a_column_per_label(mlp):
    from rich.console import Console

    stats = graph_stats(mlp.graph())
    console = Console(width=120, record=True)
    console.print(render_table([("as imported", stats), ("-O2", stats)]))
    text = console.export_text()
    assert "as imported" in text and "-O2" in text and "matmul" in text and "MACs" in text


def test_mixed_dtypes_count_their_own_bytes():
    g = Graph("cast")
    x = g.add_input("x", TensorType((8,), "f32"))
    node = g.add_node("cast", [x], {"to": "i8"})
    g.outputs = [node.output]
    assert graph_stats(g)["activation_bytes"] == 8


def test_unresolved_dims_are_a_user_error():
    from mlc.errors import ShapeError

    g = Graph("sym")
    x = g.add_input("x", TensorType(("batch", 4), "f32"))
    g.outputs = [x]
    with pytest.raises(ShapeError, match="batch"):
        graph_stats(g)
