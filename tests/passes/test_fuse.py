"""The fuse pass beyond its text cases: random graphs, the zoo, options, and the printed IR.

Properties checked on every graph: the result verifies (so no group made a cycle), outputs are
bit-identical (the interpreter runs the bodies with the same kernels), each group has one output,
two or more nodes, at most one conv/matmul or reduction, and a body with no constants of its own.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import mlc
from mlc.errors import MlcError
from mlc.interp import run
from mlc.ir import Graph, GraphBuilder, verify
from mlc.ops import get_op
from mlc.ops import FusionKind
from mlc.passes import PassError, PassManager, parse_pipeline
from mlc.testing.models import ZOO_MODELS, zoo_model_path
from mlc.text import external_constants, parse_text, print_graph
from tests.strategies import plain_names, random_feeds, random_graphs

ANCHORS = {FusionKind.OUT_ELEMWISE_FUSABLE, FusionKind.REDUCTION}


def fuse(graph: Graph, pipeline: str = "fuse") -> Graph:
    PassManager(parse_pipeline(pipeline)).run(graph)
    return graph


def bodies(graph: Graph) -> set[int]:
    return {id(n.body) for n in graph.nodes if n.op == "fused"}


def new_groups(graph: Graph, old_bodies: set[int]) -> list:
    """The fused nodes the pass made (not those the graph already had)."""
    return [n for n in graph.nodes if n.op == "fused" and id(n.body) not in old_bodies]


def check_group(node) -> None:
    body = node.body
    assert len(node.outputs) == 1 and len(body.outputs) == 1
    assert len(body.nodes) >= 2, "a group of one node should have stayed a plain node"
    assert not body.constants, "constants are passed in as inputs, not copied into bodies"
    assert len(body.inputs) == len(node.inputs)
    kinds = [get_op(n.op).fusion for n in body.nodes]
    assert FusionKind.OPAQUE not in kinds
    assert sum(k in ANCHORS for k in kinds) <= 1


def assert_same_outputs(graph: Graph, feeds, before) -> None:
    after = run(graph, feeds, as_list=True)
    assert len(after) == len(before)
    for got, want in zip(after, before):
        np.testing.assert_array_equal(got, want)  # bit-identical, nan included


# Ops that fuse often, plus an opaque one (fused), so diamonds and shared values around groups
# are common; the unrestricted strategy adds the rarer ops.
FUSABLE_MIX = ["relu", "sigmoid", "exp", "neg", "add", "mul", "sub", "matmul", "conv2d", "gemm",
               "reduce_sum", "softmax", "max_pool2d", "transpose", "reshape", "concat", "split",
               "fused"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(max_nodes=12, names=plain_names) | random_graphs(max_nodes=16, ops=FUSABLE_MIX,
                                                                       names=plain_names))
def test_random_graphs_fuse_safely(graph):
    feeds = random_feeds(graph)
    try:
        before = run(graph, feeds, as_list=True)
    except MlcError:
        before = None  # a kernel refuses these values (e.g. a cast out of range); structure still counts
    old = bodies(graph)
    fuse(graph)  # the PassManager verifies: a cycle would fail topological order
    for node in new_groups(graph, old):
        check_group(node)
    if before is not None:
        assert_same_outputs(graph, feeds, before)
    text = print_graph(graph)
    assert print_graph(parse_text(text, constants=external_constants(graph))) == text


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_models_fuse_bit_identically(name):
    graph = mlc.load(zoo_model_path(name))
    feeds = random_feeds(graph)
    before = run(graph, feeds, as_list=True)
    fuse(graph)
    groups = [n for n in graph.nodes if n.op == "fused"]
    assert groups, f"{name}: nothing fused"
    for node in groups:
        check_group(node)
    assert_same_outputs(graph, feeds, before)


def test_fuse_is_idempotent():
    graph = mlc.load(zoo_model_path("ic_resnet8"))
    text = print_graph(fuse(graph))
    assert PassManager(parse_pipeline("fuse")).run(graph) is False
    assert print_graph(graph) == text


def test_fused_ir_round_trips_through_text():
    graph = fuse(mlc.load(zoo_model_path("tiny_transformer")))
    text = print_graph(graph)
    assert "^matmul_add" in text and "yield" in text
    again = parse_text(text, constants=external_constants(graph))
    verify(again)
    assert print_graph(again) == text


def conv_bias_relu() -> Graph:
    b = GraphBuilder("g")
    x = b.input("x", (1, 1, 4, 4))
    c = b.conv2d(x, b.const(np.ones((2, 1, 1, 1), np.float32), name="w"))
    a = b.add(c, b.const(np.full((1, 2, 1, 1), 0.5, np.float32), name="bias"))
    b.outputs(b.relu(a))
    return b.graph


def test_group_keeps_output_name_and_loc():
    graph = conv_bias_relu()
    graph.nodes[-1].name = "Relu_7"
    out_name = graph.outputs[0].name
    fuse(graph)
    (node,) = graph.nodes
    assert node.op == "fused" and node.name == "Relu_7"
    assert graph.outputs[0].name == out_name and graph.outputs[0] is node.output
    assert [n.op for n in node.body.nodes] == ["conv2d", "add", "relu"]
    assert [v.name for v in node.inputs] == ["x", "w", "bias"]


def test_max_group_one_fuses_nothing():
    graph = conv_bias_relu()
    assert PassManager(parse_pipeline("fuse{max-group=1}")).run(graph) is False
    assert [n.op for n in graph.nodes] == ["conv2d", "add", "relu"]


def test_opaque_and_existing_groups_are_never_absorbed():
    graph = fuse(conv_bias_relu())
    b = GraphBuilder(graph=graph)
    graph.outputs = [b.neg(graph.outputs[0])]
    fuse(graph)
    assert [n.op for n in graph.nodes] == ["fused", "neg"]


def test_bad_option_names_the_options():
    with pytest.raises(PassError) as err:
        parse_pipeline("fuse{max-groups=3}")
    assert "max-group" in err.value.one_line() and "fuse-reductions" in err.value.one_line()
