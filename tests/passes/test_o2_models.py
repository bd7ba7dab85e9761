"""Acceptance for -O2 on whole models: numerics against onnxruntime and what must be gone or fused.

After the -O2 pipeline (through the PassManager, verifying after each pass) the interpreter must
still match onnxruntime at rtol 1e-4, atol 1e-5 on every zoo model and the nine ONNX light models;
no batch_norm, dropout or identity may remain, top level or inside fused bodies; and every
conv/matmul/gemm whose output feeds a bias add or an activation must sit in one group with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import mlc
from mlc.inputs import make_feeds
from mlc.interp import run
from mlc.ir import Graph
from mlc.ir.graph import Node
from mlc.ops import get_op
from mlc.ops import FusionKind
from mlc.passes import PassManager, parse_pipeline
from mlc.testing.models import LIGHT_MODELS, ZOO_MODELS, light_model_path, zoo_model_path

RTOL, ATOL = 1e-4, 1e-5
GONE = {"batch_norm", "dropout", "identity"}
ANCHORS = {"conv2d", "conv2d_transpose", "matmul", "gemm"}
EPILOGUE = {FusionKind.ELEMWISE, FusionKind.BROADCAST}


def all_nodes(graph: Graph):
    for node in graph.nodes:
        yield node
        if node.body is not None:
            yield from all_nodes(node.body)


def unfused_epilogues(graph: Graph) -> list[str]:
    """Top-level conv/matmul nodes whose one reader is a bias add or activation left outside a group.

    A reader inside a group that has its own conv/matmul is fine: that is a residual add joining
    two branches, and only one of them can own it. Readers that are not elementwise (a transpose,
    a concat, a pool) are not epilogues and need not join.
    """
    problems = []
    for node in graph.nodes:
        if node.op not in ANCHORS or node.output.is_graph_output or len(node.output.users) != 1:
            continue
        (user,) = node.output.users
        if user.op == "fused":
            if any(n.op in ANCHORS for n in user.body.nodes):
                continue
            params = [p for p, v in zip(user.body.inputs, user.inputs) if v is node.output]
            readers = [r.op for p in params for r in p.users if get_op(r.op).fusion in EPILOGUE]
            if readers:
                problems.append(f"{_describe(node)} feeds a group without it: {_ops(user)}")
        elif get_op(user.op).fusion in EPILOGUE:
            problems.append(f"{_describe(node)} is not fused with its {user.op}")
    return problems


def _describe(node: Node) -> str:
    return f"{node.op} -> %{node.output.name}"


def _ops(node: Node) -> str:
    return ",".join(n.op for n in node.body.nodes)


def optimise(path: Path) -> tuple[Graph, Graph]:
    original = mlc.load(path)
    graph = original.copy()
    PassManager(parse_pipeline("O2")).run(graph)
    return original, graph


def check_o2(path: Path) -> None:
    original, graph = optimise(path)
    left = sorted({n.op for n in all_nodes(graph)} & GONE)
    assert not left, f"{path.name}: {left} remain after -O2"
    problems = unfused_epilogues(graph)
    assert not problems, f"{path.name}: " + "; ".join(problems)
    assert len(graph.nodes) < len(original.nodes), f"{path.name}: -O2 removed or fused nothing"

    feeds = make_feeds(original)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    expected = session.run(None, feeds)
    actual = run(graph, feeds, as_list=True)
    assert len(actual) == len(expected)
    for value, got, want in zip(graph.outputs, actual, expected):
        assert got.shape == want.shape, value.name
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL,
                                   err_msg=f"{path.name}: output {value.name} after -O2")


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_after_o2(name):
    check_o2(zoo_model_path(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_after_o2(name):
    check_o2(light_model_path(name))


def test_unfused_epilogue_check_catches_a_lone_conv():
    """The acceptance check itself: a conv left apart from its relu is reported."""
    b = mlc.GraphBuilder("g")
    x = b.input("x", (1, 1, 2, 2))
    b.outputs(b.relu(b.conv2d(x, b.const(np.ones((1, 1, 1, 1), np.float32)))))
    assert unfused_epilogues(b.graph) == [f"conv2d -> %{b.graph.nodes[0].output.name} is not fused "
                                          "with its relu"]
    PassManager(parse_pipeline("fuse")).run(b.graph)
    assert unfused_epilogues(b.graph) == []
