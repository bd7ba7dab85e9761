"""The acceptance bar: the best arena is within 10% of the lower bound on every model after -O2.

The lower bound is the largest sum of aligned sizes live at one step of the plan's own order and
buffers (after in-place merging), so no placement of those buffers can do better.
"""

from __future__ import annotations

import pytest

from mlc.memory import plan_memory, validate_plan
from mlc.testing.models import LIGHT_MODELS, ZOO_MODELS
from tests.memory.models import optimised

RATIO = 1.10
ALIGNMENTS = (8, 16, 64)  # a Cortex-M0+'s arena, an M4/M7/M33's, x86's


def check_bound(name: str) -> None:
    graph = optimised(name)
    for alignment in ALIGNMENTS:
        plan = plan_memory(graph, alignment=alignment)
        validate_plan(plan)
        assert plan.lower_bound > 0
        ratio = plan.arena / plan.lower_bound
        assert ratio <= RATIO, f"{name} @{alignment}: best {plan.arena} = {ratio:.3f} x bound"
        assert plan.arena <= min(plan.strategies.values())
        assert plan.arena < plan.naive_sum


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_best_within_bound(name):
    check_bound(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_best_within_bound(name):
    check_bound(name)
