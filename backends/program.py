"""A graph lowered for a compiled target: kernels in plan order, each parameter bound to storage.

Every compiled backend (llvm, c, c-cortex-m*) needs the same whole-model facts before it renders
anything: the optimised graph, the memory plan (an arena offset for every intermediate), one
loop-IR kernel per top-level node, where each kernel parameter lives at run time (a graph input or
output, an arena offset, or a weight), the graph outputs that no kernel writes (copied at the end),
and the scratch workspace kernels share after the planned tensors. ``build_program`` computes them
once; the renderers only differ in how they spell ``mlc_run`` and the weights.

``mlc_run`` also checks the inputs whose values index an axis (Gather's indices fed by a graph
input): an index out of range returns ``MLC_ERR_INPUT`` before any kernel runs, as onnxruntime
and the reference interpreter refuse it (the kernels themselves clamp, so memory stays safe).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mlc.ir import DType, Graph, Value
from mlc.ir.graph import Node
from mlc.memory import align_up, plan_memory
from mlc.memory.plan import MemoryPlan

from .loop import Kernel, lower_node, print_kernel, verify_kernel
from .loop.schedule import Schedules, default_schedules
from .loop.scratch import STACK_LIMIT_BYTES, workspace_bytes
from .options import CompileError, LoopOptions
from .toolchain.artifact import Manifest
from .toolchain.host import host_target

# Where a kernel argument lives: ("input", i), ("output", i), ("arena", byte offset) or
# ("weights", byte offset in the weight blob).
Location = tuple[str, int]
PLAN_FILE = "plan.json"


@dataclass
class Step:
    """One kernel call in ``mlc_run``: the kernel and, per parameter, where its data lives."""

    kernel: Kernel
    node: Node
    args: list[Location] = field(default_factory=list)


@dataclass(frozen=True)
class WeightEntry:
    key: str  # the value name, or "<kernel>/<name>" for a constant a kernel owns
    offset: int  # byte offset in the blob
    array: np.ndarray


@dataclass
class Weights:
    """The model's constant data: arrays at ``alignment``-aligned offsets of one blob,
    deduplicated by key. A renderer may emit the blob (llvm) or one array per entry (c)."""

    alignment: int = 64
    entries: dict[str, WeightEntry] = field(default_factory=dict)
    size: int = 0

    def place(self, key: str, array: np.ndarray) -> int:
        if key not in self.entries:
            array = np.ascontiguousarray(array)
            self.entries[key] = WeightEntry(key, self.size, array)
            self.size += align_up(max(array.nbytes, 1), self.alignment)
        return self.entries[key].offset

    def by_offset(self) -> dict[int, WeightEntry]:
        return {e.offset: e for e in self.entries.values()}

    def blob(self) -> bytes:
        """Every entry at its offset, zero padded (at least one alignment unit)."""
        data = bytearray(max(self.size, self.alignment))
        for entry in self.entries.values():
            raw = entry.array.tobytes()
            data[entry.offset:entry.offset + len(raw)] = raw
        return bytes(data)


@dataclass(frozen=True)
class OutputCopy:
    """A graph output no node writes (an input or a constant passed straight through)."""

    output: int
    source: Location
    nbytes: int


@dataclass(frozen=True)
class IndexCheck:
    """Graph input ``input`` (``count`` elements of ``dtype``) indexes an axis of ``dim``
    entries: every value must lie in [-dim, dim)."""

    input: int
    dtype: DType
    count: int
    dim: int


@dataclass
class Program:
    graph: Graph  # optimised
    passes: list[str]
    schedules: Schedules
    plan: MemoryPlan
    steps: list[Step]
    weights: Weights
    copies: list[OutputCopy]
    workspace_at: int  # byte offset of the shared kernel workspace in the arena
    workspace: int  # its size
    arena_bytes: int
    stack_limit: int
    index_checks: list[IndexCheck] = field(default_factory=list)

    def write(self, folder: Path, emit: Sequence[str]) -> None:
        """``plan.json``, and with ``--emit loop-ir`` every kernel in call order (``model.loop``):
        what every loop-IR artifact holds besides its binary."""
        self.plan.save(folder / PLAN_FILE)
        if "loop-ir" in emit:
            text = "\n\n".join(print_kernel(step.kernel) for step in self.steps)
            (folder / "model.loop").write_text(text + "\n")

    def manifest(self, target: str, level: str, started: float, *, options: dict[str, Any],
                 **fields: Any) -> Manifest:
        """The artifact's manifest: the loop-IR facts every such target records (level, ISA,
        schedules, plan, kernels, workspace), the target's own ``options`` and ``fields``, and
        the seconds since ``started``."""
        return Manifest.for_graph(
            self.graph, target, arena_bytes=self.arena_bytes, weight_bytes=self.weights.size,
            plan=PLAN_FILE, passes=tuple(self.passes),
            options={"level": level, "isa": self.schedules.isa,
                     "schedules": self.schedules.to_json(), "memory_strategy": self.plan.strategy,
                     "kernels": len(self.steps), "workspace_bytes": self.workspace, **options},
            compile_seconds=round(time.perf_counter() - started, 3), **fields)


def build_program(graph: Graph, *, level: str, schedules: Schedules, memory_strategy: str = "best",
                  alignment: int = 64, stack_limit: int = STACK_LIMIT_BYTES) -> Program:
    """Optimise a copy of ``graph`` with the pipeline ``level``, plan its memory and lower and
    bind every node. ``stack_limit``: scratch buffers larger than this go to the workspace."""
    graph, passes = optimise(graph, level)
    plan = plan_memory(graph, strategy=memory_strategy, alignment=alignment)
    weights = Weights(alignment)
    steps = [_bind(graph, node, lower_node(node, schedules=schedules), plan, weights)
             for node in graph.nodes]
    copies = _output_copies(graph, weights)
    workspace_at = align_up(plan.arena, alignment)
    workspace = max([workspace_bytes(s.kernel, stack_limit) for s in steps] + [0])
    arena_bytes = workspace_at + align_up(workspace, alignment) if workspace else plan.arena
    return Program(graph, passes, schedules, plan, steps, weights, copies, workspace_at,
                   workspace, arena_bytes, stack_limit, index_checks(graph))


def index_checks(graph: Graph) -> list[IndexCheck]:
    """The graph inputs that Gathers (at any depth of fused bodies) read as indices, each with
    the smallest axis it indexes."""
    position = {id(v): i for i, v in enumerate(graph.inputs)}
    dims: dict[int, int] = {}

    def visit(g: Graph, outer: dict[int, Value]) -> None:
        for node in g.nodes:
            if node.body is not None:
                visit(node.body, {id(inner): outer.get(id(v), v)
                                  for inner, v in zip(node.body.inputs, node.inputs)})
            elif node.op == "gather":
                x, indices = node.inputs
                k = position.get(id(outer.get(id(indices), indices)))
                if k is not None:
                    dim = x.shape[node.attrs["axis"] % len(x.shape)]
                    dims[k] = min(dims.get(k, dim), dim)

    visit(graph, {})
    counts = {k: math.prod(graph.inputs[k].shape) for k in dims}
    return [IndexCheck(k, graph.inputs[k].dtype, counts[k], dim)
            for k, dim in sorted(dims.items()) if counts[k]]


def host_schedules(options: LoopOptions) -> Schedules:
    """The schedules for this machine's vector ISA, with the user's overrides."""
    return default_schedules(host_target().isa).with_overrides(options.schedule)


def optimise(graph: Graph, level: str) -> tuple[Graph, list[str]]:
    """A copy of ``graph`` after the pipeline ``level`` (a level or pass specs), and the specs."""
    from mlc.ir.clone import clone_graph
    from mlc.passes import PassManager, parse_pipeline

    graph = clone_graph(graph)
    passes = parse_pipeline(level)
    PassManager(passes).run(graph)
    return graph, [p.spec() for p in passes]


def _bind(graph: Graph, node: Node, kernel: Kernel, plan: MemoryPlan, weights: Weights) -> Step:
    """Where each of ``kernel``'s parameters lives at run time. Constants the kernel owns are
    moved into the weights and become plain parameters, so no renderer has to embed them."""
    verify_kernel(kernel)
    owned = dict(kernel.constant_arrays())
    if owned:
        kernel = replace(kernel, constants=())
    values = {v.name: v for v in node.inputs if v is not None}  # a body's constants are owned
    inputs = {v.name: i for i, v in enumerate(graph.inputs)}
    outputs = {v.name: i for i, v in enumerate(graph.outputs)}
    step = Step(kernel, node)
    for param in kernel.params:
        name = param.name
        if name in owned:
            step.args.append(("weights", weights.place(f"{kernel.name}/{name}", owned[name])))
        elif name in inputs:  # never written; when also an output it is copied there last
            step.args.append(("input", inputs[name]))
        elif name in outputs:  # written here, or read back by a later kernel
            step.args.append(("output", outputs[name]))
        elif name in plan.value_offsets:
            step.args.append(("arena", plan.value_offsets[name]))
        elif name in values and values[name].is_const:
            step.args.append(("weights", weights.place(name, values[name].const)))
        else:
            raise CompileError(f"kernel {kernel.name}: no storage for parameter {name!r}",
                               hint="this is a bug in mlc; please report it")
    return step


def _output_copies(graph: Graph, weights: Weights) -> list[OutputCopy]:
    made = {v.name for n in graph.nodes for v in n.outputs}
    inputs = {v.name: i for i, v in enumerate(graph.inputs)}
    copies = []
    for k, value in enumerate(graph.outputs):
        if value.name in made:
            continue
        nbytes = value.type.nbytes
        if value.name in inputs:
            copies.append(OutputCopy(k, ("input", inputs[value.name]), nbytes))
        elif value.is_const:
            copies.append(OutputCopy(k, ("weights", weights.place(value.name, value.const)),
                                     nbytes))
    return copies
