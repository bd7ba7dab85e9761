"""The llvm target's compiler driver: an optimised graph → one ``model.so`` with the mlc C ABI.

Steps, each a module of its own job: passes (``-O2``) → memory plan (every intermediate at a fixed
arena offset) → one loop-IR kernel per top-level node, scheduled for the host → LLVM IR (one
function per kernel plus ``mlc_run``, which calls them in plan order with pointers into the
arena, the inputs, the outputs and the weights) → LLVM's -O3 pipeline → object → linked with
``runtime/c`` into a shared library.

Weights never pass through LLVM IR text: a 100 MB model would be gigabytes of IR. They are
written to ``weights.bin`` and pulled into the library by a two-line assembler file
(``.incbin``), and kernels address them as offsets from one symbol. The same holds for the
constants kernels own (weights a schedule pre-packed), which is why the driver turns them into
ordinary parameters before rendering.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
from llvmlite import ir as llir

from mlc.errors import MlcError
from mlc.ir import Graph
from mlc.ir.graph import Node, Value
from mlc.memory import plan_memory
from mlc.memory.plan import MemoryPlan
from mlc.runtime.artifact import ArtifactWriter, Manifest
from mlc.runtime.c.build import build_shared_library

from ..loop import Kernel, lower_node, print_kernel, verify_kernel
from ..loop.ir import Buffer
from ..loop.schedule import Schedules, default_schedules
from ..loop.scratch import workspace_bytes
from .codegen import ModuleCodegen
from .emit import compile_module
from .host import HostTarget, host_target

ALIGN = 64
EMIT_FORMS = ("llvm-ir", "asm", "loop-ir")
EMIT_FILES = {"llvm-ir": "model.ll", "asm": "model.s", "loop-ir": "model.loop"}
WEIGHTS_SYMBOL = "mlc_weights"
ABI_VERSION = 1
_OK, _ERR_ARGUMENT = 0, 1


class CompileError(MlcError):
    """The model cannot be compiled for this target (an option or a graph the target rejects)."""


@dataclass(frozen=True)
class CompileOptions:
    """What ``mlc compile -t llvm`` takes. ``schedules`` defaults to the host's."""

    level: str = "O2"  # a pipeline: a level (O0..O3) or pass specs
    schedules: Schedules | None = None
    schedule_overrides: tuple[str, ...] = ()
    emit: tuple[str, ...] = ()
    memory_strategy: str = "best"

    def __post_init__(self) -> None:
        unknown = [form for form in self.emit if form not in EMIT_FORMS]
        if unknown:
            raise CompileError(f"unknown --emit form {unknown[0]!r}",
                               hint=f"choose from {', '.join(EMIT_FORMS)}")


@dataclass
class _Step:
    """One kernel call in ``mlc_run``: the kernel and, per parameter, where its data lives."""

    kernel: Kernel
    node: Node
    args: list[tuple[str, int]] = field(default_factory=list)  # (input|output|arena|weights, n)


@dataclass
class _Weights:
    """The weight blob: arrays laid out at 64-byte-aligned offsets, deduplicated by name."""

    chunks: list[bytes] = field(default_factory=list)
    offsets: dict[str, int] = field(default_factory=dict)
    size: int = 0

    def place(self, key: str, array: np.ndarray) -> int:
        if key not in self.offsets:
            data = np.ascontiguousarray(array).tobytes()
            self.offsets[key] = self.size
            padded = data + bytes(-len(data) % ALIGN)
            self.chunks.append(padded)
            self.size += len(padded)
        return self.offsets[key]


