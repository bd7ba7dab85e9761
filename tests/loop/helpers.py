"""Shared checks for loop-IR tests: lower nodes and compare the evaluator with the interpreter."""

from __future__ import annotations

import numpy as np

from mlc.backends.loop import LoweringError, evaluate, kernel_args, lower_node, print_kernel
from mlc.backends.loop.verify import verify_kernel
from mlc.interp import run_traced
from mlc.ir import Graph
from mlc.passes import PassManager, parse_pipeline
from mlc.text import print_node

RTOL, ATOL = 1e-4, 1e-5


def fuse(graph: Graph) -> Graph:
    PassManager(parse_pipeline("fuse")).run(graph)
    return graph


def assert_same(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype, what
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=what)
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
        for out in node.outputs:
            assert_same(got[out.name], env[out.name],
                        f"{node.op} -> {out.name}\n{print_node(node)}\n{print_kernel(kernel)}")
        checked += 1
    return checked
