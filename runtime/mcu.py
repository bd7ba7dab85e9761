"""Build a generated C model for a Cortex-M core (or the host) with CMake and run it through the
harness: under QEMU with semihosting on the microcontroller, as a plain executable on the host.

Why CMake and QEMU rather than Python-driven compiles: the same project (CMakeLists.txt,
cmake/arm-none-eabi.cmake, runtime/c/**) is what a user copies into their firmware tree, so the
build mlc tests is the build they get; QEMU's MPS2 boards and micro:bit run the image unchanged
with files, console and exit code over semihosting. The harness protocol (runtime/c/mcu/harness.c)
is: ``harness IN OUT WARMUP REPEAT``, IN/OUT the tensors' raw bytes concatenated in manifest order,
one ``mlc-time-ns <n>`` line per timed run, ``mlc-error <message>`` on failure and a last
``mlc-status <code>`` equal to the exit code (0, mlc_run's status 1..63, harness codes >= 64); a
CPU fault prints ``mlc-fault ...`` and exits 70. Every failure here is a one-line ``MlcError``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from mlc.errors import MlcError

from .c.build import INSTALL_HINT, RUNTIME_DIR, BuildError, ToolchainError

ARM_HINT = "apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
CMAKE_HINT = "apt-get install -y cmake"
MCU_DIR = RUNTIME_DIR / "mcu"
# A source checkout: runtime/mcu.py -> the repository root holding CMakeLists.txt and cmake/.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Harness exit codes (runtime/c/mcu/harness.h).
EXIT_STATUS_MAX = 63
EXIT_USAGE, EXIT_INPUT_OPEN, EXIT_INPUT_SIZE, EXIT_OUTPUT, EXIT_ARENA = 64, 65, 66, 67, 68
EXIT_FAULT = 70
# The file names the harness is given; fixed, short and space-free (semihosting's command line
# is split on spaces), inside a fresh temporary directory.
IN_NAME, OUT_NAME = "in.bin", "out.bin"


@dataclass(frozen=True)
class Core:
    """One Cortex-M core mlc builds for. ``gcc_flags``, ``board`` and ``cpu_hz`` mirror
    cmake/arm-none-eabi.cmake (a test keeps them equal); ``qemu_machine``/``qemu_cpu`` are None
    when QEMU cannot run the core (build-only, ``note`` says why)."""

    cpu: str
    gcc_flags: tuple[str, ...]
    board: str                  # the QEMU board the image is linked for
    linker_script: str          # file in runtime/c/mcu
    qemu_machine: str | None
    qemu_cpu: str | None
    flash_bytes: int
    ram_bytes: int
    cpu_hz: int                 # SysTick clock (MLC_CPU_HZ), so mlc_now_ns() is real time
    note: str = ""

    @property
    def runs_under_qemu(self) -> bool:
        return self.qemu_machine is not None


KIB, MIB = 1024, 1024 * 1024
CORES: dict[str, Core] = {core.cpu: core for core in (
    # QEMU 7.2 has no Cortex-M0+, and its MPS2 boards accept only their own core ("This board can
    # only be used with CPU cortex-m3"): the micro:bit's Cortex-M0 is its only ARMv6-M machine, and
    # ARMv6-M code for the M0+ runs on it unchanged (timing is the M0 model's, not an M0+'s).
    Core("cortex-m0plus", ("-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"),
         "microbit", "microbit.ld", "microbit", "cortex-m0", 256 * KIB, 16 * KIB, 16_000_000,
         "runs as QEMU's Cortex-M0 on the micro:bit (256 KiB flash, 16 KiB RAM, 4 KiB stack)"),
    Core("cortex-m4", ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"),
         "mps2_an386", "mps2_an386.ld", "mps2-an386", "cortex-m4", 4 * MIB, 4 * MIB, 25_000_000),
    Core("cortex-m7", ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"),
         "mps2_an500", "mps2_an500.ld", "mps2-an500", "cortex-m7", 4 * MIB, 4 * MIB, 25_000_000),
    # AN505 boots Secure: flash is SSRAM1's Secure alias 0x10000000, RAM SSRAM2+3 at 0x38000000.
    Core("cortex-m33", ("-mcpu=cortex-m33", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"),
         "mps2_an505", "mps2_an505.ld", "mps2-an505", "cortex-m33", 4 * MIB, 4 * MIB, 20_000_000),
)}


class McuError(MlcError):
    """A Cortex-M build or run request mlc cannot serve (unknown core, missing project files)."""


class HarnessError(McuError):
    """The harness did not finish cleanly. ``exit_code`` is the process's, ``status`` the
    harness's ``mlc-status`` (None if it never printed one), ``console`` everything it printed."""

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int | None = None,
                 status: int | None = None, console: str = ""):
        super().__init__(message, hint)
        self.exit_code = exit_code
        self.status = status
        self.console = console