def compile_graph(graph: Graph, out_dir: str | Path, options: CompileOptions | None = None,
                  host: HostTarget | None = None) -> Manifest:
    """Compile ``graph`` (not modified) into the artifact directory ``out_dir``."""
    options = options or CompileOptions()
    host = host or host_target()
    start = time.perf_counter()
    graph, passes = _optimise(graph, options.level)
    schedules = (options.schedules or default_schedules(host.isa)).with_overrides(
        options.schedule_overrides)
    plan = plan_memory(graph, strategy=options.memory_strategy, alignment=ALIGN)
    weights = _Weights()
    steps = [_bind(graph, node, lower_node(node, schedules=schedules), plan, weights)
             for node in graph.nodes]
    copies = _output_copies(graph, weights)
    workspace_at = _align(plan.arena)
    workspace = max([workspace_bytes(s.kernel) for s in steps] + [0])
    arena_bytes = workspace_at + _align(workspace) if workspace else plan.arena
    codegen = ModuleCodegen(_module_name(graph), host)
    functions = [codegen.add_kernel(step.kernel) for step in steps]
    for function in functions:
        function.linkage = "internal"
    _entry(codegen.module, graph, steps, functions, copies, arena_bytes, workspace_at)
    compiled = compile_module(codegen.module, host, opt=3, want_asm="asm" in options.emit)
    with ArtifactWriter(out_dir) as writer, tempfile.TemporaryDirectory(prefix="mlc-llvm-") as tmp:
        build = Path(tmp)
        (build / "model.o").write_bytes(compiled.object)
        (build / "weights.bin").write_bytes(b"".join(weights.chunks) or bytes(ALIGN))
        (build / "weights.S").write_text(_WEIGHTS_ASM.format(symbol=WEIGHTS_SYMBOL))
        build_shared_library([build / "weights.S"], writer.path / "model.so",
                             objects=[build / "model.o"], flags=[f"-Wa,-I{build}"])
        plan.save(writer.path / "plan.json")
        _write_emits(writer.path, options.emit, compiled, steps)
        manifest = Manifest.for_graph(
            graph, "llvm", arena_bytes=arena_bytes, weight_bytes=weights.size,
            library="model.so", abi_version=ABI_VERSION, plan="plan.json", passes=tuple(passes),
            options={"level": options.level, "cpu": host.cpu, "isa": schedules.isa,
                     "schedules": schedules.to_json(), "memory_strategy": plan.strategy,
                     "kernels": len(steps), "workspace_bytes": workspace},
            compile_seconds=round(time.perf_counter() - start, 3))
        return writer.commit(manifest)


def _optimise(graph: Graph, level: str) -> tuple[Graph, list[str]]:
    from mlc.ir.clone import clone_graph
    from mlc.passes import PassManager, parse_pipeline

    graph = clone_graph(graph)
    passes = parse_pipeline(level)
    PassManager(passes).run(graph)
    return graph, [p.spec() for p in passes]


def _bind(graph: Graph, node: Node, kernel: Kernel, plan: MemoryPlan, weights: _Weights) -> _Step:
    """Where each of ``kernel``'s parameters lives at run time. Constants the kernel owns are
    moved into the weight blob and become plain parameters (see the module docstring)."""
    verify_kernel(kernel)
    owned = dict(kernel.constant_arrays())
    if owned:
        kernel = replace(kernel, constants=())
    values = _values_by_name(node)
    inputs = {v.name: i for i, v in enumerate(graph.inputs)}
    outputs = {v.name: i for i, v in enumerate(graph.outputs)}
    step = _Step(kernel, node)
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


def _values_by_name(node: Node) -> dict[str, Value]:
    values = {v.name: v for v in node.inputs if v is not None}
    if node.body is not None:
        for inner in node.body.nodes:
            values.update({v.name: v for v in inner.inputs if v is not None and v.is_const})
    return values


def _output_copies(graph: Graph, weights: _Weights) -> list[tuple[int, str, int, int]]:
    """Graph outputs no node writes (an input or a constant passed straight through): copied at
    the end of ``mlc_run`` as (output index, source kind, source index/offset, bytes)."""
    made = {v.name for n in graph.nodes for v in n.outputs}
    inputs = {v.name: i for i, v in enumerate(graph.inputs)}
    copies = []
    for k, value in enumerate(graph.outputs):
        if value.name in made:
            continue
        nbytes = value.type.nbytes
        if value.name in inputs:
            copies.append((k, "input", inputs[value.name], nbytes))
        elif value.is_const:
            copies.append((k, "weights", weights.place(value.name, value.const), nbytes))
    return copies


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _module_name(graph: Graph) -> str:
    return "".join(c if c.isalnum() else "_" for c in (graph.name or "model"))[:64] or "model"


