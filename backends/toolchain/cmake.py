"""The standalone CMake project of a generated C model, and its build for the host or a core.

Why CMake rather than Python-driven compiles: the same project (CMakeLists.txt,
cmake/arm-none-eabi.cmake, runtime/c/**) is what a user copies into their firmware tree, so the
build mlc tests is the build they get. ``build_project`` makes a Cortex-M ``model.elf`` (with
arm-none-eabi-gcc) or, for the host, the ``mlc_harness`` executable (optionally under ASan and
UBSan). Every failure is one ``MlcError`` line: the first compiler or linker error of the log.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

from .cc import INSTALL_HINT, RUNTIME_DIR, BuildError
from .cortex_m import McuError, core
from .tools import ARM_GCC, CMAKE, ToolchainError

MCU_DIR = RUNTIME_DIR / "mcu"
# A source checkout: backends/toolchain/cmake.py -> the repository root holding CMakeLists.txt
# and cmake/.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def project_files() -> dict[str, Path]:
    """Every file a standalone build of a model needs, as {path in the project: source file}:
    CMakeLists.txt, cmake/arm-none-eabi.cmake, runtime/c/*.c|h, runtime/c/mcu/*.c|h|ld. The model
    itself goes in ``model/`` (see write_project)."""
    cmake_files = [PROJECT_ROOT / "CMakeLists.txt", PROJECT_ROOT / "cmake" / "arm-none-eabi.cmake"]
    if not all(path.is_file() for path in cmake_files):
        raise McuError("the CMake project files (CMakeLists.txt, cmake/arm-none-eabi.cmake) are "
                       f"not next to this mlc ({PROJECT_ROOT}); they ship only in a source "
                       "checkout",
                       hint="use mlc from a git checkout, e.g. `pip install -e .`")
    files = {"CMakeLists.txt": cmake_files[0], "cmake/arm-none-eabi.cmake": cmake_files[1]}
    for folder, prefix, patterns in ((RUNTIME_DIR, "runtime/c", ("*.c", "*.h")),
                                     (MCU_DIR, "runtime/c/mcu", ("*.c", "*.h", "*.ld"))):
        for pattern in patterns:
            for path in sorted(folder.glob(pattern)):
                files[f"{prefix}/{path.name}"] = path
    return files


def copy_project_files(dest: Path) -> None:
    """project_files() into ``dest``: with the model's sources in ``dest/model`` it is a project
    that builds on its own (``cmake -S dest -B build``, for the host or with the arm toolchain)."""
    for relative, source in project_files().items():
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def write_project(dest: str | os.PathLike, model_dir: str | os.PathLike) -> Path:
    """Copy project_files() and the model's sources (model_dir/*.h, *.c, *.S) into ``dest``
    (``dest/model/``), a folder ``cmake -S dest`` builds on its own; returns dest."""
    dest, model_dir = Path(dest), Path(model_dir)
    if not (model_dir / "model.h").is_file():
        raise McuError(f"{model_dir} has no model.h (expected the C generator's output)")
    copy_project_files(dest)
    (dest / "model").mkdir(parents=True, exist_ok=True)
    for pattern in ("*.h", "*.c", "*.S"):
        for path in model_dir.glob(pattern):
            shutil.copyfile(path, dest / "model" / path.name)
    return dest


def _cache_value(cache: Path, name: str) -> str | None:
    match = re.search(rf"^{name}:[A-Z]+=(.*)$", cache.read_text(errors="replace"), re.M)
    return match.group(1) if match else None


def _forget_stale_cache(build_dir: Path, wanted: Mapping[str, str]) -> None:
    """CMake reads the toolchain file's CPU flags only on a first configure: if build_dir was
    configured with other settings ("" = unset), drop CMake's cache so this one starts afresh."""
    cache = build_dir / "CMakeCache.txt"
    if not cache.is_file() or all((_cache_value(cache, key) or "") == value
                                  for key, value in wanted.items()):
        return
    cache.unlink()
    shutil.rmtree(build_dir / "CMakeFiles", ignore_errors=True)


_LD_PREFIX = re.compile(r"^\S*?ld(\.bfd)?(\.exe)?: ")
_ERROR_LINE = re.compile(r"error:|undefined reference|multiple definition|overflowed|"
                         r"will not fit in region|mlc: |No such file")
_NOISE = re.compile(r"collect2: error: ld returned|^g?make(\[\d+\])?: |^ninja: |Error \d+$")


def _first_error(log: str) -> str:
    """The first line of a build log that says what is wrong (compiler or linker), not make's
    or collect2's echo of it; for CMake's own errors, the message under `CMake Error`."""
    lines = [line.strip() for line in log.splitlines()]
    for k, line in enumerate(lines):
        if line.startswith("CMake Error"):
            following = next((nxt for nxt in lines[k + 1:] if nxt), "")
            return f"{line.rstrip(':')}: {following}" if following else line
    for line in lines:
        if line and _ERROR_LINE.search(line) and not _NOISE.search(line):
            return _LD_PREFIX.sub("ld: ", line)
    return next((line for line in lines if line and not _NOISE.search(line)), "no output")


def _run_tool(command: Sequence[str], what: str, timeout_s: float,
              cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout_s,
                                cwd=cwd)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} took over {timeout_s:.0f} s and was stopped") from None
    log = result.stdout + result.stderr
    if result.returncode != 0:
        if "No CMAKE_C_COMPILER could be found" in log or "is not able to compile" in log:
            raise ToolchainError(f"{what}: CMake found no working C compiler",
                                 hint=INSTALL_HINT)
        raise BuildError(_first_error(log), log=log)
    return log


def build_project(project_dir: str | os.PathLike, cpu: str | None,
                  build_dir: str | os.PathLike | None = None, sanitize: bool = False,
                  timeout_s: float = 600.0, *, model_dir: str | os.PathLike | None = None,
                  opt: str = "O2", stack_bytes: int | None = None) -> Path:
    """Configure and build the CMake project in ``project_dir`` (its CMakeLists.txt; the model in
    ``model_dir``, default ``project_dir/model``) and return what to run: ``model.elf`` for a
    Cortex-M ``cpu``, the ``mlc_harness`` executable (next to ``libmodel.so``) when cpu is None.

    The build goes to ``build_dir`` (default ``project_dir/build/<cpu or host>[-asan]-<opt>``),
    never into the sources. The artifact is deleted before building, so after a failure there is
    no stale one to mistake for this build's. ``sanitize`` (host only) adds ASan + UBSan.
    """
    project_dir = Path(project_dir).resolve()
    if cpu is not None:
        row = core(cpu)
        if sanitize:
            raise McuError("sanitize=True is for host builds (cpu=None); QEMU images have none")
    if opt not in ("O0", "O1", "O2", "O3", "Os"):
        raise McuError(f"opt must be one of O0, O1, O2, O3, Os, not {opt!r}")
    cmake = CMAKE.require()
    if cpu is not None:
        ARM_GCC.require()
    if not (project_dir / "CMakeLists.txt").is_file():
        raise McuError(f"{project_dir} has no CMakeLists.txt (see write_project)")
    name = f"{cpu or 'host'}{'-asan' if sanitize else ''}-{opt}"
    build_dir = Path(build_dir) if build_dir is not None else project_dir / "build" / name
    build_dir.mkdir(parents=True, exist_ok=True)
    model_dir = Path(model_dir).resolve() if model_dir is not None else project_dir / "model"
    options = {"MLC_MODEL_DIR": str(model_dir), "MLC_OPT": opt,
               "MLC_SANITIZE": "ON" if sanitize else "OFF",
               "MLC_STACK_BYTES": "" if stack_bytes is None else str(int(stack_bytes))}
    if cpu is not None:
        options["CMAKE_TOOLCHAIN_FILE"] = str(project_dir / "cmake" / "arm-none-eabi.cmake")
        options["MLC_CPU"] = row.cpu
    _forget_stale_cache(build_dir, {"CMAKE_TOOLCHAIN_FILE": "", "MLC_CPU": "", **options})
    artifact = build_dir / ("model.elf" if cpu is not None else "mlc_harness")
    artifact.unlink(missing_ok=True)
    what = f"building {project_dir.name} for {cpu or 'the host'}"
    configure = [cmake, "-S", str(project_dir), "-B", str(build_dir),
                 *(f"-D{key}={value}" for key, value in options.items())]
    _run_tool(configure, what, timeout_s)
    _run_tool([cmake, "--build", str(build_dir), "--parallel", str(os.cpu_count() or 2)], what,
              timeout_s)
    if not artifact.is_file():
        raise BuildError(f"{what}: the build succeeded but wrote no {artifact.name}")
    return artifact
