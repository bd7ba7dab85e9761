"""The ``tvm-llvm`` and ``cuda`` compiler driver: optimised graph → Relax → TVM → artifact.

Steps: mlc's passes (``-O2``) → ``relax_module.to_relax`` (one PrimFunc per fused group) →
schedules (dlight / CPU rules, or MetaSchedule with ``tune``) → Relax's lowering passes without
its FuseOps → ``relax.build`` → ``model.so`` (TVM's exported library: the VM bytecode, the host
code and, for CUDA, the kernels). For CUDA the kernels are also compiled here, ahead of time, by
nvcc into ``kernels.fatbin`` for the card's architecture; the loader hands that binary to TVM
when the module loads, so a GPU machine compiles nothing (NVRTC failed there on CUDA 13 headers).
``kernels.cu`` keeps the source, and the manifest maps every fused group to its kernel.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mlc.errors import first_line
from mlc.ir import Graph

from ..options import CompileError, CompileOptions
from ..program import index_checks, optimise
from ..toolchain.artifact import ArtifactWriter, Manifest
from ..toolchain.host import host_target
from ..toolchain.tools import Tool
from . import require_tvm

DEFAULT_ARCH = "sm_90"
EMIT_FILES = {"relax": "model.relax.py", "tir": "model.tir.py"}
TARGETS = ("tvm-llvm", "cuda")
_ARCH = re.compile(r"sm_\d{2,3}[af]?")


class TvmCompileError(CompileError):
    """The model cannot be compiled through TVM (an option, a missing tool, a TVM failure)."""


@dataclass(frozen=True)
class TvmOptions(CompileOptions):
    """What ``mlc compile -t tvm-llvm`` / ``-t cuda`` take on top of the level and forms."""

    arch: str = DEFAULT_ARCH  # cuda only
    tune: int = 0  # MetaSchedule trials over the whole model; 0: dlight / CPU rules

    EMIT_FORMS: ClassVar[tuple[str, ...]] = ("relax", "tir")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _ARCH.fullmatch(self.arch):
            raise TvmCompileError(f"--arch {self.arch!r} is not a CUDA architecture",
                                  hint="e.g. --arch sm_90 (H100/H200) or sm_80 (A100)")
        if self.tune < 0:
            raise TvmCompileError(f"--tune {self.tune}: the trial count must be ≥ 0")


def tvm_target(name: str, arch: str = DEFAULT_ARCH):
    """The TVM Target for an mlc target name (TVM 0.27 takes JSON-style dicts)."""
    tvm = require_tvm()
    host = {"kind": "llvm", "mcpu": host_target().cpu, "num-cores": os.cpu_count() or 1}
    if name == "tvm-llvm":
        return tvm.target.Target(host)
    if name == "cuda":
        # Hopper and Ampere cards all allow these; stating them keeps dlight from guessing
        return tvm.target.Target({"kind": "cuda", "arch": arch, "max_threads_per_block": 1024,
                                  "max_shared_memory_per_block": 49152,
                                  "thread_warp_size": 32}, host=host)
    raise TvmCompileError(f"{name!r} is not a TVM target", hint=f"choose {' or '.join(TARGETS)}")


def compile_tvm(graph: Graph, out_dir: str | os.PathLike, options: TvmOptions | None = None, *,
                target_name: str) -> Manifest:
    """Compile ``graph`` (not modified) for ``target_name`` into the artifact ``out_dir``."""
    options = options or TvmOptions()
    tvm = require_tvm()
    from .relax_module import to_relax

    start = time.perf_counter()
    target = tvm_target(target_name, options.arch)
    if target_name == "cuda":
        _nvcc()  # before any work: the kernels are compiled ahead of time
        if options.tune and not tvm.cuda(0).exist:
            raise TvmCompileError("--tune measures candidate kernels on the GPU, and this "
                                  "machine has none", hint="run `mlc compile -t cuda --tune N` "
                                  "on the GPU machine, or leave out --tune (dlight schedules)")
    optimised, passes = optimise(graph, options.level)
    program = to_relax(optimised)
    with ArtifactWriter(out_dir) as writer, tempfile.TemporaryDirectory(prefix="mlc-tvm-") as tmp:
        module, schedule = _schedule(program.module, target, options.tune, Path(tmp))
        for form, emitted in (("relax", program.module), ("tir", module)):
            if form in options.emit:
                (writer.path / EMIT_FILES[form]).write_text(emitted.script())
        executable = _build(module, target)
        library = write_library(executable, writer.path, target_name, options.arch)
        groups = [{"index": g.index, "name": g.name, "ops": g.ops, "primfunc": g.primfunc}
                  for g in program.groups]
        for group in groups if target_name == "cuda" else ():
            group["kernels"] = kernels_of(group["primfunc"], library["kernel_names"])
        library.pop("kernel_names", None)
        manifest = Manifest.for_graph(
            optimised, target_name, library="model.so", passes=tuple(passes),
            weight_bytes=sum(v.type.nbytes for v in optimised.constants.values()),
            options={"level": options.level, "tvm_version": tvm.__version__,
                     "tvm_target": json.loads(str(target)), "schedule": schedule,
                     "kernels": len(program.kernel_groups), "groups": groups,
                     "index_checks": [{"input": c.input, "dim": c.dim}
                                      for c in index_checks(optimised)], **library},
            compile_seconds=round(time.perf_counter() - start, 3))
        return writer.commit(manifest)


def write_library(executable, folder: Path, target_name: str, arch: str) -> dict:
    """Export a built TVM executable as ``model.so`` into ``folder``; for cuda also write the
    kernels' source and compile them ahead of time. Returns the manifest options it implies."""
    if target_name == "cuda":
        nvcc = _nvcc()
    executable.export_library(str(folder / "model.so"))
    if target_name != "cuda":
        return {}
    source = _device_source(executable, "cuda")
    (folder / "kernels.cu").write_text(source)
    _compile_fatbin(nvcc, folder / "kernels.cu", folder / "kernels.fatbin", arch)
    kernels = kernel_names(source)
    return {"arch": arch, "cuda_source_sha256": source_digest(source), "fatbin": "kernels.fatbin",
            "gpu_kernels": len(kernels), "kernel_names": kernels}


