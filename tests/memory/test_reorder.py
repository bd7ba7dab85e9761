"""Reordering: a topological order with a lower peak, kept only when the arena shrinks."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.interp import run
from mlc.ir import GraphBuilder
from mlc.memory import apply_order, plan_memory, validate_plan
from mlc.memory.reorder import is_topological, schedule


def two_branches():
    """x -> big_a -> small_a and x -> big_b -> small_b, joined; the given order runs both bigs
    first, so both big tensors are live at once; branch by branch needs only one."""
    b = GraphBuilder("g")
    x = b.input("x", (1, 4))
    w_up = b.const(np.ones((4, 256), np.float32))
    w_down = b.const(np.ones((256, 4), np.float32))
    big_a = b.matmul(x, w_up)
    big_b = b.matmul(x, w_up)
    small_a = b.matmul(big_a, w_down)
    small_b = b.matmul(big_b, w_down)
    b.outputs(b.concat(small_a, small_b, axis=1))
    return b.graph


def test_branch_by_branch_lowers_the_arena():
    graph = two_branches()
    given = [n.output.name for n in graph.nodes]
    plain = plan_memory(graph, alignment=64)
    better = plan_memory(graph, alignment=64, reorder=True)
    assert plain.arena == 2 * 1024 + 64
    assert better.arena == 1024 + 2 * 64
    assert better.order != given and sorted(better.order) == sorted(given)
    assert [n.output.name for n in graph.nodes] == given  # the caller's graph is untouched
    validate_plan(better)


def test_apply_order_then_plan_agrees_and_runs():
    graph = two_branches()
    better = plan_memory(graph, reorder=True)
    feeds = {"x": np.arange(4, dtype=np.float32).reshape(1, 4)}
    want = run(graph, feeds, as_list=True)
    np.testing.assert_array_equal(run(graph, feeds, as_list=True, plan=better)[0], want[0])
    apply_order(graph, better)
    assert is_topological(graph.nodes)
    assert plan_memory(graph).arena == better.arena
    np.testing.assert_array_equal(run(graph, feeds, as_list=True)[0], want[0])


def test_a_chain_keeps_its_order():
    b = GraphBuilder("g")
    x = b.input("x", (8,))
    b.outputs(b.exp(b.neg(b.relu(x))))
    plan = plan_memory(b.graph, reorder=True)
    assert plan.order == [n.output.name for n in b.graph.nodes]


@pytest.mark.parametrize("seed", range(5))
def test_scheduler_orders_are_topological(seed):
    import random

    graph = two_branches()
    order = schedule(graph, 64, False, random.Random(seed), spread=3)
    assert is_topological(order) and len(order) == len(graph.nodes)


def test_is_topological_sees_a_bad_order():
    graph = two_branches()
    assert is_topological(graph.nodes)
    assert not is_topological(list(reversed(graph.nodes)))
