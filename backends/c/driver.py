"""The c and c-cortex-m* targets' compiler driver: an optimised graph → C sources → a binary.

Steps: passes, memory plan, lowering and binding (``backends/program.py``, shared with llvm) →
C sources (``module.py``) → for ``c``, the system compiler builds them with ``runtime/c`` into
``model.so`` with the same C ABI as the llvm target; for ``c-cortex-m*``, the sources go into a
complete CMake project (the repository's ``CMakeLists.txt``, ``cmake/arm-none-eabi.cmake``, the
start-up code, linker script and semihosting harness of ``runtime/c/mcu``) built into
``model.elf`` with ``arm-none-eabi-gcc``, whose flash and RAM use ``arm-none-eabi-size`` reports.

Every C artifact is a complete project — the sources in ``model/`` plus ``CMakeLists.txt``,
``cmake/`` and ``runtime/c`` — that ``cmake`` builds on its own: the deliverable of a
microcontroller build, and on the host what ran (and what the ASan/UBSan tests rebuild).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from mlc.ir import Graph

from ..loop.schedule import Schedules, default_schedules
from ..options import CompileError, LoopOptions
from ..program import Program, build_program, host_schedules
from ..toolchain import cmake, cortex_m
from ..toolchain.abi import ABI_VERSION
from ..toolchain.artifact import ArtifactWriter, Manifest
from ..toolchain.cc import build_shared_library, find_c_compiler
from ..toolchain.host import host_target
from .module import MLC_OPS_HEADER, RenderOptions, Sources, render_program

HEADER_DIR = Path(__file__).resolve().parent
MODEL_DIR = "model"
# What the generated C must compile cleanly under (the acceptance flags of the C backend).
WARNING_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-pedantic")
# Rounding as the IR says (no -ffast-math), but FMA contraction like LLVM's `contract` and no
# errno from libm, so math calls inline and loops vectorize.
CODE_FLAGS = ("-ffp-contract=fast", "-fno-math-errno")
CORTEX_M_STACK_LIMIT = 1024  # bytes of scratch a kernel may put on an MCU's small stack
# The largest im2col matrix a Cortex-M conv may use; beyond it the conv is a plain loop nest with
# no scratch: slower, but boards have 64-512 KiB of SRAM, and RAM, not time, decides what fits.
CORTEX_M_IM2COL_KIB = 64
WEIGHT_FORMATS = ("auto", "c", "incbin")


@dataclass(frozen=True)
class COptions(LoopOptions):
    """What ``mlc compile -t c`` / ``-t c-cortex-m4`` take: the loop-IR options, how weights
    are stored, and whether warnings are errors."""

    weights: str = "auto"
    werror: bool = False  # host: add -Werror (the tests do; the Cortex-M project always does)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weights not in WEIGHT_FORMATS:
            raise CompileError(f"unknown weights format {self.weights!r}",
                               hint=f"choose from {', '.join(WEIGHT_FORMATS)}")


def compile_host(graph: Graph, out_dir: str | Path, options: COptions | None = None
                 ) -> Manifest:
    """Compile ``graph`` (not modified) for this machine into the artifact ``out_dir``."""
    options = options or COptions()
    start = time.perf_counter()
    host = host_target()
    program = build_program(graph, level=options.level, schedules=host_schedules(options),
                            memory_strategy=options.memory_strategy)
    sources = render_program(program, RenderOptions(threads=True, weights=options.weights))
    flags = host_flags(host.isa, werror=options.werror)
    with ArtifactWriter(out_dir) as writer:
        model_dir = _write_sources(writer.path, sources, program, options.emit)
        cmake.copy_project_files(writer.path)
        assembler = [f"-Wa,-I{model_dir}"] if sources.weights_format == "incbin" else []
        build_shared_library([model_dir / name for name in sources.c_files],
                             writer.path / "model.so", flags=flags + assembler,
                             include_dirs=[model_dir])
        return writer.commit(program.manifest(
            "c", options.level, start, library="model.so", abi_version=ABI_VERSION,
            options={**_c_options(sources), "cpu": host.cpu, "cflags": flags,
                     "compiler": Path(find_c_compiler()).name}))


def host_flags(isa: str, werror: bool = False) -> list[str]:
    """The host build's flags: the warning set (plus -Werror on request), the code flags, and
    -O3 for this CPU; on AVX-512 GCC must be told to use the full 512-bit registers the
    schedules' 16-lane loops were made for (it prefers 256 bits by default)."""
    flags = [*WARNING_FLAGS, *(["-Werror"] if werror else []), *CODE_FLAGS, "-O3",
             "-march=native"]
    if isa == "avx512":
        flags.append("-mprefer-vector-width=512")
    return flags