# -- mlc_run and mlc_arena_bytes ------------------------------------------------------------------

_PTR = llir.PointerType()
_I8, _I32, _I64 = llir.IntType(8), llir.IntType(32), llir.IntType(64)


def _entry(module: llir.Module, graph: Graph, steps: Sequence[_Step],
           functions: Sequence[llir.Function], copies, arena_bytes: int, workspace_at: int) -> None:
    size_fn = llir.Function(module, llir.FunctionType(_I64, []), "mlc_arena_bytes")
    llir.IRBuilder(size_fn.append_basic_block("entry")).ret(_I64(arena_bytes))

    blob = llir.GlobalVariable(module, llir.ArrayType(_I8, 0), WEIGHTS_SYMBOL)
    blob.linkage = "external"
    run = llir.Function(module, llir.FunctionType(_I32, [_PTR, _PTR, _PTR]), "mlc_run")
    inputs, outputs, arena = run.args
    b = llir.IRBuilder(run.append_basic_block("entry"))
    bad = run.append_basic_block("bad_argument")
    body = run.append_basic_block("body")
    checks = [b.icmp_unsigned("==", p, _PTR(None)) for p, needed in
              ((inputs, graph.inputs), (outputs, graph.outputs), (arena, arena_bytes)) if needed]
    failed = llir.IntType(1)(0)
    if arena_bytes:
        failed = b.icmp_unsigned("!=", b.and_(b.ptrtoint(arena, _I64), _I64(ALIGN - 1)), _I64(0))
    for check in checks:
        failed = b.or_(failed, check)
    b.cbranch(failed, bad, body)
    llir.IRBuilder(bad).ret(_I32(_ERR_ARGUMENT))

    b = llir.IRBuilder(body)
    pointers = {"input": [b.load(b.gep(inputs, [_I64(i)], source_etype=_PTR), typ=_PTR)
                          for i in range(len(graph.inputs))],
                "output": [b.load(b.gep(outputs, [_I64(i)], source_etype=_PTR), typ=_PTR)
                           for i in range(len(graph.outputs))]}

    def byte_offset(base, offset: int):
        return b.gep(base, [_I64(offset)], source_etype=_I8)

    def locate(kind: str, n: int):
        if kind in pointers:
            return pointers[kind][n]
        return byte_offset(arena if kind == "arena" else blob, n)

    workspace = byte_offset(arena, workspace_at)
    for step, function in zip(steps, functions):
        args = [locate(kind, n) for kind, n in step.args] + [workspace]
        b.call(function, args)
    if copies:
        memcpy = module.declare_intrinsic("llvm.memcpy", [_PTR, _PTR, _I64])
        for k, kind, n, nbytes in copies:
            b.call(memcpy, [pointers["output"][k], locate(kind, n), _I64(nbytes), llir.IntType(1)(0)])
    b.ret(_I32(_OK))


_WEIGHTS_ASM = """\
/* The model's weights, 64-byte aligned, read by the kernels as offsets from one symbol. */
    .section .rodata
    .balign 64
    .globl {symbol}
    .hidden {symbol}
{symbol}:
    .incbin "weights.bin"
    .section .note.GNU-stack,"",@progbits
"""


def _write_emits(folder: Path, forms: Sequence[str], compiled, steps: Sequence[_Step]) -> None:
    if "llvm-ir" in forms:
        (folder / EMIT_FILES["llvm-ir"]).write_text(compiled.llvm_ir)
    if "asm" in forms and compiled.asm is not None:
        (folder / EMIT_FILES["asm"]).write_text(compiled.asm)
    if "loop-ir" in forms:
        text = "\n\n".join(print_kernel(step.kernel) for step in steps)
        (folder / EMIT_FILES["loop-ir"]).write_text(text + "\n")
