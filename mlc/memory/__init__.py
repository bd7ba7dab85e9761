"""mlc.memory: static memory planning of intermediate tensors into one arena.

liveness (who is live when) -> inplace (elementwise outputs over dying inputs) -> strategies
(offsets) -> plan (the MemoryPlan a backend stores and the planned interpreter executes).
Optionally reorder (a topological order with a lower peak) before all of it.
"""

from .liveness import Buffer, PlanError, align_up, live_intervals, lower_bound  # noqa: F401
from .plan import (STRATEGIES, MemoryPlan, Placement, apply_order,  # noqa: F401
                   plan_memory, validate_plan)