def _schedule(module, target, trials: int, work_dir: Path):
    """(the module with every PrimFunc scheduled, how it was scheduled)."""
    from .schedule import default_schedule, single_element_reductions

    module = single_element_reductions(module)
    with target:
        if trials:
            from tvm import relax

            _check_ir_serialization()
            try:
                module = relax.transform.MetaScheduleTuneIRMod(
                    params={}, work_dir=str(work_dir), max_trials_global=trials)(module)
                module = relax.transform.MetaScheduleApplyDatabase(str(work_dir))(module)
            except Exception as exc:  # TVM's tuner raises its own C++-wrapped errors
                raise TvmCompileError(f"MetaSchedule tuning failed: {first_line(exc)}",
                                      hint="compile without --tune to use the default "
                                           "schedules") from None
        module = default_schedule(target)(module)  # whatever tuning left unscheduled
    kind = f"metaschedule ({trials} trials)" if trials else (
        "dlight" if target.kind.name == "cuda" else "cpu-loops")
    return module, kind


_SERIALIZE_PROBE = """
import tvm
from tvm import te
a = te.placeholder((4,), name="a")
b = te.compute((4,), lambda i: a[i] + 1.0, name="b")
tvm.ir.save_json(tvm.IRModule({"main": te.create_prim_func([a, b])}))
"""


