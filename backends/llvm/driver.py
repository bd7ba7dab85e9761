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
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Sequence

from llvmlite import ir as llir

from mlc.ir import Graph

from ..options import LoopOptions
from ..program import IndexCheck, Program, build_program, host_schedules
from ..toolchain.abi import (ABI_VERSION, ARENA_ALIGN, STATUS_BAD_ARGUMENT, STATUS_BAD_INPUT,
                             STATUS_OK)
from ..toolchain.artifact import ArtifactWriter, Manifest
from ..toolchain.cc import build_shared_library
from ..toolchain.host import host_target
from . import lltypes as T
from .codegen import ModuleCodegen
from .emit import compile_module
from .io_desc import emit_io_desc

WEIGHTS_SYMBOL = "mlc_weights"


@dataclass(frozen=True)
class LlvmOptions(LoopOptions):
    """What ``mlc compile -t llvm`` takes: the loop-IR options, and LLVM's forms to emit."""

    EMIT_FORMS: ClassVar[tuple[str, ...]] = ("llvm-ir", "asm", "loop-ir")


def compile_graph(graph: Graph, out_dir: str | Path, options: LlvmOptions | None = None
                  ) -> Manifest:
    """Compile ``graph`` (not modified) for this machine into the artifact directory
    ``out_dir``."""
    options = options or LlvmOptions()
    host = host_target()
    start = time.perf_counter()
    program = build_program(graph, level=options.level, schedules=host_schedules(options),
                            memory_strategy=options.memory_strategy, alignment=ARENA_ALIGN)
    codegen = ModuleCodegen(program.graph.name or "model", host)
    functions = [codegen.add_kernel(step.kernel) for step in program.steps]
    for function in functions:
        function.linkage = "internal"
    _entry(codegen.module, program, functions)
    compiled = compile_module(codegen.module, host, opt=3, want_asm="asm" in options.emit)
    with ArtifactWriter(out_dir) as writer, tempfile.TemporaryDirectory(prefix="mlc-llvm-") as tmp:
        build = Path(tmp)
        (build / "model.o").write_bytes(compiled.object)
        (build / "weights.bin").write_bytes(program.weights.blob())
        (build / "weights.S").write_text(_WEIGHTS_ASM.format(symbol=WEIGHTS_SYMBOL))
        build_shared_library([build / "weights.S"], writer.path / "model.so",
                             objects=[build / "model.o"], flags=[f"-Wa,-I{build}"])
        program.write(writer.path, options.emit)
        if "llvm-ir" in options.emit:
            (writer.path / "model.ll").write_text(compiled.llvm_ir)
        if "asm" in options.emit and compiled.asm is not None:
            (writer.path / "model.s").write_text(compiled.asm)
        return writer.commit(program.manifest("llvm", options.level, start,
                                              options={"cpu": host.cpu}, library="model.so",
                                              abi_version=ABI_VERSION))


# -- mlc_run, mlc_arena_bytes, mlc_io_count and mlc_io_desc ---------------------------------------

def _entry(module: llir.Module, program: Program, functions: Sequence[llir.Function]) -> None:
    graph, arena_bytes = program.graph, program.arena_bytes
    emit_io_desc(module, graph)
    size_fn = llir.Function(module, llir.FunctionType(T.i64, []), "mlc_arena_bytes")
    llir.IRBuilder(size_fn.append_basic_block("entry")).ret(T.i64(arena_bytes))

    blob = llir.GlobalVariable(module, llir.ArrayType(T.i8, 0), WEIGHTS_SYMBOL)
    blob.linkage = "external"
    run = llir.Function(module, llir.FunctionType(T.i32, [T.ptr, T.ptr, T.ptr]), "mlc_run")
    inputs, outputs, arena = run.args
    b = llir.IRBuilder(run.append_basic_block("entry"))
    bad = run.append_basic_block("bad_argument")
    body = run.append_basic_block("body")
    checks = [b.icmp_unsigned("==", p, T.ptr(None)) for p, needed in
              ((inputs, graph.inputs), (outputs, graph.outputs), (arena, arena_bytes)) if needed]
    failed = T.i1(0)
    if arena_bytes:
        misaligned = b.and_(b.ptrtoint(arena, T.i64), T.i64(ARENA_ALIGN - 1))
        failed = b.icmp_unsigned("!=", misaligned, T.i64(0))
    for check in checks:
        failed = b.or_(failed, check)
    b.cbranch(failed, bad, body)
    llir.IRBuilder(bad).ret(T.i32(STATUS_BAD_ARGUMENT))

    b = llir.IRBuilder(body)
    pointers = {"input": [b.load(b.gep(inputs, [T.i64(i)], source_etype=T.ptr), typ=T.ptr)
                          for i in range(len(graph.inputs))],
                "output": [b.load(b.gep(outputs, [T.i64(i)], source_etype=T.ptr), typ=T.ptr)
                           for i in range(len(graph.outputs))]}

    for check in program.index_checks:
        b = _check_indices(run, b, pointers["input"][check.input], check)

    def byte_offset(base, offset: int):
        return b.gep(base, [T.i64(offset)], source_etype=T.i8)

    def locate(kind: str, n: int):
        if kind in pointers:
            return pointers[kind][n]
        return byte_offset(arena if kind == "arena" else blob, n)

    workspace = byte_offset(arena, program.workspace_at)
    for step, function in zip(program.steps, functions):
        args = [locate(kind, n) for kind, n in step.args] + [workspace]
        b.call(function, args)
    if program.copies:
        memcpy = module.declare_intrinsic("llvm.memcpy", [T.ptr, T.ptr, T.i64])
        for copy in program.copies:
            b.call(memcpy, [pointers["output"][copy.output], locate(*copy.source),
                            T.i64(copy.nbytes), T.i1(0)])
    b.ret(T.i32(STATUS_OK))


def _check_indices(run: llir.Function, b: llir.IRBuilder, base, check: IndexCheck
                   ) -> llir.IRBuilder:
    """A loop over the input's values that returns STATUS_BAD_INPUT at the first outside
    [-dim, dim); the builder it returns continues after the loop."""
    loop, latch = run.append_basic_block("check_index"), run.append_basic_block("next_index")
    bad, done = run.append_basic_block("index_out_of_range"), run.append_basic_block("indices_ok")
    entry = b.block
    b.branch(loop)
    lb = llir.IRBuilder(loop)
    i = lb.phi(T.i64)
    element = T.mem(check.dtype)
    v = lb.load(lb.gep(base, [i], source_etype=element), typ=element)
    v = lb.sext(v, T.i64) if element.width < 64 else v
    outside = lb.or_(lb.icmp_signed("<", v, T.i64(-check.dim)),
                     lb.icmp_signed(">=", v, T.i64(check.dim)))
    lb.cbranch(outside, bad, latch)
    llir.IRBuilder(bad).ret(T.i32(STATUS_BAD_INPUT))
    nb = llir.IRBuilder(latch)
    following = nb.add(i, T.i64(1))
    nb.cbranch(nb.icmp_unsigned("<", following, T.i64(check.count)), loop, done)
    i.add_incoming(T.i64(0), entry)
    i.add_incoming(following, latch)
    return llir.IRBuilder(done)


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
