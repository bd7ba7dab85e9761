"""LLVM IR text → verified, O3-optimized module → object code (and assembly on request).

Why text: llvmlite's IR builder produces a textual module; parsing it back is also where
malformed IR (a renderer bug) is caught, so every failure here is one ``LLVMCompileError`` line
rather than a crash inside LLVM.
"""

from __future__ import annotations

from dataclasses import dataclass

import llvmlite.binding as llvm
import llvmlite.ir as lir

from mlc.backends.toolchain.host import HostTarget
from mlc.errors import MlcError

from .host import target_machine


class LLVMCompileError(MlcError):
    """LLVM rejected the generated module (a bug in the renderer, reported in one line)."""


@dataclass
class Compiled:
    """The optimized module as text, its assembly (when asked for) and the object file."""

    llvm_ir: str
    asm: str | None
    object: bytes


def compile_module(module: lir.Module | str, host: HostTarget, *, opt: int = 3,
                   want_asm: bool = False) -> Compiled:
    """Parse, verify and optimize ``module`` with the new pass manager at ``opt``, then emit an
    object for ``host`` (position independent)."""
    text = str(module)
    try:
        parsed = llvm.parse_assembly(text)
        parsed.verify()
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:400]
        raise LLVMCompileError(f"LLVM rejected the generated module: {first}",
                               hint="this is a bug in mlc's LLVM renderer; please report it"
                               ) from None
    machine = target_machine(host, opt)
    parsed.triple = host.triple
    parsed.data_layout = str(machine.target_data)
    if opt > 0:
        tuning = llvm.create_pipeline_tuning_options(speed_level=opt)
        tuning.loop_vectorization = opt >= 2
        tuning.slp_vectorization = opt >= 2
        builder = llvm.create_pass_builder(machine, tuning)
        builder.getModulePassManager().run(parsed, builder)
    asm = machine.emit_assembly(parsed) if want_asm else None
    return Compiled(llvm_ir=str(parsed), asm=asm, object=machine.emit_object(parsed))