def _check_ir_serialization() -> None:
    """MetaSchedule stores every workload as TVM's JSON; apache-tvm 0.27.0.post1 segfaults in
    ``tvm.ir.save_json`` of any PrimFunc here (ToJSONGraph), which would kill mlc mid-compile.
    Probe it in a child process first, so a broken TVM is one clear line instead of a crash."""
    probe = subprocess.run([sys.executable, "-c", _SERIALIZE_PROBE], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        how = f"signal {-probe.returncode}" if probe.returncode < 0 else \
            f"exit status {probe.returncode}"
        raise TvmCompileError(f"--tune needs TVM to serialize TIR for MetaSchedule, and this TVM "
                              f"crashes doing it (tvm.ir.save_json: {how})",
                              hint="compile without --tune (dlight / CPU schedules), or use a "
                                   "TVM build whose save_json works")


def _build(module, target):
    tvm = require_tvm()
    from tvm import relax

    @tvm.transform.module_pass(opt_level=0)
    def lower(mod, _ctx):
        """Relax's own lowering, minus the legalize/fuse stage that would re-fuse the groups."""
        if target.kind.name == "cuda":
            from tvm.relax.backend.cuda import pipeline
        else:
            from tvm.relax.backend.cpu_generic import pipeline
        with target:
            passes = pipeline.dataflow_lower_passes(target) + pipeline.finalize_passes(target)
            return tvm.transform.Sequential(passes)(mod)

    try:
        return relax.build(module, target, relax_pipeline=lower)
    except Exception as exc:  # TVM raises its own error types from C++
        raise TvmCompileError(f"TVM failed to build the model: {first_line(exc)}",
                              hint="this is a bug in mlc's TVM lowering; please report it "
                                   "with the model") from None


def _device_source(executable, kind: str) -> str:
    """The generated source of the ``kind`` device module under the executable."""
    pending = list(executable.mod.imports)
    while pending:
        module = pending.pop()
        if module.kind == kind:
            return module.inspect_source("")
        pending.extend(module.imports)
    raise TvmCompileError(f"TVM produced no {kind} module", hint="this is a bug in mlc")


_KERNEL = re.compile(r'extern "C" __global__ void(?: __launch_bounds__\(\d+\))? (\w+)\(')


def kernel_names(source: str) -> list[str]:
    """The ``__global__`` kernels a CUDA source defines, in order, each once."""
    return list(dict.fromkeys(_KERNEL.findall(source)))


def kernels_of(primfunc: str | None, kernels: list[str]) -> list[str]:
    """The kernels TVM split ``primfunc`` into (``<name>_kernel``, ``<name>_kernel_1``, …)."""
    if primfunc is None:
        return []
    return [k for k in kernels if re.fullmatch(re.escape(primfunc) + r"_kernel(_\d+)?", k)]


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


class _Nvcc(Tool):
    """nvcc on PATH, else under $CUDA_HOME (default /usr/local/cuda)."""

    def find(self) -> str | None:
        home = os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc")
        return shutil.which(self.name) or (home if os.access(home, os.X_OK) else None)


NVCC = _Nvcc("nvcc", "install the CUDA toolkit (nvcc) or put it on PATH")


def _nvcc() -> str:
    found = NVCC.find()
    if found is None:
        raise TvmCompileError("`mlc compile -t cuda` compiles its kernels ahead of time with "
                              "nvcc, which is not installed",
                              hint=NVCC.hint)
    return found


def _compile_fatbin(nvcc: str, source: Path, out: Path, arch: str) -> None:
    number = arch[3:].rstrip("af")
    command = [nvcc, "--fatbin", "-O3", "-std=c++17", "-w",
               f"-gencode=arch=compute_{number},code=sm_{arch[3:]}",
               f"-gencode=arch=compute_{number},code=compute_{number}",
               "-o", str(out), str(source)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [ln for ln in result.stderr.splitlines() if "error" in ln] or \
            result.stderr.splitlines() or ["(no output)"]
        raise TvmCompileError(f"nvcc could not compile the generated kernels: {lines[0]}",
                              hint="this is a bug in mlc's TVM lowering; please report it")