def compile_cortex_m(graph: Graph, out_dir: str | Path, options: COptions | None = None, *,
                     cpu: str) -> Manifest:
    """Compile ``graph`` for the Cortex-M core ``cpu`` (``cortex-m4`` …) into a project and its
    ELF in the artifact ``out_dir``."""
    options = options or COptions()
    start = time.perf_counter()
    core = cortex_m.core(cpu)
    if options.weights == "incbin":
        raise CompileError("a microcontroller build keeps its weights in weights.c",
                           hint="drop --weights incbin for Cortex-M targets")
    program = build_program(graph, level=options.level, schedules=cortex_m_schedules(options),
                            memory_strategy=options.memory_strategy,
                            alignment=core.arena_alignment, stack_limit=CORTEX_M_STACK_LIMIT)
    sources = render_program(program, RenderOptions(threads=False, weights="c",
                                                    weight_alignment=8))
    with ArtifactWriter(out_dir) as writer, tempfile.TemporaryDirectory(prefix="mlc-mcu-") as tmp:
        _write_sources(writer.path, sources, program, options.emit)
        cmake.copy_project_files(writer.path)
        build_dir = Path(tmp) / "build"
        elf = cmake.build_project(writer.path, cpu, build_dir=build_dir)
        shutil.copyfile(elf, writer.path / "model.elf")
        cflags = _recorded_flags(build_dir, f"{MODEL_DIR}/model.c")
        size = cortex_m.elf_size(writer.path / "model.elf")
        return writer.commit(program.manifest(
            f"c-{cpu}", options.level, start,
            options={**_c_options(sources), "cpu": cpu, "board": core.board,
                     "qemu_machine": core.qemu_machine, "cflags": cflags, "elf": "model.elf",
                     "size": size, "arena_lower_bound": program.plan.lower_bound}))


def cortex_m_schedules(options: LoopOptions) -> Schedules:
    """A Cortex-M core's schedules: scalar (4x4 register tiles), serial (one core), im2col
    capped at CORTEX_M_IM2COL_KIB; then the user's overrides."""
    return default_schedules("scalar").with_overrides(
        ("gemm.parallel=false", "loops.parallel=false", f"gemm.im2col_kib={CORTEX_M_IM2COL_KIB}",
         *options.schedule))


def _write_sources(folder: Path, sources: Sources, program: Program,
                   emit: Sequence[str]) -> Path:
    model_dir = folder / MODEL_DIR
    model_dir.mkdir()
    for name, content in sources.files.items():
        path = model_dir / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    shutil.copyfile(HEADER_DIR / MLC_OPS_HEADER, model_dir / MLC_OPS_HEADER)
    program.write(folder, emit)
    return model_dir


def _recorded_flags(build_dir: Path, source: str) -> list[str]:
    """The options CMake compiled ``source`` with (its compile_commands.json), paths left out."""
    import json
    import shlex

    commands = json.loads((build_dir / "compile_commands.json").read_text())
    entry = next(e for e in commands if e["file"].endswith(source))
    words = shlex.split(entry["command"])[1:]
    flags, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in ("-o", "-c", "-I", "-MF", "-MT"):
            skip = word != "-c"
        elif word.startswith("-") and not word.startswith(("-I", "-D")):
            flags.append(word)
    return flags


def _c_options(sources: Sources) -> dict:
    return {"weights_format": sources.weights_format, "sources": MODEL_DIR}
