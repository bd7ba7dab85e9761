"""plan_memory on hand-made graphs: what is planned, when it is live, the JSON and its checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlc.ir import GraphBuilder
from mlc.memory import (STRATEGIES, MemoryPlan, PlanError, apply_order, plan_memory,
                        validate_plan)
from mlc.passes import PassManager, parse_pipeline

JSON_KEYS = {"naive_sum", "lower_bound", "strategies", "best", "arena", "tensors", "alignment",
             "strategy", "include_io"}


def mlp(width: int = 16):
    """x -> matmul -> relu -> matmul -> out, every intermediate f32[1,width]."""
    b = GraphBuilder("mlp")
    x = b.input("x", (1, width))
    w = b.const(np.ones((width, width), np.float32), name="w")
    h1 = b.matmul(x, w)
    h2 = b.relu(h1)
    h3 = b.matmul(h2, w)
    b.outputs(b.sigmoid(h3))
    return b.graph


def names(graph):
    return [n.output.name for n in graph.nodes]


def test_intermediates_planned_io_and_constants_outside():
    graph = mlp()
    h1, h2, h3, out = names(graph)
    plan = plan_memory(graph, alignment=1, inplace=False)
    by_name = {t.name: t for t in plan.tensors}
    assert set(by_name) == {h1, h2, h3}
    assert [(by_name[n].start, by_name[n].end) for n in (h1, h2, h3)] == [(0, 1), (1, 2), (2, 3)]
    assert plan.lower_bound == 128 and plan.arena == 128 and plan.naive_sum == 192
    assert "w" not in plan.value_offsets and "x" not in plan.value_offsets
    validate_plan(plan)


def test_include_io_puts_inputs_and_outputs_in_the_arena():
    graph = mlp()
    out = names(graph)[-1]
    plan = plan_memory(graph, alignment=1, include_io=True, inplace=False)
    by_name = {t.name: t for t in plan.tensors}
    assert (by_name["x"].start, by_name["x"].end) == (0, 0)
    assert (by_name[out].start, by_name[out].end) == (3, 3)
    assert plan.include_io and plan.naive_sum == 5 * 64
    validate_plan(plan)


def test_an_output_read_again_lives_to_the_last_step():
    b = GraphBuilder("g")
    x = b.input("x", (4,))
    early = b.relu(x)
    b.outputs(b.neg(b.exp(early)), early)
    plan = plan_memory(b.graph, alignment=1, include_io=True, inplace=False)
    assert {t.name: t.end for t in plan.tensors}[early.name] == 2
    assert early.name not in plan_memory(b.graph, alignment=1).value_offsets


def test_fused_bodies_are_one_step_and_their_intermediates_unplanned():
    graph = mlp()
    PassManager(parse_pipeline("fuse")).run(graph)
    assert any(n.op == "fused" for n in graph.nodes)
    plan = plan_memory(graph, alignment=1)
    assert len(plan.order) == len(graph.nodes)
    assert set(plan.value_offsets) == {n.output.name for n in graph.nodes[:-1]}


def test_json_has_exactly_the_documented_keys_and_round_trips(tmp_path):
    plan = plan_memory(mlp(), alignment=16)
    data = plan.to_json()
    assert set(data) == JSON_KEYS
    assert set(data["tensors"][0]) == {"name", "size", "offset", "start", "end"}
    assert data["best"] == plan.best() == plan.strategy
    assert data["arena"] == min(data["strategies"].values())
    json.dumps(data)
    path = tmp_path / "plan.json"
    plan.save(path)
    assert MemoryPlan.load(path) == plan
    assert MemoryPlan.from_json(data).tensors == plan.tensors


def test_load_rejects_what_is_not_a_plan(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text('{"arena": 3}')
    with pytest.raises(PlanError, match="not a memory plan"):
        MemoryPlan.load(path)
    with pytest.raises(PlanError, match="cannot read"):
        MemoryPlan.load(tmp_path / "missing.json")


def test_best_is_no_worse_than_every_strategy_and_ties_go_to_the_simpler():
    plan = plan_memory(mlp(), strategy="best", inplace=False)
    assert set(plan.strategies) >= {"naive", "greedy-size", "greedy-breadth", "near-exact"}
    assert plan.arena == min(plan.strategies.values())
    assert plan.best() == "greedy-size"  # ties with near-exact/exact on a chain
    assert plan.proven_optimal


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_each_strategy_alone(strategy):
    plan = plan_memory(mlp(), strategy=strategy, alignment=16)
    assert len(plan.strategies) == 1
    assert plan.strategy in (strategy, "near-exact")
    assert all(t.offset % 16 == 0 for t in plan.tensors)
    validate_plan(plan)


def test_user_mistakes_are_one_line_errors():
    with pytest.raises(PlanError, match="unknown memory strategy 'fastest'") as err:
        plan_memory(mlp(), strategy="fastest")
    assert "greedy-size" in err.value.hint
    with pytest.raises(PlanError, match="alignment"):
        plan_memory(mlp(), alignment=0)
    b = GraphBuilder("g")
    b.outputs(b.neg(b.relu(b.input("x", ("n", 4)))))
    with pytest.raises(PlanError, match="symbolic"):
        plan_memory(b.graph)


def test_validate_plan_catches_overlap_misalignment_and_overflow():
    plan = plan_memory(mlp(), alignment=8, inplace=False)
    first, second = plan.tensors[:2]  # live together at step 1
    broken = MemoryPlan.from_json({**plan.to_json(), "tensors": [
        {**t.__dict__, "offset": first.offset} if t is second else t.__dict__
        for t in plan.tensors]})
    with pytest.raises(PlanError, match="overlap"):
        validate_plan(broken)
    shifted = MemoryPlan.from_json({**plan.to_json(), "tensors": [
        {**t.__dict__, "offset": t.offset + 4} for t in plan.tensors]})
    with pytest.raises(PlanError, match="aligned"):
        validate_plan(shifted)
    small = MemoryPlan.from_json({**plan.to_json(), "arena": 8})
    with pytest.raises(PlanError, match="leaves"):
        validate_plan(small)


def test_apply_order_checks_the_graph():
    graph = mlp()
    plan = plan_memory(graph)
    apply_order(graph, plan)
    assert names(graph) == plan.order
    other = mlp(8)
    other.nodes[0].output.name = "renamed"
    with pytest.raises(PlanError, match="order"):
        apply_order(other, plan)


def test_a_graph_without_nodes():
    b = GraphBuilder("g")
    x = b.input("x", (3,))
    b.outputs(x)
    plan = plan_memory(b.graph)
    assert plan.arena == plan.lower_bound == plan.naive_sum == 0 and plan.tensors == []
    assert plan_memory(b.graph, include_io=True, alignment=4).arena == 12