class ModelStatusError(HarnessError):
    """mlc_run returned a non-zero status (``status``, 1..63)."""


class FaultError(HarnessError):
    """The CPU faulted (``mlc-fault`` line), or the host harness crashed or a sanitizer fired."""


class HangError(HarnessError):
    """The run did not finish within its timeout and was killed."""


def core(cpu: str) -> Core:
    """The table row for ``cpu``, or an McuError naming the known cores."""
    try:
        return CORES[cpu]
    except KeyError:
        raise McuError(f"unknown Cortex-M core {cpu!r}; known: {', '.join(CORES)}") from None


# ---- the standalone project -------------------------------------------------------------------

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


def write_project(dest: str | os.PathLike, model_dir: str | os.PathLike) -> Path:
    """Copy project_files() and the model's sources (model_dir/*.h, *.c, *.S) into ``dest``
    (``dest/model/``), a folder ``cmake -S dest`` builds on its own; returns dest."""
    dest, model_dir = Path(dest), Path(model_dir)
    if not (model_dir / "model.h").is_file():
        raise McuError(f"{model_dir} has no model.h (expected the C generator's output)")
    for rel, source in project_files().items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (dest / "model").mkdir(parents=True, exist_ok=True)
    for pattern in ("*.h", "*.c", "*.S"):
        for path in model_dir.glob(pattern):
            shutil.copyfile(path, dest / "model" / path.name)
    return dest


# ---- building ---------------------------------------------------------------------------------

