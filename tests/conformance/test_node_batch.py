"""mlc/testing/node_batch.py: merged graphs compute what each graph does alone, and a failing
batch is bisected down to the graphs that fail, each with its own reason. The "compiler" here is
the interpreter with planted failures, so these tests need no LLVM."""

from __future__ import annotations

import os
import signal

import numpy as np

from mlc.errors import MlcError
from mlc.interp import run
from mlc.ir import GraphBuilder
from mlc.testing import node_batch


def _graph(op: str, k: int):
    b = GraphBuilder(f"g{k}")
    x = b.input("x", (2, 3))
    y = b.input("y", (3,))
    out = getattr(b, op)(b.add(x, y))
    b.outputs(out, b.mul(x, b.const(np.full((2, 3), k, np.float32))))
    return b.graph


def _feeds(k: int):
    rng = np.random.default_rng(k)
    return {"x": rng.standard_normal((2, 3)).astype(np.float32),
            "y": rng.standard_normal(3).astype(np.float32)}


def _fake_compile(graph, out_dir):
    """Interpreter-backed: ``exp`` does not compile, ``tanh`` segfaults when run."""
    ops = {n.op for n in graph.nodes}
    if "exp" in ops:
        raise MlcError("exp has no lowering")

    def run_it(feeds):
        if "tanh" in ops:
            os.kill(os.getpid(), signal.SIGSEGV)
        return run(graph, feeds, as_list=True)

    return run_it


def test_merge_keeps_each_graph_apart():
    graphs = [_graph("relu", k) for k in range(3)]
    merged = node_batch.merge(graphs)
    assert len(merged.graph.inputs) == 6 and len(merged.graph.outputs) == 6
    assert [list(r) for r in merged.outputs] == [[0, 1], [2, 3], [4, 5]]
    feeds = {merged.inputs[k][n]: a for k in range(3) for n, a in _feeds(k).items()}
    got = run(merged.graph, feeds, as_list=True)
    for k, g in enumerate(graphs):
        want = run(g, _feeds(k), as_list=True)
        for i, w in zip(merged.outputs[k], want):
            np.testing.assert_array_equal(got[i], w)
    assert [v.name for v in graphs[0].inputs] == ["x", "y"]  # sources untouched


def test_failing_graphs_are_bisected_out_with_their_own_reason():
    ops = ["relu", "exp", "relu", "sigmoid", "tanh", "relu", "relu"]
    graphs = [_graph(op, k) for k, op in enumerate(ops)]
    outcomes = node_batch.run_batched(graphs, [_feeds(k) for k in range(len(ops))],
                                      _fake_compile, batch_size=4)
    for k, (op, outcome) in enumerate(zip(ops, outcomes)):
        if op == "exp":
            assert outcome.outputs is None and outcome.alone
            assert outcome.error == "compile: MlcError: exp has no lowering"
        elif op == "tanh":
            assert outcome.outputs is None and outcome.error == "crash: killed by SIGSEGV"
        else:
            want = run(graphs[k], _feeds(k), as_list=True)
            assert len(outcome.outputs) == 2
            for got, w in zip(outcome.outputs, want):
                np.testing.assert_array_equal(got, w)
    assert not outcomes[6].alone  # the last batch (5, 6) compiled as one


def test_a_hang_is_a_timeout_not_a_stuck_suite():
    def hang(graph, out_dir):
        import time

        time.sleep(60)

    outcome, = node_batch.run_batched([_graph("relu", 0)], [_feeds(0)], hang, timeout_s=1)
    assert outcome.error == "timeout: no result after 1 s"
