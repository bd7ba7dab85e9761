"""MemoryPlan and plan_memory: the one entry point that backends, the CLI and benchmarks call."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Sequence

from mlc.ir.graph import Graph, Node

from . import exact as _exact
from .inplace import merge_in_place
from .liveness import Buffer, PlanError, align_up, live_intervals, lower_bound
from .strategies import Offsets, Strategy, arena_size, greedy_breadth, greedy_size, naive

STRATEGIES: dict[str, Strategy] = {
    "naive": naive,
    "greedy-size": greedy_size,
    "greedy-breadth": greedy_breadth,
    "near-exact": _exact.near_exact,
    "exact": _exact.exact,
}
"""Name -> strategy, simplest first (``best`` breaks ties towards the simpler one). ``exact`` is
the MILP for small problems; when it cannot prove optimality its result is named ``near-exact``."""


@dataclass(frozen=True)
class Placement:
    name: str
    size: int
    offset: int
    start: int
    end: int


@dataclass
class MemoryPlan:
    arena: int  # bytes of the arena (max offset + aligned size)
    alignment: int
    strategy: str  # the strategy whose placement this is
    lower_bound: int  # max over steps of the sum of aligned sizes live at that step
    naive_sum: int  # sum of aligned sizes of every planned value (no reuse, not even in place)
    strategies: dict[str, int]  # arena bytes each strategy achieved
    tensors: list[Placement]
    order: list[str]  # execution order used (first output name of each node)
    value_offsets: dict[str, int]  # every planned value name -> byte offset (aliases included)
    include_io: bool
    proven_optimal: bool = False  # the arena is known to be the smallest for these buffers
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # buffer -> its values

    def best(self) -> str:
        """The strategy with the smallest arena; ties go to the simpler one."""
        rank = {name: i for i, name in enumerate(STRATEGIES)}
        return min(self.strategies, key=lambda s: (self.strategies[s], rank.get(s, len(rank))))

    def to_json(self) -> dict:
        return {
            "naive_sum": self.naive_sum,
            "lower_bound": self.lower_bound,
            "strategies": dict(self.strategies),
            "best": self.best(),
            "arena": self.arena,
            "tensors": [dataclasses.asdict(t) for t in self.tensors],
            "alignment": self.alignment,
            "strategy": self.strategy,
            "include_io": self.include_io,
        }

    def to_dict(self) -> dict:
        """to_json plus what a backend needs to execute the plan (order, every value's offset)."""
        data = self.to_json()
        data.update(order=list(self.order), value_offsets=dict(self.value_offsets),
                    proven_optimal=self.proven_optimal,
                    aliases={k: list(v) for k, v in self.aliases.items()})
        return data

    @classmethod
    def from_json(cls, data: dict) -> MemoryPlan:
        try:
            tensors = [Placement(t["name"], int(t["size"]), int(t["offset"]), int(t["start"]),
                                 int(t["end"])) for t in data["tensors"]]
            offsets = data.get("value_offsets") or {t.name: t.offset for t in tensors}
            return cls(arena=int(data["arena"]), alignment=int(data.get("alignment", 1)),
                       strategy=data.get("strategy", data.get("best", "")),
                       lower_bound=int(data["lower_bound"]), naive_sum=int(data["naive_sum"]),
                       strategies={k: int(v) for k, v in data["strategies"].items()},
                       tensors=tensors, order=list(data.get("order", [])),
                       value_offsets={k: int(v) for k, v in offsets.items()},
                       include_io=bool(data.get("include_io", False)),
                       proven_optimal=bool(data.get("proven_optimal", False)),
                       aliases={k: tuple(v) for k, v in data.get("aliases", {}).items()})
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanError(f"not a memory plan: missing or bad field {exc}") from exc

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MemoryPlan:
        try:
            with open(path) as f:
                return cls.from_json(json.load(f))
        except (OSError, json.JSONDecodeError) as exc:
            raise PlanError(f"cannot read memory plan {os.fspath(path)}: {exc}") from exc


def plan_memory(graph: Graph, strategy: str = "best", alignment: int = 64, include_io: bool = False,
                inplace: bool = True, reorder: bool = False, *, exact_max_pairs: int = 400,
                time_limit: float = 5.0) -> MemoryPlan:
    """Plan every intermediate of ``graph`` (in ``graph.nodes`` order) into one arena.

    ``strategy`` is a name from STRATEGIES or ``best`` (all of them, the smallest kept).
    ``reorder`` also tries topological orders with a lower peak and keeps one only when it gives a
    smaller arena; the graph itself is never reordered (see :func:`apply_order`). The MILP behind
    ``exact`` runs only with at most ``exact_max_pairs`` pairs of buffers live together, for at
    most ``time_limit`` seconds; otherwise (or unproven) the result is named ``near-exact``.
    """
    if strategy != "best" and strategy not in STRATEGIES:
        raise PlanError(f"unknown memory strategy {strategy!r}",
                        hint=f"choose one of: best, {', '.join(STRATEGIES)}")
    if not isinstance(alignment, int) or alignment < 1:
        raise PlanError(f"alignment must be a positive number of bytes, got {alignment!r}")
    options = dict(strategy=strategy, alignment=alignment, include_io=include_io, inplace=inplace,
                   exact_max_pairs=exact_max_pairs, time_limit=time_limit)
    plan = plan_for_order(graph, list(graph.nodes), **options)
    if reorder:
        from .reorder import better_order

        order = better_order(graph, plan.arena, alignment=alignment, include_io=include_io,
                             inplace=inplace)
        if order is not None:
            candidate = plan_for_order(graph, order, **options)
            if candidate.arena < plan.arena:
                plan = candidate
    return plan


def plan_buffers(graph: Graph, order: Sequence[Node], alignment: int, include_io: bool,
                 inplace: bool) -> tuple[list[Buffer], int]:
    """The buffers to place for ``order`` and the naive sum (no reuse at all)."""
    buffers = live_intervals(graph, order, include_io)
    naive_sum = sum(align_up(b.size, alignment) for b in buffers)
    if inplace:
        buffers = merge_in_place(graph, order, buffers)
    return buffers, naive_sum


def plan_for_order(graph: Graph, order: Sequence[Node], *, strategy: str, alignment: int,
                   include_io: bool, inplace: bool, exact_max_pairs: int = 400,
                   time_limit: float = 5.0) -> MemoryPlan:
    buffers, naive_sum = plan_buffers(graph, order, alignment, include_io, inplace)
    bound = lower_bound(buffers, alignment)
    results: dict[str, tuple[int, Offsets]] = {}
    for name in STRATEGIES if strategy == "best" else [strategy]:
        if name != "exact":  # the MILP runs below, warm-started by the best of these
            offsets = STRATEGIES[name](buffers, alignment)
            results[name] = (arena_size(buffers, offsets, alignment), offsets)
    if strategy in ("best", "exact"):
        warm = min(results.values(), key=lambda r: r[0])[1] if results else None
        offsets, proven = _exact.solve(buffers, alignment, warm=warm, max_pairs=exact_max_pairs,
                                       time_limit=time_limit)
        arena = arena_size(buffers, offsets, alignment)
        name = "exact" if proven else "near-exact"
        if name not in results or arena < results[name][0]:
            results[name] = (arena, offsets)
    strategies = {name: arena for name, (arena, _) in results.items()}
    chosen = min(results, key=lambda s: (results[s][0], list(STRATEGIES).index(s)))
    arena, offsets = results[chosen]
    # "exact" is only recorded when proven optimal, so matching it (or the bound) is the proof
    proven = arena == bound or ("exact" in results and results["exact"][0] == arena)
    tensors = [Placement(b.name, b.size, offsets[b.name], b.start, b.end)
               for b in sorted(buffers, key=lambda b: (b.start, offsets[b.name], b.name))]
    return MemoryPlan(
        arena=arena, alignment=alignment, strategy=chosen, lower_bound=bound, naive_sum=naive_sum,
        strategies=strategies, tensors=tensors,
        order=[n.outputs[0].name if n.outputs else "" for n in order],
        value_offsets={v: offsets[b.name] for b in buffers for v in b.values},
        include_io=include_io, proven_optimal=proven,
        aliases={b.name: b.values for b in buffers if len(b.values) > 1})


def validate_plan(plan: MemoryPlan) -> None:
    """Raise PlanError when offsets are misaligned, leave the arena, or two live tensors overlap."""
    a = plan.alignment
    for t in plan.tensors:
        if t.offset % a:
            raise PlanError(f"tensor {t.name} at offset {t.offset} is not {a}-byte aligned")
        if t.offset < 0 or t.offset + align_up(t.size, a) > plan.arena:
            raise PlanError(f"tensor {t.name} [{t.offset}, {t.offset + t.size}) leaves the "
                            f"{plan.arena}-byte arena")
    live = sorted((t for t in plan.tensors if t.size), key=lambda t: t.start)
    for i, t in enumerate(live):
        for u in (live[k] for k in range(i + 1, len(live))):  # no slice: a copy per tensor
            if u.start > t.end:
                break
            if t.offset < u.offset + u.size and u.offset < t.offset + t.size:
                raise PlanError(f"tensors {t.name} and {u.name} are both live at step "
                                f"{max(t.start, u.start)} and overlap in the arena")
    if plan.lower_bound > plan.arena:
        raise PlanError(f"arena {plan.arena} is below the lower bound {plan.lower_bound}")


def apply_order(graph: Graph, plan: MemoryPlan) -> None:
    """Reorder ``graph.nodes`` in place to the plan's execution order."""
    by_name = {n.outputs[0].name if n.outputs else "": n for n in graph.nodes}
    if sorted(by_name) != sorted(plan.order) or len(plan.order) != len(graph.nodes):
        raise PlanError("the plan's execution order does not match this graph's nodes",
                        hint="plan the same graph (after the same passes) you apply it to")
    graph.nodes = [by_name[name] for name in plan.order]