def _require(tool: str, hint: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise ToolchainError(f"{tool} not found on PATH", hint=hint)
    return found


def _cache_value(cache: Path, name: str) -> str | None:
    match = re.search(rf"^{name}:[A-Z]+=(.*)$", cache.read_text(errors="replace"), re.M)
    return match.group(1) if match else None


def _forget_stale_cache(build_dir: Path, wanted: Mapping[str, str]) -> None:
    """CMake reads the toolchain file's CPU flags only on a first configure: if build_dir was
    configured with other settings ("" = unset), drop CMake's cache so this one starts afresh."""
    cache = build_dir / "CMakeCache.txt"
    if not cache.is_file():
        return
    if all((_cache_value(cache, key) or "") == value for key, value in wanted.items()):
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
    cmake = _require("cmake", CMAKE_HINT)
    if cpu is not None:
        _require("arm-none-eabi-gcc", ARM_HINT)
    if not (project_dir / "CMakeLists.txt").is_file():
        raise McuError(f"{project_dir} has no CMakeLists.txt (see mlc.runtime.mcu.write_project)")
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


def elf_size(elf: str | os.PathLike) -> dict[str, int]:
    """text, data, bss (arm-none-eabi-size, Berkeley format), flash = text + data (code, const
    weights, .data's initial values), ram = data + bss (static RAM; the stack comes on top)."""
    size = _require("arm-none-eabi-size", ARM_HINT)
    result = subprocess.run([size, str(elf)], capture_output=True, text=True, timeout=60)
    rows = [line.split() for line in result.stdout.splitlines()]
    if result.returncode != 0 or len(rows) < 2 or rows[0][:3] != ["text", "data", "bss"]:
        raise McuError(f"arm-none-eabi-size cannot read {elf}: "
                       f"{(result.stderr or result.stdout).strip() or 'no output'}")
    text, data, bss = (int(value) for value in rows[1][:3])
    return {"text": text, "data": data, "bss": bss, "flash": text + data, "ram": data + bss}


# ---- running ----------------------------------------------------------------------------------

def run_elf(elf: str | os.PathLike, cpu: str, inputs: Sequence[bytes], output_sizes: Sequence[int],
            warmup: int = 0, repeat: int = 1,
            timeout_s: float = 120.0) -> tuple[list[bytes], list[int]]:
    """Run a harness image under QEMU (the core's board, semihosting on): feed ``inputs`` (raw
    bytes per input, manifest order), return (outputs split by ``output_sizes``, the ``repeat``
    timed runs in ns). A non-zero exit raises a one-line HarnessError subclass; a run longer than
    ``timeout_s`` is killed and raises HangError."""
    row = core(cpu)
    if not row.runs_under_qemu:
        raise McuError(f"{cpu} cannot run under QEMU ({row.note}); it is build-only")
    qemu = _require("qemu-system-arm", ARM_HINT)
    elf = Path(elf).resolve()
    if not elf.is_file():
        raise McuError(f"no image at {elf}")
    args = ",".join(f"arg={value}" for value in ("model.elf", IN_NAME, OUT_NAME, int(warmup),
                                                   int(repeat)))
    command = [qemu, "-M", row.qemu_machine, "-cpu", row.qemu_cpu, "-nographic", "-monitor",
               "none", "-semihosting-config", f"enable=on,target=native,{args}",
               "-kernel", str(elf)]
    return _run_harness(command, f"{cpu} under QEMU {row.qemu_machine}", inputs, output_sizes,
                        repeat, timeout_s)


def run_host_harness(exe: str | os.PathLike, inputs: Sequence[bytes], output_sizes: Sequence[int],
                     warmup: int = 0, repeat: int = 1, timeout_s: float = 120.0,
                     env: Mapping[str, str] | None = None) -> tuple[list[bytes], list[int]]:
    """run_elf's contract for the host ``mlc_harness`` (e.g. an ASan/UBSan build); ``env`` adds
    variables (MLC_NUM_THREADS, ASAN_OPTIONS, ...)."""
    exe = Path(exe).resolve()
    if not exe.is_file():
        raise McuError(f"no harness executable at {exe}")
    command = [str(exe), IN_NAME, OUT_NAME, str(int(warmup)), str(int(repeat))]
    return _run_harness(command, "host harness", inputs, output_sizes, repeat, timeout_s,
                        env={**os.environ, **env} if env else None)


def _run_harness(command: Sequence[str], label: str, inputs: Sequence[bytes],
                 output_sizes: Sequence[int], repeat: int, timeout_s: float,
                 env: Mapping[str, str] | None = None) -> tuple[list[bytes], list[int]]:
    with tempfile.TemporaryDirectory(prefix="mlc-harness-") as scratch:
        folder = Path(scratch)
        (folder / IN_NAME).write_bytes(b"".join(bytes(part) for part in inputs))
        try:
            result = subprocess.run(list(command), cwd=folder, stdin=subprocess.DEVNULL,
                                    capture_output=True, text=True, errors="replace",
                                    timeout=timeout_s, env=env)
        except (FileNotFoundError, PermissionError) as exc:
            raise McuError(f"{label}: cannot start {command[0]}: {exc.strerror}") from None
        except subprocess.TimeoutExpired as exc:
            console = _text(exc.stdout) + _text(exc.stderr)
            raise HangError(f"{label}: no result within {timeout_s:.0f} s; stopped (a hang, or a "
                            "crash that never reached a fault handler)", console=console) from None
        console = result.stdout + result.stderr
        times = _check(label, result.returncode, console)
        out_path = folder / OUT_NAME
        data = out_path.read_bytes() if out_path.is_file() else b""
    if len(data) != sum(output_sizes):
        raise HarnessError(f"{label}: the harness wrote {len(data)} output bytes, expected "
                           f"{sum(output_sizes)} (sizes {list(output_sizes)})",
                           exit_code=result.returncode, status=0, console=console)
    outputs, offset = [], 0
    for size in output_sizes:
        outputs.append(data[offset:offset + size])
        offset += size
    if len(times) != repeat:
        raise HarnessError(f"{label}: {len(times)} mlc-time-ns lines for {repeat} timed runs",
                           exit_code=result.returncode, status=0, console=console)
    return outputs, times


def _text(stream: bytes | str | None) -> str:
    if stream is None:
        return ""
    return stream if isinstance(stream, str) else stream.decode(errors="replace")


_SANITIZER = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer.*|runtime error: .*")


def _check(label: str, exit_code: int, console: str) -> list[int]:
    """Turn the harness's console and exit code into its timed runs, or the matching error."""
    times, status, message, fault = [], None, "", None
    for line in console.splitlines():
        line = line.strip()
        if line.startswith("mlc-time-ns "):
            times.append(int(line.split()[1]))
        elif line.startswith("mlc-status "):
            status = int(line.split()[1])
        elif line.startswith("mlc-error "):
            message = line[len("mlc-error "):]
        elif line.startswith("mlc-fault "):
            fault = line[len("mlc-fault "):]
    details = {"exit_code": exit_code, "status": status, "console": console}
    if fault is not None:
        raise FaultError(f"{label}: CPU fault: {fault}", **details)
    if status is None:
        sanitizer = _SANITIZER.search(console)
        if sanitizer:
            raise FaultError(f"{label}: {sanitizer.group(0).strip()}", **details)
        if exit_code < 0:
            raise FaultError(f"{label}: killed by {signal.Signals(-exit_code).name}", **details)
        last = next((line.strip() for line in reversed(console.splitlines()) if line.strip()),
                    None)
        said = (f"last output: {last}" if last else
                "no output; a locked-up core, e.g. after a stack overflow, ends QEMU like this")
        raise HarnessError(f"{label}: exited with code {exit_code} without a harness status "
                           f"({said})", **details)
    if status != exit_code:
        raise HarnessError(f"{label}: harness reported status {status} but exited with "
                           f"{exit_code}", **details)
    if 1 <= status <= EXIT_STATUS_MAX:
        raise ModelStatusError(f"{label}: {message or f'mlc_run returned {status}'}", **details)
    if status != 0:
        raise HarnessError(f"{label}: {message or f'harness failed with code {status}'}",
                           **details)
    return times
