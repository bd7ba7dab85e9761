"""Shared checks for loop-IR tests: lower nodes and compare the evaluator with the interpreter."""

from __future__ import annotations

import numpy as np

from mlc.backends.loop import LoweringError, evaluate, kernel_args, lower_node, print_kernel
from mlc.backends.loop.verify import verify_kernel
from mlc.interp import run_traced
from mlc.ir import DType, Graph, GraphBuilder, Value
from mlc.passes import PassManager, parse_pipeline
from mlc.text import print_node
from tests.rounding import assert_within, rounding_bounds

RTOL, ATOL = 1e-4, 1e-5


def fuse(graph: Graph) -> Graph:
    PassManager(parse_pipeline("fuse")).run(graph)
    return graph


def assert_same(got: np.ndarray, want: np.ndarray, what: str,
                bound: np.ndarray | None = None) -> None:
    """Ints and bools exactly; floats within RTOL/ATOL plus ``bound``, the rounding by which two
    evaluation orders may differ (tests/rounding.py): the evaluator sums a·b products one by one,
    numpy's BLAS with fused multiply-adds, so cancelling or overflowing terms round apart."""
    assert got.shape == want.shape and got.dtype == want.dtype, what
    if want.dtype.kind == "f":
        assert_within(got, want, what, rtol=RTOL, atol=ATOL, bound=bound)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def check_graph(graph: Graph, feeds: dict[str, np.ndarray], *, skip_unlowered: bool = False) -> int:
    """Lower every node of ``graph``, evaluate it on the values the interpreter computed, and
    compare outputs. Returns how many nodes were checked."""
    env = {k: np.asarray(v) for k, v in feeds.items()}
    env.update(run_traced(graph, feeds))
    checked = 0
    for node in graph.nodes:
        try:
            kernel = lower_node(node)
        except LoweringError:
            if skip_unlowered:
                continue
            raise
        verify_kernel(kernel)
        inputs = {v.name: env[v.name] for v in node.inputs if v is not None and not v.is_const}
        got = evaluate(kernel, kernel_args(node, inputs))
        with np.errstate(all="ignore"):
            bounds = rounding_bounds(node, inputs)
        for out in node.outputs:
            assert_same(got[out.name], env[out.name],
                        f"{node.op} -> {out.name}\n{print_node(node)}\n{print_kernel(kernel)}",
                        bounds.get(out.name))
        checked += 1
    return checked


def hand_fused(b: GraphBuilder, inputs, make_body, name: str = "hand") -> tuple[Value, ...]:
    """A fused node built by hand, as text or a plugin pass may make one (the fuse pass makes
    only one-output groups with at most one anchor): ``make_body(body, *params)`` returns the
    values the body yields. Returns the node's outputs."""
    body = GraphBuilder(name)
    params = [body.input(f"p{k}", v.shape, v.dtype) for k, v in enumerate(inputs)]
    body.outputs(*make_body(body, *params))
    return tuple(b.node("fused", *inputs, body=body.graph).outputs)


def random_array(rng: np.random.Generator, shape, dtype=np.float32) -> np.ndarray:
    """Test data of ``dtype``: coin flips for bool, small integers, normal floats."""
    if np.dtype(dtype) == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-9, 10, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def op_graph(rng: np.random.Generator, op, shapes, attrs=None, dtypes=None,
             consts=()) -> tuple[Graph, dict[str, np.ndarray]]:
    """A graph of one ``op`` (a registry name, or ``fn(builder, *inputs)``) over random inputs of
    ``shapes``; the inputs numbered in ``consts`` become constants. Returns the graph and feeds."""
    b = GraphBuilder("g")
    dtypes = dtypes or [np.float32] * len(shapes)
    feeds, values = {}, []
    for k, (shape, dtype) in enumerate(zip(shapes, dtypes)):
        data = random_array(rng, shape, dtype)
        if k in consts:
            values.append(b.const(data, name=f"c{k}"))
        else:
            values.append(b.input(f"x{k}", shape, DType.from_numpy(dtype)))
            feeds[f"x{k}"] = data
    out = op(b, *values) if callable(op) else b.op(op, *values, **(attrs or {}))
    b.outputs(*(out if isinstance(out, tuple) else (out,)))
    return b.graph, feeds
