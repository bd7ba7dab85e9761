"""batch_norm, layer_norm and lrn lowered to loop nests: the evaluator must agree with the
registry (which computes in float64) for constant and variable statistics, every axis, every
window size, half precision, and fused with their neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.backends.loop import lower_node
from mlc.backends.loop.ir import Load
from mlc.ir import GraphBuilder

from tests.loop.helpers import check_graph, fuse
from tests.loop.test_lower import check_op

rng = np.random.default_rng(11)


def _batch_norm_graph(shape, *, const: bool, dtype=np.float32, param_dtype=np.float32,
                      epsilon=1e-5):
    b = GraphBuilder("g")
    x = b.input("x", shape, dtype)
    c = shape[1]
    params = {"scale": rng.standard_normal(c), "bias": rng.standard_normal(c),
              "mean": rng.standard_normal(c), "var": rng.random(c) + 0.1}
    feeds = {"x": rng.standard_normal(shape).astype(dtype)}
    values = []
    for name, data in params.items():
        data = data.astype(param_dtype)
        if const:
            values.append(b.const(data, name=name))
        else:
            values.append(b.input(name, (c,), param_dtype))
            feeds[name] = data
    b.outputs(b.op("batch_norm", x, *values, epsilon=epsilon))
    return b.graph, feeds


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (1, 2, 3, 2), (1, 1, 2, 2, 2)])
@pytest.mark.parametrize("const", [True, False])
def test_batch_norm(shape, const):
    graph, feeds = _batch_norm_graph(shape, const=const, epsilon=1e-3)
    assert check_graph(graph, feeds) == 1


def test_batch_norm_folds_constant_statistics_into_two_tables():
    graph, feeds = _batch_norm_graph((1, 3, 2, 2), const=True)
    kernel = lower_node(graph.nodes[0])
    tables = {name for name, _ in kernel.constants}
    assert len(tables) == 2
    assert loaded_buffers(kernel.body) == {"x", *tables}  # the statistics are never read
    assert check_graph(graph, feeds) == 1


def loaded_buffers(stmt) -> set[str]:
    found, stack = set(), [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, Load):
            found.add(node.buffer.name)
        for value in getattr(node, "__dict__", {}).values():
            items = value if isinstance(value, tuple) else (value,)
            stack.extend(v for v in items if hasattr(v, "__dataclass_fields__"))
    return found


def test_half_precision_batch_norm_with_f32_statistics():
    graph, feeds = _batch_norm_graph((1, 3, 2, 2), const=False, dtype=np.float16)
    assert check_graph(graph, feeds) == 1
    graph, feeds = _batch_norm_graph((1, 3, 2, 2), const=True, dtype=np.float16)
    assert check_graph(graph, feeds) == 1


@pytest.mark.parametrize("shape, axis, scale, bias", [
    ((2, 3, 4), -1, (4,), (4,)),
    ((2, 3, 4), 1, (3, 4), (4,)),
    ((2, 3, 4), 0, (3, 1), None),
    ((3, 5), -2, (5,), (1,)),
    ((6,), 0, (6,), (6,)),
])
def test_layer_norm(shape, axis, scale, bias):
    shapes = [shape, scale] + ([bias] if bias is not None else [])
    check_op("layer_norm", shapes, {"axis": axis, "epsilon": 1e-3}, consts=(1, 2))


def test_layer_norm_of_shifted_data_and_half_precision():
    """A large common offset cancels exactly in f64, as in the registry."""
    b = GraphBuilder("g")
    x = b.input("x", (2, 8))
    b.outputs(b.op("layer_norm", x, b.const(np.ones(8, np.float32)), None, axis=-1))
    data = (1000 + rng.standard_normal((2, 8))).astype(np.float32)
    assert check_graph(b.graph, {"x": data}) == 1
    check_op("layer_norm", [(2, 5), (5,), (5,)], {"axis": -1}, dtypes=[np.float16] * 3,
             consts=(1, 2))


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 9])
@pytest.mark.parametrize("beta", [0.75, 0.5, 1.0, 0.6])
def test_lrn(size, beta):
    check_op("lrn", [(1, 5, 2, 2)], {"size": size, "alpha": 0.01, "beta": beta, "bias": 1.5})


def test_lrn_other_ranks_and_half_precision():
    check_op("lrn", [(2, 4, 3)], {"size": 3})
    check_op("lrn", [(1, 3, 2, 1, 2)], {"size": 2, "alpha": 0.1})
    check_op("lrn", [(1, 4, 2, 2)], {"size": 3, "alpha": 0.5}, dtypes=[np.float16])


@pytest.mark.parametrize("op", ["batch_norm", "layer_norm", "lrn"])
def test_norms_fuse_with_neighbours(op):
    b = GraphBuilder("g")
    x = b.input("x", (1, 3, 2, 4))
    pre = b.mul(b.tanh(x), b.const(np.float32(3.0)))
    if op == "batch_norm":
        y = b.op(op, pre, *(b.const((rng.random(3) + 0.5).astype(np.float32)) for _ in range(4)))
    elif op == "layer_norm":
        y = b.op(op, pre, b.const(rng.standard_normal(4).astype(np.float32)), None, axis=-1)
    else:
        y = b.op(op, pre, size=3, alpha=0.3)
    b.outputs(b.relu(b.sub(y, b.const(np.float32(0.1)))))
    graph = fuse(b.graph)
    assert [n.op for n in graph.nodes] == ["fused"]
    assert check_graph(graph, {"x": rng.standard_normal((1, 3, 2, 4)).astype(np.float32)}) == 1
