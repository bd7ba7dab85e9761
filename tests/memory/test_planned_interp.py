"""The planned interpreter: all intermediates as views into one arena give the plain outputs.

Bit for bit, on every zoo and light model after -O2, for the default plan (``best``, in place)
with and without graph inputs/outputs in the arena, and for every strategy on a few models. A
deliberately overlapping plan is both rejected by validate_plan and seen to corrupt outputs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mlc.interp import run
from mlc.memory import STRATEGIES, MemoryPlan, PlanError, plan_memory, validate_plan
from mlc.testing.models import LIGHT_MODELS, ZOO_MODELS
from tests.memory.models import optimised, seeded_feeds


def check_planned(name: str, plans) -> None:
    graph = optimised(name)
    feeds = seeded_feeds(graph)
    want = run(graph, feeds, as_list=True)
    for plan in plans(graph):
        validate_plan(plan)
        got = run(graph, feeds, as_list=True, plan=plan)
        for value, g, w in zip(graph.outputs, got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            assert g.tobytes() == w.tobytes(), f"{name}: %{value.name} differs ({plan.strategy})"


def default_plans(graph):
    yield plan_memory(graph)
    yield plan_memory(graph, include_io=True, alignment=8)


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_planned_equals_plain(name):
    check_planned(name, default_plans)


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_planned_equals_plain(name):
    check_planned(name, default_plans)


@pytest.mark.parametrize("name", ["digits_cnn", "ic_resnet8", "tiny_transformer"])
def test_every_strategy_executes_correctly(name):
    check_planned(name, lambda g: (plan_memory(g, strategy=s, alignment=16, inplace=False)
                                   for s in STRATEGIES))


@pytest.mark.slow
def test_reordered_plan_executes_in_its_order():
    check_planned("shufflenet", lambda g: [plan_memory(g, reorder=True)])


def test_an_overlapping_plan_is_rejected_and_corrupts_outputs():
    graph = optimised("ic_resnet8")
    plan = plan_memory(graph)
    # Everything at offset 0: a residual branch's input is overwritten before the add reads it.
    broken = dataclasses.replace(
        plan, tensors=[dataclasses.replace(t, offset=0) for t in plan.tensors],
        value_offsets={v: 0 for v in plan.value_offsets})
    with pytest.raises(PlanError, match="overlap"):
        validate_plan(broken)
    feeds = seeded_feeds(graph)
    want = run(graph, feeds, as_list=True)
    got = run(graph, feeds, as_list=True, plan=broken)
    assert any(not np.array_equal(g, w) for g, w in zip(got, want))


def test_a_plan_for_another_graph_is_refused():
    plan = plan_memory(optimised("digits_cnn"))
    graph = optimised("digits_mlp")
    with pytest.raises(PlanError, match="order"):
        run(graph, seeded_feeds(graph), plan=plan)
    small = MemoryPlan.from_json({**plan.to_dict(), "arena": 4})
    graph = optimised("digits_cnn")
    with pytest.raises(PlanError, match="leaves"):
        run(graph, seeded_feeds(graph), plan=small)
